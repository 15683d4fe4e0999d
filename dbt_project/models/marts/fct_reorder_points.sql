{{
    config(
        indexes=[
            {'columns': ['material_id', 'site_id'], 'unique': true},
            {'columns': ['site_id']},
        ],
    )
}}
-- Reorder point per active material-site (method 'normal': demand and lead time independent and
-- normally distributed):
--   z                 = service_level_z(service level of the site's SLA tier, seed service_levels)
--   safety_stock      = z * sqrt(L * sd_d^2 + d^2 * sd_L^2)
--   reorder_point     = d * L + safety_stock
--   inventory_position = quantity_on_hand + quantity_on_order (open purchase orders)
--   suggested_order_quantity = ceil(reorder_point + d * review_period_days - inventory_position)
--                              when inventory_position < reorder_point, else 0 (order up to
--                              the reorder point plus one review period of demand; nothing while
--                              open orders already cover the reorder point)
-- d, sd_d: int_demand_statistics_computed; L, sd_L: int_lead_time_statistics_computed. Outputs are
-- rounded for reading (z 6 decimals, demand and lead time 4, stock quantities 2); the order rule
-- uses the rounded reorder point. A material without any active supplier gets the lead time
-- `default_lead_time_days` (var, default 30) with std 0 and lead_time_source 'default'.
with

active_material_sites as (
    select * from {{ ref('int_material_sites_filtered_to_active') }}
),

demand_statistics as (
    select * from {{ ref('int_demand_statistics_computed') }}
),

lead_time_statistics as (
    select * from {{ ref('int_lead_time_statistics_computed') }}
),

open_purchase_orders as (
    select * from {{ ref('int_open_purchase_orders_aggregated') }}
),

service_levels as (
    select * from {{ ref('service_levels') }}
),

inputs_joined as (
    select
        active_material_sites.material_id,
        active_material_sites.site_id,
        active_material_sites.sla_tier,
        service_levels.service_level,
        coalesce(demand_statistics.avg_daily_demand, 0) as avg_daily_demand,
        coalesce(demand_statistics.std_daily_demand, 0) as std_daily_demand,
        coalesce(demand_statistics.demand_days, 0) as demand_days,
        lead_time_statistics.supplier_id,
        coalesce(lead_time_statistics.lead_time_source, 'default') as lead_time_source,
        coalesce(lead_time_statistics.receipt_count, 0) as receipt_count,
        coalesce(lead_time_statistics.avg_lead_time_days, {{ var('default_lead_time_days') }}) as avg_lead_time_days,
        coalesce(lead_time_statistics.std_lead_time_days, 0) as std_lead_time_days,
        active_material_sites.quantity_on_hand,
        coalesce(open_purchase_orders.quantity_on_order, 0) as quantity_on_order
    from active_material_sites
    left join service_levels
        on active_material_sites.sla_tier = service_levels.sla_tier
    left join demand_statistics
        on active_material_sites.material_id = demand_statistics.material_id
        and active_material_sites.site_id = demand_statistics.site_id
    left join lead_time_statistics
        on active_material_sites.material_id = lead_time_statistics.material_id
    left join open_purchase_orders
        on active_material_sites.material_id = open_purchase_orders.material_id
        and active_material_sites.site_id = open_purchase_orders.site_id
),

reorder_points_computed as (
    select
        *,
        cast({{ service_level_z('service_level') }} as numeric(10, 6)) as service_level_z,
        cast({{ safety_stock('service_level', 'avg_daily_demand', 'std_daily_demand',
                             'avg_lead_time_days', 'std_lead_time_days') }} as numeric(14, 2)) as safety_stock,
        cast({{ reorder_point('service_level', 'avg_daily_demand', 'std_daily_demand',
                              'avg_lead_time_days', 'std_lead_time_days') }} as numeric(14, 2)) as reorder_point,
        cast(quantity_on_hand + quantity_on_order as numeric(14, 2)) as inventory_position
    from inputs_joined
),

final as (
    select
        material_id,
        site_id,
        sla_tier,
        cast(service_level as numeric(6, 5)) as service_level,
        service_level_z,
        cast(avg_daily_demand as numeric(14, 4)) as avg_daily_demand,
        cast(std_daily_demand as numeric(14, 4)) as std_daily_demand,
        demand_days,
        supplier_id,
        lead_time_source,
        receipt_count,
        cast(avg_lead_time_days as numeric(10, 4)) as avg_lead_time_days,
        cast(std_lead_time_days as numeric(10, 4)) as std_lead_time_days,
        safety_stock,
        reorder_point,
        cast(quantity_on_hand as numeric(14, 2)) as quantity_on_hand,
        cast(quantity_on_order as numeric(14, 2)) as quantity_on_order,
        inventory_position,
        coalesce(quantity_on_hand < reorder_point, false) as is_below_reorder_point,
        case
            when inventory_position < reorder_point
                then cast(ceil(round(
                    reorder_point + avg_daily_demand * {{ var('review_period_days') }} - inventory_position, 6
                )) as integer)
            else 0
        end as suggested_order_quantity,
        cast('normal' as text) as method
    from reorder_points_computed
)

select * from final
