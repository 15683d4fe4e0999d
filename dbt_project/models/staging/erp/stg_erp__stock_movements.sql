with

source as (
    {{ latest_passed_versions(source('erp', 'stock_movements'), ['movement_id']) }}
),

renamed as (
    select
        cast(movement_id as bigint) as movement_id,
        cast(material_id as text) as material_id,
        cast(site_id as text) as site_id,
        cast(movement_type as text) as movement_type,
        cast(movement_date as date) as movement_date,
        cast(quantity as numeric(12, 2)) as quantity,
        cast(purchase_order_id as text) as purchase_order_id,
        cast(created_at as timestamptz) as created_at,
        cast(updated_at as timestamptz) as updated_at,
        _batch_id as source_batch_id,
        _loaded_at as loaded_at
    from source
)

select * from renamed
