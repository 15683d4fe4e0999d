"""The GX suites, data sources, validation definitions and checkpoints, as code.

``build()`` (``python -m nova_corrente.quality build``) writes them into the file context under
``expectations/gx/``; the JSON and YAML it writes are committed, and building again changes
nothing on disk (expectation ids are derived from the expectation's content, data source ids from
their names, and existing suites, validation definitions and checkpoints keep their ids).

Two gates:

* **raw** — one suite per ERP table, ``raw_erp_<table>``, run on *one batch* of
  ``raw.erp_<table>``: the batch definition partitions the table on ``_batch_id`` and the gate
  passes the batch id as a batch parameter, so rows of other batches are never read. Checks: the
  source columns are present, keys not null and unique within the batch, codes in their accepted
  sets, quantities and prices in range, no date or timestamp at or after the batch's
  ``interval_end`` (``audit.load_batches``; a date counts from 00:00 UTC), and no code unknown to
  the warehouse. *Known* means present in the rows of a passed batch, or of a batch loaded for the
  same interval and not rejected (the batches of the run being gated: the materials loaded today
  make today's movements valid). Earlier, never-passed intervals need not count: the incremental
  extract starts from the last *passed* watermark, so today's batches carry their rows again.
* **marts** — ``marts_fct_reorder_points`` (the whole table) and ``marts_forecast_values`` (one
  forecast run: the gate passes the latest ``run_id``).

SQL checks are ``UnexpectedRowsExpectation``s: GX replaces ``{batch}`` with the batch's rows. When
the query contains a ``join``, GX inserts the batch as a bare sub-select, so those queries alias it
themselves (``{batch} as b``). ``meta.column`` names the column a SQL check is about (used in
failure messages).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nova_corrente.quality.context import CONNECTION_VARIABLE, PROJECT_ROOT, open_context

if TYPE_CHECKING:
    from great_expectations import ExpectationSuite
    from great_expectations.data_context import FileDataContext
    from great_expectations.expectations import Expectation

#: namespace of the uuid5 ids this module derives (any constant works; never change it)
_ID_NAMESPACE = uuid.UUID("4f1d9a8e-6b0c-5d2e-9a3f-7c1e2b8d0a55")

RAW_DATASOURCE = "warehouse_raw"
MARTS_DATASOURCE = "warehouse_marts"
BATCH_COLUMN = "_batch_id"
RAW_BATCH_DEFINITION = "by_batch"
WHOLE_TABLE_BATCH_DEFINITION = "whole_table"
FORECAST_RUN_BATCH_DEFINITION = "by_run"
FORECAST_RUN_COLUMN = "run_id"

#: every validation asks for the full diagnostics; samples are cut to this many values in messages
RESULT_FORMAT: dict[str, Any] = {"result_format": "COMPLETE", "partial_unexpected_count": 20}

MOVEMENT_TYPES = ("consumption", "receipt", "transfer_in", "transfer_out", "adjustment", "return")
SLA_TIERS = ("gold", "silver", "bronze")
PURCHASE_ORDER_STATUSES = ("open", "received", "cancelled")
FAMILY_CATEGORIES = ("energy", "transmission", "connectivity", "structural")
RAW_METADATA_COLUMNS = ("_batch_id", "_source", "_loaded_at")


@dataclass(frozen=True)
class RawTable:
    """One ERP table as landed in ``raw.erp_<name>`` (columns as in erp_simulator/schema.sql)."""

    name: str
    key: tuple[str, ...]
    columns: tuple[str, ...]
    not_null: tuple[str, ...]
    #: date columns: no day starting (00:00 UTC) at or after the batch's interval_end
    dates: tuple[str, ...] = ()
    #: timestamp columns: no value at or after the batch's interval_end
    timestamps: tuple[str, ...] = ("updated_at",)
    #: (column, referenced ERP table, referenced column): codes that must be known to the warehouse
    references: tuple[tuple[str, str, str], ...] = ()

    @property
    def suite_name(self) -> str:
        return f"raw_erp_{self.name}"

    @property
    def raw_table(self) -> str:
        return f"erp_{self.name}"

    @property
    def source(self) -> str:
        """``audit.load_batches.source`` of this table's batches."""
        return f"erp.{self.name}"


