"""The forecast task: read ``marts.fct_demand_daily``, forecast, write the run atomically.

``run_forecasts`` writes one run in one transaction: the ``marts.forecast_runs`` row (parameters,
data fingerprint, backtest metrics per candidate) and every ``marts.forecast_values`` row (COPY).
A reader sees either the previous run or the complete new one, never a half-written run; a
failure anywhere rolls the whole run back and leaves the previous runs as they were. The current
run is the latest by ``generated_at``. Older runs are kept (the last ``keep_runs``), so the
forecasts published on a given morning can be audited later.

Idempotent: re-running with the same ``run_id`` (e.g. the Airflow run id, with ``generated_at``
= the data interval end) replaces that run in the same transaction instead of adding a second.

One number, one place: the business numbers of a material-site (demand class, lead time, service
level, safety stock, reorder point, order quantities) are computed once, by dbt, in
``marts.fct_reorder_points``; the forecast reads them and never recomputes them. The forecast rows'
``demand_class`` (and the class each series is backtested and selected in) is the mart's, and the
plots and ``run.json`` show the mart's reorder point, lead time, safety stock and service level.
Without that mart (a warehouse that has only the demand mart) the engine classifies by itself and
the plots show the forecast only; a warning says so.
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from nova_forecast._version import __version__
from nova_forecast.classify import classify_panel
from nova_forecast.data import InputError, Panel, fingerprint, load_panel
from nova_forecast.drivers import Drivers, drivers_for_panel
from nova_forecast.engine import (
    DEFAULT_MODELS,
    TOP_K_MODELS,
    EngineConfig,
    ForecastResult,
    build_models,
    finish,
    forecast_part,
    slow_model_ranking,
)
from nova_forecast.models import FAST_MODELS

if TYPE_CHECKING:  # the platform's settings; imported lazily so the package stays standalone
    from nova_corrente.settings import PostgresSettings

log = logging.getLogger(__name__)

DEMAND_TABLE = "marts.fct_demand_daily"
REORDER_POINTS_TABLE = "marts.fct_reorder_points"
DRIVERS_TABLE = "marts.fct_demand_drivers_daily"
SITES_TABLE = "marts.dim_site"
#: every mart the forecast task reads: dbt grants SELECT on each to nova_forecaster (_marts__models.yml)
FORECAST_INPUTS: tuple[str, ...] = (DEMAND_TABLE, REORDER_POINTS_TABLE, DRIVERS_TABLE, SITES_TABLE)
DEFAULT_SOURCE = DEMAND_TABLE
#: the shards of a run before it is published (forecaster's schema, not granted to BI or dbt)
STAGING_TABLE = "forecast_staging.forecast_parts"

#: the tables' DDL (``create ... if not exists``), a file so that setup can read it without this package
FORECAST_DDL = (Path(__file__).with_name("forecast_tables.sql")).read_text()
#: columns added since the first release, added by the tables' owner when missing
FORECAST_UPGRADE_DDL = """
alter table marts.forecast_values add column if not exists yhat_q90 double precision;
alter table marts.forecast_values add column if not exists yhat_q95 double precision;
alter table marts.forecast_values add column if not exists yhat_q99 double precision;
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


def _as_forecaster(pg: PostgresSettings) -> PostgresSettings:
    """The forecaster's own login (nova_forecaster) when ``pg`` is the platform's administrator settings."""
    narrow = getattr(pg, "component_or", None)
    return narrow("forecaster") if narrow is not None else pg


@contextmanager
def _forecaster_cursor(pg: PostgresSettings) -> Iterator[Any]:
    """A cursor in one transaction as the forecaster (committed on success, rolled back on error)."""
    import psycopg2

    pg = _as_forecaster(pg)
    conn = psycopg2.connect(pg.dsn(pg.warehouse_db))
    try:
        with conn, conn.cursor() as cur:
            yield cur
    finally:
        conn.close()


