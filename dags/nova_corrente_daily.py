"""
### Nova Corrente daily pipeline

Every morning (06:00 in Bahia) for the previous day's data interval:

1. **extract_load** — the ERP's rows changed in the interval (watermark on `updated_at`) and the
   feed files in the landing folder are copied into `warehouse.raw` as batches.
2. **gate_raw** — Great Expectations suites on each of this run's batches: bad rows go to
   `audit.quarantined_rows` and never reach the marts, the rest of the batch passes; a structural
   problem or too many bad rows holds that batch back whole (`rejected`). The good data goes on.
3. **transform** — dbt: staging -> intermediate -> marts, snapshots, reorder points.
   `transform.dbt_build` runs `dbt build` once (dbt's own threads, the time of a plain `dbt build`);
   then one task per model, seed and snapshot (`transform.<model>`, with the manifest's
   dependencies) shows dbt's log lines for it and its tests and fails when dbt failed it, so a
   failing test stops everything downstream. These tasks run in the triggerer (no worker process);
   clearing one re-runs that model alone (`dbt build --select <model>`). See `plugins/nova_dbt.py`.
4. **forecast** — per-series demand forecasts chosen by backtest, written to the marts schema.
   `forecast.plan` splits the run into shards of whole materials (`$NOVA_FORECAST_SHARDS`,
   default 2); `forecast.shard` (dynamically mapped: one task per shard, on any worker) backtests
   and fits its series and stages them out of BI's sight; `forecast.publish` selects the models
   and calibrates the intervals over all shards and writes the run in one transaction. A failed
   shard publishes nothing: the previous run stays current.
5. **publish_forecasts** — the dbt models built on the forecasts (same pattern as transform).
6. **gate_marts** — Great Expectations suites on the marts and forecasts.
7. **gate_reconciliation** — reconciles the ERP with the warehouse (keys, counts, quantities, stock on hand);
   fails the run, after everything good was published, when a difference is not explained by
   quarantined rows or a batch of the run was held back whole.
8. Operations: **alert_held_back_batches** (after the raw gate) tells on-call which batches were
   held back and why; **refresh_dbt_docs** rebuilds the UI's dbt docs (Browse > dbt Docs) for what
   just ran; **notify_stock_alerts** sends new critical stock alerts; **run_report**, a teardown (it
   runs whatever failed and does not decide the run's state), writes the run's Markdown report under
   `$NOVA_HOME/reports/` and attaches it to the run as its note.

Alerts (e-mail / Slack webhook, configured by environment, see README): a task that failed after
its retries, batches held back by the raw gate, a run not successful by 07:30 Bahia.

Configuration comes from the environment (`NOVA_PG_*`, see README); nothing here touches a
database at parse time (the dbt tasks are read from `dbt_project/target/manifest.json`).
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import (
    AsyncCallback,
    CronDataIntervalTimetable,
    DeadlineAlert,
    DeadlineReference,
    dag,
    get_current_context,
    task,
    task_group,
    teardown,
)

from nova_corrente.operations.airflow_callbacks import on_deadline_missed, on_task_failure
from nova_corrente.operations.alerts import deadline_after_logical_date, deadline_time
from nova_corrente.transform import DAILY_GROUPS, PUBLISH_GROUP, TRANSFORM_GROUP
from nova_corrente_assets import FORECASTS, MARTS, RAW_ERP, RAW_FEEDS, REORDER_POINTS
from nova_dbt import dbt_task_group

# Retry delay of the retried tasks (extract, forecast); the tests shorten it.
RETRY_DELAY = timedelta(seconds=int(os.environ.get("NOVA_RETRY_DELAY_SECONDS", "120")))
SCHEDULE_TIME = pendulum.time(6, 0)  # America/Bahia
# NOVA_ALERT_DEADLINE (default 07:30 Bahia): alert when a scheduled run has not succeeded by then
_deadline = deadline_time()
DEADLINE = [] if _deadline is None else [DeadlineAlert(
    reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
    interval=deadline_after_logical_date(SCHEDULE_TIME, _deadline),
    callback=AsyncCallback(on_deadline_missed),
    name="daily_run_deadline",
)]


def _settings():
    from nova_corrente.settings import postgres_settings

    return postgres_settings()


def _interval_end(data_interval_start, data_interval_end, dag_run):
    from nova_corrente.pipeline import resolve_interval

    return resolve_interval(data_interval_start, data_interval_end, dag_run.run_after)[1]


def _gate(check, *args) -> dict:
    """Run a quality gate; a failed gate is a data problem that retrying cannot fix."""
    from airflow.sdk.exceptions import AirflowFailException

    from nova_corrente.pipeline import ReconciliationFailed
    from nova_corrente.quality.gates import MissingBatches, QualityGateFailed

    try:
        return check(_settings(), *args)
    except (QualityGateFailed, MissingBatches, ReconciliationFailed) as failure:
        raise AirflowFailException(str(failure)) from failure


@dag(
    dag_id="nova_corrente_daily",
    schedule=CronDataIntervalTimetable(f"{SCHEDULE_TIME.minute} {SCHEDULE_TIME.hour} * * *", timezone="America/Bahia"),
    start_date=pendulum.datetime(2026, 1, 1, tz="America/Bahia"),
    catchup=False,
    max_active_runs=1,
    tags=["nova_corrente", "elt", "dbt", "forecast"],
    default_args={"owner": "data-platform", "retries": 2, "retry_delay": RETRY_DELAY,
                  "on_failure_callback": on_task_failure},
    deadline=DEADLINE,
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

    transform = dbt_task_group(TRANSFORM_GROUP, exclude=["tag:forecast"])

    @task_group(group_id="forecast", tooltip="forecast shards of whole materials, published as one run")
    def forecast():
        @task
        def plan(data_interval_start=None, data_interval_end=None, dag_run=None) -> list[dict]:
            from nova_corrente.pipeline import plan_forecast

            return plan_forecast(_settings(), _interval_end(data_interval_start, data_interval_end, dag_run))

        @task(map_index_template="{{ shard_label }}")
        def shard(part: dict) -> dict:
            from nova_corrente.pipeline import forecast_shard

            get_current_context()["shard_label"] = part["label"]  # type: ignore[typeddict-unknown-key]
            return forecast_shard(_settings(), part)

        @task(outlets=[FORECASTS])
        def publish(parts: list[dict], staged: list[dict], data_interval_start=None, data_interval_end=None,
                    dag_run=None, run_id=None) -> dict:
            from nova_corrente.pipeline import publish_forecast

            return publish_forecast(_settings(), parts, _interval_end(data_interval_start, data_interval_end,
                                                                      dag_run), run_id)

        parts = plan()
        publish(parts, shard.expand(part=parts))

    publish_forecasts = dbt_task_group(PUBLISH_GROUP, select=["tag:forecast"])

    @task(retries=0, outlets=[MARTS, REORDER_POINTS])
    def gate_marts() -> dict:
        from nova_corrente.pipeline import gate_marts as run

        return _gate(run)

    @task(retries=0)
    def gate_reconciliation(loaded: dict, data_interval_start=None, data_interval_end=None, dag_run=None) -> dict:
        from nova_corrente.pipeline import gate_reconciliation as run
        from nova_corrente.pipeline import resolve_interval

        _, end = resolve_interval(data_interval_start, data_interval_end, dag_run.run_after)
        return _gate(run, end, loaded["batch_ids"])

    @task
    def alert_held_back_batches(loaded: dict, dag_run=None) -> dict:
        from nova_corrente.operations.daily_tasks import alert_held_back_batches as run

        return run(_settings(), loaded["batch_ids"], dag_run.run_id)

    @task
    def refresh_dbt_docs() -> dict:
        from nova_corrente.operations.daily_tasks import refresh_dbt_docs as run

        return run(_settings())

    @task
    def notify_stock_alerts(dag_run=None) -> dict:
        from nova_corrente.operations.daily_tasks import notify_stock_alerts as run

        return run(_settings(), dag_run.run_id)

    @teardown
    def run_report(**context) -> dict:
        from nova_corrente.operations.daily_tasks import run_report as run

        return run(_settings(), context, DAILY_GROUPS)

    loaded = extract_load()
    raw_gate, marts_gate, reconciliation = gate_raw(loaded), gate_marts(), gate_reconciliation(loaded)
    raw_gate >> transform >> forecast() >> publish_forecasts >> marts_gate >> reconciliation
    held_back, docs, stock_alerts = alert_held_back_batches(loaded), refresh_dbt_docs(), notify_stock_alerts()
    raw_gate >> held_back
    publish_forecasts >> docs
    marts_gate >> stock_alerts
    [held_back, docs, stock_alerts, reconciliation] >> run_report()


nova_corrente_daily()
