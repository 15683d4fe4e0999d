"""Incremental extract of the ERP tables into ``raw.erp_<table>`` (one batch per table and interval).

Rule (docs/architecture.md, "raw and audit"): a batch of ``erp.<table>`` for the data interval
ending at ``interval_end`` holds the rows with ``watermark_from <= updated_at < interval_end``,
where ``watermark_from`` is the ``watermark_to`` of the newest *passed* batch of that table (or
-infinity). The batch id is ``erp.<table>|<interval_end in UTC, ISO 8601>``; re-running the same
interval reuses the batch's recorded ``watermark_from`` and replaces its rows, so loading an
interval twice leaves the same raw state.

How:

* The raw table mirrors the source columns (names and exact types, read from the source catalog)
  plus ``_batch_id``, ``_source``, ``_loaded_at``. A new source column is added to the raw table
  (warning); a dropped or retyped column stops the load before anything is written.
* Rows move with ``COPY (select ...) TO STDOUT`` on the ERP streamed through a pipe into
  ``COPY raw.erp_<table> FROM STDIN`` on the warehouse (``copy_stream``), so memory stays flat.
  The binary COPY format is used: source and raw columns have identical built-in types (the
  drift check guarantees it) and it is about twice as fast as text (bench/extract.py). Arrays of
  user-defined types would not survive it (their OIDs differ between databases); the ERP has none.
* The ERP is read in one read-only REPEATABLE READ transaction (one snapshot for all tables) and
  every table of a call is written in ONE warehouse transaction: any failure rolls everything
  back and the error names the table (and the database and host:port when a server went away).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import ISOLATION_LEVEL_REPEATABLE_READ
from psycopg2.extensions import connection as Connection
from psycopg2.extensions import cursor as Cursor

from nova_corrente.erp_simulator.config import TABLES
from nova_corrente.extract.connections import Role, close_quietly, connect, is_connection_lost, where
from nova_corrente.extract.copy_stream import CopyFailed, stream_copy
from nova_corrente.extract.warehouse_setup import RAW_METADATA_COLUMNS, ensure_warehouse_schemas_in
from nova_corrente.postgres_server import DatabaseUnavailable
from nova_corrente.settings import PostgresSettings

log = logging.getLogger(__name__)

ERP_SCHEMA = "erp"
RAW_SCHEMA = "raw"
WATERMARK_COLUMN = "updated_at"
#: the ERP tables extracted by default, parents before children (the contract of schema.sql)
ERP_TABLES: tuple[str, ...] = TABLES
_METADATA_NAMES = tuple(name for name, _ in RAW_METADATA_COLUMNS)

Column = tuple[str, str]
"""(column name, type as printed by ``format_type``, e.g. ``numeric(12,2)``)"""


class ExtractError(RuntimeError):
    """A load failed; the message names the table and why. Nothing of the call was loaded."""


class SchemaDriftError(ExtractError):
    """A source column was dropped or changed type; the message names table, column and types."""


@dataclass(frozen=True)
class BatchResult:
    """One loaded batch. ``watermark_from`` is None for -infinity (the first load of a table)."""

    batch_id: str
    source: str
    watermark_from: datetime | None
    watermark_to: datetime
    row_count: int
    seconds: float


@dataclass(frozen=True)
class TablePlan:
    """What to do for one table: its source columns and the raw columns to add first."""

    table: str
    source_columns: tuple[Column, ...]
    raw_exists: bool
    added_columns: tuple[Column, ...]


def source_name(table: str) -> str:
    """``erp.<table>``: the batch source and the ``_source`` of its rows."""
    return f"{ERP_SCHEMA}.{table}"


def raw_table_name(table: str) -> str:
    """``erp_<table>``, the table's name in the ``raw`` schema."""
    return f"erp_{table}"


def batch_id_for(source: str, interval_end: datetime) -> str:
    """Deterministic batch id ``<source>|<interval_end as UTC ISO 8601>``."""
    return f"{source}|{_utc(interval_end).isoformat()}"


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"interval bounds must be timezone-aware (got naive {moment.isoformat()})")
    return moment.astimezone(UTC)


def compare_columns(
    table: str, source: Sequence[Column], raw: Sequence[Column]
) -> tuple[list[Column], list[str]]:
    """Compare source columns with the existing raw table's (metadata columns excluded).

    Returns (columns to add to raw, drift problems). A problem is a dropped or retyped column,
    phrased for an operator: ``erp.sites.latitude changed type: raw has numeric(9,6), source now text``.
    """
    raw_types = {name: kind for name, kind in raw if name not in _METADATA_NAMES}
    column, raw_table = f"{source_name(table)}.{{}}", f"raw.{raw_table_name(table)}"
    source_types = dict(source)
    added = [(name, kind) for name, kind in source if name not in raw_types]
    problems = []
    for name, old_type in raw_types.items():
        new_type = source_types.get(name)
        if new_type is None:
            problems.append(f"{column.format(name)} was dropped from the source ({raw_table} has it as {old_type})")
        elif new_type != old_type:
            problems.append(f"{column.format(name)} changed type: {raw_table} has {old_type}, source now {new_type}")
    return added, problems


