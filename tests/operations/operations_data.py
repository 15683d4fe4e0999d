"""A small warehouse with the marts the operations modules read, filled with rows checkable by eye.

The marts are created with the columns those modules use (dbt builds the real ones); two material-sites
to order, one of them critical.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import psycopg2

from nova_corrente.settings import PostgresSettings

AS_OF = date(2026, 3, 1)
INTERVAL_END = datetime(2026, 3, 2, 9, tzinfo=UTC)

MARTS_DDL = """
create table marts.dim_item (material_id text primary key, material_name text);
create table marts.dim_site (site_id text primary key, city text);
create table marts.fct_demand_daily (material_id text, site_id text, demand_date date);
create table marts.fct_reorder_points (
    material_id text, site_id text, quantity_on_hand numeric, quantity_on_order numeric, reorder_point numeric,
    safety_stock numeric, suggested_order_quantity integer, service_level numeric, avg_daily_demand numeric,
    is_below_reorder_point boolean);
create table marts.fct_stock_alerts (
    material_id text, site_id text, alert_severity text, quantity_on_hand numeric, projected_stockout_date date,
    days_until_stockout integer, suggested_order_quantity integer);
"""


def fill_marts(pg: PostgresSettings) -> None:
    with psycopg2.connect(pg.dsn(pg.warehouse_db)) as conn, conn.cursor() as cur:
        cur.execute(
            """
            insert into marts.dim_item values ('MAT-1', 'Battery 48V 100Ah'), ('MAT-2', 'Rectifier 2kW'),
                                              ('MAT-3', 'Coax cable 50m');
            insert into marts.dim_site values ('SITE-1', 'Salvador'), ('SITE-2', 'Ilhéus');
            insert into marts.fct_demand_daily values ('MAT-1', 'SITE-1', '2026-02-28'), ('MAT-1', 'SITE-1', %(as_of)s);
            -- MAT-1@SITE-1: 2 days of cover; MAT-2@SITE-2: 10 days; MAT-3: nothing to order
            insert into marts.fct_reorder_points values
                ('MAT-1', 'SITE-1', 4, 0, 12.5, 6, 20, 0.99, 2, true),
                ('MAT-2', 'SITE-2', 10, 5, 11, 3, 8, 0.95, 1, true),
                ('MAT-3', 'SITE-1', 50, 0, 10, 2, 0, 0.9, 1, false);
            insert into marts.fct_stock_alerts values
                ('MAT-1', 'SITE-1', 'critical', 4, '2026-03-03', 2, 20),
                ('MAT-2', 'SITE-2', 'warning', 10, '2026-03-20', 19, 8);
            """,
            {"as_of": AS_OF},
        )
    conn.close()
