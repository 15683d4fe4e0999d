{#- Economic order quantity (Harris-Wilson): the order size that balances ordering and holding cost,

        EOQ = sqrt(2 * D * S / H)

    D: annual demand (units/year); S: cost of placing one order (BRL); H: cost of holding one unit for
    a year (BRL/unit/year). Arguments may be columns, literals or expressions. NULL when any argument
    is NULL, D or S is negative, or H is not positive (the formula has no finite answer).
    Example: D 1200, S 100, H 6 -> sqrt(240000 / 6) = 200. double precision. -#}
{% macro eoq(annual_demand, order_cost, holding_cost_per_unit_year) -%}
    {%- set demand = 'cast((' ~ annual_demand ~ ') as double precision)' -%}
    {%- set cost = 'cast((' ~ order_cost ~ ') as double precision)' -%}
    {%- set holding = 'cast((' ~ holding_cost_per_unit_year ~ ') as double precision)' -%}
    (case
        when {{ demand }} is null or {{ cost }} is null or {{ holding }} is null then null
        when {{ demand }} < 0 or {{ cost }} < 0 or {{ holding }} <= 0 then null
        else sqrt(2.0 * {{ demand }} * {{ cost }} / {{ holding }})
    end)
{%- endmacro %}
