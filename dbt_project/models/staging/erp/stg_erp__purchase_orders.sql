with

source as (
    {{ latest_passed_versions(source('erp', 'purchase_orders'), ['purchase_order_id']) }}
),

renamed as (
    select
        cast(purchase_order_id as text) as purchase_order_id,
        cast(supplier_id as text) as supplier_id,
        cast(material_id as text) as material_id,
        cast(site_id as text) as site_id,
        cast(order_date as date) as order_date,
        cast(expected_date as date) as expected_date,
        cast(received_date as date) as received_date,
        cast(quantity_ordered as numeric(12, 2)) as quantity_ordered,
        cast(quantity_received as numeric(12, 2)) as quantity_received,
        cast(unit_price_brl as numeric(12, 2)) as unit_price_brl,
        cast(status as text) as order_status,
        cast(created_at as timestamptz) as created_at,
        cast(updated_at as timestamptz) as updated_at,
        _batch_id as source_batch_id,
        _loaded_at as loaded_at
    from source
)

select * from renamed
