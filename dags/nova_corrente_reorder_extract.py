"""
### Nova Corrente reorder extract

Scheduled on the `nova_marts` Asset: it runs each time `nova_corrente_daily` publishes marts that
passed their quality gate (`gate_marts` emits the Asset only on success), never on a schedule of
its own, so planners and BI tools never get a list built from data that failed a gate.

**export_reorder_list** writes the morning's reorder list (material-sites to order now, with the
stock alert severity and projected stockout date) to `$NOVA_HOME/exports/<as_of_date>/reorder_list.csv`
and `$NOVA_HOME/exports/reorder_list_latest.csv`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from nova_corrente.operations.airflow_callbacks import on_task_failure
from nova_corrente_assets import MARTS


@dag(
    dag_id="nova_corrente_reorder_extract",
    schedule=[MARTS],
    start_date=pendulum.datetime(2026, 1, 1, tz="America/Bahia"),
    catchup=False,
    max_active_runs=1,
    tags=["nova_corrente", "extract", "bi"],
    default_args={"owner": "data-platform", "retries": 2, "on_failure_callback": on_task_failure},
    doc_md=__doc__,
)
def nova_corrente_reorder_extract():
    @task
    def export_reorder_list() -> dict:
        from nova_corrente.operations.extracts import export_reorder_list as run
        from nova_corrente.settings import postgres_settings

        extract = run(postgres_settings())
        return {"path": str(extract.path), "as_of_date": str(extract.as_of_date), "rows": extract.rows}

    export_reorder_list()


nova_corrente_reorder_extract()
