{{
    config(
        indexes=[
            {'columns': ['material_id', 'site_id', 'outlook_date'], 'unique': true},
            {'columns': ['outlook_date']},
        ],
    )
}}
-- The reorder point each active material-site will have on each of the next
-- `reorder_point_outlook_days` (var, 365) days, as today's data see it: for method 'seasonal_ltd'
-- seasonal_reorder_point(f, m, q) with the demand factor f of the lead time starting that day
-- (int_demand_factors_projected) and fct_reorder_points' cycle-demand mean m and quantile q; for the
-- other methods today's reorder point. Its first day is fct_reorder_points' reorder point (a test
-- checks it). Planners see the rainy season coming; bench/service_level.py replays it.
with

reorder_points as (
    select * from {{ ref('fct_reorder_points') }}
),

demand_factors as (
    select * from {{ ref('int_demand_factors_projected') }}
),

outlook_computed as (
    select
        reorder_points.material_id,
        reorder_points.site_id,
        demand_factors.outlook_date,
        reorder_points.method,
        reorder_points.service_level,
        case when reorder_points.method = 'seasonal_ltd' then demand_factors.demand_factor end as demand_factor,
        case
            when reorder_points.method = 'seasonal_ltd'
                then cast({{ seasonal_reorder_point('demand_factors.demand_factor', 'reorder_points.cycle_demand_mean',
                                                    'reorder_points.cycle_demand_quantile') }} as numeric(14, 2))
            else reorder_points.reorder_point
        end as reorder_point,
        reorder_points.avg_daily_demand
        * reorder_points.avg_lead_time_days
        * case when reorder_points.method = 'seasonal_ltd' then demand_factors.demand_factor else 1 end
            as lead_time_demand_mean
    from reorder_points
    inner join demand_factors
        on reorder_points.material_id = demand_factors.material_id
        and reorder_points.site_id = demand_factors.site_id
),

final as (
    select
        material_id,
        site_id,
        outlook_date,
        method,
        service_level,
        demand_factor,
        cast(lead_time_demand_mean as numeric(14, 2)) as lead_time_demand_mean,
        reorder_point,
        cast(greatest(reorder_point - lead_time_demand_mean, 0) as numeric(14, 2)) as safety_stock
    from outlook_computed
)

select * from final
