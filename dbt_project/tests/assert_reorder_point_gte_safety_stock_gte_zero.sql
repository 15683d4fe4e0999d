-- Every computed reorder point covers its safety stock, and safety stock is never negative
-- (service levels are above 0.5, so z > 0). Returns the offending rows.
select
    material_id,
    site_id,
    safety_stock,
    reorder_point
from {{ ref('fct_reorder_points') }}
where
    safety_stock < 0
    or reorder_point < safety_stock
    or (safety_stock is null) <> (reorder_point is null)
