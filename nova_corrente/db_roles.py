"""Least privilege: the platform's PostgreSQL roles, what each may do, and the matrix as measured.

Every component connects as its own role (``settings.COMPONENT_ROLES``); none is a superuser:

=================  ==========================================================================
role               may
=================  ==========================================================================
nova_erp_reader    CONNECT ``erp``; USAGE + SELECT on its schemas (read-only sessions). The extract.
nova_loader        CONNECT + TEMP ``warehouse``; owns ``raw`` and ``audit`` (creates its tables there).
                   The extract/load, the raw quality gate (reads raw, writes batch statuses and
                   quarantine), the reconciliation gate's results.
nova_transformer   CONNECT + TEMP ``warehouse``; reads ``raw``/``audit`` (also tables the loader
                   creates later: default privileges); owns ``staging``, ``intermediate``,
                   ``marts``, ``snapshots``; reads the forecast tables. dbt; the marts gate; the
                   reconciliation's comparisons (temporary tables against staging and marts).
                   statement_timeout / temp_file_limit: a runaway model cannot fill the disk.
nova_forecaster    CONNECT ``warehouse``; USAGE on ``marts``; SELECT on the marts the forecast
                   reads (``nova_forecast.warehouse.FORECAST_INPUTS``: demand, reorder points,
                   drivers, sites; dbt ``grants``); owns ``marts.forecast_runs``,
                   ``marts.forecast_values`` and ``marts.reorder_point_replays`` (the weekly replay's
                   evidence; it reads the as-of reorder points in ``marts_replay``) (created by
                   setup: it may not create anything else in ``marts``) and the schema
                   ``forecast_staging`` (a sharded run's shards before it is published; no one
                   else has USAGE on it).
nova_bi_reader     CONNECT ``warehouse``; USAGE on ``marts``; SELECT on the published marts (dbt
                   ``grants``). No TEMP, no CREATE, no CONNECT on ``erp``/``airflow``; read-only.
nova_airflow       owns the ``airflow`` database (Airflow's metadata); nothing else.
=================  ==========================================================================

``REVOKE ALL ON DATABASE ... FROM PUBLIC`` on the three databases: CONNECT and TEMP are granted
role by role. The setup that grants all this is *data*: ``setup_sections`` returns the SQL, which
``provision`` runs as the administrator (``nova db start`` for the embedded server, ``nova db roles
--apply`` for an external one) and ``render_psql`` prints as a psql script for a DBA
(``docs/db_roles.sql``). Both are idempotent and converge: re-running fixes drifted ownership and
grants (e.g. a warehouse built before the roles existed).

``refuse_superuser`` is the run-time guard: a component that finds itself logged in as a superuser
stops with a clear message, unless ``NOVA_ALLOW_SUPERUSER=1``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
from psycopg2.extensions import connection as Connection
from psycopg2.extensions import encrypt_password

from nova_corrente.settings import COMPONENT_ROLES, PostgresSettings, component_env_prefix

log = logging.getLogger(__name__)

ERP_READER, LOADER, TRANSFORMER, FORECASTER, BI_READER, AIRFLOW = (
    COMPONENT_ROLES[name] for name in ("erp_reader", "loader", "transformer", "forecaster", "bi_reader", "airflow")
)
ROLES: tuple[str, ...] = tuple(COMPONENT_ROLES.values())

#: warehouse schema -> its owning role (the owner creates, replaces and drops the tables in it)
SCHEMA_OWNERS: dict[str, str] = {
    "raw": LOADER,
    "audit": LOADER,
    "staging": TRANSFORMER,
    "intermediate": TRANSFORMER,
    "marts": TRANSFORMER,
    "snapshots": TRANSFORMER,
    # the reorder points as they were a year ago, for the weekly replay (nova_corrente.reorder_replay)
    "intermediate_replay": TRANSFORMER,
    "marts_replay": TRANSFORMER,
    # the forecast shards before their run is published (ml/nova_forecast/forecast_tables.sql)
    "forecast_staging": FORECASTER,
}
#: tables of the forecaster inside ``marts`` (ml/nova_forecast/forecast_tables.sql), created by setup
FORECAST_TABLES: tuple[str, ...] = ("marts.forecast_runs", "marts.forecast_values")
#: the weekly replay's evidence (nova_corrente/reorder_replay.sql), written by the forecaster too
REPLAY_TABLES: tuple[str, ...] = ("marts.reorder_point_replays",)
FORECASTER_TABLES: tuple[str, ...] = FORECAST_TABLES + REPLAY_TABLES

#: per-role settings that protect the server (``ALTER ROLE ... SET``); everything else is reset
ROLE_SETTINGS: dict[str, dict[str, str]] = {
    ERP_READER: {"default_transaction_read_only": "on"},
    # dbt: the slowest model at 10x the demo takes about a minute; a runaway join is stopped long
    # before it fills the disk with temporary files
    TRANSFORMER: {"statement_timeout": "30min", "temp_file_limit": "10GB"},
    FORECASTER: {"statement_timeout": "15min"},
    BI_READER: {"default_transaction_read_only": "on", "statement_timeout": "5min", "temp_file_limit": "1GB"},
}
#: connection limits (-1: none); BI tools are the load nobody schedules
CONNECTION_LIMITS: dict[str, int] = {BI_READER: 20}

#: set to 1/true/yes to let a component run with a superuser login anyway (not recommended)
ALLOW_SUPERUSER_ENV = "NOVA_ALLOW_SUPERUSER"

# any constant works: serialises concurrent setups (CREATE ROLE / GRANT races) on one server
_SETUP_LOCK_KEY = 7_246_115_010
_SIMPLE_NAME = re.compile(r"[a-z_][a-z0-9_]*")


class SuperuserLogin(RuntimeError):
    """A component was started with a superuser login (and NOVA_ALLOW_SUPERUSER is not set)."""


def _ident(name: str) -> str:
    """A quoted SQL identifier (bare when it is a plain lower-case name)."""
    if _SIMPLE_NAME.fullmatch(name):
        return name
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class Section:
    """Statements to run connected to ``database`` (None: any database, e.g. cluster-wide roles)."""

    database: str | None
    title: str
    statements: tuple[str, ...]


# --------------------------------------------------------------------------------------------
# the setup, as SQL
# --------------------------------------------------------------------------------------------


def _roles_sql() -> list[str]:
    statements = []
    for role in ROLES:
        statements.append(
            f"do $role$\nbegin\n    create role {_ident(role)};\n"
            f"exception\n    when duplicate_object then null;  -- exists already (or was created concurrently)\n"
            f"end\n$role$;"
        )
        limit = CONNECTION_LIMITS.get(role, -1)
        statements.append(
            f"alter role {_ident(role)} with login nosuperuser nocreatedb nocreaterole inherit noreplication "
            f"nobypassrls connection limit {limit};"
        )
        statements.append(f"alter role {_ident(role)} reset all;")
        for name, value in ROLE_SETTINGS.get(role, {}).items():
            statements.append(f"alter role {_ident(role)} set {name} = {_literal(value)};")
    return statements


def _erp_sql(database: str) -> list[str]:
    reader = _ident(ERP_READER)
    return [
        f"revoke all on database {_ident(database)} from public;",
        f"grant connect on database {_ident(database)} to {reader};",
        # schemas and tables the ERP's owner (whoever runs this: the simulator's login) creates later
        f"alter default privileges grant usage on schemas to {reader};",
        f"alter default privileges grant select on tables to {reader};",
        "do $erp$\ndeclare\n    item record;\nbegin\n"
        "    for item in select nspname from pg_catalog.pg_namespace\n"
        "                where nspname !~ '^pg_' and nspname <> 'information_schema' loop\n"
        f"        execute format('grant usage on schema %I to {reader}', item.nspname);\n"
        f"        execute format('grant select on all tables in schema %I to {reader}', item.nspname);\n"
        "    end loop;\nend\n$erp$;",
    ]


def _owners_values(owners: dict[str, str]) -> str:
    return ", ".join(f"({_literal(schema)}, {_literal(role)})" for schema, role in owners.items())


def _converge_owners_sql(owners: dict[str, str], keep: Sequence[str] = ()) -> str:
    """A DO block giving every relation (and standalone type/sequence) of a schema to the schema's owner.

    ``keep`` lists qualified relations left alone (owned by another role on purpose).
    """
    kept = ", ".join(_literal(name) for name in keep) or "''"
    return f"""do $owners$
