"""The quality gates: run the committed GX checkpoints and record the verdicts.

``validate_raw_batches(pg, batch_ids)`` validates each batch on its own (parents first, every
verdict committed before the next batch is validated) with the suite of its source table:

* rows that break a row-local rule go to ``audit.quarantined_rows`` (the raw row, batch, rule,
  column, value and reason) and are excluded from staging; the rest of the batch is ``passed``;
* a structural problem (missing contract columns, a suite that cannot run) or more bad rows than
  allowed (``QuarantineSettings``: above 1 % of the batch and above 5 rows by default) holds the
  batch back whole: ``rejected`` with the reason;
* one batch's verdict never touches another's: a bad movement never holds back today's materials,
  a bad feed file never holds back the ERP.

The gate does not raise for bad data (that would starve the good data of the run): it returns a
report naming every quarantined row and held-back batch, and the run's final audit task fails the
run when batches were held back. It raises ``MissingBatches`` when a batch the extract reported is
not registered (the extract's commit was lost).

Extract and gate of the same sources are serialised by advisory locks, so a verdict covers exactly
the rows it validated. When a key comes again in a passed batch, its older quarantine records are
resolved (fixed, superseded by a newer quarantine record, or deleted by a tombstone).

``validate_marts(pg)`` validates ``marts.fct_reorder_points`` and the latest run of
``marts.forecast_values`` and raises ``QualityGateFailed`` on failure.

Failure messages name the suite, the batch, the rule, the column, how many rows failed and a
sample of bad values, e.g. ``suite raw_erp_stock_movements (batch erp.stock_movements|...): rule
'movement_type in (...)' (movement_type) failed on 2 of 10 rows, sample: ['theft', 'lost']``.
"""

from __future__ import annotations

import logging
import os
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
    MartTable,
)
from nova_corrente.settings import PostgresSettings

if TYPE_CHECKING:
    from great_expectations.core import ExpectationSuiteValidationResult, ExpectationValidationResult
    from great_expectations.data_context import FileDataContext

    from nova_corrente.contracts import TableContract

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
    #: raw gate: the verdict of each batch
    verdicts: list[BatchVerdict] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def success(self) -> bool:
        """Marts: every suite passed. Raw: no batch was held back (quarantined rows are allowed)."""
        if self.gate == "raw":
            return not self.held_back
        return all(result.success for result in self.suites)

    @property
    def held_back(self) -> list[BatchVerdict]:
        """Raw batches rejected whole (by this gate or, before it, by the extract)."""
        return [verdict for verdict in self.verdicts if verdict.status == "rejected"]

    @property
    def quarantined_rows(self) -> int:
        return sum(verdict.quarantined_rows for verdict in self.verdicts if verdict.status == "passed")

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
            "suites": [{**asdict(result), "seconds": round(result.seconds, 3)} for result in self.suites],
            "batches": [asdict(verdict) for verdict in self.verdicts],
            "held_back": [verdict.batch_id for verdict in self.held_back],
            "quarantined_rows": self.quarantined_rows,
        }

    def summary(self) -> str:
        """One line: counts and time."""
        if self.gate == "raw":
            passed = sum(verdict.status == "passed" for verdict in self.verdicts)
            return (
                f"raw gate: {len(self.verdicts)} batches, {passed} passed ({self.quarantined_rows} rows in quarantine),"
                f" {len(self.held_back)} held back whole; {self.evaluated_expectations} expectations evaluated,"
                f" {self.seconds:.1f}s"
            )
        state = "passed" if self.success else "FAILED"
        return (
            f"{self.gate} gate {state}: {len(self.suites)} suite runs, {self.evaluated_expectations} expectations, "
            f"{self.failed_expectations} failed, {self.seconds:.1f}s"
        )


# --------------------------------------------------------------------------------------------
# raw gate
# --------------------------------------------------------------------------------------------


class MissingBatches(RuntimeError):
    """Batches a run reported are not in ``audit.load_batches`` (their extract did not commit)."""


