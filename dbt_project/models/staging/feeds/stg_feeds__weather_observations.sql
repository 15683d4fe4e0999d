-- one row per city and day; a re-delivered day replaces the earlier delivery
with

source as (
    {{ latest_passed_versions(source('feeds', 'weather_daily'), ['city', 'weather_date']) }}
),

renamed as (
    select
        cast(city as text) as city,
        cast(weather_date as date) as weather_date,
        cast(temperature_max_c as numeric(5, 2)) as temperature_max_c,
        cast(temperature_min_c as numeric(5, 2)) as temperature_min_c,
        cast(precipitation_mm as numeric(7, 2)) as precipitation_mm,
        _source as source_file,
        _batch_id as source_batch_id,
        _loaded_at as loaded_at
    from source
)

select * from renamed
