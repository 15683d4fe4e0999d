"""Least privilege on a real PostgreSQL: each role can do its job and nothing else.

The module's databases get the platform's setup (``db_roles.provision``, as ``nova db start``
does), a small ERP created by its owner, and warehouse objects created by the roles that create
them in production (the loader its raw/audit tables, dbt's role the marts with dbt's grants). Then
every component logs in with its own generated password and tries its job and what it must not do.
"""

from __future__ import annotations

import dataclasses
import os
import re
import stat
import subprocess
import sys
import tempfile
from contextlib import closing
from pathlib import Path

import psycopg2
import pytest

from nova_corrente import airflow_services, db_roles, postgres_server
from nova_corrente.contracts.erp import TABLES as ERP_TABLES
from nova_corrente.contracts.erp import ddl as erp_ddl
from nova_corrente.extract.connections import connect
from nova_corrente.settings import COMPONENT_ROLES, REPO_ROOT, PostgresSettings, dbt_env

COMMITTED_SCRIPT = REPO_ROOT / "docs" / "db_roles.sql"


def _run(pg: PostgresSettings, database: str, *statements: str) -> list[tuple]:
    """Run statements in one transaction as ``pg``'s login; the last one's rows."""
    with closing(psycopg2.connect(pg.dsn(database))) as conn, conn, conn.cursor() as cur:
        rows: list[tuple] = []
        for statement in statements:
            cur.execute(statement)
            rows = cur.fetchall() if cur.description else []
        return rows


@pytest.fixture(scope="module")
def roles_db(pg_module: PostgresSettings) -> PostgresSettings:
    """ERP written by its owner; raw/audit by the loader; staging/marts by dbt's role with its grants."""
    pg = pg_module
    _run(pg, pg.erp_db, erp_ddl(),
         "insert into erp.suppliers values ('SUP-001', 'Baterias do Nordeste', 'Salvador', 'BA', true, now())")
    loader = pg.as_role("loader")
    _run(loader, pg.warehouse_db,
         "create table raw.erp_suppliers (supplier_id text, _batch_id text, _source text, _loaded_at timestamptz)",
         "insert into raw.erp_suppliers values ('SUP-001', 'b1', 'erp.suppliers', now())",
         "create table audit.load_batches (batch_id text primary key, status text)",
         "insert into audit.load_batches values ('b1', 'passed')",
         # a table added after setup (the quarantine of issue 7, reconciliation results...)
         "create table audit.quarantined_rows (batch_id text, reason text)")
    _run(pg.as_role("transformer"), pg.warehouse_db,
         "create view staging.stg_erp__suppliers as select supplier_id from raw.erp_suppliers",
         "create table marts.dim_supplier as select * from staging.stg_erp__suppliers",
         "create table marts.fct_demand_daily as select 'MAT-1'::text as material_id, 'SITE-1'::text as site_id,"
         " current_date as demand_date, 2.0 as quantity_consumed",
         # what dbt's grants config gives (dbt_project.yml, _marts__models.yml)
         "grant select on marts.dim_supplier, marts.fct_demand_daily to nova_bi_reader",
         "grant select on marts.fct_demand_daily to nova_forecaster")
    return pg


# --------------------------------------------------------------------------------------------
# each role can do its job
# --------------------------------------------------------------------------------------------


def test_the_erp_reader_reads_the_erp_in_read_only_sessions(roles_db):
    reader = roles_db.as_role("erp_reader")
    assert _run(reader, roles_db.erp_db, "select supplier_id from erp.suppliers") == [("SUP-001",)]
    conn = connect(roles_db, "erp")  # the extract's door to the ERP
    try:
        with conn.cursor() as cur:
            cur.execute("select current_user, current_setting('transaction_read_only')")
            assert cur.fetchone() == ("nova_erp_reader", "on")
    finally:
        conn.close()


