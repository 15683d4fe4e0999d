"""The forecast task: read ``marts.fct_demand_daily``, forecast, write the run atomically.

``run_forecasts`` writes one run in one transaction: the ``marts.forecast_runs`` row (parameters,
data fingerprint, backtest metrics per candidate) and every ``marts.forecast_values`` row (COPY).
A reader sees either the previous run or the complete new one, never a half-written run; a
failure anywhere rolls the whole run back and leaves the previous runs as they were. The current
run is the latest by ``generated_at``. Older runs are kept (the last ``keep_runs``), so the
forecasts published on a given morning can be audited later.

Idempotent: re-running with the same ``run_id`` (e.g. the Airflow run id, with ``generated_at``
= the data interval end) replaces that run in the same transaction instead of adding a second.

Sharded runs (several workers, :mod:`nova_forecast.shards`): :func:`plan_run` splits the run into
shards; ``run_forecasts(..., shard=...)`` forecasts one shard and writes it into
``forecast_staging`` (keyed by run and shard, invisible to BI: the schema is not granted to the
reader role), replacing that shard's earlier attempt; :func:`publish_shards` then checks that every
shard of the plan is there and, in one transaction, writes the run into ``marts.forecast_runs`` and
``marts.forecast_values`` and clears its staging rows. Until then readers see the previous run.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from nova_forecast._version import __version__
from nova_forecast.data import InputError, fingerprint, load_panel
from nova_forecast.engine import DEFAULT_MODELS, EngineConfig, ForecastResult, build_models, forecast_panel
from nova_forecast.shards import Shard

if TYPE_CHECKING:  # the platform's settings; imported lazily so the package stays standalone
    from nova_corrente.settings import PostgresSettings

log = logging.getLogger(__name__)

DEMAND_TABLE = "marts.fct_demand_daily"
DEFAULT_SOURCE = DEMAND_TABLE

FORECAST_DDL = """
create schema if not exists marts;

create table if not exists marts.forecast_runs (
    run_id            text primary key,
    model_version     text not null,
    generated_at      timestamptz not null,
    source            text not null,
    dataset_id        text not null,
    parameters        jsonb not null,
    data_fingerprint  text not null,
    metrics           jsonb not null,
    series_count      integer not null check (series_count >= 0)
);

create index if not exists forecast_runs_generated_at_idx on marts.forecast_runs (generated_at desc);

create table if not exists marts.forecast_values (
    run_id          text not null references marts.forecast_runs (run_id) on delete cascade,
    material_id     text not null,
    site_id         text not null,
    forecast_date   date not null,
    yhat            double precision not null,
    yhat_lo_80      double precision not null,
    yhat_hi_80      double precision not null,
    yhat_lo_95      double precision not null,
    yhat_hi_95      double precision not null,
    model           text not null,
    demand_class    text not null,
    model_version   text not null,
    generated_at    timestamptz not null,
    source          text not null,
    dataset_id      text not null,
    yhat_q90        double precision,  -- service-level quantiles (NULL when not computed)
    yhat_q95        double precision,
    yhat_q99        double precision,
    primary key (run_id, material_id, site_id, forecast_date),
    constraint forecast_values_bounds_ordered check (
        0 <= yhat_lo_95 and yhat_lo_95 <= yhat_lo_80 and yhat_lo_80 <= yhat
        and yhat <= yhat_hi_80 and yhat_hi_80 <= yhat_hi_95
    )
);

-- warehouses created before the service-level quantiles existed
alter table marts.forecast_values add column if not exists yhat_q90 double precision;
alter table marts.forecast_values add column if not exists yhat_q95 double precision;
alter table marts.forecast_values add column if not exists yhat_q99 double precision;
"""

# Shards of a run before it is published (same columns as marts.forecast_values, plus the shard).
STAGING_DDL = """
create schema if not exists forecast_staging;

