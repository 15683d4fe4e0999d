"""The pipeline's stages as plain functions: the DAG's tasks are one-line calls to these.

Each stage takes the platform settings and the data interval, logs what it did and returns a small,
JSON-serialisable dict (it becomes the task's XCom and the demo summary's input).
"""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from nova_corrente.settings import PostgresSettings, forecast_shards, nova_home

log = logging.getLogger(__name__)


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
    """Create the schemas and tables the stages write to (idempotent)."""
    import psycopg2

    from nova_corrente.extract.warehouse_setup import ensure_warehouse_schemas
    from nova_forecast.warehouse import ensure_forecast_tables

    ensure_warehouse_schemas(pg)
    with psycopg2.connect(pg.dsn(pg.warehouse_db)) as conn:
        ensure_forecast_tables(conn)
    conn.close()


def extract_load(
    pg: PostgresSettings, interval_start: datetime, interval_end: datetime, landing: Path | None = None
) -> dict[str, Any]:
    """Extract the ERP for the interval and the landing files into ``raw``; returns the batch ids."""
    from nova_corrente.extract.erp import load_interval
    from nova_corrente.extract.files import load_landing_files

    started = time.perf_counter()
    prepare_warehouse(pg)
    erp_batches = load_interval(pg, interval_start, interval_end)
    files = load_landing_files(pg, landing or landing_dir(), interval_start=interval_start, interval_end=interval_end)
    file_batches = [batch.batch_id for batch in files.loaded]
    rows = {batch.source: batch.row_count for batch in erp_batches}
    log.info(
        "extract_load %s -> %s: %d ERP rows in %d batches, %d feed files loaded, %d unchanged, %d held back (%.1fs)",
        interval_start, interval_end, sum(rows.values()), len(erp_batches), len(files.loaded),
        len(files.skipped), len(files.held_back), time.perf_counter() - started,
    )
    return {
        "batch_ids": [batch.batch_id for batch in erp_batches] + file_batches,
        "rows_per_source": rows,
        "files_held_back": [f"{item.path.name}: {item.error}" for item in files.held_back],
    }


def gate_raw(pg: PostgresSettings, batch_ids: list[str]) -> dict[str, Any]:
    """Validate this run's raw batches; raises QualityGateFailed (batches rejected) on failure."""
    from nova_corrente.quality.gates import validate_raw_batches

    report = validate_raw_batches(pg, batch_ids)
    return report.as_dict()


def forecast_run_id(interval_end: datetime) -> str:
    """One forecast run per data interval: re-running a day replaces that day's run."""
    return f"daily-{interval_end.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def forecast_plan(pg: PostgresSettings, interval_end: datetime, shards: int | None = None) -> list[dict[str, Any]]:
    """Split the interval's forecast run into shards (whole demand classes; ``$NOVA_FORECAST_SHARDS``)."""
    from nova_forecast.warehouse import plan_run

    plan = plan_run(pg, forecast_run_id(interval_end), shards or forecast_shards())
    return [shard.as_dict() for shard in plan]


def forecast_shard(pg: PostgresSettings, interval_end: datetime, airflow_run_id: str,
                   shard: dict[str, Any]) -> dict[str, Any]:
    """Forecast one shard into the staging tables; returns what it did and which worker did it."""
    from nova_forecast.shards import Shard
    from nova_forecast.warehouse import run_forecasts

    part = Shard.from_dict(shard)
    worker = worker_name()
    summary = run_forecasts(
        pg,
        run_id=forecast_run_id(interval_end),
        source=f"airflow:nova_corrente_daily/{airflow_run_id}",
        n_jobs=max(1, (os.cpu_count() or 1) // part.count),
        artifacts_dir=nova_home() / "forecast_runs",
        shard=part,
        worker=worker,
    )
    log.info("forecast %s on %s: %d rows staged, models %s (%.1fs)", part.label(), worker, summary.rows_written,
             summary.models_selected, summary.seconds)
    return {**summary.as_dict(), "shard": part.index, "shards": part.count, "worker": worker}


def forecast_publish(pg: PostgresSettings, interval_end: datetime, airflow_run_id: str,
                     shard_count: int) -> dict[str, Any]:
    """Publish the interval's staged shards as one forecast run, in one transaction."""
    from nova_forecast._version import __version__
    from nova_forecast.warehouse import publish_shards

    published = publish_shards(
        pg, forecast_run_id(interval_end), shard_count, model_version=f"nova_forecast-{__version__}",
        generated_at=datetime.now(UTC), source=f"airflow:nova_corrente_daily/{airflow_run_id}",
        artifacts_dir=nova_home() / "forecast_runs",
    )
    log.info("forecast run %s published: %d series from %d shards (workers %s)", published["run_id"],
             published["series_count"], shard_count, ", ".join(str(w) for w in published["workers"]))
    return published


def worker_name() -> str:
    """Who runs a task: ``$NOVA_WORKER_NAME`` (set per worker process) or the host name."""
    import socket

    return os.environ.get("NOVA_WORKER_NAME") or socket.gethostname()


def gate_marts(pg: PostgresSettings) -> dict[str, Any]:
    """Validate the marts and forecasts; raises QualityGateFailed on failure."""
    from nova_corrente.quality.gates import validate_marts

    return validate_marts(pg).as_dict()
