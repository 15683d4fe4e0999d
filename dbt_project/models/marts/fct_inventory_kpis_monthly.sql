{{
    config(
        indexes=[
            {'columns': ['site_id', 'family_id', 'month_start_date'], 'unique': true},
            {'columns': ['month_start_date']},
        ],
    )
}}
-- Inventory KPIs per site, material family and calendar month, from fct_stock_daily (active
-- material-sites; a month at either end of the data is partial: days_in_period says how many days).
-- The simulator (like the real stores) cannot consume stock it does not have, so consumption is
-- demand capped by stock and stockouts hide the demand they lose. Hence, per material-site:
--   available day          = a day that starts with stock (opening quantity > 0): what was
--                            consumed on it is what was demanded (at most capped by the stock)
--   avg_daily_demand       = mean consumption of its available days over the whole history
--   stockout day           = a day that ends without stock (closing <= 0) while avg_daily_demand > 0
--                            (a material-site with no demand history has no stockout days)
--   estimated lost demand  = on a stockout day, greatest(avg_daily_demand - consumed that day, 0)
-- and per site, family and month:
--   fill_rate              = consumed / (consumed + estimated lost demand), in units; NULL when both 0
--   stockout_days          = stockout days summed over the material-sites (material-site-days)
--   inventory value (BRL)  = closing quantity x current unit cost (dim_item), as the average over
--                            the month's days and at the month's last day
--   days_of_cover          = closing inventory value / average daily consumption value of the month
--                            (value-weighted, so materials in different units add up); NULL
--                            without consumption
with

stock_daily as (
    select * from {{ ref('fct_stock_daily') }}
),

items as (
    select * from {{ ref('dim_item') }}
),

stock_days_valued as (
    select
        stock_daily.material_id,
        stock_daily.site_id,
        stock_daily.family_id,
        stock_daily.stock_date,
        cast(date_trunc('month', stock_daily.stock_date) as date) as month_start_date,
        stock_daily.quantity_consumed,
        stock_daily.closing_quantity_on_hand,
        stock_daily.opening_quantity_on_hand > 0 as is_available,
        coalesce(items.unit_cost_brl, 0) as unit_cost_brl
    from stock_daily
    left join items
        on stock_daily.material_id = items.material_id
),

demand_when_available as (
    select
        material_id,
        site_id,
        avg(quantity_consumed) filter (where is_available) as avg_daily_demand
    from stock_days_valued
    group by material_id, site_id
),

stockouts_estimated as (
    select
        stock_days_valued.*,
        demand_when_available.avg_daily_demand,
        coalesce(
            stock_days_valued.closing_quantity_on_hand <= 0 and demand_when_available.avg_daily_demand > 0, false
        ) as is_stockout_day
    from stock_days_valued
    left join demand_when_available
        on stock_days_valued.material_id = demand_when_available.material_id
        and stock_days_valued.site_id = demand_when_available.site_id
),

lost_demand_estimated as (
    select
        *,
        case
            when is_stockout_day then greatest(avg_daily_demand - quantity_consumed, 0)
            else 0
        end as estimated_lost_quantity,
        quantity_consumed * unit_cost_brl as consumption_value_brl,
        closing_quantity_on_hand * unit_cost_brl as closing_inventory_value_brl,
        max(stock_date) over (partition by site_id, family_id, month_start_date) as last_stock_date_of_month
    from stockouts_estimated
),

kpis_aggregated as (
    select
        site_id,
        family_id,
        month_start_date,
        min(stock_date) as first_stock_date,
        max(stock_date) as last_stock_date,
        count(distinct stock_date) as days_in_period,
        count(distinct material_id) as material_site_count,
        sum(quantity_consumed) as quantity_consumed,
        sum(estimated_lost_quantity) as estimated_lost_quantity,
        count(*) filter (where is_stockout_day) as stockout_days,
        count(distinct material_id) filter (where is_stockout_day) as material_sites_with_stockout,
        sum(consumption_value_brl) as consumption_value_brl,
        sum(closing_inventory_value_brl) as inventory_value_day_sum_brl,
        sum(closing_inventory_value_brl) filter (
            where stock_date = last_stock_date_of_month
        ) as closing_inventory_value_brl
    from lost_demand_estimated
    group by site_id, family_id, month_start_date
),

final as (
    select
        site_id,
        family_id,
        month_start_date,
        first_stock_date,
        last_stock_date,
        days_in_period,
        material_site_count,
        cast(quantity_consumed as numeric(16, 2)) as quantity_consumed,
        cast(round(estimated_lost_quantity, 4) as numeric(18, 4)) as estimated_lost_quantity,
        cast(round(
            quantity_consumed / nullif(quantity_consumed + estimated_lost_quantity, 0), 4
        ) as numeric(6, 4)) as fill_rate,
        stockout_days,
        material_sites_with_stockout,
        cast(round(consumption_value_brl, 2) as numeric(18, 2)) as consumption_value_brl,
        cast(round(inventory_value_day_sum_brl / days_in_period, 2) as numeric(18, 2)) as avg_inventory_value_brl,
        cast(round(closing_inventory_value_brl, 2) as numeric(18, 2)) as closing_inventory_value_brl,
        cast(round(
            closing_inventory_value_brl / nullif(consumption_value_brl / days_in_period, 0), 2
        ) as numeric(12, 2)) as days_of_cover
    from kpis_aggregated
)

select * from final
