"""Load the landing files of the external feeds into ``raw.feed_*`` (one batch per file version).

For each file (``landing.landing_files``):

* a file whose content (sha256) is already a *passed* batch is skipped: unchanged;
* otherwise it is read in a stream (``readers``), every cell parsed to the contract's type
  (``parse``). A row that cannot be parsed (bad number or date, wrong field count) is quarantined
  by the loader (``audit.quarantined_rows``, with the file, line, column and value) and the rest of
  the file loads; value rules (bounds, keys, cumulative columns) are the raw gate's (GX suites).
* structural problems hold the file back whole: a header that breaks the contract, bytes that are
  not UTF-8, a corrupt Parquet file, no data rows, or more unparsable rows than
  ``QuarantineSettings`` allows. It is recorded as a ``rejected`` batch with the reason, LEFT WHERE
  IT IS (the landing folder belongs to the senders), and tried again at every run: reported, never
  silently skipped.
* a new version of a file never deletes the previous version's rows (they passed): its rows are
  newer, so staging shows them; keys the new version no longer has get a tombstone.

Memory stays flat with file size: rows stream through temporary spool files into COPY.
"""

from __future__ import annotations

import csv
import json
import logging
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import connection as Connection

from nova_corrente.contracts.feeds import FEEDS, file_source
from nova_corrente.contracts.model import TableContract
from nova_corrente.extract.connections import close_quietly, connect, is_connection_lost, where
from nova_corrente.extract.feeds.landing import file_batch_id, landing_files, sha256_of
from nova_corrente.extract.feeds.parse import cell_kind, parse_value
from nova_corrente.extract.feeds.readers import FileUnreadable, file_rows
from nova_corrente.extract.raw_tables import ensure_raw_metadata, extract_lock_key, raw_create_statement
from nova_corrente.extract.warehouse_setup import ensure_warehouse_schemas
from nova_corrente.postgres_server import DatabaseUnavailable
from nova_corrente.settings import PostgresSettings

log = logging.getLogger(__name__)

_SPOOL_BYTES = 8 << 20  # rows beyond this spill to a temporary file: memory stays flat
PARSE_RULE = "cells parse as the contract's types"


@dataclass(frozen=True)
class FileBatch:
    """A file loaded as one batch (``quarantined``: its unparsable rows)."""

    batch_id: str
    feed: str
    path: Path
    row_count: int
    seconds: float
    quarantined: int = 0
    tombstones: int = 0


@dataclass(frozen=True)
class HeldBackFile:
    """A file that was not loaded (left in the landing folder), its batch id and why."""

    feed: str
    path: Path
    error: str
    batch_id: str = ""


@dataclass
class FileLoadReport:
    """What ``load_landing_files`` did with each file of the landing folder."""

    loaded: list[FileBatch] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    held_back: list[HeldBackFile] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no file was held back."""
        return not self.held_back

    @property
    def batch_ids(self) -> list[str]:
        """Every batch this call recorded (loaded and held back): the raw gate's input."""
        return [batch.batch_id for batch in self.loaded] + [item.batch_id for item in self.held_back if item.batch_id]

    def summary(self) -> str:
        """One line for logs and task results."""
        return (
            f"{len(self.loaded)} files loaded ({sum(batch.row_count for batch in self.loaded)} rows,"
            f" {sum(batch.quarantined for batch in self.loaded)} unparsable rows quarantined), "
            f"{len(self.skipped)} unchanged skipped, {len(self.held_back)} held back"
            + "".join(f"\n  held back {item.path.name}: {item.error}" for item in self.held_back)
        )


class _Spools:
    """The good rows (COPY CSV for raw) and the unparsable ones (COPY CSV for the quarantine)."""

    def __init__(self) -> None:
        self.rows: IO[str] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES, mode="w+", newline="")
        self.bad: IO[str] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES, mode="w+", newline="")
        self.row_writer = csv.writer(self.rows, lineterminator="\n")
        self.bad_writer = csv.writer(self.bad, lineterminator="\n")
        self.good = 0
        self.bad_rows = 0

    def close(self) -> None:
        self.rows.close()
        self.bad.close()


