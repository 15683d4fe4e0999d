"""dbt in Airflow: one ``dbt build`` per task group, one task per model that reports it.

``dbt_task_group(group_id, select=..., exclude=...)`` renders, from dbt's manifest:

* ``<group>.dbt_build`` (:class:`DbtBuildOperator`): runs ``dbt build`` of the whole selection
  once, in-process, with dbt's threads — the same work and the same time as ``dbt build`` on the
  command line — and publishes one report per model/seed/snapshot (XCom ``dbt_report:<unique_id>``):
  status, the tests that report on it, its dbt log lines. It fails only when dbt itself could not
  run (parse, compilation, connection); a failing model or test fails the model's own task.
* ``<group>.<model>`` (:class:`DbtNodeOperator`), one per model, seed and snapshot, downstream of
  ``dbt_build`` and of the tasks of the models it ``ref``s (the manifest's dependencies). It shows
  dbt's log lines for its model and its tests and succeeds or fails as dbt did; a failed test
  fails it, so everything downstream is ``upstream_failed`` (dbt build itself skipped those nodes).
  These tasks start in the triggerer (``start_from_trigger``): reporting needs no worker process,
  so forty models cost forty small coroutines, not forty forks that re-parse the DAG file.
* Clearing a model's task re-runs that model: a task whose try number is higher than the
  ``dbt_build`` try it would report on resumes on a worker and runs ``dbt build --select <model>``
  (the model and its tests), with dbt's output in its log. Clearing the whole group re-runs
  ``dbt build`` once and the model tasks report it again.

Under ``airflow dags test`` (``make demo``) tasks run in-process in dependency order; the model
tasks then report from ``execute`` instead of the triggerer, with the same outcome.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator, TaskGroup
from airflow.triggers.base import (
    BaseTrigger,
    StartTriggerArgs,
    TaskFailedEvent,
    TaskSuccessEvent,
    TriggerEvent,
)

from nova_corrente import settings
from nova_corrente.transform import BUILD_TASK_ID

DBT_PROJECT_DIR = Path(os.environ.get("NOVA_DBT_PROJECT_DIR", settings.DBT_PROJECT_DIR))
REPORT_KEY_PREFIX = "dbt_report:"


def report_key(unique_id: str) -> str:
    """XCom key of a node's report, pushed by the group's ``dbt_build`` task."""
    return REPORT_KEY_PREFIX + unique_id


def needs_rebuild(report: dict[str, Any] | None, try_number: int) -> bool:
    """A node task re-runs its model itself when it was cleared on its own: it is on a later try
    than the ``dbt_build`` run it would report (or that run has no report for it)."""
    return report is None or try_number > int(report.get("attempt") or 0)


class DbtBuildOperator(BaseOperator):
    """``dbt build`` of a selection, once; publishes one report per model/seed/snapshot."""

    ui_color = "#ffd8b1"

    def __init__(self, *, select: Sequence[str] = (), exclude: Sequence[str] = (),
                 project_dir: str = str(DBT_PROJECT_DIR), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.select, self.exclude, self.project_dir = list(select), list(exclude), project_dir

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowException

        from nova_corrente.transform.build import run_build
        from nova_corrente.transform.graph import load_manifest, select_nodes

        project = Path(self.project_dir)
        selection = select_nodes(load_manifest(project / "target" / "manifest.json"), self.select, self.exclude)
        ti = context["ti"]
        outcome = run_build(project, selection, attempt=ti.try_number)
        for unique_id, report in outcome.reports.items():
            ti.xcom_push(key=report_key(unique_id), value=report.as_dict())
        failed = sorted(report.name for report in outcome.reports.values() if not report.ok)
        self.log.info("dbt build of %d models/seeds/snapshots in %.1fs: %d ok, %d failed%s", len(outcome.reports),
                      outcome.seconds, len(outcome.reports) - len(failed), len(failed),
                      f" ({', '.join(failed)}: see their tasks)" if failed else "")
        if not outcome.completed:
            raise AirflowException(f"dbt build could not run: {outcome.error}")
        if outcome.unreported_failures:
            raise AirflowException(f"dbt build failures no model task reports: {outcome.unreported_failures}")
        return {"seconds": round(outcome.seconds, 1), "nodes": len(outcome.reports), "failed": failed}


class DbtNodeOperator(BaseOperator):
    """One model/seed/snapshot: reports what the group's ``dbt build`` did for it, or rebuilds it
    when cleared on its own (see the module docstring)."""

    ui_color = "#e0ecff"
    start_trigger_args = StartTriggerArgs(
        trigger_cls=f"{__name__}.DbtNodeTrigger", trigger_kwargs={}, next_method="execute_complete",
        next_kwargs=None, timeout=None,
    )
    start_from_trigger = False

    def __init__(self, *, unique_id: str, build_task_id: str, project_dir: str = str(DBT_PROJECT_DIR),
                 report_in_triggerer: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.unique_id, self.build_task_id, self.project_dir = unique_id, build_task_id, project_dir
        self.start_from_trigger = report_in_triggerer
        if report_in_triggerer:  # replaced, not mutated: start_trigger_args is a class attribute
            self.start_trigger_args = dataclasses.replace(
                self.start_trigger_args,
                trigger_kwargs={"unique_id": unique_id, "build_task_id": build_task_id},
            )

    def execute(self, context: Any) -> None:
        ti = context["ti"]
        report = ti.xcom_pull(task_ids=self.build_task_id, key=report_key(self.unique_id))
        if needs_rebuild(report, ti.try_number):
            return self.rebuild(context)
        _report(report, self.log)

    def execute_complete(self, context: Any, event: Any = None) -> None:
        """Resumed from the triggerer: this task was cleared on its own, so it re-runs its model."""
        return self.rebuild(context)

    def rebuild(self, context: Any) -> None:
        from nova_corrente.transform.build import run_build
        from nova_corrente.transform.graph import load_manifest, select_nodes

        project = Path(self.project_dir)
        name = self.unique_id.rsplit(".", 1)[-1]
        self.log.info("try %d: re-running %s on its own (dbt build --select %s)", context["ti"].try_number, name, name)
        selection = select_nodes(load_manifest(project / "target" / "manifest.json"), select=[name])
        outcome = run_build(project, selection, attempt=context["ti"].try_number)
        report = outcome.reports.get(self.unique_id)
        if not outcome.completed or report is None:
            from airflow.sdk.exceptions import AirflowException

            raise AirflowException(f"dbt build --select {name} could not run: {outcome.error}")
        _report(report.as_dict(), self.log)


def _report(report: dict[str, Any], log: Any) -> None:
    """Log a node's dbt lines; raise (failing the task) when dbt failed the node or one of its tests."""
    from nova_corrente.transform.build import NodeReport

    node = NodeReport.from_dict(report)
    for line in node.lines:
        log.info("dbt | %s", line)
    tests = f", {len(node.tests)} tests" if node.tests else ""
    failure = node.failure()
    if failure:
        from airflow.sdk.exceptions import AirflowException

        raise AirflowException(failure)
    log.info("%s: %s in %.2fs%s, all passed", node.name, node.status, node.seconds, tests)


