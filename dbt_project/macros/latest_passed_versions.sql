{#- The current version of each key of a raw (append-only, batched) table, as staging sees it:

    * only rows of batches whose status in audit.load_batches is 'passed' (a batch still 'loaded',
      or 'rejected' = held back whole, never reaches staging);
    * never a row in quarantine (audit.quarantined_rows): a key whose new version is bad keeps its
      last good version until the source fixes it;
    * one row per key: the newest by extraction (`order_by`, default _loaded_at then _row_id: the
      change capture extracts the source's current row, so the last extracted is the truth even
      when the source back-dated updated_at);
    * no key whose current version is a tombstone (_change = 'delete': the source deleted it).

    Returns a select of the raw table's columns (metadata columns included) to wrap in a CTE. -#}
{% macro latest_passed_versions(relation, key_columns, order_by='_loaded_at desc, _row_id desc') -%}
    {%- set keys = [key_columns] if key_columns is string else key_columns -%}
    select latest_versions.*
    from (
        select distinct on ({{ keys | join(', ') }})
            raw_rows.*
        from {{ relation }} as raw_rows
        where
            raw_rows._batch_id in (
                select load_batches.batch_id
                from {{ source('audit', 'load_batches') }} as load_batches
                where load_batches.status = 'passed'
            )
            and not exists (
                select 1
                from {{ source('audit', 'quarantined_rows') }} as quarantined_rows
                where
                    quarantined_rows.raw_table = '{{ relation.schema }}.{{ relation.identifier }}'
                    and quarantined_rows.raw_row_id = raw_rows._row_id
            )
        order by {{ keys | join(', ') }}, {{ order_by }}
    ) as latest_versions
    where latest_versions._change != 'delete'
{%- endmacro %}
