{{ config(indexes=[{'columns': ['supplier_id'], 'unique': true}]) }}
-- One row per supplier (active or not) with how many materials it sells and is preferred for.
with

suppliers as (
    select * from {{ ref('stg_erp__suppliers') }}
),

supplier_materials as (
    select * from {{ ref('stg_erp__supplier_materials') }}
),

materials_counted as (
    select
        supplier_id,
        count(*) as material_count,
        count(*) filter (where is_preferred) as preferred_material_count,
        avg(quoted_lead_time_days) as avg_quoted_lead_time_days
    from supplier_materials
    group by supplier_id
),

suppliers_joined_to_counts as (
    select
        suppliers.supplier_id,
        suppliers.supplier_name,
        suppliers.city,
        suppliers.state,
        suppliers.is_active,
        coalesce(materials_counted.material_count, 0) as material_count,
        coalesce(materials_counted.preferred_material_count, 0) as preferred_material_count,
        round(materials_counted.avg_quoted_lead_time_days, 2) as avg_quoted_lead_time_days,
        suppliers.updated_at
    from suppliers
    left join materials_counted
        on suppliers.supplier_id = materials_counted.supplier_id
)

select * from suppliers_joined_to_counts
