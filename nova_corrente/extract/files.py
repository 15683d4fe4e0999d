"""Landing files of the external feeds into ``raw.feed_*`` (one batch per file).

Layout: ``<landing_dir>/weather/*.csv|*.parquet`` -> ``raw.feed_weather_daily``,
``<landing_dir>/economic/*.csv|*.parquet`` -> ``raw.feed_economic_indicators`` and
``<landing_dir>/anatel_5g/*.csv|*.parquet`` -> ``raw.feed_anatel_5g_rollout``. CSV files are
comma-separated UTF-8 with a header row (a BOM is tolerated), dates ``YYYY-MM-DD``, decimals with
a dot; an empty measure cell is NULL, an empty key cell is an error.

* The batch id is ``file:<feed>/<name>|<sha256[:16]>`` and ``_source`` is the file name. A file
  whose checksum is already registered is skipped; a changed file (same name, new checksum)
  replaces the rows of its previous batch, in the same transaction as its new rows.
* Each file is validated whole before anything is written: exactly the feed's columns (the error
  names missing and unexpected columns), every value parses (the error names the row, column and
  value), values within the feed's bounds (e.g. a percentage in 0..100), no duplicate key inside
  the file (the error names the key and rows), and cumulative columns (``Feed.non_decreasing``,
  e.g. licensed 5G stations) never decrease along the feed's month column, neither inside the file
  nor against the rows other files already put in raw (batches not rejected).
* A bad file is *held back*: nothing of it is loaded, it is listed in the report with its error
  and logged, and it is LEFT WHERE IT IS (the landing folder belongs to the senders; moving files
  out of it would race with them). It is reported again at every run until a corrected file, which
  has a new checksum, replaces it; the previous good version of that file stays loaded meanwhile.
* Good files are loaded with COPY, each in its own transaction, and registered in
  ``audit.load_batches`` with status ``loaded``; one bad file never stops the others.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import math
import re
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Literal

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import connection as Connection

from nova_corrente.extract.connections import close_quietly, connect, is_connection_lost, where
from nova_corrente.extract.warehouse_setup import ensure_warehouse_schemas
from nova_corrente.postgres_server import DatabaseUnavailable
from nova_corrente.settings import PostgresSettings

log = logging.getLogger(__name__)

ColumnKind = Literal["text", "date", "month", "numeric", "integer"]
# PostgreSQL type of each column kind ('month' = a date on the first day of its month)
SQL_TYPES: dict[str, str] = {
    "text": "text", "date": "date", "month": "date", "numeric": "numeric", "integer": "integer",
}
_INTEGER_LIMIT = 2**31
FILE_SUFFIXES = (".csv", ".parquet")
MAX_ERRORS_PER_FILE = 10
_SPOOL_BYTES = 16 << 20
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Feed:
    """An external feed: its landing subfolder, raw table, columns and key.

    ``bounds`` are (column, lowest, highest) limits (None = open). ``non_decreasing`` columns are
    cumulative: within each group of the other key columns they must not decrease along the key
    column ``sequence`` (a date or month column).
    """

    name: str
    table: str
    columns: tuple[tuple[str, ColumnKind], ...]
    key: tuple[str, ...]
    bounds: tuple[tuple[str, Decimal | None, Decimal | None], ...] = ()
    sequence: str | None = None
    non_decreasing: tuple[str, ...] = ()

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    @property
    def group_key(self) -> tuple[str, ...]:
        """The key columns other than ``sequence``: what a cumulative series is counted per."""
        return tuple(name for name in self.key if name != self.sequence)

    def kind_of(self, column: str) -> ColumnKind:
        """The declared kind of ``column``."""
        return dict(self.columns)[column]

    def __post_init__(self) -> None:
        if self.non_decreasing and self.sequence not in self.key:
            raise ValueError(f"feed {self.name}: non_decreasing columns need a sequence column in the key")


FEEDS: tuple[Feed, ...] = (
    Feed(
        name="weather",
        table="feed_weather_daily",
        columns=(
            ("city", "text"),
            ("weather_date", "date"),
            ("precipitation_mm", "numeric"),
            ("temperature_max_c", "numeric"),
            ("temperature_min_c", "numeric"),
        ),
        key=("city", "weather_date"),
    ),
    Feed(
        name="economic",
        table="feed_economic_indicators",
        columns=(
            ("indicator_date", "date"),
            ("usd_brl", "numeric"),
            ("selic_rate_pct", "numeric"),
            ("ipca_index", "numeric"),
        ),
        key=("indicator_date",),
    ),
    Feed(
        name="anatel_5g",
        table="feed_anatel_5g_rollout",
        columns=(
            ("city", "text"),
            ("reference_month", "month"),
            ("operator", "text"),
            ("stations_5g", "integer"),
            ("population_covered_pct", "numeric"),
        ),
        key=("city", "reference_month", "operator"),
        bounds=(("stations_5g", Decimal(0), None), ("population_covered_pct", Decimal(0), Decimal(100))),
        sequence="reference_month",
        non_decreasing=("stations_5g",),
    ),
)


class FileRejected(ValueError):
    """A landing file failed validation; the message names the file, rows, columns and values."""


@dataclass(frozen=True)
class FileBatch:
    """A file loaded as one batch."""

    batch_id: str
    feed: str
    path: Path
    row_count: int
    seconds: float
    replaced_batch_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class HeldBackFile:
    """A file that was not loaded (left in the landing folder) and why."""

    feed: str
    path: Path
    error: str


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

    def summary(self) -> str:
        """One line for logs and task results."""
        return (
            f"{len(self.loaded)} files loaded ({sum(batch.row_count for batch in self.loaded)} rows), "
            f"{len(self.skipped)} unchanged skipped, {len(self.held_back)} held back"
            + "".join(f"\n  held back {item.path.name}: {item.error}" for item in self.held_back)
        )


def file_batch_source(feed: Feed, path: Path) -> str:
    """``file:<feed>/<name>``: the batch source of a landing file."""
    return f"file:{feed.name}/{path.name}"


def file_batch_id(feed: Feed, path: Path, sha256: str) -> str:
    """``file:<feed>/<name>|<sha256[:16]>``."""
    return f"{file_batch_source(feed, path)}|{sha256[:16]}"


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def parse_value(kind: ColumnKind, value: object) -> str | None:
    """Normalise one cell to its COPY text (None = NULL); raise ValueError for a bad value.

    text: stripped, empty -> NULL. date: ``YYYY-MM-DD`` strings, dates, midnight datetimes.
    month: a date on the first day of its month. numeric: decimal strings with a dot, ints, finite
    floats and decimals. integer: a numeric that is whole and fits a PostgreSQL ``integer``.
    """
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        if value == "":
            return None
    if kind == "text":
        if not isinstance(value, str):
            raise ValueError("expected text")
        return value
    if kind == "month":
        day = parse_value("date", value)
        if day is not None and not day.endswith("-01"):
            raise ValueError("expected the first day of a month")
        return day
    if kind == "date":
        if isinstance(value, datetime):
            if value.time() != datetime.min.time() or value.tzinfo is not None:
                raise ValueError("expected a date, got a timestamp")
            return value.date().isoformat()
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, str) and _ISO_DATE.fullmatch(value):
            return date.fromisoformat(value).isoformat()  # raises for 2024-02-30
        raise ValueError("expected a date YYYY-MM-DD")
    if isinstance(value, bool):
        raise ValueError("expected a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("expected a finite number")
    if isinstance(value, (int, float, Decimal)):
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    elif isinstance(value, str):
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise ValueError("expected a number with a dot as decimal separator") from None
    else:
        raise ValueError("expected a number")
    if not number.is_finite():
        raise ValueError("expected a finite number")
    if kind == "integer":
        if number != number.to_integral_value():
            raise ValueError("expected a whole number")
        if not -_INTEGER_LIMIT <= number < _INTEGER_LIMIT:
            raise ValueError("out of range for an integer")
        return str(int(number))
    return str(number)


def check_bounds(feed: Feed, column: str, value: str) -> None:
    """Raise ValueError when the normalised ``value`` of ``column`` is outside the feed's bounds."""
    for name, low, high in feed.bounds:
        if name != column:
            continue
        number = Decimal(value)
        if (low is not None and number < low) or (high is not None and number > high):
            if high is None:
                raise ValueError(f"must be at least {low}")
            if low is None:
                raise ValueError(f"must be at most {high}")
            raise ValueError(f"must be between {low} and {high}")