create table if not exists forecast_staging.shard_runs (
    run_id            text not null,
    shard             integer not null check (shard >= 0),
    shard_count       integer not null check (shard_count > shard),
    series_count      integer not null,
    parameters        jsonb not null,
    metrics           jsonb not null,
    data_fingerprint  text not null,
    worker            text,
    finished_at       timestamptz not null default now(),
    primary key (run_id, shard)
);

create table if not exists forecast_staging.shard_values (like marts.forecast_values including defaults);
alter table forecast_staging.shard_values add column if not exists shard integer;
create index if not exists shard_values_run_shard_idx on forecast_staging.shard_values (run_id, shard);
"""

VALUE_COLUMNS = (
    "run_id", "material_id", "site_id", "forecast_date", "yhat", "yhat_lo_80", "yhat_hi_80", "yhat_lo_95",
    "yhat_hi_95", "yhat_q90", "yhat_q95", "yhat_q99", "model", "demand_class", "model_version", "generated_at",
    "source", "dataset_id",
)


@dataclass
class RunSummary:
    """What a forecast run did: identity, metadata, sizes and backtest metrics."""

    run_id: str
    model_version: str
    generated_at: datetime
    source: str
    dataset_id: str
    data_fingerprint: str
    series_count: int
    rows_written: int
    horizon_days: int
    models_selected: dict[str, int]
    demand_classes: dict[str, int]
    metrics: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    pruned_runs: int = 0
    artifacts_dir: Path | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-able summary (for an Airflow XCom or a log line); metrics reduced to the selection's."""
        return {
            "run_id": self.run_id,
            "model_version": self.model_version,
            "generated_at": self.generated_at.isoformat(),
            "source": self.source,
            "dataset_id": self.dataset_id,
            "data_fingerprint": self.data_fingerprint,
            "series_count": self.series_count,
            "rows_written": self.rows_written,
            "horizon_days": self.horizon_days,
            "models_selected": dict(self.models_selected),
            "demand_classes": dict(self.demand_classes),
            "selection_metrics": self.metrics.get("selection", {}),
            "warnings": list(self.warnings),
            "pruned_runs": self.pruned_runs,
            "artifacts_dir": None if self.artifacts_dir is None else str(self.artifacts_dir),
            "seconds": round(self.seconds, 3),
        }


def ensure_forecast_tables(conn: Any) -> None:
    """Create ``marts.forecast_runs`` and ``marts.forecast_values`` if missing (caller's transaction)."""
    with conn.cursor() as cur:
        cur.execute(FORECAST_DDL)


def ensure_staging_tables(conn: Any) -> None:
    """Create the shard staging tables (caller's transaction); columns added to
    ``marts.forecast_values`` since they were created are added to them too."""
    ensure_forecast_tables(conn)
    with conn.cursor() as cur:
        cur.execute(STAGING_DDL)
        cur.execute(
            "select a.attname, format_type(a.atttypid, a.atttypmod) from pg_attribute as a "
            "where a.attrelid = 'marts.forecast_values'::regclass and a.attnum > 0 and not a.attisdropped "
            "and not exists (select from pg_attribute as b where b.attrelid = "
            "'forecast_staging.shard_values'::regclass and b.attname = a.attname and not b.attisdropped)"
        )
        for column, data_type in cur.fetchall():
            cur.execute(f'alter table forecast_staging.shard_values add column "{column}" {data_type}')


