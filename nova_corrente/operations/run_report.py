"""The run report: one short Markdown page per DAG run, what an on-call engineer reads first.

Built at the end of each run (the DAG's ``run_report`` teardown task, which runs whatever failed)
from the warehouse and the run's task states: rows loaded per source, batches passed/rejected and
why (plus quarantined rows and reconciliation checks when those tables exist), dbt models and tests
run and failed, forecast models chosen per demand class, the top reorders and links to plots, docs
and the data-quality page. Written to ``$NOVA_HOME/reports/<run>.md`` (and ``latest.md``) and
attached to the DAG run as its note (``plugins/nova_operations.py``); ``nova summary`` prints the
latest.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nova_corrente.operations import quality_history
from nova_corrente.operations.outputs import write_replacing
from nova_corrente.settings import PostgresSettings, nova_home

log = logging.getLogger(__name__)

#: the URL paths of the UI pages the report links to (the platform's plugin serves them)
DBT_DOCS_PATH = "nova/dbt_docs/index.html"
QUALITY_PAGE_PATH = "nova/quality/"
TOP_REORDERS = 10
#: Airflow's DAG-run note holds at most this many characters
NOTE_MAX_CHARS = 1000
#: how the notes this module writes begin (a note a person wrote is never overwritten)
NOTE_PREFIX = "Run report:"


def reports_dir() -> Path:
    """``$NOVA_HOME/reports``."""
    return nova_home() / "reports"


@dataclass(frozen=True)
class Reorder:
    material_id: str
    material_name: str
    site_id: str
    city: str
    quantity_on_hand: float
    quantity_on_order: float
    reorder_point: float
    suggested_order_quantity: float
    service_level: float
    days_of_cover: float | None


TOP_REORDERS_SQL = """
select rp.material_id, item.material_name, rp.site_id, site.city,
       rp.quantity_on_hand::float8, rp.quantity_on_order::float8, rp.reorder_point::float8,
       rp.suggested_order_quantity::float8, rp.service_level::float8,
       (rp.quantity_on_hand / nullif(rp.avg_daily_demand, 0))::float8 as days_of_cover