@dataclass(frozen=True)
class SeriesPoint:
    """One value of a cumulative column: at which ``sequence`` value, and where it comes from."""

    sequence: str
    value: Decimal
    where: str


SeriesPoints = dict[tuple[str, tuple[str, ...]], list[SeriesPoint]]
"""(column, group key values) -> points, for the feed's ``non_decreasing`` columns."""


def _sequence_key(feed: Feed, text: str) -> str | Decimal:
    """Sort key of a normalised ``sequence`` value (ISO dates sort as text)."""
    return Decimal(text) if feed.sequence and feed.kind_of(feed.sequence) in ("numeric", "integer") else text


def _decrease_problem(feed: Feed, column: str, group: tuple[str, ...], point: SeriesPoint, detail: str) -> str:
    """The problem line for a cumulative value that decreases (``detail`` says against what)."""
    return (
        f"{point.where}, column {column}: bad value '{point.value}' ({detail}, ({', '.join(group)});"
        f" {column} must not decrease over {feed.sequence} per {', '.join(feed.group_key)})"
    )


def _decreases_in_file(
    feed: Feed, column: str, group: tuple[str, ...], ordered: list[SeriesPoint]
) -> list[str]:
    """Points of one series (sorted by sequence) below the highest earlier point of the file."""
    problems: list[str] = []
    highest: SeriesPoint | None = None
    for point in ordered:
        if highest is not None and point.value < highest.value:
            detail = f"below {highest.value} on {highest.where} for {feed.sequence} {highest.sequence}"
            problems.append(_decrease_problem(feed, column, group, point, detail))
        else:
            highest = point
    return problems


