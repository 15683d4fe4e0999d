{{ config(materialized='table') }}
-- A table, not a view: five models read it (the demand statistics and classes, the lead-time
-- demand distributions, fct_demand_daily), which would each recompute the zero-filled calendar, and
-- the planner needs its real row count and statistics (analyze_table) to choose hash joins there.
-- Daily consumption per active material-site, zero-filled: one row per active material-site and
-- calendar day of the last `demand_history_days` days (var, three years) up to the last movement
-- date in the warehouse (any material-site), or from the first one when the history is shorter.
-- What the reorder-point rules read (their windows: demand_window_days, classification_window_days,
-- the seasonal regression of int_demand_trends_estimated): a table of history-independent size, so
-- rebuilding it each run costs the same at 3 or 9 years of movements. The whole history is in
-- fct_demand_daily (incremental).
with

active_material_sites as (
    select * from {{ ref('int_material_sites_filtered_to_active') }}
),

daily_movements as (
    select * from {{ ref('int_stock_movements_aggregated_to_daily') }}
),

movement_dates as (
    -- the same table, imported apart: each import is read once, so PostgreSQL inlines it and plans
    -- on the table's statistics; one CTE read twice would be materialized without any, and the
    -- zero-fill join below became a merge join sorting every material-site day to disk (4x slower)
    select movement_date from {{ ref('int_stock_movements_aggregated_to_daily') }}
),

calendar_bounds as (
    -- `replay_days_back` (var, 0): the history as it was that many days before the last movement
    -- date (the replay build; later movements fall outside the calendar)
    select
        greatest(
            min(movement_date),
            max(movement_date) - ({{ var('replay_days_back') }} + {{ var('demand_history_days') }} - 1)
        ) as first_date,
        max(movement_date) - {{ var('replay_days_back') }} as last_date
    from movement_dates
),

calendar as (
    select cast(calendar_days.calendar_day as date) as demand_date
    from calendar_bounds
    cross join lateral generate_series(
        calendar_bounds.first_date, calendar_bounds.last_date, interval '1 day'
    ) as calendar_days (calendar_day)
),

material_site_days as (
    select
        active_material_sites.material_id,
        active_material_sites.site_id,
        active_material_sites.family_id,
        calendar.demand_date
    from active_material_sites
    cross join calendar
),

demand_zero_filled as (
    select
        material_site_days.material_id,
        material_site_days.site_id,
        material_site_days.family_id,
        material_site_days.demand_date,
        coalesce(daily_movements.quantity_consumed, 0) as quantity_consumed,
        coalesce(daily_movements.consumption_count, 0) as consumption_count
    from material_site_days
    left join daily_movements
        on material_site_days.material_id = daily_movements.material_id
        and material_site_days.site_id = daily_movements.site_id
        and material_site_days.demand_date = daily_movements.movement_date
)

select * from demand_zero_filled
