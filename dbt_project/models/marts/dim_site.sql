{{ config(indexes=[{'columns': ['site_id'], 'unique': true}, {'columns': ['region']}]) }}
-- One row per tower site (active or not) with the target service levels of its SLA tier, one per
-- ABC class of the material-site (seed service_levels: SLA tier x ABC class).
with

sites as (
    select * from {{ ref('stg_erp__sites') }}
),

service_levels as (
    select * from {{ ref('service_levels') }}
),

service_levels_per_tier as (
    select
        sla_tier,
        max(service_level) filter (where abc_class = 'A') as service_level_class_a,
        max(service_level) filter (where abc_class = 'B') as service_level_class_b,
        max(service_level) filter (where abc_class = 'C') as service_level_class_c
    from service_levels
    group by sla_tier
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
        service_levels_per_tier.service_level_class_a,
        service_levels_per_tier.service_level_class_b,
        service_levels_per_tier.service_level_class_c,
        sites.is_active,
        sites.commissioned_date,
        sites.updated_at
    from sites
    left join service_levels_per_tier
        on sites.sla_tier = service_levels_per_tier.sla_tier
)

select * from sites_joined_to_service_levels
