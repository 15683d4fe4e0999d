{#- Custom schemas are used verbatim (staging, intermediate, marts, snapshots), not prefixed with
    the target schema: every environment has its own database, so names never collide. A build of
    the reorder points as they were `replay_days_back` days ago (var, above 0) goes to
    intermediate_replay / marts_replay: it reads the live staging views and never touches the live
    intermediate models or marts (replay_schemas_only, on-run-start, refuses it otherwise). -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- elif var('replay_days_back', 0) | int > 0 and custom_schema_name | trim in ('intermediate', 'marts') -%}
        {{ custom_schema_name | trim }}_replay
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