def read_columns(cur: Cursor, schema: str, table: str) -> list[Column]:
    """Columns of a table or view in catalog order, with their exact types (typmod included).

    ``format_type`` is used rather than ``information_schema.columns.data_type`` because the latter
    drops the type modifier (``numeric`` instead of ``numeric(12,2)``). Empty when it does not exist.
    """
    cur.execute(
        """
        select attribute.attname, format_type(attribute.atttypid, attribute.atttypmod)
          from pg_attribute as attribute
          join pg_class as relation on relation.oid = attribute.attrelid
          join pg_namespace as namespace on namespace.oid = relation.relnamespace
         where namespace.nspname = %s and relation.relname = %s
           and attribute.attnum > 0 and not attribute.attisdropped
         order by attribute.attnum
        """,
        (schema, table),
    )
    return [(name, kind) for name, kind in cur.fetchall()]


@contextmanager
def _failures(pg: PostgresSettings, role: Role, conn: Connection, what: str) -> Iterator[None]:
    """Turn a psycopg2 error on ``conn`` into DatabaseUnavailable (server gone) or ExtractError."""
    try:
        yield
    except (ExtractError, DatabaseUnavailable):
        raise
    except psycopg2.Error as exc:
        raise _translate(pg, role, conn, what, exc) from exc


def _translate(pg: PostgresSettings, role: Role, conn: Connection, what: str, exc: BaseException) -> Exception:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    diag = getattr(exc, "diag", None)
    context = (diag.context or "").strip().splitlines() if diag is not None else []
    if context:
        reason += f" [{context[-1]}]"  # the outermost frame, e.g. 'COPY erp_stock_movements, line 11'
    if is_connection_lost(exc, conn):
        return DatabaseUnavailable(
            f"lost the connection to the {where(pg, role)} while {what}: {reason}; "
            "nothing was loaded (the warehouse transaction was rolled back)"
        )
    return ExtractError(f"{what} failed: {reason}; nothing was loaded (the warehouse transaction was rolled back)")


def plan_table(table: str, source: Sequence[Column], raw: Sequence[Column]) -> tuple[TablePlan | None, list[str]]:
    """Decide what loading ``table`` needs, from its source and (possibly empty) raw columns.

    Returns (plan, problems); the plan is None when the source table is missing or unusable.
    """
    if not source:
        return None, [f"source table {source_name(table)} does not exist in the ERP database"]
    if WATERMARK_COLUMN not in dict(source):
        return None, [f"source table {source_name(table)} has no {WATERMARK_COLUMN} column (the watermark)"]
    added, problems = compare_columns(table, source, raw) if raw else ([], [])
    plan = TablePlan(table, tuple(source), raw_exists=bool(raw), added_columns=tuple(added))
    return plan, problems


def _prepare_raw_table(warehouse: Cursor, plan: TablePlan) -> None:
    raw = sql.Identifier(RAW_SCHEMA, raw_table_name(plan.table))
    if not plan.raw_exists:
        columns = [sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind)) for name, kind in plan.source_columns]
        columns += [sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind)) for name, kind in RAW_METADATA_COLUMNS]
        warehouse.execute(sql.SQL("create table {} ({})").format(raw, sql.SQL(", ").join(columns)))
        warehouse.execute(
            sql.SQL("create index {} on {} (_batch_id)").format(
                sql.Identifier(f"{raw_table_name(plan.table)}_batch_id_idx"), raw
            )
        )
        log.info("created raw.%s (%d source columns)", raw_table_name(plan.table), len(plan.source_columns))
    for name, kind in plan.added_columns:
        warehouse.execute(
            sql.SQL("alter table {} add column {} {}").format(raw, sql.Identifier(name), sql.SQL(kind))
        )
        log.warning(
            "schema drift: new source column %s.%s (%s) added to raw.%s; earlier batches have it null",
            source_name(plan.table), name, kind, raw_table_name(plan.table),
        )


