"""The quality history the data-quality page, the run report and the alerts read.

* batches: ``audit.load_batches`` (every load into ``raw``, its status and, when rejected, why);
* quarantined rows: ``audit.quarantined_rows`` and reconciliation checks:
  ``audit.reconciliation_results``, when those tables exist (row-level quarantine, issue 7);
  absent tables read as empty;
* validations: the Great Expectations validation results the gates store under
  ``expectations/gx/uncommitted/validations/<suite>/<run_name>/<run_time>/<batch>.json`` (the
  ``TupleFilesystemStoreBackend`` layout), read as JSON: importing GX costs seconds and hundreds of
  MB, too much for a page in the Airflow API server;
* retention: ``prune_validation_results`` deletes results older than ``NOVA_GX_RESULTS_RETENTION_DAYS``
  (default 30) but always keeps each suite's latest run.

A judged batch's ``failure_reason`` (``nova_corrente.quality.gates``) is a verdict followed by the
failures it rests on, joined by ``"; "``: ``held back whole: 7 of 20 rows (35.0%) broke row rules, ...:
rule 'movement_type in (...)' (movement_type) failed on 7 of 20 rows, sample: ['theft']``, or a
structural problem ``suite <suite> (batch <batch>): <expectation>(<columns>) failed ...``;
``parse_reason`` splits it back into the verdict and one ``Failure`` per rule or expectation.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from nova_corrente.quality.context import PROJECT_ROOT
from nova_corrente.settings import PostgresSettings

log = logging.getLogger(__name__)

VALIDATIONS_DIR = PROJECT_ROOT / "gx" / "uncommitted" / "validations"
RETENTION_VARIABLE = "NOVA_GX_RESULTS_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 30
_RUN_TIME_FORMAT = "%Y%m%dT%H%M%S.%fZ"
_SUITE_FAILURE = re.compile(r"^suite (?P<suite>\S+) \((?P<batch>[^)]*)\): (?P<expectation>[a-z_]+)(?P<detail>.*)$", re.S)
_RULE_FAILURE = re.compile(r"^rule '(?P<rule>.*?)' (?P<detail>\(.*)$", re.S)
_SAMPLE = re.compile(r", sample: (?P<sample>.*)$", re.S)
# where the failures begin in a reason, and where one ends and the next begins
_FIRST_FAILURE = re.compile(r"(?:^|: )(?=rule '|suite \S+ \(|\d+ unparsable row)")
_NEXT_FAILURE = re.compile(r"; (?=rule '|suite \S+ \(|\d+ unparsable row)")


@dataclass(frozen=True)
class Failure:
    """One failed rule or expectation, as the gate described it."""

    text: str
    suite: str | None = None
    expectation: str | None = None  # the expectation type, or the rule for a row rule
    detail: str = ""
    sample: str | None = None


def parse_failure(text: str, suite: str | None = None) -> Failure:
    """Split one failure into suite, expectation (or rule), detail and sample (best effort).

    ``suite`` is the suite of the batch's source, for the row-rule form which does not name it.
    """
    text = text.strip()
    match = _SUITE_FAILURE.match(text)
    if match:
        suite, expectation, detail = match["suite"], match["expectation"], match["detail"]
    elif (match := _RULE_FAILURE.match(text)):
        expectation, detail = f"rule '{match['rule']}'", " " + match["detail"]
    else:
        return Failure(text=text, detail=text)
    detail = detail.rstrip()  # "(column) failed on ..." or " 'description' (column) failed on ..."
    sample_match = _SAMPLE.search(detail)
    sample = sample_match["sample"] if sample_match else None
    if sample_match:
        detail = detail[: sample_match.start()]
    return Failure(text=text, suite=suite, expectation=expectation, detail=detail, sample=sample)


def parse_reason(reason: str | None, suite: str | None = None) -> tuple[str, list[Failure]]:
    """(verdict, failures) of a ``failure_reason``; a reason without failures is all verdict."""
    if not reason:
        return "", []
    start = _FIRST_FAILURE.search(reason)
    if start is None:
        return reason.strip(), []
    verdict = reason[: start.start()].strip()
    parts = _NEXT_FAILURE.split(reason[start.end():])
    return verdict, [parse_failure(part, suite) for part in parts if part.strip()]


def suite_of(source: str) -> str | None:
    """The raw suite that validates a source (``raw_<raw table>``), when the source has a contract."""
    try:
        from nova_corrente.contracts import contract_for_source
        from nova_corrente.quality.suites import raw_suite_name
    except ImportError:  # a platform without contracts: the reasons name their suites themselves
        return None
    contract = contract_for_source(source)
    return raw_suite_name(contract) if contract is not None else None


@dataclass(frozen=True)
class Batch:
    """One row of ``audit.load_batches``."""

    batch_id: str
    source: str
    interval_start: datetime | None
    interval_end: datetime | None
    row_count: int
    status: str
    loaded_at: datetime
    validated_at: datetime | None
    failure_reason: str | None

    @property
    def verdict(self) -> str:
        """The gate's verdict without the failures, e.g. ``held back whole: 7 of 20 rows (35.0%) broke row rules ...``."""
        return parse_reason(self.failure_reason)[0]

    @property
    def failures(self) -> list[Failure]:
        """The failed rules and expectations the verdict rests on."""
        return parse_reason(self.failure_reason, suite_of(self.source))[1]


