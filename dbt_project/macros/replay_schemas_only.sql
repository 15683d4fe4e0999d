{#- on-run-start hook: a build of the reorder points as of the past (var replay_days_back above 0)
    writes only into intermediate_replay / marts_replay (generate_schema_name). It stops before
    building anything when a selected node would land in a live schema instead (intermediate, marts,
    snapshots): a past day's reorder points must never replace today's. -#}
{% macro replay_schemas_only() -%}
    {%- if execute and var('replay_days_back', 0) | int > 0 -%}
        {%- set live = [] -%}
        {%- for node in graph.nodes.values() -%}
            {%- if node.unique_id in selected_resources and node.resource_type in ['model', 'seed', 'snapshot']
                  and node.schema in ['intermediate', 'marts', 'snapshots'] -%}
                {%- do live.append(node.name ~ " (" ~ node.schema ~ ")") -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if live -%}
            {{ exceptions.raise_compiler_error(
                "replay_days_back = " ~ var('replay_days_back') ~ " builds the reorder points of a past day, but "
                ~ live | length ~ " selected node(s) would replace live ones: " ~ live | join(", ")
                ~ ". Only intermediate and marts models belong in that build (they go to intermediate_replay /"
                ~ " marts_replay); select them with --exclude tag:staging."
            ) }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
