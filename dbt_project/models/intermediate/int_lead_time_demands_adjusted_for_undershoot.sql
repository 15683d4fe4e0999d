{{ config(materialized='table') }}
-- A table: fct_reorder_points and the tests read it.
-- The demand a reorder point must cover in a replenishment cycle, per active material-site: the
-- lead-time demand (int_lead_time_demands_bootstrapped) plus the undershoot U.
-- Under continuous review an order is placed when a day's demand takes the inventory position to or
-- below the reorder point s - usually *below* it: a demand of D units arriving when the position is
-- s + 1 .. s + D leaves it U = 0 .. D - 1 units under s, and only s - U units are left to cover the
-- lead time. With order quantities large against a day's demand, the position before the triggering
-- demand is spread evenly, so a day with demand D triggers with probability proportional to D and U is
-- uniform on 0 .. D - 1: P(U = u) = P(D > u) / E[D] over the non-zero daily quantities of the demand
-- window (renewal theory's undershoot; for non-integer quantities the weights are normalised by their
-- sum). Ignoring U is what makes the plain quantile miss its service level on intermittent and lumpy
-- demand (bench/service_level.py). U and the lead-time demand are independent, so the distribution
-- of their sum is the convolution: every (LTD value, U value) pair with count window_count x
-- P(D > u) x (days with demand). A material-site without demand gets U = 0.
with

lead_time_demands as (
    select * from {{ ref('int_lead_time_demands_bootstrapped') }}
),

daily_demand as (
    select * from {{ ref('int_demand_aggregated_to_daily') }}
),

demand_statistics as (
    select * from {{ ref('int_demand_statistics_computed') }}
),

demand_sizes_counted as (
    -- non-zero daily quantities of the demand window and on how many days each occurred
    select
        daily_demand.material_id,
        daily_demand.site_id,
        daily_demand.quantity_consumed as demand_size,
        count(*) as demand_day_count
    from daily_demand
    inner join demand_statistics
        on daily_demand.material_id = demand_statistics.material_id
        and daily_demand.site_id = demand_statistics.site_id
        and daily_demand.demand_date between demand_statistics.window_start_date and demand_statistics.window_end_date
    where daily_demand.quantity_consumed > 0
    group by daily_demand.material_id, daily_demand.site_id, daily_demand.quantity_consumed
),

undershoot_values as (
    select
        material_id,
        site_id,
        cast(undershoots.undershoot_quantity as numeric) as undershoot_quantity
    from (
        select
            material_id,
            site_id,
            max(demand_size) as largest_demand_size
        from demand_sizes_counted
        group by material_id, site_id
    ) as largest_sizes
    cross join lateral generate_series(0, cast(ceil(largest_sizes.largest_demand_size) as integer) - 1)
        as undershoots (undershoot_quantity)
),

undershoots_weighted as (
    -- weight of U = u: days whose demand exceeds u (P(D > u) x days with demand)
    select
        undershoot_values.material_id,
        undershoot_values.site_id,
        undershoot_values.undershoot_quantity,
        sum(demand_sizes_counted.demand_day_count) as undershoot_count
    from undershoot_values
    inner join demand_sizes_counted
        on undershoot_values.material_id = demand_sizes_counted.material_id
        and undershoot_values.site_id = demand_sizes_counted.site_id
        and undershoot_values.undershoot_quantity < demand_sizes_counted.demand_size
    group by undershoot_values.material_id, undershoot_values.site_id, undershoot_values.undershoot_quantity

    union all

    -- no demand in the window: nothing can undershoot
    select
        material_id,
        site_id,
        0 as undershoot_quantity,
        1 as undershoot_count
    from demand_statistics
    where nonzero_demand_days = 0
),

sums_counted as (
    select
        lead_time_demands.material_id,
        lead_time_demands.site_id,
        lead_time_demands.lead_time_demand_quantity + undershoots_weighted.undershoot_quantity as cycle_demand_quantity,
        sum(cast(lead_time_demands.window_count as numeric) * undershoots_weighted.undershoot_count) as outcome_count
    from lead_time_demands
    inner join undershoots_weighted
        on lead_time_demands.material_id = undershoots_weighted.material_id
        and lead_time_demands.site_id = undershoots_weighted.site_id
    group by
        lead_time_demands.material_id,
        lead_time_demands.site_id,
        lead_time_demands.lead_time_demand_quantity + undershoots_weighted.undershoot_quantity
),

sums_cumulated as (
    select
        material_id,
        site_id,
        cycle_demand_quantity,
        outcome_count,
        sum(outcome_count) over (
            partition by material_id, site_id
            order by cycle_demand_quantity
            rows between unbounded preceding and current row
        ) as cumulative_outcome_count,
        sum(outcome_count) over (partition by material_id, site_id) as total_outcome_count
    from sums_counted
),

final as (
    select
        material_id,
        site_id,
        cycle_demand_quantity,
        outcome_count,
        cumulative_outcome_count,
        total_outcome_count,
        cast(cumulative_outcome_count / total_outcome_count as numeric(12, 10)) as cumulative_probability
    from sums_cumulated
)

select * from final
