"""The quality gates: run the committed GX checkpoints and record the verdict.

``validate_raw_batches(pg, batch_ids)`` validates only the rows of the given batches (each batch
is one GX batch of its ``raw.erp_<table>``, selected by ``_batch_id`` at run time) and then marks
*all* of them ``passed``, or — if any expectation of any batch failed — *all* of them ``rejected``
with a ``failure_reason`` and raises ``QualityGateFailed``. All-or-nothing keeps the run
consistent: movements are not let through when the materials loaded with them were rejected.

``validate_marts(pg)`` validates ``marts.fct_reorder_points`` and the latest run of
``marts.forecast_values`` and raises ``QualityGateFailed`` on failure.

Failure messages name the suite, the batch, the expectation, its column(s), how many rows failed
and a sample of bad values, e.g. ``suite raw_erp_stock_movements (batch erp.stock_movements|...):
expect_column_values_to_be_in_set(movement_type) failed on 2 of 10 rows, sample: ['theft', 'lost']``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from nova_corrente.quality.context import PROJECT_ROOT, close_connections, open_context
from nova_corrente.quality.suites import (
    BATCH_COLUMN,
    FORECAST_RUN_COLUMN,
    MART_TABLES,
    RAW_TABLES_BY_SOURCE,
    MartTable,
)
from nova_corrente.settings import PostgresSettings

if TYPE_CHECKING:
    from great_expectations.core import ExpectationSuiteValidationResult, ExpectationValidationResult
    from great_expectations.data_context import FileDataContext

log = logging.getLogger(__name__)

#: how many bad values a message shows per failed expectation
SAMPLE_SIZE = 5
#: failure_reason is cut to this many characters in audit.load_batches
MAX_REASON_CHARS = 4000


class QualityGateFailed(RuntimeError):
    """A gate found bad data; the message names suite, expectation, column and sample values."""

    def __init__(self, message: str, report: GateReport) -> None:
        super().__init__(message)
        self.report = report


@dataclass
class SuiteResult:
    """One suite run on one batch (raw: a load batch; marts: a table or a forecast run)."""

    suite: str
    batch: str
    success: bool
    evaluated_expectations: int
    failed_expectations: int
    seconds: float
    row_count: int | None = None
    failures: list[str] = field(default_factory=list)


@dataclass
class GateReport:
    """What a gate validated and how it went."""

    gate: Literal["raw", "marts"]
    suites: list[SuiteResult] = field(default_factory=list)
    #: raw batches of sources without a suite (e.g. landing files): recorded, not validated
    unchecked_batches: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def success(self) -> bool:
        return all(result.success for result in self.suites)

    @property
    def failures(self) -> list[str]:
        return [failure for result in self.suites for failure in result.failures]

    @property
    def evaluated_expectations(self) -> int:
        return sum(result.evaluated_expectations for result in self.suites)

    @property
    def failed_expectations(self) -> int:
        return sum(result.failed_expectations for result in self.suites)

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary (the Airflow task's XCom)."""
        return {
            "gate": self.gate,
            "success": self.success,
            "evaluated_expectations": self.evaluated_expectations,
            "failed_expectations": self.failed_expectations,
            "seconds": round(self.seconds, 3),
            "unchecked_batches": list(self.unchecked_batches),
            "suites": [{**asdict(result), "seconds": round(result.seconds, 3)} for result in self.suites],
        }

    def summary(self) -> str:
        """One line: counts and time."""
        state = "passed" if self.success else "FAILED"
        return (
            f"{self.gate} gate {state}: {len(self.suites)} suite runs, {self.evaluated_expectations} expectations, "
            f"{self.failed_expectations} failed, {self.seconds:.1f}s"
        )


# --------------------------------------------------------------------------------------------
# raw gate
# --------------------------------------------------------------------------------------------