from marts.fct_reorder_points as rp
join marts.dim_item as item on item.material_id = rp.material_id
join marts.dim_site as site on site.site_id = rp.site_id
where rp.suggested_order_quantity > 0
order by days_of_cover nulls last, rp.service_level desc, rp.material_id, rp.site_id
limit %s
"""


def top_reorders(cur: Any, limit: int = TOP_REORDERS) -> list[Reorder]:
    """The most urgent reorders (least days of cover first) from ``marts.fct_reorder_points``."""
    cur.execute(TOP_REORDERS_SQL, (limit,))
    return [Reorder(*row) for row in cur.fetchall()]


@dataclass
class DbtOutcome:
    """Tasks of the dbt groups by state: the group's ``dbt build`` and one task per model, seed and
    snapshot (which fails when the node or one of its tests failed)."""

    models: Counter = field(default_factory=Counter)
    builds: Counter = field(default_factory=Counter)
    failed: list[str] = field(default_factory=list)


def dbt_outcome(task_states: Mapping[str, str | None], groups: Sequence[str]) -> DbtOutcome:
    """Classify the tasks of the dbt task groups: ``<group>.dbt_build`` and ``<group>.<node>``."""
    from nova_corrente.transform import BUILD_TASK_ID

    outcome = DbtOutcome()
    for task_id, state in sorted(task_states.items()):
        group, _, node = task_id.partition(".")
        if group not in groups or not node:
            continue
        state = state or "not run"
        (outcome.builds if node == BUILD_TASK_ID else outcome.models)[state] += 1
        if state in {"failed", "upstream_failed"}:
            outcome.failed.append(f"{task_id} ({state})")
    return outcome


@dataclass
class RunReport:
    """Everything the Markdown shows (also kept as JSON-able data for tests)."""

    dag_id: str
    run_id: str
    interval_start: datetime | None
    interval_end: datetime | None
    outcome: str
    failed_tasks: list[str]
    not_run_tasks: int
    batches: list[quality_history.Batch]
    quarantined: list[quality_history.QuarantineGroup]
    reconciliations: list[quality_history.Reconciliation]
    dbt: DbtOutcome
    forecast_run: str | None
    forecast_models: list[tuple[str, str, int]]
    top_reorders: list[Reorder]
    critical_alerts: int
    plots_dir: Path | None
    ui_base_url: str | None
    generated_at: datetime


def collect(
    pg: PostgresSettings,
    *,
    dag_id: str,
    run_id: str,
    interval_start: datetime | None,
    interval_end: datetime | None,
    task_states: Mapping[str, str | None],
    batch_ids: Sequence[str] | None,
    dbt_groups: Sequence[str],
    ui_base_url: str | None = None,
    report_task_id: str = "run_report",
) -> RunReport:
    """Read what the run did from the warehouse and the task states."""
    from nova_corrente.extract.connections import close_quietly
    from nova_corrente.operations import connect_warehouse

    states = {task_id: state for task_id, state in task_states.items() if task_id != report_task_id}
    failed = sorted(task_id for task_id, state in states.items() if state == "failed")
    not_run = sum(1 for state in states.values() if state == "upstream_failed")
    if failed:
        outcome = "FAILED"
    elif any(state not in {"success", "skipped"} for state in states.values()):
        outcome = "INCOMPLETE"
    else:
        outcome = "SUCCESS"

    ids = list(batch_ids or [])
    conn = connect_warehouse(pg, "run_report")
    try:
        with conn.cursor() as cur:
            if not ids and interval_end is not None and quality_history.table_exists(cur, "audit.load_batches"):
                cur.execute("select batch_id from audit.load_batches where interval_end = %s order by batch_id",
                            (interval_end,))
                ids = [row[0] for row in cur.fetchall()]
            forecast_run, models = _forecast(cur, dag_id, run_id)
            reorders = top_reorders(cur) if quality_history.table_exists(cur, "marts.fct_reorder_points") else []
            critical = 0
            if quality_history.table_exists(cur, "marts.fct_stock_alerts"):
                cur.execute("select count(*) from marts.fct_stock_alerts where alert_severity = 'critical'")
                critical = cur.fetchone()[0]
    finally:
        close_quietly(conn)
    plots = nova_home() / "forecast_runs" / forecast_run if forecast_run else None
    return RunReport(
        dag_id=dag_id, run_id=run_id, interval_start=interval_start, interval_end=interval_end,
        outcome=outcome, failed_tasks=failed, not_run_tasks=not_run,
        batches=quality_history.batches(pg, ids),
        quarantined=quality_history.quarantined(pg, batch_ids=ids),
        reconciliations=[r for r in quality_history.latest_reconciliations(pg)
                         if interval_end is None or r.interval_end is None or r.interval_end == interval_end],
        dbt=dbt_outcome(states, dbt_groups),
        forecast_run=forecast_run, forecast_models=models, top_reorders=reorders, critical_alerts=critical,
        plots_dir=plots if plots and plots.is_dir() else None,
        ui_base_url=ui_base_url.rstrip("/") if ui_base_url else None,
        generated_at=datetime.now(UTC),
    )


def _forecast(cur: Any, dag_id: str, run_id: str) -> tuple[str | None, list[tuple[str, str, int]]]:
    """This DAG run's forecast run and the models chosen per demand class (series counts)."""
    if not quality_history.table_exists(cur, "marts.forecast_runs"):
        return None, []
    cur.execute("select run_id from marts.forecast_runs where source = %s order by generated_at desc limit 1",
                (f"airflow:{dag_id}/{run_id}",))
    row = cur.fetchone()
    if row is None:
        return None, []
    cur.execute(
        """
        select demand_class, model, count(distinct (material_id, site_id))
        from marts.forecast_values where run_id = %s
        group by demand_class, model order by demand_class, count(distinct (material_id, site_id)) desc, model
        """,
        (row[0],),
    )
    return row[0], [(demand_class, model, int(count)) for demand_class, model, count in cur.fetchall()]


