{#- Snapshots: dbt-postgres stamps snapshot times as `timestamp without time zone`, while the ERP's
    updated_at (the timestamp strategy's column) is timestamptz. Stamp them as timestamptz too, so
    every snapshot time column has one type (and dbt's SnapshotTimestampWarning stays quiet). -#}
{% macro postgres__snapshot_get_time() -%}
    current_timestamp
{%- endmacro %}
