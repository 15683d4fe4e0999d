"""Slow candidate models fitted one series at a time: Prophet, pmdarima, statsforecast ETS/ARIMA.

They cost from tens of milliseconds (AutoETS) to seconds (pmdarima, seasonal ARIMA) per series
and fit, so the engine runs them only on the series it selects (``rows``: the top-K by volume
that are not intermittent); every other row of their forecast is NaN. Each model keeps the
training data in ``fit`` and fits in ``predict(h)``, one series after the other or in a process
pool (``n_jobs``). A series whose fit fails gets a NaN row and a reason in ``skipped``.

No network is used: Prophet runs its bundled CmdStan model and takes Brazil's national holidays
plus Bahia's (with carnival and other optional days, ``holidays`` package) as a holidays frame.
Heavy imports happen on first use, not at import time.
"""

from __future__ import annotations

import logging
import multiprocessing
import warnings
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from nova_forecast.data import Panel
from nova_forecast.models import Forecaster

log = logging.getLogger(__name__)

HOLIDAY_COUNTRY = "BR"
HOLIDAY_SUBDIVISION = "BA"


@lru_cache(maxsize=8)
def brazil_bahia_holidays(first_year: int, last_year: int) -> pd.DataFrame:
    """Holidays of Brazil and Bahia (public and optional days, e.g. carnival) as a Prophet frame."""
    import holidays

    calendar = holidays.country_holidays(
        HOLIDAY_COUNTRY, subdiv=HOLIDAY_SUBDIVISION, years=range(first_year, last_year + 1),
        categories=("public", "optional"),
    )
    rows = sorted(calendar.items())
    return pd.DataFrame({"holiday": [name for _, name in rows], "ds": pd.to_datetime([day for day, _ in rows])})


