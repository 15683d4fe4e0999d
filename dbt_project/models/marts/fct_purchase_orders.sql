{{
    config(
        indexes=[
            {'columns': ['purchase_order_id'], 'unique': true},
            {'columns': ['material_id', 'site_id', 'order_date']},
            {'columns': ['supplier_id', 'order_date']},
        ],
    )
}}
-- One row per purchase order line (open, received or cancelled) with its supplier performance:
--   lead_time_days          = received_date - order_date            (received orders only)
--   days_late               = received_date - expected_date         (negative = early)
--   is_on_time              = received_date <= expected_date        (NULL until received)
--   fill_ratio              = quantity_received / quantity_ordered  (NULL until received)
-- and the receipt movements that booked it (int_receipts_linked_to_purchase_orders). Orders whose
-- material, site or supplier has not reached staging (a rejected batch) wait for it.
with

purchase_orders as (
    select * from {{ ref('stg_erp__purchase_orders') }}
),

materials as (
    select * from {{ ref('stg_erp__materials') }}
),

sites as (
    select * from {{ ref('stg_erp__sites') }}
),

suppliers as (
    select * from {{ ref('stg_erp__suppliers') }}
),

receipts as (
    select * from {{ ref('int_receipts_linked_to_purchase_orders') }}
),

receipts_per_order as (
    select
        purchase_order_id,
        count(*) as receipt_movement_count,
        sum(quantity_received) as quantity_received_in_movements,
        min(receipt_date) as first_receipt_date
    from receipts
    where is_linked_to_order
    group by purchase_order_id
),

orders_joined as (
    select
        purchase_orders.purchase_order_id,
        purchase_orders.supplier_id,
        purchase_orders.material_id,
        materials.family_id,
        purchase_orders.site_id,
        purchase_orders.order_status,
        purchase_orders.order_date,
        purchase_orders.expected_date,
        purchase_orders.received_date,
        purchase_orders.quantity_ordered,
        case
            when purchase_orders.order_status = 'received'
                then coalesce(purchase_orders.quantity_received, receipts_per_order.quantity_received_in_movements)
        end as quantity_received,
        purchase_orders.unit_price_brl,
        coalesce(receipts_per_order.receipt_movement_count, 0) as receipt_movement_count,
        coalesce(receipts_per_order.quantity_received_in_movements, 0) as quantity_received_in_movements,
        receipts_per_order.first_receipt_date
    from purchase_orders
    inner join materials
        on purchase_orders.material_id = materials.material_id
    inner join sites
        on purchase_orders.site_id = sites.site_id
    inner join suppliers
        on purchase_orders.supplier_id = suppliers.supplier_id
    left join receipts_per_order
        on purchase_orders.purchase_order_id = receipts_per_order.purchase_order_id
),

final as (
    select
        purchase_order_id,
        supplier_id,
        material_id,
        family_id,
        site_id,
        order_status,
        order_date,
        expected_date,
        received_date,
        expected_date - order_date as expected_lead_time_days,
        case when order_status = 'received' then received_date - order_date end as lead_time_days,
        case when order_status = 'received' then received_date - expected_date end as days_late,
        case when order_status = 'received' then received_date <= expected_date end as is_on_time,
        quantity_ordered,
        quantity_received,
        cast(round(quantity_received / quantity_ordered, 4) as numeric(8, 4)) as fill_ratio,
        unit_price_brl,
        cast(quantity_ordered * unit_price_brl as numeric(16, 2)) as order_value_brl,
        cast(quantity_received * unit_price_brl as numeric(16, 2)) as received_value_brl,
        receipt_movement_count,
        quantity_received_in_movements,
        first_receipt_date
    from orders_joined
)

select * from final