def read_daily_demand(pg: PostgresSettings, series: Sequence[str] | None = None) -> pd.DataFrame:
    """``marts.fct_demand_daily`` in long format: unique_id (material_id@site_id), ds, y,
    material_id, site_id (and family_id when the mart has it); only ``series`` when given."""
    import psycopg2

    with psycopg2.connect(pg.dsn(pg.warehouse_db)) as conn, conn.cursor() as cur:
        cur.execute(
            "select column_name from information_schema.columns where table_schema = 'marts' "
            "and table_name = 'fct_demand_daily'"
        )
        columns = {row[0] for row in cur.fetchall()}
        if not columns:
            raise InputError(f"{DEMAND_TABLE} does not exist in database {pg.warehouse_db}; run the dbt models first")
        family = ", family_id" if "family_id" in columns else ""
        where = ""
        if series is not None:
            where = cur.mogrify(" where material_id || '@' || site_id = any(%s)", (list(series),)).decode()
        buffer = io.StringIO()
        cur.copy_expert(
            f"copy (select material_id || '@' || site_id as unique_id, demand_date as ds, "
            f"quantity_consumed::float8 as y, material_id, site_id{family} from {DEMAND_TABLE}{where} "
            f"order by material_id, site_id, demand_date) to stdout with (format csv, header true)",
            buffer,
        )
    conn.close()
    buffer.seek(0)
    dtypes = {"unique_id": str, "material_id": str, "site_id": str, "family_id": str}
    frame = pd.read_csv(buffer, dtype=dtypes, parse_dates=["ds"])
    frame["y"] = frame["y"].astype("float64")
    return frame