def validate_raw_batches(
    pg: PostgresSettings, batch_ids: list[str], *, project_root: Path = PROJECT_ROOT
) -> GateReport:
    """Validate the rows of ``batch_ids`` and mark the batches passed or rejected.

    Runs as ``pg``'s component, or as the loader for the administrator's settings (it reads raw and
    writes the batches' status). Raises ``QualityGateFailed`` (batches now ``rejected``) when an
    expectation fails, and ``KeyError`` (nothing changed) for batch ids that ``audit.load_batches``
    does not know.
    """
    pg = pg.component_or("loader")
    started = time.perf_counter()
    ids = list(dict.fromkeys(batch_ids))
    report = GateReport(gate="raw")
    if not ids:
        return report
    batches = _load_batches(pg, ids)

    context = open_context(project_root, pg)
    try:
        for batch_id in ids:
            source, row_count = batches[batch_id]
            table = RAW_TABLES_BY_SOURCE.get(source)
            if table is None:
                report.unchecked_batches.append(batch_id)
                continue
            report.suites.append(
                _run_checkpoint(
                    context,
                    table.suite_name,
                    label=f"batch {batch_id}",
                    batch=batch_id,
                    batch_parameters={BATCH_COLUMN: batch_id},
                    expected_rows=row_count,
                    where=f"raw.{table.raw_table}",
                )
            )
    finally:
        close_connections(context)
    report.seconds = time.perf_counter() - started

    _record_verdict(pg, ids, report)
    if report.unchecked_batches:
        log.info("raw gate: no suite for %s (recorded with the run's verdict)", ", ".join(report.unchecked_batches))
    log.info(report.summary())
    if not report.success:
        raise QualityGateFailed(_failure_message(report), report)
    return report


def _load_batches(pg: PostgresSettings, batch_ids: Sequence[str]) -> dict[str, tuple[str, int]]:
    """source and row_count of each batch; KeyError naming the ids audit.load_batches lacks."""
    from nova_corrente.extract.connections import close_quietly, connect

    conn = connect(pg, "warehouse")
    try:
        with conn.cursor() as cur:
            cur.execute(
                "select batch_id, source, row_count from audit.load_batches where batch_id = any(%s)",
                (list(batch_ids),),
            )
            found = {batch_id: (source, row_count) for batch_id, source, row_count in cur.fetchall()}
    finally:
        close_quietly(conn)
    missing = [batch_id for batch_id in batch_ids if batch_id not in found]
    if missing:
        raise KeyError(f"unknown batch ids in audit.load_batches: {', '.join(missing)}")
    return found


def _record_verdict(pg: PostgresSettings, batch_ids: list[str], report: GateReport) -> None:
    """All batches passed, or all rejected: each with its own failures, or the run's."""
    from nova_corrente.extract.connections import close_quietly, connect
    from nova_corrente.extract.warehouse_setup import set_batch_status

    conn = connect(pg, "warehouse")
    try:
        if report.success:
            set_batch_status(conn, batch_ids, "passed")
        else:
            failed = {result.batch: result for result in report.suites if not result.success}
            others = "; ".join(f"{result.batch} failed {result.suite}" for result in failed.values())
            for batch_id in batch_ids:
                if batch_id in failed:
                    reason = "; ".join(failed[batch_id].failures)
                else:
                    reason = f"rejected with its run: {others}"
                set_batch_status(conn, [batch_id], "rejected", _cut(reason, MAX_REASON_CHARS))
        conn.commit()
    finally:
        close_quietly(conn)


# --------------------------------------------------------------------------------------------
# marts gate
# --------------------------------------------------------------------------------------------


def validate_marts(pg: PostgresSettings, *, project_root: Path = PROJECT_ROOT) -> GateReport:
    """Validate ``marts.fct_reorder_points`` and the latest run of ``marts.forecast_values``.

    Runs as ``pg``'s component, or as the transformer for the administrator's settings (it reads
    the marts and the forecast tables). Raises ``QualityGateFailed`` when an expectation fails or a
    table (or any forecast run) is missing.
    """
    pg = pg.component_or("transformer")
    started = time.perf_counter()
    report = GateReport(gate="marts")
    context = open_context(project_root, pg)
    try:
        for mart in MART_TABLES:
            report.suites.append(_validate_mart(context, pg, mart))
    finally:
        close_connections(context)
    report.seconds = time.perf_counter() - started
    log.info(report.summary())
    if not report.success:
        raise QualityGateFailed(_failure_message(report), report)
    return report


