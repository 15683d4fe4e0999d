with

forecast_values as (
    select * from {{ source('forecast', 'forecast_values') }}
),

renamed as (
    select
        cast(run_id as text) as run_id,
        cast(material_id as text) as material_id,
        cast(site_id as text) as site_id,
        cast(forecast_date as date) as forecast_date,
        cast(yhat as double precision) as yhat,
        cast(yhat_lo_80 as double precision) as yhat_lo_80,
        cast(yhat_hi_80 as double precision) as yhat_hi_80,
        cast(yhat_lo_95 as double precision) as yhat_lo_95,
        cast(yhat_hi_95 as double precision) as yhat_hi_95,
        cast(yhat_q90 as double precision) as yhat_q90,
        cast(yhat_q95 as double precision) as yhat_q95,
        cast(yhat_q99 as double precision) as yhat_q99,
        cast(model as text) as model,
        cast(demand_class as text) as demand_class,
        cast(model_version as text) as model_version,
        cast(generated_at as timestamptz) as generated_at,
        cast(source as text) as source,
        cast(dataset_id as text) as dataset_id
    from forecast_values
)

select * from renamed
