{#- on-run-start hook: the read-only BI role exists (NOLOGIN; people log in with their own roles
    and are granted membership) and may use the marts schema; select on each mart comes from the
    `grants` config. Idempotent, and safe when several dbt processes run it at once (models re-run
    alone from their Airflow tasks): a concurrent creation or grant by another process is not an error. -#}
{% macro ensure_bi_reader_role(role_name='nova_bi_reader', schema_name='marts') -%}
do $bi_reader$
begin
    if not exists (select from pg_catalog.pg_roles where rolname = '{{ role_name }}') then
        begin
            create role {{ role_name }} nologin;
        exception
            when duplicate_object or unique_violation then null;
        end;
    end if;
    if exists (select from pg_catalog.pg_namespace where nspname = '{{ schema_name }}')
        and not has_schema_privilege('{{ role_name }}', '{{ schema_name }}', 'USAGE') then
        begin
            grant usage on schema {{ schema_name }} to {{ role_name }};
        exception
            -- "tuple concurrently updated": another process is granting the same privilege
            when internal_error then null;
        end;
    end if;
end
$bi_reader$;
{%- endmacro %}
