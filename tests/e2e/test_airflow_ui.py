"""The UI path: `make airflow`'s services run the DAG when a user triggers it.

Starts the real api-server, scheduler, dag-processor and triggerer (LocalExecutor) on test databases
and a spare port, logs in with the generated admin password the way the UI does, triggers
`nova_corrente_daily` through the REST API the UI calls, and waits for the run to succeed.
"""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.request
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from nova_corrente import airflow_services
from nova_corrente.erp_simulator import SimulationConfig, load_erp, simulate, write_feed_files

pytestmark = pytest.mark.slow
DAG_ID = airflow_services.DAG_ID


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _call(base: str, path: str, token: str | None = None, body: dict | None = None, method: str = "GET"):
    request = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body else None)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


@pytest.fixture(scope="module")
def services(pg_module, tmp_path_factory):
    port = _free_port()
    keys = ("NOVA_AIRFLOW_HOME", "NOVA_LANDING_DIR", "NOVA_AIRFLOW_PORT", "NOVA_RETRY_DELAY_SECONDS")
    saved = {key: os.environ.get(key) for key in keys}
    os.environ.update({
        "NOVA_AIRFLOW_HOME": str(tmp_path_factory.mktemp("airflow_ui_home")),
        "NOVA_LANDING_DIR": str(tmp_path_factory.mktemp("landing_ui")),
        "NOVA_AIRFLOW_PORT": str(port),
        "NOVA_RETRY_DELAY_SECONDS": "5",
    })
    config = SimulationConfig(seed=5, start_date=date(2025, 6, 1), end_date=date(2026, 2, 28),
                              n_materials=5, n_sites=3, n_suppliers=2)
    data = simulate(config)
    load_erp(pg_module, data)
    write_feed_files(data, Path(os.environ["NOVA_LANDING_DIR"]))
    airflow_services.dbt_manifest(pg_module)
    airflow_services.migrate(pg_module)
    try:
        airflow_services.start_services(pg_module, wait_s=240)
        yield f"http://127.0.0.1:{port}", airflow_services.admin_password()
    finally:
        airflow_services.stop_services()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_login_trigger_and_run_to_success(services):
    base, password = services
    assert password, "the UI's admin password was not generated"
    token = _call(base, "/auth/token", body={"username": "admin", "password": password}, method="POST")["access_token"]
    with pytest.raises(urllib.error.HTTPError):
        _call(base, "/auth/token", body={"username": "admin", "password": "wrong"}, method="POST")

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:  # the dag-processor parses the folder
        try:
            dag = _call(base, f"/api/v2/dags/{DAG_ID}", token)
            break
        except urllib.error.HTTPError:
            time.sleep(3)
    else:
        pytest.fail("the DAG never appeared in the API")
    assert dag["is_paused"] is False

    logical = datetime(2026, 3, 1, 9, 0, tzinfo=UTC).isoformat()
    run = _call(base, f"/api/v2/dags/{DAG_ID}/dagRuns", token, {"logical_date": logical}, method="POST")
    run_id = run["dag_run_id"]
    deadline = time.monotonic() + 1500
    state = run["state"]
    while time.monotonic() < deadline and state not in ("success", "failed"):
        time.sleep(10)
        state = _call(base, f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}", token)["state"]
    tis = _call(base, f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances?limit=500", token)["task_instances"]
    failed = [(ti["task_id"], ti["state"]) for ti in tis if ti["state"] != "success"]
    assert state == "success", f"run {run_id} ended {state}; not successful: {failed}"
    assert {"extract_load", "gate_raw", "forecast", "gate_marts"} <= {ti["task_id"] for ti in tis}
    assert any(ti["task_id"].startswith("transform.") for ti in tis)