def ensure_forecast_tables(conn: Any) -> None:
    """Create ``marts.forecast_runs``, ``marts.forecast_values`` and the shards' staging table if missing, add missing columns
    (caller's transaction). In the platform setup creates them and the forecaster owns them; a login
    that may not create tables gets a clear error when they are missing."""
    with conn.cursor() as cur:
        cur.execute("select to_regclass('marts.forecast_runs') is not null "
                    "and to_regclass('marts.forecast_values') is not null and to_regclass(%s) is not null",
                    (STAGING_TABLE,))
        if not cur.fetchone()[0]:
            cur.execute("select current_user::text, coalesce(has_schema_privilege(to_regnamespace('marts'), 'CREATE'),"
                        " has_database_privilege(current_database(), 'CREATE'))")
            user, may_create = cur.fetchone()
            if not may_create:
                raise InputError(f"marts.forecast_runs / marts.forecast_values do not exist and {user} may not "
                                 "create them: the platform's setup does (`nova db start` / `nova db roles`)")
            cur.execute(FORECAST_DDL)
        cur.execute(FORECAST_UPGRADE_DDL)


def _window_filter(column: str, history_days: int | None) -> str:
    """SQL condition: ``column`` in the last ``history_days`` days of the demand mart (the history
    window of :class:`~nova_forecast.engine.EngineConfig`), or true without a window. The demand mart
    is one calendar (every series ends on its last day), so this is each series' window; both marts
    have an index on the date."""
    if history_days is None:
        return "true"
    return f"{column} > (select max(demand_date) from {DEMAND_TABLE}) - {int(history_days)}"


def read_daily_demand(pg: PostgresSettings, materials: list[str] | None = None,
                      history_days: int | None = None) -> pd.DataFrame:
    """``marts.fct_demand_daily`` in long format: unique_id (material_id@site_id), ds, y,
    material_id, site_id (and family_id when the mart has it); only ``materials`` when given, only
    the last ``history_days`` days of the mart when given (the rows the engine's window keeps)."""
    import psycopg2

    pg = _as_forecaster(pg)
    with psycopg2.connect(pg.dsn(pg.warehouse_db)) as conn, conn.cursor() as cur:
        cur.execute(
            "select column_name from information_schema.columns where table_schema = 'marts' "
            "and table_name = 'fct_demand_daily'"
        )
        columns = {row[0] for row in cur.fetchall()}
        if not columns:
            raise InputError(f"{DEMAND_TABLE} does not exist in database {pg.warehouse_db}; run the dbt models first")
        family = ", family_id" if "family_id" in columns else ""
        where = f" where {_window_filter('demand_date', history_days)}"
        if materials is not None:
            where += cur.mogrify(" and material_id = any(%s)", (list(materials),)).decode()
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


def read_reorder_points(pg: PostgresSettings) -> pd.DataFrame | None:
    """``marts.fct_reorder_points`` indexed by unique_id (material_id@site_id): demand_class, adi,
    cv_squared, service_level, avg_lead_time_days, safety_stock, reorder_point, method,
    economic_order_quantity, suggested_order_quantity. None when the mart does not exist."""
    import psycopg2

    pg = _as_forecaster(pg)
    conn = psycopg2.connect(pg.dsn(pg.warehouse_db))
    try:
        with conn, conn.cursor() as cur:
            cur.execute("select to_regclass(%s)", (REORDER_POINTS_TABLE,))
            if cur.fetchone()[0] is None:
                return None
            cur.execute(
                "select material_id || '@' || site_id, demand_class, adi, cv_squared, service_level, "
                "avg_lead_time_days, safety_stock, reorder_point, method, economic_order_quantity, "
                f"suggested_order_quantity from {REORDER_POINTS_TABLE}"
            )
            rows = cur.fetchall()
    finally:
        conn.close()
    columns = ["unique_id", "demand_class", "adi", "cv_squared", "service_level", "avg_lead_time_days",
               "safety_stock", "reorder_point", "method", "economic_order_quantity", "suggested_order_quantity"]
    frame = pd.DataFrame(rows, columns=columns).set_index("unique_id")
    numeric = ["adi", "cv_squared", "service_level", "avg_lead_time_days", "safety_stock", "reorder_point",
               "economic_order_quantity", "suggested_order_quantity"]
    frame[numeric] = frame[numeric].astype("float64")
    return frame


