"""Run Airflow 3 locally: metadata migration, `dags test`, and the UI's long-running services.

``make airflow`` starts api-server, scheduler, dag-processor and triggerer (LocalExecutor) as
background processes with pid files and logs under ``$AIRFLOW_HOME/run``; ``make stop`` stops them.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import datetime
from pathlib import Path

from nova_corrente.airflow_env import ADMIN_USER, API_HOST, airflow_env, airflow_home, api_port
from nova_corrente.settings import DBT_PROJECT_DIR, REPO_ROOT, PostgresSettings, dbt_env

log = logging.getLogger(__name__)

SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer")
DAG_ID = "nova_corrente_daily"


def _airflow_bin() -> str:
    return str(Path(sys.executable).with_name("airflow"))


#: the administrator's login is for setup only: Airflow and its tasks never inherit it
_ADMIN_LOGIN_ENV = ("NOVA_PG_USER", "NOVA_PG_PASSWORD")


def _env(pg: PostgresSettings) -> dict[str, str]:
    inherited = {key: value for key, value in os.environ.items() if key not in _ADMIN_LOGIN_ENV}
    return {**inherited, **airflow_env(pg)}


def run_airflow(pg: PostgresSettings, *args: str, check: bool = True, capture: bool = False,
                timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run one `airflow ...` CLI command with the platform's environment."""
    return subprocess.run([_airflow_bin(), *args], env=_env(pg), check=check, text=True,
                          capture_output=capture, timeout=timeout, cwd=REPO_ROOT)


def migrate(pg: PostgresSettings) -> None:
    """Create or upgrade the Airflow metadata database (idempotent, a few seconds), as its own role."""
    from nova_corrente.db_roles import check_login

    check_login(pg.as_role("airflow"), pg.airflow_db, "Airflow")
    run_airflow(pg, "db", "migrate", capture=True)


def dbt_manifest(pg: PostgresSettings, force: bool = False) -> Path:
    """Parse the dbt project into target/manifest.json (what the DAG renders its dbt tasks from).

    Re-parses when any project file is newer than the manifest.
    """
    project = DBT_PROJECT_DIR
    manifest = project / "target" / "manifest.json"
    if manifest.exists() and not force:
        built = manifest.stat().st_mtime
        sources = [p for p in project.rglob("*") if p.is_file() and p.suffix in {".sql", ".yml", ".yaml", ".csv"}
                   and "target" not in p.parts and "logs" not in p.parts]
        if all(p.stat().st_mtime <= built for p in sources):
            return manifest
    dbt = Path(sys.executable).with_name("dbt")
    env = {**os.environ, **dbt_env(pg)}
    result = subprocess.run([str(dbt), "parse", "--project-dir", str(project), "--profiles-dir", str(project)],
                            env=env, text=True, capture_output=True, cwd=project)
    if result.returncode != 0:
        raise RuntimeError(f"dbt parse failed:\n{result.stdout}\n{result.stderr}")
    return manifest


def last_run_state(pg: PostgresSettings, logical_date: str) -> str | None:
    """State of the newest DAG run at ``logical_date`` (ISO, any offset), or None when there is none.

    Read from the metadata database (the CLI's JSON output is mixed with warnings on stdout).
    """
    import psycopg2

    conn = psycopg2.connect(pg.as_role("airflow").dsn(pg.airflow_db))
    try:
        with conn.cursor() as cur:
            cur.execute("select to_regclass('public.dag_run')")
            if cur.fetchone()[0] is None:
                return None
            cur.execute(
                "select state from dag_run where dag_id = %s and logical_date = %s order by id desc limit 1",
                (DAG_ID, datetime.fromisoformat(logical_date)),
            )
            row = cur.fetchone()
    finally:
        conn.close()
    return row[0] if row else None


def dags_test(pg: PostgresSettings, logical_date: str, log_file: Path | None = None, dag_id: str = DAG_ID) -> int:
    """Run a DAG (default: the daily one) once through Airflow (`airflow dags test`); returns the exit code.

    Without the DAG's deadline alert: an in-process run has no scheduler to watch a deadline, and
    Airflow 3.3's ``dag.test()`` fails when the run ends on a DAG that has one (it looks the
    deadline alerts up by the DAG's unserialised alert objects instead of their ids).
    """
    args = [_airflow_bin(), "dags", "test", dag_id, logical_date]
    env = {**_env(pg), "NOVA_ALERT_DEADLINE": "off"}
    if log_file:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with log_file.open("w") as handle:
            return subprocess.run(args, env=env, stdout=handle, stderr=subprocess.STDOUT, cwd=REPO_ROOT).returncode
    return subprocess.run(args, env=env, cwd=REPO_ROOT).returncode


