{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['material_id', 'site_id', 'stock_date'],
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['material_id', 'site_id', 'stock_date'], 'unique': true},
            {'columns': ['stock_date']},
        ],
        post_hook=["{{ delete_inactive_material_sites() }}", "{{ delete_outside_calendar('stock_date') }}"],
    )
}}
-- Daily stock position per active material-site, reconstructed backwards from the current stock
-- on hand: closing(day) = quantity_on_hand now - sum of net changes after that day. Zero-filled
-- over the same calendar as fct_demand_daily (first to last movement date).
-- Incremental like fct_demand_daily: each run rewrites the last `demand_lookback_days` days (var,
-- default 28) of every active material-site, and the whole history of material-sites new to the
-- table or touched by a movement batch that passed since the last build (a late, corrected or
-- deleted movement shifts every earlier closing position of its material-site), or of all when the
-- calendar grew backwards; it reads only those days (material_site_scopes), so the next day's run
-- costs what changed, not the length of the history; it drops rows of material-sites no longer
-- active and days outside the calendar. The
-- singular test assert_stock_daily_is_continuous checks that the positions still connect.
with

active_material_sites as (
    select * from {{ ref('int_material_sites_filtered_to_active') }}
),

daily_movements as (
    select * from {{ ref('int_stock_movements_aggregated_to_daily') }}
),

calendar_bounds as (
    select
        min(movement_date) as first_date,
        max(movement_date) as last_date
    from daily_movements
),

{% if is_incremental() %}
{{ existing_material_sites_and_bounds('stock_date') }}

changed_material_sites as (
    -- a movement batch since the last build touched one of the older days: every earlier closing
    -- position of the material-site shifts
    select distinct
        changed_days.material_id,
        changed_days.site_id
    from (
        {{ changed_movement_days('(select existing_bounds.processed_until from existing_bounds)') }}
    ) as changed_days
    cross join existing_bounds
    where changed_days.movement_date <= existing_bounds.refresh_after_date
),
{% endif %}

-- A closing position only depends on the days after it, so the positions are reconstructed over
-- the rewritten days only: the cost follows them.
{{ material_site_scopes(whole_history_of='changed_material_sites') }}

days_to_refresh as materialized (
    -- the rewritten days of each material-site as rows (materialized: the join below matches them on
    -- all three keys; joined inline, the generated day was left as a filter of a two-key merge
    -- join, which compared every day with every movement day of its material-site)
    {{ material_site_scope_days('stock_date') }}
),

movements_zero_filled as (
    select
        active_material_sites.material_id,
        active_material_sites.site_id,
        active_material_sites.family_id,
        days_to_refresh.stock_date,
        active_material_sites.quantity_on_hand as current_quantity_on_hand,
        coalesce(daily_movements.quantity_received, 0) as quantity_received,
        coalesce(daily_movements.quantity_consumed, 0) as quantity_consumed,
        coalesce(daily_movements.quantity_transferred_in, 0) as quantity_transferred_in,
        coalesce(daily_movements.quantity_transferred_out, 0) as quantity_transferred_out,
        coalesce(daily_movements.quantity_returned, 0) as quantity_returned,
        coalesce(daily_movements.quantity_adjusted, 0) as quantity_adjusted,
        coalesce(daily_movements.net_change_quantity, 0) as net_change_quantity,
        coalesce(daily_movements.movement_count, 0) as movement_count
    from active_material_sites
    inner join days_to_refresh
        on active_material_sites.material_id = days_to_refresh.material_id
        and active_material_sites.site_id = days_to_refresh.site_id
    left join daily_movements
        on days_to_refresh.material_id = daily_movements.material_id
        and days_to_refresh.site_id = daily_movements.site_id
        and days_to_refresh.stock_date = daily_movements.movement_date
),

positions_reconstructed as (
    select
        *,
        current_quantity_on_hand - coalesce(sum(net_change_quantity) over (
            partition by material_id, site_id
            order by stock_date asc
            rows between 1 following and unbounded following
        ), 0) as closing_quantity_on_hand
    from movements_zero_filled
),

final as (
    select
        material_id,
        site_id,
        stock_date,
        family_id,
        closing_quantity_on_hand - net_change_quantity as opening_quantity_on_hand,
        quantity_received,
        quantity_consumed,
        quantity_transferred_in,
        quantity_transferred_out,
        quantity_returned,
        quantity_adjusted,
        net_change_quantity,
        movement_count,
        closing_quantity_on_hand,
        closing_quantity_on_hand <= 0 as is_stockout,
        {{ movements_validated_until() }} as source_validated_at
    from positions_reconstructed
)

select * from final
