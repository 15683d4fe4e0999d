"""External feeds: daily weather per site city and daily economic indicators, as landing CSVs.

Weather follows the rain profile that also drives corrective-maintenance demand (heavy April-July
rain on the coast, little in the semi-arid north), so the feed is a genuine leading signal.
Files land as ``<landing>/weather/weather_<YYYY-MM>.csv`` and
``<landing>/economic/economic_<YYYY-MM>.csv``, one per month.
"""

from __future__ import annotations

import os
import tempfile
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from nova_corrente.erp_simulator.catalog import city_climate
from nova_corrente.erp_simulator.config import ErpData, midnight_dates, rng_for
from nova_corrente.erp_simulator.seasonality import day_of_year, rain_profile_mm

WEATHER_COLUMNS = ("city", "weather_date", "precipitation_mm", "temperature_max_c", "temperature_min_c")
ECONOMIC_COLUMNS = ("indicator_date", "usd_brl", "selic_rate_pct", "ipca_index")


def _ar1(rng: np.random.Generator, shape: tuple[int, int], phi: float, sd: float) -> np.ndarray:
    """AR(1) noise along axis 0 with stationary standard deviation ``sd``."""
    shocks = rng.normal(0.0, sd * np.sqrt(1 - phi**2), shape)
    out = np.empty(shape)
    out[0] = rng.normal(0.0, sd, shape[1])
    for t in range(1, shape[0]):
        out[t] = phi * out[t - 1] + shocks[t]
    return out


def simulate_weather_matrix(seed: int, days: np.ndarray, cities: list[str]) -> dict[str, np.ndarray]:
    """Precipitation and temperatures as (day x city) matrices.

    Rain: a wet day happens with a probability that follows the season; its amount is gamma
    distributed so the mean matches Salvador's profile times the city's rain scale.
    """
    rng = rng_for(seed, "weather")
    climate = city_climate(cities)
    profile = rain_profile_mm(days)[:, None]
    wet_prob = 0.25 + 0.45 * profile / profile.max() if len(days) else profile
    mean_mm = profile * climate["rain_scale"].to_numpy()[None, :]
    shape_k = 0.8
    shape = (len(days), len(cities))
    wet = rng.random(shape) < wet_prob
    amount = rng.gamma(shape_k, 1.0, shape) * mean_mm / (wet_prob * shape_k)
    precipitation = np.round(np.where(wet, amount, 0.0), 1)
    season = np.cos(2 * np.pi * (day_of_year(days) - 45) / 365.25)[:, None]
    rain_cooling = np.minimum(0.08 * precipitation, 3.0)
    tmax = climate["tmax_mean"].to_numpy()[None, :] + 1.8 * season + _ar1(rng, shape, 0.7, 1.0) - rain_cooling
    tmin = climate["tmin_mean"].to_numpy()[None, :] + 1.5 * season + _ar1(rng, shape, 0.7, 0.7)
    tmin = np.minimum(tmin, tmax - 3.0)
    return {
        "precipitation_mm": precipitation,
        "temperature_max_c": np.round(tmax, 1),
        "temperature_min_c": np.round(tmin, 1),
    }


def weather_frame(days: np.ndarray, cities: list[str], matrices: dict[str, np.ndarray]) -> pd.DataFrame:
    """Long weather frame (city, weather_date, ...), sorted by date then city."""
    n_days, n_cities = len(days), len(cities)
    frame = pd.DataFrame(
        {
            "city": np.tile(np.array(cities, dtype=object), n_days),
            "weather_date": np.repeat(midnight_dates(days), n_cities),
        }
    )
    for name, matrix in matrices.items():
        frame[name] = matrix.reshape(-1)
    return frame


def simulate_economic(seed: int, days: np.ndarray) -> pd.DataFrame:
    """Daily USD/BRL (mean-reverting walk near 5.0-5.6), Selic (steps every ~45 days) and the
    IPCA number index (monthly, constant within a month)."""
    rng = rng_for(seed, "economic")
    n = len(days)
    usd = np.empty(n)
    level = np.log(5.3)
    x = level + rng.normal(0.0, 0.03)
    shocks = rng.normal(0.0, 0.006, n)
    for t in range(n):
        x = x + 0.02 * (level - x) + shocks[t]
        x = min(max(x, np.log(4.95)), np.log(5.75))
        usd[t] = np.exp(x)
    meeting = (np.arange(n) % 45) == 0
    steps = rng.choice(np.array([-0.5, -0.25, 0.0, 0.0, 0.25, 0.5]), size=n)
    selic = np.empty(n)
    rate = 13.25
    for t in range(n):
        if meeting[t] and t > 0:
            rate = min(max(rate + steps[t], 10.5), 14.75)
        selic[t] = rate
    month_index = days.astype("datetime64[M]").astype(int)
    month_index = month_index - (month_index.min() if n else 0)
    monthly = 1.0 + rng.uniform(0.0015, 0.0065, int(month_index.max()) + 1 if n else 0)
    ipca = 6800.0 * np.cumprod(monthly)[month_index] if n else np.zeros(0)
    return pd.DataFrame(
        {
            "indicator_date": midnight_dates(days),
            "usd_brl": np.round(usd, 4),
            "selic_rate_pct": np.round(selic, 2),
            "ipca_index": np.round(ipca, 2),
        }
    )


def _format_dates(series: pd.Series) -> pd.Series:
    return series.dt.strftime("%Y-%m-%d")


def _month_csvs(frame: pd.DataFrame, date_col: str, decimals: dict[str, int]) -> dict[str, str]:
    """CSV text per month ('YYYY-MM'), fixed number formatting so reruns are byte-identical."""
    out = frame.copy()
    for col, places in decimals.items():
        out[col] = out[col].map(f"{{:.{places}f}}".format)
    month = out[date_col].dt.strftime("%Y-%m")
    out[date_col] = _format_dates(out[date_col])
    return {
        key: part.to_csv(index=False, lineterminator="\n")
        for key, part in out.groupby(month, sort=True)
    }


def _write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` atomically unless the file already holds exactly it; True when written."""
    data = text.encode()
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)
    return True


def write_feed_files(
    data: ErpData, landing_dir: Path, until: date | datetime | None = None
) -> list[Path]:
    """Write the weather and economic feeds as one CSV per month under ``landing_dir``.

    Only days that are over by ``until`` are written (None = all; a date counts as its midnight
    UTC), so a replayed ERP and its feeds stay in
    step (the current month's file grows day by day). Idempotent: a file whose content would not
    change is not rewritten. Returns every feed file path for the data (written or unchanged).
    """
    weather, economic = data.weather, data.economic
    if until is not None:
        cutoff = pd.Timestamp(until)
        if cutoff.tzinfo is not None:
            cutoff = cutoff.tz_convert("UTC").tz_localize(None)
        one_day = pd.Timedelta(days=1)
        weather = weather[weather["weather_date"] + one_day <= cutoff]
        economic = economic[economic["indicator_date"] + one_day <= cutoff]
    paths: list[Path] = []
    feeds = (
        ("weather", weather, "weather_date", {"precipitation_mm": 1, "temperature_max_c": 1, "temperature_min_c": 1}),
        ("economic", economic, "indicator_date", {"usd_brl": 4, "selic_rate_pct": 2, "ipca_index": 2}),
    )
    for feed, frame, date_col, decimals in feeds:
        for month, text in _month_csvs(frame, date_col, decimals).items():
            path = Path(landing_dir) / feed / f"{feed}_{month}.csv"
            _write_if_changed(path, text)
            paths.append(path)
    return paths
