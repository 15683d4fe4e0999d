-- fct_stock_daily is incremental: the rewritten recent days must connect to the days kept from
-- earlier runs, i.e. every day opens with the previous day's closing stock. A break means stock on
-- hand moved in a way the recent movements do not explain (e.g. a correction older than
-- demand_lookback_days): rebuild with `dbt build --full-refresh --select fct_stock_daily`.
-- Checked over the days an incremental build rewrites and the day before them (the seam; a
-- material-site rewritten whole is continuous by construction): the test reads what changed, not
-- the whole history.
with

stock_daily as (
    select stock_daily.*
    from {{ ref('fct_stock_daily') }} as stock_daily
    where stock_daily.stock_date >= (
        select max(all_days.stock_date) - {{ var('demand_lookback_days') }} - 1
        from {{ ref('fct_stock_daily') }} as all_days
    )
),

positions_with_previous_day as (
    select
        material_id,
        site_id,
        stock_date,
        opening_quantity_on_hand,
        lag(closing_quantity_on_hand) over (
            partition by material_id, site_id order by stock_date asc
        ) as previous_closing_quantity_on_hand,
        lag(stock_date) over (partition by material_id, site_id order by stock_date asc) as previous_stock_date
    from stock_daily
)

select *
from positions_with_previous_day
where
    previous_stock_date is not null
    and (
        previous_stock_date <> stock_date - 1
        or previous_closing_quantity_on_hand <> opening_quantity_on_hand
    )
