"""Hand-written ERP rows and batch helpers for the quality-gate tests (values checkable by eye)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

DAY1 = datetime(2024, 1, 2, tzinfo=UTC)  # interval_end of the first run
DAY2 = DAY1 + timedelta(days=1)


def batch_id(table: str, interval_end: datetime) -> str:
    return f"erp.{table}|{interval_end.isoformat()}"


def add_batch(
    conn: Any, table: str, interval_end: datetime, rows: Sequence[dict[str, Any]], status: str = "loaded"
) -> str:
    """Record a batch in audit.load_batches and append its rows to raw.erp_<table>; returns its id."""
    batch = batch_id(table, interval_end)
    with conn.cursor() as cur:
        cur.execute(
            """
            insert into audit.load_batches (batch_id, source, interval_start, interval_end, watermark_from,
                                            watermark_to, row_count, status)
            values (%s, %s, %s, %s, '-infinity', %s, %s, %s)
            """,
            (batch, f"erp.{table}", interval_end - timedelta(days=1), interval_end, interval_end, len(rows), status),
        )
        for row in rows:
            columns = [*row, "_batch_id", "_source", "_loaded_at"]
            values = [*row.values(), batch, f"erp.{table}", interval_end]
            cur.execute(
                f"insert into raw.erp_{table} ({', '.join(columns)}) values ({', '.join(['%s'] * len(values))})",
                values,
            )
    return batch


def status_of(conn: Any, batch: str) -> tuple[str, str | None, datetime | None]:
    with conn.cursor() as cur:
        cur.execute("select status, failure_reason, validated_at from audit.load_batches where batch_id = %s", (batch,))
        return cur.fetchone()


# ---- a small, consistent ERP extract (hand-checkable) ---------------------------------------

def _at(interval_end: datetime, hours_before: int = 2) -> datetime:
    return interval_end - timedelta(hours=hours_before)


def reference_rows(interval_end: datetime) -> dict[str, list[dict[str, Any]]]:
    """Families, materials, sites, suppliers and their links, all updated in the interval."""
    ts = _at(interval_end)
    return {
        "material_families": [
            {"family_id": "ENERGY_BATTERY", "family_name": "Batteries", "category": "energy", "updated_at": ts},
        ],
        "materials": [
            {"material_id": f"MAT-0000{i}", "material_name": f"Battery {i}", "family_id": "ENERGY_BATTERY",
             "unit_of_measure": "unit", "unit_cost_brl": 100 * i, "is_active": True, "created_at": ts, "updated_at": ts}
            for i in (1, 2)
        ],
        "sites": [
            {"site_id": f"SITE-000{i}", "site_name": f"Tower {i}", "city": "Salvador",
             "region": "Metropolitana de Salvador", "latitude": -12.97, "longitude": -38.5, "sla_tier": tier,
             "is_active": True, "commissioned_date": "2020-01-01", "updated_at": ts}
            for i, tier in ((1, "gold"), (2, "silver"))
        ],
        "suppliers": [
            {"supplier_id": "SUP-001", "supplier_name": "Baterias BA", "city": "Salvador", "state": "BA",
             "is_active": True, "updated_at": ts},
        ],
        "supplier_materials": [
            {"supplier_id": "SUP-001", "material_id": "MAT-00001", "quoted_lead_time_days": 7,
             "unit_price_brl": 95, "is_preferred": True, "updated_at": ts},
        ],
    }


def purchase_order_rows(interval_end: datetime) -> list[dict[str, Any]]:
    ts = _at(interval_end)
    day = (interval_end - timedelta(days=1)).date()
    return [
        {"purchase_order_id": "PO-000001", "supplier_id": "SUP-001", "material_id": "MAT-00001",
         "site_id": "SITE-0001", "order_date": day, "expected_date": day + timedelta(days=7),
         "received_date": None, "quantity_ordered": 10, "quantity_received": None, "unit_price_brl": 95,
         "status": "open", "created_at": ts, "updated_at": ts},
    ]


def movement_rows(interval_end: datetime, first_id: int = 1, count: int = 10) -> list[dict[str, Any]]:
    """``count`` valid movements on the interval's day: consumptions, receipts and one adjustment."""
    ts = _at(interval_end)
    day = (interval_end - timedelta(days=1)).date()
    types = ["consumption", "receipt", "transfer_in", "transfer_out", "return"]
    rows = []
    for offset in range(count):
        movement_type = "adjustment" if offset == count - 1 else types[offset % len(types)]
        rows.append({
            "movement_id": first_id + offset, "material_id": f"MAT-0000{1 + offset % 2}",
            "site_id": f"SITE-000{1 + offset % 2}", "movement_type": movement_type, "movement_date": day,
            "quantity": -2 if movement_type == "adjustment" else 1 + offset, "purchase_order_id": None,
            "created_at": ts, "updated_at": ts,
        })
    return rows


def stock_on_hand_rows(interval_end: datetime) -> list[dict[str, Any]]:
    ts = _at(interval_end)
    return [
        {"material_id": "MAT-00001", "site_id": "SITE-0001", "quantity_on_hand": 4, "updated_at": ts},
        {"material_id": "MAT-00002", "site_id": "SITE-0002", "quantity_on_hand": 0, "updated_at": ts},
    ]


def load_good_run(conn: Any, interval_end: datetime = DAY1, status: str = "loaded") -> list[str]:
    """One run's batches for every ERP table, all valid; returns their ids."""
    tables = {
        **reference_rows(interval_end),
        "purchase_orders": purchase_order_rows(interval_end),
        "stock_movements": movement_rows(interval_end),
        "stock_on_hand": stock_on_hand_rows(interval_end),
    }
    return [add_batch(conn, table, interval_end, rows, status) for table, rows in tables.items()]