def _watermark_from(
    warehouse: Cursor, source: str, batch_id: str, interval_end: datetime
) -> tuple[datetime | None, bool]:
    """(watermark_from, is_rerun): the recorded one on a re-run, else the newest passed batch's end."""
    warehouse.execute(
        "select nullif(watermark_from, '-infinity') from audit.load_batches where batch_id = %s", (batch_id,)
    )
    row = warehouse.fetchone()
    if row is not None:
        return row[0], True
    warehouse.execute(
        """
        select max(watermark_to) from audit.load_batches
         where source = %s and status = 'passed' and watermark_to <= %s
        """,
        (source, interval_end),
    )
    return warehouse.fetchone()[0], False


def _copy_statements(
    plan: TablePlan, batch_id: str, loaded_at: datetime, watermark_from: datetime | None, interval_end: datetime
) -> tuple[sql.Composed, sql.Composed]:
    names = [sql.Identifier(name) for name, _ in plan.source_columns]
    lower = sql.Literal(watermark_from) if watermark_from is not None else sql.Literal("-infinity")
    copy_out = sql.SQL(
        "copy (select {columns}, {batch_id}::text, {source}::text, {loaded_at}::timestamptz from {table}"
        " where {watermark} >= {lower}::timestamptz and {watermark} < {upper}::timestamptz)"
        " to stdout with (format binary)"
    ).format(
        columns=sql.SQL(", ").join(names),
        batch_id=sql.Literal(batch_id),
        source=sql.Literal(source_name(plan.table)),
        loaded_at=sql.Literal(loaded_at),
        table=sql.Identifier(ERP_SCHEMA, plan.table),
        watermark=sql.Identifier(WATERMARK_COLUMN),
        lower=lower,
        upper=sql.Literal(interval_end),
    )
    copy_in = sql.SQL("copy {table} ({columns}) from stdin with (format binary)").format(
        table=sql.Identifier(RAW_SCHEMA, raw_table_name(plan.table)),
        columns=sql.SQL(", ").join(names + [sql.Identifier(name) for name in _METADATA_NAMES]),
    )
    return copy_out, copy_in


def _record_batch(
    warehouse: Cursor, result: BatchResult, interval_start: datetime, interval_end: datetime, loaded_at: datetime
) -> None:
    warehouse.execute(
        """
        insert into audit.load_batches as batch
            (batch_id, source, interval_start, interval_end, watermark_from, watermark_to, row_count,
             status, loaded_at, validated_at, failure_reason)
        values (%(batch_id)s, %(source)s, %(interval_start)s, %(interval_end)s,
                coalesce(%(watermark_from)s::timestamptz, '-infinity'), %(watermark_to)s, %(row_count)s,
                'loaded', %(loaded_at)s, null, null)
        on conflict (batch_id) do update set
            source = excluded.source, interval_start = excluded.interval_start,
            interval_end = excluded.interval_end, watermark_from = excluded.watermark_from,
            watermark_to = excluded.watermark_to, row_count = excluded.row_count, status = 'loaded',
            loaded_at = excluded.loaded_at, validated_at = null, failure_reason = null
        """,
        {
            "batch_id": result.batch_id, "source": result.source, "interval_start": interval_start,
            "interval_end": interval_end, "watermark_from": result.watermark_from,
            "watermark_to": result.watermark_to, "row_count": result.row_count, "loaded_at": loaded_at,
        },
    )


def _load_table(
    pg: PostgresSettings, erp: Connection, warehouse: Connection, plan: TablePlan,
    interval_start: datetime, interval_end: datetime, loaded_at: datetime,
) -> BatchResult:
    started = time.perf_counter()
    source = source_name(plan.table)
    raw = f"{RAW_SCHEMA}.{raw_table_name(plan.table)}"
    batch_id = batch_id_for(source, interval_end)
    with warehouse.cursor() as wcur:
        with _failures(pg, "warehouse", warehouse, f"preparing {raw} for {source}"):
            _prepare_raw_table(wcur, plan)
            watermark_from, rerun = _watermark_from(wcur, source, batch_id, interval_end)
            replaced = 0
            if rerun:
                wcur.execute(sql.SQL("delete from {} where _batch_id = %s").format(
                    sql.Identifier(RAW_SCHEMA, raw_table_name(plan.table))), (batch_id,))
                replaced = wcur.rowcount
        copy_out, copy_in = _copy_statements(plan, batch_id, loaded_at, watermark_from, interval_end)
        with erp.cursor() as ecur:
            try:
                counts = stream_copy(ecur, copy_out.as_string(erp), wcur, copy_in.as_string(warehouse))
            except CopyFailed as exc:
                role: Role = "erp" if exc.side == "source" else "warehouse"
                action = f"reading {source}" if role == "erp" else f"writing {raw}"
                raise _translate(pg, role, erp if role == "erp" else warehouse,
                                 f"loading {source} into {raw} ({action})", exc.cause) from exc.cause
        result = BatchResult(batch_id, source, watermark_from, interval_end, counts.rows_in,
                             round(time.perf_counter() - started, 3))
        with _failures(pg, "warehouse", warehouse, f"recording batch {batch_id}"):
            _record_batch(wcur, result, interval_start, interval_end, loaded_at)
    log.info(
        "%s -> %s: %d rows, updated_at in [%s, %s), batch %s%s, %.2f s",
        source, raw, result.row_count, watermark_from.isoformat() if watermark_from else "-infinity",
        interval_end.isoformat(), batch_id, f" (re-run: replaced {replaced} rows)" if rerun else "", result.seconds,
    )
    return result


