with

source as (
    {{ latest_passed_versions(source('erp', 'supplier_materials'), ['supplier_id', 'material_id']) }}
),

renamed as (
    select
        cast(supplier_id as text) as supplier_id,
        cast(material_id as text) as material_id,
        cast(quoted_lead_time_days as integer) as quoted_lead_time_days,
        cast(unit_price_brl as numeric(12, 2)) as unit_price_brl,
        cast(is_preferred as boolean) as is_preferred,
        cast(updated_at as timestamptz) as updated_at,
        _batch_id as source_batch_id,
        _loaded_at as loaded_at
    from source
)

select * from renamed
