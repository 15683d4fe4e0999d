{{
    config(
        tags=['forecast'],
        indexes=[
            {'columns': ['material_id', 'site_id'], 'unique': true},
            {'columns': ['site_id', 'alert_severity']},
        ],
    )
}}
-- What to act on this morning: one row per active material-site whose stock on hand is below its
-- reorder point (fct_reorder_points), with when the latest forecast run (fct_forecasts) says it
-- runs out:
--   as_of_date               = the last day of fct_demand_daily (the day quantity_on_hand closes)
--   projected_stockout_date  = the first forecast day after as_of_date on which the cumulative
--                              forecast (from the day after as_of_date) exceeds quantity_on_hand;
--                              NULL when it does not within the forecast horizon (open orders are
--                              not counted: they are shown beside it)
--   days_until_stockout      = projected_stockout_date - as_of_date
--   alert_severity           = critical: out of stock already, or the projected stockout comes
--                              within the lead time (an order placed today arrives too late);
--                              warning: a stockout is projected later within the horizon;
--                              watch: below the reorder point, no stockout within the horizon
-- suggested_order_quantity is fct_reorder_points'.
with

reorder_points as (
    select * from {{ ref('fct_reorder_points') }}
),

forecasts as (
    select * from {{ ref('fct_forecasts') }}
),

demand_daily as (
    select * from {{ ref('fct_demand_daily') }}
),

open_purchase_orders as (
    select * from {{ ref('int_open_purchase_orders_aggregated') }}
),

items as (
    select * from {{ ref('dim_item') }}
),

as_of as (
    select max(demand_date) as as_of_date
    from demand_daily
),

below_reorder_point as (
    select
        reorder_points.material_id,
        reorder_points.site_id,
        reorder_points.quantity_on_hand,
        reorder_points.quantity_on_order,
        reorder_points.safety_stock,
        reorder_points.reorder_point,
        reorder_points.avg_lead_time_days,
        reorder_points.suggested_order_quantity,
        as_of.as_of_date
    from reorder_points
    cross join as_of
    where reorder_points.is_below_reorder_point
),

forecasts_accumulated as (
    select
        forecasts.material_id,
        forecasts.site_id,
        forecasts.run_id,
        forecasts.forecast_date,
        sum(forecasts.yhat) over (
            partition by forecasts.material_id, forecasts.site_id
            order by forecasts.forecast_date asc
            rows between unbounded preceding and current row
        ) as cumulative_forecast_quantity,
        max(forecasts.forecast_date) over (
            partition by forecasts.material_id, forecasts.site_id
        ) as forecast_horizon_end_date
    from forecasts
    cross join as_of
    where forecasts.forecast_date > as_of.as_of_date
),

stockouts_projected as (
    select
        below_reorder_point.material_id,
        below_reorder_point.site_id,
        max(forecasts_accumulated.run_id) as forecast_run_id,
        max(forecasts_accumulated.forecast_horizon_end_date) as forecast_horizon_end_date,
        min(forecasts_accumulated.forecast_date) filter (
            where forecasts_accumulated.cumulative_forecast_quantity > below_reorder_point.quantity_on_hand
        ) as projected_stockout_date
    from below_reorder_point
    inner join forecasts_accumulated
        on below_reorder_point.material_id = forecasts_accumulated.material_id
        and below_reorder_point.site_id = forecasts_accumulated.site_id
    group by below_reorder_point.material_id, below_reorder_point.site_id
),

alerts_joined as (
    select
        below_reorder_point.*,
        items.family_id,
        stockouts_projected.forecast_run_id,
        stockouts_projected.forecast_horizon_end_date,
        stockouts_projected.projected_stockout_date,
        stockouts_projected.projected_stockout_date - below_reorder_point.as_of_date as days_until_stockout,
        open_purchase_orders.next_expected_date as next_expected_receipt_date
    from below_reorder_point
    left join items
        on below_reorder_point.material_id = items.material_id
    left join stockouts_projected
        on below_reorder_point.material_id = stockouts_projected.material_id
        and below_reorder_point.site_id = stockouts_projected.site_id
    left join open_purchase_orders
        on below_reorder_point.material_id = open_purchase_orders.material_id
        and below_reorder_point.site_id = open_purchase_orders.site_id
),

final as (
    select
        material_id,
        site_id,
        family_id,
        as_of_date,
        quantity_on_hand,
        quantity_on_order,
        safety_stock,
        reorder_point,
        avg_lead_time_days,
        forecast_run_id,
        forecast_horizon_end_date,
        projected_stockout_date,
        days_until_stockout,
        quantity_on_hand <= 0 as is_out_of_stock,
        next_expected_receipt_date,
        case
            when quantity_on_hand <= 0 then 'critical'
            when days_until_stockout <= avg_lead_time_days then 'critical'
            when projected_stockout_date is not null then 'warning'
            else 'watch'
        end as alert_severity,
        suggested_order_quantity
    from alerts_joined
)

select * from final
