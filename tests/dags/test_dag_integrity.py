"""The DAG folder imports cleanly under the platform's real Airflow configuration.

The DagBag is loaded in a subprocess with the same environment `make airflow` uses, so Airflow's
configuration is read exactly as in production and nothing leaks into the test process.
"""

import json
import os
import subprocess
import sys

import pytest

from nova_corrente import airflow_services
from nova_corrente.airflow_env import airflow_env
from nova_corrente.settings import REPO_ROOT

PROBE = """
import json, sys
from airflow.configuration import conf
from airflow.dag_processing.dagbag import DagBag
sys.path.insert(0, conf.get("core", "dags_folder"))  # as the dag-processor and workers do
bag = DagBag()
out = {"errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": {}}
for dag_id, dag in bag.dags.items():
    out["dags"][dag_id] = {
        "tags": sorted(dag.tags),
        "doc_md": bool(dag.doc_md),
        "tasks": {t.task_id: {"retries": t.retries, "upstream": sorted(t.upstream_task_ids),
                              "outlets": [getattr(o, "name", str(o)) for o in t.outlets],
                              "operator": type(t).__name__, "start_from_trigger": getattr(t, "start_from_trigger", False),
                              "mapped": type(t).__name__.endswith("MappedOperator"),
                              "unique_id": getattr(t, "unique_id", None)} for t in dag.tasks},
        "timetable": type(dag.timetable).__name__,
        "schedule": sorted(a.name for a in getattr(dag.timetable.asset_condition, "objects", []))
                    if hasattr(dag.timetable, "asset_condition") else None,
        "catchup": dag.catchup,
    }
print("DAGBAG" + json.dumps(out))
"""


@pytest.fixture(scope="module")
def dagbag(pg_module, tmp_path_factory):
    airflow_services.dbt_manifest(pg_module)
    env = {**os.environ, **airflow_env(pg_module, home=tmp_path_factory.mktemp("airflow_home"))}
    result = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True,
                            cwd=REPO_ROOT, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(text for text in result.stdout.splitlines() if text.startswith("DAGBAG"))
    return json.loads(line.removeprefix("DAGBAG"))


def test_no_import_errors(dagbag):
    assert dagbag["errors"] == {}
    assert "nova_corrente_daily" in dagbag["dags"]


def test_every_dag_has_tags_docs_and_retries(dagbag):
    for dag_id, dag in dagbag["dags"].items():
        assert dag["tags"], dag_id
        assert dag["doc_md"], dag_id
        for task_id, task in dag["tasks"].items():
            # retries everywhere, except where a retry cannot help: the quality gates (a data
            # failure) and the dbt model tasks (they report dbt's verdict; clearing one rebuilds it)
            expected = 0 if task_id.startswith("gate_") or task["operator"] == "DbtNodeOperator" else 2
            assert task["retries"] == expected, (dag_id, task_id)


def _manifest_nodes() -> dict:
    manifest = json.loads((REPO_ROOT / "dbt_project" / "target" / "manifest.json").read_text())
    return {uid: node for uid, node in manifest["nodes"].items()
            if node["resource_type"] in ("model", "seed", "snapshot")}


def test_one_task_per_dbt_model_seed_and_snapshot(dagbag):
    tasks = dagbag["dags"]["nova_corrente_daily"]["tasks"]
    nodes = _manifest_nodes()
    rendered = {task["unique_id"]: task_id for task_id, task in tasks.items() if task["operator"] == "DbtNodeOperator"}
    assert set(rendered) == set(nodes)  # every model, seed and snapshot once, nothing else
    for unique_id, task_id in rendered.items():
        group = "publish_forecasts" if "forecast" in nodes[unique_id]["tags"] else "transform"
        assert task_id == f"{group}.{nodes[unique_id]['name']}"
        assert tasks[task_id]["start_from_trigger"] is True  # reported by the triggerer, no worker