# --------------------------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def _feed(source: str) -> str:
    """ERP tables stay as they are; feed files count per feed (``file:weather/weather_2026-01.csv`` -> ``file:weather``)."""
    return source.split("/", 1)[0] if source.startswith("file:") else source


def _counts(counter: Counter) -> str:
    total = sum(counter.values())
    return f"{total} ({', '.join(f'{n} {state}' for state, n in counter.most_common())})" if total else "0"


def render_markdown(report: RunReport) -> str:
    """The report as Markdown (GitHub flavour: tables)."""
    out = [
        f"# {report.dag_id}: {report.outcome}",
        "",
        f"Run `{report.run_id}`, data interval {_when(report.interval_start)} → {_when(report.interval_end)}; "
        f"report generated {_when(report.generated_at)}.",
    ]
    if report.failed_tasks:
        out.append(f"Failed tasks: {', '.join(f'`{t}`' for t in report.failed_tasks)}"
                   f"{f'; {report.not_run_tasks} not run (upstream failed)' if report.not_run_tasks else ''}.")

    rejected = [b for b in report.batches if b.status == "rejected"]
    passed = [b for b in report.batches if b.status == "passed"]
    out += ["", "## Loads", "",
            f"{len(report.batches)} batches: {len(passed)} passed, {len(rejected)} rejected, "
            f"{len(report.batches) - len(passed) - len(rejected)} not validated.", ""]
    if report.batches:
        rows_per_source: dict[str, tuple[int, int, set[str]]] = {}
        for batch in report.batches:
            source = _feed(batch.source)
            rows, count, states = rows_per_source.get(source, (0, 0, set()))
            rows_per_source[source] = (rows + batch.row_count, count + 1, states | {batch.status})
        out += ["| source | batches | rows | status |", "|---|---:|---:|---|"]
        out += [f"| {_cell(source)} | {count} | {rows:,} | {', '.join(sorted(states))} |"
                for source, (rows, count, states) in sorted(rows_per_source.items())]
    if rejected:
        out += ["", "**Batches held back and why:**", ""]
        for batch in rejected:
            out.append(f"- `{batch.batch_id}`: {batch.verdict or '(no reason recorded)'}")
            out += [f"  - {f'suite {f.suite}: ' if f.suite else ''}{f.text}" for f in batch.failures]
    if report.quarantined:
        out += ["", "**Quarantined rows** (`audit.quarantined_rows`):", ""]
        out += [f"- `{g.batch_id}`: {g.rows:,} rows, rule {g.rule}"
                f"{f' on {g.column_name}' if g.column_name else ''}, e.g. {', '.join(g.sample_values)}: {g.reason}"
                for g in report.quarantined]
    if report.reconciliations:
        out += ["", "**Reconciliation with the ERP:**", ""]
        out += [f"- {r.table_name} {r.check_name}: {r.status} (ERP {r.erp_value}, warehouse {r.warehouse_value}, "
                f"difference {r.difference}){f' — {r.detail}' if r.detail else ''}" for r in report.reconciliations]

    out += ["", "## dbt", "",
            f"Models, seeds and snapshots (each with its tests): {_counts(report.dbt.models)}; "
            f"dbt builds: {_counts(report.dbt.builds)}."]
    if report.dbt.failed:
        out.append("Failed: " + ", ".join(f"`{t}`" for t in report.dbt.failed) + ".")

    out += ["", "## Forecast", ""]
    if report.forecast_run:
        out += [f"Forecast run `{report.forecast_run}`; models chosen per demand class:", "",
                "| demand class | model | series |", "|---|---|---:|"]
        out += [f"| {_cell(c)} | {_cell(m)} | {n} |" for c, m, n in report.forecast_models]
    else:
        out.append("No forecast run for this DAG run.")

    out += ["", "## Top reorders", ""]
    if report.top_reorders:
        out += ["| material | site | on hand | on order | reorder point | order | days of cover |",
                "|---|---|---:|---:|---:|---:|---:|"]
        out += [f"| {_cell(r.material_id)} {_cell(r.material_name)} | {_cell(r.site_id)} {_cell(r.city)} | "
                f"{r.quantity_on_hand:g} | {r.quantity_on_order:g} | {r.reorder_point:.1f} | "
                f"{r.suggested_order_quantity:g} | {'-' if r.days_of_cover is None else f'{r.days_of_cover:.1f}'} |"
                for r in report.top_reorders]
    else:
        out.append("Nothing to order (or no reorder points yet).")
    out.append(f"\nCritical stock alerts open: {report.critical_alerts}.")

    out += ["", "## Links", ""]
    base = report.ui_base_url
    if base:
        out.append(f"- [dbt docs (lineage)]({base}/{DBT_DOCS_PATH})")
        out.append(f"- [Data quality]({base}/{QUALITY_PAGE_PATH})")
    if report.plots_dir:
        out.append(f"- Forecast plots: `{report.plots_dir}`")
    return "\n".join(out) + "\n"


