"""The embedded server and the database fixtures work against a real PostgreSQL."""

import dataclasses

import psycopg2
import pytest

from nova_corrente import postgres_server
from nova_corrente.settings import dbt_env, postgres_settings


def test_ensure_running_is_idempotent_and_creates_databases(pg):
    again = postgres_server.ensure_running(pg)
    assert again == pg
    for name in pg.databases:
        with psycopg2.connect(pg.dsn(name)) as conn, conn.cursor() as cur:
            cur.execute("select current_database()")
            assert cur.fetchone()[0] == name


def test_server_listens_only_on_loopback_with_password_auth(pg):
    wrong = dataclasses.replace(pg, password="not-the-password")
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(wrong.dsn(pg.erp_db))
    with psycopg2.connect(pg.dsn(pg.erp_db)) as conn, conn.cursor() as cur:
        cur.execute("show listen_addresses")
        assert cur.fetchone()[0] == "127.0.0.1"


def test_unreachable_server_gives_clear_error(pg):
    gone = dataclasses.replace(pg, port=1)  # nothing listens there
    with pytest.raises(postgres_server.DatabaseUnavailable, match="cannot connect to .*127.0.0.1:1"):
        postgres_server.wait_until_ready(gone, timeout_s=1)


def test_external_server_requires_credentials_from_environment(monkeypatch):
    """Each component's login comes from its own variables; the administrator's only serves setup."""
    monkeypatch.setenv("NOVA_PG_HOST", "db.example.internal")
    for name in ("NOVA_PG_USER", "NOVA_PG_PASSWORD", "NOVA_PG_PORT", "NOVA_PG_LOADER_USER", "NOVA_PG_LOADER_PASSWORD",
                 "NOVA_PG_TRANSFORMER_USER", "NOVA_PG_TRANSFORMER_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NOVA_PG_DB_PREFIX", "qa_")
    settings = postgres_settings()
    assert not settings.embedded
    assert (settings.host, settings.port, settings.warehouse_db) == ("db.example.internal", 5432, "qa_warehouse")
    with pytest.raises(RuntimeError, match="NOVA_PG_LOADER_PASSWORD is not set: .* as its own role nova_loader"):
        settings.as_role("loader")
    with pytest.raises(RuntimeError, match="setup commands .* need NOVA_PG_USER and NOVA_PG_PASSWORD"):
        settings.dsn(settings.warehouse_db)
    monkeypatch.setenv("NOVA_PG_LOADER_PASSWORD", "loader-secret")
    monkeypatch.setenv("NOVA_PG_TRANSFORMER_USER", "svc_dbt")
    monkeypatch.setenv("NOVA_PG_TRANSFORMER_PASSWORD", "dbt-secret")
    loader, transformer = settings.as_role("loader"), settings.as_role("transformer")
    assert (loader.user, loader.password, loader.component) == ("nova_loader", "loader-secret", "loader")
    assert (transformer.user, transformer.password) == ("svc_dbt", "dbt-secret")
    assert dbt_env(settings)["NOVA_DBT_USER"] == "svc_dbt"
    monkeypatch.setenv("NOVA_PG_USER", "dba")
    monkeypatch.setenv("NOVA_PG_PASSWORD", "from-env")
    settings = postgres_settings()
    assert settings.user == "dba" and settings.component is None
    assert "from-env" not in settings.describe() and "loader-secret" not in repr(settings.as_role("loader"))
