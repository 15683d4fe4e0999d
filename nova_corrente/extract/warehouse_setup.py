"""Warehouse schemas, the batch register and the quarantine (see docs/architecture.md).

Every load into ``raw`` is a *batch* with one row in ``audit.load_batches``. Extract/load writes it
with status ``loaded``; the raw quality gate moves it to ``passed`` (its bad rows, if any, recorded
in ``audit.quarantined_rows``) or ``rejected`` (held back whole: structural problem or too many bad
rows) with ``set_batch_status``. dbt staging reads only rows of passed batches that are not in
quarantine. A passed batch is never changed again: re-running its interval adds a new batch.
``audit.reconciliation_results`` keeps what the reconciliation gate compared between the ERP and
the warehouse.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from psycopg2.extensions import connection as Connection
from psycopg2.extensions import cursor as Cursor

from nova_corrente.db_roles import LOADER, SCHEMA_OWNERS
from nova_corrente.extract.connections import close_quietly, connect
from nova_corrente.settings import PostgresSettings

log = logging.getLogger(__name__)

#: the warehouse's schemas, created by setup with their owners; the loader's are raw and audit
WAREHOUSE_SCHEMAS: tuple[str, ...] = tuple(SCHEMA_OWNERS)
LOADER_SCHEMAS: tuple[str, ...] = tuple(schema for schema, owner in SCHEMA_OWNERS.items() if owner == LOADER)

BatchStatus = Literal["loaded", "passed", "rejected"]
BATCH_STATUSES: tuple[str, ...] = ("loaded", "passed", "rejected")

#: metadata columns appended to every raw table, in this order. ``_row_id`` identifies a raw row
#: (quarantine records point at it); ``_row_hash`` is md5 of the row's contract columns as text
#: (the change-capture compares it with the source's); ``_change`` says how the row was captured:
#: ``window`` (the updated_at cursor window), ``repair`` (found by the key/hash reconciliation),
#: ``file`` (a landing file) or ``delete`` (a tombstone: the key no longer exists at the source).
RAW_METADATA_COLUMNS: tuple[tuple[str, str], ...] = (
    ("_batch_id", "text not null"),
    ("_source", "text not null"),
    ("_loaded_at", "timestamptz not null default now()"),
    ("_row_id", "bigint generated always as identity"),
    ("_row_hash", "text"),
    ("_change", "text not null default 'window'"),
)
RAW_METADATA_NAMES: tuple[str, ...] = tuple(name for name, _ in RAW_METADATA_COLUMNS)
CHANGE_KINDS: tuple[str, ...] = ("window", "repair", "file", "delete")

LOAD_BATCHES_DDL = """
create table if not exists audit.load_batches (
    batch_id        text primary key,            -- '<source>|<interval_end>' or 'file:<feed>/<name>|<sha256[:16]>'
    source          text not null,               -- 'erp.materials', 'file:weather/2024-01.csv'
    interval_start  timestamptz,                 -- data interval of the run that loaded the batch
    interval_end    timestamptz,
    watermark_from  timestamptz,                 -- ERP: updated_at >= watermark_from ('-infinity' on the first load)
    watermark_to    timestamptz,                 -- ERP: updated_at <  watermark_to (= interval_end); null for files
    row_count       bigint not null,
    status          text not null default 'loaded' check (status in ('loaded', 'passed', 'rejected')),
    loaded_at       timestamptz not null default now(),
    validated_at    timestamptz,
    failure_reason  text
);
create index if not exists load_batches_source_status_idx on audit.load_batches (source, status, watermark_to);
create index if not exists load_batches_interval_end_idx on audit.load_batches (interval_end);
-- added with row-level quarantine and change capture (idempotent migrations of older warehouses)
alter table audit.load_batches add column if not exists attempt integer not null default 1;
alter table audit.load_batches add column if not exists rows_by_change jsonb;
alter table audit.load_batches add column if not exists quarantined_rows integer not null default 0;
alter table audit.load_batches add column if not exists run_id text;

