"""The dbt transform as the DAG runs it: one ``dbt build`` per task group, one report per model.

``graph``: which models, seeds and snapshots a selection covers, their dependencies and which
tests report on which of them (read from dbt's manifest). ``build``: run ``dbt build`` once and
split its outcome and log lines per model. No Airflow imports here.
"""

#: task id of a dbt task group's single ``dbt build`` (the other tasks of the group are its nodes)
BUILD_TASK_ID = "dbt_build"

#: the daily DAG's dbt task groups (the DAG builds them; its run report and the benchmarks read them)
TRANSFORM_GROUP = "transform"
PUBLISH_GROUP = "publish_forecasts"
DAILY_GROUPS = (TRANSFORM_GROUP, PUBLISH_GROUP)
