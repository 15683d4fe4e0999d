"""The shape of a source contract: columns, types, keys, allowed values, bounds and references.

A contract is data. ``nova_corrente.contracts.erp`` and ``nova_corrente.contracts.feeds`` declare one
``TableContract`` per source table with these classes; the ERP simulator's DDL, the extract (raw
columns, keys, type checks), the Great Expectations suites (``nova_corrente.quality.suites``), the
reconciliation gate and the tests are all derived from them. Nothing here touches a database.

Rules come in two kinds (docs/architecture.md, "bad data"):

* **row-local rules** (a value out of its set or bounds, a NULL, a date outside the ERP's life, a
  duplicate key inside a batch, an unknown code, an implausible quantity): the failing rows go to
  ``audit.quarantined_rows`` and the rest of the batch goes on;
* **structural problems** (a missing or retyped column, an unreadable file, more bad rows than the
  batch may have): the batch is held back whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

Kind = Literal["text", "integer", "bigint", "numeric", "boolean", "date", "timestamptz"]

#: how a kind is stored in PostgreSQL when the contract gives no exact type
SQL_TYPES: dict[str, str] = {
    "text": "text", "integer": "integer", "bigint": "bigint", "numeric": "numeric", "boolean": "boolean",
    "date": "date", "timestamptz": "timestamp with time zone",
}


@dataclass(frozen=True)
class Bound:
    """Inclusive (unless ``strict``) lower/upper limits of a numeric column; None = open."""

    low: Decimal | None = None
    high: Decimal | None = None
    strict_low: bool = False
    strict_high: bool = False

    def describe(self) -> str:
        """``between 0 and 100``, ``at least 0``, ``above 0`` ..."""
        low = f"{'above' if self.strict_low else 'at least'} {self.low}" if self.low is not None else ""
        high = f"{'below' if self.strict_high else 'at most'} {self.high}" if self.high is not None else ""
        return " and ".join(part for part in (low, high) if part)

    def admits(self, value: Decimal) -> bool:
        """True when ``value`` is within the bounds."""
        if self.low is not None and (value <= self.low if self.strict_low else value < self.low):
            return False
        return not (self.high is not None and (value >= self.high if self.strict_high else value > self.high))


@dataclass(frozen=True)
class Column:
    """One source column.

    ``sql_type`` is the exact PostgreSQL type as ``format_type`` prints it (``numeric(12,2)``);
    ``allowed`` the accepted codes; ``bound`` numeric limits (plausibility included: a hard cap);
    ``not_after_interval_end`` dates/timestamps that cannot lie at or after the data interval's end
    (a date counts from 00:00 UTC); ``since``: the earliest plausible date (the ERP's life);
    ``immutable``: may not change between versions of one key (a new value means the key was reused
    for another record). ``db_check``: a CHECK the source database itself enforces (DDL only).
    """

    name: str
    kind: Kind
    sql_type: str | None = None
    nullable: bool = True
    allowed: tuple[str, ...] = ()
    bound: Bound | None = None
    not_after_interval_end: bool = False
    since: str | None = None
    immutable: bool = False
    db_check: str = ""
    description: str = ""

    @property
    def type(self) -> str:
        """The PostgreSQL type of the column."""
        return self.sql_type or SQL_TYPES[self.kind]


@dataclass(frozen=True)
class Reference:
    """``column`` holds a key of ``table`` (the value must be known to the warehouse)."""

    column: str
    table: str
    ref_column: str


@dataclass(frozen=True)
class SqlRule:
    """A row-local rule that needs SQL: every row ``where`` selects (from the batch ``b``) is bad.

    ``where`` may use ``b.<column>``, the batch's ``load_batch`` row (audit.load_batches) and,
    after ``joins``, other relations. ``column`` names the column the rule is about (messages,
    quarantine records). Placeholders ``{setting}`` are filled from ``PlausibilitySettings``.
    """

    name: str
    column: str
    where: str
    joins: str = ""


@dataclass(frozen=True)
class TableContract:
    """One source table (an ERP table or an external feed).

    ``key``: the business key (unique per version in a batch; staging keeps one row per key).
    ``version_column``: the ERP's change stamp (the extract's cursor); None for feed files.
    ``raw_table``: its table in schema ``raw``. ``measures``: quantities the reconciliation gate sums
    per table. ``rules``: SQL row rules.
    ``non_decreasing``: cumulative columns that may not decrease along ``sequence`` per the other
    key columns (feeds: licensed 5G stations).
    """

    name: str
    raw_table: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    version_column: str | None = "updated_at"
    references: tuple[Reference, ...] = ()
    measures: tuple[str, ...] = ()
    rules: tuple[SqlRule, ...] = ()
    sequence: str | None = None
    non_decreasing: tuple[str, ...] = ()
    description: str = ""
    #: the dbt staging model that shows the table's current rows (the reconciliation compares it)
    staging_model: str = ""

    def __post_init__(self) -> None:
        names = self.column_names
        unknown = [name for name in (*self.key, *self.measures, *self.non_decreasing) if name not in names]
        unknown += [ref.column for ref in self.references if ref.column not in names]
        if self.version_column and self.version_column not in names:
            unknown.append(self.version_column)
        if self.sequence and self.sequence not in self.key:
            unknown.append(f"sequence {self.sequence} (must be a key column)")
        if unknown:
            raise ValueError(f"contract {self.name}: unknown columns {', '.join(unknown)}")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def column(self, name: str) -> Column:
        """The column called ``name`` (KeyError naming the table otherwise)."""
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"contract {self.name} has no column {name}")

    @property
    def not_null(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns if not column.nullable)

    @property
    def group_key(self) -> tuple[str, ...]:
        """The key columns other than ``sequence`` (what a cumulative series is counted per)."""
        return tuple(name for name in self.key if name != self.sequence)

    @property
    def immutable(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns if column.immutable)
