{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['site_id', 'family_id', 'month_start_date'],
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['site_id', 'family_id', 'month_start_date'], 'unique': true},
            {'columns': ['month_start_date']},
        ],
        post_hook=["{{ delete_inactive_site_families() }}"],
    )
}}
-- Inventory KPIs per site, material family and calendar month, from fct_stock_daily (active
-- material-sites; a month at either end of the data is partial: days_in_period says how many days).
-- The simulator (like the real stores) cannot consume stock it does not have, so consumption is
-- demand capped by stock and stockouts hide the demand they lose. Hence, per material-site:
--   available day          = a day that starts with stock (opening quantity > 0): what was
--                            consumed on it is what was demanded (at most capped by the stock)
--   avg_daily_demand       = mean consumption of its available days in the month and the
--                            `lost_demand_prior_months` (var, 11) months before it
--   stockout day           = a day that ends without stock (closing <= 0) while avg_daily_demand > 0
--                            (a material-site with no demand in that window has no stockout days)
--   estimated lost demand  = on a stockout day, greatest(avg_daily_demand - consumed that day, 0)
-- and per site, family and month:
--   fill_rate              = consumed / (consumed + estimated lost demand), in units; NULL when both 0
--   stockout_days          = stockout days summed over the material-sites (material-site-days)
--   inventory value (BRL)  = closing quantity x current unit cost (dim_item), as the average over
--                            the month's days and at the month's last day
--   days_of_cover          = closing inventory value / average daily consumption value of the month
--                            (value-weighted, so materials in different units add up); NULL
--                            without consumption
-- Incremental: a month's figures depend on that month and the window before it only, so each run
-- recomputes the months from the one holding the last `demand_lookback_days` days (what
-- fct_stock_daily rewrote), reading the window before them, plus every month of a site and family
-- whose material-sites' history was rewritten (a movement batch touched an older day, a
-- material-site joined or left: its count in the month before differs) or of all when the calendar
-- grew backwards; a site and family without active material-sites is dropped (post-hook).
-- depends_on: {{ ref('stg_erp__stock_movement_versions') }}
with

stock_daily as (
    select * from {{ ref('fct_stock_daily') }}
),

items as (
    select * from {{ ref('dim_item') }}
),

{% if is_incremental() %}
active_material_sites as (
    select * from {{ ref('int_material_sites_filtered_to_active') }}
),

stock_bounds as (
    select
        min(stock_date) as first_stock_date,
        max(stock_date) - {{ var('demand_lookback_days') }} as refresh_after_date,
        cast(date_trunc('month', max(stock_date) - {{ var('demand_lookback_days') }}) as date) as refresh_from_month
    from stock_daily
),

existing_bounds as (
    select
        min(first_stock_date) as first_stock_date,
        {{ processed_until() }} as processed_until
    from {{ this }}
),

check_month_counts as (
    -- the material-sites of each site and family in the month before the recomputed ones, now
    select
        stock_daily.site_id,
        stock_daily.family_id,
        count(distinct stock_daily.material_id) as material_site_count
    from stock_daily
    cross join stock_bounds
    where
        stock_daily.stock_date >= cast(stock_bounds.refresh_from_month - interval '1 month' as date)
        and stock_daily.stock_date < stock_bounds.refresh_from_month
    group by stock_daily.site_id, stock_daily.family_id
),

existing_check_month_counts as (
    -- ... and as this table counted them
    select
        kpis.site_id,
        kpis.family_id,
        kpis.material_site_count
    from {{ this }} as kpis
    cross join stock_bounds
    where kpis.month_start_date = cast(stock_bounds.refresh_from_month - interval '1 month' as date)
),

site_families_rewritten as (
    -- a movement batch since the last build touched a day before the rewritten ones:
    -- fct_stock_daily rewrote the material-site's whole history
    select distinct
        active_material_sites.site_id,
        active_material_sites.family_id
    from (
        {{ changed_movement_days('(select existing_bounds.processed_until from existing_bounds)') }}
    ) as changed_days
    inner join active_material_sites
        on changed_days.material_id = active_material_sites.material_id
        and changed_days.site_id = active_material_sites.site_id
    cross join stock_bounds
    where changed_days.movement_date <= stock_bounds.refresh_after_date

    union

    -- a material-site joined or left (or changed family): the count of the month before differs
    select
        coalesce(check_month_counts.site_id, existing_kpis.site_id) as site_id,
        coalesce(check_month_counts.family_id, existing_kpis.family_id) as family_id
    from check_month_counts
    full outer join existing_check_month_counts as existing_kpis
        on check_month_counts.site_id = existing_kpis.site_id
        and check_month_counts.family_id = existing_kpis.family_id
    where check_month_counts.material_site_count is distinct from existing_kpis.material_site_count
),

site_family_scopes as (
    -- the first month recomputed per site and family
    select distinct
        active_site_families.site_id,
        active_site_families.family_id,
        case
            when
                site_families_rewritten.site_id is not null
                -- the calendar grew backwards (older movements arrived)
                or stock_bounds.first_stock_date < existing_bounds.first_stock_date
                then cast('-infinity' as date)
            else stock_bounds.refresh_from_month
        end as refresh_from_month
    from (
        select distinct
            site_id,
            family_id
        from active_material_sites
    ) as active_site_families
    cross join stock_bounds
    cross join existing_bounds
    left join site_families_rewritten
        on active_site_families.site_id = site_families_rewritten.site_id
        and active_site_families.family_id = site_families_rewritten.family_id
),

