"""Fixtures for the quality gates: a warehouse with raw/audit/marts tables and a copy of the GX project.

The raw tables are made the way the contract describes them (docs/architecture.md): the ERP
columns of ``nova_corrente/erp_simulator/schema.sql`` plus ``_batch_id``, ``_source`` and
``_loaded_at``, without the ERP's constraints (raw keeps what the source sent). The marts tables
are created here with the contract's columns, as dbt and the forecast task would.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from nova_corrente import db_roles
from nova_corrente.extract.warehouse_setup import ensure_warehouse_schemas
from nova_corrente.quality.context import PROJECT_ROOT
from nova_corrente.quality.suites import RAW_TABLES
from nova_corrente.settings import REPO_ROOT, PostgresSettings

SCHEMA_SQL = REPO_ROOT / "nova_corrente" / "erp_simulator" / "schema.sql"


@pytest.fixture(scope="session")
def gx_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the committed GX project, so validation results land in a temporary folder."""
    root = tmp_path_factory.mktemp("gx_project")
    shutil.copytree(PROJECT_ROOT / "gx", root / "gx", ignore=shutil.ignore_patterns("uncommitted"))
    return root


def create_raw_tables(pg: PostgresSettings) -> None:
    """raw.erp_<table> for every ERP table: the ERP columns (no constraints) + metadata columns.

    Created as the administrator; ``create_mart_tables`` then gives every table to its schema's
    owner (``db_roles.provision``), as if the loader had created it."""
    ensure_warehouse_schemas(pg)
    with psycopg2.connect(pg.dsn(pg.warehouse_db)) as conn, conn.cursor() as cur:
        cur.execute("create schema if not exists erp_template")
        cur.execute("set search_path = erp_template")
        cur.execute(SCHEMA_SQL.read_text().replace("erp.", "erp_template.").replace(
            "create schema if not exists erp;", ""))
        for table in RAW_TABLES:
            cur.execute(
                f"create table raw.erp_{table.name} as "
                f"select *, null::text as _batch_id, null::text as _source, null::timestamptz as _loaded_at "
                f"from erp_template.{table.name} with no data"
            )
        cur.execute("drop schema erp_template cascade")
    conn.close()


@pytest.fixture(scope="module")
def warehouse_module(pg_module: PostgresSettings) -> PostgresSettings:
    """One warehouse per test module (creating and dropping databases is the slow part)."""
    create_raw_tables(pg_module)
    create_mart_tables(pg_module)
    return pg_module


@pytest.fixture
def warehouse(warehouse_module: PostgresSettings) -> PostgresSettings:
    """The module's warehouse, emptied: raw.erp_*, audit.load_batches and the marts tables."""
    tables = [f"raw.erp_{table.name}" for table in RAW_TABLES] + ["audit.load_batches", *MART_TABLES]
    with psycopg2.connect(warehouse_module.dsn(warehouse_module.warehouse_db)) as conn, conn.cursor() as cur:
        cur.execute(f"truncate {', '.join(tables)}")
    conn.close()
    return warehouse_module


MART_TABLES = ("marts.fct_reorder_points", "marts.forecast_values", "marts.forecast_runs")


def create_mart_tables(pg: PostgresSettings) -> None:
    """The marts the marts gate reads, with the columns of docs/architecture.md and no constraints
    (so that the tests can write the bad rows the gate must catch); then every table goes to its
    owner with the platform's grants (``db_roles.provision``)."""
    with psycopg2.connect(pg.dsn(pg.warehouse_db)) as conn, conn.cursor() as cur:
        cur.execute(
            """
            drop table marts.forecast_values, marts.forecast_runs;
            create table marts.fct_reorder_points (
                material_id text, site_id text, service_level numeric, service_level_z numeric,
                avg_daily_demand numeric, std_daily_demand numeric, avg_lead_time_days numeric,
                std_lead_time_days numeric, safety_stock numeric, reorder_point numeric,
                quantity_on_hand numeric, is_below_reorder_point boolean, suggested_order_quantity numeric,
                method text
            );
            create table marts.forecast_runs (
                run_id text, model_version text, generated_at timestamptz, source text, dataset_id text,
                parameters jsonb, data_fingerprint text, metrics jsonb, series_count integer
            );
            create table marts.forecast_values (
                run_id text, material_id text, site_id text, forecast_date date, yhat double precision,
                yhat_lo_80 double precision, yhat_hi_80 double precision, yhat_lo_95 double precision,
                yhat_hi_95 double precision, model text, demand_class text, model_version text,
                generated_at timestamptz, source text, dataset_id text
            );
            """
        )
    conn.close()
    db_roles.provision(pg)


@pytest.fixture
def conn(warehouse: PostgresSettings) -> Iterator[Any]:
    connection = psycopg2.connect(warehouse.dsn(warehouse.warehouse_db))
    connection.autocommit = True
    yield connection
    connection.close()