@dataclass(frozen=True)
class QuarantineSettings:
    """When bad rows hold a batch back whole (environment: ``NOVA_QUARANTINE_*``).

    A batch is held back whole when its bad rows are more than ``max_bad_share`` of its rows AND
    more than ``min_bad_rows``: the share catches systematic breakage (a unit change, a broken
    export), the floor keeps one typo in a small daily batch from starving the rest of it.
    """

    max_bad_share: float = 0.01
    min_bad_rows: int = 5

    @classmethod
    def from_env(cls) -> QuarantineSettings:
        share = float(os.environ.get("NOVA_QUARANTINE_MAX_BAD_SHARE", "0.01"))
        floor = int(os.environ.get("NOVA_QUARANTINE_MIN_BAD_ROWS", "5"))
        if not 0 <= share <= 1 or floor < 0:
            raise ValueError(f"NOVA_QUARANTINE_MAX_BAD_SHARE must be in [0, 1] and NOVA_QUARANTINE_MIN_BAD_ROWS"
                             f" >= 0 (got {share}, {floor})")
        return cls(share, floor)

    def holds_back(self, bad_rows: int, total_rows: int) -> bool:
        """True when ``bad_rows`` of ``total_rows`` is too many to let the rest of the batch through."""
        return bad_rows > self.min_bad_rows and bad_rows > self.max_bad_share * total_rows


@dataclass
class RuleFailure:
    """A row rule that failed on a batch: which rows (``_row_id``) and a sample of values."""

    rule: str
    column: str
    row_ids: list[int]
    sample: list[Any]


@dataclass
class BatchVerdict:
    """What the raw gate decided for one batch."""

    batch_id: str
    source: str
    status: str  # passed | rejected, or the status it already had when it was not 'loaded'
    row_count: int
    quarantined_rows: int = 0
    reason: str | None = None
    rules_failed: list[str] = field(default_factory=list)
    already: bool = False  # not 'loaded' when the gate came: judged before, or held back by the extract


def validate_raw_batches(
    pg: PostgresSettings, batch_ids: list[str], *, project_root: Path = PROJECT_ROOT,
    settings: QuarantineSettings | None = None,
) -> GateReport:
    """Validate each batch, quarantine its bad rows, and mark it passed or rejected (module doc).

    Runs as ``pg``'s component, or as the loader for the administrator's settings (it reads raw and
    writes the batches' status and quarantine in audit).
    """
    from nova_corrente.extract.connections import close_quietly, connect
    from nova_corrente.extract.raw_tables import extract_lock_key

    pg = pg.component_or("loader")
    settings = settings or QuarantineSettings.from_env()
    started = time.perf_counter()
    ids = list(dict.fromkeys(batch_ids))
    report = GateReport(gate="raw")
    if not ids:
        return report
    batches = _load_batches(pg, ids)
    lock_conn = connect(pg, "warehouse")
    lock_conn.autocommit = True
    try:
        with lock_conn.cursor() as cur:
            for source in sorted({batch[0] for batch in batches.values()}):
                cur.execute("select pg_advisory_lock(%s)", (extract_lock_key(source),))
        batches = _load_batches(pg, ids)  # as they are now that no extract can change them
        context = open_context(project_root, pg)
        try:
            for batch_id in sorted(ids, key=lambda batch: _gate_order(batches[batch][0])):
                verdict, result = _judge_batch(context, pg, batch_id, batches[batch_id], settings)
                report.verdicts.append(verdict)
                if result is not None:
                    report.suites.append(result)
        finally:
            close_connections(context)
    finally:
        close_quietly(lock_conn)  # releases the advisory locks
    report.seconds = time.perf_counter() - started
    for verdict in report.verdicts:
        if verdict.status == "rejected" and not verdict.already:
            log.error("raw gate: batch %s HELD BACK whole: %s", verdict.batch_id, verdict.reason)
        elif verdict.quarantined_rows:
            log.warning("raw gate: batch %s passed (%d rows) with %d bad rows in quarantine: %s", verdict.batch_id,
                        verdict.row_count, verdict.quarantined_rows, "; ".join(verdict.rules_failed))
    log.info(report.summary())
    return report