declare
    item record;
begin
    for item in
        select format('%s %I.%I', case relation.relkind when 'v' then 'view' when 'm' then 'materialized view'
                          when 'f' then 'foreign table' when 'S' then 'sequence' else 'table' end,
                      schema.nspname, relation.relname) as object_name,
               wanted.owner_name
        from pg_catalog.pg_class as relation
        join pg_catalog.pg_namespace as schema on schema.oid = relation.relnamespace
        join (values {_owners_values(owners)}) as wanted (schema_name, owner_name)
            on wanted.schema_name = schema.nspname
        where relation.relkind in ('r', 'p', 'v', 'm', 'f', 'S')
          and relation.relowner <> wanted.owner_name::regrole
          and format('%s.%s', schema.nspname, relation.relname) not in ({kept})
          -- a sequence owned by a column follows its table
          and not (relation.relkind = 'S' and exists (
              select from pg_catalog.pg_depend as dep
              where dep.classid = 'pg_class'::regclass and dep.objid = relation.oid and dep.deptype in ('a', 'i')))
        union all
        select format('type %I.%I', schema.nspname, type.typname), wanted.owner_name
        from pg_catalog.pg_type as type
        join pg_catalog.pg_namespace as schema on schema.oid = type.typnamespace
        join (values {_owners_values(owners)}) as wanted (schema_name, owner_name)
            on wanted.schema_name = schema.nspname
        where type.typtype in ('e', 'd', 'r') and type.typowner <> wanted.owner_name::regrole
    loop
        execute format('alter %s owner to %I', item.object_name, item.owner_name);
    end loop;