RAW_TABLES: tuple[RawTable, ...] = (
    RawTable(
        name="material_families",
        key=("family_id",),
        columns=("family_id", "family_name", "category", "updated_at"),
        not_null=("family_id", "family_name", "category", "updated_at"),
    ),
    RawTable(
        name="materials",
        key=("material_id",),
        columns=("material_id", "material_name", "family_id", "unit_of_measure", "unit_cost_brl",
                 "is_active", "created_at", "updated_at"),
        not_null=("material_id", "family_id", "unit_of_measure", "unit_cost_brl", "is_active", "updated_at"),
        timestamps=("created_at", "updated_at"),
        references=(("family_id", "material_families", "family_id"),),
    ),
    RawTable(
        name="sites",
        key=("site_id",),
        columns=("site_id", "site_name", "city", "region", "latitude", "longitude", "sla_tier",
                 "is_active", "commissioned_date", "updated_at"),
        not_null=("site_id", "city", "region", "sla_tier", "is_active", "updated_at"),
        dates=("commissioned_date",),
    ),
    RawTable(
        name="suppliers",
        key=("supplier_id",),
        columns=("supplier_id", "supplier_name", "city", "state", "is_active", "updated_at"),
        not_null=("supplier_id", "supplier_name", "is_active", "updated_at"),
    ),
    RawTable(
        name="supplier_materials",
        key=("supplier_id", "material_id"),
        columns=("supplier_id", "material_id", "quoted_lead_time_days", "unit_price_brl",
                 "is_preferred", "updated_at"),
        not_null=("supplier_id", "material_id", "quoted_lead_time_days", "unit_price_brl", "updated_at"),
        references=(("supplier_id", "suppliers", "supplier_id"), ("material_id", "materials", "material_id")),
    ),
    RawTable(
        name="purchase_orders",
        key=("purchase_order_id",),
        columns=("purchase_order_id", "supplier_id", "material_id", "site_id", "order_date",
                 "expected_date", "received_date", "quantity_ordered", "quantity_received",
                 "unit_price_brl", "status", "created_at", "updated_at"),
        not_null=("purchase_order_id", "supplier_id", "material_id", "site_id", "order_date",
                  "expected_date", "quantity_ordered", "unit_price_brl", "status", "updated_at"),
        dates=("order_date", "received_date"),
        timestamps=("created_at", "updated_at"),
        references=(("material_id", "materials", "material_id"), ("site_id", "sites", "site_id"),
                    ("supplier_id", "suppliers", "supplier_id")),
    ),
    RawTable(
        name="stock_movements",
        key=("movement_id",),
        columns=("movement_id", "material_id", "site_id", "movement_type", "movement_date", "quantity",
                 "purchase_order_id", "created_at", "updated_at"),
        not_null=("movement_id", "material_id", "site_id", "movement_type", "movement_date", "quantity",
                  "updated_at"),
        dates=("movement_date",),
        timestamps=("created_at", "updated_at"),
        references=(("material_id", "materials", "material_id"), ("site_id", "sites", "site_id")),
    ),
    RawTable(
        name="stock_on_hand",
        key=("material_id", "site_id"),
        columns=("material_id", "site_id", "quantity_on_hand", "updated_at"),
        not_null=("material_id", "site_id", "quantity_on_hand", "updated_at"),
        references=(("material_id", "materials", "material_id"), ("site_id", "sites", "site_id")),
    ),
)

RAW_TABLES_BY_SOURCE: dict[str, RawTable] = {table.source: table for table in RAW_TABLES}


@dataclass(frozen=True)
class MartTable:
    """A mart validated by the marts gate."""

    suite_name: str
    table: str
    batch_definition: str
    partition_column: str | None = None


# --------------------------------------------------------------------------------------------
# expectation helpers (each returns GX Expectation objects; GX is imported lazily)
# --------------------------------------------------------------------------------------------


def _gxe() -> Any:
    from great_expectations import expectations

    return expectations


def _not_null(columns: Sequence[str]) -> list[Expectation]:
    return [_gxe().ExpectColumnValuesToNotBeNull(column=column) for column in columns]


