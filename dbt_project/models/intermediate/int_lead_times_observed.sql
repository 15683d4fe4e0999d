-- One row per purchase order received in the last `demand_history_days` (var, three years) up to the
-- latest receipt: the observed lead time in days (received - ordered). The reorder-point rules read
-- the same span of history as of demand (int_demand_aggregated_to_daily): suppliers change, and the
-- lead-time distribution's size does not grow with the years of orders. With `replay_days_back`
-- (var, 0) above 0, only the receipts up to the replay's as-of date (int_demand_aggregated_to_daily).
with

purchase_orders as (
    select * from {{ ref('stg_erp__purchase_orders') }}
),

demand_days as (
    select demand_date from {{ ref('int_demand_aggregated_to_daily') }}
),

as_of_purchase_orders as (
    -- every order today; in the replay's as-of build the orders as they were received by then
    select *
    from purchase_orders
    where
        {{ var('replay_days_back') }} = 0
        or received_date <= (select max(demand_days.demand_date) from demand_days)
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
    from as_of_purchase_orders
    where
        order_status = 'received'
        and received_date is not null
        and received_date >= order_date
        and received_date > (
            select max(latest_orders.received_date) - {{ var('demand_history_days') }}
            from as_of_purchase_orders as latest_orders
            where latest_orders.order_status = 'received'
        )
)

select * from received_orders
