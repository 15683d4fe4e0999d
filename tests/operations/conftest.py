"""Fixtures for the operations tests: a small warehouse with the marts they read (operations_data)."""

from __future__ import annotations

import psycopg2
import pytest
from operations_data import MARTS_DDL, fill_marts

from nova_corrente.extract.warehouse_setup import ensure_warehouse_schemas
from nova_corrente.settings import PostgresSettings
from nova_forecast.warehouse import ensure_forecast_tables


@pytest.fixture
def marts(pg: PostgresSettings) -> PostgresSettings:
    ensure_warehouse_schemas(pg)
    with psycopg2.connect(pg.dsn(pg.warehouse_db)) as conn, conn.cursor() as cur:
        cur.execute(MARTS_DDL)
        ensure_forecast_tables(conn)
    conn.close()
    fill_marts(pg)
    return pg
