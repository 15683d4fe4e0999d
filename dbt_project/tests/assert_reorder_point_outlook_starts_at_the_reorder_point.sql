-- One number, one place: the outlook's first day is today's reorder point of fct_reorder_points.
with

reorder_points as (
    select * from {{ ref('fct_reorder_points') }}
),

outlook as (
    select * from {{ ref('fct_reorder_point_outlook') }}
),

first_days as (
    select distinct on (material_id, site_id)
        material_id,
        site_id,
        reorder_point
    from outlook
    order by material_id asc, site_id asc, outlook_date asc
)

select
    reorder_points.material_id,
    reorder_points.site_id,
    reorder_points.reorder_point,
    first_days.reorder_point as outlook_reorder_point
from reorder_points
left join first_days
    on reorder_points.material_id = first_days.material_id
    and reorder_points.site_id = first_days.site_id
where first_days.reorder_point is distinct from reorder_points.reorder_point
