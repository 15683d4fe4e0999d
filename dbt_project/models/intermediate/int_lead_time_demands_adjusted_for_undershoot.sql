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
-- window (renewal theory's undershoot; U takes the whole values 0 .. ceil(D) - 1, so for non-integer
-- quantities the weights are normalised by their sum). Ignoring U is what makes the plain quantile
-- miss its service level on intermittent and lumpy demand (bench/service_level.py). U and the
-- lead-time demand are independent, so the distribution of their sum is the convolution: the weight
-- of a value x is the sum over LTD values v of window_count(v) x w(x - v), where w(u) = days of the
-- window whose demand exceeds u (a material-site without demand gets U = 0, weight 1).
--
-- The cost must not grow with the quantities (a daily demand of 1e9 units makes 1e9 values of U), so
-- the distribution is kept as runs, never value by value: w is a step function that starts at
-- (days with demand) for u = 0 and drops by the days of each demand size D at u = ceil(D), so the
-- weight of x is a step function too, changing only at the points v + (a step of w). One row per
-- material-site and run of consecutive values x, x + 1, ..., last (all at the same distance from a
-- whole number) of equal weight: as many rows as (LTD values x demand sizes), whatever the sizes.
-- When the values are not all on one grid of whole numbers (non-integer quantities), runs at
-- different fractions interleave; cumulative counts are taken over all values, and a run's values are
-- unit_outcome_count apart in cumulative weight (the weight of every value in one unit step).
-- percentile_disc(p) of the material-site is then, in the first run whose cumulative_outcome_count
-- reaches p * total_outcome_count, the value
--   last_cycle_demand_quantity - floor((cumulative_outcome_count - p * total) / unit_outcome_count)
-- (fct_reorder_points).
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

undershoot_weight_steps as (
    -- w(u) = days whose demand exceeds u, as its changes: + every day with demand at u = 0 ...
    select
        material_id,
        site_id,
        0 as undershoot_quantity,
        sum(demand_day_count) as weight_change
    from demand_sizes_counted
    group by material_id, site_id

    union all

    -- ... - the days of demand D from u = ceil(D) on (u < D for u = 0 .. ceil(D) - 1)
    select
        material_id,
        site_id,
        ceil(demand_size) as undershoot_quantity,
        -sum(demand_day_count) as weight_change
    from demand_sizes_counted
    group by material_id, site_id, ceil(demand_size)

    union all

    -- no demand in the window: nothing can undershoot (U = 0, weight 1)
    select
        demand_statistics.material_id,
        demand_statistics.site_id,
        undershoot_steps.undershoot_quantity,
        undershoot_steps.weight_change
    from demand_statistics
    cross join (values (0, 1), (1, -1)) as undershoot_steps (undershoot_quantity, weight_change)
    where demand_statistics.nonzero_demand_days = 0
),

outcome_weight_steps as (
    -- the convolution's weight changes: window_count(v) x (change of w at u) at x = v + u
    select
        lead_time_demands.material_id,
        lead_time_demands.site_id,
        lead_time_demands.lead_time_demand_quantity + undershoot_weight_steps.undershoot_quantity
            as cycle_demand_quantity,
        sum(cast(lead_time_demands.window_count as numeric) * undershoot_weight_steps.weight_change)
            as weight_change
    from lead_time_demands
    inner join undershoot_weight_steps
        on lead_time_demands.material_id = undershoot_weight_steps.material_id
        and lead_time_demands.site_id = undershoot_weight_steps.site_id
    group by
        lead_time_demands.material_id,
        lead_time_demands.site_id,
        lead_time_demands.lead_time_demand_quantity + undershoot_weight_steps.undershoot_quantity
),

steps_split as (
    -- x = whole part + fraction: values at one fraction form a grid of step 1
    select
        material_id,
        site_id,
        floor(cycle_demand_quantity) as whole_quantity,
        cycle_demand_quantity - floor(cycle_demand_quantity) as fraction_quantity,
        weight_change
    from outcome_weight_steps
),

series_grids as (
    -- per material-site: the whole parts where some weight changes, and the fractions it has values at
    -- (one, 0, for whole quantities)
    select
        material_id,
        site_id,
        array_agg(distinct whole_quantity) as whole_quantities,
        array_agg(distinct fraction_quantity) as fraction_quantities
    from steps_split
    group by material_id, site_id
),

grid_cells as (
    -- every changed whole part x every fraction (no change of its own), so that each fraction's
    -- weight is known wherever any weight changes
    select
        series_grids.material_id,
        series_grids.site_id,
        wholes.whole_quantity,
        fractions.fraction_quantity,
        0 as weight_change
    from series_grids
    cross join lateral unnest(series_grids.whole_quantities) as wholes (whole_quantity)
    cross join lateral unnest(series_grids.fraction_quantities) as fractions (fraction_quantity)
),

cells_listed as (
    select
        material_id,
        site_id,
        whole_quantity,
        fraction_quantity,
        weight_change
    from steps_split

    union all

    select
        material_id,
        site_id,
        whole_quantity,
        fraction_quantity,
        weight_change
    from grid_cells
),

cells_changed as (
    select
        material_id,
        site_id,
        whole_quantity,
        fraction_quantity,
        sum(weight_change) as weight_change
    from cells_listed
    group by material_id, site_id, whole_quantity, fraction_quantity
),

runs_weighted as (
    -- a run starts at each changed whole part and lasts until the next one; the weight of each of
    -- its values: the changes at its fraction summed up to its start
    select
        material_id,
        site_id,
        whole_quantity,
        fraction_quantity,
        cast(
            lead(whole_quantity) over fraction_changes - whole_quantity as bigint
        ) as run_value_count,
        sum(weight_change) over (fraction_changes rows between unbounded preceding and current row)
            as outcome_count
    from cells_changed
    window fraction_changes as (partition by material_id, site_id, fraction_quantity order by whole_quantity)
),

runs_unit_weighted as (
    select
        *,
        -- weight of one unit step of the run (every fraction), and of the fractions before this one
        sum(outcome_count) over (
            partition by material_id, site_id, whole_quantity
        ) as unit_outcome_count,
        coalesce(sum(outcome_count) over (
            partition by material_id, site_id, whole_quantity
            order by fraction_quantity
            rows between unbounded preceding and 1 preceding
        ), 0) as outcome_count_before_fraction
    from runs_weighted
    where run_value_count is not null
),

runs_cumulated as (
    select
        *,
        -- weight of every value of the runs up to this whole part, at every fraction
        sum(outcome_count * run_value_count) over (
            partition by material_id, site_id
            order by whole_quantity
            range between unbounded preceding and current row
        ) as outcome_count_through_run,
        sum(outcome_count * run_value_count) over (partition by material_id, site_id) as total_outcome_count
    from runs_unit_weighted
),

runs_counted as (
    -- cumulative weight at the run's last value: through the run, less its last unit step's values
    -- at the fractions after this one
    select
        *,
        outcome_count_through_run - unit_outcome_count + outcome_count_before_fraction + outcome_count
            as cumulative_outcome_count
    from runs_cumulated
),

final as (
    select
        material_id,
        site_id,
        whole_quantity + fraction_quantity as cycle_demand_quantity,
        whole_quantity + run_value_count - 1 + fraction_quantity as last_cycle_demand_quantity,
        run_value_count,
        outcome_count,
        unit_outcome_count,
        cumulative_outcome_count,
        total_outcome_count,
        cast(cumulative_outcome_count / total_outcome_count as numeric(12, 10)) as cumulative_probability
    from runs_counted
    where outcome_count > 0
)

select * from final
