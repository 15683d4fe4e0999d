{{
    config(
        tags=['forecast'],
        indexes=[
            {'columns': ['run_id', 'material_id', 'site_id', 'model'], 'unique': true},
            {'columns': ['material_id', 'site_id', 'forecast_start_date']},
        ],
    )
}}
-- Accuracy of every kept forecast run, per run, material-site and model, over the forecast days
-- that now have actuals in fct_demand_daily (y = quantity_consumed, yhat = the forecast):
--   mae   = mean |y - yhat|                rmse = sqrt(mean (y - yhat)^2)
--   bias  = mean (yhat - y)                (units a day; > 0 over-forecasts)
--   wape  = sum |y - yhat| / sum y          (NULL when sum y = 0)
--   mape  = mean |y - yhat| / y over the days with y <> 0 only (NULL when there are none)
--   rmsse = sqrt(mean (y - yhat)^2 / scale), scale = mean (y_t - y_t-1)^2 of the series' demand
--           over the `demand_history_days` (var) days before the forecast start, the history the
--           forecast is fitted on (in-sample one-step naive forecast; NULL when the scale is 0 or
--           there is no history), as fct_demand_daily holds it now; reading only those days keeps
--           the cost independent of the length of the history.
-- Fractions, not percentages (wape 0.25 = 25%).
with

forecast_values as (
    select * from {{ ref('stg_forecast__forecast_values') }}
),

forecast_runs as (
    select * from {{ ref('stg_forecast__forecast_runs') }}
),

demand_daily as not materialized (
    -- read twice (actuals and scales), each time a few days of its whole history: not materialized,
    -- so each read filters the table (its index) instead of a copy of all of it
    select * from {{ ref('fct_demand_daily') }}
),

latest_run as (
    select run_id
    from forecast_runs
    order by generated_at desc, run_id desc
    limit 1
),

series_starts as (
    select
        run_id,
        material_id,
        site_id,
        min(forecast_date) as forecast_start_date,
        -- the scale's days: the `demand_history_days` (var) days before the forecast start, read as
        -- the running sums at their last day minus those at the day before their first
        min(forecast_date) - 1 as scale_end_date,
        min(forecast_date) - 1 - {{ var('demand_history_days') }} as scale_start_date
    from forecast_values
    group by run_id, material_id, site_id
),

history_bounds as (
    -- the days the scales need, from the earliest kept forecast's
    select min(scale_start_date) as first_date
    from series_starts
),

naive_errors as (
    select
        demand_daily.material_id,
        demand_daily.site_id,
        demand_daily.demand_date,
        demand_daily.quantity_consumed
        - lag(demand_daily.quantity_consumed) over (
            partition by demand_daily.material_id, demand_daily.site_id order by demand_daily.demand_date asc
        ) as naive_error
    from demand_daily
    cross join history_bounds
    where demand_daily.demand_date >= history_bounds.first_date
),

naive_errors_cumulated as (
    -- running count and sum of the squared one-step naive errors up to and including each day
    select
        material_id,
        site_id,
        demand_date,
        count(naive_error) over series_to_date as naive_error_count,
        sum(cast(naive_error as double precision) * naive_error) over series_to_date as naive_squared_error_sum
    from naive_errors
    window series_to_date as (
        partition by material_id, site_id order by demand_date asc rows between unbounded preceding and current row
    )
),

scale_bounds as materialized (
    -- the two days each scale reads the running sums at (a few per series)
    select
        material_id,
        site_id,
        scale_end_date as demand_date
    from series_starts
    union
    select
        material_id,
        site_id,
        scale_start_date as demand_date
    from series_starts
),

naive_errors_at_scale_bounds as materialized (
    -- the running sums on those days only: the joins below then match a few rows per series,
    -- instead of sorting and scanning every day of the history twice
    select naive_errors_cumulated.*
    from naive_errors_cumulated
    inner join scale_bounds
        on naive_errors_cumulated.material_id = scale_bounds.material_id
        and naive_errors_cumulated.site_id = scale_bounds.site_id
        and naive_errors_cumulated.demand_date = scale_bounds.demand_date
),