def _parse_file(feed: TableContract, path: Path, relative: str, spools: _Spools, settings: object) -> None:
    """Stream the file's rows into the spools; raises FileUnreadable for structural problems."""
    kinds = [(column.name, cell_kind(feed.name, column)) for column in feed.columns]
    source_label = path.name
    for row in file_rows(feed, path, relative):
        problems: list[tuple[str | None, object, str]] = []
        values: list[str | None] = []
        if row.problem is not None:
            problems.append((None, None, row.problem))
        else:
            for name, kind in kinds:
                cell = row.cells.get(name)
                try:
                    value = parse_value(kind, cell)
                    if value is None and name in feed.key:
                        raise ValueError("key column is empty")
                except ValueError as exc:
                    problems.append((name, cell, str(exc)))
                    value = None
                values.append(value)
        if problems:
            spools.bad_rows += 1
            raw_row = json.dumps({key: None if value is None else str(value) for key, value in row.cells.items()},
                                 ensure_ascii=False)
            key = {name: str(row.cells.get(name)) for name in feed.key if row.cells.get(name) not in (None, "")}
            for column, cell, reason in problems:
                detail = f"column {column}: bad value {cell!r} ({reason})" if column else reason
                spools.bad_writer.writerow([
                    json.dumps(key, ensure_ascii=False) if key else None, PARSE_RULE, column,
                    None if cell is None else str(cell), f"{relative} {row.label}, {detail}", raw_row,
                ])
            continue
        spools.good += 1
        spools.row_writer.writerow([*values, source_label, "file"])


def _held_back(feed: TableContract, path: Path, batch_id: str, reason: str) -> HeldBackFile:
    log.error("landing %s/%s held back whole (not loaded, left in place; tried again next run): %s",
              feed.name, path.name, reason)
    return HeldBackFile(feed.name, path, reason, batch_id)


def _record_file_batch(
    cur: psycopg2.extensions.cursor, batch_id: str, source: str, row_count: int, status: str, reason: str | None,
    interval_start: datetime | None, interval_end: datetime | None, by_change: dict[str, int],
) -> None:
    cur.execute(
        """
        insert into audit.load_batches
            (batch_id, source, interval_start, interval_end, watermark_from, watermark_to, row_count, status,
             validated_at, failure_reason, rows_by_change, quarantined_rows)
        values (%(batch)s, %(source)s, %(start)s, %(end)s, null, null, %(rows)s, %(status)s,
                case when %(status)s = 'rejected' then now() end, %(reason)s, %(by_change)s, 0)
        on conflict (batch_id) do update set
            interval_start = excluded.interval_start, interval_end = excluded.interval_end,
            row_count = excluded.row_count, status = excluded.status, loaded_at = now(),
            validated_at = excluded.validated_at, failure_reason = excluded.failure_reason,
            rows_by_change = excluded.rows_by_change, quarantined_rows = 0
        """,
        {"batch": batch_id, "source": source, "start": interval_start, "end": interval_end, "rows": row_count,
         "status": status, "reason": reason, "by_change": json.dumps(by_change, sort_keys=True)},
    )


def _copy_quarantine(cur: psycopg2.extensions.cursor, spools: _Spools, batch_id: str, source: str,
                     feed: TableContract) -> None:
    if not spools.bad_rows:
        return
    cur.execute(
        "create temp table _parse_failures (row_key jsonb, rule text, column_name text, value text, reason text,"
        " raw_row jsonb) on commit drop"
    )
    spools.bad.seek(0)
    cur.copy_expert("copy _parse_failures from stdin with (format csv)", spools.bad)
    cur.execute(
        "insert into audit.quarantined_rows (batch_id, source, raw_table, raw_row_id, row_key, rule, column_name,"
        " value, reason, raw_row) select %s, %s, %s, null, row_key, rule, column_name, value, reason, raw_row"
        " from _parse_failures",
        (batch_id, source, f"raw.{feed.raw_table}"),
    )
    cur.execute("drop table _parse_failures")