def read_drivers(pg: PostgresSettings, history_days: int | None = None) -> tuple[pd.DataFrame, pd.Series] | None:
    """``marts.fct_demand_drivers_daily`` (the columns the drivers model reads) and each site's
    city (``marts.dim_site``); None when either mart is missing or the drivers are empty. With
    ``history_days``, only the days after the start of the demand mart's window (and the future)."""
    import psycopg2

    pg = _as_forecaster(pg)
    conn = psycopg2.connect(pg.dsn(pg.warehouse_db))
    try:
        with conn, conn.cursor() as cur:
            cur.execute("select to_regclass(%s), to_regclass(%s)", (DRIVERS_TABLE, SITES_TABLE))
            if None in cur.fetchone():
                return None
            cur.execute(f"select city, driver_date, is_observed, rainy_season_index, storm_index, expected_storm_index, "
                        f"stations_5g_added, is_holiday from {DRIVERS_TABLE} "
                        f"where {_window_filter('driver_date', history_days)}")
            rows = cur.fetchall()
            cur.execute(f"select site_id, city from {SITES_TABLE}")
            cities = dict(cur.fetchall())
    finally:
        conn.close()
    if not rows:
        return None
    frame = pd.DataFrame(rows, columns=["city", "driver_date", "is_observed", "rainy_season_index", "storm_index",
                                        "expected_storm_index", "stations_5g_added", "is_holiday"])
    return frame, pd.Series(cities, dtype=object)


