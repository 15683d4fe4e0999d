{#- Custom schemas are used verbatim (staging, intermediate, marts, snapshots), not prefixed with
    the target schema: every environment has its own database, so names never collide. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