def _tombstones(cur: psycopg2.extensions.cursor, feed: TableContract, batch_id: str, file_name: str) -> int:
    """Keys whose current version comes from an earlier version of this file and that it no longer has."""
    key = sql.SQL(", ").join(sql.Identifier(name) for name in feed.key)
    match = lambda left, right: sql.SQL(" and ").join(  # noqa: E731
        sql.SQL("{} = {}").format(sql.Identifier(left, name), sql.Identifier(right, name)) for name in feed.key)
    table = sql.Identifier("raw", feed.raw_table)
    cur.execute(sql.SQL(
        """
        insert into {table} ({key}, _batch_id, _source, _change, _loaded_at)
        select {key_c}, %(batch)s, %(file)s, 'delete', clock_timestamp()
        from (
            select distinct on ({key}) current_rows.*
            from {table} as current_rows
            where current_rows._batch_id <> %(batch)s
              and current_rows._batch_id in (select batch_id from audit.load_batches where status = 'passed')
              and not exists (select 1 from audit.quarantined_rows as q
                              where q.raw_table = %(raw_table)s and q.raw_row_id = current_rows._row_id)
            order by {key}, current_rows._loaded_at desc, current_rows._row_id desc
        ) as c
        where c._source = %(file)s and c._change <> 'delete'
          and not exists (select 1 from {table} as n where n._batch_id = %(batch)s and {match_n})
        """
    ).format(table=table, key=key, key_c=sql.SQL(", ").join(sql.Identifier("c", name) for name in feed.key),
             match_n=match("n", "c")),
        {"batch": batch_id, "file": file_name, "raw_table": f"raw.{feed.raw_table}"})
    return cur.rowcount


def _load_one(
    conn: Connection, feed: TableContract, path: Path, report: FileLoadReport, settings: object,
    interval_start: datetime | None, interval_end: datetime | None,
) -> None:
    """Skip, hold back or load one landing file, adding the outcome to ``report``."""
    from nova_corrente.quality.gates import QuarantineSettings

    assert isinstance(settings, QuarantineSettings)
    relative = f"{feed.name}/{path.name}"
    started = time.perf_counter()
    batch_id = file_batch_id(feed, path, sha256_of(path))
    source = file_source(feed, path.name)
    with conn.cursor() as cur:
        cur.execute("select status from audit.load_batches where batch_id = %s", (batch_id,))
        row = cur.fetchone()
    conn.rollback()
    if row is not None and row[0] == "passed":
        report.skipped.append(path)
        log.info("landing %s: unchanged (batch %s passed), skipped", relative, batch_id)
        return
    spools = _Spools()
    try:
        problem: str | None = None
        try:
            _parse_file(feed, path, relative, spools, settings)
        except FileUnreadable as exc:
            problem = f"held back whole, structural problem: {exc}"
        except OSError as exc:
            problem = f"held back whole: {relative} cannot be read: {exc}"
        total = spools.good + spools.bad_rows
        if problem is None and total == 0:
            problem = f"held back whole: {relative} has no data rows"
        if problem is None and settings.holds_back(spools.bad_rows, total):
            problem = (f"held back whole: {spools.bad_rows} of {total} rows of {relative} cannot be parsed, more than"
                       f" {settings.max_bad_share:.1%} and more than {settings.min_bad_rows} rows")
        by_change = _write_file(conn, feed, path, batch_id, source, spools, problem, interval_start, interval_end)
    finally:
        spools.close()
    if problem is not None:
        report.held_back.append(_held_back(feed, path, batch_id, problem))
        return
    batch = FileBatch(batch_id, feed.name, path, spools.good, round(time.perf_counter() - started, 3),
                      spools.bad_rows, by_change.get("delete", 0))
    report.loaded.append(batch)
    log.info("landing %s -> raw.%s: %d rows, %d unparsable rows quarantined, %d keys gone from the file"
             " (tombstones), batch %s, %.2f s", relative, feed.raw_table, spools.good, spools.bad_rows,
             batch.tombstones, batch_id, batch.seconds)


