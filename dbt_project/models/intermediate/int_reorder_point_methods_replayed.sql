-- The reorder-point method the weekly replay found best per material-site (one row each; none
-- before the first replay): of empirical_ltd and seasonal_ltd, replayed over the same demand since
-- their as-of date (nova_corrente.reorder_replay),
--   1. the methods that kept the target, cycle service level >= service_level -
--      `replay_service_level_tolerance` (var, 0.015), the one with less mean stock on hand;
--   2. if neither kept it, the one with the higher cycle service level (then the less stock).
-- Only with enough evidence: both methods replayed with at least `replay_min_cycles` (var) cycles.
-- fct_reorder_points uses the choice while its target service level is the one replayed.
with

replays as (
    select * from {{ ref('stg_replay__reorder_point_replays') }}
),

material_sites_with_evidence as (
    select
        material_id,
        site_id
    from replays
    group by material_id, site_id
    having count(*) = 2 and min(cycles) >= {{ var('replay_min_cycles') }}
),

replays_scored as (
    select
        replays.*,
        replays.cycle_service_level >= replays.service_level - {{ var('replay_service_level_tolerance') }}
            as kept_service_level
    from replays
    inner join material_sites_with_evidence
        on replays.material_id = material_sites_with_evidence.material_id
        and replays.site_id = material_sites_with_evidence.site_id
),

replays_ranked as (
    select
        *,
        row_number() over (
            partition by material_id, site_id
            order by
                kept_service_level desc,
                case when kept_service_level then average_on_hand end asc nulls last,
                cycle_service_level desc,
                average_on_hand asc,
                method asc
        ) as method_rank
    from replays_scored
),

final as (
    select
        material_id,
        site_id,
        method as replay_method,
        service_level as replay_service_level,
        as_of_date as replay_as_of_date,
        cycles as replay_cycles,
        cycle_service_level as replay_cycle_service_level,
        kept_service_level as is_replay_target_kept
    from replays_ranked
    where method_rank = 1
)

select * from final
