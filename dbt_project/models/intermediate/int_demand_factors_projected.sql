{{ config(materialized='table') }}
-- A table: fct_reorder_points and fct_reorder_point_outlook both read its ~365 rows per material-site.
-- For every active material-site and every day of the next `reorder_point_outlook_days` (var, 365)
-- after the last demand date: how much demand the lead time starting that day should bring, relative
-- to the demand window the empirical lead-time demand was measured in (int_demand_trends_estimated):
--   demand_factor = (1 + beta * mean rainy_season_index over the L days from that day)
--                   / window_demand_factor
--                   * (1 + annual_growth_rate) ^ ((middle of those L days - middle of the window) / 365)
-- with L = the material's mean lead time rounded up (int_lead_time_statistics_computed;
-- `default_lead_time_days` without a supplier). 1.3 = the coming lead time should see 30 % more
-- demand than the window's average lead time.
with

seasonality as (
    select * from {{ ref('int_demand_trends_estimated') }}
),

lead_time_statistics as (
    select * from {{ ref('int_lead_time_statistics_computed') }}
),

rainy_season_profiles as (
    select * from {{ ref('int_rainy_season_profiles_computed') }}
),

series_lead_times as (
    select
        seasonality.*,
        greatest(cast(ceil(coalesce(
            lead_time_statistics.avg_lead_time_days, {{ var('default_lead_time_days') }}
        )) as integer), 1) as lead_time_days,
        (seasonality.window_end_date - seasonality.window_start_date) / 2.0 as window_middle_day
    from seasonality
    left join lead_time_statistics
        on seasonality.material_id = lead_time_statistics.material_id
),

outlook_bounds as (
    select
        max(window_end_date) + 1 as first_date,
        max(window_end_date) + {{ var('reorder_point_outlook_days') }} as last_date,
        max(lead_time_days) as longest_lead_time_days
    from series_lead_times
),

calendar_days as (
    select cast(outlook_days.outlook_day as date) as calendar_date
    from outlook_bounds
    cross join lateral generate_series(
        outlook_bounds.first_date, outlook_bounds.last_date + outlook_bounds.longest_lead_time_days, interval '1 day'
    ) as outlook_days (outlook_day)
),

calendar_indexed as (
    -- cumulative rainy-season index before each day: the mean over [d, d + L) is a difference
    select
        calendar_days.calendar_date,
        coalesce(sum(rainy_season_profiles.rainy_season_index) over (
            order by calendar_days.calendar_date
            rows between unbounded preceding and 1 preceding
        ), 0) as cumulative_index_before
    from calendar_days
    inner join rainy_season_profiles
        on extract(doy from calendar_days.calendar_date) = rainy_season_profiles.day_of_year
),

factors_computed as (
    select
        series_lead_times.material_id,
        series_lead_times.site_id,
        window_starts.calendar_date as outlook_date,
        series_lead_times.lead_time_days,
        series_lead_times.seasonal_sensitivity,
        series_lead_times.annual_growth_rate,
        (window_ends.cumulative_index_before - window_starts.cumulative_index_before)
        / series_lead_times.lead_time_days as mean_rainy_season_index,
        (
            1 + series_lead_times.seasonal_sensitivity
            * (window_ends.cumulative_index_before - window_starts.cumulative_index_before)
            / series_lead_times.lead_time_days
        )
        / series_lead_times.window_demand_factor
        -- in double precision: numeric power() with a fractional exponent costs half the model's
        -- time (1.7-1.8 s -> 0.7-1.0 s on the demo's 129,210 rows), and the factor is kept to 6
        -- decimals (identical output on the demo warehouse, every row)
        * power(
            cast(1 + series_lead_times.annual_growth_rate as double precision),
            (
                window_starts.calendar_date - series_lead_times.window_start_date
                + series_lead_times.lead_time_days / 2.0 - series_lead_times.window_middle_day
            ) / 365.0
        ) as demand_factor
    from series_lead_times
    cross join outlook_bounds
    inner join calendar_indexed as window_starts
        on window_starts.calendar_date between outlook_bounds.first_date and outlook_bounds.last_date
    inner join calendar_indexed as window_ends
        on window_starts.calendar_date + series_lead_times.lead_time_days = window_ends.calendar_date
),

final as (
    select
        material_id,
        site_id,
        outlook_date,
        lead_time_days,
        cast(mean_rainy_season_index as numeric(10, 6)) as mean_rainy_season_index,
        cast(greatest(demand_factor, 0) as numeric(10, 6)) as demand_factor
    from factors_computed
)

select * from final
