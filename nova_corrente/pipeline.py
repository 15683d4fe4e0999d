"""The pipeline's stages as plain functions: the DAG's tasks are one-line calls to these.

Each stage takes the platform settings and the data interval, logs what it did and returns a small,
JSON-serialisable dict (it becomes the task's XCom and the demo summary's input).

Each stage connects as its own role (``STAGE_ROLES``; README, 'Database roles'), whatever login the
settings it is given carry, and refuses to run as a superuser (``db_roles.refuse_superuser``).
"""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from nova_corrente.settings import DBT_PROJECT_DIR, PostgresSettings, nova_home, positive_int_setting

log = logging.getLogger(__name__)

#: stage -> the component whose login it uses (settings.COMPONENT_ROLES); dbt's is in settings.dbt_env
STAGE_ROLES: dict[str, str] = {
    "extract_load": "loader",  # reads the ERP as erp_reader (extract.connections)
    "gate_raw": "loader",  # reads raw, writes batch statuses in audit
    "forecast": "forecaster",
    "gate_marts": "transformer",  # reads the marts and the forecast tables; writes nothing
    # reads the ERP as erp_reader, compares as the transformer (temporary tables, staging, marts:
    # quality.reconcile), records the results and reads the batches as the loader
    "gate_reconciliation": "loader",
}


def landing_dir() -> Path:
    """Where external feed files are dropped: ``$NOVA_LANDING_DIR`` or ``$NOVA_HOME/landing``."""
    configured = os.environ.get("NOVA_LANDING_DIR")
    return Path(configured) if configured else nova_home() / "landing"


def resolve_interval(
    interval_start: datetime | None, interval_end: datetime | None, run_after: datetime
) -> tuple[datetime, datetime]:
    """The data interval a run covers.

    Scheduled runs have one. A run triggered from the UI without a logical date (Airflow 3's
    default) has none: it then means "the data as of the trigger", i.e. the day ending at
    ``run_after``. Extraction is watermark-based, so nothing between passed batches is skipped.
    """
    if interval_end is None:
        return run_after - timedelta(days=1), run_after
    return interval_start or interval_end - timedelta(days=1), interval_end


def prepare_warehouse(pg: PostgresSettings) -> None:
    """Create the loader's tables (idempotent); the schemas and the forecast tables come from setup."""
    from nova_corrente.extract.warehouse_setup import ensure_warehouse_schemas

    ensure_warehouse_schemas(pg.as_role(STAGE_ROLES["extract_load"]))


def extract_load(
    pg: PostgresSettings, interval_start: datetime, interval_end: datetime, landing: Path | None = None
) -> dict[str, Any]:
    """Capture the ERP's changes and the landing files into ``raw``; returns every batch recorded.

    A table or file held back whole at extraction (schema drift, unreadable file) is a ``rejected``
    batch in the list; the others load. Nothing raises for bad data, only for an unreachable database.
    """
    from nova_corrente.extract.erp import load_interval
    from nova_corrente.extract.feeds import load_landing_files

    started = time.perf_counter()
    pg = pg.as_role(STAGE_ROLES["extract_load"])
    prepare_warehouse(pg)
    erp_batches = load_interval(pg, interval_start, interval_end)
    files = load_landing_files(pg, landing or landing_dir(), interval_start=interval_start, interval_end=interval_end)
    rows = {batch.source: batch.row_count for batch in erp_batches}
    held_back = [f"{batch.batch_id}: {batch.failure_reason}" for batch in erp_batches if batch.status == "rejected"]
    held_back += [f"{item.batch_id or item.path.name}: {item.error}" for item in files.held_back]
    log.info(
        "extract_load %s -> %s: %d ERP rows in %d batches, %d feed files loaded, %d unchanged, %d held back (%.1fs)",
        interval_start, interval_end, sum(rows.values()), len(erp_batches), len(files.loaded),
        len(files.skipped), len(held_back), time.perf_counter() - started,
    )
    return {
        "batch_ids": [batch.batch_id for batch in erp_batches] + files.batch_ids,
        "rows_per_source": rows,
        "rows_by_change": {batch.source: batch.rows_by_change for batch in erp_batches},
        "held_back": held_back,
    }


def gate_raw(pg: PostgresSettings, batch_ids: list[str]) -> dict[str, Any]:
    """Validate this run's raw batches: bad rows to quarantine, batches passed or held back whole.

    Returns the report; does not raise for bad data (the good data of the run must go on). The
    run's final ``gate_reconciliation`` fails the run if batches were held back.
    """
    from nova_corrente.quality.gates import validate_raw_batches

    return validate_raw_batches(pg.as_role(STAGE_ROLES["gate_raw"]), batch_ids).as_dict()


