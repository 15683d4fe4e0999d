-- Every version of every stock movement in a passed batch (tombstones included): the change feed
-- the incremental daily facts use to find which material-site-days a new batch touched, including
-- the day a corrected movement was moved away from and the day of a deleted one.
with

source as (
    select * from {{ source('erp', 'stock_movements') }}
),

passed_batches as (
    select
        load_batches.batch_id,
        -- a batch passed without a recorded verdict time (set by hand) counts from its load
        coalesce(load_batches.validated_at, load_batches.loaded_at) as validated_at
    from {{ source('audit', 'load_batches') }} as load_batches
    where load_batches.status = 'passed'
),

renamed as (
    select
        cast(source.movement_id as bigint) as movement_id,
        cast(source.material_id as text) as material_id,
        cast(source.site_id as text) as site_id,
        cast(source.movement_date as date) as movement_date,
        source._change as change_kind,
        source._batch_id as source_batch_id,
        passed_batches.validated_at as batch_validated_at
    from source
    inner join passed_batches
        on source._batch_id = passed_batches.batch_id
)

select * from renamed
