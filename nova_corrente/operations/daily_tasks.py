"""The daily DAG's operational tasks, as functions its thin tasks call.

* ``alert_held_back_batches``: after the raw gate, the batches it held back whole and the rows it
  quarantined, to on-call (the run goes on with the good data; its final audit fails it);
* ``refresh_dbt_docs``: after the dbt models are built, the docs site the UI shows (``dbt_docs``);
* ``notify_stock_alerts``: after the marts gate, new critical stock alerts to on-call (``stock_alerts``);
* ``run_report``: the run's report (teardown: runs whatever failed), written under
  ``$NOVA_HOME/reports`` and returned with the note the plugin attaches to the run; it also prunes
  the stored Great Expectations validation results to their retention.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

from nova_corrente.settings import PostgresSettings

log = logging.getLogger(__name__)
DAG_ID = "nova_corrente_daily"


def alert_held_back_batches(pg: PostgresSettings, batch_ids: Sequence[str], dag_run_id: str) -> dict[str, Any]:
    """Alert when the raw gate held back batches of the run or quarantined rows of them; else nothing."""
    from nova_corrente.operations import alerts, quality_history

    held_back = [b for b in quality_history.batches(pg, batch_ids) if b.status == "rejected"]
    quarantined = quality_history.quarantined(pg, batch_ids=batch_ids)
    if held_back or quarantined:
        url = alerts.ui_url(alerts.run_path(DAG_ID, dag_run_id))
        alerts.deliver(alerts.gate_rejected(DAG_ID, dag_run_id, held_back, url=url, quarantined=quarantined))
    return {"held_back": [b.batch_id for b in held_back], "quarantined_rows": sum(g.rows for g in quarantined)}


def refresh_dbt_docs(pg: PostgresSettings) -> dict[str, Any]:
    from nova_corrente.operations.dbt_docs import refresh

    site = refresh(pg)
    return {"directory": str(site.directory), "nodes": site.nodes, "catalog_nodes": site.catalog_nodes,
            "seconds": round(site.seconds, 1)}


def notify_stock_alerts(pg: PostgresSettings, dag_run_id: str | None) -> dict[str, Any]:
    from nova_corrente.operations import alerts
    from nova_corrente.operations.stock_alerts import notify_new_critical_alerts

    def send(new: Sequence[alerts.CriticalStockAlert]) -> None:
        url = alerts.ui_url(alerts.run_path(DAG_ID, dag_run_id)) if dag_run_id else None
        alerts.deliver(alerts.critical_stock(new, url=url))

    new = notify_new_critical_alerts(pg, send, dag_run_id=dag_run_id)
    return {"new_critical_alerts": [f"{a.material_id}@{a.site_id}" for a in new]}


def run_report(pg: PostgresSettings, context: Mapping[str, Any], dbt_groups: Sequence[str]) -> dict[str, Any]:
    """Collect, write and return the report of the context's DAG run: ``{"path", "note", "outcome"}``."""
    from nova_corrente.operations import quality_history, run_report
    from nova_corrente.pipeline import resolve_interval

    ti, dag_run = context["ti"], context["dag_run"]
    start, end = resolve_interval(context.get("data_interval_start"), context.get("data_interval_end"),
                                  dag_run.run_after)
    states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id]).get(ti.run_id, {})
    loaded = ti.xcom_pull(task_ids="extract_load") or {}
    report = run_report.collect(
        pg, dag_id=ti.dag_id, run_id=ti.run_id, interval_start=start, interval_end=end, task_states=states,
        batch_ids=loaded.get("batch_ids"), dbt_groups=dbt_groups,
        ui_base_url=os.environ.get("AIRFLOW__API__BASE_URL"), report_task_id=ti.task_id,
    )
    markdown = run_report.render_markdown(report)
    path = run_report.write(markdown, ti.run_id)
    log.info("run report written to %s:\n%s", path, markdown)
    try:
        quality_history.prune_validation_results()
    except (OSError, ValueError):
        log.exception("could not prune the validation results")
    return {"path": str(path), "outcome": report.outcome, "note": run_report.note_text(report, path)}
