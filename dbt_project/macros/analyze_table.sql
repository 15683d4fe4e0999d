{#- Post-hook of every model (dbt_project.yml): ANALYZE the table just built, so that the models
    reading it later in the same run plan on its real row count and column statistics instead of
    the defaults of a table autovacuum has not analyzed yet (a misestimated join turns into a
    nested loop). Renders nothing for views and ephemeral models. -#}
{% macro analyze_table() %}
    {%- if config.get('materialized') in ('table', 'incremental') -%}
        analyze {{ this }}
    {%- endif -%}
{% endmacro %}
