"""Stopping the services `make airflow` / the UI tests start (process groups recorded in pid files)."""

import http.server
import subprocess
import threading

import pytest

from nova_corrente import airflow_services


def test_stop_services_ends_the_group_and_does_not_wait_on_an_exited_child(tmp_path, monkeypatch):
    monkeypatch.setenv("NOVA_AIRFLOW_HOME", str(tmp_path))
    service = subprocess.Popen(["sleep", "300"], start_new_session=True)  # a service: its own process group
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "scheduler.pid").write_text(str(service.pid))
    assert airflow_services.service_pids() == {"scheduler": service.pid}

    assert airflow_services.stop_services(timeout_s=60) == ["scheduler"]

    # SIGTERM ended it and it was reaped here: not left as a zombie that looks alive until the timeout
    assert not airflow_services._pid_alive(service.pid)
    assert airflow_services.service_pids() == {}
    assert not (tmp_path / "run" / "scheduler.pid").exists()


def test_an_exited_child_is_not_alive():
    child = subprocess.Popen(["true"])
    while True:  # wait until it has exited, without reaping it (a zombie until someone waits)
        try:
            with open(f"/proc/{child.pid}/stat") as stat:
                if stat.read().split(")")[-1].split()[0] == "Z":
                    break
        except FileNotFoundError:
            break
    assert not airflow_services._pid_alive(child.pid)


def test_start_services_refuses_a_port_another_server_answers_on(tmp_path, monkeypatch):
    """A foreign server on the UI's port would answer the health check for services that never bound it."""
    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("NOVA_AIRFLOW_HOME", str(tmp_path))
    monkeypatch.setenv("NOVA_AIRFLOW_PORT", str(server.server_port))
    try:
        with pytest.raises(RuntimeError, match=f"another server already answers on .*:{server.server_port}/"):
            airflow_services.start_services(pg=None)
    finally:
        server.shutdown()
    assert airflow_services.service_pids() == {}  # nothing was started


def test_the_celery_executor_loads_with_the_pinned_packages(pg, tmp_path, monkeypatch):
    """NOVA_AIRFLOW_EXECUTOR=CeleryExecutor: the scheduler's executor loads (celery 5.7 broke the
    provider's import, and the scheduler exited at start)."""
    import os
    import sys

    from nova_corrente.airflow_env import airflow_env

    monkeypatch.setenv("NOVA_AIRFLOW_EXECUTOR", "CeleryExecutor")
    env = {**os.environ, **airflow_env(pg, home=tmp_path / "airflow")}
    loaded = subprocess.run(
        [sys.executable, "-c", "from airflow.executors.executor_loader import ExecutorLoader; "
                               "print(type(ExecutorLoader.init_executors()[0]).__name__)"],
        env=env, capture_output=True, text=True, timeout=120)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert loaded.stdout.strip().splitlines()[-1] == "CeleryExecutor"
