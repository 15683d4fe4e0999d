"""Change capture of the ERP tables into ``raw.erp_<table>`` (one batch per table and interval).

What a batch of ``erp.<table>`` for the data interval ending at ``interval_end`` holds (the rules
are in docs/architecture.md, "change capture"):

* **the cursor window**: rows with ``watermark_from - lookback <= updated_at < interval_end``, where
  ``watermark_from`` is the end of the newest *passed* batch of the table. The lookback (default
  24 hours, ``NOVA_CDC_LOOKBACK_HOURS``) re-reads rows whose transaction stamped ``updated_at``
  before the previous extract but committed after its snapshot;
* **repairs** (the key/hash reconciliation, ``NOVA_CDC_RECONCILE``, on by default): every source key
  with ``updated_at < interval_end`` whose row differs from the warehouse's current version (an
  edit that kept or back-dated ``updated_at``, a row of a rejected batch, a row in quarantine that
  must be checked again);
* **tombstones**: keys the warehouse holds that the source no longer has (deleted rows);

minus every row identical to the warehouse's current version of its key (de-duplication by key
and ``_row_hash``, the md5 of the row's contract columns as text). The *current version* of a key
is its newest row in a passed batch that is not in quarantine: exactly what staging shows.

Batches that passed the gate are never changed: re-running an interval whose batch passed adds a
new batch ``<source>|<interval_end>#<attempt>`` with what is new since; a batch still ``loaded``
or ``rejected`` is replaced. So a re-run can add data, never withdraw data that passed.

Schema: the raw table has the contract's columns with the contract's types, plus any extra source
column (stored as text: an extra column of a user-defined type cannot break the load), plus the
metadata columns. A contract column that is missing or retyped at the source is a structural
problem: that table's batch is recorded ``rejected`` with the reason and the other tables load.
An extra column that disappears again is loaded as NULL (a warning).

Rows move with binary ``COPY`` from the ERP through an OS pipe into the warehouse (``copy_stream``)
so memory stays flat. The ERP is read in one read-only REPEATABLE READ snapshot and all tables are
written in ONE warehouse transaction (committed durably): a failure rolls everything back.
Concurrent extracts and gates of the same tables are serialised by advisory locks.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import ISOLATION_LEVEL_REPEATABLE_READ
from psycopg2.extensions import connection as Connection
from psycopg2.extensions import cursor as Cursor

from nova_corrente.contracts.erp import TABLE_NAMES, TABLES_BY_NAME
from nova_corrente.contracts.erp import source_name as erp_source_name
from nova_corrente.contracts.model import TableContract
from nova_corrente.extract.connections import Role, close_quietly, connect, is_connection_lost, where
from nova_corrente.extract.copy_stream import CopyFailed, stream_copy
from nova_corrente.extract.raw_tables import (
    RAW_METADATA_NAMES,
    ensure_raw_metadata,
    extract_lock_key,
    raw_create_statement,
    record_batch,
)
from nova_corrente.extract.warehouse_setup import ensure_warehouse_schemas_in
from nova_corrente.postgres_server import DatabaseUnavailable
from nova_corrente.settings import PostgresSettings

log = logging.getLogger(__name__)

ERP_SCHEMA = "erp"
RAW_SCHEMA = "raw"
#: the ERP tables extracted by default, parents before children (the contract's order)
ERP_TABLES: tuple[str, ...] = TABLE_NAMES
#: keys fetched per query when repairing rows found by the reconciliation
REPAIR_CHUNK = 10_000


class ExtractError(RuntimeError):
    """A load failed; the message names the table and why. Nothing of the call was loaded."""


class SchemaDriftError(ExtractError):
    """A contract column was dropped or changed type; the message names table, column and types."""


@dataclass(frozen=True)
class SourceColumn:
    """A column of a source table as the catalog describes it."""

    name: str
    type: str  # as format_type prints it, e.g. numeric(12,2)
    builtin: bool  # a pg_catalog type (user-defined enums, domains, composites are not)


@dataclass(frozen=True)
class CdcSettings:
    """How the change capture reads the source (environment: ``NOVA_CDC_*``)."""

    lookback: timedelta = timedelta(hours=24)
    reconcile: bool = True

    @classmethod
    def from_env(cls) -> CdcSettings:
        hours = float(os.environ.get("NOVA_CDC_LOOKBACK_HOURS", "24"))
        if hours < 0:
            raise ValueError(f"NOVA_CDC_LOOKBACK_HOURS must be >= 0, got {hours}")
        reconcile = os.environ.get("NOVA_CDC_RECONCILE", "1").strip().lower() not in ("0", "false", "no", "off")
        return cls(lookback=timedelta(hours=hours), reconcile=reconcile)


@dataclass(frozen=True)
class BatchResult:
    """One batch. ``watermark_from`` is None for -infinity (the first load of a table).

    ``status`` is ``loaded`` (to be gated) or ``rejected`` (held back whole at extraction, e.g.
    schema drift; ``failure_reason`` says why). ``rows_by_change``: window / repair / delete counts.
    """

    batch_id: str
    source: str
    watermark_from: datetime | None
    watermark_to: datetime | None  # None for landing files
    row_count: int
    seconds: float
    status: str = "loaded"
    failure_reason: str | None = None
    rows_by_change: dict[str, int] = field(default_factory=dict)
    attempt: int = 1


@dataclass(frozen=True)
class TablePlan:
    """What loading one table needs: the source columns to read and how raw stores them."""

    contract: TableContract
    source_columns: tuple[SourceColumn, ...]
    raw_exists: bool
    added_columns: tuple[str, ...]  # extra source columns raw does not have yet (added as text)
    vanished_columns: tuple[str, ...]  # extra raw columns the source no longer has (loaded as NULL)

    @property
    def table(self) -> str:
        return self.contract.name

    @property
    def extra_columns(self) -> tuple[str, ...]:
        """Source columns outside the contract (kept in raw as text)."""
        names = set(self.contract.column_names)
        return tuple(column.name for column in self.source_columns if column.name not in names)


def source_name(table: str) -> str:
    """``erp.<table>``: the batch source and the ``_source`` of its rows."""
    return erp_source_name(table)


def raw_table_name(table: str) -> str:
    """``erp_<table>``, the table's name in the ``raw`` schema."""
    return TABLES_BY_NAME[table].raw_table if table in TABLES_BY_NAME else f"erp_{table}"


