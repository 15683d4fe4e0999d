-- one row per day (the feed is wide: one column per indicator); a re-delivered day replaces the
-- earlier delivery
with

source as (
    {{ latest_passed_versions(source('feeds', 'economic_indicators'), ['indicator_date']) }}
),

renamed as (
    select
        cast(indicator_date as date) as indicator_date,
        cast(usd_brl as numeric(12, 6)) as usd_brl,
        cast(selic_rate_pct as numeric(8, 4)) as selic_rate_pct,
        cast(ipca_index as numeric(14, 6)) as ipca_index,
        _source as source_file,
        _batch_id as source_batch_id,
        _loaded_at as loaded_at
    from source
)

select * from renamed
