-- Quantity still on order (open purchase orders) per material and destination site.
with

purchase_orders as (
    select * from {{ ref('stg_erp__purchase_orders') }}
),

open_orders_aggregated as (
    select
        material_id,
        site_id,
        count(*) as open_order_count,
        sum(quantity_ordered) as quantity_on_order,
        min(expected_date) as next_expected_date
    from purchase_orders
    where order_status = 'open'
    group by material_id, site_id
)

select * from open_orders_aggregated