def run_forecasts(
    pg: PostgresSettings,
    horizon_days: int = 28,
    *,
    model_version: str = f"nova_forecast-{__version__}",
    dataset_id: str | None = None,
    source: str = DEFAULT_SOURCE,
    run_id: str | None = None,
    generated_at: datetime | None = None,
    folds: int = 3,
    models: tuple[str, ...] = DEFAULT_MODELS,
    top_k: int = 3,
    n_jobs: int = 1,
    config: EngineConfig | None = None,
    keep_runs: int | None = 30,
    artifacts_dir: Path | None = None,
    plot_top: int = 10,
    demand: pd.DataFrame | None = None,
    reconcile: bool = False,
    shard: Shard | None = None,
    worker: str | None = None,
) -> RunSummary:
    """Backtest, select and forecast every material-site of ``marts.fct_demand_daily`` and write
    the run (``marts.forecast_runs`` + ``marts.forecast_values``) in one transaction.

    ``dataset_id`` defaults to the data fingerprint (sha256 of the input series); ``run_id`` to
    ``<generated_at>-<fingerprint[:12]>``; ``generated_at`` to now (pass the data interval end
    for reproducible runs). ``keep_runs`` prunes all but the newest N runs (None keeps all).
    With ``artifacts_dir`` the run also writes ``<artifacts_dir>/<run_id>/`` with ``run.json``
    and PNG plots of the ``plot_top`` materials with the most demand. ``demand`` replaces the
    read of the mart (same columns as :func:`read_daily_demand`). ``reconcile`` makes the site
    forecasts add up to forecasts of the material (and family, when the mart has family_id)
    totals (:mod:`nova_forecast.reconcile`).

    With ``shard`` (from :func:`plan_run`) only that shard's series are forecast, with its share of
    the slow models' top-K, and the result goes to ``forecast_staging`` for :func:`publish_shards`
    (``worker`` names who ran it); its plots and ``run.json`` go to ``<run>/shard-<n>/`` when the
    run has several shards.
    """
    started = time.perf_counter()
    config = config or EngineConfig(horizon=horizon_days, freq="D", folds=folds, models=models, top_k=top_k,
                                    n_jobs=n_jobs)
    run_config = config
    if shard is not None:
        if run_id is None:
            raise ValueError("a shard belongs to a run: pass the run's run_id")
        config = shard.engine_config(config)
        frame = read_daily_demand(pg, shard.series) if demand is None else demand[demand["unique_id"].isin(shard.series)]
    else:
        frame = read_daily_demand(pg) if demand is None else demand
    if frame.empty:
        raise InputError(f"{DEMAND_TABLE} has no rows: nothing to forecast")
    data_fingerprint = fingerprint(frame)
    dataset_id = dataset_id or data_fingerprint
    generated_at = (generated_at or datetime.now(UTC)).astimezone(UTC)
    run_id = run_id or f"{generated_at:%Y%m%dT%H%M%SZ}-{data_fingerprint[:12]}"

    panel, input_warnings = load_panel(frame[["unique_id", "ds", "y"]], config.freq)
    result = forecast_panel(panel, config)
    result.warnings[:0] = input_warnings
    if reconcile:
        from nova_forecast.reconcile import reconcile as reconcile_totals

        hierarchy = frame.drop_duplicates("unique_id")[[c for c in ("unique_id", "material_id", "family_id")
                                                         if c in frame.columns]]
        try:
            result = reconcile_totals(result, hierarchy, config).result
        except InputError as exc:  # optional step: never blocks the forecasts themselves
            message = f"forecasts written unreconciled: {exc}"
            result.warnings.append(message)
            log.warning(message)
    values = _values_frame(result, frame, run_id, model_version, generated_at, source, dataset_id)
    run_metrics = {**result.summary(), "skipped": _skipped_counts(result), "warnings": result.warnings}
    parameters = {**run_config.to_dict(), "model_params": {n: m.params() for n, m in build_models(config).items()},
                  "keep_runs": keep_runs, "reconcile": reconcile}

    import psycopg2

    conn = psycopg2.connect(pg.dsn(pg.warehouse_db))
    try:
        with conn:  # one transaction: commit on success, roll back on any error
            if shard is None:
                pruned = _write_run(conn, run_id, model_version, generated_at, source, dataset_id, parameters,
                                    run_metrics, data_fingerprint, int(panel.n_series), keep_runs)
                with conn.cursor() as cur:
                    _copy_values(cur, values)
            else:  # staged: the shard replaces its earlier attempt; publish_shards writes the run
                pruned = 0
                _stage_shard(conn, shard, run_id, values, {**parameters, "shards": shard.count}, run_metrics,
                             data_fingerprint, int(panel.n_series), worker)
    finally:
        conn.close()
    if shard is None:
        log.info("forecast run %s: %d series, %d rows written, %d older runs pruned", run_id, panel.n_series,
                 len(values), pruned)
    else:
        log.info("forecast run %s, %s: %d rows staged", run_id, shard.label(), len(values))

    run_dir = None
    if artifacts_dir is not None:
        run_dir = Path(artifacts_dir) / _safe_name(run_id)
        if shard is not None and shard.count > 1:
            run_dir = run_dir / f"shard-{shard.index + 1}"
        run_dir = write_artifacts(result, run_dir, run_id=run_id, parameters=parameters, metrics=run_metrics,
                                  plot_top=plot_top, groups=_material_of(frame))
    summary = result.summary()
    return RunSummary(
        run_id=run_id, model_version=model_version, generated_at=generated_at, source=source,
        dataset_id=dataset_id, data_fingerprint=data_fingerprint, series_count=int(panel.n_series),
        rows_written=len(values), horizon_days=config.horizon, models_selected=summary["models_selected"],
        demand_classes=summary["demand_classes"], metrics=run_metrics, warnings=list(result.warnings),
        pruned_runs=pruned, artifacts_dir=run_dir, seconds=time.perf_counter() - started,
    )