def test_dbt_task_dependencies_mirror_the_manifest(dagbag):
    tasks = dagbag["dags"]["nova_corrente_daily"]["tasks"]
    nodes = _manifest_nodes()
    for task_id, task in tasks.items():
        if task["operator"] != "DbtNodeOperator":
            continue
        group = task_id.split(".")[0]
        parents = {f"{group}.{nodes[up]['name']}" for up in nodes[task["unique_id"]]["depends_on"].get("nodes", [])
                   if up in nodes and f"{group}.{nodes[up]['name']}" in tasks}
        # the parents in its group, or (a root of the group) the group's single dbt build
        assert set(task["upstream"]) == (parents or {f"{group}.dbt_build"}), task_id


def test_daily_dag_stages_are_wired_in_order(dagbag):
    dag = dagbag["dags"]["nova_corrente_daily"]
    tasks = dag["tasks"]
    assert dag["timetable"] == "CronDataIntervalTimetable" and dag["catchup"] is False
    assert tasks["gate_raw"]["upstream"] == ["extract_load"]
    # the raw gate opens the transform's single dbt build; the forecast waits for the transform's leaves
    assert tasks["transform.dbt_build"]["upstream"] == ["gate_raw"]
    transform = {tid for tid in tasks if tid.startswith("transform.")}
    transform_leaves = transform - {up for tid in transform for up in tasks[tid]["upstream"]}
    assert set(tasks["forecast.plan"]["upstream"]) == transform_leaves
    # the forecast: a plan, one mapped task per shard, a publish that writes the run once
    assert tasks["forecast.shard"]["upstream"] == ["forecast.plan"]
    assert tasks["forecast.shard"]["mapped"], tasks["forecast.shard"]
    assert sorted(tasks["forecast.publish"]["upstream"]) == ["forecast.plan", "forecast.shard"]
    assert tasks["publish_forecasts.dbt_build"]["upstream"] == ["forecast.publish"]
    assert all(up.startswith("publish_forecasts.") for up in tasks["gate_marts"]["upstream"])
    # the reconciliation gate runs last, after the marts are published, on the run's batches
    assert sorted(tasks["gate_reconciliation"]["upstream"]) == ["extract_load", "gate_marts"]
    assert set(tasks["extract_load"]["outlets"]) == {"nova_raw_erp", "nova_raw_feeds"}
    assert "nova_forecasts" in tasks["forecast.publish"]["outlets"]
    assert not tasks["forecast.shard"]["outlets"] and not tasks["forecast.plan"]["outlets"]
    # operations: the held-back alert after the raw gate, docs after the dbt models, stock alerts after the
    # marts gate, and the run report after everything
    assert tasks["alert_held_back_batches"]["upstream"] == ["extract_load", "gate_raw"]
    assert any(up.startswith("publish_forecasts.") for up in tasks["refresh_dbt_docs"]["upstream"])
    assert tasks["notify_stock_alerts"]["upstream"] == ["gate_marts"]
    assert set(tasks["run_report"]["upstream"]) == {"alert_held_back_batches", "refresh_dbt_docs",
                                                    "notify_stock_alerts", "gate_reconciliation"}


def test_the_reorder_extract_runs_on_the_marts_asset(dagbag):
    dag = dagbag["dags"]["nova_corrente_reorder_extract"]
    assert dag["schedule"] == ["nova_marts"]
    assert dagbag["dags"]["nova_corrente_daily"]["tasks"]["gate_marts"]["outlets"] == ["nova_marts", "nova_reorder_points"]


def test_dag_files_do_no_database_work_at_parse_time(pg_module, tmp_path):
    """Parsing with an unreachable database still succeeds: no connection at DAG-file top level."""
    import dataclasses

    gone = dataclasses.replace(pg_module, port=1)
    env = {**os.environ, **airflow_env(gone, home=tmp_path)}
    env["NOVA_PG_HOST"], env["NOVA_PG_USER"], env["NOVA_PG_PASSWORD"] = "127.0.0.1", "nobody", "x"
    result = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True,
                            cwd=REPO_ROOT, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(next(text for text in result.stdout.splitlines() if text.startswith("DAGBAG")).removeprefix("DAGBAG"))
    assert out["errors"] == {}
