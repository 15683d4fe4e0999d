"""Exogenous drivers and the candidate that uses them: a Poisson regression per material.

Demand for spare parts rises in the April-July rains, after storms, and for transmission parts
where the 5G rollout is busy (``marts.fct_demand_drivers_daily``, one row per site city and day).
:class:`DriversGLM` fits, for each group of series (a material across its sites: the effects are
the material's, the level is each site's), a Poisson regression with a log link::

    log E[y] = site level + trend + b_season * rainy_season_index + b_storm * storm_index
               + b_5g * rollout_activity + weekday and holiday effects

by maximum likelihood on up to ``max_train`` days (:func:`poisson_fixed_effects`), and forecasts
with the drivers *as known on the forecast day*: the rainy-season profile and the calendar are
known ahead; a storm is not, so future days use the city's expected storm index for that month;
5G activity stays at the latest month's. ``exp(b)`` is the multiplier of a driver's unit: the
effects the bench compares with the simulator's generating parameters (``bench/drivers.py``).

Why not scikit-learn's ``PoissonRegressor`` (used before): it penalises every coefficient, the sites'
levels too, and spare parts' levels are small (a part used once in ten days has log level -2.3): the
penalty pulls the levels toward 0 and the effects move to make up for it. On 47 sites x 730 days with
levels near -2.4, ``alpha=1e-3`` returned -0.50 for a true +0.30 effect; unpenalised it agrees with
:func:`poisson_fixed_effects` to three decimals. And it fits the levels as 47 one-hot columns
(a dense 34,310 x 54 Newton system per fit), where profiling them out leaves 7 unknowns: about
0.015 s per fit on that shape instead of 0.31 s (penalised) or 0.52 s (unpenalised), same estimates.

The candidate is backtested and selected per series like every other (it wins a series only where
it beats the univariate candidates); groups are independent, so any subset of whole groups
(materials) can be forecast on its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from nova_forecast.data import Panel, shift_dates
from nova_forecast.models import Forecaster

log = logging.getLogger(__name__)

#: the drivers read from the mart (the model's exogenous columns, in this order)
DRIVER_COLUMNS = ("rainy_season_index", "storm_index", "rollout_activity")
CALENDAR_COLUMNS = ("is_saturday", "is_sunday", "is_holiday")
FEATURES = DRIVER_COLUMNS + CALENDAR_COLUMNS


@dataclass(frozen=True)
class Drivers:
    """Features of every series on the panel's grid: column j of series i is the date
    ``last_ds[i] - (n_periods - 1 - j)`` and the ``horizon`` columns after ``n_periods`` are the
    future. ``observed`` is what happened (for fitting), ``known`` what a forecast made before the
    day would know (expected storm index instead of the storm). Shapes (features, series, T + horizon)."""

    observed: np.ndarray
    known: np.ndarray
    groups: np.ndarray

    def without_first(self, periods: int) -> Drivers:
        """The features of the panel without its first ``periods`` columns (the panel cut to a
        history window: :meth:`nova_forecast.data.Panel.last_days`); the future stays."""
        if periods <= 0:
            return self
        return Drivers(self.observed[:, :, periods:], self.known[:, :, periods:], self.groups)


def rollout_activity(stations_added: pd.Series, city: pd.Series) -> pd.Series:
    """5G stations a city gains in a month relative to its busiest month (0 .. 1): cities differ in
    size, the feed gives no population, so each city is its own scale."""
    busiest = stations_added.groupby(city).transform("max")
    return (stations_added / busiest.where(busiest > 0)).fillna(0.0)


def drivers_for_panel(panel: Panel, frame: pd.DataFrame, series_city: pd.Series, series_group: pd.Series,
                      horizon: int) -> Drivers:
    """Align the drivers mart (city, driver_date and its columns) with a panel.

    ``series_city`` and ``series_group`` map unique_id to the site's city and to the pooling group
    (the material). Days the mart does not cover get 0 for the drivers (no effect) and their
    calendar from the date itself.
    """
    mart = frame.copy()
    mart["driver_date"] = pd.to_datetime(mart["driver_date"])
    mart["rollout_activity"] = rollout_activity(mart["stations_5g_added"].astype(float).fillna(0.0), mart["city"])
    known_storm = mart["expected_storm_index"].astype(float)
    observed_storm = mart["storm_index"].astype(float).where(mart["is_observed"].astype(bool)).fillna(known_storm)
    cities = pd.Index(sorted(mart["city"].unique()))
    first, last = mart["driver_date"].min(), mart["driver_date"].max()
    days = pd.date_range(first, last, freq="D")
    shape = (len(cities), len(days))

    def grid(values: pd.Series) -> np.ndarray:
        out = np.zeros(shape)
        out[cities.get_indexer(mart["city"]), days.get_indexer(mart["driver_date"])] = values.to_numpy(dtype=float)
        return out

    season = grid(mart["rainy_season_index"].astype(float))
    activity = grid(mart["rollout_activity"])
    storms = {"observed": grid(observed_storm), "known": grid(known_storm)}

    n, width = panel.n_series, panel.n_periods + horizon
    ids = panel.ids.astype(str)
    dates = shift_dates(panel.last_ds[:, None], np.arange(-panel.n_periods + 1, horizon + 1)[None, :], panel.freq)
    dates = pd.DatetimeIndex(dates.ravel())
    column = days.get_indexer(dates).reshape(n, width)
    row = cities.get_indexer(series_city.reindex(ids).to_numpy())
    inside = (column >= 0) & (row[:, None] >= 0)
    safe_row, safe_col = np.maximum(row, 0)[:, None], np.maximum(column, 0)

    def take(matrix: np.ndarray) -> np.ndarray:
        return np.where(inside, matrix[safe_row, safe_col], 0.0)

    weekday = dates.dayofweek.to_numpy().reshape(n, width)
    holidays = mart.drop_duplicates("driver_date").set_index("driver_date")["is_holiday"].astype(bool)
    is_holiday = holidays.reindex(dates).fillna(False).to_numpy(dtype=float).reshape(n, width)
    calendar = [(weekday == 5).astype(float), (weekday == 6).astype(float), is_holiday]
    features = {kind: np.stack([take(season), take(storm), take(activity), *calendar])
                for kind, storm in storms.items()}
    groups = series_group.reindex(ids).fillna(pd.Series(ids, index=ids)).to_numpy(dtype=object)
    return Drivers(features["observed"], features["known"], groups)


class DriversGLM(Forecaster):
    """Poisson regression on the drivers, one fit per group of series (see the module docstring)."""

    name: ClassVar[str] = "glm_drivers"
    #: precision of the N(0, 1/prior) prior on the trend and the effects (not on the sites' levels)
    prior: ClassVar[float] = 1.0

    def __init__(self, drivers: Drivers, max_train: int = 730) -> None:
        super().__init__()
        self.drivers = drivers
        self.max_train = max_train
        self.effects_: pd.DataFrame = pd.DataFrame()
        self._fits: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._width = 0

    def _fit(self, panel: Panel) -> None:
        self._fits, self._width = [], panel.n_periods
        start = max(panel.n_periods - self.max_train, 0)
        history = panel.values[:, start:]
        features = self.drivers.observed[:, :, start:panel.n_periods]
        t = (np.arange(start, panel.n_periods) - panel.n_periods) / 365.0
        records = []
        for group in pd.unique(self.drivers.groups[self._rows]):
            members = np.flatnonzero(self._rows & (self.drivers.groups == group))
            y = history[members]
            seen = np.isfinite(y)
            if seen.sum() < 60 or np.nansum(y) <= 0:
                self.skipped.update({str(panel.ids[i]): "too little demand for the drivers model" for i in members})
                continue
            # from the group's first counted day: the same arrays (so the same bits) whatever else the panel holds
            first = int(np.argmax(seen.any(axis=0)))
            levels, coefficients = poisson_fixed_effects(y[:, first:], seen[:, first:],
                                                         _covariates(features[:, members, first:], t[first:]),
                                                         prior=self.prior)
            self._fits.append((members, levels, coefficients))
            records.append({"group": group, "series": len(members), "trend_per_year": coefficients[0],
                            **dict(zip(FEATURES, coefficients[1:], strict=True))})
        self.effects_ = pd.DataFrame(records)

    def predict(self, h: int) -> np.ndarray:
        out = np.full((self._n, h), np.nan)
        t = (np.arange(self._width, self._width + h) - self._width) / 365.0
        for members, levels, coefficients in self._fits:
            future = _covariates(self.drivers.known[:, members, self._width:self._width + h], t)
            with np.errstate(divide="ignore"):
                out[members] = np.exp(levels[:, None] + future @ coefficients)
        return self._masked(out)

    def params(self) -> dict[str, Any]:
        return {"features": list(FEATURES), "prior_precision": self.prior, "max_train": self.max_train,
                "grouped_by": "material"}


def _covariates(features: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(series, days, 1 + k): the trend in years, then the features (k, series, days)."""
    k, members, days = features.shape
    trend = np.broadcast_to(t, (members, days))[:, :, None]
    return np.concatenate([trend, features.transpose(1, 2, 0)], axis=2)


