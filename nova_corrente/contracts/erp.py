"""The ERP's tables as the platform relies on them: the contract of the source database ``erp``.

Read by the ERP simulator (its DDL is ``ddl()``), the extract (columns, types, keys, the
``updated_at`` cursor), the raw gate's Great Expectations suites (``nova_corrente.quality.suites``),
the reconciliation gate (``measures``) and the tests. Every table has ``updated_at`` (UTC), the
incremental cursor. Rows are updated in place (e.g. a purchase order is received) and may be
deleted; the warehouse keeps every extracted version and a tombstone for a deleted key.

Plausibility (not only validity) is part of the contract: quantities have hard caps, movement
dates lie within the ERP's life, a movement may not exceed a multiple of its material's history,
a key may not be reused for another record (``immutable`` columns), a stock position may not
depend on a quarantined movement. Change the numbers here (one place), then rebuild the GX suites
(``python -m nova_corrente.quality build``).
"""

from __future__ import annotations

from decimal import Decimal

from nova_corrente.contracts.model import Bound, Column, Reference, SqlRule, TableContract

SCHEMA = "erp"

#: the first day the ERP can hold business data: earlier dates are typing errors (e.g. 1990)
ERP_LIFE_START = "2000-01-01"
#: hard caps: no single movement, order line or stock position is ever this large
MAX_MOVEMENT_QUANTITY = Decimal(100_000)
MAX_STOCK_ON_HAND = Decimal(1_000_000)
MAX_UNIT_PRICE_BRL = Decimal(10_000_000)
MAX_LEAD_TIME_DAYS = Decimal(365)
#: a movement is implausible above this multiple of the largest passed movement of the same
#: material and type (once the material has at least PLAUSIBLE_MIN_HISTORY of them) ...
PLAUSIBLE_MULTIPLE = Decimal(20)
PLAUSIBLE_MIN_HISTORY = 30
#: ... and above this many units (small histories: a first big install is not an error)
PLAUSIBLE_FLOOR = Decimal(100)

MOVEMENT_TYPES: tuple[str, ...] = ("consumption", "receipt", "transfer_in", "transfer_out", "adjustment", "return")
#: direction of each movement type on the stock (quantity is positive except adjustments, which
#: carry their own sign); 'return' = unused material a field crew brings back to the site stock
MOVEMENT_SIGN: dict[str, int] = {
    "consumption": -1, "receipt": 1, "transfer_in": 1, "transfer_out": -1, "adjustment": 1, "return": 1,
}
FAMILY_CATEGORIES: tuple[str, ...] = ("energy", "transmission", "connectivity", "structural")
SLA_TIERS: tuple[str, ...] = ("gold", "silver", "bronze")
PURCHASE_ORDER_STATUSES: tuple[str, ...] = ("open", "received", "cancelled")

_ZERO = Decimal(0)
_MONEY = "numeric(12,2)"
_STAMP = Column("updated_at", "timestamptz", nullable=False, not_after_interval_end=True,
                description="last change in the ERP (UTC): the extract's cursor")
_CREATED = Column("created_at", "timestamptz", nullable=False, not_after_interval_end=True, immutable=True,
                  description="when the record was created; a new value under the same key is a reused key")


def _quantity(name: str, *, strict_positive: bool = False, nullable: bool = False) -> Column:
    bound = Bound(_ZERO, MAX_MOVEMENT_QUANTITY, strict_low=strict_positive)
    return Column(name, "numeric", _MONEY, nullable=nullable, bound=bound, db_check="> 0" if strict_positive else "")


def _history_rule(table: str) -> SqlRule:
    """A quantity far above what the material has ever moved (per movement type)."""
    return SqlRule(
        name=f"quantity at most max({PLAUSIBLE_FLOOR}, {PLAUSIBLE_MULTIPLE} x the material's largest passed movement"
             f" of the type), once the material has {PLAUSIBLE_MIN_HISTORY} of them",
        column="quantity",
        joins=f"""
        join (
            select history.material_id, history.movement_type,
                   max(abs(history.quantity)) as largest, count(*) as movements
            from raw.erp_{table} as history
            join audit.load_batches as history_batch
              on history_batch.batch_id = history._batch_id and history_batch.status = 'passed'
            where history.material_id in (select batch_rows.material_id from {{batch}} as batch_rows)
              and not exists (
                select 1 from audit.quarantined_rows as quarantined
                where quarantined.raw_table = 'raw.erp_{table}' and quarantined.raw_row_id = history._row_id)
            group by history.material_id, history.movement_type
        ) as material_history
          on material_history.material_id = b.material_id and material_history.movement_type = b.movement_type
        """,
        where=f"""
        material_history.movements >= {PLAUSIBLE_MIN_HISTORY}
        and abs(b.quantity) > greatest({PLAUSIBLE_FLOOR}, {PLAUSIBLE_MULTIPLE} * material_history.largest)
        """,
    )


