{{ config(materialized='table') }}
-- A table: fct_reorder_points and the tests read it, and it aggregates N x (distinct lead times)
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
-- so no window is expanded day by day, and C at a window's end is read with lead/lag from the rows
-- of the same material-site (its window's days are consecutive: int_demand_aggregated_to_daily is
-- zero-filled). Nothing here joins two large inputs, so the plan cannot turn into a nested loop
-- when the planner misjudges row counts: the cost is linear in material-sites x days x lead times
-- (a material's few lead times travel as a small array, unnested once per day). One row per
-- material-site and distinct LTD value, with how many (start day, receipt) pairs give it and the
-- cumulative count: the service-level quantile (percentile_disc of all pairs) is the smallest value
-- whose cumulative count reaches p * total.
-- The 2.7 million window rows of the demo carry only fixed-size values through the window and the
-- sorts (profiled with bench/explain.py: 11.7 s -> 7.5 s): the material-site as an integer
-- series_key (numbered once in series_lead_times, its ids joined back at the end) and the sums in
-- hundredths of a unit as bigint (exact: quantities have two decimals, numeric(12, 2)), which
-- x 0.01 makes the numeric quantity again (two decimals, as the sums of numeric(12, 2) were).
-- The output is the same as with text keys and numeric sums.
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

lead_times_by_material as (
    -- each material's lead times and their weights as two aligned arrays (a few dozen values at most)
    select
        material_id,
        array_agg(lead_time_days order by lead_time_days) as lead_time_days,
        array_agg(receipt_count order by lead_time_days) as receipt_counts
    from lead_time_samples
    group by material_id
),

series_lead_times as materialized (
    -- one row per material-site: its demand window and the lead times of its material (computed
    -- first, so the daily demand joins these few rows by hash, whatever the estimates of the lead
    -- time CTEs)
    select
        row_number() over (order by demand_statistics.material_id, demand_statistics.site_id) as series_key,
        demand_statistics.material_id,
        demand_statistics.site_id,
        demand_statistics.window_start_date,
        demand_statistics.window_end_date,
        demand_statistics.demand_days,
        demand_statistics.total_quantity_consumed,
        coalesce(
            lead_times_by_material.lead_time_days, array[{{ var('default_lead_time_days') }}]
        ) as lead_time_days,
        coalesce(lead_times_by_material.receipt_counts, array[cast(1 as bigint)]) as receipt_counts,
        coalesce(cardinality(lead_times_by_material.lead_time_days), 1) as lead_time_count
    from demand_statistics
    left join lead_times_by_material
        on demand_statistics.material_id = lead_times_by_material.material_id
),

demand_cumulated as (
    -- C(day_index): the demand of the window's days before this one, in hundredths
    select
        series_lead_times.series_key,
        series_lead_times.demand_days,
        cast(series_lead_times.total_quantity_consumed * 100 as bigint) as total_hundredths_consumed,
        series_lead_times.lead_time_days,
        series_lead_times.receipt_counts,
        series_lead_times.lead_time_count,
        daily_demand.demand_date,
        daily_demand.demand_date - series_lead_times.window_start_date as day_index,
        cast(coalesce(sum(cast(daily_demand.quantity_consumed * 100 as bigint)) over (
            partition by series_lead_times.series_key
            order by daily_demand.demand_date
            rows between unbounded preceding and 1 preceding
        ), 0) as bigint) as hundredths_before
    from daily_demand
    inner join series_lead_times
        on daily_demand.material_id = series_lead_times.material_id
        and daily_demand.site_id = series_lead_times.site_id
        and daily_demand.demand_date between series_lead_times.window_start_date and series_lead_times.window_end_date
),

windows_started as (
    -- every (start day, lead time) pair: the day row repeated once per lead time of its material
    select
        demand_cumulated.series_key,
        demand_cumulated.demand_days,
        demand_cumulated.total_hundredths_consumed,
        demand_cumulated.demand_date,
        demand_cumulated.day_index,
        demand_cumulated.hundredths_before,
        demand_cumulated.lead_time_count,
        lead_times.lead_time_days,
        lead_times.receipt_count,
        -- the window ends before the day this many days after its start, modulo the window
        cast(lead_times.lead_time_days % demand_cumulated.demand_days as integer) as end_offset_days
    from demand_cumulated
    cross join lateral unnest(demand_cumulated.lead_time_days, demand_cumulated.receipt_counts)
        as lead_times (lead_time_days, receipt_count)
),

windows_summed as (
    -- C at the window's end (i + L) mod N. The material-site's rows are ordered by day, then lead
    -- time, and every day has lead_time_count rows, so the same lead time on the day L mod N days
    -- later is (L mod N) x lead_time_count rows ahead; past the last day, the window wraps to the
    -- day N - (L mod N) days earlier
    select
        series_key,
        receipt_count,
        (day_index + lead_time_days) / demand_days * total_hundredths_consumed
        + coalesce(
            lead(hundredths_before, end_offset_days * lead_time_count) over days_and_lead_times,
            lag(hundredths_before, (cast(demand_days as integer) - end_offset_days) * lead_time_count)
                over days_and_lead_times
        )
        - hundredths_before as lead_time_demand_hundredths
    from windows_started
    window days_and_lead_times as (partition by series_key order by demand_date, lead_time_days)
),

windows_counted as (
    select
        series_key,
        lead_time_demand_hundredths,
        sum(receipt_count) as window_count
    from windows_summed
    group by series_key, lead_time_demand_hundredths
),

windows_cumulated as (
    select
        series_key,
        lead_time_demand_hundredths,
        window_count,
        sum(window_count) over (
            partition by series_key
            order by lead_time_demand_hundredths
            rows between unbounded preceding and current row
        ) as cumulative_window_count,
        sum(window_count) over (partition by series_key) as total_window_count
    from windows_counted
),

final as (
    select
        series_lead_times.material_id,
        series_lead_times.site_id,
        cast(windows_cumulated.lead_time_demand_hundredths as numeric) * 0.01 as lead_time_demand_quantity,
        cast(windows_cumulated.window_count as bigint) as window_count,
        cast(windows_cumulated.cumulative_window_count as bigint) as cumulative_window_count,
        cast(windows_cumulated.total_window_count as bigint) as total_window_count,
        cast(
            cast(windows_cumulated.cumulative_window_count as numeric) / windows_cumulated.total_window_count
            as numeric(12, 10)
        ) as cumulative_probability
    from windows_cumulated
    inner join series_lead_times
        on windows_cumulated.series_key = series_lead_times.series_key
)

select * from final