def mart_classes(panel: Panel, reorder_points: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The engine's classes frame (unique_id, adi, cv2, demand_class) from the mart's columns, in the
    panel's order; series the mart does not have keep the engine's own class (with a warning)."""
    own = classify_panel(panel)
    ids = own["unique_id"]
    known = ids.isin(reorder_points.index)
    rows = reorder_points.reindex(ids[known])
    own.loc[known.to_numpy(), "demand_class"] = rows["demand_class"].to_numpy()
    own.loc[known.to_numpy(), "adi"] = rows["adi"].fillna(np.inf).to_numpy()
    own.loc[known.to_numpy(), "cv2"] = rows["cv_squared"].to_numpy()
    warnings = []
    if (~known).any():
        warnings.append(f"{int((~known).sum())} series have no row in {REORDER_POINTS_TABLE} and keep the forecast "
                        f"engine's own demand class: " + ", ".join(ids[~known].head(5)))
    return own, warnings


@dataclass(frozen=True)
class RunPlan:
    """How a forecast run is split into shards that together forecast what one run would.

    ``shards`` holds the materials of each shard (whole materials: the drivers model pools a
    material's sites), balanced by series; ``ranking`` the run's series the slow models may run on,
    best first (:func:`nova_forecast.engine.slow_model_ranking`, cut to the longest top-K), which
    every shard uses instead of its own."""

    run_id: str
    shards: tuple[tuple[str, ...], ...]
    series: tuple[int, ...]
    ranking: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.shards)

    def shard(self, index: int) -> dict[str, Any]:
        """What one shard task needs (JSON-able: an Airflow mapped task's argument)."""
        return {"run_id": self.run_id, "index": index, "count": self.count, "materials": list(self.shards[index]),
                "series": self.series[index], "ranking": list(self.ranking), "label": self.label(index)}

    @classmethod
    def from_shards(cls, run_id: str, shards: list[dict[str, Any]]) -> RunPlan:
        """The plan back from its shards' arguments (what the DAG's publish task receives)."""
        if any(shard["run_id"] != run_id or shard["count"] != len(shards) for shard in shards):
            raise InputError(f"the shards given for run {run_id} belong to another run or plan")
        ordered = sorted(shards, key=lambda shard: shard["index"])
        return cls(run_id, tuple(tuple(s["materials"]) for s in ordered), tuple(int(s["series"]) for s in ordered),
                   tuple(ordered[0]["ranking"]) if ordered else ())

    def label(self, index: int) -> str:
        materials = self.shards[index]
        shown = ", ".join(materials[:3]) + (f" +{len(materials) - 3}" if len(materials) > 3 else "")
        return f"shard {index + 1}/{self.count}: {self.series[index]} series of {len(materials)} materials ({shown})"

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "shards": [list(m) for m in self.shards], "series": list(self.series),
                "ranking": list(self.ranking)}

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> RunPlan:
        return cls(str(value["run_id"]), tuple(tuple(m) for m in value["shards"]), tuple(value["series"]),
                   tuple(value["ranking"]))


def read_series_stats(pg: PostgresSettings, history_days: int | None = None) -> pd.DataFrame:
    """Per series of ``marts.fct_demand_daily``: unique_id, material_id, volume (total demand) and
    length (days from its first to its last row), computed by the database; over the last
    ``history_days`` days of the mart when given (what the engine fits, and ranks the series by)."""
    with _forecaster_cursor(pg) as cur:
        cur.execute("select to_regclass(%s)", (DEMAND_TABLE,))
        if cur.fetchone()[0] is None:
            raise InputError(f"{DEMAND_TABLE} does not exist in database {pg.warehouse_db}; run the dbt models first")
        cur.execute(f"select material_id || '@' || site_id, material_id, sum(quantity_consumed)::float8, "
                    f"max(demand_date) - min(demand_date) + 1 from {DEMAND_TABLE} "
                    f"where {_window_filter('demand_date', history_days)} group by material_id, site_id")
        rows = cur.fetchall()
    return pd.DataFrame(rows, columns=["unique_id", "material_id", "volume", "length"])


#: the work of one slow-model fit (backtest and final fit of a series), in series of the fast models and
#: the drivers model: measured on the demo run (seconds per series in its backtest, x 4/3 for the
#: final fit): fast + drivers 0.027 s, ETS 0.54 s, Prophet 2.0 s, ARIMA 2.8 s. The shards are
#: balanced by this estimated work, not by series: the slow models run on the run's top series.
SLOW_FIT_WORK = {"ets": 20, "prophet": 75, "arima": 100, "pmdarima": 100}


def plan_shards(stats: pd.DataFrame, run_id: str, shards: int, config: EngineConfig) -> RunPlan:
    """Split the series of ``stats`` (:func:`read_series_stats`) into at most ``shards`` shards of
    whole materials, balanced by estimated work (a series, plus ``SLOW_FIT_WORK`` of each slow model
    the run's ranking gives it): the most work first, onto the shard with the least."""
    if shards < 1:
        raise InputError(f"a forecast run needs at least one shard (got {shards})")
    if stats.empty:
        raise InputError(f"{DEMAND_TABLE} has no rows: nothing to forecast")
    ranking = slow_model_ranking(stats["unique_id"].to_numpy(), stats["volume"].to_numpy(),
                                 stats["length"].to_numpy(), config)
    slow = {name: (config.top_k if name in TOP_K_MODELS else config.auto_top_k, SLOW_FIT_WORK.get(name, 20))
            for name in config.models if name not in FAST_MODELS}
    slow_work = {str(uid): sum(work for k, work in slow.values() if rank < k)
                 for rank, uid in enumerate(ranking[:max((k for k, _ in slow.values()), default=0)])}
    work = stats["unique_id"].map(lambda uid: 1 + slow_work.get(uid, 0))
    per_material = work.groupby(stats["material_id"]).sum()
    series = stats.groupby("material_id")["unique_id"].count()
    order = sorted(per_material.index, key=lambda material: (-int(per_material[material]), str(material)))
    bins: list[list[str]] = [[] for _ in range(min(shards, len(order)))]
    load = [0] * len(bins)
    for material in order:
        target = min(range(len(bins)), key=lambda i: (load[i], i))
        bins[target].append(str(material))
        load[target] += int(per_material[material])
    return RunPlan(run_id, tuple(tuple(sorted(b)) for b in bins),
                   tuple(int(series[list(b)].sum()) for b in bins),
                   tuple(str(uid) for uid in ranking[:max(config.top_k, config.auto_top_k)]))


def plan_run(pg: PostgresSettings, run_id: str, shards: int, config: EngineConfig | None = None) -> RunPlan:
    """Plan the sharded run ``run_id`` (:func:`plan_shards` on the demand mart) and clear what an
    earlier attempt of it staged."""
    config = config or EngineConfig(horizon=28)
    plan = plan_shards(read_series_stats(pg, config.history_days), run_id, shards, config)
    with _forecaster_cursor(pg) as cur:
        ensure_forecast_tables(cur.connection)
        cur.execute(f"delete from {STAGING_TABLE} where run_id = %s", (run_id,))
    for index in range(plan.count):
        log.info("forecast run %s, %s", run_id, plan.label(index))
    return plan


@dataclass
class _Inputs:
    """What a run (or a shard of it) reads: the demand, its panel, classes and drivers."""

    frame: pd.DataFrame
    panel: Panel
    classes: pd.DataFrame | None
    drivers: Drivers | None
    reorder_points: pd.DataFrame | None
    warnings: list[str]


def _read_inputs(pg: PostgresSettings, config: EngineConfig, frame: pd.DataFrame,
                 reorder_points: pd.DataFrame | None, drivers_frame: tuple[pd.DataFrame, pd.Series] | None) -> _Inputs:
    if frame.empty:
        raise InputError(f"{DEMAND_TABLE} has no rows: nothing to forecast")
    panel, input_warnings = load_panel(frame[["unique_id", "ds", "y"]], config.freq)
    if reorder_points is None:
        reorder_points = read_reorder_points(pg)
    classes, class_warnings = None, [f"{REORDER_POINTS_TABLE} does not exist: the engine classifies the series "
                                     "itself and the plots show no reorder point"]
    if reorder_points is not None:
        classes, class_warnings = mart_classes(panel, reorder_points)
    for message in class_warnings:
        log.warning(message)
    input_warnings += class_warnings
    drivers = None
    if config.use_drivers:
        if drivers_frame is None:
            drivers_frame = read_drivers(pg, config.history_days)
        if drivers_frame is not None:
            drivers = drivers_for_panel(panel, drivers_frame[0], *_series_maps(frame, drivers_frame[1]),
                                        config.horizon)
        else:
            message = f"{DRIVERS_TABLE} is missing or empty: no candidate with drivers this run"
            log.warning(message)
            input_warnings.append(message)
    return _Inputs(frame, panel, classes, drivers, reorder_points, input_warnings)


def _hierarchy(frame: pd.DataFrame) -> pd.DataFrame:
    """unique_id, material_id, site_id (and family_id) of each series."""
    return frame.drop_duplicates("unique_id")[[c for c in ("unique_id", "material_id", "site_id", "family_id")
                                                if c in frame.columns]].reset_index(drop=True)


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
    reorder_points: pd.DataFrame | None = None,
    drivers_frame: tuple[pd.DataFrame, pd.Series] | None = None,
) -> RunSummary:
    """Backtest, select and forecast every material-site of ``marts.fct_demand_daily`` and write
    the run (``marts.forecast_runs`` + ``marts.forecast_values``) in one transaction, as the
    forecaster (``pg.as_role("forecaster")`` of the platform's settings). The run in one process;
    :func:`plan_run`, :func:`forecast_shard` and :func:`publish_run` give the same run in shards.

    ``dataset_id`` defaults to the data fingerprint (sha256 of the input series); ``run_id`` to
    ``<generated_at>-<fingerprint[:12]>``; ``generated_at`` to now (pass the data interval end
    for reproducible runs). ``keep_runs`` prunes all but the newest N runs (None keeps all).
    With ``artifacts_dir`` the run also writes ``<artifacts_dir>/<run_id>/`` with ``run.json``
    and PNG plots of the ``plot_top`` materials with the most demand. ``demand`` replaces the
    read of the mart (same columns as :func:`read_daily_demand`). ``reconcile`` makes the site
    forecasts add up to forecasts of the material (and family, when the mart has family_id)
    totals (:mod:`nova_forecast.reconcile`). ``reorder_points`` replaces the read of
    ``marts.fct_reorder_points`` (same columns as :func:`read_reorder_points`), ``drivers_frame``
    the read of the drivers mart and the sites' cities (as :func:`read_drivers` returns them). With
    the drivers, the engine also backtests the drivers model (:mod:`nova_forecast.drivers`, one fit
    per material). The run reads and fits only the last ``config.history_days`` days of each series
    (:class:`~nova_forecast.engine.EngineConfig`).
    """
    started = time.perf_counter()
    config = config or EngineConfig(horizon=horizon_days, freq="D", folds=folds, models=models, top_k=top_k,
                                    n_jobs=n_jobs)
    # the slow models' ranking as a sharded run computes it (from the database), unless the demand is given
    ranking = None
    if demand is None:
        stats = read_series_stats(pg, config.history_days)
        ranking = np.array(plan_shards(stats, run_id or "", 1, config).ranking, dtype=object)
        demand = read_daily_demand(pg, history_days=config.history_days)
    inputs = _read_inputs(pg, config, demand, reorder_points, drivers_frame)
    part = forecast_part(inputs.panel, config, inputs.classes, inputs.drivers, ranking)
    result = finish([part])
    result.warnings[:0] = inputs.warnings
    return _publish(pg, result, _hierarchy(inputs.frame), config, _model_params(config, inputs.drivers),
                    inputs.reorder_points,
                    started=started, model_version=model_version, dataset_id=dataset_id, source=source,
                    run_id=run_id, generated_at=generated_at, keep_runs=keep_runs, artifacts_dir=artifacts_dir,
                    plot_top=plot_top, reconcile=reconcile)


def forecast_shard(pg: PostgresSettings, shard: dict[str, Any], config: EngineConfig | None = None, *,
                   reorder_points: pd.DataFrame | None = None,
                   drivers_frame: tuple[pd.DataFrame, pd.Series] | None = None) -> dict[str, Any]:
    """Backtest and fit one shard of a planned run (``RunPlan.shard(i)``) and stage it in
    ``forecast_staging.forecast_parts`` (replacing an earlier attempt of that shard); nothing is
    visible to readers of the marts until :func:`publish_run`. Returns what it did, with the worker
    that did it (``$NOVA_WORKER_NAME``, else the host name)."""
    import pickle
    import socket
    import zlib

    import psycopg2

    started = time.perf_counter()
    config = config or EngineConfig(horizon=28)
    run_id, index, count = str(shard["run_id"]), int(shard["index"]), int(shard["count"])
    frame = read_daily_demand(pg, materials=shard["materials"], history_days=config.history_days)
    if frame.empty:
        raise InputError(f"shard {index + 1}/{count} of run {run_id}: {DEMAND_TABLE} has no rows for its materials "
                         f"{', '.join(shard['materials'][:5])}: the mart changed since the run was planned")
    inputs = _read_inputs(pg, config, frame, reorder_points, drivers_frame)
    part = forecast_part(inputs.panel, config, inputs.classes, inputs.drivers,
                         np.array(shard["ranking"], dtype=object))
    payload = zlib.compress(pickle.dumps({"part": part, "hierarchy": _hierarchy(frame), "warnings": inputs.warnings,
                                          "reorder_points": _own_rows(inputs.reorder_points, inputs.panel),
                                          "model_params": _model_params(config, inputs.drivers)}, protocol=5), 1)
    worker = os.environ.get("NOVA_WORKER_NAME") or socket.gethostname()
    seconds = time.perf_counter() - started
    with _forecaster_cursor(pg) as cur:  # the plan made the staging table (ensure_forecast_tables)
        cur.execute(f"delete from {STAGING_TABLE} where run_id = %s and shard = %s", (run_id, index))
        cur.execute(f"insert into {STAGING_TABLE} (run_id, shard, shard_count, series_count, worker, seconds, "
                    "payload) values (%s, %s, %s, %s, %s, %s, %s)",
                    (run_id, index, count, inputs.panel.n_series, worker, seconds, psycopg2.Binary(payload)))
    log.info("forecast run %s, shard %d/%d: %d series staged by %s in %.1f s (%.1f MiB)", run_id, index + 1, count,
             inputs.panel.n_series, worker, seconds, len(payload) / 2**20)
    return {"run_id": run_id, "shard": index, "count": count, "series": inputs.panel.n_series, "worker": worker,
            "seconds": round(seconds, 3)}


def publish_run(pg: PostgresSettings, plan: RunPlan, config: EngineConfig | None = None, *,
                model_version: str = f"nova_forecast-{__version__}", dataset_id: str | None = None,
                source: str = DEFAULT_SOURCE, generated_at: datetime | None = None, keep_runs: int | None = 30,
                artifacts_dir: Path | None = None, plot_top: int = 10, reconcile: bool = False) -> RunSummary:
    """Publish the staged shards of ``plan`` as one run: the class champions, the interval
    calibration and the forecasts over all of them (:func:`nova_forecast.engine.finish`), written
    like :func:`run_forecasts` in one transaction that also clears the staging rows. Refuses
    (InputError, nothing written) unless every shard of the plan is staged."""
    import pickle
    import zlib


    started = time.perf_counter()
    config = config or EngineConfig(horizon=28)
    with _forecaster_cursor(pg) as cur:
        cur.execute(f"select shard, shard_count, worker, seconds, payload from {STAGING_TABLE} where run_id = %s "
                    "order by shard", (plan.run_id,))
        rows = cur.fetchall()
    staged = {int(row[0]): row for row in rows if int(row[1]) == plan.count}
    missing = [i + 1 for i in range(plan.count) if i not in staged]
    if missing:
        raise InputError(f"forecast run {plan.run_id}: shard(s) {', '.join(map(str, missing))} of {plan.count} are not "
                         "staged (failed or not run): nothing published, the previous run stays current")
    loaded = [pickle.loads(zlib.decompress(bytes(staged[i][4]))) for i in range(plan.count)]
    for index, item in enumerate(loaded):  # a late attempt of an earlier plan must not slip in
        if set(item["hierarchy"]["material_id"]) != set(plan.shards[index]):
            raise InputError(f"forecast run {plan.run_id}: shard {index + 1} staged other materials than the plan "
                             "gives it (an attempt of an earlier plan): nothing published; re-run the forecast")
    result = finish([item["part"] for item in loaded])
    result.warnings[:0] = [w for item in loaded for w in item["warnings"]]
    hierarchy = pd.concat([item["hierarchy"] for item in loaded], ignore_index=True)
    reorder_points = None
    if all(item["reorder_points"] is not None for item in loaded):
        reorder_points = pd.concat([item["reorder_points"] for item in loaded])
    shards = [{"shard": i, "series": loaded[i]["part"].n_series, "worker": staged[i][2],
               "seconds": round(float(staged[i][3]), 3)} for i in range(plan.count)]
    return _publish(pg, result, hierarchy, config, loaded[0]["model_params"], reorder_points, started=started,
                    model_version=model_version, dataset_id=dataset_id, source=source, run_id=plan.run_id,
                    generated_at=generated_at, keep_runs=keep_runs, artifacts_dir=artifacts_dir, plot_top=plot_top,
                    reconcile=reconcile, shards=shards)


def _own_rows(reorder_points: pd.DataFrame | None, panel: Panel) -> pd.DataFrame | None:
    """The mart's rows of a shard's series (for the plots of the published run)."""
    return None if reorder_points is None else reorder_points[reorder_points.index.isin(panel.ids.astype(str))]


def _model_params(config: EngineConfig, drivers: Drivers | None) -> dict[str, Any]:
    return {name: model.params() for name, model in build_models(config, drivers).items()}


def _publish(pg: PostgresSettings, result: ForecastResult, hierarchy: pd.DataFrame, config: EngineConfig,
             model_params: dict[str, Any], reorder_points: pd.DataFrame | None, *, started: float, model_version: str,
             dataset_id: str | None, source: str, run_id: str | None, generated_at: datetime | None,
             keep_runs: int | None, artifacts_dir: Path | None, plot_top: int, reconcile: bool,
             shards: list[dict[str, Any]] | None = None) -> RunSummary:
    """Write a finished run in one transaction (and its artifacts): the part every run shares."""
    panel = result.panel
    data_fingerprint = fingerprint(panel.to_long())
    dataset_id = dataset_id or data_fingerprint
    generated_at = (generated_at or datetime.now(UTC)).astimezone(UTC)
    run_id = run_id or f"{generated_at:%Y%m%dT%H%M%SZ}-{data_fingerprint[:12]}"
    if reconcile:
        from nova_forecast.reconcile import reconcile as reconcile_totals

        try:
            result = reconcile_totals(result, hierarchy[[c for c in ("unique_id", "material_id", "family_id")
                                                         if c in hierarchy.columns]], config).result
        except InputError as exc:  # optional step: never blocks the forecasts themselves
            message = f"forecasts written unreconciled: {exc}"
            result.warnings.append(message)
            log.warning(message)
    values = _values_frame(result, hierarchy, run_id, model_version, generated_at, source, dataset_id)
    run_metrics = {**result.summary(), "skipped": _skipped_counts(result), "warnings": result.warnings}
    if shards is not None:
        run_metrics["shards"] = shards
    parameters = {**config.to_dict(), "model_params": model_params, "keep_runs": keep_runs, "reconcile": reconcile,
                  "shards": 1 if shards is None else len(shards)}

    import psycopg2

    pg = _as_forecaster(pg)
    conn = psycopg2.connect(pg.dsn(pg.warehouse_db))
    try:
        with conn:  # one transaction: commit on success, roll back on any error
            ensure_forecast_tables(conn)
            with conn.cursor() as cur:
                cur.execute("delete from marts.forecast_runs where run_id = %s", (run_id,))
                cur.execute(
                    "insert into marts.forecast_runs (run_id, model_version, generated_at, source, dataset_id, "
                    "parameters, data_fingerprint, metrics, series_count) values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (run_id, model_version, generated_at, source, dataset_id, json.dumps(parameters, default=str),
                     data_fingerprint, json.dumps(run_metrics, default=_json_default), int(panel.n_series)),
                )
                _copy_values(cur, values)
                pruned = _prune_runs(cur, keep_runs)
                cur.execute(f"delete from {STAGING_TABLE} where run_id = %s", (run_id,))
                # statistics that know the new run: the marts gate selects it by run_id right after, and
                # with the previous run's statistics the planner expects no row for it (a nested-loop
                # self-join over the run in GX's uniqueness check: 20 s instead of 0.3 s at the demo)
                cur.execute("analyze marts.forecast_runs, marts.forecast_values")
    finally:
        conn.close()
    log.info("forecast run %s: %d series, %d rows written, %d older runs pruned", run_id, panel.n_series,
             len(values), pruned)

    run_dir = None
    if artifacts_dir is not None:
        run_dir = write_artifacts(result, Path(artifacts_dir) / _safe_name(run_id), run_id=run_id,
                                  parameters=parameters, metrics=run_metrics, plot_top=plot_top,
                                  groups=hierarchy.set_index("unique_id")["material_id"],
                                  reorder_points=reorder_points)
    summary = result.summary()
    return RunSummary(
        run_id=run_id, model_version=model_version, generated_at=generated_at, source=source,
        dataset_id=dataset_id, data_fingerprint=data_fingerprint, series_count=int(panel.n_series),
        rows_written=len(values), horizon_days=config.horizon, models_selected=summary["models_selected"],
        demand_classes=summary["demand_classes"], metrics=run_metrics, warnings=list(result.warnings),
        pruned_runs=pruned, artifacts_dir=run_dir, seconds=time.perf_counter() - started,
    )


