"""Fixtures for the operations tests: a small warehouse with the marts they read (operations_data)."""

from __future__ import annotations

import psycopg2
import pytest
from operations_data import MARTS_DDL, fill_marts

from nova_corrente import db_roles
from nova_corrente.extract.warehouse_setup import ensure_warehouse_schemas
from nova_corrente.settings import COMPONENT_ROLES, PostgresSettings
from nova_forecast.warehouse import ensure_forecast_tables


@pytest.fixture
def marts(pg: PostgresSettings) -> PostgresSettings:
    """The marts created as the administrator, then given to their owners (``provision``) and published to
    BI as dbt's ``grants`` do; the code under test connects as its own roles."""
    ensure_warehouse_schemas(pg.as_role("loader"))
    with psycopg2.connect(pg.dsn(pg.warehouse_db)) as conn, conn.cursor() as cur:
        cur.execute(MARTS_DDL)
        ensure_forecast_tables(conn)
    conn.close()
    fill_marts(pg)
    db_roles.provision(pg)
    with psycopg2.connect(pg.dsn(pg.warehouse_db)) as conn, conn.cursor() as cur:
        cur.execute(f"grant select on {', '.join(PUBLISHED)} to {COMPONENT_ROLES['bi_reader']}")
    conn.close()
    return pg


PUBLISHED = ("marts.dim_item", "marts.dim_site", "marts.fct_demand_daily", "marts.fct_reorder_points",
             "marts.fct_stock_alerts")
