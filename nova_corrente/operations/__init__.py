"""Operating the platform: alerts, run reports, the data-quality page, dbt docs, extracts.

Small modules the Airflow DAGs and the UI plugin call; each takes its inputs as arguments and reads
configuration from the environment only where it says so.
"""