stock_in_scope as (
    -- the recomputed months and the window of months before them
    select stock_daily.*
    from stock_daily
    inner join site_family_scopes
        on stock_daily.site_id = site_family_scopes.site_id
        and stock_daily.family_id = site_family_scopes.family_id
    where
        stock_daily.stock_date
        >= site_family_scopes.refresh_from_month - interval '1 month' * {{ var('lost_demand_prior_months') }}
),
{% else %}
site_family_scopes as (
    select distinct
        site_id,
        family_id,
        cast('-infinity' as date) as refresh_from_month
    from stock_daily
),

stock_in_scope as (
    select * from stock_daily
),
{% endif %}

stock_days as (
    select
        material_id,
        site_id,
        family_id,
        stock_date,
        cast(date_trunc('month', stock_date) as date) as month_start_date,
        quantity_consumed,
        closing_quantity_on_hand,
        opening_quantity_on_hand > 0 as is_available,
        source_validated_at
    from stock_in_scope
),

demand_when_available as (
    -- per material-site and month: mean consumption of its available days in the window of months
    -- (a window frame over its months: every material-site has every month of the calendar)
    select
        material_id,
        site_id,
        month_start_date,
        sum(sum(quantity_consumed) filter (where is_available)) over demand_window
        / nullif(sum(count(*) filter (where is_available)) over demand_window, 0) as avg_daily_demand
    from stock_days
    group by material_id, site_id, month_start_date
    window demand_window as (
        partition by material_id, site_id order by month_start_date asc
        rows between {{ var('lost_demand_prior_months') }} preceding and current row
    )
),

material_site_months as materialized (
    -- the mean demand and the material's unit cost per material-site and month, joined to the stock
    -- days below by all three keys. Materialized: computed once even when the planner misjudges the
    -- rows it joins to (seen: an estimate of 1 row made it re-aggregate per stock day, 15 s on a
    -- small warehouse; and the unit cost, joined per stock day, became a nested loop comparing every
    -- day with every material)
    select
        demand_when_available.material_id,
        demand_when_available.site_id,
        demand_when_available.month_start_date,
        demand_when_available.avg_daily_demand,
        coalesce(items.unit_cost_brl, 0) as unit_cost_brl
    from demand_when_available
    left join items
        on demand_when_available.material_id = items.material_id
),

stockouts_estimated as (
    -- every stock day has its material-site-month (both come from the same days)
    select
        stock_days.*,
        material_site_months.unit_cost_brl,
        material_site_months.avg_daily_demand,
        coalesce(
            stock_days.closing_quantity_on_hand <= 0 and material_site_months.avg_daily_demand > 0, false
        ) as is_stockout_day
    from stock_days
    inner join site_family_scopes
        on stock_days.site_id = site_family_scopes.site_id
        and stock_days.family_id = site_family_scopes.family_id
        and stock_days.month_start_date >= site_family_scopes.refresh_from_month
    inner join material_site_months
        on stock_days.material_id = material_site_months.material_id
        and stock_days.site_id = material_site_months.site_id
        and stock_days.month_start_date = material_site_months.month_start_date
),

lost_demand_estimated as (
    select
        *,
        case
            when is_stockout_day then greatest(avg_daily_demand - quantity_consumed, 0)
            else 0
        end as estimated_lost_quantity,
        quantity_consumed * unit_cost_brl as consumption_value_brl,
        closing_quantity_on_hand * unit_cost_brl as closing_inventory_value_brl,
        max(stock_date) over (partition by site_id, family_id, month_start_date) as last_stock_date_of_month
    from stockouts_estimated
),

kpis_aggregated as (
    select
        site_id,
        family_id,
        month_start_date,
        min(stock_date) as first_stock_date,
        max(stock_date) as last_stock_date,
        count(distinct stock_date) as days_in_period,
        count(distinct material_id) as material_site_count,
        sum(quantity_consumed) as quantity_consumed,
        sum(estimated_lost_quantity) as estimated_lost_quantity,
        count(*) filter (where is_stockout_day) as stockout_days,
        count(distinct material_id) filter (where is_stockout_day) as material_sites_with_stockout,
        sum(consumption_value_brl) as consumption_value_brl,
        sum(closing_inventory_value_brl) as inventory_value_day_sum_brl,
        sum(closing_inventory_value_brl) filter (
            where stock_date = last_stock_date_of_month
        ) as closing_inventory_value_brl,
        max(source_validated_at) as source_validated_at
    from lost_demand_estimated
    group by site_id, family_id, month_start_date
),

final as (
    select
        site_id,
        family_id,
        month_start_date,
        first_stock_date,
        last_stock_date,
        days_in_period,
        material_site_count,
        cast(quantity_consumed as numeric(16, 2)) as quantity_consumed,
        cast(round(estimated_lost_quantity, 4) as numeric(18, 4)) as estimated_lost_quantity,
        cast(round(
            quantity_consumed / nullif(quantity_consumed + estimated_lost_quantity, 0), 4
        ) as numeric(6, 4)) as fill_rate,
        stockout_days,
        material_sites_with_stockout,
        cast(round(consumption_value_brl, 2) as numeric(18, 2)) as consumption_value_brl,
        cast(round(inventory_value_day_sum_brl / days_in_period, 2) as numeric(18, 2)) as avg_inventory_value_brl,
        cast(round(closing_inventory_value_brl, 2) as numeric(18, 2)) as closing_inventory_value_brl,
        cast(round(
            closing_inventory_value_brl / nullif(consumption_value_brl / days_in_period, 0), 2
        ) as numeric(12, 2)) as days_of_cover,
        source_validated_at
    from kpis_aggregated
)

select * from final
