"""Fixtures for the quality gates: a warehouse with raw/audit/marts tables and a copy of the GX project.

The raw tables are made by the extract's own DDL from the source contracts
(``nova_corrente.contracts``): the contract's columns plus the metadata columns, without the ERP's
constraints (raw keeps what the source sent). The marts tables
are created here with the contract's columns, as dbt and the forecast task would.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg2
import pytest

from nova_corrente import db_roles
from nova_corrente.contracts import all_contracts
from nova_corrente.extract.raw_tables import ensure_raw_metadata, raw_create_statement
from nova_corrente.extract.warehouse_setup import ensure_warehouse_schemas
from nova_corrente.settings import PostgresSettings


def create_raw_tables(pg: PostgresSettings) -> None:
    """raw.<table> for every source contract (ERP tables and feeds), as the extract creates them.

    Created as the administrator; ``create_mart_tables`` then gives every table to its schema's
    owner (``db_roles.provision``), as if the loader had created it."""
    ensure_warehouse_schemas(pg)
    with psycopg2.connect(pg.dsn(pg.warehouse_db)) as conn, conn.cursor() as cur:
        for contract in all_contracts():
            cur.execute(raw_create_statement(contract))
            ensure_raw_metadata(cur, contract)
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
    tables = [f"raw.{contract.raw_table}" for contract in all_contracts()]
    tables += ["audit.load_batches", "audit.quarantined_rows", "audit.reconciliation_results", *MART_TABLES]
    with psycopg2.connect(warehouse_module.dsn(warehouse_module.warehouse_db)) as conn, conn.cursor() as cur:
        cur.execute(f"truncate {', '.join(tables)} restart identity cascade")
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