def batch_id_for(source: str, interval_end: datetime, attempt: int = 1) -> str:
    """Deterministic batch id ``<source>|<interval_end as UTC ISO 8601>`` (``#<attempt>`` after the first)."""
    base = f"{source}|{_utc(interval_end).isoformat()}"
    return base if attempt == 1 else f"{base}#{attempt}"


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"interval bounds must be timezone-aware (got naive {moment.isoformat()})")
    return moment.astimezone(UTC)


def read_columns(cur: Cursor, schema: str, table: str) -> list[SourceColumn]:
    """Columns of a table in catalog order, with exact types (typmod included) and whether built in.

    ``format_type`` is used rather than ``information_schema.columns.data_type`` because the latter
    drops the type modifier (``numeric`` instead of ``numeric(12,2)``). Empty when it does not exist.
    """
    cur.execute(
        """
        select attribute.attname, format_type(attribute.atttypid, attribute.atttypmod),
               type_namespace.nspname = 'pg_catalog'
          from pg_attribute as attribute
          join pg_class as relation on relation.oid = attribute.attrelid
          join pg_namespace as namespace on namespace.oid = relation.relnamespace
          join pg_type as column_type on column_type.oid = attribute.atttypid
          join pg_namespace as type_namespace on type_namespace.oid = column_type.typnamespace
         where namespace.nspname = %s and relation.relname = %s
           and attribute.attnum > 0 and not attribute.attisdropped
         order by attribute.attnum
        """,
        (schema, table),
    )
    return [SourceColumn(name, kind, builtin) for name, kind, builtin in cur.fetchall()]


