"""
### Nova Corrente daily pipeline

Every morning (06:00 in Bahia) for the previous day's data interval:

1. **extract_load** — the ERP's rows changed in the interval (watermark on `updated_at`) and the
   feed files in the landing folder are copied into `warehouse.raw` as batches.
2. **gate_raw** — Great Expectations suites on this run's batches. A failing batch is marked
   `rejected` in `audit.load_batches` and never reaches the marts; the task fails naming the suite,
   expectation and sample bad values, and nothing downstream runs.
3. **transform** — dbt: staging -> intermediate -> marts, snapshots, reorder points.
   `transform.dbt_build` runs `dbt build` once (dbt's own threads, the time of a plain `dbt build`);
   then one task per model, seed and snapshot (`transform.<model>`, with the manifest's
   dependencies) shows dbt's log lines for it and its tests and fails when dbt failed it, so a
   failing test stops everything downstream. These tasks run in the triggerer (no worker process);
   clearing one re-runs that model alone (`dbt build --select <model>`). See `plugins/nova_dbt.py`.
4. **forecast** — `plan` splits the run into shards of whole demand classes
   (`$NOVA_FORECAST_SHARDS`, default 2), `shard` (dynamically mapped, one task per shard, spread
   over the workers) forecasts each into a staging table, `publish` writes them as one run in one
   transaction: BI never sees half a run, and the forecasts are those of a single run.
5. **publish_forecasts** — the dbt models built on the forecasts (same pattern as transform).
6. **gate_marts** — Great Expectations suites on the marts and forecasts.

Configuration comes from the environment (`NOVA_PG_*`, see README); nothing here touches a
database at parse time (the dbt tasks are read from `dbt_project/target/manifest.json`).
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag, task, task_group

from nova_corrente_assets import FORECASTS, MARTS, RAW_ERP, RAW_FEEDS, REORDER_POINTS
from nova_dbt import dbt_task_group

# Retry delay of the retried tasks (extract, forecast); the tests shorten it.
RETRY_DELAY = timedelta(seconds=int(os.environ.get("NOVA_RETRY_DELAY_SECONDS", "120")))


def _settings():
    from nova_corrente.settings import postgres_settings

    return postgres_settings()


def _interval_end(data_interval_start, data_interval_end, dag_run):
    from nova_corrente.pipeline import resolve_interval

    return resolve_interval(data_interval_start, data_interval_end, dag_run.run_after)[1]


def _gate(check, *args) -> dict:
    """Run a quality gate; a failed gate is a data problem that retrying cannot fix."""
    from airflow.sdk.exceptions import AirflowFailException

    from nova_corrente.quality.gates import QualityGateFailed

    try:
        return check(_settings(), *args)
    except QualityGateFailed as failure:
        raise AirflowFailException(str(failure)) from failure


@dag(
    dag_id="nova_corrente_daily",
    schedule=CronDataIntervalTimetable("0 6 * * *", timezone="America/Bahia"),
    start_date=pendulum.datetime(2026, 1, 1, tz="America/Bahia"),
    catchup=False,
    max_active_runs=1,
    tags=["nova_corrente", "elt", "dbt", "forecast"],
    default_args={"owner": "data-platform", "retries": 2, "retry_delay": RETRY_DELAY},
    doc_md=__doc__,
)
def nova_corrente_daily():
    @task(outlets=[RAW_ERP, RAW_FEEDS])
    def extract_load(data_interval_start=None, data_interval_end=None, dag_run=None) -> dict:
        from nova_corrente.pipeline import extract_load as run
        from nova_corrente.pipeline import resolve_interval

        return run(_settings(), *resolve_interval(data_interval_start, data_interval_end, dag_run.run_after))

    @task(retries=0)
    def gate_raw(loaded: dict) -> dict:
        from nova_corrente.pipeline import gate_raw as run

        return _gate(run, loaded["batch_ids"])

    transform = dbt_task_group("transform", exclude=["tag:forecast"])

    @task_group(tooltip="forecast shards of whole demand classes, published as one run")
    def forecast():
        @task
        def plan(data_interval_start=None, data_interval_end=None, dag_run=None) -> list[dict]:
            from nova_corrente.pipeline import forecast_plan

            return forecast_plan(_settings(), _interval_end(data_interval_start, data_interval_end, dag_run))

        @task(map_index_template="{{ shard_label }}")
        def shard(part: dict, data_interval_start=None, data_interval_end=None, dag_run=None,
                  run_id=None) -> dict:
            from airflow.sdk import get_current_context

            from nova_corrente.pipeline import forecast_shard

            get_current_context()["shard_label"] = (
                f"shard {part['index'] + 1}/{part['count']} ({', '.join(part['classes'])})")
            end = _interval_end(data_interval_start, data_interval_end, dag_run)
            return forecast_shard(_settings(), end, run_id, part)

        @task(outlets=[FORECASTS])
        def publish(parts: list[dict], done: list[dict], data_interval_start=None, data_interval_end=None,
                    dag_run=None, run_id=None) -> dict:
            from nova_corrente.pipeline import forecast_publish

            end = _interval_end(data_interval_start, data_interval_end, dag_run)
            return forecast_publish(_settings(), end, run_id, len(parts))

        parts = plan()
        publish(parts, shard.expand(part=parts))

    publish_forecasts = dbt_task_group("publish_forecasts", select=["tag:forecast"])

    @task(retries=0, outlets=[MARTS, REORDER_POINTS])
    def gate_marts() -> dict:
        from nova_corrente.pipeline import gate_marts as run

        return _gate(run)

    loaded = extract_load()
    gate_raw(loaded) >> transform >> forecast() >> publish_forecasts >> gate_marts()


nova_corrente_daily()
