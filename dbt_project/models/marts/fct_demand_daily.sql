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
        post_hook=["{{ delete_inactive_material_sites() }}", "{{ delete_outside_calendar('demand_date') }}"],
    )
}}
-- Daily consumption per active material-site, zero-filled (read by the forecast task).
-- Incremental: each run recomputes the last `demand_lookback_days` days (var, default 28) for every
-- active material-site, every day a movement batch passed since the last build touched (a late,
-- corrected or deleted movement, whatever its age: macro changed_movement_days), the whole history
-- of material-sites new to the table and days before its first day; it drops rows of material-sites
-- no longer active and days outside the calendar (a wrongly dated movement that was fixed).
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
        max(demand_date) - {{ var('demand_lookback_days') }} as refresh_after_date,
        -- an hour of overlap: a batch whose verdict committed while the last build was reading
        {{ processed_until() }} as processed_until
    from {{ this }}
),

changed_days as (
    {{ changed_movement_days('(select existing_bounds.processed_until from existing_bounds)') }}
),

demand_to_refresh as (
    select daily_demand.*
    from daily_demand
    cross join existing_bounds
    left join existing_material_sites
        on daily_demand.material_id = existing_material_sites.material_id
        and daily_demand.site_id = existing_material_sites.site_id
    left join changed_days
        on daily_demand.material_id = changed_days.material_id
        and daily_demand.site_id = changed_days.site_id
        and daily_demand.demand_date = changed_days.movement_date
    where
        existing_material_sites.material_id is null
        or daily_demand.demand_date > existing_bounds.refresh_after_date
        -- the calendar grew backwards (older movements arrived): add the earlier days
        or daily_demand.demand_date < existing_bounds.first_demand_date
        or changed_days.material_id is not null
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
        quantity_consumed = 0 as is_zero_demand,
        {{ movements_validated_until() }} as source_validated_at
    from demand_to_refresh
)

select * from final
