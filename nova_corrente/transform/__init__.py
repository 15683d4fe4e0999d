"""The dbt transform as the DAG runs it: one ``dbt build`` per task group, one report per model.

``graph``: which models, seeds and snapshots a selection covers, their dependencies and which
tests report on which of them (read from dbt's manifest). ``build``: run ``dbt build`` once and
split its outcome and log lines per model. No Airflow imports here.
"""
