"""The raw tables and the batch register, shared by the ERP change capture and the feed loader.

A raw table has its contract's columns (the contract's types), any extra source columns (text),
and the metadata columns of ``warehouse_setup.RAW_METADATA_COLUMNS``. ``ensure_raw_metadata``
migrates raw tables of older versions in place (adds ``_row_id``, ``_row_hash``, ``_change``,
back-fills the hash) and creates the indexes the change capture and the gate need.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from psycopg2 import sql
from psycopg2.extensions import cursor as Cursor

from nova_corrente.contracts.model import TableContract
from nova_corrente.extract.warehouse_setup import RAW_METADATA_COLUMNS, RAW_METADATA_NAMES

if TYPE_CHECKING:
    from nova_corrente.extract.erp import BatchResult

__all__ = [
    "RAW_METADATA_NAMES", "ensure_raw_metadata", "extract_lock_key", "raw_create_statement", "record_batch",
]


def extract_lock_key(source: str) -> int:
    """The advisory-lock key that serialises extracts and gates of one source (stable across processes)."""
    digest = hashlib.sha256(f"nova_extract:{source}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def raw_create_statement(contract: TableContract, extra_columns: Sequence[str] = ()) -> sql.Composed:
    """``create table if not exists raw.<table>`` with contract, extra (text) and metadata columns."""
    columns = [sql.SQL("{} {}").format(sql.Identifier(column.name), sql.SQL(column.type)) for column in contract.columns]
    columns += [sql.SQL("{} text").format(sql.Identifier(name)) for name in extra_columns]
    columns += [sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind)) for name, kind in RAW_METADATA_COLUMNS]
    return sql.SQL("create table if not exists {} ({})").format(
        sql.Identifier("raw", contract.raw_table), sql.SQL(", ").join(columns))


def ensure_raw_metadata(cur: Cursor, contract: TableContract) -> None:
    """Add missing metadata columns (older raw tables), back-fill ``_row_hash``, create the indexes."""
    table = sql.Identifier("raw", contract.raw_table)
    cur.execute(
        "select attname from pg_attribute where attrelid = %s::regclass and attnum > 0 and not attisdropped",
        (f"raw.{contract.raw_table}",),
    )
    present = {row[0] for row in cur.fetchall()}
    for name, kind in RAW_METADATA_COLUMNS:
        if name not in present:
            cur.execute(sql.SQL("alter table {} add column {} {}").format(table, sql.Identifier(name), sql.SQL(kind)))
    if "_row_hash" not in present:
        cur.execute(sql.SQL("update {} set _row_hash = md5(row({})::text) where _change <> 'delete'").format(
            table, sql.SQL(", ").join(sql.Identifier(name) for name in contract.column_names)))
    if "_change" not in present and contract.version_column is None:
        cur.execute(sql.SQL("update {} set _change = 'file'").format(table))
    prefix = contract.raw_table
    indexes = (
        (f"{prefix}_batch_id_idx", sql.SQL("(_batch_id)")),
        (f"{prefix}_row_id_idx", sql.SQL("(_row_id)")),
        (f"{prefix}_key_idx", sql.SQL("({}, _loaded_at desc, _row_id desc)").format(
            sql.SQL(", ").join(sql.Identifier(name) for name in contract.key))),
    )
    cur.execute("select indexname from pg_indexes where schemaname = 'raw' and tablename = %s", (contract.raw_table,))
    present_indexes = {row[0] for row in cur.fetchall()}
    for name, columns in indexes:
        if name not in present_indexes:  # CREATE INDEX IF NOT EXISTS would lock the table even so
            cur.execute(sql.SQL("create index {} on {} {}").format(sql.Identifier(name), table, columns))


def record_batch(
    cur: Cursor, result: BatchResult, interval_start: datetime | None, interval_end: datetime | None,
    loaded_at: datetime,
) -> None:
    """Insert or replace the batch's row in ``audit.load_batches`` (status ``loaded`` or ``rejected``)."""
    cur.execute(
        """
        insert into audit.load_batches as batch
            (batch_id, source, interval_start, interval_end, watermark_from, watermark_to, row_count,
             status, loaded_at, validated_at, failure_reason, attempt, rows_by_change, quarantined_rows)
        values (%(batch_id)s, %(source)s, %(interval_start)s, %(interval_end)s,
                coalesce(%(watermark_from)s::timestamptz, '-infinity'), %(watermark_to)s, %(row_count)s,
                %(status)s, %(loaded_at)s, case when %(status)s = 'rejected' then now() end, %(reason)s,
                %(attempt)s, %(by_change)s, 0)
        on conflict (batch_id) do update set
            source = excluded.source, interval_start = excluded.interval_start,
            interval_end = excluded.interval_end, watermark_from = excluded.watermark_from,
            watermark_to = excluded.watermark_to, row_count = excluded.row_count, status = excluded.status,
            loaded_at = excluded.loaded_at, validated_at = excluded.validated_at,
            failure_reason = excluded.failure_reason, attempt = excluded.attempt,
            rows_by_change = excluded.rows_by_change, quarantined_rows = 0
        """,
        {
            "batch_id": result.batch_id, "source": result.source, "interval_start": interval_start,
            "interval_end": interval_end, "watermark_from": result.watermark_from,
            "watermark_to": result.watermark_to, "row_count": result.row_count, "loaded_at": loaded_at,
            "status": result.status, "reason": result.failure_reason, "attempt": result.attempt,
            "by_change": json.dumps(result.rows_by_change, sort_keys=True),
        },
    )