def plan_table(
    contract: TableContract, source: Sequence[SourceColumn], raw: Sequence[SourceColumn]
) -> tuple[TablePlan | None, list[str]]:
    """Decide what loading a table needs, from its source and (possibly empty) raw columns.

    Returns (plan, structural problems). Problems are phrased for an operator, e.g.
    ``erp.sites.latitude changed type: the contract says numeric(9,6), the source now has text``.
    """
    table = contract.name
    if not source:
        return None, [f"source table {source_name(table)} does not exist in the ERP database"]
    source_types = {column.name: column.type for column in source}
    problems = []
    for column in contract.columns:
        found = source_types.get(column.name)
        if found is None:
            problems.append(f"{source_name(table)}.{column.name} was dropped from the source "
                            f"(the contract requires it as {column.type})")
        elif found != column.type:
            problems.append(f"{source_name(table)}.{column.name} changed type: the contract says {column.type}, "
                            f"the source now has {found}")
    if problems:
        return None, problems
    contract_names = set(contract.column_names)
    raw_extra = [column.name for column in raw if column.name not in contract_names
                 and column.name not in RAW_METADATA_NAMES]
    source_extra = [column.name for column in source if column.name not in contract_names]
    plan = TablePlan(
        contract=contract,
        source_columns=tuple(source),
        raw_exists=bool(raw),
        added_columns=tuple(name for name in source_extra if name not in raw_extra),
        vanished_columns=tuple(name for name in raw_extra if name not in source_extra),
    )
    return plan, []


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


# --------------------------------------------------------------------------------------------
# SQL pieces
# --------------------------------------------------------------------------------------------


def _ids(names: Sequence[str], prefix: str | None = None) -> sql.Composable:
    if prefix is None:
        return sql.SQL(", ").join(sql.Identifier(name) for name in names)
    return sql.SQL(", ").join(sql.Identifier(prefix, name) for name in names)


def _key_match(key: Sequence[str], left: str, right: str) -> sql.Composable:
    return sql.SQL(" and ").join(
        sql.SQL("{} = {}").format(sql.Identifier(left, name), sql.Identifier(right, name)) for name in key
    )


def row_hash_expression(contract: TableContract, alias: str | None = None) -> sql.Composable:
    """``md5(row(<contract columns>)::text)``: identical for identical rows in the ERP and in raw.

    Both sides use the same session settings (connections.SESSION_OPTIONS) and the same types, so
    the text form, and the hash, match.
    """
    return sql.SQL("md5(row({})::text)").format(_ids(contract.column_names, alias))


def _select_list(plan: TablePlan, alias: str) -> sql.Composable:
    """The source columns as raw stores them: contract columns as is, extra columns as text."""
    source = {column.name for column in plan.source_columns}
    parts: list[sql.Composable] = [sql.Identifier(alias, name) for name in plan.contract.column_names]
    for name in (*plan.extra_columns, *plan.vanished_columns):
        if name in source:
            parts.append(sql.SQL("{}::text").format(sql.Identifier(alias, name)))
        else:
            parts.append(sql.SQL("null::text"))
    return sql.SQL(", ").join(parts)


def _data_columns(plan: TablePlan) -> tuple[str, ...]:
    return (*plan.contract.column_names, *plan.extra_columns, *plan.vanished_columns)


# --------------------------------------------------------------------------------------------
# one table
# --------------------------------------------------------------------------------------------


def _prepare_raw_table(warehouse: Cursor, plan: TablePlan) -> None:
    raw = sql.Identifier(RAW_SCHEMA, plan.contract.raw_table)
    if not plan.raw_exists:
        warehouse.execute(raw_create_statement(plan.contract, plan.extra_columns))
        log.info("created raw.%s (%d contract columns)", plan.contract.raw_table, len(plan.contract.columns))
    else:
        for name in plan.added_columns:
            warehouse.execute(sql.SQL("alter table {} add column {} text").format(raw, sql.Identifier(name)))
            log.warning(
                "schema drift: new source column %s.%s (not in the contract) kept in raw.%s as text; "
                "earlier batches have it null", source_name(plan.table), name, plan.contract.raw_table,
            )
    for name in plan.vanished_columns:
        log.warning("schema drift: %s.%s (not in the contract) is gone from the source; raw.%s gets null for it",
                    source_name(plan.table), name, plan.contract.raw_table)
    ensure_raw_metadata(warehouse, plan.contract)


