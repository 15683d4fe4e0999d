{#- Post-hook of the incremental daily facts: drop the days outside the calendar (first to last
    movement date). The calendar shrinks when a movement with a wrong old date (e.g. 1990) is
    corrected or deleted: its extra days must go. -#}
{% macro delete_outside_calendar(date_column) %}
    delete from {{ this }} as fact
    where
        fact.{{ date_column }} < (select min(movement_date) from {{ ref('int_stock_movements_aggregated_to_daily') }})
        or fact.{{ date_column }} > (select max(movement_date) from {{ ref('int_stock_movements_aggregated_to_daily') }})
{% endmacro %}