end
$owners$;"""


def forecast_tables_ddl() -> str:
    """nova_forecast's ``forecast_tables.sql``, read without importing the (heavy) package."""
    spec = importlib.util.find_spec("nova_forecast")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the nova_forecast package is not installed (make venv)")
    return (Path(spec.submodule_search_locations[0]) / "forecast_tables.sql").read_text()


def replay_tables_ddl() -> str:
    """The replay's table (``nova_corrente/reorder_replay.sql``), read without importing numpy."""
    return (Path(__file__).with_name("reorder_replay.sql")).read_text()


def _warehouse_sql(database: str) -> list[str]:
    loader, transformer, forecaster, bi = (_ident(r) for r in (LOADER, TRANSFORMER, FORECASTER, BI_READER))
    statements = [
        f"revoke all on database {_ident(database)} from public;",
        f"grant connect on database {_ident(database)} to {loader}, {transformer}, {forecaster}, {bi};",
        # temporary tables: the extract's change capture and the feed loader stage rows in them, so do
        # dbt's incremental models, snapshots and the reconciliation's comparisons
        f"grant temporary on database {_ident(database)} to {loader}, {transformer};",
    ]
    for schema, owner in SCHEMA_OWNERS.items():
        statements.append(f"create schema if not exists {_ident(schema)} authorization {_ident(owner)};")
        statements.append(f"alter schema {_ident(schema)} owner to {_ident(owner)};")
    statements += [
        # staging reads raw and the batch register; tables the loader creates later are covered too
        f"grant usage on schema raw, audit to {transformer};",
        f"grant select on all tables in schema raw, audit to {transformer};",
        f"alter default privileges for role {loader} in schema raw, audit grant select on tables to {transformer};",
        f"grant usage on schema marts to {forecaster}, {bi};",
        # the replay reads the as-of reorder points (dbt grants SELECT on the two tables it reads)
        f"grant usage on schema marts_replay to {forecaster};",
        # the forecaster's tables: created here (it may not create tables), owned by it, read by dbt
        forecast_tables_ddl().strip(),
        replay_tables_ddl().strip(),
        *(f"alter table {table} owner to {forecaster};" for table in FORECASTER_TABLES),
        f"grant select on {', '.join(FORECASTER_TABLES)} to {transformer};",
        # objects created by another login (a warehouse from before the roles, a manual fix) go to
        # the schema's owner
        _converge_owners_sql(SCHEMA_OWNERS, keep=FORECASTER_TABLES),
    ]
    return statements