TABLES: tuple[TableContract, ...] = (
    TableContract(
        name="material_families",
        raw_table="erp_material_families",
        staging_model="stg_erp__material_families",
        description="Material families (batteries, cables, ...) and their category.",
        columns=(
            Column("family_id", "text", nullable=False, description="'ENERGY_BATTERY'"),
            Column("family_name", "text", nullable=False),
            Column("category", "text", nullable=False, allowed=FAMILY_CATEGORIES),
            _STAMP,
        ),
        key=("family_id",),
    ),
    TableContract(
        name="materials",
        raw_table="erp_materials",
        staging_model="stg_erp__materials",
        description="Spare-part master data.",
        columns=(
            Column("material_id", "text", nullable=False, description="'MAT-00001'"),
            Column("material_name", "text", nullable=False),
            Column("family_id", "text", nullable=False),
            Column("unit_of_measure", "text", nullable=False, description="'unit', 'm', 'kit'"),
            Column("unit_cost_brl", "numeric", _MONEY, nullable=False, bound=Bound(_ZERO, MAX_UNIT_PRICE_BRL),
                   db_check=">= 0"),
            Column("is_active", "boolean", nullable=False),
            _CREATED,
            _STAMP,
        ),
        key=("material_id",),
        references=(Reference("family_id", "material_families", "family_id"),),
    ),
    TableContract(
        name="sites",
        raw_table="erp_sites",
        staging_model="stg_erp__sites",
        description="Tower sites in Bahia with their SLA tier.",
        columns=(
            Column("site_id", "text", nullable=False, description="'SITE-0001' (a tower site)"),
            Column("site_name", "text", nullable=False),
            Column("city", "text", nullable=False, description="Bahia city, e.g. 'Salvador'"),
            Column("region", "text", nullable=False),
            Column("latitude", "numeric", "numeric(9,6)", nullable=False, bound=Bound(Decimal(-90), Decimal(90))),
            Column("longitude", "numeric", "numeric(9,6)", nullable=False, bound=Bound(Decimal(-180), Decimal(180))),
            Column("sla_tier", "text", nullable=False, allowed=SLA_TIERS),
            Column("is_active", "boolean", nullable=False),
            Column("commissioned_date", "date", nullable=False, not_after_interval_end=True, since="1990-01-01"),
            _STAMP,
        ),
        key=("site_id",),
    ),
    TableContract(
        name="suppliers",
        raw_table="erp_suppliers",
        staging_model="stg_erp__suppliers",
        description="Suppliers.",
        columns=(
            Column("supplier_id", "text", nullable=False, description="'SUP-001'"),
            Column("supplier_name", "text", nullable=False),
            Column("city", "text", nullable=False),
            Column("state", "text", nullable=False, description="'BA', 'SP', ..."),
            Column("is_active", "boolean", nullable=False),
            _STAMP,
        ),
        key=("supplier_id",),
    ),
    TableContract(
        name="supplier_materials",
        raw_table="erp_supplier_materials",
        staging_model="stg_erp__supplier_materials",
        description="Which supplier sells which material, with the quoted lead time.",
        columns=(
            Column("supplier_id", "text", nullable=False),
            Column("material_id", "text", nullable=False),
            Column("quoted_lead_time_days", "integer", nullable=False,
                   bound=Bound(_ZERO, MAX_LEAD_TIME_DAYS, strict_low=True), db_check="> 0"),
            Column("unit_price_brl", "numeric", _MONEY, nullable=False, bound=Bound(_ZERO, MAX_UNIT_PRICE_BRL)),
            Column("is_preferred", "boolean", nullable=False),
            _STAMP,
        ),
        key=("supplier_id", "material_id"),
        references=(Reference("supplier_id", "suppliers", "supplier_id"),
                    Reference("material_id", "materials", "material_id")),
    ),
    TableContract(
        name="purchase_orders",
        raw_table="erp_purchase_orders",
        staging_model="stg_erp__purchase_orders",
        description="Purchase order lines (one material each); received once.",
        columns=(
            Column("purchase_order_id", "text", nullable=False, description="'PO-000001'"),
            Column("supplier_id", "text", nullable=False),
            Column("material_id", "text", nullable=False),
            Column("site_id", "text", nullable=False, description="destination"),
            Column("order_date", "date", nullable=False, not_after_interval_end=True, since=ERP_LIFE_START),
            Column("expected_date", "date", nullable=False, since=ERP_LIFE_START),
            Column("received_date", "date", not_after_interval_end=True, since=ERP_LIFE_START,
                   description="null while open"),
            _quantity("quantity_ordered", strict_positive=True),
            _quantity("quantity_received", nullable=True),
            Column("unit_price_brl", "numeric", _MONEY, nullable=False, bound=Bound(_ZERO, MAX_UNIT_PRICE_BRL)),
            Column("status", "text", nullable=False, allowed=PURCHASE_ORDER_STATUSES),
            _CREATED,
            _STAMP,
        ),
        key=("purchase_order_id",),
        references=(Reference("material_id", "materials", "material_id"), Reference("site_id", "sites", "site_id"),
                    Reference("supplier_id", "suppliers", "supplier_id")),
        measures=("quantity_ordered", "quantity_received"),
    ),
    TableContract(
        name="stock_movements",
        raw_table="erp_stock_movements",
        staging_model="stg_erp__stock_movements",
        description="Every stock movement; positive quantity, the type gives the direction.",
        columns=(
            Column("movement_id", "bigint", nullable=False),
            Column("material_id", "text", nullable=False),
            Column("site_id", "text", nullable=False),
            Column("movement_type", "text", nullable=False, allowed=MOVEMENT_TYPES),
            Column("movement_date", "date", nullable=False, not_after_interval_end=True, since=ERP_LIFE_START),
            Column("quantity", "numeric", _MONEY, nullable=False,
                   bound=Bound(-MAX_MOVEMENT_QUANTITY, MAX_MOVEMENT_QUANTITY),
                   description="> 0, except adjustments which may be negative"),
            Column("purchase_order_id", "text", description="the order a receipt books"),
            _CREATED,
            _STAMP,
        ),
        key=("movement_id",),
        references=(Reference("material_id", "materials", "material_id"), Reference("site_id", "sites", "site_id"),
                    Reference("purchase_order_id", "purchase_orders", "purchase_order_id")),
        measures=("quantity",),
        rules=(
            SqlRule(
                name="quantity > 0 except for adjustments",
                column="quantity",
                where="b.quantity <= 0 and b.movement_type is distinct from 'adjustment'",
            ),
            _history_rule("stock_movements"),
        ),
    ),
    TableContract(
        name="stock_on_hand",
        raw_table="erp_stock_on_hand",
        staging_model="stg_erp__stock_positions",
        description="Current stock per material and site; a row means the site stocks the material.",
        columns=(
            Column("material_id", "text", nullable=False),
            Column("site_id", "text", nullable=False),
            Column("quantity_on_hand", "numeric", _MONEY, nullable=False, bound=Bound(_ZERO, MAX_STOCK_ON_HAND)),
            _STAMP,
        ),
        key=("material_id", "site_id"),
        references=(Reference("material_id", "materials", "material_id"), Reference("site_id", "sites", "site_id")),
        measures=("quantity_on_hand",),
        rules=(
            SqlRule(
                name="stock on hand consistent with the movements the warehouse holds "
                     "(no movement of the material-site is in quarantine)",
                column="quantity_on_hand",
                where="""
                exists (
                    select 1
                    from audit.quarantined_rows as quarantined
                    join audit.load_batches as quarantined_batch
                      on quarantined_batch.batch_id = quarantined.batch_id and quarantined_batch.status = 'passed'
                    join raw.erp_stock_movements as movement
                      on movement._row_id = quarantined.raw_row_id
                    where quarantined.raw_table = 'raw.erp_stock_movements'
                      and quarantined.resolved_at is null
                      and movement.material_id = b.material_id and movement.site_id = b.site_id)
                """,
            ),
        ),
    ),
)