def _validate_mart(context: FileDataContext, pg: PostgresSettings, mart: MartTable) -> SuiteResult:
    """The whole table, or (for a partitioned mart) its latest forecast run."""
    where = f"marts.{mart.table}"
    if mart.partition_column is None:
        return _run_checkpoint(context, mart.suite_name, label=where, batch=where, batch_parameters=None, where=where)
    started = time.perf_counter()
    run_id, problem = _latest_forecast_run(pg, mart.table)
    if run_id is None:
        return SuiteResult(mart.suite_name, where, False, 0, 0, time.perf_counter() - started,
                           failures=[f"suite {mart.suite_name} ({where}): {problem}"])
    value = _as_gx_value(context, mart.suite_name, mart.partition_column, run_id)
    return _run_checkpoint(
        context,
        mart.suite_name,
        label=f"{where} run {run_id}",
        batch=run_id,
        batch_parameters={mart.partition_column: value},
        where=where,
    )


def _latest_forecast_run(pg: PostgresSettings, table: str) -> tuple[str | None, str | None]:
    """(run_id of the newest run by generated_at, problem). A run with a NULL generated_at counts as
    newest, so a run written without metadata is the one validated (and fails)."""
    import psycopg2

    from nova_corrente.extract.connections import close_quietly, connect

    conn = connect(pg, "warehouse")
    try:
        with conn.cursor() as cur:
            cur.execute(
                f"""
                select {FORECAST_RUN_COLUMN}::text
                from marts.{table}
                group by {FORECAST_RUN_COLUMN}
                order by bool_or(generated_at is null) desc, max(generated_at) desc, {FORECAST_RUN_COLUMN} desc
                limit 1
                """
            )
            row = cur.fetchone()
    except psycopg2.errors.UndefinedTable:
        return None, f"table marts.{table} does not exist"
    finally:
        close_quietly(conn)
    if row is None:
        return None, f"marts.{table} holds no forecast run"
    return row[0], None


def _as_gx_value(context: FileDataContext, suite: str, column: str, value: str) -> Any:
    """The partition value as GX reads it (e.g. uuid.UUID for a uuid column), matched by text."""
    batch_definition = context.validation_definitions.get(suite).batch_definition
    for identifiers in batch_definition.get_batch_identifiers_list():
        if str(identifiers.get(column)) == value:
            return identifiers[column]
    return value


# --------------------------------------------------------------------------------------------
# running a checkpoint and describing its failures
# --------------------------------------------------------------------------------------------


def _run_checkpoint(
    context: FileDataContext,
    suite: str,
    *,
    label: str,
    batch: str,
    batch_parameters: dict[str, Any] | None,
    where: str,
    expected_rows: int | None = None,
) -> SuiteResult:
    """Run the checkpoint named like ``suite`` on one batch; errors become failures, not crashes."""
    from great_expectations.exceptions.exceptions import NoAvailableBatchesError

    started = time.perf_counter()
    prefix = f"suite {suite} ({label})"
    try:
        checkpoint = context.checkpoints.get(suite)
        result = checkpoint.run(batch_parameters=batch_parameters)
    except NoAvailableBatchesError:
        seconds = time.perf_counter() - started
        if expected_rows == 0:  # an interval without changes: nothing to validate
            return SuiteResult(suite, batch, True, 0, 0, seconds, row_count=0)
        detail = f"audit.load_batches records {expected_rows} rows" if expected_rows else "expected rows"
        return SuiteResult(suite, batch, False, 0, 0, seconds, row_count=0,
                           failures=[f"{prefix}: {detail} but {where} has none for it"])
    except Exception as exc:  # a missing table or column, a broken connection: the gate fails loudly
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return SuiteResult(suite, batch, False, 0, 0, time.perf_counter() - started,
                           failures=[f"{prefix}: could not be validated: {type(exc).__name__}: {first_line}"])
    suite_result = next(iter(result.run_results.values()))
    return _summarise(suite_result, suite, batch, prefix, time.perf_counter() - started)


