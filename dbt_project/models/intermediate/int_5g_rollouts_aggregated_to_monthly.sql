-- ANATEL 5G rollout per city and month, all operators together:
--   stations_5g                 licensed 5G stations before the month starts (sum of operators)
--   stations_5g_added           stations licensed during the month = next month's stations_5g minus
--                               this month's; NULL until the next month's snapshot arrives
--   population_covered_pct      mean of the operators' coverage at the month start
--   population_covered_pct_gained  the same difference for the mean coverage (percentage points)
with

rollouts as (
    select * from {{ ref('stg_feeds__anatel_5g_rollouts') }}
),

cities_monthly as (
    select
        city,
        month_start_date,
        sum(stations_5g) as stations_5g,
        avg(population_covered_pct) as population_covered_pct
    from rollouts
    group by city, month_start_date
),

changes_computed as (
    select
        city,
        month_start_date,
        stations_5g,
        population_covered_pct,
        case
            when lead(month_start_date) over city_months = cast(month_start_date + interval '1 month' as date)
                then lead(stations_5g) over city_months - stations_5g
        end as stations_5g_added,
        case
            when lead(month_start_date) over city_months = cast(month_start_date + interval '1 month' as date)
                then lead(population_covered_pct) over city_months - population_covered_pct
        end as population_covered_pct_gained
    from cities_monthly
    window city_months as (partition by city order by month_start_date)
),

final as (
    select
        city,
        month_start_date,
        stations_5g,
        stations_5g_added,
        cast(population_covered_pct as numeric(5, 2)) as population_covered_pct,
        cast(population_covered_pct_gained as numeric(6, 2)) as population_covered_pct_gained
    from changes_computed
)

select * from final
