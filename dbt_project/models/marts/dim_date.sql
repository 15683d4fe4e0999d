{{ config(indexes=[{'columns': ['calendar_date'], 'unique': true}]) }}
-- One row per day from the first movement, order or weather date (a weather feed may start before
-- the ERP's history: fct_demand_drivers_daily has those days) to `calendar_future_days` (var,
-- default 365) past the last one, so forecast dates join too; holidays (Brazil + Bahia) from the seed
-- br_ba_holidays (scripts/generate_holidays.py). Week days are ISO (1 = Monday).
with

stock_movements as (
    select * from {{ ref('stg_erp__stock_movements') }}
),

purchase_orders as (
    select * from {{ ref('stg_erp__purchase_orders') }}
),

weather_observations as (
    select * from {{ ref('stg_feeds__weather_observations') }}
),

holidays as (
    select * from {{ ref('br_ba_holidays') }}
),

data_dates as (
    select movement_date as data_date from stock_movements
    union all
    select order_date from purchase_orders
    union all
    select weather_date from weather_observations
),

calendar_bounds as (
    select
        min(data_date) as first_date,
        max(data_date) + {{ var('calendar_future_days') }} as last_date
    from data_dates
),

calendar as (
    select cast(calendar_days.calendar_day as date) as calendar_date
    from calendar_bounds
    cross join lateral generate_series(
        calendar_bounds.first_date, calendar_bounds.last_date, interval '1 day'
    ) as calendar_days (calendar_day)
),

public_holidays as (
    select
        holiday_date,
        holiday_name
    from holidays
    where holiday_category = 'public'
),

optional_holidays as (
    select
        holiday_date,
        holiday_name
    from holidays
    where holiday_category = 'optional'
),

calendar_described as (
    select
        calendar.calendar_date,
        cast(extract(year from calendar.calendar_date) as integer) as year_number,
        cast(extract(quarter from calendar.calendar_date) as integer) as quarter_number,
        cast(extract(month from calendar.calendar_date) as integer) as month_number,
        to_char(calendar.calendar_date, 'FMMonth') as month_name,
        cast(extract(day from calendar.calendar_date) as integer) as day_of_month,
        cast(extract(isodow from calendar.calendar_date) as integer) as day_of_week,
        to_char(calendar.calendar_date, 'FMDay') as day_name,
        cast(extract(week from calendar.calendar_date) as integer) as iso_week_number,
        cast(extract(isoyear from calendar.calendar_date) as integer) as iso_year_number,
        extract(isodow from calendar.calendar_date) in (6, 7) as is_weekend,
        public_holidays.holiday_date is not null as is_holiday,
        public_holidays.holiday_name,
        optional_holidays.holiday_date is not null as is_optional_holiday,
        optional_holidays.holiday_name as optional_holiday_name
    from calendar
    left join public_holidays
        on calendar.calendar_date = public_holidays.holiday_date
    left join optional_holidays
        on calendar.calendar_date = optional_holidays.holiday_date
),

final as (
    select
        *,
        not is_weekend and not is_holiday as is_business_day
    from calendar_described
)

select * from final