def claim_batch(cur: Cursor, source: str, interval_end: datetime, raw_table: str) -> tuple[str, int, int]:
    """(batch id, attempt, rows replaced) for loading ``source`` for the interval ending at ``interval_end``.

    The newest batch of the interval is replaced when it is ``loaded`` or ``rejected`` (its rows and
    quarantine records are deleted); when it ``passed`` a new attempt is started, leaving it intact.
    """
    cur.execute(
        "select batch_id, status, attempt from audit.load_batches where source = %s and interval_end = %s"
        " order by attempt desc limit 1",
        (source, interval_end),
    )
    row = cur.fetchone()
    if row is None:
        return batch_id_for(source, interval_end), 1, 0
    batch_id, status, attempt = row
    if status == "passed":
        return batch_id_for(source, interval_end, attempt + 1), attempt + 1, 0
    cur.execute("delete from audit.quarantined_rows where batch_id = %s", (batch_id,))
    cur.execute(sql.SQL("delete from {} where _batch_id = %s").format(sql.Identifier(RAW_SCHEMA, raw_table)),
                (batch_id,))
    return batch_id, attempt, cur.rowcount


def passed_watermark(cur: Cursor, source: str, interval_end: datetime) -> datetime | None:
    """The end of the newest passed batch of ``source`` not after ``interval_end`` (None: never passed)."""
    cur.execute(
        "select max(watermark_to) from audit.load_batches"
        " where source = %s and status = 'passed' and watermark_to <= %s",
        (source, interval_end),
    )
    return cur.fetchone()[0]


def current_versions_query(contract: TableContract, *, only_incoming: bool) -> sql.Composed:
    """``create temp table _current``: the current version (hash, change) of each key in raw.

    Current = newest row of a passed batch not in quarantine (what staging shows). With
    ``only_incoming`` only the keys present in ``_incoming`` are computed.
    """
    key = contract.key
    raw = sql.Identifier(RAW_SCHEMA, contract.raw_table)
    restrict = sql.SQL("")
    if only_incoming:
        restrict = sql.SQL(" and exists (select 1 from _incoming as incoming where {})").format(
            _key_match(key, "incoming", "r"))
    return sql.SQL(
        "create temp table _current on commit drop as"
        " select distinct on ({key}) {key_r}, r._row_hash, r._change"
        " from {raw} as r"
        " where r._batch_id in (select batch_id from audit.load_batches where source = %(source)s and status = 'passed')"
        " and not exists (select 1 from audit.quarantined_rows as quarantined"
        " where quarantined.raw_table = %(raw_table)s and quarantined.raw_row_id = r._row_id){restrict}"
        " order by {key_r}, r._loaded_at desc, r._row_id desc"
    ).format(key=_ids(key), key_r=_ids(key, "r"), raw=raw, restrict=restrict)


def _copy_into_incoming(
    pg: PostgresSettings, erp: Connection, warehouse: Connection, plan: TablePlan, where_sql: sql.Composable,
    change: str, params: dict,
) -> int:
    source = source_name(plan.table)
    copy_out = sql.SQL(
        "copy (select {columns}, {row_hash}, {change}::text from {table} as t where {where}) to stdout with (format binary)"
    ).format(
        columns=_select_list(plan, "t"), row_hash=row_hash_expression(plan.contract, "t"),
        change=sql.Literal(change), table=sql.Identifier(ERP_SCHEMA, plan.table), where=where_sql,
    )
    copy_in = sql.SQL("copy _incoming ({columns}, _row_hash, _change) from stdin with (format binary)").format(
        columns=_ids(_data_columns(plan)))
    with erp.cursor() as ecur, warehouse.cursor() as wcur:
        try:
            statement = ecur.mogrify(copy_out.as_string(erp), params).decode() if params else copy_out.as_string(erp)
            counts = stream_copy(ecur, statement, wcur, copy_in.as_string(warehouse))
        except CopyFailed as exc:
            role: Role = "erp" if exc.side == "source" else "warehouse"
            action = f"reading {source}" if role == "erp" else "writing the warehouse"
            raise _translate(pg, role, erp if role == "erp" else warehouse,
                             f"capturing {source} ({change}: {action})", exc.cause) from exc.cause
    return counts.rows_in


