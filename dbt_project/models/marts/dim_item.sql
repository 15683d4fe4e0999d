{{ config(indexes=[{'columns': ['material_id'], 'unique': true}, {'columns': ['family_id']}]) }}
-- One row per material (active or not) with its family.
with

materials as (
    select * from {{ ref('stg_erp__materials') }}
),

material_families as (
    select * from {{ ref('stg_erp__material_families') }}
),

materials_joined_to_families as (
    select
        materials.material_id,
        materials.material_name,
        materials.family_id,
        material_families.family_name,
        material_families.family_category,
        materials.unit_of_measure,
        materials.unit_cost_brl,
        materials.is_active,
        materials.created_at,
        materials.updated_at
    from materials
    left join material_families
        on materials.family_id = material_families.family_id
)

select * from materials_joined_to_families
