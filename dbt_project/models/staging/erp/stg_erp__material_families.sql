with

source as (
    {{ latest_passed_versions(source('erp', 'material_families'), ['family_id']) }}
),

renamed as (
    select
        cast(family_id as text) as family_id,
        cast(family_name as text) as family_name,
        cast(category as text) as family_category,
        cast(updated_at as timestamptz) as updated_at,
        _batch_id as source_batch_id,
        _loaded_at as loaded_at
    from source
)

select * from renamed