def _gate_order(source: str) -> tuple[int, str]:
    """ERP tables parents first (the contract's order), then the feed files."""
    from nova_corrente.contracts.erp import TABLE_NAMES

    table = source.removeprefix("erp.")
    if source.startswith("erp.") and table in TABLE_NAMES:
        return TABLE_NAMES.index(table), source
    return len(TABLE_NAMES), source


def _load_batches(pg: PostgresSettings, batch_ids: Sequence[str]) -> dict[str, tuple[str, int, str, str | None]]:
    """(source, row_count, status, failure_reason) of each batch; ``MissingBatches`` names unknown ids."""
    from nova_corrente.extract.connections import close_quietly, connect

    conn = connect(pg, "warehouse")
    try:
        with conn.cursor() as cur:
            cur.execute(
                "select batch_id, source, row_count, status, failure_reason from audit.load_batches"
                " where batch_id = any(%s)",
                (list(batch_ids),),
            )
            found = {row[0]: (row[1], int(row[2]), row[3], row[4]) for row in cur.fetchall()}
    finally:
        close_quietly(conn)
    missing = [batch_id for batch_id in batch_ids if batch_id not in found]
    if missing:
        raise MissingBatches(
            f"the extract reported batches that audit.load_batches does not hold: {', '.join(missing)}. Their"
            " extract did not commit (e.g. the database crashed or was restored); nothing was validated."
            " Clear extract_load of this run to extract the interval again."
        )
    return found


def _judge_batch(
    context: FileDataContext, pg: PostgresSettings, batch_id: str, batch: tuple[str, int, str, str | None],
    settings: QuarantineSettings,
) -> tuple[BatchVerdict, SuiteResult | None]:
    from nova_corrente.contracts import contract_for_source
    from nova_corrente.quality.suites import raw_suite_name

    source, row_count, status, reason = batch
    if status != "loaded":
        return BatchVerdict(batch_id, source, status, row_count, reason=reason, already=True), None
    contract = contract_for_source(source)
    if contract is None:
        verdict = BatchVerdict(batch_id, source, "rejected", row_count,
                               reason=f"held back whole: no contract (and no suite) for source {source}")
        _record(pg, verdict, None, [])
        return verdict, None
    suite = raw_suite_name(contract)
    result, failures, structural = _run_raw_checkpoint(context, pg, suite, contract, batch_id, row_count)
    parse_failures = _parse_failures(pg, batch_id)
    bad_rows = len({row_id for failure in failures for row_id in failure.row_ids}) + parse_failures
    total = row_count + parse_failures
    verdict = BatchVerdict(batch_id, source, "passed", row_count, quarantined_rows=bad_rows,
                           rules_failed=[_describe(failure, total) for failure in failures])
    if parse_failures:
        verdict.rules_failed.insert(0, f"{parse_failures} unparsable row(s) quarantined by the loader")
    if structural:
        verdict.status = "rejected"
        verdict.reason = "held back whole, structural problem: " + "; ".join(structural)
    elif settings.holds_back(bad_rows, total):
        verdict.status = "rejected"
        verdict.reason = (
            f"held back whole: {bad_rows} of {total} rows ({bad_rows / total:.1%}) broke row rules, more than "
            f"{settings.max_bad_share:.1%} and more than {settings.min_bad_rows} rows: "
            + "; ".join(verdict.rules_failed)
        )
    elif bad_rows:
        verdict.reason = f"passed with {bad_rows} row(s) in quarantine: " + "; ".join(verdict.rules_failed)
    _record(pg, verdict, contract, failures)
    return verdict, result


def _describe(failure: RuleFailure, total: int) -> str:
    return (f"rule '{failure.rule}' ({failure.column}) failed on {len(failure.row_ids)} of {total} rows,"
            f" sample: {failure.sample}")