def _loaded_detail(feed: Feed, word: str, bound: SeriesPoint) -> str:
    """``below 12 already loaded from <file> for <sequence> <value>``."""
    return f"{word} {bound.value} already loaded from {bound.where} for {feed.sequence} {bound.sequence}"


def _decreases_against_loaded(
    feed: Feed, column: str, group: tuple[str, ...], ordered: list[SeriesPoint], loaded: list[SeriesPoint]
) -> list[str]:
    """Points of one series below a loaded earlier value or above a loaded later one."""
    problems: list[str] = []
    for point in ordered:
        key = _sequence_key(feed, point.sequence)
        before = max((other for other in loaded if _sequence_key(feed, other.sequence) < key),
                     key=lambda other: other.value, default=None)
        after = min((other for other in loaded if _sequence_key(feed, other.sequence) > key),
                    key=lambda other: other.value, default=None)
        if before is not None and point.value < before.value:
            problems.append(_decrease_problem(feed, column, group, point, _loaded_detail(feed, "below", before)))
        if after is not None and point.value > after.value:
            problems.append(_decrease_problem(feed, column, group, point, _loaded_detail(feed, "above", after)))
    return problems


def decreasing_problems(feed: Feed, in_file: SeriesPoints, loaded: SeriesPoints) -> list[str]:
    """Problems for cumulative values that decrease inside the file or against ``loaded`` points.

    Inside the file each point is compared with the highest earlier point of its series; against
    ``loaded`` (other files' rows), with the highest earlier and the lowest later value.
    """
    problems: list[str] = []
    for (column, group), points in in_file.items():
        ordered = sorted(points, key=lambda point: _sequence_key(feed, point.sequence))
        problems += _decreases_in_file(feed, column, group, ordered)
        problems += _decreases_against_loaded(feed, column, group, ordered, loaded.get((column, group), []))
    return problems