def _series_maps(frame: pd.DataFrame, site_cities: pd.Series) -> tuple[pd.Series, pd.Series]:
    """unique_id -> site city and unique_id -> material (the drivers model's pooling group)."""
    keys = frame.drop_duplicates("unique_id").set_index("unique_id")
    return keys["site_id"].map(site_cities), keys["material_id"]


def list_runs(pg: PostgresSettings) -> pd.DataFrame:
    """The run registry, newest first: identity, metadata, size and the selection's backtest RMSSE."""
    import psycopg2

    columns = ["run_id", "generated_at", "model_version", "source", "dataset_id", "series_count", "rmsse",
               "models_selected"]
    pg = _as_forecaster(pg)
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

    pg = _as_forecaster(pg)
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


def _copy_values(cur: Any, values: pd.DataFrame) -> None:
    """COPY the forecast rows (CSV through memory, one round trip)."""
    buffer = io.StringIO()
    values.to_csv(buffer, index=False, header=False, float_format="%.6f")
    buffer.seek(0)
    cur.copy_expert(f"copy marts.forecast_values ({', '.join(VALUE_COLUMNS)}) from stdin with (format csv)", buffer)


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
                    metrics: dict[str, Any], plot_top: int = 10, groups: pd.Series | None = None,
                    reorder_points: pd.DataFrame | None = None) -> Path:
    """PNG plots of the most important series and ``run.json`` (the registry entry plus, under
    ``plots``, the numbers each plot shows: the mart's reorder point, lead time, safety stock,
    service level, method and demand class) into ``run_dir``."""
    from nova_forecast.plots import plot_top_series

    run_dir.mkdir(parents=True, exist_ok=True)
    plots = plot_top_series(result, run_dir, top=plot_top, groups=groups, reorder_points=reorder_points) \
        if plot_top > 0 else []
    entry = {"run_id": run_id, "parameters": parameters, "metrics": metrics, "plots": plots}
    (run_dir / "run.json").write_text(json.dumps(entry, indent=2, default=_json_default) + "\n")
    return run_dir
