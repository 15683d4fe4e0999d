-- An active material-site: a stock_on_hand row whose material and site are both active.
with

stock_on_hand as (
    select * from {{ ref('stg_erp__stock_on_hand') }}
),

materials as (
    select * from {{ ref('stg_erp__materials') }}
),

sites as (
    select * from {{ ref('stg_erp__sites') }}
),

stock_joined_to_active_materials_and_sites as (
    select
        stock_on_hand.material_id,
        stock_on_hand.site_id,
        materials.family_id,
        sites.sla_tier,
        stock_on_hand.quantity_on_hand,
        stock_on_hand.updated_at as stock_updated_at
    from stock_on_hand
    inner join materials
        on stock_on_hand.material_id = materials.material_id
    inner join sites
        on stock_on_hand.site_id = sites.site_id
    where materials.is_active
        and sites.is_active
)

select * from stock_joined_to_active_materials_and_sites