TABLES_BY_NAME: dict[str, TableContract] = {table.name: table for table in TABLES}
#: the ERP tables in foreign-key order (parents first); deletes run in the reverse order
TABLE_NAMES: tuple[str, ...] = tuple(table.name for table in TABLES)
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {table.name: table.column_names for table in TABLES}
PRIMARY_KEYS: dict[str, tuple[str, ...]] = {table.name: table.key for table in TABLES}
#: the columns the ERP indexes besides its keys (the extract's cursor on the big tables)
_INDEXES: tuple[tuple[str, str], ...] = (
    ("stock_movements", "updated_at"), ("purchase_orders", "updated_at"), ("stock_movements", "purchase_order_id"),
)


def source_name(table: str) -> str:
    """``erp.<table>``: the batch source and the ``_source`` of its rows."""
    return f"{SCHEMA}.{table}"


def _column_ddl(column: Column) -> str:
    parts = [column.name, column.type]
    if not column.nullable:
        parts.append("not null")
    checks = [f"{column.name} {column.db_check}"] if column.db_check else []
    if column.allowed:
        checks.append(f"{column.name} in ({', '.join(repr(value) for value in column.allowed)})")
    if checks:
        parts.append(f"check ({' and '.join(checks)})")
    return " ".join(parts)


def ddl() -> str:
    """``create table if not exists`` statements for schema ``erp`` (the simulator's database).

    Like a real ERP, the database enforces keys, foreign keys, NOT NULL and a few checks, but not
    the platform's plausibility rules (those belong to the gate).
    """
    statements = [f"create schema if not exists {SCHEMA};"]
    for contract in TABLES:
        lines = [_column_ddl(column) for column in contract.columns]
        lines.append(f"primary key ({', '.join(contract.key)})")
        lines += [
            f"foreign key ({ref.column}) references {SCHEMA}.{ref.table} ({ref.ref_column})"
            for ref in contract.references
        ]
        body = ",\n    ".join(lines)
        statements.append(f"create table if not exists {SCHEMA}.{contract.name} (\n    {body}\n);")
    statements += [
        f"create index if not exists {table}_{column}_idx on {SCHEMA}.{table} ({column});" for table, column in _INDEXES
    ]
    return "\n".join(statements) + "\n"
