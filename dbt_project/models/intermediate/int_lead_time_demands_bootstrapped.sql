{{ config(materialized='table') }}
-- A table: fct_reorder_points and the tests read it, and it aggregates ~N x (distinct lead times)
-- windows per material-site.
-- The empirical distribution of lead-time demand (LTD) per active material-site, without assuming
-- any shape: every pair (start day, lead time) is one equally likely replenishment cycle, where
--   * the start day is any day of the demand window of int_demand_statistics_computed (N days), and
--     the window of L days starting there wraps around at the end of the demand window (circular
--     blocks: every day is covered by exactly L windows, so the mean LTD is exactly d * mean(L));
--   * the lead time L is each observed receipt of the supplier of record (lead_time_source
--     'observed'), or the single quoted lead time ('quoted'), or `default_lead_time_days` (var) for a
--     material without an active supplier - the lead times fct_reorder_points uses.
-- With cumulative sums C(k) = demand of days 0 .. k-1 and total T, the window (i, L) sums to
--   (i + L) div N * T + C((i + L) mod N) - C(i)
-- so no window is expanded day by day (C is read from an array of the material-site). One row per
-- material-site and distinct LTD value, with how many (start day, receipt) pairs give it and the
-- cumulative count: the service-level quantile
-- (percentile_disc of all pairs) is the smallest value whose cumulative count reaches p * total.
with

daily_demand as (
    select * from {{ ref('int_demand_aggregated_to_daily') }}
),

demand_statistics as (
    select * from {{ ref('int_demand_statistics_computed') }}
),

lead_time_statistics as (
    select * from {{ ref('int_lead_time_statistics_computed') }}
),

lead_times_observed as (
    select * from {{ ref('int_lead_times_observed') }}
),

lead_time_samples as (
    -- observed receipts of the supplier of record, one weight per distinct lead time
    select
        lead_time_statistics.material_id,
        lead_times_observed.lead_time_days,
        count(*) as receipt_count
    from lead_time_statistics
    inner join lead_times_observed
        on lead_time_statistics.material_id = lead_times_observed.material_id
        and lead_time_statistics.supplier_id = lead_times_observed.supplier_id
    where lead_time_statistics.lead_time_source = 'observed'
    group by lead_time_statistics.material_id, lead_times_observed.lead_time_days

    union all

    -- too few receipts: the quoted lead time of the supplier of record
    select
        material_id,
        cast(ceil(avg_lead_time_days) as integer) as lead_time_days,
        1 as receipt_count
    from lead_time_statistics
    where lead_time_source <> 'observed'
),

series_lead_times as (
    select
        demand_statistics.material_id,
        demand_statistics.site_id,
        demand_statistics.demand_days,
        demand_statistics.total_quantity_consumed,
        coalesce(lead_time_samples.lead_time_days, {{ var('default_lead_time_days') }}) as lead_time_days,
        coalesce(lead_time_samples.receipt_count, 1) as receipt_count
    from demand_statistics
    left join lead_time_samples
        on demand_statistics.material_id = lead_time_samples.material_id
),

demand_cumulated as (
    select
        daily_demand.material_id,
        daily_demand.site_id,
        daily_demand.demand_date - demand_statistics.window_start_date as day_index,
        coalesce(sum(daily_demand.quantity_consumed) over (
            partition by daily_demand.material_id, daily_demand.site_id
            order by daily_demand.demand_date
            rows between unbounded preceding and 1 preceding
        ), 0) as quantity_before
    from daily_demand
    inner join demand_statistics
        on daily_demand.material_id = demand_statistics.material_id
        and daily_demand.site_id = demand_statistics.site_id
        and daily_demand.demand_date between demand_statistics.window_start_date and demand_statistics.window_end_date
),

series_cumulated as (
    -- C(0) .. C(N - 1) of each material-site in one array (C(k) at index k + 1): a window's end is
    -- read by position, so no join on a computed day (whose row estimate misleads the planner)
    select
        material_id,
        site_id,
        array_agg(quantity_before order by day_index) as quantities_before
    from demand_cumulated
    group by material_id, site_id
),

windows_summed as (
    select
        demand_cumulated.material_id,
        demand_cumulated.site_id,
        series_lead_times.receipt_count,
        (demand_cumulated.day_index + series_lead_times.lead_time_days) / series_lead_times.demand_days
        * series_lead_times.total_quantity_consumed
        + series_cumulated.quantities_before[
            (demand_cumulated.day_index + series_lead_times.lead_time_days) % series_lead_times.demand_days + 1
        ]
        - demand_cumulated.quantity_before as lead_time_demand_quantity
    from demand_cumulated
    inner join series_lead_times
        on demand_cumulated.material_id = series_lead_times.material_id
        and demand_cumulated.site_id = series_lead_times.site_id
    inner join series_cumulated
        on demand_cumulated.material_id = series_cumulated.material_id
        and demand_cumulated.site_id = series_cumulated.site_id
),

windows_counted as (
    select
        material_id,
        site_id,
        lead_time_demand_quantity,
        sum(receipt_count) as window_count
    from windows_summed
    group by material_id, site_id, lead_time_demand_quantity
),

windows_cumulated as (
    select
        material_id,
        site_id,
        lead_time_demand_quantity,
        window_count,
        sum(window_count) over (
            partition by material_id, site_id
            order by lead_time_demand_quantity
            rows between unbounded preceding and current row
        ) as cumulative_window_count,
        sum(window_count) over (partition by material_id, site_id) as total_window_count
    from windows_counted
),

final as (
    select
        material_id,
        site_id,
        lead_time_demand_quantity,
        cast(window_count as bigint) as window_count,
        cast(cumulative_window_count as bigint) as cumulative_window_count,
        cast(total_window_count as bigint) as total_window_count,
        cast(cast(cumulative_window_count as numeric) / total_window_count as numeric(12, 10))
            as cumulative_probability
    from windows_cumulated
)

select * from final
