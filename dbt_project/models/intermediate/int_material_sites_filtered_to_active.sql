-- An active material-site: a stock position (the ERP's stock_on_hand row) whose material and site
-- are both active.
with

stock_positions as (
    select * from {{ ref('stg_erp__stock_positions') }}
),

materials as (
    select * from {{ ref('stg_erp__materials') }}
),

sites as (
    select * from {{ ref('stg_erp__sites') }}
),

positions_joined_to_active_materials_and_sites as (
    select
        stock_positions.material_id,
        stock_positions.site_id,
        materials.family_id,
        sites.sla_tier,
        stock_positions.quantity_on_hand,
        stock_positions.updated_at as stock_updated_at
    from stock_positions
    inner join materials
        on stock_positions.material_id = materials.material_id
    inner join sites
        on stock_positions.site_id = sites.site_id
    where
        materials.is_active
        and sites.is_active
)

select * from positions_joined_to_active_materials_and_sites