class PerSeriesForecaster(Forecaster):
    """Base class: keeps the selected series in ``fit``, fits each in ``predict``."""

    slow = True
    #: fewest observations this model is fitted on
    min_length: ClassVar[int] = 14

    def __init__(self, season_length: int = 7, n_jobs: int = 1, max_train: int | None = None) -> None:
        super().__init__()
        self.season_length = season_length
        self.n_jobs = n_jobs
        self.max_train = max_train
        self._jobs: list[tuple[int, np.ndarray, pd.DatetimeIndex]] = []

    def _fit(self, panel: Panel) -> None:
        self._jobs = []
        for i in np.flatnonzero(self._rows):
            y = panel.series(int(i))
            dates = panel.dates(int(i))
            if self.max_train is not None and len(y) > self.max_train:
                y, dates = y[-self.max_train:], dates[-self.max_train:]
            if len(y) < self.min_length:
                self.skipped[str(panel.ids[i])] = f"{len(y)} observations, {self.name} needs {self.min_length}"
                continue
            self._jobs.append((int(i), y, dates))
        self._ids = panel.ids

    def predict(self, h: int) -> np.ndarray:
        out = np.full((self._n, h), np.nan)
        tasks: list[Task] = [(self.name, self._settings(), y, dates, h) for _, y, dates in self._jobs]
        if self.n_jobs > 1 and len(tasks) > 1:
            # fork after importing the model's library once: workers inherit it instead of each
            # re-importing it (seconds for statsforecast/pmdarima), and one pool serves all series
            _preload(self.name)
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=self.n_jobs, mp_context=context) as pool:
                results = list(pool.map(_run_one, tasks, chunksize=max(1, len(tasks) // (4 * self.n_jobs))))
        else:
            results = [_run_one(task) for task in tasks]
        for (i, _, _), (forecast, error) in zip(self._jobs, results, strict=True):
            if error is None:
                out[i] = forecast
            else:
                self.skipped[str(self._ids[i])] = f"{self.name} failed: {error}"
                log.warning("%s failed on %s: %s", self.name, self._ids[i], error)
        return out

    def _settings(self) -> dict[str, Any]:
        return {"season_length": self.season_length}

    def params(self) -> dict[str, Any]:
        return {**self._settings(), "max_train": self.max_train}


def _quiet_prophet() -> None:
    """Prophet logs every CmdStan call and an ERROR when plotly (optional) is missing: silence both.

    cmdstanpy installs its own INFO handler on first use unless its logger already has one.
    """
    stan = logging.getLogger("cmdstanpy")
    if not any(isinstance(h, logging.NullHandler) for h in stan.handlers):
        stan.addHandler(logging.NullHandler())
    stan.setLevel(logging.WARNING)
    prophet_log = logging.getLogger("prophet")
    prophet_log.setLevel(logging.WARNING)
    if not any(isinstance(f, _ShortYearlyFilter) for f in prophet_log.filters):
        prophet_log.addFilter(_ShortYearlyFilter())
    logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)


class _ShortYearlyFilter(logging.Filter):
    """Drop Prophet's warning about yearly seasonality under two years: we ask for a 3-term yearly
    wave on purpose then (see ``_prophet``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Yearly seasonality is enabled with less than 730 days")


def _preload(name: str) -> None:
    if name == "prophet":
        _quiet_prophet()
        import prophet  # noqa: F401
    elif name == "pmdarima":
        import pmdarima  # noqa: F401
    else:
        import statsforecast.models  # noqa: F401
    import threadpoolctl  # noqa: F401


Task = tuple[str, dict[str, Any], np.ndarray, pd.DatetimeIndex, int]


def _run_one(task: Task) -> tuple[np.ndarray | None, str | None]:
    """Fit one series and forecast it: (forecast, None) or (None, reason). Top level, so picklable."""
    from threadpoolctl import threadpool_limits

    name, settings, y, dates, h = task
    try:
        # one BLAS thread: the fits are small matrices, where threads only contend (statsmodels
        # fits behind pmdarima went from 0.5 s to 10 s with two OpenBLAS threads on two cores)
        with warnings.catch_warnings(), threadpool_limits(limits=1):
            warnings.simplefilter("ignore")
            forecast = np.asarray(_FITTERS[name](y, dates, h, **settings), dtype="float64")
        if forecast.shape != (h,) or not np.all(np.isfinite(forecast)):
            return None, "non-finite forecast"
        return forecast, None
    except Exception as exc:  # a failed fit skips that series, never the run
        return None, f"{type(exc).__name__}: {exc}"


# --- the per-series fitters -----------------------------------------------------------------------

def _prophet(y: np.ndarray, dates: pd.DatetimeIndex, h: int, *, season_length: int, freq: str,
             yearly_min_days: int) -> np.ndarray:
    _quiet_prophet()
    from prophet import Prophet

    span_days = (dates[-1] - dates[0]).days + 1
    future = pd.DatetimeIndex(pd.date_range(dates[-1], periods=h + 1, freq=_pandas_freq(freq, dates[-1]))[1:])
    holidays_frame = None
    if freq == "D":
        holidays_frame = brazil_bahia_holidays(dates[0].year, future[-1].year)
    # yearly seasonality: Prophet's 10 Fourier terms with two years of history, a smooth 3-term
    # wave with one to two years (10 terms would chase one year's noise), none with less
    yearly: bool | int = 10 if span_days >= 2 * yearly_min_days else 3 if span_days >= yearly_min_days else False
    model = Prophet(
        growth="linear",
        yearly_seasonality=yearly,
        weekly_seasonality=freq == "D",
        daily_seasonality=False,
        holidays=holidays_frame,
        uncertainty_samples=0,  # intervals come from the backtest residuals
    )
    model.fit(pd.DataFrame({"ds": dates, "y": y}))
    return model.predict(pd.DataFrame({"ds": future}))["yhat"].to_numpy()


def _pmdarima(y: np.ndarray, dates: pd.DatetimeIndex, h: int, *, season_length: int, max_p: int, max_q: int,
              seasonal: bool) -> np.ndarray:
    """auto_arima, stepwise with small orders. Daily data: a non-seasonal ARIMA on weekly Fourier
    terms (K=2), much faster than a seasonal ARIMA with m=7; other frequencies: seasonal ARIMA
    when three seasons are observed."""
    import pmdarima

    common = dict(stepwise=True, max_p=max_p, max_q=max_q, max_d=1, max_order=4, suppress_warnings=True,
                  error_action="ignore", information_criterion="aicc")
    if seasonal and season_length == 7 and len(y) >= 3 * season_length:
        steps = np.arange(len(y) + h)
        terms = np.column_stack([f(2 * np.pi * k * steps / 7) for k in (1, 2) for f in (np.sin, np.cos)])
        model = pmdarima.auto_arima(y, X=terms[:len(y)], seasonal=False, **common)
        return np.asarray(model.predict(n_periods=h, X=terms[len(y):]))
    m = season_length if seasonal and season_length > 1 and len(y) >= 3 * season_length else 1
    model = pmdarima.auto_arima(y, seasonal=m > 1, m=m, max_P=1, max_Q=1, max_D=1, **common)
    return np.asarray(model.predict(n_periods=h))


def _statsforecast_ets(y: np.ndarray, dates: pd.DatetimeIndex, h: int, *, season_length: int) -> np.ndarray:
    from statsforecast.models import AutoETS

    m = season_length if len(y) >= 2 * season_length + 2 else 1
    return AutoETS(season_length=m).forecast(y=y, h=h)["mean"]


def _statsforecast_arima(y: np.ndarray, dates: pd.DatetimeIndex, h: int, *, season_length: int) -> np.ndarray:
    from statsforecast.models import AutoARIMA

    m = season_length if len(y) >= 3 * season_length else 1
    model = AutoARIMA(season_length=m, max_p=3, max_q=3, max_P=1, max_Q=1, max_order=4, stepwise=True)
    return model.forecast(y=y, h=h)["mean"]


def _pandas_freq(freq: str, last: pd.Timestamp) -> str:
    if freq == "W":
        return "W-" + last.day_name()[:3].upper()
    return freq


_FITTERS = {
    "prophet": _prophet,
    "pmdarima": _pmdarima,
    "ets": _statsforecast_ets,
    "arima": _statsforecast_arima,
}


class ProphetModel(PerSeriesForecaster):
    """Prophet: linear trend, weekly and yearly seasonality (from a year of history), BR/BA holidays."""

    name = "prophet"
    min_length = 28

    def __init__(self, season_length: int = 7, n_jobs: int = 1, max_train: int | None = None, freq: str = "D",
                 yearly_min_days: int = 365) -> None:
        super().__init__(season_length, n_jobs, max_train)
        self.freq = freq
        self.yearly_min_days = yearly_min_days

    def _settings(self) -> dict[str, Any]:
        return {"season_length": self.season_length, "freq": self.freq, "yearly_min_days": self.yearly_min_days}


class PmdarimaModel(PerSeriesForecaster):
    """pmdarima auto_arima, stepwise with small orders (p, q <= 2), on the last 182 periods at most."""

    name = "pmdarima"
    min_length = 21

    def __init__(self, season_length: int = 7, n_jobs: int = 1, max_train: int | None = 182, max_p: int = 2,
                 max_q: int = 2, seasonal: bool = True) -> None:
        super().__init__(season_length, n_jobs, max_train)
        self.max_p, self.max_q, self.seasonal = max_p, max_q, seasonal

    def _settings(self) -> dict[str, Any]:
        return {"season_length": self.season_length, "max_p": self.max_p, "max_q": self.max_q,
                "seasonal": self.seasonal}


class ETSModel(PerSeriesForecaster):
    """statsforecast AutoETS (numba), seasonal when at least two seasons are observed."""

    name = "ets"
    min_length = 14


class ARIMAModel(PerSeriesForecaster):
    """statsforecast AutoARIMA (numba), stepwise with small orders."""

    name = "arima"
    min_length = 21


SLOW_MODELS: dict[str, type[PerSeriesForecaster]] = {
    cls.name: cls for cls in (ProphetModel, PmdarimaModel, ETSModel, ARIMAModel)
}


def build_slow(name: str, season_length: int, freq: str, n_jobs: int = 1) -> PerSeriesForecaster:
    """A slow model by name, configured for the frequency."""
    if name == "prophet":
        return ProphetModel(season_length, n_jobs, freq=freq)
    if name == "pmdarima":
        return PmdarimaModel(season_length, n_jobs)
    if name == "ets":
        return ETSModel(season_length, n_jobs, max_train=365 if freq == "D" else None)
    return ARIMAModel(season_length, n_jobs, max_train=365 if freq == "D" else None)
