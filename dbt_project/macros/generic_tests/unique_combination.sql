{#- Generic test: the combination of `columns` identifies one row (composite primary key).
    Fails with one row per duplicated combination, with how often it occurs. NULLs in a key column
    count as a value (pair it with not_null on each column). -#}
{% test unique_combination(model, columns) %}
    {%- set keys = columns | join(', ') -%}
    select
        {{ keys }},
        count(*) as occurrences
    from {{ model }}
    group by {{ keys }}
    having count(*) > 1
{% endtest %}
