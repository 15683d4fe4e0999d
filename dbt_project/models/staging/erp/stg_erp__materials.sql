with

source as (
    {{ latest_passed_versions(source('erp', 'materials'), ['material_id']) }}
),

renamed as (
    select
        cast(material_id as text) as material_id,
        cast(material_name as text) as material_name,
        cast(family_id as text) as family_id,
        cast(unit_of_measure as text) as unit_of_measure,
        cast(unit_cost_brl as numeric(12, 2)) as unit_cost_brl,
        cast(is_active as boolean) as is_active,
        cast(created_at as timestamptz) as created_at,
        cast(updated_at as timestamptz) as updated_at,
        _batch_id as source_batch_id,
        _loaded_at as loaded_at
    from source
)

select * from renamed
