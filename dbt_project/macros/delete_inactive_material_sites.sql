{#- Post-hook of the incremental daily facts: drop the rows of material-sites that are no longer
    active (a material or site deactivated, or no longer stocked). -#}
{% macro delete_inactive_material_sites() %}
    delete from {{ this }} as fact
    where not exists (
        select 1 from {{ ref('int_material_sites_filtered_to_active') }} as active
        where active.material_id = fact.material_id and active.site_id = fact.site_id
    )
{% endmacro %}
