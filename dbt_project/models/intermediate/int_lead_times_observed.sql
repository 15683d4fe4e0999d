-- One row per received purchase order: the observed lead time in days (received - ordered).
with

purchase_orders as (
    select * from {{ ref('stg_erp__purchase_orders') }}
),

received_orders as (
    select
        purchase_order_id,
        supplier_id,
        material_id,
        site_id,
        order_date,
        expected_date,
        received_date,
        received_date - order_date as lead_time_days,
        expected_date - order_date as expected_lead_time_days,
        received_date - expected_date as days_late
    from purchase_orders
    where
        order_status = 'received'
        and received_date is not null
        and received_date >= order_date
)

select * from received_orders
