{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['material_id', 'site_id', 'demand_date'],
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['material_id', 'site_id', 'demand_date'], 'unique': true},
            {'columns': ['demand_date']},
        ],
        post_hook=["{{ delete_inactive_material_sites() }}"],
    )
}}
-- Daily consumption per active material-site, zero-filled (read by the forecast task).
-- Incremental: each run recomputes the last `demand_lookback_days` days (var, default 28) for every
-- active material-site, the whole history of material-sites new to the table and days before its
-- first day, and drops rows of material-sites no longer active. Corrections of movements older
-- than the lookback need `dbt build --full-refresh --select fct_demand_daily`.
-- depends_on: {{ ref('int_material_sites_filtered_to_active') }}
with

daily_demand as (
    select * from {{ ref('int_demand_aggregated_to_daily') }}
),

{% if is_incremental() %}
existing_material_sites as (
    select distinct
        material_id,
        site_id
    from {{ this }}
),

existing_bounds as (
    select
        min(demand_date) as first_demand_date,
        max(demand_date) - {{ var('demand_lookback_days') }} as refresh_after_date
    from {{ this }}
),

demand_to_refresh as (
    select daily_demand.*
    from daily_demand
    cross join existing_bounds
    left join existing_material_sites
        on daily_demand.material_id = existing_material_sites.material_id
        and daily_demand.site_id = existing_material_sites.site_id
    where
        existing_material_sites.material_id is null
        or daily_demand.demand_date > existing_bounds.refresh_after_date
        -- the calendar grew backwards (older movements arrived): add the earlier days
        or daily_demand.demand_date < existing_bounds.first_demand_date
),
{% else %}
demand_to_refresh as (
    select * from daily_demand
),
{% endif %}

final as (
    select
        material_id,
        site_id,
        demand_date,
        family_id,
        quantity_consumed,
        consumption_count,
        quantity_consumed = 0 as is_zero_demand
    from demand_to_refresh
)

select * from final
