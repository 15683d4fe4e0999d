{{
    config(
        indexes=[
            {'columns': ['material_id', 'site_id', 'stock_date'], 'unique': true},
            {'columns': ['stock_date']},
        ],
    )
}}
-- Daily stock position per active material-site, reconstructed backwards from the current stock
-- on hand: closing(day) = quantity_on_hand now - sum of net changes after that day. Zero-filled
-- over the same calendar as fct_demand_daily (first to last movement date).
with

active_material_sites as (
    select * from {{ ref('int_material_sites_filtered_to_active') }}
),

daily_movements as (
    select * from {{ ref('int_stock_movements_aggregated_to_daily') }}
),

calendar_bounds as (
    select
        min(movement_date) as first_date,
        max(movement_date) as last_date
    from daily_movements
),

calendar as (
    select cast(days.calendar_day as date) as stock_date
    from calendar_bounds
    cross join lateral generate_series(
        calendar_bounds.first_date, calendar_bounds.last_date, interval '1 day'
    ) as days (calendar_day)
),

movements_zero_filled as (
    select
        active_material_sites.material_id,
        active_material_sites.site_id,
        calendar.stock_date,
        active_material_sites.quantity_on_hand as current_quantity_on_hand,
        coalesce(daily_movements.quantity_received, 0) as quantity_received,
        coalesce(daily_movements.quantity_consumed, 0) as quantity_consumed,
        coalesce(daily_movements.quantity_transferred_in, 0) as quantity_transferred_in,
        coalesce(daily_movements.quantity_transferred_out, 0) as quantity_transferred_out,
        coalesce(daily_movements.quantity_returned, 0) as quantity_returned,
        coalesce(daily_movements.quantity_adjusted, 0) as quantity_adjusted,
        coalesce(daily_movements.net_change_quantity, 0) as net_change_quantity
    from active_material_sites
    cross join calendar
    left join daily_movements
        on active_material_sites.material_id = daily_movements.material_id
        and active_material_sites.site_id = daily_movements.site_id
        and calendar.stock_date = daily_movements.movement_date
),

positions_reconstructed as (
    select
        *,
        current_quantity_on_hand - coalesce(sum(net_change_quantity) over (
            partition by material_id, site_id
            order by stock_date
            rows between 1 following and unbounded following
        ), 0) as closing_quantity_on_hand
    from movements_zero_filled
),

final as (
    select
        material_id,
        site_id,
        stock_date,
        closing_quantity_on_hand - net_change_quantity as opening_quantity_on_hand,
        quantity_received,
        quantity_consumed,
        quantity_transferred_in,
        quantity_transferred_out,
        quantity_returned,
        quantity_adjusted,
        net_change_quantity,
        closing_quantity_on_hand,
        closing_quantity_on_hand <= 0 as is_stockout
    from positions_reconstructed
)

select * from final