def _reconcile(
    pg: PostgresSettings, erp: Connection, warehouse: Connection, plan: TablePlan, interval_end: datetime,
) -> tuple[int, int]:
    """Find repairs and deletes by comparing every source key's hash with the warehouse's current one.

    Adds the changed rows (``repair``) and tombstones (``delete``) to ``_incoming``; returns their counts.
    """
    contract = plan.contract
    key = contract.key
    key_types = {column.name: column.type for column in contract.columns}
    source = source_name(plan.table)
    with warehouse.cursor() as wcur:
        wcur.execute(sql.SQL(
            "create temp table _source_keys ({columns}, _row_hash text, updated_at timestamptz) on commit drop"
        ).format(columns=sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(key_types[name])) for name in key)))
    copy_out = sql.SQL("copy (select {key}, {row_hash}, {stamp} from {table} as t) to stdout with (format binary)").format(
        key=_ids(key, "t"), row_hash=row_hash_expression(contract, "t"),
        stamp=sql.Identifier("t", contract.version_column or "updated_at"), table=sql.Identifier(ERP_SCHEMA, plan.table))
    copy_in = sql.SQL("copy _source_keys from stdin with (format binary)")
    with erp.cursor() as ecur, warehouse.cursor() as wcur:
        try:
            stream_copy(ecur, copy_out.as_string(erp), wcur, copy_in.as_string(warehouse))
        except CopyFailed as exc:
            role: Role = "erp" if exc.side == "source" else "warehouse"
            raise _translate(pg, role, erp if role == "erp" else warehouse,
                             f"reconciling the keys of {source}", exc.cause) from exc.cause
        wcur.execute("analyze _source_keys")
        wcur.execute(sql.SQL(
            "select {key_s} from _source_keys as s left join _current as c on {match}"
            " where s.updated_at < %(end)s"
            " and (c._row_hash is null or c._change = 'delete' or c._row_hash <> s._row_hash)"
            " and not exists (select 1 from _incoming as i where {match_i})"
        ).format(key_s=_ids(key, "s"), match=_key_match(key, "c", "s"), match_i=_key_match(key, "i", "s")),
            {"end": interval_end})
        wanted = wcur.fetchall()
    repaired = 0
    for start in range(0, len(wanted), REPAIR_CHUNK):
        chunk = wanted[start:start + REPAIR_CHUNK]
        columns = list(zip(*chunk, strict=True))
        unnest = sql.SQL(", ").join(
            sql.SQL("%(k{})s::{}[]").format(sql.SQL(str(position)), sql.SQL(key_types[name]))
            for position, name in enumerate(key))
        where_sql = sql.SQL("({key_t}) in (select * from unnest({unnest}))").format(key_t=_ids(key, "t"), unnest=unnest)
        params = {f"k{position}": list(values) for position, values in enumerate(columns)}
        repaired += _copy_into_incoming(pg, erp, warehouse, plan, where_sql, "repair", params)
    with warehouse.cursor() as wcur:
        wcur.execute(sql.SQL(
            "insert into _incoming ({key}, _row_hash, _change) select {key_c}, null, 'delete' from _current as c"
            " where c._change <> 'delete' and not exists (select 1 from _source_keys as s where {match})"
        ).format(key=_ids(key), key_c=_ids(key, "c"), match=_key_match(key, "s", "c")))
        deleted = wcur.rowcount
    return repaired, deleted


