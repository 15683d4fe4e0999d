"""Cell parsing for landing files: one cell of a declared kind -> its COPY text, or a ValueError.

Pure functions, no I/O. CSV cells are strings; Parquet cells arrive as Python values.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from nova_corrente.contracts.model import Column

_INTEGER_LIMIT = 2**31
_BIGINT_LIMIT = 2**63
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_value(kind: str, value: object) -> str | None:
    """Normalise one cell to its COPY text (None = NULL); raise ValueError for a bad value.

    text: stripped, empty -> NULL. date: ``YYYY-MM-DD`` strings, dates, midnight datetimes.
    month: a date on the first day of its month. numeric: decimal strings with a dot, ints, finite
    floats and decimals. integer/bigint: a whole number within the PostgreSQL type's range.
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
        return _parse_date(value)
    number = _parse_number(value)
    if kind in ("integer", "bigint"):
        limit = _INTEGER_LIMIT if kind == "integer" else _BIGINT_LIMIT
        if number != number.to_integral_value():
            raise ValueError("expected a whole number")
        if not -limit <= number < limit:
            raise ValueError(f"out of range for {'an' if kind == 'integer' else 'a'} {kind}")
        return str(int(number))
    return str(number)


def _parse_date(value: object) -> str:
    if isinstance(value, datetime):
        if value.time() != datetime.min.time() or value.tzinfo is not None:
            raise ValueError("expected a date, got a timestamp")
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        return date.fromisoformat(value).isoformat()  # raises for 2024-02-30
    raise ValueError("expected a date YYYY-MM-DD")


def _parse_number(value: object) -> Decimal:
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
    # PostgreSQL's numeric would store 1e400; no measurement of a feed has a hundred digits
    # (e.g. 1e400 degrees is a broken sensor, not weather)
    if number != 0 and abs(number.adjusted()) > 100:
        raise ValueError("magnitude out of range")
    return number


def cell_kind(feed_name: str, column: Column) -> str:
    """The parse kind of a column: its contract kind, or ``month`` for first-of-month date columns."""
    from nova_corrente.contracts.feeds import MONTH_COLUMNS

    return "month" if (feed_name, column.name) in MONTH_COLUMNS else column.kind
