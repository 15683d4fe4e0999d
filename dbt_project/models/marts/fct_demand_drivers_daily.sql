{{
    config(
        indexes=[
            {'columns': ['city', 'driver_date'], 'unique': true},
            {'columns': ['driver_date']},
        ],
    )
}}
-- What moves spare-part demand, per site city and day: the features the forecast reads (the site's
-- city joins a material-site to them). Days from the first weather observation to
-- `drivers_future_days` (var, default 60) past the last one, so forecast horizons have features too;
-- what is not known yet is filled and flagged:
--   storm_index            recent rain (int_weather_days_indexed); NULL where not observed
--   expected_storm_index   the city's mean storm_index in that calendar month (the value a forecast
--                          uses for days not observed yet); its mean over all months where the
--                          history has not seen that month yet
--   rainy_season_index     the rain profile of that time of year (int_rainy_season_profiles_computed)
--   is_rainy_season        month in `rainy_season_months` (var, April-July)
--   stations_5g_added      5G stations the city gains in the month (int_5g_rollouts_aggregated_to_monthly);
--                          for a month not complete yet, the city's latest known month
--                          (is_5g_activity_estimated)
--   usd_brl, selic_rate_pct, ipca_index  as of the day, else the latest earlier value
--   is_business_day, is_holiday, is_optional_holiday, day_of_week  from dim_date (seed br_ba_holidays)
with

weather_days as (
    select * from {{ ref('int_weather_days_indexed') }}
),

rainy_season_profiles as (
    select * from {{ ref('int_rainy_season_profiles_computed') }}
),

rollouts_monthly as (
    select * from {{ ref('int_5g_rollouts_aggregated_to_monthly') }}
),

economic_indicators as (
    select * from {{ ref('stg_feeds__economic_indicators') }}
),

calendar as (
    select * from {{ ref('dim_date') }}
),

cities as (
    select
        city,
        min(weather_date) as first_date
    from weather_days
    group by city
),

date_bounds as (
    select
        min(weather_date) as first_date,
        max(weather_date) as last_observed_date,
        max(weather_date) + {{ var('drivers_future_days') }} as last_date
    from weather_days
),


storm_climatologies as (
    select
        city,
        cast(extract(month from weather_date) as integer) as calendar_month,
        avg(storm_index) as expected_storm_index
    from weather_days
    group by city, cast(extract(month from weather_date) as integer)
),

city_storm_means as (
    select
        city,
        avg(storm_index) as mean_storm_index
    from weather_days
    group by city
),

latest_known_activities as (
    -- each city's latest month whose additions are known
    select distinct on (city)
        city,
        stations_5g_added
    from rollouts_monthly
    where stations_5g_added is not null
    order by city asc, month_start_date desc
),

rollouts_filled as (
    -- the latest known month's additions stand in for months whose next snapshot has not arrived
    select
        rollouts_monthly.city,
        rollouts_monthly.month_start_date,
        rollouts_monthly.stations_5g,
        rollouts_monthly.population_covered_pct,
        rollouts_monthly.stations_5g_added is null as is_5g_activity_estimated,
        coalesce(rollouts_monthly.stations_5g_added, latest_known_activities.stations_5g_added) as stations_5g_added
    from rollouts_monthly
    left join latest_known_activities
        on rollouts_monthly.city = latest_known_activities.city
),

latest_rollout_months as (
    select
        city,
        max(month_start_date) as month_start_date
    from rollouts_monthly
    group by city
),

city_days as (
    -- the keys the day's features join on, computed here so that every join below is an equi-join
    -- (hash, linear in the days; a join condition computed in the join was a nested filter, growing
    -- with days x months)
    select
        cities.city,
        cast(calendar_days.calendar_day as date) as driver_date,
        date_bounds.last_observed_date,
        cast(extract(month from calendar_days.calendar_day) as integer) as calendar_month,
        cast(extract(doy from calendar_days.calendar_day) as integer) as day_of_year,
        -- the month's rollout row, or the latest month's for days after it
        least(
            cast(date_trunc('month', calendar_days.calendar_day) as date), latest_rollout_months.month_start_date
        ) as rollout_month_start_date
    from cities
    cross join date_bounds
    cross join
        lateral generate_series(cities.first_date, date_bounds.last_date, interval '1 day')
            as calendar_days (calendar_day)
    left join latest_rollout_months
        on cities.city = latest_rollout_months.city
),

economic_days_ranked as (
    select
        indicator_date,
        usd_brl,
        selic_rate_pct,
        ipca_index,
        lead(indicator_date) over (order by indicator_date) as next_indicator_date
    from economic_indicators
),

economic_days_filled as (
    -- each indicator day's values stand until the next one: one row per calendar day, so the join
    -- to the city-days is on the day (a range join was a nested loop, quadratic in the days)
    select
        cast(valid_days.valid_day as date) as driver_date,
        economic_days_ranked.usd_brl,
        economic_days_ranked.selic_rate_pct,
        economic_days_ranked.ipca_index
    from economic_days_ranked
    cross join date_bounds
    cross join lateral generate_series(
        economic_days_ranked.indicator_date,
        coalesce(economic_days_ranked.next_indicator_date - 1, date_bounds.last_date),
        interval '1 day'
    ) as valid_days (valid_day)
),

drivers_joined as (
    select
        city_days.city,
        city_days.driver_date,
        weather_days.weather_date is not null as is_observed,
        calendar.day_of_week,
        calendar.is_business_day,
        calendar.is_holiday,
        calendar.is_optional_holiday,
        weather_days.precipitation_mm,
        weather_days.storm_index,
        coalesce(storm_climatologies.expected_storm_index, city_storm_means.mean_storm_index, 0)
            as expected_storm_index,
        rainy_season_profiles.rainy_season_index,
        city_days.calendar_month in ({{ var('rainy_season_months') | join(', ') }})
            as is_rainy_season,
        rollouts_filled.stations_5g,
        rollouts_filled.stations_5g_added,
        rollouts_filled.population_covered_pct,
        coalesce(rollouts_filled.is_5g_activity_estimated, true) as is_5g_activity_estimated,
        economic_days_filled.usd_brl,
        economic_days_filled.selic_rate_pct,
        economic_days_filled.ipca_index
    from city_days
    left join weather_days
        on city_days.city = weather_days.city
        and city_days.driver_date = weather_days.weather_date
    left join calendar
        on city_days.driver_date = calendar.calendar_date
    left join storm_climatologies
        on city_days.city = storm_climatologies.city
        and city_days.calendar_month = storm_climatologies.calendar_month
    left join city_storm_means
        on city_days.city = city_storm_means.city
    left join rainy_season_profiles
        on city_days.day_of_year = rainy_season_profiles.day_of_year
    left join rollouts_filled
        on city_days.city = rollouts_filled.city
        and city_days.rollout_month_start_date = rollouts_filled.month_start_date
    left join economic_days_filled
        on city_days.driver_date = economic_days_filled.driver_date
),

final as (
    select
        city,
        driver_date,
        is_observed,
        day_of_week,
        is_business_day,
        is_holiday,
        is_optional_holiday,
        precipitation_mm,
        storm_index,
        cast(expected_storm_index as numeric(8, 4)) as expected_storm_index,
        rainy_season_index,
        is_rainy_season,
        stations_5g,
        stations_5g_added,
        population_covered_pct,
        is_5g_activity_estimated,
        usd_brl,
        selic_rate_pct,
        ipca_index
    from drivers_joined
)

select * from final
