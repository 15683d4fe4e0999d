{{
    config(
        tags=['forecast'],
        indexes=[
            {'columns': ['material_id', 'site_id', 'forecast_date'], 'unique': true},
            {'columns': ['forecast_date']},
        ],
    )
}}
-- The latest forecast run's values (latest generated_at, then run_id) with the run's metadata.
with

forecast_runs as (
    select * from {{ ref('stg_forecast__forecast_runs') }}
),

forecast_values as (
    select * from {{ ref('stg_forecast__forecast_values') }}
),

latest_run as (
    select *
    from forecast_runs
    order by generated_at desc, run_id desc
    limit 1
),

values_of_latest_run as (
    select
        forecast_values.run_id,
        forecast_values.material_id,
        forecast_values.site_id,
        forecast_values.forecast_date,
        forecast_values.yhat,
        forecast_values.yhat_lo_80,
        forecast_values.yhat_hi_80,
        forecast_values.yhat_lo_95,
        forecast_values.yhat_hi_95,
        forecast_values.yhat_q90,
        forecast_values.yhat_q95,
        forecast_values.yhat_q99,
        forecast_values.model,
        forecast_values.demand_class,
        latest_run.model_version,
        latest_run.generated_at,
        latest_run.source,
        latest_run.dataset_id,
        latest_run.data_fingerprint
    from forecast_values
    inner join latest_run
        on forecast_values.run_id = latest_run.run_id
)

select * from values_of_latest_run
