-- The running balance of fct_stock_daily never goes below zero: a day's opening stock plus its
-- movements (its closing stock) is never negative, and neither is the stock it starts from (the
-- first day's opening is the opening stock). A negative balance means a movement took stock that
-- was not there: movements and stock_on_hand disagree. Returns the offending days.
select
    material_id,
    site_id,
    stock_date,
    opening_quantity_on_hand,
    net_change_quantity,
    closing_quantity_on_hand
from {{ ref('fct_stock_daily') }}
where
    closing_quantity_on_hand < 0
    or opening_quantity_on_hand < 0