class DbtNodeTrigger(BaseTrigger):
    """Runs a :class:`DbtNodeOperator` in the triggerer: reads its report and ends the task, or
    hands the task to a worker when it must rebuild its model (a task cleared on its own)."""

    def __init__(self, unique_id: str, build_task_id: str, poll_interval: float = 2.0) -> None:
        super().__init__()
        self.unique_id, self.build_task_id, self.poll_interval = unique_id, build_task_id, poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{__name__}.DbtNodeTrigger",
                {"unique_id": self.unique_id, "build_task_id": self.build_task_id, "poll_interval": self.poll_interval})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow.sdk.execution_time.xcom import XCom
        from asgiref.sync import sync_to_async

        ti = self.task_instance
        report = await sync_to_async(XCom.get_one)(key=report_key(self.unique_id), dag_id=ti.dag_id,
                                                   task_id=self.build_task_id, run_id=ti.run_id, map_index=-1)
        if needs_rebuild(report, ti.try_number):
            yield TriggerEvent({"rebuild": True})
            return
        try:
            _report(report, self.log)
        except Exception as failure:  # noqa: BLE001 - the failure is the task's outcome, logged as such
            self.log.error("%s", failure)
            yield TaskFailedEvent()
            return
        yield TaskSuccessEvent()


def dbt_task_group(group_id: str, *, select: Sequence[str] = (), exclude: Sequence[str] = (),
                   project_dir: Path = DBT_PROJECT_DIR, report_in_triggerer: bool = True,
                   build_retries: int = 2) -> TaskGroup:
    """The task group of a dbt selection (see the module docstring); call inside a DAG."""
    from nova_corrente.transform.graph import load_manifest, select_nodes

    selection = select_nodes(load_manifest(project_dir / "target" / "manifest.json"), select, exclude)
    with TaskGroup(group_id=group_id, tooltip=f"dbt build {' '.join(selection.dbt_args())}") as group:
        build = DbtBuildOperator(task_id=BUILD_TASK_ID, select=select, exclude=exclude,
                                 project_dir=str(project_dir), retries=build_retries)
        tasks: dict[str, DbtNodeOperator] = {}
        for node in selection.nodes:
            tasks[node.unique_id] = DbtNodeOperator(
                task_id=node.name, unique_id=node.unique_id, build_task_id=build.task_id,
                project_dir=str(project_dir), report_in_triggerer=report_in_triggerer, retries=0,
                doc_md=f"dbt {node.resource_type} `{node.name}`: reports what `{build.task_id}` did for it "
                       "and its tests; clear it to re-run it alone.",
            )
            upstream = [tasks[uid] for uid in node.upstream] or [build]
            upstream >> tasks[node.unique_id]
    return group
