{#- Post-hook of the incremental daily facts: drop the rows of material-sites that are no longer
    active (a material or site deactivated, or no longer stocked). The table's material-sites come
    from a skip scan of its unique index, the rows go by the same index: the cost follows the
    material-sites and their rows, not a scan of the whole history. -#}
{% macro delete_inactive_material_sites() %}
    delete from {{ this }} as fact
    where (fact.material_id, fact.site_id) in (
        select in_table.material_id, in_table.site_id
        from ({{ material_sites_in_table() }}) as in_table
        where not exists (
            select 1 from {{ ref('int_material_sites_filtered_to_active') }} as active
            where active.material_id = in_table.material_id and active.site_id = in_table.site_id
        )
    )
{% endmacro %}