def loaded_series_points(conn: Connection, feed: Feed, path: Path) -> SeriesPoints:
    """The ``non_decreasing`` values other files of the feed already put in raw (batches not rejected).

    Rows of the file's own earlier batches are left out: a new version of a file replaces them.
    """
    if not feed.non_decreasing or feed.sequence is None:
        return {}
    names = [*feed.group_key, feed.sequence, *feed.non_decreasing]
    query = sql.SQL(
        "select {}, r._source from {} as r join audit.load_batches as b on b.batch_id = r._batch_id"
        " where b.source <> %s and b.status <> 'rejected'"
    ).format(
        sql.SQL(", ").join(sql.SQL("r.{}").format(sql.Identifier(name)) for name in names),
        sql.Identifier("raw", feed.table),
    )
    points: SeriesPoints = {}
    with conn.cursor() as cur:
        cur.execute(query, (file_batch_source(feed, path),))
        for *cells, source in cur.fetchall():
            row = {name: parse_value(feed.kind_of(name), cell) for name, cell in zip(names, cells, strict=True)}
            group = tuple(str(row[name]) for name in feed.group_key)  # key columns are never NULL in raw
            for column in feed.non_decreasing:
                if (value := row[column]) is not None:
                    points.setdefault((column, group), []).append(
                        SeriesPoint(str(row[feed.sequence]), Decimal(value), source))
    return points


def _check_columns(feed: Feed, relative: str, header: Iterable[str]) -> list[str]:
    names = [name.strip() for name in header]
    missing = [name for name in feed.column_names if name not in names]
    unexpected = [name for name in names if name not in feed.column_names]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if not (missing or unexpected or repeated):
        return names
    parts = []
    if missing:
        parts.append(f"missing columns {', '.join(missing)}")
    if unexpected:
        parts.append(f"unexpected columns {', '.join(unexpected)}")
    if repeated:
        parts.append(f"repeated columns {', '.join(repeated)}")
    raise FileRejected(
        f"{relative}: schema drift: {'; '.join(parts)} (expected exactly {', '.join(feed.column_names)})"
    )


