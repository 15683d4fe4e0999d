-- The reconstructed stock position of the last day equals the current stock on hand.
with

last_day as (
    -- the calendar's last day (every active material-site has a row on it; read by the index on the
    -- date, not by sorting the whole history)
    select
        stock_daily.material_id,
        stock_daily.site_id,
        stock_daily.closing_quantity_on_hand
    from {{ ref('fct_stock_daily') }} as stock_daily
    where stock_daily.stock_date = (select max(all_days.stock_date) from {{ ref('fct_stock_daily') }} as all_days)
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