def plan_run(pg: PostgresSettings, run_id: str, shards: int, config: EngineConfig | None = None,
             demand: pd.DataFrame | None = None) -> list[Shard]:
    """Split the run ``run_id`` into at most ``shards`` shards (:func:`nova_forecast.shards.plan_shards`)
    from the whole demand mart, and clear whatever an earlier attempt of the run staged."""
    from nova_forecast.shards import plan_shards, series_stats

    config = config or EngineConfig()
    frame = read_daily_demand(pg) if demand is None else demand
    if frame.empty:
        raise InputError(f"{DEMAND_TABLE} has no rows: nothing to forecast")
    panel, _ = load_panel(frame[["unique_id", "ds", "y"]], config.freq)
    # the shards must group the series by the very classes forecast_panel will use for them
    plan = plan_shards(series_stats(panel, config), shards, config)
    import psycopg2

    conn = psycopg2.connect(pg.dsn(pg.warehouse_db))
    try:
        with conn:
            ensure_staging_tables(conn)
            with conn.cursor() as cur:
                cur.execute("delete from forecast_staging.shard_values where run_id = %s", (run_id,))
                cur.execute("delete from forecast_staging.shard_runs where run_id = %s", (run_id,))
    finally:
        conn.close()
    for shard in plan:
        log.info("forecast run %s, %s; top-K share %d/%d", run_id, shard.label(), shard.top_k, shard.auto_top_k)
    return plan


def publish_shards(pg: PostgresSettings, run_id: str, shard_count: int, *, model_version: str,
                   generated_at: datetime, source: str, dataset_id: str | None = None,
                   keep_runs: int | None = 30, artifacts_dir: Path | None = None) -> dict[str, Any]:
    """Write the staged shards of ``run_id`` as one run, in one transaction (see the module docstring).

    Refuses (InputError, nothing written) unless shards ``0 .. shard_count - 1`` of one plan are all
    staged. The run's data fingerprint combines the shards' (:func:`nova_forecast.shards.combined_fingerprint`);
    its metrics merge theirs (:func:`nova_forecast.shards.merge_metrics`).
    """
    import psycopg2

    from nova_forecast.shards import combined_fingerprint, merge_metrics

    started = time.perf_counter()
    generated_at = generated_at.astimezone(UTC)
    conn = psycopg2.connect(pg.dsn(pg.warehouse_db))
    try:
        with conn:
            ensure_staging_tables(conn)
            with conn.cursor() as cur:
                cur.execute(
                    "select shard, shard_count, series_count, parameters, metrics, data_fingerprint, worker "
                    "from forecast_staging.shard_runs where run_id = %s order by shard for update", (run_id,))
                staged = cur.fetchall()
                found = [row[0] for row in staged]
                if found != list(range(shard_count)) or any(row[1] != shard_count for row in staged):
                    raise InputError(f"forecast run {run_id}: staged shards {found} (of plans for "
                                     f"{sorted({row[1] for row in staged})} shards), expected 0..{shard_count - 1}: "
                                     "not published; the previous run stays current")
                series_count = sum(row[2] for row in staged)
                data_fingerprint = combined_fingerprint([row[5] for row in staged])
                dataset_id = dataset_id or data_fingerprint
                parameters = staged[0][3]
                metrics = merge_metrics([row[4] for row in staged], [row[6] for row in staged])
                pruned = _write_run(conn, run_id, model_version, generated_at, source, dataset_id, parameters,
                                    metrics, data_fingerprint, series_count, keep_runs)
                columns = [c for c in VALUE_COLUMNS if c not in ("run_id", "dataset_id", "generated_at")]
                cur.execute(  # every row carries the run's identity, whichever shard computed it
                    f"insert into marts.forecast_values (run_id, dataset_id, generated_at, {', '.join(columns)}) "
                    f"select run_id, %s, %s, {', '.join(columns)} from forecast_staging.shard_values "
                    "where run_id = %s", (dataset_id, generated_at, run_id))
                rows = cur.rowcount
                cur.execute("delete from forecast_staging.shard_values where run_id = %s", (run_id,))
                cur.execute("delete from forecast_staging.shard_runs where run_id = %s", (run_id,))
    finally:
        conn.close()
    log.info("forecast run %s published: %d shards, %d series, %d rows, %d older runs pruned", run_id,
             shard_count, series_count, rows, pruned)
    if artifacts_dir is not None:  # the run's registry entry beside the shards' plots
        run_dir = Path(artifacts_dir) / _safe_name(run_id)
        run_dir.mkdir(parents=True, exist_ok=True)
        entry = {"run_id": run_id, "parameters": parameters, "metrics": metrics}
        (run_dir / "run.json").write_text(json.dumps(entry, indent=2, default=_json_default) + "\n")
    return {"run_id": run_id, "shards": shard_count, "series_count": series_count, "rows_written": rows,
            "dataset_id": dataset_id, "models_selected": metrics.get("models_selected", {}),
            "selection_metrics": metrics.get("selection", {}), "pruned_runs": pruned,
            "workers": [row[6] for row in staged], "seconds": round(time.perf_counter() - started, 3)}


