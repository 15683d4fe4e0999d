{{
    config(
        indexes=[
            {'columns': ['material_id', 'site_id'], 'unique': true},
            {'columns': ['site_id']},
        ],
    )
}}
-- Reorder point per active material-site, by a method that keeps the target service level for the
-- material-site's demand pattern:
--   service_level  seed service_levels by the site's SLA tier x the material-site's ABC class
--                  (int_material_sites_classified; C when unclassified)
--   method         per material-site, by replay evidence where there is some (method_source
--                    'replay'): the weekly replay (nova_corrente.reorder_replay) rebuilds the reorder
--                    points of both empirical methods as they were a year ago and replays the demand
--                    since; int_reorder_point_methods_replayed picks the one that kept the target with
--                    less stock. Used while today's service level is the one replayed and the
--                    material-site qualifies for both methods below. Otherwise (method_source
--                    'demand_class', e.g. before the first replay) by demand class and history:
--                  'seasonal_ltd' for the demand classes of `seasonal_ltd_demand_classes` (var; default
--                    all four) with at least `seasonal_ltd_min_demand_days` (var, 90) days of history:
--                    the empirical_ltd quantile q below, moved to the season and growth of the coming
--                    lead time: reorder_point = seasonal_reorder_point(f, m, q) = q + round(f * m +
--                    sqrt(f) * (q - m) - q) (the move rounded to whole units)
--                    with m the mean cycle demand of the window and f = demand_factor, the expected
--                    demand of the lead time starting the day after the last demand date relative to
--                    the window's (int_demand_factors_projected); safety_stock = greatest(reorder_point
--                    - f * d * L, 0). bench/service_level.py: the plain quantile keeps its target over
--                    a year but not per season (too low in the April-July rains, too high after);
--                    fct_reorder_point_outlook has the value for every coming day.
--                  'empirical_ltd' for the demand classes of `empirical_ltd_demand_classes` (var;
--                    default all four Syntetos-Boylan classes) with at least
--                    `empirical_ltd_min_demand_days` (var, 90) days of history: the reorder point is
--                    the service-level quantile (percentile_disc) of the demand a cycle must cover,
--                    the empirical lead-time demand (int_lead_time_demands_bootstrapped: every start
--                    day of the demand window x every observed lead time) plus the undershoot of the
--                    day that triggers the order (int_lead_time_demands_adjusted_for_undershoot);
--                    safety_stock = greatest(reorder_point - d * L, 0). No shape is assumed, so rare
--                    lumps (intermittent, lumpy) are covered as often as they occurred.
--                  'normal' otherwise (no demand, or too short a history for the empirical quantile,
--                    which cannot reach past the few windows seen, while the formula extrapolates):
--                    z = service_level_z(service level), safety_stock = z * sqrt(L * sd_d^2 + d^2 * sd_L^2),
--                    reorder_point = d * L + safety_stock.
--                  bench/service_level.py replays the year after a cut-off: the normal formula falls
--                    short of its target on intermittent demand (and, with growing demand and
--                    undershoot, on smooth demand too); the empirical quantile keeps it.
--   Invalid inputs (a service level outside (0, 1), a missing seed row) give NULL reorder points,
--   which the model's not_null_columns test fails on.
--   inventory_position = quantity_on_hand + quantity_on_order (open purchase orders)
--   order_up_to_level = reorder_point + d * review_period_days (what an order brings the position to)
--   suggested_order_quantity = ceil(order_up_to_level - inventory_position)
--                              when inventory_position < reorder_point, else 0 (order up to the
--                              reorder point plus one review period of demand; nothing while open
--                              orders already cover the reorder point)
--   economic_order_quantity  = eoq(365 * d, `order_cost_brl`, `holding_cost_rate_per_year` x unit
--                              cost): the cost-balanced order size, for planners sizing orders
-- d, sd_d: int_demand_statistics_computed; L, sd_L: int_lead_time_statistics_computed. Outputs are
-- rounded for reading (z 6 decimals, demand and lead time 4, stock quantities 2); the order rule
-- uses the rounded reorder point. A material without any active supplier gets the lead time
-- `default_lead_time_days` (var, default 30) with std 0 and lead_time_source 'default'.
{%- set empirical_ltd_classes = "'" ~ var('empirical_ltd_demand_classes') | join("', '") ~ "'" %}
{%- set seasonal_ltd_classes = "'" ~ (var('seasonal_ltd_demand_classes') or ['none']) | join("', '") ~ "'" %}
with

