{{ config(materialized='table') }}
-- A table, not a view: fct_reorder_points and seven data tests read it, and each read of a view
-- would recompute a year of daily demand per material-site.
-- ABC and XYZ classes per active material-site, over the last `classification_window_days` days
-- (var, default 365) of zero-filled daily demand ending at the last demand date (the whole history
-- when it is shorter).
--   ABC, per site, by annual consumption value = units consumed in the window x current unit cost,
--   scaled to 365 days: rank the site's material-sites by value (then material_id); A is the
--   smallest top set reaching `abc_class_a_share` (0.80) of the site's value, B the next set
--   reaching `abc_class_b_share` (0.95), C the rest (and every material-site without consumption).
--   In other words, a material-site is A when the material-sites ranked above it hold less than 80%.
--   XYZ by the coefficient of variation of weekly demand (stddev_samp / mean) over the complete
--   7-day weeks of the window counted back from its last day: X when cv <= `xyz_class_x_max_cv`
--   (0.5), Y when cv <= `xyz_class_y_max_cv` (1.0), else Z. Without demand or with fewer than two
--   complete weeks the cv is undefined (NULL) and the class is Z, the least predictable.
with

daily_demand as (
    select * from {{ ref('int_demand_aggregated_to_daily') }}
),

materials as (
    select * from {{ ref('stg_erp__materials') }}
),

window_bounds as (
    select
        greatest(
            min(demand_date), max(demand_date) - ({{ var('classification_window_days') }} - 1)
        ) as window_start_date,
        max(demand_date) as window_end_date
    from daily_demand
),

demand_in_window as (
    select
        daily_demand.material_id,
        daily_demand.site_id,
        daily_demand.family_id,
        daily_demand.demand_date,
        daily_demand.quantity_consumed,
        window_bounds.window_start_date,
        window_bounds.window_end_date,
        window_bounds.window_end_date - window_bounds.window_start_date + 1 as window_days,
        (window_bounds.window_end_date - daily_demand.demand_date) / 7 as weeks_before_end
    from daily_demand
    inner join window_bounds
        on daily_demand.demand_date between window_bounds.window_start_date and window_bounds.window_end_date
),

consumption_summed as (
    select
        material_id,
        site_id,
        family_id,
        window_start_date,
        window_end_date,
        window_days,
        sum(quantity_consumed) as quantity_consumed
    from demand_in_window
    group by material_id, site_id, family_id, window_start_date, window_end_date, window_days
),

weekly_demand as (
    select
        material_id,
        site_id,
        weeks_before_end,
        sum(quantity_consumed) as quantity_consumed
    from demand_in_window
    -- complete weeks only: the oldest, partial week of the window is left out
    where weeks_before_end < window_days / 7
    group by material_id, site_id, weeks_before_end
),

weekly_demand_summarised as (
    select
        material_id,
        site_id,
        count(*) as weekly_demand_weeks,
        avg(quantity_consumed) as avg_weekly_demand,
        stddev_samp(quantity_consumed) as std_weekly_demand
    from weekly_demand
    group by material_id, site_id
),

consumption_valued as (
    select
        consumption_summed.*,
        coalesce(materials.unit_cost_brl, 0) as unit_cost_brl,
        -- ranked on the window's value (exact); the scaling to a year is the same for every row
        consumption_summed.quantity_consumed * coalesce(materials.unit_cost_brl, 0) as consumption_value
    from consumption_summed
    left join materials
        on consumption_summed.material_id = materials.material_id
),

values_ranked_per_site as (
    select
        *,
        coalesce(sum(consumption_value) over (
            partition by site_id
            order by consumption_value desc, material_id asc
            rows between unbounded preceding and 1 preceding
        ), 0) as value_ranked_above,
        sum(consumption_value) over (partition by site_id) as site_consumption_value
    from consumption_valued
),

value_shares_computed as (
    -- numeric division is exact when the share terminates (800 / 1000 = 0.8), so a material-site
    -- right on a threshold is classified as the rule says
    select
        *,
        value_ranked_above / nullif(site_consumption_value, 0) as share_ranked_above
    from values_ranked_per_site
),

classes_assigned as (
    select
        value_shares_computed.material_id,
        value_shares_computed.site_id,
        value_shares_computed.family_id,
        value_shares_computed.window_start_date,
        value_shares_computed.window_end_date,
        value_shares_computed.window_days,
        value_shares_computed.quantity_consumed,
        value_shares_computed.unit_cost_brl,
        value_shares_computed.consumption_value,
        value_shares_computed.value_ranked_above,
        value_shares_computed.site_consumption_value,
        coalesce(weekly_demand_summarised.weekly_demand_weeks, 0) as weekly_demand_weeks,
        weekly_demand_summarised.avg_weekly_demand,
        weekly_demand_summarised.std_weekly_demand,
        case
            when weekly_demand_summarised.weekly_demand_weeks >= 2 and weekly_demand_summarised.avg_weekly_demand > 0
                then weekly_demand_summarised.std_weekly_demand / weekly_demand_summarised.avg_weekly_demand
        end as weekly_demand_cv,
        case
            when value_shares_computed.consumption_value <= 0 then 'C'
            when value_shares_computed.share_ranked_above < {{ var('abc_class_a_share') }} then 'A'
            when value_shares_computed.share_ranked_above < {{ var('abc_class_b_share') }} then 'B'
            else 'C'
        end as abc_class
    from value_shares_computed
    left join weekly_demand_summarised
        on value_shares_computed.material_id = weekly_demand_summarised.material_id
        and value_shares_computed.site_id = weekly_demand_summarised.site_id
),

final as (
    select
        material_id,
        site_id,
        family_id,
        abc_class,
        case
            when weekly_demand_cv <= {{ var('xyz_class_x_max_cv') }} then 'X'
            when weekly_demand_cv <= {{ var('xyz_class_y_max_cv') }} then 'Y'
            else 'Z'
        end as xyz_class,
        cast(round(consumption_value * 365.0 / window_days, 2) as numeric(18, 2)) as annual_consumption_value_brl,
        cast(round(
            consumption_value / nullif(site_consumption_value, 0), 6
        ) as numeric(9, 6)) as consumption_value_share,
        cast(round(
            (value_ranked_above + consumption_value) / nullif(site_consumption_value, 0), 6
        ) as numeric(9, 6)) as cumulative_consumption_value_share,
        quantity_consumed as window_quantity_consumed,
        unit_cost_brl,
        weekly_demand_weeks,
        cast(round(avg_weekly_demand, 4) as numeric(14, 4)) as avg_weekly_demand,
        cast(round(std_weekly_demand, 4) as numeric(14, 4)) as std_weekly_demand,
        cast(round(weekly_demand_cv, 6) as numeric(12, 6)) as weekly_demand_cv,
        window_start_date,
        window_end_date,
        window_days
    from classes_assigned
)

select * from final