def _unique(key: Sequence[str]) -> Expectation:
    if len(key) == 1:
        return _gxe().ExpectColumnValuesToBeUnique(column=key[0])
    return _gxe().ExpectCompoundColumnsToBeUnique(column_list=list(key))


def _sql_check(description: str, column: str, query: str) -> Expectation:
    """An UnexpectedRowsExpectation: every row the query returns is a failure."""
    return _gxe().UnexpectedRowsExpectation(
        unexpected_rows_query=_squash(query), description=description, meta={"column": column}
    )


def _squash(query: str) -> str:
    """One line per SQL clause, no indentation noise in the committed JSON."""
    return " ".join(line.strip() for line in query.strip().splitlines() if line.strip())


def _select_key(table: RawTable, *extra: str) -> str:
    columns = list(dict.fromkeys([*table.key, *extra]))
    return ", ".join(f"b.{column}" for column in columns)


def _no_future_dates(table: RawTable) -> Expectation | None:
    """Dates and timestamps at or after the batch's interval_end (a date counts from 00:00 UTC)."""
    conditions = [
        f"(b.{column}::timestamp at time zone 'UTC') >= load_batch.interval_end" for column in table.dates
    ] + [f"b.{column} >= load_batch.interval_end" for column in table.timestamps]
    if not conditions:
        return None
    columns = [*table.dates, *table.timestamps]
    return _sql_check(
        f"no {', '.join(columns)} at or after the batch's interval_end",
        ", ".join(columns),
        f"""
        select {_select_key(table, *columns)}, load_batch.interval_end
        from {{batch}} as b
        join audit.load_batches as load_batch on load_batch.batch_id = b._batch_id
        where {' or '.join(conditions)}
        """,
    )


def _known_code(table: RawTable, column: str, ref_table: str, ref_column: str) -> Expectation:
    """Every ``column`` value exists in ``raw.erp_<ref_table>`` rows known to the warehouse."""
    return _sql_check(
        f"{column} known to the warehouse (raw.erp_{ref_table} rows of passed batches or of this run)",
        column,
        f"""
        select {_select_key(table, column)}
        from {{batch}} as b
        join audit.load_batches as this_batch on this_batch.batch_id = b._batch_id
        where b.{column} is not null
          and not exists (
            select 1
            from raw.erp_{ref_table} as ref
            join audit.load_batches as ref_batch on ref_batch.batch_id = ref._batch_id
            where ref.{ref_column} = b.{column}
              and (ref_batch.status = 'passed'
                   or (ref_batch.status <> 'rejected' and ref_batch.interval_end = this_batch.interval_end))
          )
        """,
    )


def _table_specific(table: RawTable) -> list[Expectation]:
    """Value checks that are particular to one table."""
    gxe = _gxe()
    checks: dict[str, list[Expectation]] = {
        "material_families": [
            gxe.ExpectColumnValuesToBeInSet(column="category", value_set=list(FAMILY_CATEGORIES)),
        ],
        "materials": [
            gxe.ExpectColumnValuesToBeBetween(column="unit_cost_brl", min_value=0),
        ],
        "sites": [
            gxe.ExpectColumnValuesToBeInSet(column="sla_tier", value_set=list(SLA_TIERS)),
            gxe.ExpectColumnValuesToBeBetween(column="latitude", min_value=-90, max_value=90),
            gxe.ExpectColumnValuesToBeBetween(column="longitude", min_value=-180, max_value=180),
        ],
        "suppliers": [],
        "supplier_materials": [
            gxe.ExpectColumnValuesToBeBetween(column="quoted_lead_time_days", min_value=1),
            gxe.ExpectColumnValuesToBeBetween(column="unit_price_brl", min_value=0),
        ],
        "purchase_orders": [
            gxe.ExpectColumnValuesToBeInSet(column="status", value_set=list(PURCHASE_ORDER_STATUSES)),
            gxe.ExpectColumnValuesToBeBetween(column="quantity_ordered", min_value=0, strict_min=True),
            gxe.ExpectColumnValuesToBeBetween(column="quantity_received", min_value=0),
            gxe.ExpectColumnValuesToBeBetween(column="unit_price_brl", min_value=0),
        ],
        "stock_movements": [
            gxe.ExpectColumnValuesToBeInSet(column="movement_type", value_set=list(MOVEMENT_TYPES)),
            _sql_check(
                "quantity > 0 except for adjustments",
                "quantity",
                """
                select movement_id, movement_type, quantity
                from {batch}
                where quantity <= 0 and movement_type is distinct from 'adjustment'
                """,
            ),
        ],
        "stock_on_hand": [
            gxe.ExpectColumnValuesToBeBetween(column="quantity_on_hand", min_value=0),
        ],
    }
    return checks[table.name]


