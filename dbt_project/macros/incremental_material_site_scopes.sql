{#- The incremental daily facts (fct_demand_daily, fct_stock_daily) decide what to rewrite the same
    way; these macros write those CTEs once. The model defines `active_material_sites` and
    `calendar_bounds` (first_date, last_date: the movement calendar) before them. -#}

{#- CTEs `existing_material_sites` (the pairs the table holds) and `existing_bounds` (first_date of
    the table, refresh_after_date = its last day - `demand_lookback_days`, processed_until = the
    validation time up to which it is current, minus an hour of overlap). -#}
{% macro existing_material_sites_and_bounds(date_column) -%}
existing_material_sites as (
    {{ material_sites_in_table() }}
),

existing_bounds as (
    select
        min({{ date_column }}) as first_date,
        max({{ date_column }}) - {{ var('demand_lookback_days') }} as refresh_after_date,
        -- an hour of overlap: a batch whose verdict committed while the last build was reading
        {{ processed_until() }} as processed_until
    from {{ this }}
),
{%- endmacro %}

{#- CTE `material_site_scopes`: per active material-site, the first day rewritten
    (refresh_from_date): its whole history when it is new to the table, when the calendar grew
    backwards (older movements arrived) or when it is in the CTE named by `whole_history_of` (a
    material_id, site_id list); else the days after refresh_after_date. In a full build, the whole
    history of every material-site. -#}
{% macro material_site_scopes(whole_history_of=none) -%}
material_site_scopes as (
    select
        active_material_sites.material_id,
        active_material_sites.site_id,
    {%- if is_incremental() %}
        case
            when
                existing_material_sites.material_id is null
                {%- if whole_history_of %}
                or {{ whole_history_of }}.material_id is not null
                {%- endif %}
                or calendar_bounds.first_date < existing_bounds.first_date
                then calendar_bounds.first_date
            else greatest(existing_bounds.refresh_after_date + 1, calendar_bounds.first_date)
        end as refresh_from_date
    from active_material_sites
    cross join calendar_bounds
    cross join existing_bounds
    left join existing_material_sites
        on active_material_sites.material_id = existing_material_sites.material_id
        and active_material_sites.site_id = existing_material_sites.site_id
    {%- if whole_history_of %}
    left join {{ whole_history_of }}
        on active_material_sites.material_id = {{ whole_history_of }}.material_id
        and active_material_sites.site_id = {{ whole_history_of }}.site_id
    {%- endif %}
    {%- else %}
        calendar_bounds.first_date as refresh_from_date
    from active_material_sites
    cross join calendar_bounds
    {%- endif %}
),
{%- endmacro %}

{#- The rows of the rewritten days: per material-site of material_site_scopes, every day from its
    refresh_from_date to the calendar's last day, named `date_column` (a select, for a CTE). -#}
{% macro material_site_scope_days(date_column) -%}
    select
        material_site_scopes.material_id,
        material_site_scopes.site_id,
        cast(scope_days.scope_day as date) as {{ date_column }}
    from material_site_scopes
    cross join calendar_bounds
    cross join
        lateral generate_series(
            material_site_scopes.refresh_from_date, calendar_bounds.last_date, interval '1 day'
        ) as scope_days (scope_day)
{%- endmacro %}
