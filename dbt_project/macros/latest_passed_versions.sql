{#- The current version of each row of a raw (append-only, batched) table, as staging sees it:

    * only rows of batches whose status in audit.load_batches is 'passed' (a batch that is still
      'loaded' or was 'rejected' by the raw gate never reaches staging, on this run or any later one);
    * one row per key: the latest by `order_by` (default updated_at, then load time, then batch id).

    Returns a select of the raw table's columns (metadata columns _batch_id, _source, _loaded_at
    included) to wrap in a CTE. -#}
{% macro latest_passed_versions(relation, key_columns, order_by='updated_at desc, _loaded_at desc') -%}
    {%- set keys = [key_columns] if key_columns is string else key_columns -%}
    select distinct on ({{ keys | join(', ') }})
        raw_rows.*
    from {{ relation }} as raw_rows
    where raw_rows._batch_id in (
        select load_batches.batch_id
        from {{ source('audit', 'load_batches') }} as load_batches
        where load_batches.status = 'passed'
    )
    order by {{ keys | join(', ') }}, {{ order_by }}, raw_rows._batch_id desc
{%- endmacro %}
