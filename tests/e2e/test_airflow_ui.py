"""The UI path: `make airflow`'s services run the DAG when a user triggers it.

Starts the real api-server, scheduler, dag-processor and triggerer (LocalExecutor) once, on test
databases and a spare port, with the platform's DAG files plus a small probe DAG (a three-model dbt
project written by the test, through the same ``plugins/nova_dbt.py``). Logs in with the generated
admin password the way the UI does, triggers through the REST API the UI calls, and checks:

1. ``nova_corrente_daily`` runs to success, one task per dbt model;
2. clearing one model's task (as in the UI) re-runs that model alone and nothing else;
3. a failing dbt test fails its model's task and everything downstream of it stays unbuilt.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg2
import pytest

from nova_corrente import airflow_services
from nova_corrente.erp_simulator import SimulationConfig, load_erp, simulate, write_feed_files
from nova_corrente.settings import REPO_ROOT, dbt_env

pytestmark = pytest.mark.slow
DAG_ID = airflow_services.DAG_ID
PROBE_DAG_ID = "nova_dbt_probe"

PROBE_PROJECT = {
    "dbt_project.yml": 'name: probe\nprofile: nova_corrente\nversion: "1.0.0"\nconfig-version: 2\n'
                       "flags:\n  send_anonymous_usage_stats: false\n"
                       "models:\n  probe:\n    +materialized: table\n    +schema: probe\n",
    "models/_probe.yml": "sources:\n  - name: probe\n    schema: probe_src\n    tables:\n      - name: flags\n"
                         "models:\n  - name: first\n    columns:\n      - name: status\n        data_tests:\n"
                         "          - accepted_values:\n              arguments:\n                values: ['ok']\n",
    "models/first.sql": "select status from {{ source('probe', 'flags') }}\n",
    "models/second.sql": "select status from {{ ref('first') }}\n",
    "models/third.sql": "select status, clock_timestamp() as built_at from {{ ref('second') }}\n",
}

PROBE_DAG = '''"""Test probe: a three-model dbt project through plugins/nova_dbt.py."""
from pathlib import Path

import pendulum
from airflow.sdk import dag
from nova_dbt import dbt_task_group


@dag(dag_id="nova_dbt_probe", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False,
     tags=["test"], doc_md=__doc__)
def nova_dbt_probe():
    dbt_task_group("probe", project_dir=Path({project!r}))


nova_dbt_probe()
'''


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


def _query(pg, sql: str, params=None, db: str | None = None):
    with psycopg2.connect(pg.dsn(db or pg.warehouse_db)) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall() if cur.description else []
    conn.close()
    return rows


def _probe_project(pg, folder: Path) -> Path:
    """The probe dbt project, parsed (manifest), and its source table holding one 'ok' flag."""
    for name, text in PROBE_PROJECT.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    _query(pg, "create schema if not exists probe_src; drop table if exists probe_src.flags; "
               "create table probe_src.flags as select 'ok'::text as status")
    result = subprocess.run([str(Path(sys.executable).with_name("dbt")), "parse", "--project-dir", str(folder)],
                            env={**os.environ, **dbt_env(pg)}, capture_output=True, text=True, cwd=folder)
    assert result.returncode == 0, result.stdout[-3000:]
    return folder


@pytest.fixture(scope="module")
def services(pg_module, tmp_path_factory):
    port = _free_port()
    keys = ("NOVA_AIRFLOW_HOME", "NOVA_LANDING_DIR", "NOVA_AIRFLOW_PORT", "NOVA_RETRY_DELAY_SECONDS", "NOVA_DAGS_FOLDER")
    saved = {key: os.environ.get(key) for key in keys}
    dags = tmp_path_factory.mktemp("dags")
    for path in (REPO_ROOT / "dags").glob("*.py"):
        (dags / path.name).symlink_to(path)
    project = _probe_project(pg_module, tmp_path_factory.mktemp("probe_dbt"))
    (dags / "nova_dbt_probe.py").write_text(PROBE_DAG.replace("{project!r}", repr(str(project))))
    os.environ.update({
        "NOVA_AIRFLOW_HOME": str(tmp_path_factory.mktemp("airflow_ui_home")),
        "NOVA_LANDING_DIR": str(tmp_path_factory.mktemp("landing_ui")),
        "NOVA_AIRFLOW_PORT": str(port),
        "NOVA_RETRY_DELAY_SECONDS": "5",
        "NOVA_DAGS_FOLDER": str(dags),
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
        yield pg_module, f"http://127.0.0.1:{port}", airflow_services.admin_password()
    finally:
        airflow_services.stop_services()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def api(services):
    pg, base, password = services
    assert password, "the UI's admin password was not generated"
    token = _call(base, "/auth/token", body={"username": "admin", "password": password}, method="POST")["access_token"]
    return pg, base, token


def _wait_for_dag(base: str, token: str, dag_id: str) -> dict:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:  # the dag-processor parses the folder
        try:
            return _call(base, f"/api/v2/dags/{dag_id}", token)
        except urllib.error.HTTPError:
            time.sleep(3)
    pytest.fail(f"{dag_id} never appeared in the API")


def _run(base: str, token: str, dag_id: str, logical: datetime, timeout_s: float = 1500) -> tuple[str, str, dict]:
    """Trigger ``dag_id`` and wait; returns (run id, final state, task instances by task id)."""
    run = _call(base, f"/api/v2/dags/{dag_id}/dagRuns", token, {"logical_date": logical.isoformat()}, method="POST")
    run_id = run["dag_run_id"]
    deadline = time.monotonic() + timeout_s
    state = run["state"]
    while time.monotonic() < deadline and state not in ("success", "failed"):
        time.sleep(5)
        state = _call(base, f"/api/v2/dags/{dag_id}/dagRuns/{run_id}", token)["state"]
    return run_id, state, _task_instances(base, token, dag_id, run_id)


def _task_instances(base: str, token: str, dag_id: str, run_id: str) -> dict:
    tis = _call(base, f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=500", token)["task_instances"]
    return {(ti["task_id"] if ti["map_index"] < 0 else f"{ti['task_id']}[{ti['map_index']}]"): ti for ti in tis}


def _log(base: str, token: str, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
    path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}?full_content=true"
    return json.dumps(_call(base, path, token))


@pytest.fixture(scope="module")
def daily_run(api):
    pg, base, token = api
    dag = _wait_for_dag(base, token, DAG_ID)
    assert dag["is_paused"] is False
    run_id, state, tis = _run(base, token, DAG_ID, datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    return run_id, state, tis


def test_login_trigger_and_run_to_success(api, daily_run):
    _, base, _ = api
    with pytest.raises(urllib.error.HTTPError):
        _call(base, "/auth/token", body={"username": "admin", "password": "wrong"}, method="POST")
    run_id, state, tis = daily_run
    failed = [(task_id, ti["state"]) for task_id, ti in tis.items() if ti["state"] != "success"]
    assert state == "success", f"run {run_id} ended {state}; not successful: {failed}"
    assert {"extract_load", "gate_raw", "transform.dbt_build", "forecast.plan", "forecast.publish",
            "gate_marts"} <= set(tis)
    assert any(task_id.startswith("forecast.shard[") for task_id in tis)  # mapped: one per shard
    # every model reported by its own task, from the triggerer: no worker ran them (no hostname)
    assert {"transform.stg_erp__stock_movements", "transform.fct_reorder_points",
            "publish_forecasts.fct_forecasts"} <= set(tis)


def test_clearing_one_model_task_rebuilds_that_model_alone(api, daily_run):
    pg, base, token = api
    run_id, state, before = daily_run
    assert state == "success"
    sites = _query(pg, "select count(*) from erp.sites", db=pg.erp_db)[0][0]
    _query(pg, "truncate marts.dim_site")  # damage one model's table, as a bad manual fix would
    _call(base, f"/api/v2/dags/{DAG_ID}/clearTaskInstances", token, method="POST", body={
        "dry_run": False, "dag_run_id": run_id, "task_ids": ["transform.dim_site"], "only_failed": False,
        "include_upstream": False, "include_downstream": False, "reset_dag_runs": True})
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        time.sleep(5)
        ti = _call(base, f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/transform.dim_site", token)
        if ti["state"] in ("success", "failed") and ti["try_number"] > before["transform.dim_site"]["try_number"]:
            break
    assert ti["state"] == "success", ti
    assert _query(pg, "select count(*) from marts.dim_site")[0][0] == sites  # the model was rebuilt
    assert "re-running dim_site on its own" in _log(base, token, DAG_ID, run_id, "transform.dim_site",
                                                    ti["try_number"])
    after = _task_instances(base, token, DAG_ID, run_id)
    # nothing else ran again: not the group's dbt build, not the other models
    rerun = sorted(task_id for task_id, t in after.items() if t["try_number"] != before[task_id]["try_number"])
    assert rerun == ["transform.dim_site"]


def test_a_failing_dbt_test_fails_its_model_task_and_stops_everything_downstream(api):
    pg, base, token = api
    _wait_for_dag(base, token, PROBE_DAG_ID)
    _call(base, f"/api/v2/dags/{PROBE_DAG_ID}", token, {"is_paused": False}, method="PATCH")
    run_id, state, tis = _run(base, token, PROBE_DAG_ID, datetime(2026, 1, 2, tzinfo=UTC), timeout_s=600)
    assert state == "success", {task_id: ti["state"] for task_id, ti in tis.items()}
    assert "PASS accepted_values_first_status" in _log(base, token, PROBE_DAG_ID, run_id, "probe.first", 1)
    built = _query(pg, "select built_at from public_probe.third")

    _query(pg, "update probe_src.flags set status = 'broken'")  # the test on `first` now fails
    run_id, state, tis = _run(base, token, PROBE_DAG_ID, datetime(2026, 1, 3, tzinfo=UTC), timeout_s=600)
    states = {task_id: ti["state"] for task_id, ti in tis.items()}
    assert state == "failed"
    assert states == {"probe.dbt_build": "success", "probe.first": "failed", "probe.second": "upstream_failed",
                      "probe.third": "upstream_failed"}
    log = _log(base, token, PROBE_DAG_ID, run_id, "probe.first", 1)
    assert "FAIL 1 accepted_values_first_status" in log and "nothing downstream of it runs" in log
    assert _query(pg, "select built_at from public_probe.third") == built  # dbt did not rebuild downstream
