-- One row per receipt movement with the purchase order it books, when it names one: the order's
-- supplier, dates and ordered quantity. A receipt without (or with an unknown) purchase_order_id
-- is kept, with NULL order columns and is_linked_to_order false.
with

stock_movements as (
    select * from {{ ref('stg_erp__stock_movements') }}
),

purchase_orders as (
    select * from {{ ref('stg_erp__purchase_orders') }}
),

receipt_movements as (
    select
        movement_id,
        purchase_order_id,
        material_id,
        site_id,
        movement_date as receipt_date,
        quantity as quantity_received
    from stock_movements
    where movement_type = 'receipt'
),

receipts_joined_to_orders as (
    select
        receipt_movements.movement_id,
        receipt_movements.purchase_order_id,
        receipt_movements.material_id,
        receipt_movements.site_id,
        receipt_movements.receipt_date,
        receipt_movements.quantity_received,
        purchase_orders.supplier_id,
        purchase_orders.order_date,
        purchase_orders.expected_date,
        purchase_orders.quantity_ordered,
        purchase_orders.order_status,
        purchase_orders.purchase_order_id is not null as is_linked_to_order,
        coalesce(
            purchase_orders.material_id = receipt_movements.material_id
            and purchase_orders.site_id = receipt_movements.site_id,
            false
        ) as is_matching_order_line,
        receipt_movements.receipt_date - purchase_orders.order_date as days_after_order
    from receipt_movements
    left join purchase_orders
        on receipt_movements.purchase_order_id = purchase_orders.purchase_order_id
)

select * from receipts_joined_to_orders
