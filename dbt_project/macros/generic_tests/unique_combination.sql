{#- Generic test: `columns` (one or several) are the model's primary key: every key column is
    filled and no combination occurs twice. Fails with one row per duplicated or incomplete
    combination and how often it occurs, so a key needs no separate unique and not_null tests
    (one scan of the model instead of one per test). -#}
{% test unique_combination(model, columns) %}
    {%- set keys = columns | join(', ') -%}
    select
        {{ keys }},
        count(*) as occurrences
    from {{ model }}
    group by {{ keys }}
    having
        count(*) > 1
        {%- for column in columns %}
        or {{ column }} is null
        {%- endfor %}
{% endtest %}
