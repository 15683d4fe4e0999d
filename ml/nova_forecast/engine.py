"""The forecasting engine: classify, backtest every candidate, select per series, forecast.

1. **Classify** each series (Syntetos-Boylan: smooth / erratic / intermittent / lumpy).
2. **Backtest** every candidate on rolling origins: fold k trains on the history up to
   ``horizon + (folds - 1 - k) * step`` periods before the end and forecasts the next
   ``horizon`` periods. Forecasts are clipped at 0, as delivered.
3. **Select** per series the candidate with the lowest mean RMSSE over the folds. To keep the
   choice from chasing noise in a few folds, a series keeps its class champion (the candidate
   with the lowest mean RMSSE over all series of its demand class) unless its own best beats the
   champion by more than ``selection_margin`` (0.1: the best of the margins tried out of sample in
   ``bench/forecast.py``). Naive baselines are benchmarks only on intermittent and lumpy series.
4. **Forecast** each series with its model on its whole window; prediction intervals (80 %, 95 %)
   and service-level quantiles (90 %, 95 %, 99 %) add the empirical quantiles of the series'
   backtest errors of that model to the forecast; everything is clipped at 0. The quantile levels
   are calibrated per demand class on the backtest (:mod:`nova_forecast.calibrate`: held-out folds,
   split-conformal style) so that the intervals cover their nominal share of actuals.

With ``history_days`` set, every step sees only each series' last ``history_days`` days
(:func:`history_window`): a run's work follows the window, not the warehouse's history.

Series too short to backtest (fewer than ``min_train + horizon`` observations) are forecast with
the ``fallback_model`` baseline and a warning. Slow models (Prophet, statsforecast's AutoARIMA and
AutoETS; pmdarima on request) run only on the top-K series by volume and are skipped, with a logged
reason, on intermittent series.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from nova_forecast import metrics
from nova_forecast.calibrate import Calibration, bounds, calibrate, interval_quantiles, whole_unit_rows
from nova_forecast.classify import INTERMITTENT_CLASSES, classify_panel
from nova_forecast.data import (
    LONGEST_PERIOD_DAYS,
    InputError,
    Panel,
    check_freq,
    load_panel,
    season_length_for,
    shift_dates,
)
from nova_forecast.drivers import Drivers, DriversGLM
from nova_forecast.models import FAST_MODELS, Forecaster, build_fast
from nova_forecast.slow_models import SLOW_MODELS, build_slow

log = logging.getLogger(__name__)

DEFAULT_MODELS = (
    "naive", "seasonal_naive", "mean", "window_average", "seasonal_window_average", "ses", "seasonal_es",
    "croston", "sba", "tsb", "adida", "imapa", "ets", "prophet", "arima",
)
#: slow models that run on the top_k series only (the others on auto_top_k). pmdarima is not a
#: default: where both competed (bench/forecast.py, top 20 series, same run) statsforecast's
#: AutoARIMA was selected 9 times and pmdarima once (backtest RMSSE 0.491 vs 0.531), and in the
#: default engine pmdarima was never selected (0 of 1,000 series); it stays available by name.
TOP_K_MODELS = frozenset({"prophet", "pmdarima", "arima"})
ALL_MODELS = tuple(FAST_MODELS) + tuple(SLOW_MODELS)
DEFAULT_MIN_TRAIN = {"D": 28, "W": 26, "MS": 12, "QS": 8}
MIN_RESIDUALS = 10
#: benchmarks only on intermittent and lumpy series: backtested and reported, never selected. On
#: sparse series a "last value" forecast is 0 and wins the folds that happen to hold no demand,
#: which says nothing about the next window (out of sample it changed RMSSE by < 0.5 % in
#: bench/forecast.py and on the demo ERP) but would hand planners flat-zero forecasts.
NOT_FOR_INTERMITTENT = frozenset({"naive", "seasonal_naive"})


@dataclass(frozen=True)
class EngineConfig:
    """Everything that decides a forecast run (recorded as the run's parameters).

    ``history_days``: the fits (backtest folds and final fit) see only the last ``history_days``
    days of each series; None (default) = all of it. The platform's daily run sets it to dbt's
    ``demand_history_days`` (``nova_corrente.pipeline.forecast_config``)."""

    horizon: int = 28
    freq: str = "D"
    season_length: int | None = None
    levels: tuple[int, ...] = (80, 95)
    folds: int = 3
    step: int | None = None
    models: tuple[str, ...] = DEFAULT_MODELS
    top_k: int = 3
    auto_top_k: int = 20
    selection_margin: float = 0.1
    service_levels: tuple[float, ...] = (0.90, 0.95, 0.99)
    min_train: int | None = None
    fallback_model: str = "mean"
    n_jobs: int = 1
    calibrate_intervals: bool = True
    use_drivers: bool = True
    history_days: int | None = None

    def __post_init__(self) -> None:
        check_freq(self.freq)
        if self.horizon < 1:
            raise InputError(f"horizon must be at least 1 (got {self.horizon})")
        if self.folds < 1:
            raise InputError(f"folds must be at least 1 (got {self.folds})")
        unknown = [m for m in (*self.models, self.fallback_model) if m not in ALL_MODELS]
        if unknown:
            raise InputError(f"unknown model(s) {', '.join(unknown)}: choose from {', '.join(ALL_MODELS)}")
        if self.fallback_model not in FAST_MODELS:
            raise InputError(f"fallback model must be a fast model, not {self.fallback_model}")
        if self.step is not None and self.step < 1:
            raise InputError(f"step must be at least 1 (got {self.step})")
        if self.top_k < 0 or self.auto_top_k < 0 or self.n_jobs < 1:
            raise InputError("top_k and auto_top_k must be >= 0 and n_jobs >= 1")
        if not 0 <= self.selection_margin <= 1:
            raise InputError(f"selection_margin must be between 0 and 1 (got {self.selection_margin})")
        bad = [lv for lv in self.levels if not 0 < lv < 100]
        if bad:
            raise InputError(f"interval levels must be between 0 and 100 (got {bad})")
        if any(not 0 < s < 1 for s in self.service_levels):
            raise InputError(f"service levels must be between 0 and 1 (got {list(self.service_levels)})")
        if self.history_days is not None and self.history_days < self.min_history_days:
            raise InputError(
                f"history_days must be at least {self.min_history_days} (days that hold min_train "
                f"{self.min_train_length} + horizon {self.horizon} periods of {self.freq}) or None for all the "
                f"history (got {self.history_days})")

    @property
    def season(self) -> int:
        return self.season_length or season_length_for(self.freq)

    @property
    def origin_step(self) -> int:
        return self.step or self.horizon

    @property
    def min_train_length(self) -> int:
        return self.min_train or DEFAULT_MIN_TRAIN[self.freq]

    @property
    def min_history_days(self) -> int:
        """The shortest window that holds ``min_train + horizon`` periods (for daily data: that many days)."""
        return (self.min_train_length + self.horizon - 1) * LONGEST_PERIOD_DAYS[self.freq] + 1

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(season_length=self.season, step=self.origin_step, min_train=self.min_train_length)
        return out


@dataclass
class Backtest:
    """Rolling-origin backtest of every candidate: forecasts (n, folds, h) and their metrics."""

    panel: Panel
    config: EngineConfig
    models: list[str]
    forecasts: dict[str, np.ndarray]
    actuals: np.ndarray
    cutoffs: np.ndarray
    scale2: np.ndarray
    scale1: np.ndarray
    metrics: pd.DataFrame
    summary: pd.DataFrame
    skipped: pd.DataFrame
    classes: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def residuals(self, model: str) -> np.ndarray:
        """Errors ``actual - forecast`` of one model, (n, folds * h), NaN where not evaluated."""
        return (self.actuals - self.forecasts[model]).reshape(self.panel.n_series, -1)

    def cv_frame(self) -> pd.DataFrame:
        """Long frame: unique_id, cutoff, ds, y and one column per candidate."""
        n, k, h = self.actuals.shape
        valid = ~np.isnan(self.actuals)
        dates = shift_dates(self.cutoffs[:, :, None], np.arange(1, h + 1)[None, None, :], self.panel.freq)
        frame = pd.DataFrame({
            "unique_id": np.broadcast_to(self.panel.ids[:, None, None], (n, k, h))[valid].astype(str),
            "cutoff": np.broadcast_to(self.cutoffs[:, :, None], (n, k, h))[valid],
            "ds": dates[valid],
            "y": self.actuals[valid],
        })
        for name in self.models:
            frame[name] = self.forecasts[name][valid]
        return frame


@dataclass
class ForecastResult:
    """Forecasts per series plus how they were chosen."""

    forecasts: pd.DataFrame
    selection: pd.DataFrame
    backtest: Backtest | None
    config: EngineConfig
    panel: Panel
    residuals: np.ndarray
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    calibration: Calibration | None = None

    def summary(self) -> dict[str, Any]:
        """JSON-able metrics: per candidate, for the selection, model and class counts."""
        out: dict[str, Any] = {
            "series": int(self.panel.n_series),
            "models_selected": {k: int(v) for k, v in self.selection["model"].value_counts().items()},
            "demand_classes": {k: int(v) for k, v in self.selection["demand_class"].value_counts().items()},
            "seconds": round(self.seconds, 3),
        }
        if self.backtest is not None:
            out["candidates"] = _json_records(self.backtest.summary)
            out["selection"] = _selection_metrics(self)
        if self.calibration is not None:
            out["interval_calibration"] = _json_records(self.calibration.table)
        return out


# --- public entry points ---------------------------------------------------------------------------

def backtest(df: pd.DataFrame, config: EngineConfig | None = None) -> Backtest:
    """Validate a long frame and backtest every candidate on it."""
    config = config or EngineConfig()
    panel, warnings = load_panel(df, config.freq)
    result = backtest_panel(panel, config)
    result.warnings[:0] = warnings
    panel = result.panel  # the history window
    if result.metrics.empty:
        raise InputError(_too_short_message(panel, config, np.arange(panel.n_series)) + "; nothing to backtest")
    untested = np.flatnonzero(~np.isin(panel.ids.astype(str), result.metrics["unique_id"].unique()))
    if len(untested):
        message = _too_short_message(panel, config, untested) + "; left out of the metrics"
        result.warnings.append(message)
        log.warning(message)
    return result


def forecast(df: pd.DataFrame, config: EngineConfig | None = None) -> ForecastResult:
    """Validate a long frame, backtest, select per series and forecast ``config.horizon`` periods."""
    config = config or EngineConfig()
    panel, warnings = load_panel(df, config.freq)
    result = forecast_panel(panel, config)
    result.warnings[:0] = warnings
    return result


def backtest_panel(panel: Panel, config: EngineConfig, classes: pd.DataFrame | None = None,
                   drivers: Drivers | None = None, ranking: np.ndarray | None = None) -> Backtest:
    """Rolling-origin backtest of ``config.models`` on a panel (plus the drivers model when
    ``drivers`` are given and ``config.use_drivers``), cut to ``config.history_days`` first
    (:func:`history_window`). ``ranking``: the run's slow-model ranking (:func:`slow_model_ranking`)
    when the panel is a part of a run; default: the panel's own."""
    panel, drivers = history_window(panel, drivers, config)
    return _backtest_window(panel, config, classes, drivers, ranking)


def history_window(panel: Panel, drivers: Drivers | None, config: EngineConfig) -> tuple[Panel, Drivers | None]:
    """The panel cut to each series' last ``config.history_days`` days (:meth:`Panel.last_days`) and
    its drivers cut column for column: all the engine fits, classifies and ranks (unchanged without
    a window or when no series is longer)."""
    if config.history_days is None:
        return panel, drivers
    window = panel.last_days(config.history_days)
    if drivers is not None:
        drivers = drivers.without_first(panel.n_periods - window.n_periods)
    return window, drivers


def _backtest_window(panel: Panel, config: EngineConfig, classes: pd.DataFrame | None,
                     drivers: Drivers | None, ranking: np.ndarray | None) -> Backtest:
    """:func:`backtest_panel` on a panel already cut to its history window."""
    started = time.perf_counter()
    classes = classify_panel(panel) if classes is None else classes
    h, k_folds, step = config.horizon, config.folds, config.origin_step
    n, width = panel.n_series, panel.n_periods
    models = build_models(config, drivers)
    rows_by_model, skipped = _rows_by_model(panel, classes, config, models, ranking)

    forecasts = {name: np.full((n, k_folds, h), np.nan) for name in models}
    actuals = np.full((n, k_folds, h), np.nan)
    scale2 = np.full((n, k_folds), np.nan)
    scale1 = np.full((n, k_folds), np.nan)
    cutoffs = np.empty((n, k_folds), dtype="datetime64[ns]")
    seconds = dict.fromkeys(models, 0.0)
    for fold in range(k_folds):
        drop = h + (k_folds - 1 - fold) * step
        cutoffs[:, fold] = shift_dates(panel.last_ds, -drop, panel.freq)
        if drop >= width:
            continue
        train = panel.head(drop)
        usable = train.lengths >= config.min_train_length
        if not usable.any():
            continue
        actuals[usable, fold] = panel.values[usable, width - drop:width - drop + h]
        scale2[:, fold] = metrics.naive_scale(train.values, 2)
        scale1[:, fold] = metrics.naive_scale(train.values, 1)
        for name, model in models.items():
            rows = usable & rows_by_model[name]
            if not rows.any():
                continue
            tic = time.perf_counter()
            predicted = model.fit(train, rows).predict(h)
            seconds[name] += time.perf_counter() - tic
            forecasts[name][rows, fold] = np.clip(predicted[rows], 0.0, None)
            for uid, reason in model.skipped.items():
                skipped.append((uid, name, reason))

    table = _metrics_table(panel, classes, forecasts, actuals, scale2, scale1, config)
    summary = _summary_table(table, panel.ids, forecasts, actuals)
    if not summary.empty:
        summary["seconds"] = summary["model"].map(seconds).round(3)
    skipped_frame = pd.DataFrame(skipped, columns=["unique_id", "model", "reason"]).drop_duplicates()
    return Backtest(panel, config, list(models), forecasts, actuals, cutoffs, scale2, scale1, table, summary,
                    skipped_frame, classes, seconds=time.perf_counter() - started)


def forecast_panel(panel: Panel, config: EngineConfig, classes: pd.DataFrame | None = None,
                   drivers: Drivers | None = None, ranking: np.ndarray | None = None) -> ForecastResult:
    """Backtest, select and forecast a panel (see the module docstring). ``classes`` (unique_id,
    demand_class, adi, cv2 for every series, in the panel's order) replaces the engine's own
    classification: the warehouse task passes the demand classes of ``marts.fct_reorder_points``.
    ``drivers`` (:mod:`nova_forecast.drivers`) adds the candidate that uses them. ``ranking``: the
    slow models' ranking of the whole run (:func:`slow_model_ranking`; default: this panel's).

    The same as :func:`finish` of one :func:`forecast_part`: a run split into parts (whole
    materials each, the run's ranking in each) gives what the whole panel gives."""
    return finish([forecast_part(panel, config, classes, drivers, ranking)])


@dataclass
class ForecastPart:
    """A share of a run's series, backtested and fitted: everything :func:`finish` needs from them.

    ``fits`` holds every candidate's forecast on the whole window, (n, horizon), NaN where the
    candidate does not run or failed: which one a series uses depends on the class champions,
    i.e. on every part of the run, so each part fits them all (fast models on every series, slow
    models and the drivers model where they were backtested, the fallback model on every series)."""

    backtest: Backtest
    fits: dict[str, np.ndarray]
    seconds: float = 0.0

    @property
    def n_series(self) -> int:
        return self.backtest.panel.n_series


def forecast_part(panel: Panel, config: EngineConfig, classes: pd.DataFrame | None = None,
                  drivers: Drivers | None = None, ranking: np.ndarray | None = None) -> ForecastPart:
    """Backtest every candidate on a panel and fit each on the whole window (see :class:`ForecastPart`):
    the panel and drivers cut to ``config.history_days`` (:func:`history_window`), once, here.

    Parts must hold whole pooling groups (the drivers model fits all the sites of a material
    together) and share the run's ``ranking`` (the slow models run on the run's top-K series)."""
    started = time.perf_counter()
    panel, drivers = history_window(panel, drivers, config)
    classes = classify_panel(panel) if classes is None else classes
    bt = _backtest_window(panel, config, classes, drivers, ranking)
    models = build_models(config, drivers)
    if config.fallback_model not in models:
        models[config.fallback_model] = build_fast(config.fallback_model, config.season)
    evaluated = set(zip(bt.metrics["unique_id"], bt.metrics["model"], strict=True)) if not bt.metrics.empty else set()
    ids = panel.ids.astype(str)
    fits: dict[str, np.ndarray] = {}
    for name, model in models.items():
        if name in FAST_MODELS:
            rows = np.ones(panel.n_series, dtype=bool)
        else:
            rows = np.array([(uid, name) in evaluated for uid in ids], dtype=bool)
        fits[name] = np.full((panel.n_series, config.horizon), np.nan)
        if rows.any():
            fits[name][rows] = model.fit(panel, rows).predict(config.horizon)[rows]
    return ForecastPart(bt, fits, time.perf_counter() - started)


def finish(parts: list[ForecastPart]) -> ForecastResult:
    """Select per series, calibrate the intervals per demand class and forecast: the steps of a run
    that look across all its series, on its parts' backtests and fits (in the order of the ids)."""
    started = time.perf_counter()
    if not parts:
        raise InputError("a forecast run needs at least one part")
    bt, fits = _merge_parts(parts)
    panel, config = bt.panel, bt.config
    result_warnings: list[str] = []
    selection = select_models(bt)

    short = np.flatnonzero(selection["reason"].to_numpy() == "too short to backtest")
    if len(short):
        message = _too_short_message(panel, config, short) + f"; forecast with the {config.fallback_model!r} baseline"
        result_warnings.append(message)
        log.warning(message)

    chosen = selection["model"].to_numpy(dtype=object)
    yhat = np.full((panel.n_series, config.horizon), np.nan)
    for name in pd.unique(chosen):
        rows = chosen == name
        yhat[rows] = fits[name][rows]
    failed = ~np.all(np.isfinite(yhat), axis=1)
    if failed.any():  # a slow model failed on the whole window: use the class champion, else the baseline
        champions = selection["champion"].to_numpy(dtype=object)
        replacement = np.where(np.isin(champions, list(FAST_MODELS)), champions, config.fallback_model)
        for name in pd.unique(replacement[failed]):
            rows = failed & (replacement == name)
            yhat[rows] = fits[name][rows]
            chosen[rows] = name
        selection.loc[failed, "model"] = chosen[failed]
        selection.loc[failed, "reason"] = "final fit failed, replaced"
        message = (f"{int(failed.sum())} series could not be fitted by their selected model and use their class "
                   f"champion or {config.fallback_model!r} instead: "
                   + ", ".join(str(uid) for uid in panel.ids[failed][:5]))
        result_warnings.append(message)
        log.warning(message)
    yhat = np.clip(yhat, 0.0, None)

    residuals = (bt.actuals - selected_backtest(bt, chosen)).reshape(panel.n_series, -1)
    labels = selection["demand_class"].to_numpy(dtype=object)
    whole_units = whole_unit_rows(panel.values)
    calibration = None
    if config.calibrate_intervals:
        calibration = calibrate(bt.actuals, selected_backtest(bt, chosen), labels,
                                tuple(level / 100 for level in config.levels), config.service_levels, whole_units)
    shifts = _error_shifts(panel, residuals, labels, config, calibration, folds=bt.actuals.shape[1])
    frame = _forecast_frame(panel, config, yhat, shifts, chosen, selection, whole_units)
    seconds = sum(part.seconds for part in parts) + time.perf_counter() - started
    return ForecastResult(frame, selection, bt, config, panel, residuals, result_warnings, seconds, calibration)


def _merge_parts(parts: list[ForecastPart]) -> tuple[Backtest, dict[str, np.ndarray]]:
    """One backtest and one set of fits from the parts, rows in the order of the ids (as one panel has them)."""
    if len(parts) == 1:
        return parts[0].backtest, parts[0].fits
    first = parts[0].backtest
    models = first.models
    for part in parts[1:]:
        same_config = replace(part.backtest.config, n_jobs=1) == replace(first.config, n_jobs=1)  # n_jobs: per worker
        if part.backtest.models != models or not same_config:
            raise InputError("the parts of a forecast run were made with different models or parameters: "
                             f"{models} vs {part.backtest.models}")
    panel = Panel.concat([part.backtest.panel for part in parts])
    ids = panel.ids.astype(str)
    if len(set(ids)) != len(ids):
        raise InputError("the parts of a forecast run overlap: a series is in more than one part")
    order = np.argsort(ids, kind="stable")
    panel = panel.subset(order)

    def stack(arrays: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(arrays)[order]

    bts = [part.backtest for part in parts]
    forecasts = {name: stack([bt.forecasts[name] for bt in bts]) for name in models}
    actuals = stack([bt.actuals for bt in bts])
    classes = pd.concat([bt.classes for bt in bts], ignore_index=True).iloc[order].reset_index(drop=True)
    table = pd.concat([bt.metrics for bt in bts if not bt.metrics.empty], ignore_index=True) \
        if any(not bt.metrics.empty for bt in bts) else pd.DataFrame()
    if not table.empty:
        position = pd.Series(np.arange(len(ids)), index=panel.ids.astype(str))
        model_order = {name: i for i, name in enumerate(models)}
        table = table.assign(_m=table["model"].map(model_order), _r=table["unique_id"].map(position))
        table = table.sort_values(["_m", "_r"], kind="stable").drop(columns=["_m", "_r"]).reset_index(drop=True)
    summary = _summary_table(table, panel.ids, forecasts, actuals)
    seconds = {name: 0.0 for name in models}
    for bt in bts:
        if not bt.summary.empty and "seconds" in bt.summary.columns:
            for name, value in zip(bt.summary["model"], bt.summary["seconds"], strict=True):
                seconds[name] += float(value)
    if not summary.empty:
        summary["seconds"] = summary["model"].map(seconds).round(3)
    skipped = pd.concat([bt.skipped for bt in bts], ignore_index=True).drop_duplicates()
    merged = Backtest(panel, first.config, list(models), forecasts, actuals, stack([bt.cutoffs for bt in bts]),
                      stack([bt.scale2 for bt in bts]), stack([bt.scale1 for bt in bts]), table, summary, skipped,
                      classes, [w for bt in bts for w in bt.warnings], sum(bt.seconds for bt in bts))
    names = parts[0].fits.keys()
    fits = {name: stack([part.fits[name] for part in parts]) for name in names}
    return merged, fits


def select_models(bt: Backtest, margin: float | None = None) -> pd.DataFrame:
    """Per series: the candidate to use, its class champion, the RMSSE and why it was chosen."""
    margin = bt.config.selection_margin if margin is None else margin
    names = bt.models
    n = bt.panel.n_series
    table = bt.metrics
    rmsse = _wide(table, "rmsse", bt.panel.ids, names)
    mse = _wide(table, "mse", bt.panel.ids, names)
    classes = bt.classes["demand_class"].to_numpy(dtype=object)
    sparse = np.isin(classes, ["intermittent", "lumpy"])
    excluded = np.array([name in NOT_FOR_INTERMITTENT for name in names])
    rmsse[np.ix_(sparse, excluded)] = np.nan
    mse[np.ix_(sparse, excluded)] = np.nan
    has_rmsse = np.isfinite(rmsse).any(axis=1)
    score = np.where(has_rmsse[:, None], rmsse, mse)
    evaluated = np.isfinite(score).any(axis=1)
    score_filled = np.where(np.isfinite(score), score, np.inf)
    best = np.argmin(score_filled, axis=1)

    champion = np.full(n, -1)
    for demand_class in pd.unique(classes):
        members = (classes == demand_class) & has_rmsse
        if not members.any():
            continue
        covered = np.all(np.isfinite(rmsse[members]), axis=0)
        if not covered.any():
            continue
        means = np.where(covered, _row_mean(rmsse[members].T), np.inf)
        champion[classes == demand_class] = int(np.argmin(means))

    idx = np.arange(n)
    has_champion = (champion >= 0) & evaluated
    champ_score = np.where(has_champion, score_filled[idx, np.maximum(champion, 0)], np.inf)
    own_score = score_filled[idx, best]
    keep_champion = has_champion & np.isfinite(champ_score) & ~(own_score < (1.0 - margin) * champ_score)
    pick = np.where(keep_champion, champion, best)
    model = np.where(evaluated, np.array(names, dtype=object)[pick], bt.config.fallback_model)
    reason = np.where(~evaluated, "too short to backtest",
                      np.where(keep_champion, np.where(pick == best, "best and class champion", "class champion"),
                               "best RMSSE"))
    return pd.DataFrame({
        "unique_id": bt.panel.ids.astype(str),
        "demand_class": classes,
        "adi": bt.classes["adi"].to_numpy(),
        "cv2": bt.classes["cv2"].to_numpy(),
        "model": model,
        "champion": np.where(champion >= 0, np.array(names, dtype=object)[np.maximum(champion, 0)], None),
        "rmsse": np.where(evaluated, rmsse[idx, pick], np.nan),
        "reason": reason,
    })


# --- internals ----------------------------------------------------------------------------------------

def build_models(config: EngineConfig, drivers: Drivers | None = None) -> dict[str, Forecaster]:
    models: dict[str, Forecaster] = {}
    for name in config.models:
        if name in FAST_MODELS:
            models[name] = build_fast(name, config.season)
        else:
            models[name] = build_slow(name, config.season, config.freq, config.n_jobs)
    if drivers is not None and config.use_drivers:
        models[DriversGLM.name] = DriversGLM(drivers)
    return models


def slow_model_ranking(ids: np.ndarray, volume: np.ndarray, lengths: np.ndarray, config: EngineConfig) -> np.ndarray:
    """The series the slow models may run on, best first: by total volume (ties in the order of the
    ids), only series long enough to backtest and with some demand. Its first ``top_k`` /
    ``auto_top_k`` are the run's top-K (intermittent ones are then skipped)."""
    ids = np.asarray(ids).astype(str)
    order = np.argsort(ids, kind="stable")
    ids, volume, lengths = ids[order], np.asarray(volume, dtype="float64")[order], np.asarray(lengths)[order]
    backtestable = lengths >= config.min_train_length + config.horizon
    ranked = [i for i in np.argsort(-volume, kind="stable") if backtestable[i] and volume[i] > 0]
    return ids[ranked]


def _rows_by_model(panel: Panel, classes: pd.DataFrame, config: EngineConfig, models: dict[str, Forecaster],
                   ranking: np.ndarray | None = None) -> tuple[dict[str, np.ndarray], list[tuple[str, str, str]]]:
    """Which series each model runs on: all for fast models, top-K non-intermittent for slow ones
    (the top-K of ``ranking``, the run's, of which this panel may hold only some)."""
    rows: dict[str, np.ndarray] = {}
    skipped: list[tuple[str, str, str]] = []
    if ranking is None:
        ranking = slow_model_ranking(panel.ids, np.nansum(panel.values, axis=1), panel.lengths, config)
    row_of = {uid: i for i, uid in enumerate(panel.ids.astype(str))}
    labels = classes["demand_class"].to_numpy(dtype=object)
    for name, model in models.items():
        mask = np.ones(panel.n_series, dtype=bool)
        if model.slow:
            k = config.top_k if name in TOP_K_MODELS else config.auto_top_k
            mask[:] = False
            for i in [row_of[uid] for uid in ranking[:k] if uid in row_of]:
                if labels[i] in INTERMITTENT_CLASSES:
                    reason = (f"{labels[i]} demand (ADI {classes['adi'].iat[i]:.2f}, CV² {classes['cv2'].iat[i]:.2f})"
                              if labels[i] != "no_demand" else "no demand")
                    skipped.append((str(panel.ids[i]), name, reason))
                    log.info("%s skipped for %s: %s", name, panel.ids[i], reason)
                else:
                    mask[i] = True
            log.info("%s runs on %d of %d series (top %d by volume, intermittent ones skipped)",
                     name, int(mask.sum()), panel.n_series, k)
        rows[name] = mask
    return rows, skipped


def _metrics_table(panel: Panel, classes: pd.DataFrame, forecasts: dict[str, np.ndarray], actuals: np.ndarray,
                   scale2: np.ndarray, scale1: np.ndarray, config: EngineConfig) -> pd.DataFrame:
    n, k_folds, h = actuals.shape
    fold_valid = np.isfinite(actuals).all(axis=2)
    flat_actuals = actuals.reshape(n, -1)
    frames = []
    for name, fc in forecasts.items():
        covered = np.isfinite(fc).all(axis=2)
        complete = np.all(covered | ~fold_valid, axis=1) & fold_valid.any(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            fold_mse = _row_mean(((actuals - fc) ** 2).reshape(n * k_folds, h)).reshape(n, k_folds)
            fold_rmsse = np.where(fold_valid & (scale2 > 0), np.sqrt(fold_mse / scale2), np.nan)
        mean_rmsse = _row_mean(fold_rmsse)
        flat = np.where(complete[:, None], fc.reshape(n, -1), np.nan)
        mse = _row_mean((flat_actuals - flat) ** 2)
        frame = pd.DataFrame({
            "unique_id": panel.ids.astype(str),
            "model": name,
            "demand_class": classes["demand_class"].to_numpy(),
            "folds": fold_valid.sum(axis=1),
            "rmsse": np.where(complete, mean_rmsse, np.nan),
            "mse": mse,
            "wape": np.where(complete, metrics.wape(flat_actuals, flat), np.nan),
            "bias": np.where(complete, metrics.bias(flat_actuals, flat), np.nan),
            "mape": np.where(complete, metrics.mape(flat_actuals, flat), np.nan),
        })
        for level in config.service_levels:
            frame[f"spl_{round(level * 100)}"] = _scaled_pinball_loo(actuals, fc, scale1, level, complete)
        frames.append(frame[complete])
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _scaled_pinball_loo(actuals: np.ndarray, fc: np.ndarray, scale1: np.ndarray, q: float,
                        complete: np.ndarray) -> np.ndarray:
    """Scaled pinball loss of the quantile ``forecast + error quantile``, the quantile of each fold
    estimated from the errors of the other folds (honest: never from the fold it is scored on)."""
    n, k_folds, h = actuals.shape
    out = np.full(n, np.nan)
    if k_folds < 2 or not complete.any():
        return out
    errors = actuals - fc
    losses = np.full((n, k_folds), np.nan)
    for fold in range(k_folds):
        others = np.delete(errors, fold, axis=1).reshape(n, -1)
        enough = np.isfinite(others).sum(axis=1) >= MIN_RESIDUALS
        rows = complete & enough & np.isfinite(actuals[:, fold]).all(axis=1)
        if not rows.any():
            continue
        shift = np.nanquantile(others[rows], q, axis=1)
        quantile = np.clip(fc[rows, fold] + shift[:, None], 0.0, None)
        with np.errstate(invalid="ignore", divide="ignore"):
            losses[rows, fold] = np.where(scale1[rows, fold] > 0,
                                          metrics.pinball(actuals[rows, fold], quantile, q) / scale1[rows, fold],
                                          np.nan)
    return _row_mean(losses)


def _row_mean(values: np.ndarray) -> np.ndarray:
    """Mean of the finite values of each row; NaN for rows without any (no warning)."""
    counted = np.isfinite(values)
    count = counted.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, np.where(counted, values, 0.0).sum(axis=1) / count, np.nan)


def _summary_table(table: pd.DataFrame, ids: np.ndarray, forecasts: dict[str, np.ndarray],
                   actuals: np.ndarray) -> pd.DataFrame:
    """Per candidate over the series it was evaluated on: count, mean RMSSE, WAPE and bias pooled
    over those series, mean MAPE and mean scaled pinball losses."""
    columns = ["model", "series", "rmsse", "wape", "bias", "mape"]
    if table.empty:
        return pd.DataFrame(columns=columns)
    n = actuals.shape[0]
    flat_actuals = actuals.reshape(n, -1)
    rows = []
    for name in forecasts:
        part = table[table["model"] == name]
        if part.empty:
            continue
        evaluated = np.isin(ids.astype(str), part["unique_id"].to_numpy())
        flat = forecasts[name].reshape(n, -1)
        both = np.isfinite(flat) & np.isfinite(flat_actuals) & evaluated[:, None]
        total = flat_actuals[both].sum()
        row = {
            "model": name,
            "series": int(len(part)),
            "rmsse": float(part["rmsse"].mean()),
            "wape": float(np.abs(flat_actuals[both] - flat[both]).sum() / total) if total > 0 else float("nan"),
            "bias": float((flat[both] - flat_actuals[both]).sum() / total) if total > 0 else float("nan"),
            "mape": float(part["mape"].mean()),
        }
        for column in [c for c in part.columns if c.startswith("spl_")]:
            row[column] = float(part[column].mean())
        rows.append(row)
    return pd.DataFrame(rows).sort_values("rmsse", kind="stable").reset_index(drop=True)


def _wide(table: pd.DataFrame, column: str, ids: np.ndarray, names: list[str]) -> np.ndarray:
    out = np.full((len(ids), len(names)), np.nan)
    if table.empty:
        return out
    row_of = {uid: i for i, uid in enumerate(ids.astype(str))}
    col_of = {name: j for j, name in enumerate(names)}
    r = table["unique_id"].map(row_of).to_numpy()
    c = table["model"].map(col_of).to_numpy()
    out[r, c] = table[column].to_numpy(dtype="float64")
    return out


def selected_backtest(bt: Backtest, chosen: np.ndarray) -> np.ndarray:
    """Backtest forecasts (n, folds, h) of each series' chosen model (NaN when it was not backtested)."""
    out = np.full(bt.actuals.shape, np.nan)
    for name in pd.unique(chosen):
        if name in bt.forecasts:
            rows = chosen == name
            out[rows] = bt.forecasts[name][rows]
    return out


def _error_shifts(panel: Panel, residuals: np.ndarray, classes: np.ndarray, config: EngineConfig,
                  calibration: Calibration | None, folds: int = 1) -> dict[tuple[str, float], np.ndarray]:
    """What to add to the forecast for every bound: ('lo' | 'hi', level) for the intervals and
    ('q', service level) for the quantiles, one value per series: the quantile of the series'
    backtest errors (``residuals``: n x (folds x h), fold after fold) at its class's calibrated level.
    With a calibration, the quantile is built as the calibration measured it: on the errors of all
    folds but one, averaged over the fold left out. The nominal level was chosen for quantiles of that
    many errors; taken on all the errors at once, a level near the top of the grid reaches further
    into the tail than the calibration saw (the 95 % interval covered 98.4 % of future Poisson demand
    that way, tests/ml/test_forecast_calibrate.py). Series with fewer than MIN_RESIDUALS errors use
    the spread of their own recent history around its mean instead."""
    n = panel.n_series
    enough = np.isfinite(residuals).sum(axis=1) >= MIN_RESIDUALS
    recent = panel.values[:, -max(28, 2 * MIN_RESIDUALS):]
    with np.errstate(invalid="ignore"):
        centred = recent - np.nanmean(recent, axis=1, keepdims=True)
    wanted: list[tuple[str, float, str, float]] = []  # (bound, target, kind, target as a fraction)
    for level in config.levels:
        wanted += [("lo", level, "interval", level / 100), ("hi", level, "interval", level / 100)]
    wanted += [("q", level, "quantile", level) for level in config.service_levels]
    out = {(bound, target): np.zeros(n) for bound, target, _, _ in wanted}
    for demand_class in pd.unique(classes):
        members = classes == demand_class
        probabilities = []
        for bound, _, kind, fraction in wanted:
            nominal = calibration.nominal(str(demand_class), kind, fraction) if calibration else fraction
            lo_q, hi_q = interval_quantiles(nominal)
            probabilities.append(lo_q if bound == "lo" else hi_q if bound == "hi" else nominal)
        for rows, source in ((members & enough, residuals), (members & ~enough, centred)):
            if not rows.any():
                continue
            with np.errstate(invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a fold's sample may be all NaN
                if source is residuals and calibration is not None and folds >= 2:
                    values = np.nanmean([np.nanquantile(np.delete(_by_fold(source[rows], folds), fold, axis=1)
                                                        .reshape(int(rows.sum()), -1), probabilities, axis=1)
                                         for fold in range(folds)], axis=0)
                else:
                    values = np.nanquantile(source[rows], probabilities, axis=1)
            for k, (bound, target, _, _) in enumerate(wanted):
                out[(bound, target)][rows] = np.nan_to_num(values[k])
    return out


def _by_fold(errors: np.ndarray, folds: int) -> np.ndarray:
    """(n, folds x h) errors as (n, folds, h)."""
    return errors.reshape(errors.shape[0], folds, -1)


def _forecast_frame(panel: Panel, config: EngineConfig, yhat: np.ndarray, shifts: dict[tuple[str, float], np.ndarray],
                    chosen: np.ndarray, selection: pd.DataFrame, whole_units: np.ndarray) -> pd.DataFrame:
    n, h = yhat.shape
    frame = pd.DataFrame({
        "unique_id": np.repeat(panel.ids.astype(str), h),
        "ds": panel.future_dates(h).ravel(),
        "model": np.repeat(chosen, h),
        "demand_class": np.repeat(selection["demand_class"].to_numpy(dtype=object), h),
        "yhat": yhat.ravel(),
    })
    previous: tuple[np.ndarray, np.ndarray] | None = None
    for level in sorted(config.levels):  # narrow first: a wider interval never sits inside a narrower one
        lo, hi = bounds(yhat, shifts[("lo", level)][:, None], shifts[("hi", level)][:, None], whole_units)
        if previous is not None:
            lo, hi = np.minimum(lo, previous[0]), np.maximum(hi, previous[1])
        previous = (lo, hi)
        frame[f"yhat_lo_{level}"] = lo.ravel()
        frame[f"yhat_hi_{level}"] = hi.ravel()
    frame = frame[[*frame.columns[:5], *[f"yhat_{b}_{lv}" for lv in config.levels for b in ("lo", "hi")]]]
    for level in config.service_levels:
        frame[f"yhat_q{round(level * 100)}"] = np.clip(yhat + shifts[("q", level)][:, None], 0.0, None).ravel()
    return frame


def _too_short_message(panel: Panel, config: EngineConfig, rows: np.ndarray) -> str:
    need = config.min_train_length + config.horizon
    listed = [f"{panel.ids[i]} ({int(panel.lengths[i])})" for i in rows[:5]]
    more = f" (and {len(rows) - 5} more)" if len(rows) > 5 else ""
    return (f"{len(rows)} series too short to backtest (need at least {need} observations = "
            f"min_train {config.min_train_length} + horizon {config.horizon}): {', '.join(listed)}{more}")


def _json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    records = []
    for record in frame.to_dict(orient="records"):
        records.append({k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in record.items()})
    return records


def _selection_metrics(result: ForecastResult) -> dict[str, Any]:
    """Backtest metrics of the selected model of each series (in-sample to the selection)."""
    bt = result.backtest
    assert bt is not None
    chosen = result.selection.set_index("unique_id")["model"]
    table = bt.metrics
    picked = table[table["model"].to_numpy() == chosen.reindex(table["unique_id"]).to_numpy()]
    out: dict[str, Any] = {"series": int(len(picked)), "rmsse": _finite(picked["rmsse"].mean())}
    for column in ("wape", "bias", "mape", *[c for c in picked.columns if c.startswith("spl_")]):
        out[column] = _finite(picked[column].mean())
    return out


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None