def _csv_rows(feed: Feed, path: Path, relative: str) -> Iterator[tuple[str, dict[str, object]]]:
    """(row label, {column: value}) for each data row of a CSV file."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise FileRejected(f"{relative}: empty file (no header row)") from None
        names = _check_columns(feed, relative, header)
        for number, cells in enumerate(reader, start=1):
            if not cells:
                continue  # blank line
            if len(cells) != len(names):
                raise FileRejected(
                    f"{relative}: row {number} (line {reader.line_num}) has {len(cells)} fields,"
                    f" header has {len(names)}"
                )
            yield f"row {number} (line {reader.line_num})", dict(zip(names, cells, strict=True))


def _parquet_rows(feed: Feed, path: Path, relative: str) -> Iterator[tuple[str, dict[str, object]]]:
    """(row label, {column: value}) for each row of a Parquet file, read in record batches."""
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    names = _check_columns(feed, relative, parquet.schema_arrow.names)
    number = 0
    for record_batch in parquet.iter_batches(batch_size=10_000, columns=names):
        for row in record_batch.to_pylist():
            number += 1
            yield f"row {number}", row


def validate_file(
    feed: Feed, path: Path, relative: str, out: IO[str], batch_id: str, loaded: SeriesPoints | None = None,
) -> int:
    """Check a landing file and write its rows as COPY CSV (plus ``_batch_id``, ``_source``) to ``out``.

    ``loaded``: values of the feed's cumulative columns already in raw from other files
    (``loaded_series_points``). Returns the row count; raises ``FileRejected`` listing up to
    ``MAX_ERRORS_PER_FILE`` problems.
    """
    rows = _parquet_rows(feed, path, relative) if path.suffix.lower() == ".parquet" else _csv_rows(feed, path, relative)
    writer = csv.writer(out, lineterminator="\n")
    key_positions = [feed.column_names.index(name) for name in feed.key]
    group_positions = [feed.column_names.index(name) for name in feed.group_key]
    sequence_position = feed.column_names.index(feed.sequence) if feed.sequence else -1
    cumulative = [(name, feed.column_names.index(name)) for name in feed.non_decreasing]
    in_file: SeriesPoints = {}
    seen: dict[tuple[str, ...], str] = {}
    problems: list[str] = []
    count = 0
    try:
        for label, row in rows:
            count += 1
            values: list[str | None] = []
            for name, kind in feed.columns:
                raw = row.get(name)
                try:
                    value = parse_value(kind, raw)
                    if value is None and name in feed.key:
                        raise ValueError("key column is empty")
                    if value is not None:
                        check_bounds(feed, name, value)
                except ValueError as exc:
                    problems.append(f"{label}, column {name}: bad value {raw!r} ({exc})")
                    value = None
                values.append(value)
            key = tuple(value for position in key_positions if (value := values[position]) is not None)
            if len(key) == len(key_positions):
                first = seen.setdefault(key, label)
                if first != label:
                    problems.append(
                        f"duplicate key ({', '.join(feed.key)}) = ({', '.join(key)}) on {first} and {label}"
                    )
                else:
                    group = tuple(str(values[position]) for position in group_positions)
                    for name, position in cumulative:
                        if (value := values[position]) is not None:
                            in_file.setdefault((name, group), []).append(
                                SeriesPoint(str(values[sequence_position]), Decimal(value), label))
            if len(problems) >= MAX_ERRORS_PER_FILE:
                problems.append(f"... stopped after {MAX_ERRORS_PER_FILE} problems")
                break
            writer.writerow([*values, batch_id, path.name])
    except (UnicodeDecodeError, csv.Error, OSError) as exc:
        raise FileRejected(f"{relative}: unreadable after {count} rows: {exc}") from exc
    except FileRejected:
        raise
    except Exception as exc:  # pyarrow errors on a corrupt Parquet file
        raise FileRejected(f"{relative}: unreadable: {type(exc).__name__}: {exc}") from exc
    if len(problems) <= MAX_ERRORS_PER_FILE:
        problems.extend(decreasing_problems(feed, in_file, loaded or {}))
        if len(problems) > MAX_ERRORS_PER_FILE:
            problems[MAX_ERRORS_PER_FILE:] = [f"... stopped after {MAX_ERRORS_PER_FILE} problems"]
    if problems:
        raise FileRejected(f"{relative}: {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    if count == 0:
        raise FileRejected(f"{relative}: no data rows")
    return count


def ensure_feed_tables(conn: Connection) -> None:
    """Create ``raw.feed_*`` if missing (in the caller's transaction)."""
    with conn.cursor() as cur:
        for feed in FEEDS:
            table = sql.Identifier("raw", feed.table)
            columns = [
                sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(SQL_TYPES[kind])) for name, kind in feed.columns
            ]
            cur.execute(
                sql.SQL(
                    "create table if not exists {} ({}, _batch_id text not null, _source text not null,"
                    " _loaded_at timestamptz not null default now())"
                ).format(table, sql.SQL(", ").join(columns))
            )
            cur.execute(
                sql.SQL("create index if not exists {} on {} (_batch_id)").format(
                    sql.Identifier(f"{feed.table}_batch_id_idx"), table
                )
            )


def _load_file(
    conn: Connection, feed: Feed, path: Path, batch_id: str, spool: IO[str], row_count: int,
    interval_start: datetime | None, interval_end: datetime | None,
) -> tuple[str, ...] | None:
    """Replace the file's previous batches by this one; None when another run loaded it meanwhile."""
    source = file_batch_source(feed, path)
    table = sql.Identifier("raw", feed.table)
    with conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"nova_extract:{source}",))
        cur.execute("select 1 from audit.load_batches where batch_id = %s", (batch_id,))
        if cur.fetchone() is not None:
            return None
        cur.execute("delete from audit.load_batches where source = %s returning batch_id", (source,))
        replaced = tuple(sorted(row[0] for row in cur.fetchall()))
        if replaced:
            cur.execute(sql.SQL("delete from {} where _batch_id = any(%s)").format(table), (list(replaced),))
        columns = sql.SQL(", ").join(sql.Identifier(name) for name in (*feed.column_names, "_batch_id", "_source"))
        spool.seek(0)
        cur.copy_expert(
            sql.SQL("copy {} ({}) from stdin with (format csv)").format(table, columns).as_string(conn), spool
        )
        if cur.rowcount != row_count:
            raise psycopg2.DataError(f"COPY stored {cur.rowcount} rows of {path}, expected {row_count}")
        cur.execute(
            """
            insert into audit.load_batches
                (batch_id, source, interval_start, interval_end, watermark_from, watermark_to, row_count, status)
            values (%s, %s, %s, %s, null, null, %s, 'loaded')
            """,
            (batch_id, source, interval_start, interval_end, row_count),
        )
    return replaced