def raw_expectations(table: RawTable) -> list[Expectation]:
    """The raw gate's expectations for one ERP table, in a stable order."""
    gxe = _gxe()
    expectations: list[Expectation] = [
        gxe.ExpectTableColumnsToMatchSet(column_set=[*table.columns, *RAW_METADATA_COLUMNS], exact_match=False),
        *_not_null(table.not_null),
        _unique(table.key),
        *_table_specific(table),
    ]
    future = _no_future_dates(table)
    if future is not None:
        expectations.append(future)
    expectations += [_known_code(table, column, ref, ref_column) for column, ref, ref_column in table.references]
    return expectations


def reorder_point_expectations() -> list[Expectation]:
    """``marts.fct_reorder_points``: reorder_point >= safety_stock >= 0, 0 < service_level < 1."""
    gxe = _gxe()
    return [
        *_not_null(("material_id", "site_id", "service_level", "safety_stock", "reorder_point")),
        _unique(("material_id", "site_id")),
        gxe.ExpectColumnValuesToBeBetween(column="safety_stock", min_value=0),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="reorder_point", column_B="safety_stock", or_equal=True, ignore_row_if="either_value_is_missing"
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="service_level", min_value=0, max_value=1, strict_min=True, strict_max=True
        ),
    ]


def forecast_value_expectations() -> list[Expectation]:
    """``marts.forecast_values`` of one run: yhat >= 0 inside its intervals, metadata present."""
    gxe = _gxe()

    def at_least(high: str, low: str) -> Expectation:
        return gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=high, column_B=low, or_equal=True, ignore_row_if="either_value_is_missing"
        )

    return [
        *_not_null(("material_id", "site_id", "forecast_date", "yhat", "yhat_lo_80", "yhat_hi_80")),
        *_not_null(("model_version", "generated_at", "source", "dataset_id")),
        _unique(("material_id", "site_id", "forecast_date")),
        gxe.ExpectColumnValuesToBeBetween(column="yhat", min_value=0),
        at_least("yhat", "yhat_lo_80"),
        at_least("yhat_hi_80", "yhat"),
        at_least("yhat_lo_80", "yhat_lo_95"),
        at_least("yhat_hi_95", "yhat_hi_80"),
    ]


MART_TABLES: tuple[MartTable, ...] = (
    MartTable("marts_fct_reorder_points", "fct_reorder_points", WHOLE_TABLE_BATCH_DEFINITION),
    MartTable("marts_forecast_values", "forecast_values", FORECAST_RUN_BATCH_DEFINITION, FORECAST_RUN_COLUMN),
)
_MART_EXPECTATIONS = {
    "marts_fct_reorder_points": reorder_point_expectations,
    "marts_forecast_values": forecast_value_expectations,
}


# --------------------------------------------------------------------------------------------
# building the file context
# --------------------------------------------------------------------------------------------


def _stable_id(*parts: str) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, "/".join(parts)))


def _expectation_fingerprint(expectation: Expectation) -> str:
    content = expectation.configuration.to_json_dict()
    content.pop("id", None)
    return json.dumps(content, sort_keys=True, default=str)


def make_suite(name: str, expectations: list[Expectation]) -> ExpectationSuite:
    """A suite whose expectation ids derive from their content (stable across rebuilds)."""
    import great_expectations as gx

    suite = gx.ExpectationSuite(name=name, expectations=expectations)
    for expectation in suite.expectations:
        expectation.id = _stable_id(name, _expectation_fingerprint(expectation))
    return suite


def all_suites() -> list[ExpectationSuite]:
    """Every suite of both gates, built in memory (nothing is written)."""
    suites = [make_suite(table.suite_name, raw_expectations(table)) for table in RAW_TABLES]
    suites += [make_suite(mart.suite_name, _MART_EXPECTATIONS[mart.suite_name]()) for mart in MART_TABLES]
    return suites


