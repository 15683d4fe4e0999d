{#- The material-site-days touched by stock-movement versions that passed after `since` (a SQL
    expression, a timestamptz): every version (old and new) of every movement of those batches, so a
    corrected movement marks both the day it left and the day it went to, and a deleted one
    (tombstone) the day it was on. Used by the incremental daily facts to recompute what changed,
    whatever its age. -#}
{% macro changed_movement_days(since) -%}
    select distinct
        movement_versions.material_id,
        movement_versions.site_id,
        movement_versions.movement_date
    from {{ ref('stg_erp__stock_movement_versions') }} as movement_versions
    where
        movement_versions.change_kind != 'delete'
        and movement_versions.movement_id in (
            select touched.movement_id
            from {{ ref('stg_erp__stock_movement_versions') }} as touched
            where touched.batch_validated_at > {{ since }}
        )
{%- endmacro %}

{#- The newest validation time of the passed stock-movement batches: what an incremental daily fact
    has processed once built (stored in its rows as source_validated_at). -#}
{% macro movements_validated_until() -%}
    (
        select max(movement_versions.batch_validated_at)
        from {{ ref('stg_erp__stock_movement_versions') }} as movement_versions
    )
{%- endmacro %}

{#- In an incremental daily fact: the validation time up to which its rows are current, minus an
    hour of overlap (a batch whose verdict committed while the last build was reading). A table
    built before the fact had source_validated_at counts as processing nothing yet. -#}
{% macro processed_until() -%}
    {#- only at execution: parsing (and sqlfluff's templater) have no adapter to ask -#}
    {%- if execute and 'source_validated_at' in (adapter.get_columns_in_relation(this) | map(attribute='name') | list) -%}
        coalesce(max(source_validated_at), '-infinity') - interval '1 hour'
    {%- else -%}
        cast('-infinity' as timestamptz)
    {%- endif -%}
{%- endmacro %}