def test_the_loader_writes_raw_and_audit_and_new_audit_tables_reach_dbt(roles_db):
    loader = roles_db.as_role("loader")
    _run(loader, roles_db.warehouse_db,
         "create table raw.probe (id int)", "drop table raw.probe",
         "insert into audit.quarantined_rows values ('b1', 'negative quantity')",
         "update audit.load_batches set status = 'passed' where batch_id = 'b1'",
         "delete from raw.erp_suppliers where _batch_id = 'none'")
    conn = connect(roles_db, "warehouse")  # the administrator's settings: the loader's login
    try:
        with conn.cursor() as cur:
            cur.execute("select current_user")
            assert cur.fetchone() == ("nova_loader",)
            cur.execute("create temporary table _incoming as select * from raw.erp_suppliers")  # change capture
    finally:
        conn.close()
    # the table the loader created after setup is readable by dbt without a new grant (default privileges)
    transformer = roles_db.as_role("transformer")
    assert _run(transformer, roles_db.warehouse_db, "select reason from audit.quarantined_rows") == [
        ("negative quantity",)]


def test_the_transformer_builds_the_models_it_owns(roles_db):
    transformer = roles_db.as_role("transformer")
    rows = _run(
        transformer, roles_db.warehouse_db,
        "create temporary table incremental_tmp as select * from raw.erp_suppliers",  # dbt incrementals
        "create table intermediate.int_suppliers_counted as select count(*) as suppliers from incremental_tmp",
        "create table snapshots.snap_suppliers as select * from staging.stg_erp__suppliers",
        "select count(*) from audit.load_batches",
        "drop table intermediate.int_suppliers_counted, snapshots.snap_suppliers",
        "drop table marts.dim_supplier",
        "create table marts.dim_supplier as select * from staging.stg_erp__suppliers",
        "grant select on marts.dim_supplier to nova_bi_reader",
        "select count(*) from marts.forecast_values",
        "select current_setting('statement_timeout'), current_setting('temp_file_limit')",
    )
    assert rows == [("30min", "10GB")]


def test_the_forecaster_reads_demand_and_writes_its_run(roles_db):
    forecaster = roles_db.as_role("forecaster")
    rows = _run(
        forecaster, roles_db.warehouse_db,
        "insert into marts.forecast_runs (run_id, model_version, generated_at, source, dataset_id, parameters,"
        " data_fingerprint, metrics, series_count) values ('r1', 'v', now(), 'test', 'd', '{}', 'f', '{}', 1)",
        "insert into marts.forecast_values (run_id, material_id, site_id, forecast_date, yhat, yhat_lo_80,"
        " yhat_hi_80, yhat_lo_95, yhat_hi_95, model, demand_class, model_version, generated_at, source,"
        " dataset_id) select 'r1', material_id, site_id, demand_date + 1, 2, 1, 3, 0, 4, 'naive', 'smooth', 'v',"
        " now(), 'test', 'd' from marts.fct_demand_daily",
        "delete from marts.forecast_runs where run_id = 'r0'",
        "select count(*) from marts.forecast_values",
    )
    assert rows == [(1,)]


def test_the_bi_reader_reads_the_published_marts(roles_db):
    bi = roles_db.as_role("bi_reader")
    assert _run(bi, roles_db.warehouse_db, "select supplier_id from marts.dim_supplier") == [("SUP-001",)]


def test_airflow_owns_its_metadata_database(roles_db):
    airflow = roles_db.as_role("airflow")
    _run(airflow, roles_db.airflow_db, "create table public.dag_probe (id int)", "drop table public.dag_probe")
    owner = _run(roles_db, "postgres", f"select pg_get_userbyid(datdba) from pg_database "
                                       f"where datname = '{roles_db.airflow_db}'")
    assert owner == [("nova_airflow",)]


# --------------------------------------------------------------------------------------------
# ... and nothing else
# --------------------------------------------------------------------------------------------

