"""Run ``dbt build`` once and split its outcome per model: one report per Airflow task.

dbt runs in-process (``dbtRunner``), with its usual output on stdout (the build task's log). A
callback files every log line that belongs to a node under that node; after the build each
selected model, seed and snapshot gets a :class:`NodeReport`: its own status, the status of the
tests that report on it (:mod:`nova_corrente.transform.graph`) and its log lines, so its Airflow
task can show exactly what dbt did for it and fail when dbt failed it.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nova_corrente.transform.graph import DbtSelection

log = logging.getLogger(__name__)

OK_STATUSES = frozenset({"success", "pass", "warn"})  # models/seeds/snapshots succeed; tests pass or warn
NOT_FAILED = OK_STATUSES | {"no-op"}  # exposures are listed by dbt build as no-ops


@dataclass
class NodeReport:
    """What one ``dbt build`` did for one model/seed/snapshot and the tests that report on it."""

    unique_id: str
    name: str
    status: str | None  # None: dbt did not run the node
    message: str | None = None
    seconds: float = 0.0
    tests: list[dict[str, Any]] = field(default_factory=list)  # {"name", "status", "message"}
    lines: list[str] = field(default_factory=list)
    attempt: int = 0  # try number of the Airflow task that ran the build

    @property
    def ok(self) -> bool:
        return self.status in OK_STATUSES and all(test["status"] in OK_STATUSES for test in self.tests)

    def failure(self) -> str | None:
        """Why the node's task fails, in one line (None when it succeeds)."""
        if self.status is None:
            return f"dbt build did not run {self.name}"
        if self.status == "skipped":
            return f"dbt skipped {self.name}: a node it depends on (or one of its tests) failed earlier in the build"
        if self.status not in OK_STATUSES:
            return f"{self.name} {self.status}: {self.message or 'see the dbt log lines above'}"
        failed = [test for test in self.tests if test["status"] not in OK_STATUSES]
        if failed:
            details = "; ".join(f"{test['name']} {test['status']}: {test['message']}" for test in failed)
            return f"{len(failed)} test(s) of {self.name} failed, so nothing downstream of it runs: {details}"
        return None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> NodeReport:
        return cls(**value)


@dataclass
class BuildOutcome:
    """The build as a whole: did dbt run to the end, and the reports of the selected nodes."""

    completed: bool  # dbt ran the selection to the end (node failures included)
    error: str | None  # why dbt could not run (compilation, connection...), when it could not
    reports: dict[str, NodeReport]
    unreported_failures: list[str]  # failed results no selected node reports (should be none)
    seconds: float



def split_results(selection: DbtSelection, results: Iterable[Mapping[str, Any]],
                  lines: Mapping[str, list[str]], attempt: int = 0) -> tuple[dict[str, NodeReport], list[str]]:
    """Reports per selected node from dbt's results (``unique_id``, ``name``, ``status``, ``message``,
    ``seconds``) and log lines per unique_id; returns them and the failed results nobody reports."""
    by_uid = {result["unique_id"]: result for result in results}
    reports: dict[str, NodeReport] = {}
    for node in selection.nodes:
        result = by_uid.get(node.unique_id, {})
        report = NodeReport(node.unique_id, node.name, result.get("status"), result.get("message"),
                            float(result.get("seconds") or 0.0), lines=list(lines.get(node.unique_id, [])),
                            attempt=attempt)
        for test_uid in selection.tests_of(node.unique_id):
            test = by_uid.get(test_uid)
            if test is None:  # not run by this build (e.g. deselected by dbt's indirect selection)
                continue
            report.tests.append({"name": test["name"], "status": test["status"], "message": test.get("message")})
            report.lines.extend(lines.get(test_uid, []))
        reports[node.unique_id] = report
    reported = {node.unique_id for node in selection.nodes} | set(selection.reported_on)
    unreported = sorted(f"{result['name']} {result['status']}: {result.get('message')}"
                        for uid, result in by_uid.items()
                        if uid not in reported and result["status"] not in NOT_FAILED)
    return reports, unreported


def run_build(project_dir: Path, selection: DbtSelection, *, attempt: int = 0,
              dbt_args: Iterable[str] = ()) -> BuildOutcome:
    """``dbt build`` of ``selection`` in ``project_dir`` (profile from ``DBT_PROFILES_DIR``).

    Artifacts go to a temporary target folder (seeded with the project's partial-parse file, so
    dbt does not re-parse an unchanged project), never into ``target/``, whose manifest the DAG
    file reads while this runs.
    """
    from dbt.cli.main import dbtRunner

    lines: dict[str, list[str]] = defaultdict(list)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="nova-dbt-") as tmp:
        target = Path(tmp) / "target"
        target.mkdir()
        partial_parse = project_dir / "target" / "partial_parse.msgpack"
        if partial_parse.exists():
            shutil.copy2(partial_parse, target / "partial_parse.msgpack")
        args = ["--no-use-colors", "build", *selection.dbt_args(), *dbt_args, "--project-dir", str(project_dir),
                "--target-path", str(target), "--log-path", str(Path(tmp) / "logs")]
        log.info("dbt %s", " ".join(args))
        result = dbtRunner(callbacks=[_line_collector(lines)]).invoke(args)
    seconds = time.perf_counter() - started
    run_results = getattr(result.result, "results", None)
    if run_results is None:  # dbt stopped before running nodes (parse/compile/connection error)
        error = str(result.exception or "dbt build failed before running any node")
        reports, _ = split_results(selection, [], lines, attempt)
        return BuildOutcome(False, error, reports, [], seconds)
    rows = [{"unique_id": r.node.unique_id, "name": r.node.name, "status": str(getattr(r.status, "value", r.status)),
             "message": r.message, "seconds": r.execution_time} for r in run_results]
    reports, unreported = split_results(selection, rows, lines, attempt)
    error = None if result.exception is None else str(result.exception)
    return BuildOutcome(error is None, error, reports, unreported, seconds)


def _line_collector(lines: dict[str, list[str]]) -> Callable[[Any], None]:
    """A dbt event callback that files each node's human-readable log lines under its unique_id."""

    def collect(event: Any) -> None:
        info = event.info
        if info.level == "debug" or not info.msg:
            return
        node_info = getattr(event.data, "node_info", None)
        unique_id = getattr(node_info, "unique_id", "") if node_info is not None else ""
        if unique_id:
            lines[unique_id].append(f"{info.ts.ToDatetime():%H:%M:%S}  {info.msg}")

    return collect