def _run_dir() -> Path:
    path = airflow_home() / "run"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _pid_alive(pid: int) -> bool:
    """True while the process runs; a child of this process that exited is reaped (a zombie is not alive)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:  # not our child (started by another `nova airflow up`)
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def service_pids() -> dict[str, int]:
    """The running services started here (the UI's services and any Celery workers), by name."""
    pids = {}
    for pidfile in sorted(_run_dir().glob("*.pid")):
        pid = int(pidfile.read_text().strip() or 0)
        if pid and _pid_alive(pid):
            pids[pidfile.stem] = pid
    return pids


def admin_password() -> str | None:
    """The generated password of the UI's admin user (Airflow's simple auth manager)."""
    path = airflow_home() / "simple_auth_manager_passwords.json"
    if not path.exists():
        return None
    return json.loads(path.read_text()).get(ADMIN_USER)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def start_services(pg: PostgresSettings, wait_s: float = 180) -> dict[str, int]:
    """Start the UI and its services in the background; returns their pids once the UI answers."""
    running = service_pids()
    url = f"http://{API_HOST}:{api_port()}/api/v2/monitor/health"
    if "api-server" not in running and _answers(url):
        raise RuntimeError(f"another server already answers on {url} (not an api-server started from "
                           f"{_run_dir()}): stop it or set NOVA_AIRFLOW_PORT to a free port")
    env = _env(pg)
    for name in SERVICES:
        if name in running:
            continue
        logfile = _run_dir() / f"{name}.log"
        with logfile.open("a") as handle:
            proc = subprocess.Popen([_airflow_bin(), name], env=env, stdout=handle, stderr=subprocess.STDOUT,
                                    cwd=REPO_ROOT, start_new_session=True)
        (_run_dir() / f"{name}.pid").write_text(str(proc.pid))
        log.info("started airflow %s (pid %d, log %s)", name, proc.pid, logfile)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if _answers(url):
            return service_pids()
        dead = [name for name in SERVICES if name not in service_pids()]
        if dead:
            raise RuntimeError(f"airflow {', '.join(dead)} exited; see {_run_dir()}/<service>.log")
        time.sleep(2)
    raise RuntimeError(f"the Airflow UI did not answer on {url} within {wait_s:.0f}s; see {_run_dir()}/api-server.log")


def start_celery_workers(pg: PostgresSettings, count: int = 2) -> dict[str, int]:
    """``count`` ``airflow celery worker`` processes on this machine (CeleryExecutor), named
    ``worker-1`` .. ``worker-<count>`` (Celery host name and ``$NOVA_WORKER_NAME``, which the tasks
    record); waits until each has answered the broker. ``stop_services`` stops them too."""
    env = _env(pg)
    if env["AIRFLOW__CORE__EXECUTOR"] != "CeleryExecutor":
        raise RuntimeError("Celery workers need NOVA_AIRFLOW_EXECUTOR=CeleryExecutor (and a Redis broker at "
                           "NOVA_CELERY_BROKER_URL)")
    started = {}
    for number in range(1, count + 1):
        name = f"worker-{number}"
        logfile = _run_dir() / f"celery-{name}.log"
        with logfile.open("a") as handle:
            proc = subprocess.Popen([_airflow_bin(), "celery", "worker", "--celery-hostname", f"{name}@%h",
                                     "--skip-serve-logs"], env={**env, "NOVA_WORKER_NAME": name},
                                    stdout=handle, stderr=subprocess.STDOUT, cwd=REPO_ROOT, start_new_session=True)
        (_run_dir() / f"celery-{name}.pid").write_text(str(proc.pid))
        started[name] = proc.pid
        log.info("started airflow celery worker %s (pid %d, log %s)", name, proc.pid, logfile)
    deadline = time.monotonic() + 300
    for name in started:
        logfile = _run_dir() / f"celery-{name}.log"
        while "ready." not in logfile.read_text(errors="replace"):
            if time.monotonic() > deadline or not _pid_alive(started[name]):
                raise RuntimeError(f"celery {name} did not come up; see {logfile}")
            time.sleep(2)
    return started


def stop_services(timeout_s: float = 30) -> list[str]:
    """Stop the services started by start_services (their whole process groups)."""
    stopped = []
    for name, pid in service_pids().items():
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        deadline = time.monotonic() + timeout_s
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        if _pid_alive(pid):
            os.killpg(pid, signal.SIGKILL)
        (_run_dir() / f"{name}.pid").unlink(missing_ok=True)
        stopped.append(name)
    return stopped
