{#- on-run-start hook: dbt logs in as nova_transformer (least privilege, README 'Database roles') and
    stops before building anything when its login is a superuser, unless NOVA_ALLOW_SUPERUSER is
    set (the same switch as nova_corrente.db_roles.ALLOW_SUPERUSER_ENV). Roles and grants are
    created by setup (`nova db start`, `nova db roles`), never by dbt. -#}
{% macro refuse_superuser() -%}
    {%- if execute -%}
        {%- set login = run_query(
            "select session_user::text as login_name, (select bool_or(rolsuper) from pg_catalog.pg_roles"
            ~ " where rolname in (session_user, current_user)) as is_superuser"
        ) -%}
        {%- set login_name = login.columns[0].values()[0] -%}
        {%- set allowed = env_var('NOVA_ALLOW_SUPERUSER', '') | trim | lower in ['1', 'true', 'yes', 'on'] -%}
        {%- if login.columns[1].values()[0] and not allowed -%}
            {{ exceptions.raise_compiler_error(
                "dbt refuses to run as " ~ login_name ~ ": a superuser can read and destroy everything,"
                ~ " the ERP included. dbt logs in as nova_transformer (NOVA_DBT_USER; README, 'Database roles');"
                ~ " set NOVA_ALLOW_SUPERUSER=1 to run as a superuser anyway."
            ) }}
        {%- elif login.columns[1].values()[0] -%}
            {{ log("dbt runs as the superuser " ~ login_name ~ " because NOVA_ALLOW_SUPERUSER is set", info=true) }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
