{#- Generic test: none of `columns` holds a NULL. One scan of the model for all of them (a not_null
    test per column scans the model once per column); fails with one row per column that has NULLs,
    naming it and counting its NULL rows. -#}
{% test not_null_columns(model, columns) %}
    with

    counted as (
        select
            {% for column in columns -%}
            count(*) filter (where {{ column }} is null) as null_rows_{{ loop.index }}{{ "," if not loop.last }}
            {% endfor %}
        from {{ model }}
    )

    select
        null_counts.column_name,
        null_counts.null_rows
    from counted
    cross join lateral (
        values
        {% for column in columns -%}
            ('{{ column }}', counted.null_rows_{{ loop.index }}){{ "," if not loop.last }}
        {% endfor %}
    ) as null_counts (column_name, null_rows)
    where null_counts.null_rows > 0
{% endtest %}