def _run_raw_checkpoint(
    context: FileDataContext, pg: PostgresSettings, suite: str, contract: TableContract, batch_id: str,
    row_count: int,
) -> tuple[SuiteResult, list[RuleFailure], list[str]]:
    """Run the suite on one batch: (result, row-rule failures with every bad row id, structural problems)."""
    if row_count == 0:
        return SuiteResult(suite, batch_id, True, 0, 0, 0.0, row_count=0), [], []
    prefix = f"suite {suite} (batch {batch_id})"
    result, validation = _run_checkpoint(
        context, suite, label=f"batch {batch_id}", batch=batch_id, batch_parameters={BATCH_COLUMN: batch_id},
        expected_rows=row_count, where=f"raw.{contract.raw_table}",
    )
    if validation is None:  # the suite could not run: structural
        return result, [], list(result.failures)
    failures: list[RuleFailure] = []
    structural: list[str] = []
    messages: list[str] = []
    batch_rows = f'(select * from raw."{contract.raw_table}" where _batch_id = %(batch)s)'
    for expectation in validation.results:
        if expectation.success:
            continue
        config = expectation.expectation_config
        meta = config.meta or {}
        if meta.get("kind") != "row" or (expectation.exception_info or {}).get("raised_exception"):
            problem = f"{prefix}: {describe_failure(expectation, row_count)}"
            structural.append(problem)
            messages.append(problem)
            continue
        rows = _fetch_bad_rows(pg, config.kwargs["unexpected_rows_query"].replace("{batch}", batch_rows), batch_id)
        failure = RuleFailure(meta.get("rule") or config.description or config.type, meta.get("column", ""),
                              [row[0] for row in rows], _sample([row[-1] for row in rows]))
        failures.append(failure)
        messages.append(f"{prefix}: {_describe(failure, row_count)}")
    result.failures = messages
    result.row_count = row_count
    return result, failures, structural


def _fetch_bad_rows(pg: PostgresSettings, query: str, batch_id: str) -> list[tuple[Any, ...]]:
    """Every row a rule's query returns for the batch (GX returns at most 200)."""
    from nova_corrente.extract.connections import close_quietly, connect

    conn = connect(pg, "warehouse")
    try:
        with conn.cursor() as cur:
            cur.execute(query, {"batch": batch_id})
            return cur.fetchall()
    finally:
        close_quietly(conn)


def _parse_failures(pg: PostgresSettings, batch_id: str) -> int:
    """Rows the loader could not store (unparsable), already quarantined with ``raw_row_id`` null."""
    from nova_corrente.extract.connections import close_quietly, connect

    conn = connect(pg, "warehouse")
    try:
        with conn.cursor() as cur:
            cur.execute("select count(*) from audit.quarantined_rows where batch_id = %s and raw_row_id is null",
                        (batch_id,))
            return int(cur.fetchone()[0])
    finally:
        close_quietly(conn)


def _record(pg: PostgresSettings, verdict: BatchVerdict, contract: TableContract | None,
            failures: list[RuleFailure]) -> None:
    """Quarantine records, the verdict and the resolution of older records, in one transaction."""
    from nova_corrente.extract.connections import close_quietly, connect
    from nova_corrente.extract.warehouse_setup import set_batch_status

    conn = connect(pg, "warehouse")
    try:
        with conn.cursor() as cur:
            if contract is not None:
                for failure in failures:
                    _quarantine(cur, contract, verdict, failure)
                cur.execute("update audit.load_batches set quarantined_rows = %s where batch_id = %s",
                            (verdict.quarantined_rows, verdict.batch_id))
                if verdict.status == "passed":
                    _resolve_older_records(cur, contract, verdict.batch_id)
        set_batch_status(conn, [verdict.batch_id], verdict.status,  # type: ignore[arg-type]
                         _cut(verdict.reason, MAX_REASON_CHARS) if verdict.reason else None)
        conn.commit()  # durable: the server commits synchronously
    finally:
        close_quietly(conn)


def _key_object(contract: TableContract, alias: str) -> str:
    return "jsonb_build_object(" + ", ".join(f"'{name}', {alias}.\"{name}\"" for name in contract.key) + ")"


