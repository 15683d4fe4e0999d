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
-- Daily consumption per active material-site, zero-filled (read by the forecast task) over the
-- calendar from the first to the last movement date.
-- Incremental: each run recomputes the last `demand_lookback_days` days (var, default 28) for every
-- active material-site, every day a movement batch passed since the last build touched (a late,
-- corrected or deleted movement, whatever its age: macro changed_movement_days), the whole history
-- of material-sites new to the table, and of all when the calendar grew backwards (older movements
-- arrived); it reads only those days, so the next day's run costs what changed, not the length of
-- the history. It drops rows of material-sites no longer active and days outside the calendar (a
-- wrongly dated movement that was fixed).
with

active_material_sites as (
    select * from {{ ref('int_material_sites_filtered_to_active') }}
),

daily_movements as (
    select * from {{ ref('int_stock_movements_aggregated_to_daily') }}
),

calendar_bounds as (
    select
        min(movement_date) as first_date,
        max(movement_date) as last_date
    from daily_movements
),

{% if is_incremental() %}
{{ existing_material_sites_and_bounds('demand_date') }}

changed_days as (
    {{ changed_movement_days('(select existing_bounds.processed_until from existing_bounds)') }}
),
{% endif %}

{{ material_site_scopes() }}

days_to_refresh as (
    {{ material_site_scope_days('demand_date') }}
    {% if is_incremental() %}
    union

    -- older days a movement batch touched, within the calendar
    select
        changed_days.material_id,
        changed_days.site_id,
        changed_days.movement_date as demand_date
    from changed_days
    cross join calendar_bounds
    where changed_days.movement_date between calendar_bounds.first_date and calendar_bounds.last_date
    {% endif %}
),

demand_to_refresh as (
    select
        active_material_sites.material_id,
        active_material_sites.site_id,
        active_material_sites.family_id,
        days_to_refresh.demand_date,
        coalesce(daily_movements.quantity_consumed, 0) as quantity_consumed,
        coalesce(daily_movements.consumption_count, 0) as consumption_count
    from days_to_refresh
    inner join active_material_sites
        on days_to_refresh.material_id = active_material_sites.material_id
        and days_to_refresh.site_id = active_material_sites.site_id
    left join daily_movements
        on days_to_refresh.material_id = daily_movements.material_id
        and days_to_refresh.site_id = daily_movements.site_id
        and days_to_refresh.demand_date = daily_movements.movement_date
),

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