FORBIDDEN = [
    # (component, database, statement, error)
    ("loader", "warehouse", "insert into marts.dim_supplier values ('X')", "permission denied for schema marts"),
    ("loader", "warehouse", "create table marts.fct_fake (id int)", "permission denied for schema marts"),
    ("loader", "warehouse", "select * from staging.stg_erp__suppliers", "permission denied for schema staging"),
    ("loader", "warehouse", "create schema scratch", "permission denied for database"),
    ("loader", "erp", "select 1", "permission denied for database"),
    ("transformer", "erp", "select 1", "permission denied for database"),
    ("transformer", "warehouse", "insert into raw.erp_suppliers (supplier_id) values ('X')",
     "permission denied for table erp_suppliers"),
    ("transformer", "warehouse", "update audit.load_batches set status = 'passed'",
     "permission denied for table load_batches"),
    ("transformer", "warehouse", "insert into marts.forecast_runs (run_id) values ('X')",
     "permission denied for table forecast_runs"),
    ("transformer", "warehouse", "create schema scratch", "permission denied for database"),
    ("transformer", "airflow", "select 1", "permission denied for database"),
    ("forecaster", "warehouse", "insert into marts.dim_supplier values ('X')", "permission denied for table dim_supplier"),
    ("forecaster", "warehouse", "delete from marts.fct_demand_daily", "permission denied for table fct_demand_daily"),
    ("forecaster", "warehouse", "create table marts.forecast_extra (id int)", "permission denied for schema marts"),
    ("forecaster", "warehouse", "select * from raw.erp_suppliers", "permission denied for schema raw"),
    ("forecaster", "warehouse", "create temporary table t (id int)", "permission denied to create temporary tables"),
    ("forecaster", "erp", "select 1", "permission denied for database"),
    ("bi_reader", "warehouse", "select * from raw.erp_suppliers", "permission denied for schema raw"),
    ("bi_reader", "warehouse", "select * from audit.load_batches", "permission denied for schema audit"),
    ("bi_reader", "warehouse", "select * from staging.stg_erp__suppliers", "permission denied for schema staging"),
    ("bi_reader", "warehouse", "select * from marts.forecast_values", "permission denied for table forecast_values"),
    ("bi_reader", "warehouse", "create table marts.mine (id int)", "cannot execute CREATE TABLE in a read-only"),
    ("bi_reader", "warehouse", "set transaction read write; create table marts.mine (id int)",
     "permission denied for schema marts"),
    ("bi_reader", "warehouse", "set transaction read write; create table public.mine (id int)",
     "permission denied for schema public"),
    ("bi_reader", "warehouse", "set transaction read write; create temporary table t (id int)",
     "permission denied to create temporary tables"),
    ("bi_reader", "warehouse", "set transaction read write; create schema mine", "permission denied for database"),
    ("bi_reader", "warehouse", "set transaction read write; insert into marts.dim_supplier values ('X')",
     "permission denied for table dim_supplier"),
    ("bi_reader", "erp", "select 1", "permission denied for database"),
    ("bi_reader", "airflow", "select 1", "permission denied for database"),
    ("erp_reader", "erp", "insert into erp.suppliers (supplier_id) values ('X')", "read-only transaction"),
    ("erp_reader", "erp", "set transaction read write; insert into erp.suppliers (supplier_id) values ('X')",
     "permission denied for table suppliers"),
    ("erp_reader", "warehouse", "select 1", "permission denied for database"),
    ("airflow", "warehouse", "select 1", "permission denied for database"),
    ("airflow", "erp", "select 1", "permission denied for database"),
]


@pytest.mark.parametrize(("component", "database", "statement", "error"), FORBIDDEN,
                         ids=[f"{c}-{d}-{s[:40]}" for c, d, s, _ in FORBIDDEN])
def test_a_role_cannot_do_what_is_not_its_job(roles_db, component, database, statement, error):
    login = roles_db.as_role(component)
    name = {"erp": roles_db.erp_db, "warehouse": roles_db.warehouse_db, "airflow": roles_db.airflow_db}[database]
    with pytest.raises(psycopg2.Error, match=error):
        _run(login, name, statement)


