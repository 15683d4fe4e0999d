{{
    config(
        materialized='table',
        indexes=[{'columns': ['material_id', 'site_id', 'movement_date'], 'unique': true}],
    )
}}
-- A table, not a view: read by the demand and stock marts and their statistics, it saves
-- re-deduplicating every raw movement version on each read.
-- Movements per material, site and day (only days with movements), by type and as a signed net
-- change: receipt, transfer_in and return add stock; consumption and transfer_out remove it;
-- adjustment carries its own sign.
with

stock_movements as (
    select * from {{ ref('stg_erp__stock_movements') }}
),

movements_aggregated as (
    select
        material_id,
        site_id,
        movement_date,
        coalesce(sum(quantity) filter (where movement_type = 'consumption'), 0) as quantity_consumed,
        count(*) filter (where movement_type = 'consumption') as consumption_count,
        coalesce(sum(quantity) filter (where movement_type = 'receipt'), 0) as quantity_received,
        coalesce(sum(quantity) filter (where movement_type = 'transfer_in'), 0) as quantity_transferred_in,
        coalesce(sum(quantity) filter (where movement_type = 'transfer_out'), 0) as quantity_transferred_out,
        coalesce(sum(quantity) filter (where movement_type = 'return'), 0) as quantity_returned,
        coalesce(sum(quantity) filter (where movement_type = 'adjustment'), 0) as quantity_adjusted,
        count(*) as movement_count
    from stock_movements
    group by material_id, site_id, movement_date
),

net_change_computed as (
    select
        *,
        quantity_received
        + quantity_transferred_in
        + quantity_returned
        + quantity_adjusted
        - quantity_consumed
        - quantity_transferred_out as net_change_quantity
    from movements_aggregated
)

select * from net_change_computed
