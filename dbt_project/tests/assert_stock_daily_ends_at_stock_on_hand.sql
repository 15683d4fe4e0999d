-- The reconstructed stock position of the last day equals the current stock on hand.
with

last_day as (
    select distinct on (material_id, site_id)
        material_id,
        site_id,
        closing_quantity_on_hand
    from {{ ref('fct_stock_daily') }}
    order by material_id asc, site_id asc, stock_date desc
),

active_material_sites as (
    select * from {{ ref('int_material_sites_filtered_to_active') }}
)

select
    last_day.material_id,
    last_day.site_id,
    last_day.closing_quantity_on_hand,
    active_material_sites.quantity_on_hand
from last_day
inner join active_material_sites
    on last_day.material_id = active_material_sites.material_id
    and last_day.site_id = active_material_sites.site_id
where last_day.closing_quantity_on_hand <> active_material_sites.quantity_on_hand