def test_no_component_role_has_any_power_over_the_server(roles_db):
    matrix = db_roles.measure(roles_db)
    for attrs in matrix.roles:
        assert attrs.login, attrs.role
        assert not (attrs.superuser or attrs.createrole or attrs.createdb or attrs.bypassrls or attrs.replication)
        assert attrs.member_of == [], attrs.role
    assert {attrs.role for attrs in matrix.roles} == set(COMPONENT_ROLES.values())


# --------------------------------------------------------------------------------------------
# the privilege matrix, from the catalog
# --------------------------------------------------------------------------------------------

#: (database, schema or None) -> role -> the cell of `nova db privileges` (O owner + ACL letters)
EXPECTED = {
    ("erp", None): {"nova_erp_reader": "c"},
    ("erp", "erp"): {"nova_erp_reader": f"U r {len(ERP_TABLES)}/{len(ERP_TABLES)}"},  # the contract's tables
    ("warehouse", None): {"nova_loader": "cT", "nova_transformer": "cT", "nova_forecaster": "c", "nova_bi_reader": "c"},
    ("warehouse", "raw"): {"nova_loader": "OUC arwdD 1/1", "nova_transformer": "U r 1/1"},
    ("warehouse", "audit"): {"nova_loader": "OUC arwdD 2/2", "nova_transformer": "U r 2/2"},
    ("warehouse", "staging"): {"nova_transformer": "OUC arwdD 1/1"},
    ("warehouse", "intermediate"): {"nova_transformer": "OUC"},
    ("warehouse", "snapshots"): {"nova_transformer": "OUC"},
    # the forecaster's three tables (forecast runs and values, the replay's evidence) and one dbt mart here
    ("warehouse", "marts"): {"nova_transformer": "OUC arwdD 2/5 r 3/5", "nova_forecaster": "U arwdD 3/5 r 1/5",
                             "nova_bi_reader": "U r 2/5"},
    # the weekly replay's as-of build (dbt) and what the forecaster replays from it
    ("warehouse", "intermediate_replay"): {"nova_transformer": "OUC"},
    ("warehouse", "marts_replay"): {"nova_transformer": "OUC", "nova_forecaster": "U"},
    # a sharded forecast run's shards before it is published: the forecaster's alone (BI never sees them)
    ("warehouse", "forecast_staging"): {"nova_forecaster": "OUC arwdD 1/1"},
    ("airflow", None): {"nova_airflow": "OcTC"},
    # PUBLIC's USAGE on the public schemas (PostgreSQL's default, harmless without CONNECT or CREATE)
    ("airflow", "public"): {**{role: "U" for role in (*db_roles.ROLES, db_roles.PUBLIC)}, "nova_airflow": "OUC"},
    ("erp", "public"): {role: "U" for role in (*db_roles.ROLES, db_roles.PUBLIC)},
    ("warehouse", "public"): {role: "U" for role in (*db_roles.ROLES, db_roles.PUBLIC)},
}


def test_privilege_matrix_measured_from_the_catalog_is_the_design(roles_db):
    """Every role x schema x right, read back with has_*_privilege (after the tests above ran)."""
    matrix = db_roles.measure(roles_db)
    kinds = {roles_db.erp_db: "erp", roles_db.warehouse_db: "warehouse", roles_db.airflow_db: "airflow"}
    measured = {}
    for item in matrix.objects:
        measured.setdefault((kinds[item.database], item.schema), {})[item.role] = item.cell()
    for key, cells in EXPECTED.items():
        expected = {role: cells.get(role, "-") for role in (*db_roles.ROLES, db_roles.PUBLIC)}
        assert measured.pop(key) == expected, key
    assert measured == {}, f"schemas nobody designed: {sorted(measured)}"
    text = db_roles.format_matrix(matrix, roles_db)
    assert "nova_forecaster" in text and "OUC arwdD 2/5 r 3/5" in text
    # where a role's rights differ within a schema the smaller group is named: the forecaster writes
    # its three tables (forecast runs and values, the replay's evidence) and only reads the mart
    assert re.search(r"nova_forecaster +\S+\.marts: arwdD +the other 3 tables", text), text