def _datasources() -> list[Any]:
    """The two PostgreSQL data sources (raw, marts) with their table assets and batch definitions."""
    from great_expectations.core.batch_definition import BatchDefinition
    from great_expectations.core.partitioners import PartitionerColumnValue
    from great_expectations.datasource.fluent import PostgresDatasource
    from great_expectations.datasource.fluent.sql_datasource import TableAsset

    def batch_definition(datasource: str, asset: str, name: str, column: str | None) -> BatchDefinition:
        partitioner = PartitionerColumnValue(column_name=column) if column else None
        return BatchDefinition(name=name, id=_stable_id(datasource, asset, name), partitioner=partitioner)

    def datasource(name: str, schema: str, assets: list[tuple[str, str, str | None]]) -> PostgresDatasource:
        return PostgresDatasource(
            name=name,
            id=_stable_id(name),
            connection_string="${" + CONNECTION_VARIABLE + "}",
            # the schema is the session's search_path; UTC so dates and timestamps compare as stored
            kwargs={"connect_args": {"options": f"-c search_path={schema} -c timezone=UTC"}},
            assets=[
                TableAsset(
                    name=table,
                    id=_stable_id(name, table),
                    table_name=table,
                    batch_definitions=[batch_definition(name, table, definition, column)],
                )
                for table, definition, column in assets
            ],
        )

    return [
        datasource(RAW_DATASOURCE, "raw", [(t.raw_table, RAW_BATCH_DEFINITION, BATCH_COLUMN) for t in RAW_TABLES]),
        datasource(MARTS_DATASOURCE, "marts", [(m.table, m.batch_definition, m.partition_column) for m in MART_TABLES]),
    ]


def _validation_targets() -> list[tuple[str, str, str, str]]:
    """(suite name, data source, asset, batch definition) of every validation definition."""
    targets = [(t.suite_name, RAW_DATASOURCE, t.raw_table, RAW_BATCH_DEFINITION) for t in RAW_TABLES]
    targets += [(m.suite_name, MARTS_DATASOURCE, m.table, m.batch_definition) for m in MART_TABLES]
    return targets


def build(project_root: Path = PROJECT_ROOT) -> FileDataContext:
    """(Re)build the file context at ``project_root``: idempotent, needs no database.

    Writes the data sources (``great_expectations.yml``), one suite, one validation definition and
    one checkpoint per suite (all three named like the suite). Analytics and progress bars are
    switched off in the committed config.
    """
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = open_context(project_root)
    config_changed = False
    if context.variables.analytics_enabled is not False:
        context.variables.analytics_enabled = False
        config_changed = True
    progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    if context.variables.progress_bars != progress_bars:
        context.variables.progress_bars = progress_bars
        config_changed = True
    if config_changed:
        context.variables.save()

    existing = context.data_sources.all()
    for datasource in _datasources():
        # add_datasource/update_datasource store the config without a connection test
        if datasource.name in existing:
            context.update_datasource(datasource)
        else:
            context.add_datasource(datasource=datasource)

    suites = {suite.name: suite for suite in all_suites()}
    for suite in suites.values():
        _save_suite(context, suite)

    for suite_name, datasource_name, asset_name, definition_name in _validation_targets():
        batch_definition = (
            context.data_sources.get(datasource_name).get_asset(asset_name).get_batch_definition(definition_name)
        )
        validation = gx.ValidationDefinition(
            name=suite_name, data=batch_definition, suite=context.suites.get(suite_name)
        )
        validation = context.validation_definitions.add_or_update(validation)
        context.checkpoints.add_or_update(
            gx.Checkpoint(name=suite_name, validation_definitions=[validation], result_format=RESULT_FORMAT)
        )
    return context


def _save_suite(context: FileDataContext, suite: ExpectationSuite) -> None:
    """Add the suite, or replace an existing one keeping its id (GX draws a random id on add)."""
    import great_expectations as gx

    names = {existing.name for existing in context.suites.all()}
    if suite.name not in names:
        context.suites.add(gx.ExpectationSuite(name=suite.name))
    context.suites.add_or_update(suite)
