"""Exogenous drivers and the candidate that uses them: a Poisson regression per material.

Demand for spare parts rises in the April-July rains, after storms, and for transmission parts
where the 5G rollout is busy (``marts.fct_demand_drivers_daily``, one row per site city and day).
:class:`DriversGLM` fits, for each group of series (a material across its sites: the effects are
the material's, the level is each site's), a Poisson regression with a log link::

    log E[y] = site level + trend + b_season * rainy_season_index + b_storm * storm_index
               + b_5g * rollout_activity + weekday and holiday effects

(scikit-learn's ``PoissonRegressor``, a small L2 penalty) on up to ``max_train`` days, and forecasts
with the drivers *as known on the forecast day*: the rainy-season profile and the calendar are
known ahead; a storm is not, so future days use the city's expected storm index for that month;
5G activity stays at the latest month's. ``exp(b)`` is the multiplier of a driver's unit: the
effects the bench compares with the simulator's generating parameters (``bench/drivers.py``).

The candidate is backtested and selected per series like every other (it wins a series only where
it beats the univariate candidates); groups are independent, so any subset of whole groups
(materials) can be forecast on its own.
"""

from __future__ import annotations

import logging
import warnings
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
    penalty: ClassVar[float] = 1e-3

    def __init__(self, drivers: Drivers, max_train: int = 730) -> None:
        super().__init__()
        self.drivers = drivers
        self.max_train = max_train
        self.effects_: pd.DataFrame = pd.DataFrame()
        self._fits: list[tuple[np.ndarray, np.ndarray, np.ndarray, float]] = []
        self._width = 0

    def _fit(self, panel: Panel) -> None:
        from sklearn.linear_model import PoissonRegressor

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
            design = _design(features[:, members], t, len(members))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = PoissonRegressor(alpha=self.penalty, fit_intercept=False, solver="newton-cholesky",
                                         max_iter=100)
                model.fit(design[seen.ravel()], y[seen])
            coefficients = model.coef_
            self._fits.append((members, coefficients, seen, t[-1]))
            effects = dict(zip(FEATURES, coefficients[len(members) + 1:], strict=True))
            records.append({"group": group, "series": len(members), "trend_per_year": coefficients[len(members)],
                            **effects})
        self.effects_ = pd.DataFrame(records)

    def predict(self, h: int) -> np.ndarray:
        out = np.full((self._n, h), np.nan)
        t = (np.arange(self._width, self._width + h) - self._width) / 365.0
        for members, coefficients, _, _ in self._fits:
            future = self.drivers.known[:, members, self._width:self._width + h]
            design = _design(future, t, len(members))
            out[members] = np.exp(design @ coefficients).reshape(len(members), h)
        return self._masked(out)

    def params(self) -> dict[str, Any]:
        return {"features": list(FEATURES), "penalty": self.penalty, "max_train": self.max_train,
                "grouped_by": "material"}


def _design(features: np.ndarray, t: np.ndarray, members: int) -> np.ndarray:
    """Rows (series x days) of: one-hot series level, trend in years, the features."""
    k, _, days = features.shape
    levels = np.repeat(np.eye(members), days, axis=0)
    trend = np.tile(t, members)[:, None]
    return np.hstack([levels, trend, features.transpose(1, 2, 0).reshape(members * days, k)])
