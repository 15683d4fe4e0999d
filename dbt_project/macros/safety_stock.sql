{#- Safety stock under normal demand and lead-time variability:

        SS = z(service_level) * sqrt(L * sd_d^2 + d^2 * sd_L^2)

    d / sd_d: mean and standard deviation of daily demand; L / sd_L: mean and standard deviation of
    the lead time in days. Arguments may be columns, literals or expressions. NULL when any of the
    four quantities is negative or NULL, or the service level is outside (0, 1). double precision. -#}
{% macro safety_stock(service_level, avg_daily_demand, std_daily_demand, avg_lead_time_days, std_lead_time_days) -%}
    {%- set d = 'cast((' ~ avg_daily_demand ~ ') as double precision)' -%}
    {%- set sd_d = 'cast((' ~ std_daily_demand ~ ') as double precision)' -%}
    {%- set lead = 'cast((' ~ avg_lead_time_days ~ ') as double precision)' -%}
    {%- set sd_lead = 'cast((' ~ std_lead_time_days ~ ') as double precision)' -%}
    (case
        when {{ d }} is null or {{ sd_d }} is null or {{ lead }} is null or {{ sd_lead }} is null then null
        when {{ d }} < 0 or {{ sd_d }} < 0 or {{ lead }} < 0 or {{ sd_lead }} < 0 then null
        else {{ service_level_z(service_level) }}
            * sqrt({{ lead }} * {{ sd_d }} * {{ sd_d }} + {{ d }} * {{ d }} * {{ sd_lead }} * {{ sd_lead }})
    end)
{%- endmacro %}
