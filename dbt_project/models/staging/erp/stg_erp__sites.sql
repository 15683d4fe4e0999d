with

source as (
    {{ latest_passed_versions(source('erp', 'sites'), ['site_id']) }}
),

renamed as (
    select
        cast(site_id as text) as site_id,
        cast(site_name as text) as site_name,
        cast(city as text) as city,
        cast(region as text) as region,
        cast(latitude as numeric(9, 6)) as latitude,
        cast(longitude as numeric(9, 6)) as longitude,
        lower(cast(sla_tier as text)) as sla_tier,
        cast(is_active as boolean) as is_active,
        cast(commissioned_date as date) as commissioned_date,
        cast(updated_at as timestamptz) as updated_at,
        _batch_id as source_batch_id,
        _loaded_at as loaded_at
    from source
)

select * from renamed