active_material_sites as (
    select * from {{ ref('int_material_sites_filtered_to_active') }}
),

material_site_classes as (
    select * from {{ ref('int_material_sites_classified') }}
),

materials as (
    select * from {{ ref('stg_erp__materials') }}
),

demand_statistics as (
    select * from {{ ref('int_demand_statistics_computed') }}
),

lead_time_statistics as (
    select * from {{ ref('int_lead_time_statistics_computed') }}
),

cycle_demands as (
    select * from {{ ref('int_lead_time_demands_adjusted_for_undershoot') }}
),

open_purchase_orders as (
    select * from {{ ref('int_open_purchase_orders_aggregated') }}
),

demand_factors as (
    select * from {{ ref('int_demand_factors_projected') }}
),

service_levels as (
    select * from {{ ref('service_levels') }}
),

replayed_methods as (
    select * from {{ ref('int_reorder_point_methods_replayed') }}
),

inputs_joined as (
    select
        active_material_sites.material_id,
        active_material_sites.site_id,
        active_material_sites.sla_tier,
        coalesce(material_site_classes.abc_class, 'C') as abc_class,
        service_levels.service_level,
        coalesce(demand_statistics.demand_class, 'no_demand') as demand_class,
        coalesce(demand_statistics.avg_daily_demand, 0) as avg_daily_demand,
        coalesce(demand_statistics.std_daily_demand, 0) as std_daily_demand,
        coalesce(demand_statistics.demand_days, 0) as demand_days,
        demand_statistics.adi,
        demand_statistics.cv_squared,
        lead_time_statistics.supplier_id,
        coalesce(lead_time_statistics.lead_time_source, 'default') as lead_time_source,
        coalesce(lead_time_statistics.receipt_count, 0) as receipt_count,
        coalesce(lead_time_statistics.avg_lead_time_days, {{ var('default_lead_time_days') }}) as avg_lead_time_days,
        coalesce(lead_time_statistics.std_lead_time_days, 0) as std_lead_time_days,
        active_material_sites.quantity_on_hand,
        coalesce(open_purchase_orders.quantity_on_order, 0) as quantity_on_order,
        materials.unit_cost_brl
    from active_material_sites
    left join material_site_classes
        on active_material_sites.material_id = material_site_classes.material_id
        and active_material_sites.site_id = material_site_classes.site_id
    left join service_levels
        on active_material_sites.sla_tier = service_levels.sla_tier
        and coalesce(material_site_classes.abc_class, 'C') = service_levels.abc_class
    left join demand_statistics
        on active_material_sites.material_id = demand_statistics.material_id
        and active_material_sites.site_id = demand_statistics.site_id
    left join lead_time_statistics
        on active_material_sites.material_id = lead_time_statistics.material_id
    left join open_purchase_orders
        on active_material_sites.material_id = open_purchase_orders.material_id
        and active_material_sites.site_id = open_purchase_orders.site_id
    left join materials
        on active_material_sites.material_id = materials.material_id
),

class_methods_chosen as (
    select
        *,
        case
            when
                demand_class in ({{ seasonal_ltd_classes }})
                and demand_days >= {{ var('seasonal_ltd_min_demand_days') }}
                then 'seasonal_ltd'
            when
                demand_class in ({{ empirical_ltd_classes }})
                and demand_days >= {{ var('empirical_ltd_min_demand_days') }}
                then 'empirical_ltd'
            else 'normal'
        end as class_method
    from inputs_joined
),

