"""Airflow callbacks that turn run events into alerts (``nova_corrente.operations.alerts``).

* ``on_task_failure``: a task's ``on_failure_callback`` (set in the DAG's ``default_args``): called
  once the task has failed for good, after its retries.
* ``on_deadline_missed``: the async callback of the daily DAG's deadline alert (runs in the triggerer).

They never raise: a callback that fails is only logged by Airflow, so they log what went wrong.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from nova_corrente.operations import alerts

log = logging.getLogger(__name__)

def failure_alert(context: Mapping[str, Any]) -> alerts.Alert:
    """The alert for a task that failed for good."""
    ti = context["ti"]
    dag_id, task_id, run_id = ti.dag_id, ti.task_id, ti.run_id
    error = context.get("exception")
    task_url = alerts.ui_url(f"{alerts.run_path(dag_id, run_id)}/tasks/{task_id}")
    return alerts.task_failed(dag_id, task_id, run_id, tries=int(getattr(ti, "try_number", 1) or 1),
                              error=f"{type(error).__name__}: {error}" if error else "", url=task_url)


def on_task_failure(context: Mapping[str, Any]) -> None:
    """``on_failure_callback``: send the failure (or gate) alert; never raises."""
    try:
        alerts.deliver(failure_alert(context), context)
    except Exception:
        log.exception("could not send the failure alert")


async def on_deadline_missed(context: Mapping[str, Any] | None = None, **_: Any) -> list[str]:
    """Deadline-alert callback (triggerer): the run had not succeeded by its deadline."""
    context = context or {}
    run = context.get("dag_run") or {}
    dag_id = run.get("dag_id", "?")
    run_id = run.get("dag_run_id") or run.get("run_id") or "?"
    deadline_at = (context.get("deadline") or {}).get("deadline_time", "?")
    alert = alerts.deadline_missed(dag_id, run_id, str(run.get("state", "?")), deadline_at,
                                   url=alerts.ui_url(alerts.run_path(dag_id, run_id)))
    try:
        return await alerts.deliver_async(alert)
    except Exception:
        log.exception("could not send the deadline alert")
        return []
