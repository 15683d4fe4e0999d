with

source as (
    {{ latest_passed_versions(source('erp', 'suppliers'), ['supplier_id']) }}
),

renamed as (
    select
        cast(supplier_id as text) as supplier_id,
        cast(supplier_name as text) as supplier_name,
        cast(city as text) as city,
        upper(cast(state as text)) as state,
        cast(is_active as boolean) as is_active,
        cast(updated_at as timestamptz) as updated_at,
        _batch_id as source_batch_id,
        _loaded_at as loaded_at
    from source
)

select * from renamed
