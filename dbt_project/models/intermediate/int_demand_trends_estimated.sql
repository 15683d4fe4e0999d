{{ config(materialized='table') }}
-- A table: its tests and int_demand_factors_projected read its one row per material-site, which a
-- view would recompute from the daily demand each time.
-- How the demand of each active material-site moves with the season and grows, estimated from the
-- demand history of int_demand_aggregated_to_daily (its last `demand_history_days`, var, three
-- years) (what the seasonal reorder point scales the lead-time demand with):
--   seasonal_sensitivity  beta of the material (all its sites together): its daily demand
--                         ~ a * (1 + beta * rainy_season_index of the day), by least squares
--                         (regr_slope / regr_intercept); shrunk towards the mean beta of all
--                         materials by its precision (empirical Bayes: weight tau^2 / (tau^2 + se^2),
--                         tau^2 = the variance of the betas beyond their standard errors), so a
--                         material with little demand borrows from the others
--   annual_growth_rate    of the site (all its materials): demand of the last 365 days / demand of
--                         the 365 before - 1 (whole years, so the season cancels out); 0 with less
--                         than two years of history; clipped to +/- 50 %
--   window_demand_factor  mean of (1 + beta * rainy_season_index) over the days of the demand window
--                         of int_demand_statistics_computed: the season the empirical lead-time
--                         demand was measured in
with

daily_demand as (
    select * from {{ ref('int_demand_aggregated_to_daily') }}
),

demand_statistics as (
    select * from {{ ref('int_demand_statistics_computed') }}
),

rainy_season_profiles as (
    select * from {{ ref('int_rainy_season_profiles_computed') }}
),

material_days as (
    select
        daily_demand.material_id,
        daily_demand.demand_date,
        sum(daily_demand.quantity_consumed) as quantity_consumed,
        max(rainy_season_profiles.rainy_season_index) as rainy_season_index
    from daily_demand
    inner join rainy_season_profiles
        on extract(doy from daily_demand.demand_date) = rainy_season_profiles.day_of_year
    group by daily_demand.material_id, daily_demand.demand_date
),

material_regressions as (
    select
        material_id,
        regr_slope(quantity_consumed, rainy_season_index) as slope,
        regr_intercept(quantity_consumed, rainy_season_index) as intercept,
        regr_count(quantity_consumed, rainy_season_index) as day_count,
        regr_sxx(quantity_consumed, rainy_season_index) as sxx,
        regr_syy(quantity_consumed, rainy_season_index) as syy,
        regr_r2(quantity_consumed, rainy_season_index) as r_squared
    from material_days
    group by material_id
),

betas_computed as (
    -- beta = slope / intercept; its standard error from the slope's (delta method, intercept fixed)
    select
        material_id,
        slope / intercept as beta,
        sqrt(
            greatest(1 - coalesce(r_squared, 0), 0) * syy / greatest(day_count - 2, 1) / nullif(sxx, 0)
        ) / intercept as beta_standard_error
    from material_regressions
    where intercept > 0 and day_count >= 60
),

beta_prior as (
    select
        avg(beta) as mean_beta,
        greatest(var_samp(beta) - avg(beta_standard_error * beta_standard_error), 0.0001) as beta_variance
    from betas_computed
),

betas_shrunk as (
    select
        betas_computed.material_id,
        beta_prior.mean_beta
        + beta_prior.beta_variance
        / (beta_prior.beta_variance + betas_computed.beta_standard_error * betas_computed.beta_standard_error)
        * (betas_computed.beta - beta_prior.mean_beta) as seasonal_sensitivity
    from betas_computed
    cross join beta_prior
),

history_bounds as (
    select
        min(demand_date) as first_date,
        max(demand_date) as last_date
    from daily_demand
),

site_years as (
    select
        daily_demand.site_id,
        sum(daily_demand.quantity_consumed) filter (
            where daily_demand.demand_date > history_bounds.last_date - 365
        ) as last_year_quantity,
        sum(daily_demand.quantity_consumed) filter (
            where daily_demand.demand_date <= history_bounds.last_date - 365
            and daily_demand.demand_date > history_bounds.last_date - 730
        ) as year_before_quantity,
        history_bounds.last_date - history_bounds.first_date + 1 as history_days
    from daily_demand
    cross join history_bounds
    group by daily_demand.site_id, history_bounds.last_date, history_bounds.first_date
),

site_growth as (
    select
        site_id,
        case
            when history_days >= 730 and year_before_quantity > 0
                then least(greatest(last_year_quantity / year_before_quantity - 1, -0.5), 0.5)
            else 0
        end as annual_growth_rate
    from site_years
),

window_days as (
    -- the demand window is the same for every material-site (int_demand_statistics_computed)
    select cast(calendar_days.calendar_day as date) as window_date
    from history_bounds
    cross join lateral generate_series(
        history_bounds.last_date - ({{ var('demand_window_days') }} - 1), history_bounds.last_date, interval '1 day'
    ) as calendar_days (calendar_day)
),

window_indexes as (
    select avg(rainy_season_profiles.rainy_season_index) as mean_rainy_season_index
    from window_days
    inner join rainy_season_profiles
        on extract(doy from window_days.window_date) = rainy_season_profiles.day_of_year
),

window_factors as (
    select
        demand_statistics.material_id,
        demand_statistics.site_id,
        1 + coalesce(betas_shrunk.seasonal_sensitivity, 0) * window_indexes.mean_rainy_season_index
            as window_demand_factor
    from demand_statistics
    cross join window_indexes
    left join betas_shrunk
        on demand_statistics.material_id = betas_shrunk.material_id
),

final as (
    select
        demand_statistics.material_id,
        demand_statistics.site_id,
        demand_statistics.window_start_date,
        demand_statistics.window_end_date,
        cast(coalesce(betas_shrunk.seasonal_sensitivity, 0) as numeric(10, 6)) as seasonal_sensitivity,
        cast(coalesce(site_growth.annual_growth_rate, 0) as numeric(10, 6)) as annual_growth_rate,
        cast(coalesce(window_factors.window_demand_factor, 1) as numeric(10, 6)) as window_demand_factor
    from demand_statistics
    left join betas_shrunk
        on demand_statistics.material_id = betas_shrunk.material_id
    left join site_growth
        on demand_statistics.site_id = site_growth.site_id
    left join window_factors
        on demand_statistics.material_id = window_factors.material_id
        and demand_statistics.site_id = window_factors.site_id
)

select * from final