def landing_files(landing_dir: Path) -> list[tuple[Feed, Path]]:
    """The feed files present, sorted by feed then name (hidden and other files are ignored)."""
    found = []
    for feed in FEEDS:
        folder = landing_dir / feed.name
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.suffix.lower() in FILE_SUFFIXES and not path.name.startswith("."):
                found.append((feed, path))
            elif not path.name.startswith("."):
                log.info("landing: ignoring %s (not a %s file)", path, "/".join(FILE_SUFFIXES))
    return found


def _load_one(
    pg: PostgresSettings, conn: Connection, feed: Feed, path: Path, report: FileLoadReport,
    interval_start: datetime | None, interval_end: datetime | None,
) -> None:
    """Skip, hold back or load one landing file, adding the outcome to ``report``."""
    relative = f"{feed.name}/{path.name}"
    started = time.perf_counter()
    batch_id = file_batch_id(feed, path, sha256_of(path))
    with conn.cursor() as cur:
        cur.execute("select status from audit.load_batches where batch_id = %s", (batch_id,))
        row = cur.fetchone()
    loaded = loaded_series_points(conn, feed, path) if row is None else {}
    conn.rollback()
    if row is not None:
        report.skipped.append(path)
        log.info("landing %s: unchanged (batch %s, %s), skipped", relative, batch_id, row[0])
        return
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES, mode="w+", newline="") as spool:
        try:
            row_count = validate_file(feed, path, relative, spool, batch_id, loaded)
        except FileRejected as exc:
            report.held_back.append(HeldBackFile(feed.name, path, str(exc)))
            log.error("landing %s held back (not loaded, left in place): %s", relative, exc)
            return
        try:
            replaced = _load_file(conn, feed, path, batch_id, spool, row_count, interval_start, interval_end)
            conn.commit()
        except psycopg2.Error as exc:
            if is_connection_lost(exc, conn):
                raise
            conn.rollback()
            error = f"{relative}: loading into raw.{feed.table} failed: {str(exc).strip()}"
            report.held_back.append(HeldBackFile(feed.name, path, error))
            log.error("landing %s held back (not loaded, left in place): %s", relative, error)
            return
    if replaced is None:
        report.skipped.append(path)
        log.info("landing %s: loaded meanwhile by another run (batch %s), skipped", relative, batch_id)
        return
    batch = FileBatch(batch_id, feed.name, path, row_count, round(time.perf_counter() - started, 3), replaced)
    report.loaded.append(batch)
    log.info(
        "landing %s -> raw.%s: %d rows, batch %s%s, %.2f s", relative, feed.table, row_count, batch_id,
        f" (replaces {', '.join(replaced)})" if replaced else "", batch.seconds,
    )


def load_landing_files(
    pg: PostgresSettings,
    landing_dir: Path,
    *,
    interval_start: datetime | None = None,
    interval_end: datetime | None = None,
) -> FileLoadReport:
    """Load new and changed landing files into ``raw.feed_*``; bad files are held back and reported.

    ``interval_start``/``interval_end`` (optional) are recorded on the new batches so that
    ``batches_for_interval`` returns them with the ERP batches of the same run. Raises only when
    the warehouse itself fails (``DatabaseUnavailable``); file problems go to the report.
    """
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
                _load_one(pg, conn, feed, path, report, interval_start, interval_end)
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