def _write_file(
    conn: Connection, feed: TableContract, path: Path, batch_id: str, source: str, spools: _Spools,
    problem: str | None, interval_start: datetime | None, interval_end: datetime | None,
) -> dict[str, int]:
    """One transaction: replace an earlier attempt of this batch, COPY the rows, tombstones, the batch row.

    Returns the rows written by kind (``file``, ``delete``)."""
    table = sql.Identifier("raw", feed.raw_table)
    with conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(%s)", (extract_lock_key(source),))
        cur.execute("delete from audit.quarantined_rows where batch_id = %s", (batch_id,))
        cur.execute(sql.SQL("delete from {} where _batch_id = %s").format(table), (batch_id,))
        by_change: dict[str, int] = {}
        if problem is None:
            columns = sql.SQL(", ").join(sql.Identifier(name) for name in (*feed.column_names, "_source", "_change"))
            spools.rows.seek(0)
            cur.execute(sql.SQL("create temp table _file_rows on commit drop as select {} from {} limit 0").format(
                columns, table))
            cur.copy_expert("copy _file_rows from stdin with (format csv)", spools.rows)
            cur.execute(sql.SQL(
                "insert into {table} ({columns}, _batch_id, _row_hash, _loaded_at)"
                " select {columns}, %(batch)s, md5(row({contract})::text), clock_timestamp() from _file_rows"
            ).format(table=table, columns=columns,
                     contract=sql.SQL(", ").join(sql.Identifier(name) for name in feed.column_names)),
                {"batch": batch_id})
            if cur.rowcount != spools.good:
                raise psycopg2.DataError(f"COPY stored {cur.rowcount} rows of {path}, expected {spools.good}")
            cur.execute("drop table _file_rows")
            by_change = {"file": spools.good}
            tombstones = _tombstones(cur, feed, batch_id, path.name)
            if tombstones:
                by_change["delete"] = tombstones
        _record_file_batch(cur, batch_id, source, sum(by_change.values()), "rejected" if problem else "loaded",
                           problem, interval_start, interval_end, by_change)
        _copy_quarantine(cur, spools, batch_id, source, feed)
    conn.commit()
    return by_change


def ensure_feed_tables(conn: Connection) -> None:
    """Create ``raw.feed_*`` (or migrate older ones) in the caller's transaction."""
    with conn.cursor() as cur:
        for feed in FEEDS:
            cur.execute(raw_create_statement(feed))
            ensure_raw_metadata(cur, feed)


def load_landing_files(
    pg: PostgresSettings,
    landing_dir: Path,
    *,
    interval_start: datetime | None = None,
    interval_end: datetime | None = None,
) -> FileLoadReport:
    """Load new and changed landing files into ``raw.feed_*``; bad files are held back and reported.

    ``interval_start``/``interval_end`` (optional) are recorded on the batches so that
    ``batches_for_interval`` returns them with the ERP batches of the same run. Raises only when
    the warehouse itself fails (``DatabaseUnavailable``); file problems go to the report.
    """
    from nova_corrente.quality.gates import QuarantineSettings

    settings = QuarantineSettings.from_env()
    started = time.perf_counter()
    report = FileLoadReport()
    files = landing_files(landing_dir)
    log.info("landing %s: %d feed files", landing_dir, len(files))
    ensure_warehouse_schemas(pg)
    conn = connect(pg, "warehouse")
    try:
        ensure_feed_tables(conn)
        conn.commit()
        for feed, path in files:
            try:
                _load_one(conn, feed, path, report, settings, interval_start, interval_end)
            except psycopg2.Error as exc:
                if is_connection_lost(exc, conn):
                    raise DatabaseUnavailable(
                        f"lost the connection to the {where(pg, 'warehouse')} while loading "
                        f"{feed.name}/{path.name}: {str(exc).strip()}"
                    ) from exc
                raise
    finally:
        close_quietly(conn)
    log.info("landing %s done in %.2f s: %s", landing_dir, time.perf_counter() - started, report.summary())
    return report
