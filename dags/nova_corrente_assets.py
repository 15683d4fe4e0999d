"""Assets the platform's DAGs produce and consume, defined once (imported by the DAG files).

URIs name the warehouse objects; they are logical names, independent of which server the
warehouse runs on.
"""

from airflow.sdk import Asset

RAW_ERP = Asset(name="nova_raw_erp", uri="nova://warehouse/raw/erp", group="raw")
RAW_FEEDS = Asset(name="nova_raw_feeds", uri="nova://warehouse/raw/feeds", group="raw")
MARTS = Asset(name="nova_marts", uri="nova://warehouse/marts/core", group="marts")
FORECASTS = Asset(name="nova_forecasts", uri="nova://warehouse/marts/forecasts", group="marts")
REORDER_POINTS = Asset(name="nova_reorder_points", uri="nova://warehouse/marts/fct_reorder_points", group="marts")