def _load_table(
    pg: PostgresSettings, erp: Connection, warehouse: Connection, plan: TablePlan,
    interval_start: datetime, interval_end: datetime, loaded_at: datetime, cdc: CdcSettings,
) -> BatchResult:
    started = time.perf_counter()
    contract = plan.contract
    source = source_name(plan.table)
    raw = f"{RAW_SCHEMA}.{contract.raw_table}"
    with warehouse.cursor() as wcur, _failures(pg, "warehouse", warehouse, f"preparing {raw} for {source}"):
        _prepare_raw_table(wcur, plan)
        batch_id, attempt, replaced = claim_batch(wcur, source, interval_end, contract.raw_table)
        watermark = passed_watermark(wcur, source, interval_end)
        lower = watermark - cdc.lookback if watermark is not None else None
        wcur.execute(sql.SQL(
            "create temp table _incoming on commit drop as select {columns}, _row_hash, _change from {raw} limit 0"
        ).format(columns=_ids(_data_columns(plan)), raw=sql.Identifier(RAW_SCHEMA, contract.raw_table)))
    stamp = sql.Identifier("t", contract.version_column or "updated_at")
    window = sql.SQL("{stamp} < %(end)s").format(stamp=stamp)
    if lower is not None:
        window = sql.SQL("{stamp} >= %(lower)s and {stamp} < %(end)s").format(stamp=stamp)
    _copy_into_incoming(pg, erp, warehouse, plan, window, "window", {"lower": lower, "end": interval_end})
    with warehouse.cursor() as wcur, _failures(pg, "warehouse", warehouse, f"de-duplicating {source}"):
        wcur.execute("analyze _incoming")
        wcur.execute(current_versions_query(contract, only_incoming=not cdc.reconcile),
                     {"source": source, "raw_table": raw})
        wcur.execute("analyze _current")
    repaired = deleted = 0
    if cdc.reconcile:
        repaired, deleted = _reconcile(pg, erp, warehouse, plan, interval_end)
    data_columns = _data_columns(plan)
    with warehouse.cursor() as wcur, _failures(pg, "warehouse", warehouse, f"writing {raw}"):
        wcur.execute(sql.SQL(
            "insert into {raw} ({columns}, _batch_id, _source, _loaded_at, _row_hash, _change)"
            " select {columns_i}, %(batch)s, %(source)s, %(loaded_at)s, i._row_hash, i._change"
            " from _incoming as i left join _current as c on {match}"
            " where not (i._change <> 'delete' and c._change is not null and c._change <> 'delete'"
            " and c._row_hash = i._row_hash)"
            " order by {key_i}"
        ).format(raw=sql.Identifier(RAW_SCHEMA, contract.raw_table), columns=_ids(data_columns),
                 columns_i=_ids(data_columns, "i"), match=_key_match(contract.key, "c", "i"),
                 key_i=_ids(contract.key, "i")),
            {"batch": batch_id, "source": source, "loaded_at": loaded_at})
        wcur.execute(sql.SQL("select _change, count(*) from {} where _batch_id = %s group by _change").format(
            sql.Identifier(RAW_SCHEMA, contract.raw_table)), (batch_id,))
        by_change = {change: int(count) for change, count in wcur.fetchall()}
        result = BatchResult(
            batch_id, source, lower, interval_end, sum(by_change.values()),
            round(time.perf_counter() - started, 3), rows_by_change=by_change, attempt=attempt,
        )
        record_batch(wcur, result, interval_start, interval_end, loaded_at)
        wcur.execute("drop table _incoming; drop table _current; drop table if exists _source_keys")
    log.info(
        "%s -> %s: %d rows (%s), window updated_at in [%s, %s), found by reconciliation: %d repaired, %d deleted;"
        " batch %s%s, %.2f s",
        source, raw, result.row_count, ", ".join(f"{k} {v}" for k, v in sorted(by_change.items())) or "no change",
        lower.isoformat() if lower else "-infinity", interval_end.isoformat(), repaired, deleted, batch_id,
        f" (replaced {replaced} rows of its earlier attempt)" if replaced else "", result.seconds,
    )
    return result


def _record_rejected(
    warehouse: Connection, pg: PostgresSettings, table: str, problems: list[str],
    interval_start: datetime, interval_end: datetime, loaded_at: datetime,
) -> BatchResult:
    """A table whose source broke its contract: a rejected, empty batch that says why."""
    source = source_name(table)
    reason = "held back whole, structural problem (schema drift): " + "; ".join(problems)
    with warehouse.cursor() as wcur, _failures(pg, "warehouse", warehouse, f"recording the drift of {source}"):
        batch_id, attempt, _ = claim_batch(wcur, source, interval_end, raw_table_name(table)) \
            if _raw_exists(wcur, table) else (batch_id_for(source, interval_end), 1, 0)
        result = BatchResult(batch_id, source, None, interval_end, 0, 0.0, status="rejected",
                             failure_reason=reason, attempt=attempt)
        record_batch(wcur, result, interval_start, interval_end, loaded_at)
    log.error("%s: %s; the other tables load; fix the source or the contract, then re-run the interval", source, reason)
    return result


def _raw_exists(cur: Cursor, table: str) -> bool:
    cur.execute("select to_regclass(%s) is not null", (f"{RAW_SCHEMA}.{raw_table_name(table)}",))
    return bool(cur.fetchone()[0])