_BATCH_COLUMNS = (
    "batch_id, source, interval_start, interval_end, row_count, status, loaded_at, validated_at, failure_reason"
)


def table_exists(cur, table: str) -> bool:
    """True when ``table`` (``schema.name``) exists and this login may see it."""
    cur.execute("select to_regclass(%s) is not null", (table,))
    return bool(cur.fetchone()[0])


def _rows(pg: PostgresSettings, table: str, sql: str, params: Any = None) -> list[tuple]:
    """The rows of ``sql`` on ``table``, read with the quality history's login (``operations.ROLES``);
    [] while ``table`` does not exist (before the first load)."""
    from nova_corrente.extract.connections import close_quietly
    from nova_corrente.operations import connect_warehouse

    conn = connect_warehouse(pg, "quality_history")
    try:
        with conn.cursor() as cur:
            if not table_exists(cur, table):
                return []
            cur.execute(sql, params)
            return cur.fetchall()
    finally:
        close_quietly(conn)


def batch_history(pg: PostgresSettings, *, limit: int = 200, status: str | None = None) -> list[Batch]:
    """The newest ``limit`` batches (optionally of one status), newest first; [] before the first load."""
    rows = _rows(
        pg, "audit.load_batches",
        f"select {_BATCH_COLUMNS} from audit.load_batches where (%(status)s::text is null or status = %(status)s) "
        "order by loaded_at desc, batch_id limit %(limit)s",
        {"status": status, "limit": limit},
    )
    return [Batch(*row) for row in rows]


def batches(pg: PostgresSettings, batch_ids: Sequence[str]) -> list[Batch]:
    """The given batches (unknown ids are left out), in the order given."""
    if not batch_ids:
        return []
    rows = _rows(pg, "audit.load_batches", f"select {_BATCH_COLUMNS} from audit.load_batches where batch_id = any(%s)",
                 (list(batch_ids),))
    found = {row[0]: Batch(*row) for row in rows}
    return [found[batch_id] for batch_id in batch_ids if batch_id in found]


@dataclass(frozen=True)
class QuarantineGroup:
    """Rows of one batch quarantined by one rule on one column."""

    batch_id: str
    source: str
    rule: str
    column_name: str | None
    rows: int
    sample_values: list[str]
    reason: str
    last_quarantined_at: datetime


def quarantined(pg: PostgresSettings, *, batch_ids: Sequence[str] | None = None, limit: int = 100) -> list[QuarantineGroup]:
    """``audit.quarantined_rows`` grouped by batch, rule and column (newest first); [] without the table."""
    rows = _rows(
        pg, "audit.quarantined_rows",
        """
        select batch_id, source, rule, column_name, count(*),
               (array_agg(distinct coalesce(value, 'NULL')))[1:5],
               min(reason), max(quarantined_at)
        from audit.quarantined_rows
        where %(ids)s::text[] is null or batch_id = any(%(ids)s)
        group by batch_id, source, rule, column_name
        order by max(quarantined_at) desc, batch_id, rule, column_name
        limit %(limit)s
        """,
        {"ids": list(batch_ids) if batch_ids is not None else None, "limit": limit},
    )
    return [QuarantineGroup(*row) for row in rows]


@dataclass(frozen=True)
class Reconciliation:
    """The latest result of one reconciliation check (``audit.reconciliation_results``)."""

    checked_at: datetime
    interval_end: datetime | None
    table_name: str
    check_name: str
    erp_value: float | None
    warehouse_value: float | None
    quarantined_value: float | None
    difference: float | None
    status: str
    detail: str | None


def latest_reconciliations(pg: PostgresSettings) -> list[Reconciliation]:
    """The newest result of every (table, check); [] without the table."""
    rows = _rows(
        pg, "audit.reconciliation_results",
        """
        select distinct on (table_name, check_name)
               checked_at, interval_end, table_name, check_name, erp_value, warehouse_value,
               quarantined_value, difference, status, detail
        from audit.reconciliation_results
        order by table_name, check_name, checked_at desc
        """,
    )
    return [Reconciliation(*row) for row in rows]


# --------------------------------------------------------------------------------------------
# Great Expectations validation results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Validation:
    """One stored validation result of a suite on one batch."""

    suite: str
    batch: str
    run_time: datetime
    success: bool
    evaluated_expectations: int
    failed_expectations: int
    failures: list[str] = field(default_factory=list)
    path: Path | None = None


