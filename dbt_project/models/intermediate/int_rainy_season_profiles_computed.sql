-- The rainy-season profile, one row per day of the year (1 .. 366): how much rain that time of year
-- brings relative to the year's average, from every city and year of the weather feed.
--   precipitation_profile_mm  mean daily rain over every (city, day) whose day of the year lies
--                             within `rainy_season_smoothing_days` (var, 15) of it (circular: late
--                             December neighbours early January)
--   rainy_season_index        precipitation_profile_mm / its mean over the year - 1 (0 = an average
--                             time of year, +0.9 = 90 % more rain than average)
-- Day 366 exists only in leap years; it takes the profile of its neighbours like any other day.
-- Every day of the year has a row: where the weather history does not reach (a new deployment, no
-- weather feed) the index is 0, an average time of year, so nothing downstream is left without one.
with

weather as (
    select * from {{ ref('stg_feeds__weather_observations') }}
),

rain_by_day_of_year as (
    select
        cast(extract(doy from weather_date) as integer) as day_of_year,
        sum(precipitation_mm) as precipitation_mm,
        count(precipitation_mm) as observation_count
    from weather
    group by cast(extract(doy from weather_date) as integer)
),

days_of_year as (
    select cast(year_days.day_number as integer) as day_of_year
    from generate_series(1, 366) as year_days (day_number)
),

profiles_smoothed as (
    select
        days_of_year.day_of_year,
        sum(rain_by_day_of_year.precipitation_mm) as precipitation_mm,
        sum(rain_by_day_of_year.observation_count) as observation_count
    from days_of_year
    inner join rain_by_day_of_year
        on least(
            abs(days_of_year.day_of_year - rain_by_day_of_year.day_of_year),
            366 - abs(days_of_year.day_of_year - rain_by_day_of_year.day_of_year)
        ) <= {{ var('rainy_season_smoothing_days') }}
    group by days_of_year.day_of_year
),

profiles_averaged as (
    select
        days_of_year.day_of_year,
        coalesce(profiles_smoothed.observation_count, 0) as observation_count,
        profiles_smoothed.precipitation_mm / nullif(profiles_smoothed.observation_count, 0)
            as precipitation_profile_mm
    from days_of_year
    left join profiles_smoothed
        on days_of_year.day_of_year = profiles_smoothed.day_of_year
),

final as (
    select
        day_of_year,
        observation_count,
        cast(precipitation_profile_mm as numeric(9, 4)) as precipitation_profile_mm,
        cast(coalesce(
            precipitation_profile_mm / nullif(avg(precipitation_profile_mm) over (), 0) - 1, 0
        ) as numeric(9, 6)) as rainy_season_index
    from profiles_averaged
)

select * from final