def load_interval(
    pg: PostgresSettings,
    interval_start: datetime,
    interval_end: datetime,
    tables: Sequence[str] | None = None,
    cdc: CdcSettings | None = None,
) -> list[BatchResult]:
    """Capture the ERP changes up to ``interval_end`` into raw; one batch per table.

    ``tables`` defaults to ``ERP_TABLES``. All tables are written in one warehouse transaction:
    on an error nothing is loaded and the previous raw state is intact. A table that breaks its
    contract (a dropped or retyped contract column) gets a ``rejected`` batch naming the problem and
    the others load. Raises ``ValueError`` (naive or inverted interval, unknown table),
    ``ExtractError`` (names the table and the reason) or ``DatabaseUnavailable`` (names the
    erp/warehouse database and host:port). New batches have status ``loaded``.
    """
    cdc = cdc or CdcSettings.from_env()
    interval_start, interval_end = _utc(interval_start), _utc(interval_end)
    if interval_start >= interval_end:
        raise ValueError(f"empty interval: start {interval_start.isoformat()} >= end {interval_end.isoformat()}")
    selected = tuple(tables) if tables is not None else ERP_TABLES
    unknown = [table for table in selected if table not in ERP_TABLES]
    if unknown or len(set(selected)) != len(selected):
        raise ValueError(f"unknown or repeated ERP tables {selected}; known: {', '.join(ERP_TABLES)}")
    selected = tuple(table for table in ERP_TABLES if table in selected)  # parents first
    started = time.perf_counter()
    log.info(
        "extract %s -> raw (%s): interval [%s, %s), tables: %s; lookback %s, reconciliation %s",
        pg.erp_db, pg.warehouse_db, interval_start.isoformat(), interval_end.isoformat(), ", ".join(selected),
        cdc.lookback, "on" if cdc.reconcile else "off",
    )
    erp: Connection | None = None
    warehouse: Connection | None = None
    results: list[BatchResult] = []
    try:
        erp = connect(pg, "erp")
        erp.set_session(isolation_level=ISOLATION_LEVEL_REPEATABLE_READ, readonly=True)
        warehouse = connect(pg, "warehouse")
        with _failures(pg, "warehouse", warehouse, "preparing the warehouse schemas"):
            with warehouse.cursor() as wcur:
                # extracts and gates of the same sources are serialised; released at commit/rollback.
                # Taken first, while this transaction holds no other lock (a gate waiting for a table
                # lock of ours while we wait for its advisory lock would never end)
                for table in sorted(selected):
                    wcur.execute("select pg_advisory_xact_lock(%s)", (extract_lock_key(source_name(table)),))
                # the clock once the locks are held (now() would be the time the transaction began
                # waiting): a batch written after another run's is newer, which staging relies on
                wcur.execute("select clock_timestamp()")
                loaded_at: datetime = wcur.fetchone()[0]
            ensure_warehouse_schemas_in(warehouse)
        for table in selected:
            contract = TABLES_BY_NAME[table]
            with erp.cursor() as ecur, _failures(pg, "erp", erp, f"reading the columns of {source_name(table)}"):
                source_columns = read_columns(ecur, ERP_SCHEMA, table)
            with warehouse.cursor() as wcur, _failures(pg, "warehouse", warehouse,
                                                       f"reading the columns of raw.{contract.raw_table}"):
                raw_columns = read_columns(wcur, RAW_SCHEMA, contract.raw_table)
            plan, problems = plan_table(contract, source_columns, raw_columns)
            if plan is None:
                results.append(_record_rejected(warehouse, pg, table, problems, interval_start, interval_end, loaded_at))
                continue
            results.append(_load_table(pg, erp, warehouse, plan, interval_start, interval_end, loaded_at, cdc))
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
    held = [result.batch_id for result in results if result.status == "rejected"]
    log.info(
        "extract [%s, %s) committed: %d batches, %d rows in %.2f s (%.0f rows/s)%s",
        interval_start.isoformat(), interval_end.isoformat(), len(results), total, seconds,
        total / seconds if seconds else 0.0, f"; held back: {', '.join(held)}" if held else "",
    )
    return results
