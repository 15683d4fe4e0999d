"""Streaming readers of landing files: (line label, {column: cell}) per data row, flat memory.

``FileUnreadable`` is a structural problem (the whole file is held back): no header, a header that
does not match the contract, bytes that are not UTF-8, a Parquet file pyarrow cannot open.
A data row with the wrong number of fields is yielded with ``None`` cells and a ``problem`` so the
loader can quarantine it alone.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from nova_corrente.contracts.model import TableContract

PARQUET_BATCH_ROWS = 10_000


class FileUnreadable(ValueError):
    """The file cannot be read as the feed's contract says; the message names file and why."""


@dataclass(frozen=True)
class FileRow:
    """One data row: where it is (``row 3 (line 4)``), its cells, and a problem found while reading."""

    label: str
    cells: dict[str, object]
    problem: str | None = None


def check_header(contract: TableContract, relative: str, header: list[str]) -> list[str]:
    """The header's column names, or ``FileUnreadable`` naming missing/unexpected/repeated columns."""
    names = [name.strip() for name in header]
    expected = contract.column_names
    missing = [name for name in expected if name not in names]
    unexpected = [name for name in names if name not in expected]
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
    raise FileUnreadable(f"{relative}: schema drift: {'; '.join(parts)} (expected exactly {', '.join(expected)})")


def csv_rows(contract: TableContract, path: Path, relative: str) -> Iterator[FileRow]:
    """Rows of a CSV file (UTF-8, a BOM tolerated, header first)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            try:
                header = next(reader)
            except StopIteration:
                raise FileUnreadable(f"{relative}: empty file (no header row)") from None
            names = check_header(contract, relative, header)
            number = 0
            for cells in reader:
                if not cells:
                    continue  # blank line
                number += 1
                label = f"row {number} (line {reader.line_num})"
                if len(cells) != len(names):
                    yield FileRow(label, {"_fields": cells},
                                  f"has {len(cells)} fields, the header has {len(names)}")
                    continue
                yield FileRow(label, dict(zip(names, cells, strict=True)))
    except UnicodeDecodeError as exc:
        raise FileUnreadable(f"{relative}: not UTF-8 text: {exc}") from exc
    except csv.Error as exc:
        raise FileUnreadable(f"{relative}: unreadable CSV: {exc}") from exc


def parquet_rows(contract: TableContract, path: Path, relative: str) -> Iterator[FileRow]:
    """Rows of a Parquet file, read in record batches of PARQUET_BATCH_ROWS."""
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        names = check_header(contract, relative, parquet.schema_arrow.names)
        number = 0
        for record_batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=names):
            for row in record_batch.to_pylist():
                number += 1
                yield FileRow(f"row {number}", row)
    except FileUnreadable:
        raise
    except Exception as exc:  # pyarrow's errors for a corrupt file
        raise FileUnreadable(f"{relative}: unreadable Parquet: {type(exc).__name__}: {exc}") from exc


def file_rows(contract: TableContract, path: Path, relative: str) -> Iterator[FileRow]:
    """The rows of a CSV or Parquet landing file."""
    reader = parquet_rows if path.suffix.lower() == ".parquet" else csv_rows
    return reader(contract, path, relative)