# --------------------------------------------------------------------------------------------
# the superuser guard
# --------------------------------------------------------------------------------------------


def test_components_refuse_a_superuser_login_unless_allowed(roles_db, monkeypatch, tmp_path):
    admin_as_loader = dataclasses.replace(roles_db, component="loader")  # a misconfigured login
    monkeypatch.delenv(db_roles.ALLOW_SUPERUSER_ENV, raising=False)
    with pytest.raises(db_roles.SuperuserLogin, match=r"the loader \(warehouse database\) refuses to run as nova: "
                                                       r"a superuser .* NOVA_ALLOW_SUPERUSER=1"):
        connect(admin_as_loader, "warehouse")
    with pytest.raises(db_roles.SuperuserLogin, match="the forecast task refuses to run as nova"):
        db_roles.check_login(roles_db, roles_db.warehouse_db, "the forecast task")
    # dbt: its on-run-start hook stops before building anything
    env = {**os.environ, **dbt_env(roles_db), "NOVA_DBT_USER": roles_db.user, "NOVA_DBT_PASSWORD": roles_db.password,
           "DO_NOT_TRACK": "1"}
    env.pop(db_roles.ALLOW_SUPERUSER_ENV, None)
    dbt = [str(Path(sys.executable).with_name("dbt")), "seed", "--select", "service_levels",
           "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")]
    refused = subprocess.run(dbt, env=env, cwd=REPO_ROOT / "dbt_project", capture_output=True, text=True, timeout=600)
    assert refused.returncode != 0
    assert "dbt refuses to run as nova" in refused.stdout + refused.stderr
    assert _run(roles_db, roles_db.warehouse_db, "select to_regclass('staging.service_levels') is null") == [(True,)]
    # the explicit setting lets them run
    monkeypatch.setenv(db_roles.ALLOW_SUPERUSER_ENV, "1")
    connect(admin_as_loader, "warehouse").close()
    allowed = subprocess.run(dbt, env={**env, db_roles.ALLOW_SUPERUSER_ENV: "1"}, cwd=REPO_ROOT / "dbt_project",
                             capture_output=True, text=True, timeout=600)
    assert allowed.returncode == 0, allowed.stdout[-3000:]
    _run(roles_db, roles_db.warehouse_db, "drop table staging.service_levels")


def test_airflow_processes_never_get_the_administrators_login(roles_db, monkeypatch):
    monkeypatch.setenv("NOVA_PG_USER", "dba")
    monkeypatch.setenv("NOVA_PG_PASSWORD", "dba-secret")
    env = airflow_services._env(roles_db)
    assert "NOVA_PG_USER" not in env and "NOVA_PG_PASSWORD" not in env
    assert "dba-secret" not in "".join(env.values()) and roles_db.password not in "".join(env.values())
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://nova_airflow:")
    assert env["NOVA_DBT_USER"] == "nova_transformer"


# --------------------------------------------------------------------------------------------
# setup: idempotent, converging, and the same as the DBA's script
# --------------------------------------------------------------------------------------------


def test_setup_is_idempotent_and_gives_stray_objects_to_their_owners(pg):
    """A warehouse from before the roles (tables of the admin) is converged by running setup again."""
    _run(pg, pg.warehouse_db, "create table raw.erp_legacy (id int)", "create table marts.fct_legacy (id int)")
    _run(pg, pg.airflow_db, "create table public.alembic_legacy (id int)", "create sequence public.legacy_seq")
    db_roles.provision(pg)
    db_roles.provision(pg)  # twice: nothing changes, nothing fails
    owners = _run(pg, pg.warehouse_db, "select schemaname || '.' || tablename, tableowner from pg_tables "
                                       "where schemaname in ('raw', 'marts') order by 1")
    assert owners == [("marts.fct_legacy", "nova_transformer"), ("marts.forecast_runs", "nova_forecaster"),
                      ("marts.forecast_values", "nova_forecaster"), ("marts.reorder_point_replays", "nova_forecaster"),
                      ("raw.erp_legacy", "nova_loader")]
    assert _run(pg.as_role("transformer"), pg.warehouse_db, "select count(*) from raw.erp_legacy") == [(0,)]
    airflow_owners = _run(pg, pg.airflow_db, "select relname, pg_get_userbyid(relowner) from pg_class "
                                             "where relname in ('alembic_legacy', 'legacy_seq') order by 1")
    assert airflow_owners == [("alembic_legacy", "nova_airflow"), ("legacy_seq", "nova_airflow")]


