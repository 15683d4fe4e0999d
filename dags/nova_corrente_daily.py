"""
### Nova Corrente daily pipeline

Every morning (06:00 in Bahia) for the previous day's data interval:

1. **extract_load** — the ERP's rows changed in the interval (watermark on `updated_at`) and the
   feed files in the landing folder are copied into `warehouse.raw` as batches.
2. **gate_raw** — Great Expectations suites on each of this run's batches: bad rows go to
   `audit.quarantined_rows` and never reach the marts, the rest of the batch passes; a structural
   problem or too many bad rows holds that batch back whole (`rejected`). The good data goes on.
3. **transform** — dbt (rendered by Cosmos, one task per model with its tests): staging ->
   intermediate -> marts, snapshots, reorder points.
4. **forecast** — per-series demand forecasts chosen by backtest, written to the marts schema.
5. **publish_forecasts** — the dbt models built on the forecasts.
6. **gate_marts** — Great Expectations suites on the marts and forecasts.
7. **gate_reconciliation** — reconciles the ERP with the warehouse (keys, counts, quantities, stock on hand);
   fails the run, after everything good was published, when a difference is not explained by
   quarantined rows or a batch of the run was held back whole.

Configuration comes from the environment (`NOVA_PG_*`, see README); nothing here touches a
database at parse time.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag, task
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import InvocationMode, LoadMode, TestBehavior

from nova_corrente_assets import FORECASTS, MARTS, RAW_ERP, RAW_FEEDS, REORDER_POINTS

DBT_PROJECT_DIR = Path(os.environ.get("NOVA_DBT_PROJECT_DIR", Path(__file__).resolve().parent.parent / "dbt_project"))
DBT_MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"
# Retry delay of the retried tasks (extract, forecast); the tests shorten it.
RETRY_DELAY = timedelta(seconds=int(os.environ.get("NOVA_RETRY_DELAY_SECONDS", "120")))

_project = ProjectConfig(dbt_project_path=DBT_PROJECT_DIR, manifest_path=DBT_MANIFEST)
_profile = ProfileConfig(
    profile_name="nova_corrente", target_name="warehouse", profiles_yml_filepath=DBT_PROJECT_DIR / "profiles.yml"
)
_execution = ExecutionConfig(
    dbt_executable_path=os.environ.get("NOVA_DBT_EXECUTABLE", "dbt"), invocation_mode=InvocationMode.DBT_RUNNER
)


def _dbt_group(group_id: str, **selection: list[str]) -> DbtTaskGroup:
    """A Cosmos task group over the models chosen by ``select``/``exclude``.

    BUILD: one task per model runs the model and its tests, so a failing test stops everything
    downstream. Tests with two parents (relationships) get their own task after both parents.
    """
    return DbtTaskGroup(
        group_id=group_id,
        project_config=_project,
        profile_config=_profile,
        execution_config=_execution,
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            test_behavior=TestBehavior.BUILD,
            should_detach_multiple_parents_tests=True,
            emit_datasets=False,
            **selection,
        ),
        operator_args={"install_deps": False},
        default_args={"retries": 0},
    )


def _settings():
    from nova_corrente.settings import postgres_settings

    return postgres_settings()


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

    transform = _dbt_group("transform", exclude=["tag:forecast"])

    @task(outlets=[FORECASTS])
    def forecast(data_interval_start=None, data_interval_end=None, dag_run=None, run_id=None) -> dict:
        from nova_corrente.pipeline import forecast as run
        from nova_corrente.pipeline import resolve_interval

        _, end = resolve_interval(data_interval_start, data_interval_end, dag_run.run_after)
        return run(_settings(), end, run_id)

    publish_forecasts = _dbt_group("publish_forecasts", select=["tag:forecast"])

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

    loaded = extract_load()
    gate_raw(loaded) >> transform >> forecast() >> publish_forecasts >> gate_marts() >> gate_reconciliation(loaded)


nova_corrente_daily()
