with

source as (
    {{ latest_passed_versions(source('erp', 'stock_on_hand'), ['material_id', 'site_id']) }}
),

renamed as (
    select
        cast(material_id as text) as material_id,
        cast(site_id as text) as site_id,
        cast(quantity_on_hand as numeric(12, 2)) as quantity_on_hand,
        cast(updated_at as timestamptz) as updated_at,
        _batch_id as source_batch_id,
        _loaded_at as loaded_at
    from source
)

select * from renamed
