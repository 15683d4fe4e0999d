-- Daily weather per city with the recent-storm index (one row per city and observed day):
--   rain_window_mm  rain of the last `storm_window_days` days (var, default 3) up to and including
--                   the day (days without an observation count as dry)
--   storm_index     least(rain_window_mm / `storm_scale_mm` (var, 40), `storm_index_cap` (var, 1.5)):
--                   0 after a dry spell, 1 after a heavy-rain spell of storm_scale_mm
with

weather as (
    select * from {{ ref('stg_feeds__weather_observations') }}
),

rain_windows_summed as (
    -- a window over the city's days (linear in days; a self-join on the date range was quadratic
    -- per city), so a day's window holds only the days observed in it
    select
        city,
        weather_date,
        precipitation_mm,
        temperature_max_c,
        temperature_min_c,
        coalesce(sum(precipitation_mm) over rain_window, 0) as rain_window_mm
    from weather
    window rain_window as (
        partition by city
        order by weather_date
        range between interval '{{ var('storm_window_days') | int - 1 }} days' preceding and current row
    )
),

final as (
    select
        city,
        weather_date,
        precipitation_mm,
        temperature_max_c,
        temperature_min_c,
        cast(rain_window_mm as numeric(9, 2)) as rain_window_mm,
        cast(
            least(rain_window_mm / {{ var('storm_scale_mm') }}, {{ var('storm_index_cap') }}) as numeric(8, 4)
        ) as storm_index
    from rain_windows_summed
)

select * from final