def _airflow_sql(database: str) -> list[str]:
    return [
        f"revoke all on database {_ident(database)} from public;",
        f"alter database {_ident(database)} owner to {_ident(AIRFLOW)};",
        _converge_owners_sql({"public": AIRFLOW}),
    ]


def setup_sections(pg: PostgresSettings) -> list[Section]:
    """The whole setup as SQL: roles (cluster-wide), then each database's grants. Idempotent."""
    return [
        Section(None, "roles: one login per component, no superuser, limits that protect the server",
                tuple(_roles_sql())),
        Section(pg.erp_db, "ERP: read-only for the extract", tuple(_erp_sql(pg.erp_db))),
        Section(pg.warehouse_db, "warehouse: schemas, owners, grants", tuple(_warehouse_sql(pg.warehouse_db))),
        Section(pg.airflow_db, "Airflow metadata: owned by its own role", tuple(_airflow_sql(pg.airflow_db))),
    ]


def render_psql(pg: PostgresSettings) -> str:
    """The setup as a psql script for a DBA (run as a superuser: ``psql -f``); no passwords in it."""
    lines = [
        "-- Nova Corrente: PostgreSQL roles and grants (least privilege). Generated by `nova db roles`",
        "-- from nova_corrente/db_roles.py; do not edit by hand. Idempotent: safe to run again.",
        f"-- Databases: erp={pg.erp_db}, warehouse={pg.warehouse_db}, airflow={pg.airflow_db} (they must exist).",
        "-- Run as a superuser:  psql -h HOST -U postgres -d postgres -f db_roles.sql",
        "-- Then give each login its password (hashed by psql, never sent in clear):",
        *(f"--   \\password {role}" for role in ROLES),
        "-- and to each component its login (README, 'Database roles'), e.g. NOVA_PG_LOADER_PASSWORD.",
        "-- The ERP grants: default privileges are those of the role running this script, i.e. the",
        "-- role that creates the ERP's tables; with another owner, add FOR ROLE <owner>.",
        "\\set ON_ERROR_STOP on",
        "",
    ]
    for section in setup_sections(pg):
        lines.append(f"-- {section.title}")
        if section.database is not None:
            lines.append(f"\\connect {_ident(section.database)}")
        lines.extend(section.statements)
        lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# applying it
# --------------------------------------------------------------------------------------------


def _passwords(pg: PostgresSettings) -> dict[str, str]:
    """role -> password to set: every role's generated one (embedded), those exported (external)."""
    passwords = {}
    for component, role in COMPONENT_ROLES.items():
        if pg.embedded:
            passwords[role] = pg.as_role(component).password
        else:
            value = os.environ.get(f"{component_env_prefix(component)}_PASSWORD")
            if value:
                passwords[role] = value
    return passwords


def provision(pg: PostgresSettings, *, set_passwords: bool = True) -> list[str]:
    """Create the roles and apply every grant as the administrator (``pg`` is the admin's login).

    The databases must exist. Passwords: the embedded server's generated ones; on an external server
    those of ``NOVA_PG_<COMPONENT>_PASSWORD`` that are set (sent as SCRAM verifiers computed here,
    never in clear). Returns the roles whose password was set. Safe to run concurrently.
    """
    if pg.component is not None:
        raise ValueError(f"setup runs as the administrator, not as the {pg.component}'s login")
    sections = setup_sections(pg)
    lock = psycopg2.connect(pg.dsn("postgres"))
    lock.autocommit = True
    try:
        with lock.cursor() as cur:
            cur.execute("select pg_advisory_lock(%s)", (_SETUP_LOCK_KEY,))
        updated = []
        for section in sections:
            conn = lock if section.database is None else psycopg2.connect(pg.dsn(section.database))
            try:
                with conn, conn.cursor() as cur:  # one transaction per database
                    for statement in section.statements:
                        cur.execute(statement)
                    if section.database is None and set_passwords:
                        for role, password in _passwords(pg).items():
                            verifier = encrypt_password(password, role, conn, "scram-sha-256")
                            cur.execute(f"alter role {_ident(role)} password %s", (verifier,))
                            updated.append(role)
            finally:
                if conn is not lock:
                    conn.close()
        with lock.cursor() as cur:
            cur.execute("select pg_advisory_unlock(%s)", (_SETUP_LOCK_KEY,))
    finally:
        lock.close()
    log.info("roles and grants applied on %s (%s, %s, %s)", pg.describe(), pg.erp_db, pg.warehouse_db, pg.airflow_db)
    return updated