def _run_time(name: str) -> datetime | None:
    try:
        return datetime.strptime(name, _RUN_TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def _run_dirs(validations_dir: Path) -> dict[str, list[tuple[datetime, Path]]]:
    """suite -> [(run_time, <suite>/<run_name>/<run_time> folder)], newest first."""
    runs: dict[str, list[tuple[datetime, Path]]] = {}
    if not validations_dir.is_dir():
        return runs
    for suite_dir in sorted(p for p in validations_dir.iterdir() if p.is_dir()):
        for run_name_dir in (p for p in suite_dir.iterdir() if p.is_dir()):
            for run_dir in (p for p in run_name_dir.iterdir() if p.is_dir()):
                when = _run_time(run_dir.name)
                if when is not None:
                    runs.setdefault(suite_dir.name, []).append((when, run_dir))
    for items in runs.values():
        items.sort(key=lambda item: item[0], reverse=True)
    return runs


def _as_result(result: dict[str, Any]) -> SimpleNamespace:
    """A stored result (JSON) shaped like GX's ExpectationValidationResult, for ``describe_failure``."""
    config = result.get("expectation_config") or {}
    return SimpleNamespace(
        expectation_config=SimpleNamespace(
            type=config.get("type", "?"), kwargs=config.get("kwargs") or {},
            description=config.get("description"), meta=config.get("meta") or {},
        ),
        exception_info=result.get("exception_info") or {},
        result=result.get("result") or {},
        success=bool(result.get("success")),
    )


def read_validation(path: Path, suite: str, run_time: datetime) -> Validation:
    """Summarise one stored validation result file (the gate's wording for each failure)."""
    from nova_corrente.quality.gates import describe_failure

    data = json.loads(path.read_text())
    statistics = data.get("statistics") or {}
    identifiers = ((data.get("meta") or {}).get("active_batch_definition") or {}).get("batch_identifiers") or {}
    batch = ", ".join(str(value) for value in identifiers.values()) or path.stem
    results = data.get("results") or []
    rows = next((r.get("result", {}).get("element_count") for r in results
                 if isinstance((r.get("result") or {}).get("element_count"), int)), None)
    failures = [describe_failure(_as_result(result), rows) for result in results if not result.get("success")]
    return Validation(
        suite=suite, batch=batch, run_time=run_time, success=bool(data.get("success")),
        evaluated_expectations=int(statistics.get("evaluated_expectations", len(results))),
        failed_expectations=int(statistics.get("unsuccessful_expectations", len(failures))),
        failures=failures, path=path,
    )


def latest_validations(validations_dir: Path = VALIDATIONS_DIR) -> list[Validation]:
    """The latest validation run of every suite (one entry per batch of that run), by suite."""
    latest: list[Validation] = []
    for suite, runs in _run_dirs(validations_dir).items():
        run_time, run_dir = runs[0]
        for path in sorted(run_dir.glob("*.json")):
            try:
                latest.append(read_validation(path, suite, run_time))
            except (OSError, ValueError) as exc:  # a half-written or foreign file: say so, show the rest
                log.warning("cannot read validation result %s: %s", path, exc)
    return latest


def retention_days(env: dict[str, str] | None = None) -> int:
    """``$NOVA_GX_RESULTS_RETENTION_DAYS`` (default 30); a clear error for a bad value."""
    from nova_corrente.settings import positive_int_setting

    return positive_int_setting(RETENTION_VARIABLE, DEFAULT_RETENTION_DAYS, "day", env)


@dataclass(frozen=True)
class PruneResult:
    deleted_runs: int
    kept_runs: int
    cutoff: datetime


def prune_validation_results(
    validations_dir: Path = VALIDATIONS_DIR, *, days: int | None = None, now: datetime | None = None
) -> PruneResult:
    """Delete validation runs older than ``days`` (default: the configured retention).

    Each suite's newest run is always kept, so the page can show the latest validation of every
    suite however old it is. Empty run-name folders are removed too.
    """
    days = retention_days() if days is None else days
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    deleted = kept = 0
    for runs in _run_dirs(validations_dir).values():
        for index, (run_time, run_dir) in enumerate(runs):
            if index > 0 and run_time < cutoff:
                shutil.rmtree(run_dir, ignore_errors=True)
                deleted += 1
                parent = run_dir.parent
                if parent.is_dir() and not any(parent.iterdir()):
                    parent.rmdir()
            else:
                kept += 1
    log.info("GX validation results: deleted %d runs older than %s (%d days), kept %d", deleted,
             cutoff.isoformat(timespec="seconds"), days, kept)
    return PruneResult(deleted_runs=deleted, kept_runs=kept, cutoff=cutoff)
