{#- In an incremental daily fact (or its post-hooks): the distinct material-sites the table holds,
    by a skip scan of its unique index (material_id, site_id, date): one index probe per
    material-site instead of a distinct over every day of its history. -#}
{% macro material_sites_in_table(relation=this) -%}
    with recursive material_sites as (
        (
            select
                first_pair.material_id,
                first_pair.site_id
            from {{ relation }} as first_pair
            order by first_pair.material_id asc, first_pair.site_id asc
            limit 1
        )

        union all

        select
            next_pair.material_id,
            next_pair.site_id
        from material_sites
        cross join lateral (
            select
                later_pairs.material_id,
                later_pairs.site_id
            from {{ relation }} as later_pairs
            where (later_pairs.material_id, later_pairs.site_id) > (material_sites.material_id, material_sites.site_id)
            order by later_pairs.material_id asc, later_pairs.site_id asc
            limit 1
        ) as next_pair
    )

    select
        material_sites.material_id,
        material_sites.site_id
    from material_sites
{%- endmacro %}