def poisson_fixed_effects(y: np.ndarray, seen: np.ndarray, z: np.ndarray, prior: float = 1.0,
                          max_iter: int = 50, tol: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    """Poisson regression ``log E[y_st] = a_s + z_st . b`` with a level per series, by maximum
    likelihood; returns (levels ``a``, coefficients ``b``).

    ``y`` is (series, days), counted where ``seen``; ``z`` is (series, days, p). The levels have a
    closed form given ``b`` (``a_s = log(sum_t y_st / sum_t exp(z_st . b))``, -inf for a series without
    demand), so Newton's method runs on ``b`` alone (p unknowns, not series + p) on the profile
    log-likelihood ``sum y z.b - sum_s Y_s log sum_t exp(z_st . b) - prior/2 |b|^2``, which is
    concave; a step that does not raise it is halved. The prior keeps ``b`` finite when a driver's
    days never see demand. A series without a counted day gets a NaN level (no forecast).
    """
    active = seen.any(axis=1)
    if not active.all():
        levels = np.full(len(y), np.nan)
        levels[active], b = poisson_fixed_effects(y[active], seen[active], z[active], prior, max_iter, tol)
        return levels, b
    counts = np.where(seen, y, 0.0)
    totals = counts.sum(axis=1)
    covariates = np.where(seen[:, :, None], z, 0.0)
    p = covariates.shape[2]
    observed = covariates.reshape(-1, p)
    linear = observed.T @ counts.ravel()

    def evaluate(b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        """Profile log-likelihood, its gradient and information, and each series' log sum_t exp(z . b)."""
        eta = np.where(seen, covariates @ b, -np.inf)
        top = eta.max(axis=1, keepdims=True)
        weights = np.exp(eta - top)
        mass = weights.sum(axis=1)
        normaliser = np.log(mass) + top[:, 0]
        value = linear @ b - totals @ normaliser - prior / 2 * b @ b
        share = weights / mass[:, None]
        mean = np.einsum("st,stp->sp", share, covariates)
        gradient = linear - totals @ mean - prior * b
        weighted = (totals[:, None] * share).reshape(-1, 1) * observed
        information = weighted.T @ observed - (totals[:, None] * mean).T @ mean + prior * np.eye(p)
        return value, gradient, information, normaliser

    b = np.zeros(p)
    value, gradient, information, normaliser = evaluate(b)
    for _ in range(max_iter):
        step = np.linalg.solve(information, gradient)
        for _ in range(30):
            candidate = evaluate(b + step)
            if candidate[0] >= value - 1e-12:
                break
            step = step / 2
        b = b + step
        value, gradient, information, normaliser = candidate
        if np.abs(step).max() < tol:
            break
    else:
        log.warning("drivers model: Newton's method stopped after %d steps without converging (last step %.2g)",
                    max_iter, np.abs(step).max())
    with np.errstate(divide="ignore"):
        return np.log(totals) - normaliser, b