def list_runs(pg: PostgresSettings) -> pd.DataFrame:
    """The run registry, newest first: identity, metadata, size and the selection's backtest RMSSE."""
    import psycopg2

    columns = ["run_id", "generated_at", "model_version", "source", "dataset_id", "series_count", "rmsse",
               "models_selected"]
    conn = psycopg2.connect(pg.dsn(pg.warehouse_db))
    try:
        with conn, conn.cursor() as cur:
            cur.execute("select to_regclass('marts.forecast_runs')")
            if cur.fetchone()[0] is None:
                return pd.DataFrame(columns=columns)
            cur.execute(
                "select run_id, generated_at, model_version, source, dataset_id, series_count, "
                "(metrics -> 'selection' ->> 'rmsse')::float8, metrics -> 'models_selected' "
                "from marts.forecast_runs order by generated_at desc, run_id desc"
            )
            return pd.DataFrame(cur.fetchall(), columns=columns)
    finally:
        conn.close()


def latest_run_id(pg: PostgresSettings) -> str | None:
    """The current run: the latest by ``generated_at`` (None when there is none)."""
    import psycopg2

    conn = psycopg2.connect(pg.dsn(pg.warehouse_db))
    try:
        with conn, conn.cursor() as cur:
            cur.execute("select to_regclass('marts.forecast_runs')")
            if cur.fetchone()[0] is None:
                return None
            cur.execute("select run_id from marts.forecast_runs order by generated_at desc, run_id desc limit 1")
            row = cur.fetchone()
            return None if row is None else str(row[0])
    finally:
        conn.close()


# --- internals ----------------------------------------------------------------------------------------

def _values_frame(result: ForecastResult, frame: pd.DataFrame, run_id: str, model_version: str,
                  generated_at: datetime, source: str, dataset_id: str) -> pd.DataFrame:
    keys = frame.drop_duplicates("unique_id").set_index("unique_id")[["material_id", "site_id"]]
    out = result.forecasts.join(keys, on="unique_id")
    missing = out["material_id"].isna()
    if missing.any():  # ids built elsewhere: split material@site
        parts = out.loc[missing, "unique_id"].str.split("@", n=1, expand=True)
        out.loc[missing, "material_id"], out.loc[missing, "site_id"] = parts[0], parts[1]
    out = out.assign(run_id=run_id, forecast_date=out["ds"].dt.date, model_version=model_version,
                     generated_at=generated_at.isoformat(), source=source, dataset_id=dataset_id)
    for column in ("yhat_q90", "yhat_q95", "yhat_q99"):  # only the service levels the run computed
        if column not in out.columns:
            out[column] = np.nan
    return out[list(VALUE_COLUMNS)]


def _write_run(conn: Any, run_id: str, model_version: str, generated_at: datetime, source: str, dataset_id: str,
               parameters: dict[str, Any], metrics: dict[str, Any], data_fingerprint: str, series_count: int,
               keep_runs: int | None) -> int:
    """Replace the run's ``marts.forecast_runs`` row (its values go with it) and prune old runs
    (caller's transaction; the caller then adds the values). Returns how many runs were pruned."""
    ensure_forecast_tables(conn)
    with conn.cursor() as cur:
        cur.execute("delete from marts.forecast_runs where run_id = %s", (run_id,))
        cur.execute(
            "insert into marts.forecast_runs (run_id, model_version, generated_at, source, dataset_id, "
            "parameters, data_fingerprint, metrics, series_count) values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (run_id, model_version, generated_at, source, dataset_id, json.dumps(parameters, default=str),
             data_fingerprint, json.dumps(metrics, default=_json_default), series_count),
        )
        return _prune_runs(cur, keep_runs)


