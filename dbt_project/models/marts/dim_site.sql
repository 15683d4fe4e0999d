{{ config(indexes=[{'columns': ['site_id'], 'unique': true}, {'columns': ['region']}]) }}
-- One row per tower site (active or not) with the service level of its SLA tier.
with

sites as (
    select * from {{ ref('stg_erp__sites') }}
),

service_levels as (
    select * from {{ ref('service_levels') }}
),

sites_joined_to_service_levels as (
    select
        sites.site_id,
        sites.site_name,
        sites.city,
        sites.region,
        sites.latitude,
        sites.longitude,
        sites.sla_tier,
        service_levels.service_level,
        sites.is_active,
        sites.commissioned_date,
        sites.updated_at
    from sites
    left join service_levels
        on sites.sla_tier = service_levels.sla_tier
)

select * from sites_joined_to_service_levels
