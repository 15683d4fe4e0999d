with

reorder_point_replays as (
    select * from {{ source('replay', 'reorder_point_replays') }}
),

renamed as (
    select
        cast(material_id as text) as material_id,
        cast(site_id as text) as site_id,
        cast(method as text) as method,
        cast(as_of_date as date) as as_of_date,
        cast(replay_days as integer) as replay_days,
        cast(lead_time_draws as integer) as lead_time_draws,
        cast(service_level as numeric(6, 5)) as service_level,
        cast(cycles as integer) as cycles,
        cast(stockout_cycles as integer) as stockout_cycles,
        1.0 - cast(stockout_cycles as numeric) / nullif(cycles, 0) as cycle_service_level,
        cast(average_on_hand as double precision) as average_on_hand,
        cast(average_reorder_point as double precision) as average_reorder_point,
        cast(replayed_at as timestamptz) as replayed_at
    from reorder_point_replays
)

select * from renamed