create table if not exists audit.quarantined_rows (
    quarantine_id     bigint generated always as identity primary key,
    batch_id          text not null references audit.load_batches (batch_id) on delete cascade,
    source            text not null,               -- 'erp.stock_movements', 'file:weather/weather_2026-01.csv'
    raw_table         text not null,               -- 'raw.erp_stock_movements'
    raw_row_id        bigint,                      -- raw.<table>._row_id; null when the row could not be stored (unparsable)
    row_key           jsonb,                       -- the business key, e.g. {"movement_id": 42}
    rule              text not null,               -- the suite's rule that failed
    column_name       text,
    value             text,                        -- the offending value as text
    reason            text not null,
    raw_row           jsonb not null,              -- the whole row as received
    quarantined_at    timestamptz not null default now(),
    resolved_at       timestamptz,                 -- a later version of the key passed (the source fixed it) or it was deleted
    resolved_by_batch text
);
create index if not exists quarantined_rows_raw_row_idx on audit.quarantined_rows (raw_table, raw_row_id);
create index if not exists quarantined_rows_batch_idx on audit.quarantined_rows (batch_id);
create index if not exists quarantined_rows_open_idx on audit.quarantined_rows (raw_table) where resolved_at is null;

create table if not exists audit.reconciliation_results (
    checked_at        timestamptz not null,
    interval_end      timestamptz not null,
    table_name        text not null,               -- 'erp.stock_movements'
    check_name        text not null,               -- 'row_count', 'sum(quantity)', 'keys', 'stock_on_hand'
    erp_value         numeric,
    warehouse_value   numeric,
    quarantined_value numeric,                     -- the part of the difference explained by quarantined rows
    difference        numeric,                     -- erp - warehouse - quarantined (0 = reconciled)
    status            text not null check (status in ('ok', 'explained', 'failed')),
    detail            text,
    primary key (checked_at, table_name, check_name)
);
"""

# any constant key works: it serialises concurrent first-time setups (create ... if not exists races)
_SETUP_LOCK_KEY = 7_246_115_001


#: what a current warehouse has (checked before any DDL: DDL takes table locks even when it has
#: nothing to do, and an extract must not hold them while it waits for a gate)
_CURRENT_COLUMNS = {
    "audit.load_batches": ("attempt", "rows_by_change", "quarantined_rows", "run_id"),
    "audit.quarantined_rows": ("resolved_by_batch",),
    "audit.reconciliation_results": ("detail",),
}


def _is_current(cur: Cursor) -> bool:
    cur.execute("select count(*) from pg_namespace where nspname = any(%s)", (list(WAREHOUSE_SCHEMAS),))
    if cur.fetchone()[0] != len(WAREHOUSE_SCHEMAS):
        return False
    for table, columns in _CURRENT_COLUMNS.items():
        cur.execute(
            "select count(*) from pg_attribute where attrelid = to_regclass(%s) and attname = any(%s)"
            " and not attisdropped", (table, list(columns)))
        if cur.fetchone()[0] != len(columns):
            return False
    return True


class WarehouseNotSetUp(RuntimeError):
    """The warehouse lacks the schemas (and grants) that setup creates."""


def ensure_warehouse_schemas_in(conn: Connection) -> None:
    """Check that setup created the schemas, create (or migrate) the audit tables (caller's transaction).

    A no-op that takes no lock when the warehouse is current. The loader may not create schemas
    (least privilege): setup (``nova db start`` / ``nova db roles``) creates them with their
    owners; a missing one raises ``WarehouseNotSetUp``.
    """
    with conn.cursor() as cur:
        if _is_current(cur):
            return
        cur.execute("select pg_advisory_xact_lock(%s)", (_SETUP_LOCK_KEY,))
        cur.execute(
            "select schema_name from unnest(%s::text[]) as schema_name where to_regnamespace(schema_name) is null",
            (list(LOADER_SCHEMAS),),
        )
        missing = [row[0] for row in cur.fetchall()]
        if missing:
            cur.execute("select current_database()")
            raise WarehouseNotSetUp(
                f"schema {', '.join(missing)} missing in database {cur.fetchone()[0]}: setup creates the schemas "
                "and grants (`nova db start` for the embedded server, `nova db roles` for an external one)"
            )
        cur.execute(LOAD_BATCHES_DDL)


def ensure_warehouse_schemas(pg: PostgresSettings) -> None:
    """Check the warehouse schemas and create ``audit.load_batches`` (as the loader).

    Idempotent and safe to call concurrently; commits its own transaction.
    """
    conn = connect(pg, "warehouse")
    try:
        ensure_warehouse_schemas_in(conn)
        conn.commit()
    finally:
        close_quietly(conn)
    log.info("warehouse %s: schemas %s and audit.load_batches ready", pg.warehouse_db, ", ".join(LOADER_SCHEMAS))


def set_batch_status(
    conn: Connection, batch_ids: Sequence[str], status: BatchStatus, reason: str | None = None
) -> int:
    """Mark batches ``passed``/``rejected`` (or back to ``loaded``) in the caller's transaction.

    Sets ``validated_at`` to now (null again for ``loaded``) and ``failure_reason`` to ``reason``.
    Does not commit: the caller commits (``with psycopg2.connect(...) as conn`` does on exit), so
    a gate can record its verdict atomically with its own writes. Raises ``KeyError`` naming the
    unknown batch ids (nothing is changed then) and ``ValueError`` for an unknown status.
    Returns the number of batches updated.
    """
    if status not in BATCH_STATUSES:
        raise ValueError(f"unknown batch status {status!r}; expected one of {', '.join(BATCH_STATUSES)}")
    ids = sorted(set(batch_ids))
    if not ids:
        return 0
    with conn.cursor() as cur:
        cur.execute("select batch_id from audit.load_batches where batch_id = any(%s)", (ids,))
        known = {row[0] for row in cur.fetchall()}
        missing = [batch_id for batch_id in ids if batch_id not in known]
        if missing:
            raise KeyError(f"unknown batch ids in audit.load_batches: {', '.join(missing)}")
        cur.execute(
            """
            update audit.load_batches
               set status = %(status)s,
                   validated_at = case when %(status)s = 'loaded' then null else now() end,
                   failure_reason = %(reason)s
             where batch_id = any(%(ids)s)
            """,
            {"status": status, "reason": reason, "ids": ids},
        )
    log.info(
        "marked %d batches %s (takes effect when the caller commits): %s%s",
        len(ids), status, ", ".join(ids), f"; reason: {reason}" if reason else "",
    )
    return len(ids)


def batches_for_interval(pg: PostgresSettings, interval_end: datetime) -> list[str]:
    """Batch ids recorded for a data interval (ERP batches, and file batches loaded with it), sorted."""
    conn = connect(pg, "warehouse")
    try:
        with conn.cursor() as cur:
            cur.execute("select to_regclass('audit.load_batches') is not null")
            if not cur.fetchone()[0]:
                return []
            cur.execute(
                "select batch_id from audit.load_batches where interval_end = %s order by batch_id",
                (interval_end,),
            )
            return [row[0] for row in cur.fetchall()]
    finally:
        close_quietly(conn)


def batch_statuses(pg: PostgresSettings, batch_ids: Sequence[str]) -> dict[str, str]:
    """Current status of each known batch id (unknown ids are absent)."""
    conn = connect(pg, "warehouse")
    try:
        with conn.cursor() as cur:
            cur.execute(
                "select batch_id, status from audit.load_batches where batch_id = any(%s)", (list(batch_ids),)
            )
            return dict(cur.fetchall())
    finally:
        close_quietly(conn)