def _summarise(
    suite_result: ExpectationSuiteValidationResult, suite: str, batch: str, prefix: str, seconds: float
) -> SuiteResult:
    statistics = suite_result.statistics
    rows = _row_count(suite_result.results)
    failures = [f"{prefix}: {describe_failure(result, rows)}" for result in suite_result.results if not result.success]
    return SuiteResult(
        suite=suite,
        batch=batch,
        success=bool(suite_result.success),
        evaluated_expectations=int(statistics.get("evaluated_expectations", 0)),
        failed_expectations=int(statistics.get("unsuccessful_expectations", 0)),
        seconds=seconds,
        row_count=rows,
        failures=failures,
    )


def _row_count(results: Iterable[ExpectationValidationResult]) -> int | None:
    """The batch's row count, as seen by any column-map expectation."""
    for result in results:
        count = (result.result or {}).get("element_count")
        if isinstance(count, int):
            return count
    return None


def describe_failure(result: ExpectationValidationResult, rows: int | None = None) -> str:
    """``<expectation>(<columns>) failed on <n> of <rows> rows, sample: [...]`` for one result."""
    config = result.expectation_config
    name = f"{config.type}({_columns_of(config)})"
    if config.type == "unexpected_rows_expectation" and config.description:
        name = f"{config.type} '{config.description}' ({_columns_of(config)})"
    exception = result.exception_info or {}
    if exception.get("raised_exception"):
        message = str(exception.get("exception_message") or "").strip().splitlines()
        return f"{name} raised an error: {message[0] if message else 'unknown error'}"

    details = result.result or {}
    of_rows = f" of {rows}" if rows is not None else ""
    if config.type == "unexpected_rows_expectation":
        count = details.get("observed_value")
        sample = (details.get("details") or {}).get("unexpected_rows") or []
        return f"{name} failed on {count}{of_rows} rows, sample: {_sample(sample)}"
    if "unexpected_count" in details:
        of_rows = f" of {details['element_count']}" if details.get("element_count") is not None else of_rows
        return (
            f"{name} failed on {details['unexpected_count']}{of_rows} rows, "
            f"sample: {_sample(details.get('unexpected_list') or details.get('partial_unexpected_list') or [])}"
        )
    mismatched = (details.get("details") or {}).get("mismatched")
    if mismatched:
        return f"{name} failed: {_plain(mismatched)}"
    return f"{name} failed, observed: {_plain(details.get('observed_value'))}"


def _columns_of(config: Any) -> str:
    kwargs = config.kwargs
    if kwargs.get("column"):
        return str(kwargs["column"])
    if kwargs.get("column_list"):
        return ", ".join(kwargs["column_list"])
    if kwargs.get("column_A"):
        return f"{kwargs['column_A']}, {kwargs['column_B']}"
    if kwargs.get("column_set"):
        return "table columns"
    return str((config.meta or {}).get("column", ""))


def _sample(values: Sequence[Any]) -> list[Any]:
    """Up to SAMPLE_SIZE distinct values, as plain Python (no Decimal(...) or datetime(...) noise)."""
    sample: list[Any] = []
    for value in values:
        plain = _plain(value)
        if plain not in sample:
            sample.append(plain)
        if len(sample) == SAMPLE_SIZE:
            break
    return sample


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if hasattr(value, "_asdict"):  # sqlalchemy Row
        return _plain(value._asdict())
    return value


def _failure_message(report: GateReport) -> str:
    failures = report.failures
    head = f"{report.gate} quality gate failed: {report.failed_expectations or len(failures)} failed expectation(s)"
    return "\n".join([head, *failures])


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