def note_text(report: RunReport, markdown_path: Path | None) -> str:
    """The DAG-run note: the headline facts (Airflow keeps at most 1000 characters), and where the rest is."""
    rejected = [b for b in report.batches if b.status == "rejected"]
    lines = [f"{NOTE_PREFIX} **{report.outcome}** — {len(report.batches)} batches, {len(rejected)} rejected; "
             f"dbt models (with their tests) {_counts(report.dbt.models)}"]
    if report.failed_tasks:
        lines.append("Failed: " + ", ".join(f"`{t}`" for t in report.failed_tasks[:5])
                     + (" …" if len(report.failed_tasks) > 5 else "")
                     + (f"; {report.not_run_tasks} tasks not run" if report.not_run_tasks else ""))
    # the batches that failed a rule themselves (older runs held other batches back with them)
    for batch in [b for b in rejected if any(f.expectation for f in b.failures)][:3]:
        for failure in [f for f in batch.failures if f.expectation][:1]:
            lines.append(f"- `{batch.source}`: {failure.expectation}{failure.detail[:150]}"
                         + (f", sample {failure.sample[:80]}" if failure.sample else ""))
    quarantined_rows = sum(group.rows for group in report.quarantined)
    if quarantined_rows:
        lines.append(f"Quarantined rows: {quarantined_rows} ("
                     + ", ".join(f"{g.source} {g.rule}" for g in report.quarantined[:3]) + ")")
    if report.forecast_models:
        lines.append("Forecast: " + ", ".join(f"{c}→{m} ({n})" for c, m, n in report.forecast_models[:6]))
    if report.top_reorders:
        lines.append("Top reorders: " + ", ".join(f"{r.material_id}@{r.site_id} {r.suggested_order_quantity:g}"
                                                 for r in report.top_reorders[:5]))
    lines.append(f"Critical stock alerts: {report.critical_alerts}")
    if markdown_path:
        lines.append(f"Full report: `{markdown_path}`")
    text = "\n\n".join(lines)
    return text if len(text) <= NOTE_MAX_CHARS else text[: NOTE_MAX_CHARS - 1] + "…"


def _file_name(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id).strip("_") + ".md"


def write(markdown: str, run_id: str, directory: Path | None = None) -> Path:
    """Write ``<directory>/<run_id>.md`` and ``latest.md`` (atomically: rename over the old file)."""
    directory = directory or reports_dir()
    path = directory / _file_name(run_id)
    write_replacing(markdown, path, directory / "latest.md")
    return path


def latest(directory: Path | None = None) -> Path | None:
    """The newest report, or None."""
    path = (directory or reports_dir()) / "latest.md"
    return path if path.exists() else None
