{#- Post-hook of fct_inventory_kpis_monthly (incremental): drop the months of a site and material
    family that no longer has an active material-site (the others are recomputed when their
    material-sites change). -#}
{% macro delete_inactive_site_families() %}
    delete from {{ this }} as kpis
    where not exists (
        select 1 from {{ ref('int_material_sites_filtered_to_active') }} as active
        where active.site_id = kpis.site_id and active.family_id = kpis.family_id
    )
{% endmacro %}
