"""The GX suites, data sources, validation definitions and checkpoints, as code.

``build()`` (``python -m nova_corrente.quality build``) writes them into the file context under
``expectations/gx/``; the JSON and YAML it writes are committed, and building again changes
nothing on disk (expectation ids are derived from the expectation's content, data source ids from
their names, and existing suites, validation definitions and checkpoints keep their ids).

Two gates:

* **raw** — one suite per source table (``nova_corrente.contracts``: the ERP tables and the feeds),
  ``raw_<raw table>`` (e.g. ``raw_erp_stock_movements``, ``raw_feed_weather_daily``), run on *one
  batch*: the batch definition partitions the raw table on ``_batch_id`` and the gate passes the
  batch id as a batch parameter, so rows of other batches are never read. A structural expectation
  (the contract's columns are present) holds a batch back whole; every other expectation is a
  row-local rule from ``nova_corrente.quality.rules`` (an ``UnexpectedRowsExpectation`` whose rows
  are the bad ones: they go to quarantine, the rest of the batch goes on).
* **marts** — ``marts_fct_reorder_points`` (the whole table) and ``marts_forecast_values`` (one
  forecast run: the gate passes the latest ``run_id``).

``meta`` of each expectation says its ``kind`` (``structural`` or ``row``), its rule name and
the ``column`` it is about (used in failure messages and quarantine records).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nova_corrente.contracts import TableContract, all_contracts
from nova_corrente.extract.warehouse_setup import RAW_METADATA_NAMES
from nova_corrente.quality.context import CONNECTION_VARIABLE, PROJECT_ROOT, open_context
from nova_corrente.quality.rules import row_rules

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



def raw_suite_name(contract: TableContract) -> str:
    """``raw_<raw table>``: the suite, validation definition and checkpoint of a source table."""
    return f"raw_{contract.raw_table}"


def raw_contracts() -> tuple[TableContract, ...]:
    """The contracts the raw gate validates (every source table)."""
    return all_contracts()


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


def raw_expectations(contract: TableContract) -> list[Expectation]:
    """The raw gate's expectations for one source table, in a stable order: structural, then rows."""
    gxe = _gxe()
    structural = gxe.ExpectTableColumnsToMatchSet(
        column_set=[*contract.column_names, *RAW_METADATA_NAMES], exact_match=False,
        meta={"kind": "structural", "rule": "the contract's columns are present"},
    )
    rows = [
        gxe.UnexpectedRowsExpectation(
            unexpected_rows_query=rule.query(contract), description=rule.name,
            meta={"kind": "row", "rule": rule.name, "column": rule.column},
        )
        for rule in row_rules(contract)
    ]
    return [structural, *rows]


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
    suites = [make_suite(raw_suite_name(contract), raw_expectations(contract)) for contract in raw_contracts()]
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
        datasource(RAW_DATASOURCE, "raw",
                   [(c.raw_table, RAW_BATCH_DEFINITION, BATCH_COLUMN) for c in raw_contracts()]),
        datasource(MARTS_DATASOURCE, "marts", [(m.table, m.batch_definition, m.partition_column) for m in MART_TABLES]),
    ]


def _validation_targets() -> list[tuple[str, str, str, str]]:
    """(suite name, data source, asset, batch definition) of every validation definition."""
    targets = [(raw_suite_name(c), RAW_DATASOURCE, c.raw_table, RAW_BATCH_DEFINITION) for c in raw_contracts()]
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
