with

forecast_runs as (
    select * from {{ source('forecast', 'forecast_runs') }}
),

renamed as (
    select
        cast(run_id as text) as run_id,
        cast(model_version as text) as model_version,
        cast(generated_at as timestamptz) as generated_at,
        cast(source as text) as source,
        cast(dataset_id as text) as dataset_id,
        parameters,
        cast(data_fingerprint as text) as data_fingerprint,
        metrics,
        cast(series_count as integer) as series_count
    from forecast_runs
)

select * from renamed