replayed_methods_applied as (
    -- the replay's choice where both empirical methods are allowed for the material-site (its
    -- demand class is listed for both, with the history each needs) and the evidence is for today's
    -- target service level; never in the replay's own as-of build (var replay_days_back above 0),
    -- which must compute both
    select
        class_methods_chosen.*,
        case
            when
                {{ var('replay_days_back') }} = 0
                and class_methods_chosen.demand_class in ({{ seasonal_ltd_classes }})
                and class_methods_chosen.demand_days >= {{ var('seasonal_ltd_min_demand_days') }}
                and class_methods_chosen.demand_class in ({{ empirical_ltd_classes }})
                and class_methods_chosen.demand_days >= {{ var('empirical_ltd_min_demand_days') }}
                then replayed_methods.replay_method
        end as replay_method
    from class_methods_chosen
    left join replayed_methods
        on class_methods_chosen.material_id = replayed_methods.material_id
        and class_methods_chosen.site_id = replayed_methods.site_id
        and class_methods_chosen.service_level = replayed_methods.replay_service_level
),

methods_chosen as (
    select
        *,
        coalesce(replay_method, class_method) as method,
        case when replay_method is null then 'demand_class' else 'replay' end as method_source
    from replayed_methods_applied
),

current_demand_factors as (
    -- the lead time that starts the day after the last demand date
    select distinct on (material_id, site_id)
        material_id,
        site_id,
        demand_factor
    from demand_factors
    order by material_id asc, site_id asc, outlook_date asc
),

cycle_demand_means_computed as (
    -- each row is a run of run_value_count values, one unit apart, of outcome_count outcomes each:
    -- its values average (first + last) / 2
    select
        material_id,
        site_id,
        sum(
            outcome_count * run_value_count * (cycle_demand_quantity + last_cycle_demand_quantity) / 2.0
        ) / max(total_outcome_count) as cycle_demand_mean
    from cycle_demands
    group by material_id, site_id
),

empirical_quantiles_computed as (
    -- percentile_disc(service_level) of the demand to cover in a cycle (lead-time demand +
    -- undershoot): the smallest value whose cumulative count reaches service_level x all outcomes
    -- (exact numeric comparison). The distribution comes as runs of values: in the first run that
    -- reaches the target, step back from its last value while the cumulative count stays at or above
    -- it (each value back removes unit_outcome_count; a run of one value is its value)
    select
        methods_chosen.material_id,
        methods_chosen.site_id,
        min(greatest(
            cycle_demands.cycle_demand_quantity,
            cycle_demands.last_cycle_demand_quantity - div(
                cycle_demands.cumulative_outcome_count
                - methods_chosen.service_level * cycle_demands.total_outcome_count,
                cycle_demands.unit_outcome_count
            )
        )) as lead_time_demand_quantile
    from methods_chosen
    inner join cycle_demands
        on methods_chosen.material_id = cycle_demands.material_id
        and methods_chosen.site_id = cycle_demands.site_id
    where
        methods_chosen.method in ('empirical_ltd', 'seasonal_ltd')
        and cycle_demands.cumulative_outcome_count
        >= methods_chosen.service_level * cycle_demands.total_outcome_count
    group by methods_chosen.material_id, methods_chosen.site_id
),

