{{ config(materialized='table') }}
-- A table, not a view: one row per material-site read by the reorder-point models and their tests,
-- which would otherwise each recompute it from a year of daily demand.
-- Demand statistics per active material-site over the last `demand_window_days` days (var, default
-- 365) of zero-filled daily demand, ending at the last demand date:
--   avg / std_daily_demand   mean and sample standard deviation of the daily quantities
--   zero_demand_share        share of days without demand
--   adi                      average demand interval: mean number of days between consecutive days
--                            with demand, the first interval counted from the window start (Croston's
--                            convention, as nova_forecast.classify): (days up to the last demand day)
--                            / (days with demand); [0, 0, 3, 0, 0, 3] -> 6 / 2 = 3
--   cv_squared               squared coefficient of variation of the non-zero daily quantities
--                            (population variance / mean^2; 0 with a single demand day)
--   demand_class             Syntetos-Boylan (2005) with cut-offs ADI 1.32 and CV^2 0.49:
--                            smooth (ADI < 1.32, CV^2 < 0.49), erratic (ADI < 1.32, CV^2 >= 0.49),
--                            intermittent (ADI >= 1.32, CV^2 < 0.49), lumpy (ADI >= 1.32, CV^2 >= 0.49);
--                            no_demand when the window has no demand at all.
with

daily_demand as (
    select * from {{ ref('int_demand_aggregated_to_daily') }}
),

window_bounds as (
    select
        max(demand_date) - ({{ var('demand_window_days') }} - 1) as window_start_date,
        max(demand_date) as window_end_date
    from daily_demand
),

demand_in_window as (
    select daily_demand.*
    from daily_demand
    inner join window_bounds
        on daily_demand.demand_date between window_bounds.window_start_date and window_bounds.window_end_date
),

statistics_computed as (
    select
        material_id,
        site_id,
        min(demand_date) as window_start_date,
        max(demand_date) as window_end_date,
        count(*) as demand_days,
        count(*) filter (where quantity_consumed > 0) as nonzero_demand_days,
        max(demand_date) filter (where quantity_consumed > 0) as last_demand_date,
        sum(quantity_consumed) as total_quantity_consumed,
        avg(quantity_consumed) as avg_quantity,
        coalesce(stddev_samp(quantity_consumed), 0) as std_quantity,
        avg(quantity_consumed) filter (where quantity_consumed > 0) as avg_nonzero_quantity,
        var_pop(quantity_consumed) filter (where quantity_consumed > 0) as var_nonzero_quantity
    from demand_in_window
    group by material_id, site_id
),

intermittency_computed as (
    select
        *,
        case
            when nonzero_demand_days > 0
                then cast(last_demand_date - window_start_date + 1 as numeric) / nonzero_demand_days
        end as adi,
        case
            when nonzero_demand_days > 0 then var_nonzero_quantity / (avg_nonzero_quantity * avg_nonzero_quantity)
        end as cv_squared
    from statistics_computed
),

final as (
    select
        material_id,
        site_id,
        window_start_date,
        window_end_date,
        demand_days,
        nonzero_demand_days,
        total_quantity_consumed,
        cast(avg_quantity as numeric(18, 6)) as avg_daily_demand,
        cast(std_quantity as numeric(18, 6)) as std_daily_demand,
        cast(1 - cast(nonzero_demand_days as numeric) / demand_days as numeric(8, 6)) as zero_demand_share,
        cast(adi as numeric(12, 6)) as adi,
        cast(cv_squared as numeric(12, 6)) as cv_squared,
        case
            when nonzero_demand_days = 0 then 'no_demand'
            when adi < 1.32 and cv_squared < 0.49 then 'smooth'
            when adi < 1.32 then 'erratic'
            when cv_squared < 0.49 then 'intermittent'
            else 'lumpy'
        end as demand_class
    from intermittency_computed
)

select * from final