def gate_reconciliation(pg: PostgresSettings, interval_end: datetime, batch_ids: list[str]) -> dict[str, Any]:
    """The run's last word, after the marts are published: reconcile the ERP with the warehouse.

    Raises ``ReconciliationFailed`` naming what is wrong when a reconciliation check fails (a difference
    not explained by quarantined rows) or when a batch of this run was held back whole; the marts
    were already published with everything good, so nobody waits for the fix.
    """
    from nova_corrente.extract.warehouse_setup import batch_statuses
    from nova_corrente.quality.reconcile import reconcile

    pg = pg.as_role(STAGE_ROLES["gate_reconciliation"])
    report = reconcile(pg, interval_end)
    statuses = batch_statuses(pg, batch_ids)
    held_back = sorted(batch_id for batch_id, status in statuses.items() if status == "rejected")
    reasons = _failure_reasons(pg, held_back)
    result = {**report.as_dict(), "held_back": [f"{batch_id}: {reasons.get(batch_id)}" for batch_id in held_back]}
    problems = []
    if held_back:
        problems.append(f"{len(held_back)} batch(es) of this run were held back whole (see audit.load_batches):\n  "
                        + "\n  ".join(result["held_back"]))
    if not report.success:
        problems.append(report.summary())
    if problems:
        raise ReconciliationFailed("\n".join(problems), result)
    log.info("reconciliation gate passed: %s", report.summary())
    return result


class ReconciliationFailed(RuntimeError):
    """The run published its good data, but something is wrong that someone must look at."""

    def __init__(self, message: str, result: dict[str, Any]) -> None:
        super().__init__(message)
        self.result = result


def _failure_reasons(pg: PostgresSettings, batch_ids: list[str]) -> dict[str, str]:
    from nova_corrente.extract.connections import close_quietly, connect

    if not batch_ids:
        return {}
    conn = connect(pg, "warehouse")
    try:
        with conn.cursor() as cur:
            cur.execute("select batch_id, failure_reason from audit.load_batches where batch_id = any(%s)",
                        (batch_ids,))
            return {batch_id: reason for batch_id, reason in cur.fetchall()}
    finally:
        close_quietly(conn)


def forecast_shards() -> int:
    """How many shards the forecast is split into: ``$NOVA_FORECAST_SHARDS`` (default 2; a shard
    holds whole materials, so a run has at most one per material)."""
    return positive_int_setting("NOVA_FORECAST_SHARDS", 2, "shard")


def forecast_run_id(interval_end: datetime) -> str:
    """The daily forecast run of a data interval: re-running a day replaces its run."""
    return f"daily-{interval_end.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def demand_history_days() -> int:
    """dbt's var ``demand_history_days`` (dbt_project.yml): the days of history the reorder-point
    rules read, and the forecast's window (one number for both)."""
    import yaml

    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    return int(project["vars"]["demand_history_days"])


def forecast_config() -> Any:
    """The daily run's engine configuration, read by its plan, shards and publish alike: the
    forecast fits the last ``demand_history_days`` of each series."""
    from nova_forecast.engine import EngineConfig

    jobs = max(1, (os.cpu_count() or 1) // forecast_shards())  # the slow models' processes per shard
    return EngineConfig(horizon=28, n_jobs=jobs, history_days=demand_history_days())


def _as_forecaster(pg: PostgresSettings, what: str) -> PostgresSettings:
    from nova_corrente.db_roles import check_login

    pg = pg.as_role(STAGE_ROLES["forecast"])
    check_login(pg, pg.warehouse_db, what)
    return pg


def plan_forecast(pg: PostgresSettings, interval_end: datetime) -> list[dict[str, Any]]:
    """Split the interval's forecast run into shards of whole materials (``forecast_shards()``);
    returns one argument per shard task (Airflow maps the shard task over them)."""
    from nova_forecast.warehouse import plan_run

    plan = plan_run(_as_forecaster(pg, "the forecast plan"), forecast_run_id(interval_end), forecast_shards(),
                    forecast_config())
    return [plan.shard(index) for index in range(plan.count)]


def forecast_shard(pg: PostgresSettings, shard: dict[str, Any]) -> dict[str, Any]:
    """Backtest and fit one shard and stage it (invisible to BI until the run is published)."""
    from nova_forecast.warehouse import forecast_shard as run

    return run(_as_forecaster(pg, "a forecast shard"), shard, forecast_config())


def publish_forecast(pg: PostgresSettings, shards: list[dict[str, Any]], interval_end: datetime,
                     airflow_run_id: str) -> dict[str, Any]:
    """Publish the staged shards as the interval's forecast run, in one transaction."""
    from nova_forecast.warehouse import RunPlan, publish_run

    plan = RunPlan.from_shards(forecast_run_id(interval_end), shards)
    summary = publish_run(_as_forecaster(pg, "the forecast publish"), plan, forecast_config(),
                          source=f"airflow:nova_corrente_daily/{airflow_run_id}",
                          artifacts_dir=nova_home() / "forecast_runs")
    for shard in summary.metrics.get("shards", []):
        log.info("shard %d/%d: %d series, %.1f s on %s", shard["shard"] + 1, plan.count, shard["series"],
                 shard["seconds"], shard["worker"])
    log.info("forecast run %s: %d series, %d rows, models %s (%.1fs); plots in %s", summary.run_id,
             summary.series_count, summary.rows_written, summary.models_selected, summary.seconds,
             summary.artifacts_dir)
    return summary.as_dict() | {"shards": summary.metrics.get("shards", [])}


def gate_marts(pg: PostgresSettings) -> dict[str, Any]:
    """Validate the marts and forecasts; raises QualityGateFailed on failure."""
    from nova_corrente.quality.gates import validate_marts

    return validate_marts(pg.as_role(STAGE_ROLES["gate_marts"])).as_dict()
