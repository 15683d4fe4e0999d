{{ config(severity='warn') }}
-- Freshness of the drivers: every city of an active site has observed weather up to at most
-- 3 days before the last demand date (a stale weather feed would leave the forecast with
-- climatology only). Warns, like the sources' freshness: the forecast still runs on the rest.
with

demand_daily as (
    select * from {{ ref('fct_demand_daily') }}
),

sites as (
    select * from {{ ref('dim_site') }}
),

drivers as (
    select * from {{ ref('fct_demand_drivers_daily') }}
),

last_demand as (
    select max(demand_date) as last_demand_date
    from demand_daily
),

demand_sites as (
    select distinct site_id
    from demand_daily
),

site_cities as (
    select distinct sites.city
    from sites
    inner join demand_sites
        on sites.site_id = demand_sites.site_id
),

last_observed as (
    select
        city,
        max(driver_date) filter (where is_observed) as last_observed_date
    from drivers
    group by city
)

select
    site_cities.city,
    last_observed.last_observed_date,
    last_demand.last_demand_date
from site_cities
cross join last_demand
left join last_observed
    on site_cities.city = last_observed.city
where coalesce(last_observed.last_observed_date, date '1900-01-01') < last_demand.last_demand_date - 3
