"""Test data and helpers for the extract tests: a tiny hand-written ERP and readers of the warehouse.

The ERP schema comes from the contract (nova_corrente.contracts.erp.ddl); the rows are
written here by hand, all on 2024-01-01 (UTC), so a reader can count what each interval takes.
"""

from __future__ import annotations

from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg2

from nova_corrente.contracts.erp import ddl
from nova_corrente.settings import PostgresSettings

SCHEMA_SQL = ddl()  # the contract's DDL (nova_corrente.contracts.erp)

DAY1 = datetime(2024, 1, 1, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)
DAY3 = DAY1 + timedelta(days=2)
DAY4 = DAY1 + timedelta(days=3)

SEED_SQL = """
insert into erp.material_families values
    ('ENERGY_BATTERY', 'Batteries', 'energy', '2024-01-01 08:00+00'),
    ('TX_RADIO', 'Radios', 'transmission', '2024-01-01 08:00+00');
insert into erp.materials values
    ('MAT-00001', 'Battery 48V 100Ah', 'ENERGY_BATTERY', 'unit', 1250.50, true, '2024-01-01 08:00+00', '2024-01-01 08:00+00'),
    ('MAT-00002', 'Radio ODU 15GHz', 'TX_RADIO', 'unit', 8400.00, true, '2024-01-01 08:00+00', '2024-01-01 08:00+00'),
    ('MAT-00003', 'Fibre patch cord 3m', 'TX_RADIO', 'unit', 35.90, false, '2024-01-01 08:00+00', '2024-01-01 09:00+00');
insert into erp.sites values
    ('SITE-0001', 'Salvador Centro', 'Salvador', 'Metropolitana de Salvador', -12.971400, -38.501400, 'gold', true, '2019-05-01', '2024-01-01 08:00+00'),
    ('SITE-0002', 'Ilheus Norte', 'Ilheus', 'Sul Baiano', -14.788900, -39.048900, 'silver', true, '2020-03-15', '2024-01-01 08:00+00');
insert into erp.suppliers values
    ('SUP-001', 'Baterias do Nordeste', 'Salvador', 'BA', true, '2024-01-01 08:00+00');
insert into erp.supplier_materials values
    ('SUP-001', 'MAT-00001', 12, 1190.00, true, '2024-01-01 08:00+00');
insert into erp.purchase_orders values
    ('PO-000001', 'SUP-001', 'MAT-00001', 'SITE-0001', '2023-12-20', '2024-01-01', null, 4, null, 1190.00, 'open',
     '2023-12-20 10:00+00', '2024-01-01 10:00+00');
insert into erp.stock_movements values
    (1, 'MAT-00001', 'SITE-0001', 'consumption', '2024-01-01', 2, null, '2024-01-01 11:00+00', '2024-01-01 11:00+00'),
    (2, 'MAT-00002', 'SITE-0002', 'consumption', '2024-01-01', 1, null, '2024-01-01 12:00+00', '2024-01-01 12:00+00'),
    (3, 'MAT-00001', 'SITE-0002', 'adjustment', '2024-01-01', -1.5, null, '2024-01-01 13:00+00', '2024-01-01 13:00+00'),
    -- updated after the end of day 1: belongs to the day-2 interval
    (4, 'MAT-00002', 'SITE-0001', 'consumption', '2024-01-02', 1, null, '2024-01-02 01:00+00', '2024-01-02 01:00+00');
insert into erp.stock_on_hand values
    ('MAT-00001', 'SITE-0001', 10, '2024-01-01 11:00+00'),
    ('MAT-00002', 'SITE-0002', 3, '2024-01-01 12:00+00');
"""

#: rows per table with updated_at < DAY2 in SEED_SQL
DAY1_COUNTS = {
    "material_families": 2, "materials": 3, "sites": 2, "suppliers": 1, "supplier_materials": 1,
    "purchase_orders": 1, "stock_movements": 3, "stock_on_hand": 2,
}


class Database:
    """Tiny helper around one database of the test's settings (autocommit)."""

    def __init__(self, pg: PostgresSettings, name: str) -> None:
        self.pg = pg
        self.name = name

    def execute(self, statement: str, params: Any = None) -> None:
        with closing(psycopg2.connect(self.pg.dsn(self.name))) as conn, conn, conn.cursor() as cur:
            cur.execute(statement, params)

    def rows(self, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        with closing(psycopg2.connect(self.pg.dsn(self.name))) as conn, conn, conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall()

    def scalar(self, statement: str, params: Any = None) -> Any:
        return self.rows(statement, params)[0][0]

    def raw_state(self, exclude: tuple[str, ...] = ("_loaded_at",)) -> dict[str, list[tuple[Any, ...]]]:
        """Every raw table's rows (sorted, ``exclude`` columns left out) and the audit register."""
        tables = [row[0] for row in self.rows(
            "select table_name from information_schema.tables where table_schema = 'raw' order by 1")]
        state = {}
        for table in tables:
            columns = [row[0] for row in self.rows(
                "select column_name from information_schema.columns where table_schema = 'raw' and table_name = %s"
                " order by column_name", (table,)) if row[0] not in exclude]
            listing = ", ".join(f'"{column}"::text' for column in columns)
            state[f"raw.{table}"] = sorted(self.rows(f'select {listing} from raw."{table}"'), key=repr)
        if self.scalar("select to_regclass('audit.load_batches') is not null"):
            state["audit.load_batches"] = self.rows(
                "select batch_id, source, interval_start, interval_end, watermark_from, watermark_to, row_count,"
                " status, validated_at, failure_reason from audit.load_batches order by batch_id")
        return state