reorder_points_computed as (
    select
        methods_chosen.*,
        cast({{ service_level_z('methods_chosen.service_level') }} as numeric(10, 6)) as service_level_z,
        methods_chosen.avg_daily_demand * methods_chosen.avg_lead_time_days as lead_time_demand_mean,
        case when methods_chosen.method = 'seasonal_ltd' then current_demand_factors.demand_factor end
            as demand_factor,
        cycle_demand_means_computed.cycle_demand_mean,
        empirical_quantiles_computed.lead_time_demand_quantile as cycle_demand_quantile,
        case
            when
                methods_chosen.method = 'seasonal_ltd' and methods_chosen.service_level > 0
                and methods_chosen.service_level < 1
                then {{ seasonal_reorder_point('current_demand_factors.demand_factor',
                                               'cycle_demand_means_computed.cycle_demand_mean',
                                               'empirical_quantiles_computed.lead_time_demand_quantile') }}
            when methods_chosen.method = 'normal'
                then {{ reorder_point('methods_chosen.service_level', 'methods_chosen.avg_daily_demand',
                                      'methods_chosen.std_daily_demand', 'methods_chosen.avg_lead_time_days',
                                      'methods_chosen.std_lead_time_days') }}
            when methods_chosen.service_level > 0 and methods_chosen.service_level < 1
                then empirical_quantiles_computed.lead_time_demand_quantile
        end as reorder_point_unrounded,
        case
            when
                methods_chosen.method = 'seasonal_ltd' and methods_chosen.service_level > 0
                and methods_chosen.service_level < 1
                then greatest(
                    {{ seasonal_reorder_point('current_demand_factors.demand_factor',
                                              'cycle_demand_means_computed.cycle_demand_mean',
                                              'empirical_quantiles_computed.lead_time_demand_quantile') }}
                    - current_demand_factors.demand_factor
                    * methods_chosen.avg_daily_demand * methods_chosen.avg_lead_time_days,
                    0
                )
            when methods_chosen.method = 'normal'
                then {{ safety_stock('methods_chosen.service_level', 'methods_chosen.avg_daily_demand',
                                     'methods_chosen.std_daily_demand', 'methods_chosen.avg_lead_time_days',
                                     'methods_chosen.std_lead_time_days') }}
            when methods_chosen.service_level > 0 and methods_chosen.service_level < 1
                then greatest(
                    empirical_quantiles_computed.lead_time_demand_quantile
                    - methods_chosen.avg_daily_demand * methods_chosen.avg_lead_time_days,
                    0
                )
        end as safety_stock_unrounded,
        {{ eoq('methods_chosen.avg_daily_demand * 365',
               var('order_cost_brl'),
               var('holding_cost_rate_per_year') ~ ' * methods_chosen.unit_cost_brl') }} as economic_order_quantity
    from methods_chosen
    left join empirical_quantiles_computed
        on methods_chosen.material_id = empirical_quantiles_computed.material_id
        and methods_chosen.site_id = empirical_quantiles_computed.site_id
    left join cycle_demand_means_computed
        on methods_chosen.material_id = cycle_demand_means_computed.material_id
        and methods_chosen.site_id = cycle_demand_means_computed.site_id
    left join current_demand_factors
        on methods_chosen.material_id = current_demand_factors.material_id
        and methods_chosen.site_id = current_demand_factors.site_id
),

reorder_points_rounded as (
    select
        *,
        cast(safety_stock_unrounded as numeric(14, 2)) as safety_stock,
        cast(reorder_point_unrounded as numeric(14, 2)) as reorder_point,
        cast(quantity_on_hand + quantity_on_order as numeric(14, 2)) as inventory_position,
        -- what an order brings the inventory position up to: one review period of demand above s
        cast(reorder_point_unrounded as numeric(14, 2)) + avg_daily_demand * {{ var('review_period_days') }}
            as order_up_to_level
    from reorder_points_computed
),

final as (
    select
        material_id,
        site_id,
        sla_tier,
        abc_class,
        demand_class,
        adi,
        cv_squared,
        cast(service_level as numeric(6, 5)) as service_level,
        service_level_z,
        method,
        method_source,
        cast(avg_daily_demand as numeric(14, 4)) as avg_daily_demand,
        cast(std_daily_demand as numeric(14, 4)) as std_daily_demand,
        demand_days,
        supplier_id,
        lead_time_source,
        receipt_count,
        cast(avg_lead_time_days as numeric(10, 4)) as avg_lead_time_days,
        cast(std_lead_time_days as numeric(10, 4)) as std_lead_time_days,
        cast(lead_time_demand_mean as numeric(14, 2)) as lead_time_demand_mean,
        cast(demand_factor as numeric(10, 6)) as demand_factor,
        cast(cycle_demand_mean as numeric(14, 4)) as cycle_demand_mean,
        cast(cycle_demand_quantile as numeric(14, 2)) as cycle_demand_quantile,
        safety_stock,
        reorder_point,
        cast(order_up_to_level as numeric(14, 2)) as order_up_to_level,
        cast(economic_order_quantity as numeric(14, 2)) as economic_order_quantity,
        cast(quantity_on_hand as numeric(14, 2)) as quantity_on_hand,
        cast(quantity_on_order as numeric(14, 2)) as quantity_on_order,
        inventory_position,
        coalesce(quantity_on_hand < reorder_point, false) as is_below_reorder_point,
        case
            when inventory_position < reorder_point
                then cast(ceil(round(order_up_to_level - inventory_position, 6)) as integer)
            else 0
        end as suggested_order_quantity
    from reorder_points_rounded
)

select * from final
