{#- Reorder point: expected demand over the lead time plus safety stock,

        ROP = d * L + SS(service_level, d, sd_d, L, sd_L)

    Same arguments and NULL rules as safety_stock(). double precision. -#}
{% macro reorder_point(service_level, avg_daily_demand, std_daily_demand, avg_lead_time_days, std_lead_time_days) -%}
    (cast(({{ avg_daily_demand }}) as double precision) * cast(({{ avg_lead_time_days }}) as double precision)
        + {{ safety_stock(service_level, avg_daily_demand, std_daily_demand, avg_lead_time_days, std_lead_time_days) }})
{%- endmacro %}
