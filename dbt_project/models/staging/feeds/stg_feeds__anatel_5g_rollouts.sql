-- one row per city, month and operator; a re-delivered month replaces the earlier delivery
with

source as (
    {{ latest_passed_versions(
        source('feeds', 'anatel_5g_rollout'), ['city', 'reference_month', 'operator']
    ) }}
),

renamed as (
    select
        cast(city as text) as city,
        cast(date_trunc('month', reference_month) as date) as month_start_date,
        cast(operator as text) as operator,
        cast(stations_5g as integer) as stations_5g,
        cast(population_covered_pct as numeric(5, 2)) as population_covered_pct,
        _source as source_file,
        _batch_id as source_batch_id,
        _loaded_at as loaded_at
    from source
)

select * from renamed
