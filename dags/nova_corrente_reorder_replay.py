"""
### Nova Corrente reorder-point replay (weekly)

Every Monday at 04:00 Bahia, before the daily run, the evidence behind each material-site's
reorder-point method (`fct_reorder_points.method`, `method_source` 'replay'):

1. **build_as_of** — dbt rebuilds the reorder points as they were a year ago (var
   `replay_days_back`, `$NOVA_REPLAY_DAYS_BACK`, default 365) into `intermediate_replay` /
   `marts_replay`, never the live schemas; as the transformer.
2. **replay_methods** — replays the demand recorded since then (`marts.fct_demand_daily`) against
   both empirical methods' reorder points of that day (`empirical_ltd`: the quantile;
   `seasonal_ltd`: the as-of outlook, day by day) and replaces `marts.reorder_point_replays`; as
   the forecaster.

The next daily run's `fct_reorder_points` takes, per material-site, the method that kept its
target service level with less stock (`int_reorder_point_methods_replayed`); where the evidence is
thin or for another target, the demand class decides. A failed replay changes nothing: the last
evidence stays. Without a history longer than the days back (a new warehouse) both tasks are
skipped, saying why. By hand: `nova replay`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag, task

from nova_corrente.operations.airflow_callbacks import on_task_failure


@dag(
    dag_id="nova_corrente_reorder_replay",
    schedule=CronDataIntervalTimetable("0 4 * * 1", timezone="America/Bahia"),
    start_date=pendulum.datetime(2026, 1, 1, tz="America/Bahia"),
    catchup=False,
    max_active_runs=1,
    tags=["nova_corrente", "dbt", "inventory"],
    default_args={"owner": "data-platform", "retries": 2, "on_failure_callback": on_task_failure},
    doc_md=__doc__,
)
def nova_corrente_reorder_replay():
    @task
    def build_as_of() -> dict:
        from airflow.sdk.exceptions import AirflowSkipException

        from nova_corrente.reorder_replay import build_as_of as run
        from nova_corrente.reorder_replay import days_back_setting, not_ready
        from nova_corrente.settings import postgres_settings

        days_back = days_back_setting()
        reason = not_ready(postgres_settings(), days_back)
        if reason:  # a new warehouse: skipped (the last evidence, if any, stays), not failed
            raise AirflowSkipException(f"nothing to replay yet: {reason}")
        return run(postgres_settings(), days_back)

    @task
    def replay_methods(built: dict) -> dict:
        from nova_corrente.reorder_replay import replay_methods as run
        from nova_corrente.settings import postgres_settings

        return {**run(postgres_settings()), "as_of_build": built}

    replay_methods(build_as_of())


nova_corrente_reorder_replay()