# --------------------------------------------------------------------------------------------
# the run-time guard
# --------------------------------------------------------------------------------------------


def superuser_allowed() -> bool:
    return os.environ.get(ALLOW_SUPERUSER_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def refuse_superuser(conn: Connection, who: str) -> None:
    """Raise SuperuserLogin when ``conn`` is logged in as a superuser (unless NOVA_ALLOW_SUPERUSER).

    Leaves no transaction open (the caller may still change the session's characteristics).
    """
    with conn.cursor() as cur:
        cur.execute(
            "select session_user::text, (select bool_or(rolsuper) from pg_catalog.pg_roles"
            " where rolname in (session_user, current_user))"
        )
        user, is_superuser = cur.fetchone()
    conn.rollback()
    if not is_superuser:
        return
    if superuser_allowed():
        log.warning("%s runs as the superuser %s because %s is set: least privilege is off", who, user,
                    ALLOW_SUPERUSER_ENV)
        return
    raise SuperuserLogin(
        f"{who} refuses to run as {user}: a superuser can read and destroy everything, the ERP included. "
        f"Each component connects as its own role (README, 'Database roles'); fix its login, or set "
        f"{ALLOW_SUPERUSER_ENV}=1 to run as a superuser anyway."
    )


def check_login(pg: PostgresSettings, database: str, who: str) -> None:
    """Connect once as ``pg``'s login and apply ``refuse_superuser`` (components that use other drivers)."""
    conn = psycopg2.connect(pg.dsn(database))
    try:
        refuse_superuser(conn, who)
    finally:
        conn.close()


# --------------------------------------------------------------------------------------------
# the privilege matrix, measured from the catalog
# --------------------------------------------------------------------------------------------

#: PostgreSQL's own ACL letters (as in psql's \dp): what each cell of the matrix shows
DATABASE_RIGHTS = {"CONNECT": "c", "TEMPORARY": "T", "CREATE": "C"}
SCHEMA_RIGHTS = {"USAGE": "U", "CREATE": "C"}
TABLE_RIGHTS = {"INSERT": "a", "SELECT": "r", "UPDATE": "w", "DELETE": "d", "TRUNCATE": "D"}  # psql's order
PUBLIC = "public"


@dataclass
class ObjectRights:
    """One role's rights on one database, or on one schema and its tables."""

    role: str
    database: str
    schema: str | None  # None: the database itself
    owner: bool
    rights: str  # letters of DATABASE_RIGHTS or SCHEMA_RIGHTS
    #: table -> letters of TABLE_RIGHTS, only tables of schemas the role may use (USAGE)
    tables: dict[str, str] = field(default_factory=dict)
    table_count: int = 0

    def cell(self) -> str:
        """``O`` (owner) + rights, then the table rights grouped: ``OUC arwdD 12/12``."""
        text = ("O" if self.owner else "") + self.rights
        if self.schema is not None and self.table_count:
            groups: dict[str, int] = {}
            for letters in self.tables.values():
                if letters:
                    groups[letters] = groups.get(letters, 0) + 1
            for letters, count in sorted(groups.items(), key=lambda item: (-len(item[0]), item[0])):
                text += f" {letters} {count}/{self.table_count}"
        return text or "-"


@dataclass
class RoleAttributes:
    role: str
    superuser: bool
    login: bool
    createrole: bool
    createdb: bool
    bypassrls: bool
    replication: bool
    connection_limit: int
    settings: list[str]
    member_of: list[str]


@dataclass
class PrivilegeMatrix:
    roles: list[RoleAttributes]
    objects: list[ObjectRights]

    def cell(self, role: str, database: str, schema: str | None) -> ObjectRights | None:
        for item in self.objects:
            if (item.role, item.database, item.schema) == (role, database, schema):
                return item
        return None


_ROLE_QUERY = """
select role.rolname, role.rolsuper, role.rolcanlogin, role.rolcreaterole, role.rolcreatedb, role.rolbypassrls,
       role.rolreplication, role.rolconnlimit,
       coalesce((select array_agg(setting order by setting) from pg_catalog.pg_db_role_setting as conf,
                 unnest(conf.setconfig) as setting where conf.setrole = role.oid and conf.setdatabase = 0), '{}'),
       coalesce((select array_agg(grp.rolname::text order by grp.rolname) from pg_catalog.pg_auth_members as member
                 join pg_catalog.pg_roles as grp on grp.oid = member.roleid where member.member = role.oid), '{}')
from pg_catalog.pg_roles as role
where role.rolname = any(%s)
order by array_position(%s, role.rolname::text)
"""


def _has(kind: str, role: str, target: str, right: str) -> str:
    return f"has_{kind}_privilege({_literal(role)}, {target}, {_literal(right)})"


def measure(pg: PostgresSettings, roles: Sequence[str] = (*ROLES, PUBLIC)) -> PrivilegeMatrix:
    """Every role's rights on the three databases, their schemas and tables, read from the catalog
    (``has_*_privilege``: grants to PUBLIC, memberships and ownership included). Runs as the admin."""
    named = [role for role in roles if role != PUBLIC]
    objects: list[ObjectRights] = []
    with psycopg2.connect(pg.dsn("postgres")) as conn, conn.cursor() as cur:
        cur.execute(_ROLE_QUERY, (named, named))
        attributes = [RoleAttributes(*row[:8], settings=list(row[8]), member_of=list(row[9]))
                      for row in cur.fetchall()]
        for database in pg.databases:
            for role in roles:
                checks = ", ".join(_has("database", role, "datname", right) for right in DATABASE_RIGHTS)
                owner = "false" if role == PUBLIC else f"pg_has_role({_literal(role)}, datdba, 'USAGE')"
                cur.execute(f"select {owner}, {checks} from pg_catalog.pg_database where datname = %s", (database,))
                row = cur.fetchone()
                if row is None:
                    continue
                letters = "".join(letter for letter, ok in zip(DATABASE_RIGHTS.values(), row[1:], strict=True) if ok)
                objects.append(ObjectRights(role, database, None, bool(row[0]), letters))
    conn.close()
    for database in pg.databases:
        objects += _measure_schemas(pg, database, roles)
    return PrivilegeMatrix(attributes, objects)


def _measure_schemas(pg: PostgresSettings, database: str, roles: Sequence[str]) -> list[ObjectRights]:
    found: list[ObjectRights] = []
    try:
        conn = psycopg2.connect(pg.dsn(database))
    except psycopg2.OperationalError:
        return found
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "select nspname from pg_catalog.pg_namespace where nspname !~ '^pg_' "
                "and nspname <> 'information_schema' order by nspname"
            )
            schemas = [row[0] for row in cur.fetchall()]
            for role in roles:
                schema_checks = ", ".join(_has("schema", role, "oid", right) for right in SCHEMA_RIGHTS)
                owner = "false" if role == PUBLIC else f"pg_has_role({_literal(role)}, nspowner, 'USAGE')"
                table_checks = ", ".join(_has("table", role, "relation.oid", right) for right in TABLE_RIGHTS)
                for schema in schemas:
                    cur.execute(f"select {owner}, {schema_checks} from pg_catalog.pg_namespace where nspname = %s",
                                (schema,))
                    row = cur.fetchone()
                    letters = "".join(letter for letter, ok in zip(SCHEMA_RIGHTS.values(), row[1:], strict=True)
                                      if ok)
                    item = ObjectRights(role, database, schema, bool(row[0]), letters)
                    cur.execute(
                        f"select relation.relname, {table_checks} from pg_catalog.pg_class as relation "
                        "join pg_catalog.pg_namespace as schema on schema.oid = relation.relnamespace "
                        "where schema.nspname = %s and relation.relkind in ('r', 'p', 'v', 'm', 'f') "
                        "order by relation.relname",
                        (schema,),
                    )
                    tables = cur.fetchall()
                    item.table_count = len(tables)
                    if "U" in letters:  # without USAGE on the schema no table in it is reachable
                        item.tables = {
                            name: "".join(letter for letter, ok in zip(TABLE_RIGHTS.values(), flags, strict=True)
                                          if ok)
                            for name, *flags in tables
                        }
                    found.append(item)
    finally:
        conn.close()
    return found


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def format_matrix(matrix: PrivilegeMatrix, pg: PostgresSettings) -> str:
    """The matrix as text: role attributes, then one grid per database (schemas x roles)."""
    roles = list(dict.fromkeys(item.role for item in matrix.objects))
    lines = ["Role attributes (pg_roles; settings = ALTER ROLE ... SET):"]
    header = f"  {'role':<18} {'login':<6}{'super':<6}{'createrole':<11}{'createdb':<9}{'bypassrls':<10}" \
             f"{'conn limit':<11}{'member of':<10} settings"
    lines.append(header)
    for attrs in matrix.roles:
        limit = "none" if attrs.connection_limit < 0 else str(attrs.connection_limit)
        lines.append(
            f"  {attrs.role:<18} {_yes(attrs.login):<6}{_yes(attrs.superuser):<6}{_yes(attrs.createrole):<11}"
            f"{_yes(attrs.createdb):<9}{_yes(attrs.bypassrls):<10}{limit:<11}{', '.join(attrs.member_of) or '-':<10} "
            f"{', '.join(attrs.settings) or '-'}"
        )
    lines += [
        "",
        "Rights (has_*_privilege: grants, PUBLIC, membership and ownership included). O owner; database:",
        "c CONNECT, T TEMPORARY, C CREATE; schema: U USAGE, C CREATE; tables (only where the schema is usable):",
        "a INSERT, r SELECT, w UPDATE, d DELETE, D TRUNCATE, with how many of the schema's tables.",
    ]
    width = max(16, *(len(role) + 2 for role in roles), *(len(item.cell()) + 2 for item in matrix.objects))
    for database in pg.databases:
        rows = [item for item in matrix.objects if item.database == database]
        if not rows:
            continue
        lines.append("")
        lines.append(f"database {database}")
        lines.append(f"  {'':<16}" + "".join(f"{role:<{width}}" for role in roles))
        targets = list(dict.fromkeys(item.schema for item in rows))
        for target in targets:
            label = "(database)" if target is None else target
            cells = [matrix.cell(role, database, target) for role in roles]
            lines.append(f"  {label:<16}" + "".join(f"{(c.cell() if c else '?'):<{width}}" for c in cells))
    partial = _partial_tables(matrix)
    if partial:
        lines.append("")
        lines.append("Tables where a role's rights differ within a schema:")
        lines.extend(partial)
    return "\n".join(lines)


def _partial_tables(matrix: PrivilegeMatrix) -> list[str]:
    """Where one role's table rights differ within a schema: the smaller groups by name."""
    lines = []
    for item in matrix.objects:
        groups: dict[str, list[str]] = {}
        for table, letters in item.tables.items():
            groups.setdefault(letters or "-", []).append(table)
        if len(groups) < 2:
            continue
        largest = max(groups, key=lambda letters: len(groups[letters]))
        for letters, tables in sorted(groups.items()):
            if letters != largest:
                lines.append(f"  {item.role:<18} {item.database}.{item.schema}: {letters:<6} {', '.join(tables)}")
        lines.append(f"  {item.role:<18} {item.database}.{item.schema}: {largest:<6} the other "
                     f"{len(groups[largest])} tables")
    return lines
