-- Lead time per material from its supplier of record: the preferred active supplier (ties and
-- materials without a preferred one: shortest quoted lead time, then supplier_id). With at least
-- `min_lead_time_receipts` (var, default 3) received orders from that supplier, the observed mean and
-- sample standard deviation; otherwise the quoted lead time with a standard deviation of 0.
with

supplier_materials as (
    select * from {{ ref('stg_erp__supplier_materials') }}
),

suppliers as (
    select * from {{ ref('stg_erp__suppliers') }}
),

lead_times as (
    select * from {{ ref('int_lead_times_observed') }}
),

suppliers_of_record as (
    select distinct on (supplier_materials.material_id)
        supplier_materials.material_id,
        supplier_materials.supplier_id,
        supplier_materials.is_preferred,
        supplier_materials.quoted_lead_time_days
    from supplier_materials
    inner join suppliers
        on supplier_materials.supplier_id = suppliers.supplier_id
    where suppliers.is_active
    order by
        supplier_materials.material_id asc,
        supplier_materials.is_preferred desc,
        supplier_materials.quoted_lead_time_days asc,
        supplier_materials.supplier_id asc
),

lead_times_aggregated as (
    select
        material_id,
        supplier_id,
        count(*) as receipt_count,
        avg(lead_time_days) as observed_avg_lead_time_days,
        stddev_samp(lead_time_days) as observed_std_lead_time_days
    from lead_times
    group by material_id, supplier_id
),

statistics_chosen as (
    select
        suppliers_of_record.material_id,
        suppliers_of_record.supplier_id,
        suppliers_of_record.is_preferred as is_preferred_supplier,
        suppliers_of_record.quoted_lead_time_days,
        coalesce(lead_times_aggregated.receipt_count, 0) as receipt_count,
        coalesce(lead_times_aggregated.receipt_count, 0) >= {{ var('min_lead_time_receipts') }} as has_enough_receipts
    from suppliers_of_record
    left join lead_times_aggregated
        on suppliers_of_record.material_id = lead_times_aggregated.material_id
        and suppliers_of_record.supplier_id = lead_times_aggregated.supplier_id
),

final as (
    select
        statistics_chosen.material_id,
        statistics_chosen.supplier_id,
        statistics_chosen.is_preferred_supplier,
        statistics_chosen.quoted_lead_time_days,
        statistics_chosen.receipt_count,
        case when statistics_chosen.has_enough_receipts then 'observed' else 'quoted' end as lead_time_source,
        cast(case
            when statistics_chosen.has_enough_receipts then lead_times_aggregated.observed_avg_lead_time_days
            else statistics_chosen.quoted_lead_time_days
        end as numeric(12, 6)) as avg_lead_time_days,
        cast(case
            when statistics_chosen.has_enough_receipts
                then coalesce(lead_times_aggregated.observed_std_lead_time_days, 0)
            else 0
        end as numeric(12, 6)) as std_lead_time_days
    from statistics_chosen
    left join lead_times_aggregated
        on statistics_chosen.material_id = lead_times_aggregated.material_id
        and statistics_chosen.supplier_id = lead_times_aggregated.supplier_id
)

select * from final
