"""plugins/nova_dbt.py: the task group a dbt selection renders, and when a model task rebuilds.

Real runs of these tasks (scheduler, triggerer, dbt) are in tests/e2e/test_airflow_ui.py
(clearing one model, a failing test) and tests/e2e/test_daily_pipeline.py (`airflow dags test`).
"""

import json
import sys

import pendulum
from airflow.sdk import DAG

from nova_corrente.settings import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "plugins"))  # as Airflow does for its plugins folder

from nova_dbt import DbtNodeOperator, DbtNodeTrigger, dbt_task_group, needs_rebuild, report_key  # noqa: E402


def node(name: str, kind: str = "model", parents: tuple[str, ...] = (), tags: tuple[str, ...] = ()) -> tuple:
    return f"{kind}.p.{name}", {"name": name, "resource_type": kind, "tags": list(tags),
                                "depends_on": {"nodes": [p if "." in p else f"model.p.{p}" for p in parents]}}


MANIFEST = {"nodes": dict([
    node("holidays", kind="seed"), node("stg_items"), node("stg_moves"),
    node("fct_stock", parents=("stg_items", "stg_moves", "seed.p.holidays")),
    node("fct_forecasts", parents=("fct_stock",), tags=("forecast",)),
    node("unique_stg_items_id", kind="test", parents=("stg_items",)),
])}


def test_one_task_per_node_downstream_of_one_build_in_the_triggerer(tmp_path):
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "manifest.json").write_text(json.dumps(MANIFEST))
    with DAG("probe", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
        dbt_task_group("transform", exclude=["tag:forecast"], project_dir=tmp_path)
    tasks = {task.task_id: task for task in dag.tasks}
    assert set(tasks) == {"transform.dbt_build", "transform.holidays", "transform.stg_items", "transform.stg_moves",
                          "transform.fct_stock"}
    build = tasks["transform.dbt_build"]
    assert build.exclude == ["tag:forecast"] and build.retries == 2
    assert tasks["transform.fct_stock"].upstream_task_ids == {"transform.holidays", "transform.stg_items",
                                                             "transform.stg_moves"}
    assert tasks["transform.stg_items"].upstream_task_ids == {"transform.dbt_build"}
    node = tasks["transform.fct_stock"]
    assert isinstance(node, DbtNodeOperator) and node.retries == 0
    assert node.start_from_trigger is True
    assert node.start_trigger_args.trigger_kwargs == {"unique_id": "model.p.fct_stock",
                                                      "build_task_id": "transform.dbt_build"}
    assert DbtNodeOperator.start_trigger_args.trigger_kwargs == {}  # the class default is left alone


def test_model_tasks_can_run_on_workers_instead(tmp_path):
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "manifest.json").write_text(json.dumps(MANIFEST))
    with DAG("probe", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
        dbt_task_group("publish", select=["tag:forecast"], project_dir=tmp_path, report_in_triggerer=False)
    assert dag.get_task("publish.fct_forecasts").start_from_trigger is False


def test_a_model_task_rebuilds_only_when_cleared_on_its_own():
    report = {"unique_id": "model.p.x", "name": "x", "status": "success", "attempt": 1}
    assert needs_rebuild(report, try_number=1) is False  # first run: report the group's build
    assert needs_rebuild(report, try_number=2) is True  # cleared alone: rebuild the model
    assert needs_rebuild({**report, "attempt": 2}, try_number=2) is False  # the whole group was cleared
    assert needs_rebuild(None, try_number=1) is True  # the build has no report for it


def test_the_trigger_serializes_what_it_needs():
    path, kwargs = DbtNodeTrigger("model.p.x", "transform.dbt_build").serialize()
    assert path == "nova_dbt.DbtNodeTrigger"
    assert DbtNodeTrigger(**kwargs).serialize() == (path, kwargs)
    assert report_key("model.p.x") == "dbt_report:model.p.x"