naive_scales as (
    -- per run and series: the mean squared naive error of the `demand_history_days` days before the
    -- forecast start (the history the forecast engine fits on), a difference of running sums
    select
        series_starts.run_id,
        series_starts.material_id,
        series_starts.site_id,
        coalesce(scale_end.naive_error_count, 0) - coalesce(scale_start.naive_error_count, 0) as naive_error_count,
        (scale_end.naive_squared_error_sum - coalesce(scale_start.naive_squared_error_sum, 0))
        / nullif(scale_end.naive_error_count - coalesce(scale_start.naive_error_count, 0), 0) as naive_scale
    from series_starts
    left join naive_errors_at_scale_bounds as scale_end
        on series_starts.material_id = scale_end.material_id
        and series_starts.site_id = scale_end.site_id
        and series_starts.scale_end_date = scale_end.demand_date
    left join naive_errors_at_scale_bounds as scale_start
        on series_starts.material_id = scale_start.material_id
        and series_starts.site_id = scale_start.site_id
        and series_starts.scale_start_date = scale_start.demand_date
),

errors_computed as (
    select
        forecast_values.run_id,
        forecast_values.material_id,
        forecast_values.site_id,
        forecast_values.model,
        forecast_values.demand_class,
        forecast_values.forecast_date,
        cast(demand_daily.quantity_consumed as double precision) as actual_quantity,
        forecast_values.yhat as forecast_quantity,
        forecast_values.yhat - cast(demand_daily.quantity_consumed as double precision) as forecast_error
    from forecast_values
    inner join demand_daily
        on forecast_values.material_id = demand_daily.material_id
        and forecast_values.site_id = demand_daily.site_id
        and forecast_values.forecast_date = demand_daily.demand_date
),

errors_aggregated as (
    select
        run_id,
        material_id,
        site_id,
        model,
        max(demand_class) as demand_class,
        min(forecast_date) as first_evaluated_date,
        max(forecast_date) as last_evaluated_date,
        count(*) as evaluated_days,
        count(*) filter (where actual_quantity <> 0) as nonzero_actual_days,
        sum(actual_quantity) as total_actual_quantity,
        sum(forecast_quantity) as total_forecast_quantity,
        avg(abs(forecast_error)) as mae,
        sqrt(avg(forecast_error * forecast_error)) as rmse,
        avg(forecast_error) as bias,
        avg(forecast_error * forecast_error) as mean_squared_error,
        sum(abs(forecast_error)) / nullif(sum(actual_quantity), 0) as wape,
        avg(abs(forecast_error) / actual_quantity) filter (where actual_quantity <> 0) as mape
    from errors_computed
    group by run_id, material_id, site_id, model
),

final as (
    select
        errors_aggregated.run_id,
        errors_aggregated.material_id,
        errors_aggregated.site_id,
        errors_aggregated.model,
        errors_aggregated.demand_class,
        forecast_runs.model_version,
        forecast_runs.generated_at,
        errors_aggregated.run_id = latest_run.run_id as is_latest_run,
        series_starts.forecast_start_date,
        errors_aggregated.first_evaluated_date,
        errors_aggregated.last_evaluated_date,
        errors_aggregated.evaluated_days,
        errors_aggregated.nonzero_actual_days,
        errors_aggregated.total_actual_quantity,
        errors_aggregated.total_forecast_quantity,
        errors_aggregated.mae,
        errors_aggregated.rmse,
        errors_aggregated.bias,
        errors_aggregated.wape,
        errors_aggregated.mape,
        coalesce(naive_scales.naive_error_count, 0) as naive_error_count,
        naive_scales.naive_scale,
        sqrt(errors_aggregated.mean_squared_error / nullif(naive_scales.naive_scale, 0)) as rmsse
    from errors_aggregated
    inner join forecast_runs
        on errors_aggregated.run_id = forecast_runs.run_id
    inner join series_starts
        on errors_aggregated.run_id = series_starts.run_id
        and errors_aggregated.material_id = series_starts.material_id
        and errors_aggregated.site_id = series_starts.site_id
    cross join latest_run
    left join naive_scales
        on errors_aggregated.run_id = naive_scales.run_id
        and errors_aggregated.material_id = naive_scales.material_id
        and errors_aggregated.site_id = naive_scales.site_id
)

select * from final
