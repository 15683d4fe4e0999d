-- Mean and (sample) standard deviation of zero-filled daily demand per active material-site over
-- the last `demand_window_days` days (var, default 365) ending at the last demand date.
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
        sum(quantity_consumed) as total_quantity_consumed,
        cast(avg(quantity_consumed) as numeric(18, 6)) as avg_daily_demand,
        cast(coalesce(stddev_samp(quantity_consumed), 0) as numeric(18, 6)) as std_daily_demand
    from demand_in_window
    group by material_id, site_id
)

select * from statistics_computed