def _quarantine(cur: Any, contract: TableContract, verdict: BatchVerdict, failure: RuleFailure) -> None:
    """One ``audit.quarantined_rows`` record per bad row of ``failure``: raw row, key, rule, value, reason."""
    columns = [name.strip() for name in failure.column.split(",") if name.strip()]
    if len(columns) == 1:
        value = f'r."{columns[0]}"::text'
    else:
        value = "concat_ws(', ', " + ", ".join(f'r."{name}"::text' for name in columns) + ")" if columns else "null"
    key = _key_object(contract, "r")
    cur.execute(
        f"""
        insert into audit.quarantined_rows
            (batch_id, source, raw_table, raw_row_id, row_key, rule, column_name, value, reason, raw_row)
        select %(batch)s, %(source)s, %(raw_table)s, r._row_id, {key}, %(rule)s, %(column)s, {value},
               %(raw_table)s || ' row ' || {key}::text || ' of batch ' || %(batch)s || ': ' || %(column)s
                 || ' = ' || coalesce({value}, 'NULL') || ' breaks the rule ' || %(rule)s,
               to_jsonb(r) - '_batch_id' - '_source' - '_loaded_at' - '_row_id' - '_row_hash' - '_change'
        from raw."{contract.raw_table}" as r
        where r._row_id = any(%(ids)s)
        """,
        {"batch": verdict.batch_id, "source": verdict.source, "raw_table": f"raw.{contract.raw_table}",
         "rule": failure.rule, "column": failure.column, "ids": failure.row_ids},
    )


def _resolve_older_records(cur: Any, contract: TableContract, batch_id: str) -> None:
    """Older open quarantine records of keys this passed batch carries again are resolved.

    A key that comes again is fixed (its new version passed), superseded (quarantined again: the
    new record is the open one) or deleted (a tombstone).
    """
    cur.execute(
        f"""
        update audit.quarantined_rows as older
           set resolved_at = now(), resolved_by_batch = %(batch)s
          from raw."{contract.raw_table}" as r
         where r._batch_id = %(batch)s and older.raw_table = %(raw_table)s and older.batch_id <> %(batch)s
           and older.resolved_at is null and older.row_key = {_key_object(contract, "r")}
        """,
        {"batch": batch_id, "raw_table": f"raw.{contract.raw_table}"},
    )


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
        return _run_checkpoint(context, mart.suite_name, label=where, batch=where, batch_parameters=None,
                               where=where)[0]
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
    )[0]


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
) -> tuple[SuiteResult, ExpectationSuiteValidationResult | None]:
    """Run the checkpoint named like ``suite`` on one batch; errors become failures, not crashes.

    Returns the summary and GX's result (None when the suite could not run)."""
    from great_expectations.exceptions.exceptions import NoAvailableBatchesError

    started = time.perf_counter()
    prefix = f"suite {suite} ({label})"
    try:
        checkpoint = context.checkpoints.get(suite)
        result = checkpoint.run(batch_parameters=batch_parameters)
    except NoAvailableBatchesError:
        seconds = time.perf_counter() - started
        if expected_rows == 0:  # an interval without changes: nothing to validate
            return SuiteResult(suite, batch, True, 0, 0, seconds, row_count=0), None
        detail = f"audit.load_batches records {expected_rows} rows" if expected_rows else "expected rows"
        return SuiteResult(suite, batch, False, 0, 0, seconds, row_count=0,
                           failures=[f"{prefix}: {detail} but {where} has none for it"]), None
    except Exception as exc:  # a missing table or column, a broken connection: the gate fails loudly
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return SuiteResult(suite, batch, False, 0, 0, time.perf_counter() - started,
                           failures=[f"{prefix}: could not be validated: {type(exc).__name__}: {first_line}"]), None
    suite_result = next(iter(result.run_results.values()))
    return _summarise(suite_result, suite, batch, prefix, time.perf_counter() - started), suite_result


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