def test_committed_dba_script_is_the_generated_one(pg):
    defaults = dataclasses.replace(pg, erp_db="erp", warehouse_db="warehouse", airflow_db="airflow")
    assert COMMITTED_SCRIPT.read_text() == db_roles.render_psql(defaults) + "\n", \
        "docs/db_roles.sql is stale: regenerate it with `.venv/bin/nova db roles > docs/db_roles.sql`"


def test_dba_script_run_by_psql_gives_the_same_privileges_as_setup(pg_server, pg, tmp_path):
    """The psql script (what a DBA runs on an external server) and `nova db start` agree, right by right."""
    prefix = f"t{os.getpid()}_psql_"
    other = dataclasses.replace(pg_server, erp_db=prefix + "erp", warehouse_db=prefix + "warehouse",
                                airflow_db=prefix + "airflow")
    postgres_server.drop_databases(other, other.databases)
    postgres_server.ensure_databases(other)
    try:
        script = tmp_path / "db_roles.sql"
        script.write_text(db_roles.render_psql(other))
        psql = str(Path(postgres_server._bin("psql")))
        result = subprocess.run(
            [psql, "-X", "-q", "-h", other.host, "-p", str(other.port), "-U", other.user, "-d", "postgres",
             "-f", str(script)],
            env={**os.environ, "PGPASSWORD": other.password}, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        by_psql = {(item.role, item.database.removeprefix(prefix), item.schema): item.cell()
                   for item in db_roles.measure(other).objects}
        setup_prefix = pg.erp_db.removesuffix("erp")
        by_setup = {(item.role, item.database.removeprefix(setup_prefix), item.schema): item.cell()
                    for item in db_roles.measure(pg).objects}
        assert by_psql == by_setup
    finally:
        postgres_server.drop_databases(other, other.databases)


# --------------------------------------------------------------------------------------------
# secrets are never readable by others
# --------------------------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_generated_passwords_are_private(roles_db):
    folder = roles_db.secrets_dir
    assert _mode(folder) == 0o700
    files = sorted(folder.iterdir())
    assert {path.name for path in files} >= {f"{role}.password" for role in COMPONENT_ROLES.values()} | {"password"}
    for path in files:
        assert _mode(path) == 0o600, path


def test_private_files_are_created_private_and_handed_to_the_server_user(tmp_path):
    path = postgres_server.write_private_file(tmp_path, "secret", "s3cret\n")
    assert _mode(path) == 0o600 and path.read_text() == "s3cret\n"
    with pytest.raises(FileExistsError):  # never reuses (or follows) a file someone else put there
        postgres_server.write_private_file(tmp_path, "secret", "other")
    server_user = postgres_server._run_as_server_user()
    if server_user:  # root runs the server as an unprivileged user: only that user may read the file
        import pwd

        handed = postgres_server.write_private_file(tmp_path, "handed", "for-initdb\n", owner=server_user)
        assert _mode(handed) == 0o600 and handed.stat().st_uid == pwd.getpwnam(server_user).pw_uid


def test_initdb_reads_its_password_from_a_private_file_that_is_removed(roles_db, tmp_path):
    before = set(Path(tempfile.gettempdir()).glob("nova-initdb-*"))
    scratch = dataclasses.replace(roles_db, data_dir=tmp_path / "pgdata")
    postgres_server._initdb(scratch, postgres_server._run_as_server_user())
    assert (tmp_path / "pgdata" / "PG_VERSION").exists()
    assert set(Path(tempfile.gettempdir()).glob("nova-initdb-*")) == before