def _stage_shard(conn: Any, shard: Shard, run_id: str, values: pd.DataFrame, parameters: dict[str, Any],
                 metrics: dict[str, Any], data_fingerprint: str, series_count: int, worker: str | None) -> None:
    ensure_staging_tables(conn)
    with conn.cursor() as cur:
        cur.execute("delete from forecast_staging.shard_values where run_id = %s and shard = %s", (run_id, shard.index))
        cur.execute("delete from forecast_staging.shard_runs where run_id = %s and shard = %s", (run_id, shard.index))
        cur.execute(
            "insert into forecast_staging.shard_runs (run_id, shard, shard_count, series_count, parameters, metrics, "
            "data_fingerprint, worker) values (%s, %s, %s, %s, %s, %s, %s, %s)",
            (run_id, shard.index, shard.count, series_count, json.dumps(parameters, default=str),
             json.dumps(metrics, default=_json_default), data_fingerprint, worker),
        )
        _copy_values(cur, values.assign(shard=shard.index), "forecast_staging.shard_values", (*VALUE_COLUMNS, "shard"))


def _copy_values(cur: Any, values: pd.DataFrame, table: str = "marts.forecast_values",
                 columns: Sequence[str] = VALUE_COLUMNS) -> None:
    """COPY the forecast rows (CSV through memory, one round trip)."""
    buffer = io.StringIO()
    values.to_csv(buffer, index=False, header=False, float_format="%.6f")
    buffer.seek(0)
    cur.copy_expert(f"copy {table} ({', '.join(columns)}) from stdin with (format csv)", buffer)


def _prune_runs(cur: Any, keep_runs: int | None) -> int:
    if keep_runs is None:
        return 0
    cur.execute(
        "delete from marts.forecast_runs where run_id in (select run_id from marts.forecast_runs "
        "order by generated_at desc, run_id desc offset %s)",
        (max(int(keep_runs), 1),),
    )
    return int(cur.rowcount)


def _skipped_counts(result: ForecastResult) -> dict[str, dict[str, int]]:
    if result.backtest is None or result.backtest.skipped.empty:
        return {}
    counts = result.backtest.skipped.groupby(["model", "reason"]).size()
    out: dict[str, dict[str, int]] = {}
    for (model, reason), count in counts.items():
        kind = reason.split(" (")[0]
        out.setdefault(model, {})
        out[model][kind] = out[model].get(kind, 0) + int(count)
    return out


def _material_of(frame: pd.DataFrame) -> pd.Series:
    return frame.drop_duplicates("unique_id").set_index("unique_id")["material_id"]


def _safe_name(run_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.T" else "_" for c in run_id)


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value) if np.isfinite(value) else None
    return str(value)


def write_artifacts(result: ForecastResult, run_dir: Path, *, run_id: str, parameters: dict[str, Any],
                    metrics: dict[str, Any], plot_top: int = 10, groups: pd.Series | None = None) -> Path:
    """``run.json`` (the registry entry) and PNG plots of the most important series into ``run_dir``."""
    from nova_forecast.plots import plot_top_series

    run_dir.mkdir(parents=True, exist_ok=True)
    entry = {"run_id": run_id, "parameters": parameters, "metrics": metrics}
    (run_dir / "run.json").write_text(json.dumps(entry, indent=2, default=_json_default) + "\n")
    if plot_top > 0:
        plot_top_series(result, run_dir, top=plot_top, groups=groups)
    return run_dir
