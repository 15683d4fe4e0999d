{{ config(tags=['forecast']) }}
-- The published forecasts (latest run) are only for active material-sites: the forecast task reads
-- fct_demand_daily, which holds active material-sites only, so a forecast of an inactive material
-- or site (or one the ERP no longer stocks there) means the run is stale or read the wrong table.
with

forecasts as (
    select * from {{ ref('fct_forecasts') }}
),

active_material_sites as (
    select * from {{ ref('int_material_sites_filtered_to_active') }}
)

select distinct
    forecasts.run_id,
    forecasts.material_id,
    forecasts.site_id
from forecasts
left join active_material_sites
    on forecasts.material_id = active_material_sites.material_id
    and forecasts.site_id = active_material_sites.site_id
where active_material_sites.material_id is null