def load_interval(
    pg: PostgresSettings,
    interval_start: datetime,
    interval_end: datetime,
    tables: Sequence[str] | None = None,
) -> list[BatchResult]:
    """Extract the ERP rows changed before ``interval_end`` since each table's watermark into raw.

    ``tables`` defaults to ``ERP_TABLES``. All tables are written in one warehouse transaction:
    on any error nothing is loaded and the previous raw state is intact. Raises ``ValueError``
    (naive or inverted interval, unknown table), ``SchemaDriftError``, ``ExtractError`` (names the
    table and the reason) or ``DatabaseUnavailable`` (names the erp/warehouse database and host:port).
    Batches are registered in ``audit.load_batches`` with status ``loaded``; a re-run of an
    interval puts its batches back to ``loaded`` (the gate must pass them again).
    """
    interval_start, interval_end = _utc(interval_start), _utc(interval_end)
    if interval_start >= interval_end:
        raise ValueError(f"empty interval: start {interval_start.isoformat()} >= end {interval_end.isoformat()}")
    selected = tuple(tables) if tables is not None else ERP_TABLES
    unknown = [table for table in selected if table not in ERP_TABLES]
    if unknown or len(set(selected)) != len(selected):
        raise ValueError(f"unknown or repeated ERP tables {selected}; known: {', '.join(ERP_TABLES)}")
    started = time.perf_counter()
    log.info(
        "extract %s -> raw (%s): interval [%s, %s), tables: %s",
        pg.erp_db, pg.warehouse_db, interval_start.isoformat(), interval_end.isoformat(), ", ".join(selected),
    )
    erp: Connection | None = None
    warehouse: Connection | None = None
    try:
        erp = connect(pg, "erp")
        erp.set_session(isolation_level=ISOLATION_LEVEL_REPEATABLE_READ, readonly=True)
        warehouse = connect(pg, "warehouse")
        with _failures(pg, "warehouse", warehouse, "preparing the warehouse schemas"):
            ensure_warehouse_schemas_in(warehouse)
            with warehouse.cursor() as wcur:
                # one extract per source at a time; released at commit/rollback
                for table in sorted(selected):
                    wcur.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"nova_extract:{source_name(table)}",))
                wcur.execute("select now()")
                loaded_at: datetime = wcur.fetchone()[0]
        plans: list[TablePlan] = []
        problems: list[str] = []
        with erp.cursor() as ecur, warehouse.cursor() as wcur:
            for table in selected:
                with _failures(pg, "erp", erp, f"reading the columns of {source_name(table)}"):
                    source_columns = read_columns(ecur, ERP_SCHEMA, table)
                with _failures(pg, "warehouse", warehouse, f"reading the columns of raw.{raw_table_name(table)}"):
                    raw_columns = read_columns(wcur, RAW_SCHEMA, raw_table_name(table))
                plan, table_problems = plan_table(table, source_columns, raw_columns)
                problems += table_problems
                if plan is not None:
                    plans.append(plan)
        if problems:
            raise SchemaDriftError(
                "schema drift, nothing loaded:\n  " + "\n  ".join(problems)
                + "\nAdapt raw (and staging) to the new source schema, then re-run the interval."
            )
        results = [
            _load_table(pg, erp, warehouse, plan, interval_start, interval_end, loaded_at) for plan in plans
        ]
        with _failures(pg, "warehouse", warehouse, "committing the batches"):
            warehouse.commit()
    except BaseException as exc:
        close_quietly(warehouse)
        log.error(
            "extract [%s, %s) failed, nothing loaded: %s", interval_start.isoformat(), interval_end.isoformat(), exc
        )
        raise
    finally:
        close_quietly(erp, rollback=False)  # read-only; may be mid-COPY after a failure
        close_quietly(warehouse)
    seconds = time.perf_counter() - started
    total = sum(result.row_count for result in results)
    log.info(
        "extract [%s, %s) committed: %d batches, %d rows in %.2f s (%.0f rows/s)",
        interval_start.isoformat(), interval_end.isoformat(), len(results), total, seconds,
        total / seconds if seconds else 0.0,
    )
    return results
