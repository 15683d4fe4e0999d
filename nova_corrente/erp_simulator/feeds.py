"""External feeds: daily weather per site city, daily economic indicators and the monthly ANATEL
5G rollout per site city, as landing CSVs.

Weather follows the rain profile that also drives corrective-maintenance demand (heavy April-July
rain on the coast, little in the semi-arid north), so the feed is a genuine leading signal. The 5G
rollout (licensed 5G stations per city and operator) starts in the big cities a couple of months
into the simulation and reaches the smaller ones later; the months in which a city gains stations
raise its transmission-family demand a little (``rollout_demand_factor``).
Files land as ``<landing>/weather/weather_<YYYY-MM>.csv``,
``<landing>/economic/economic_<YYYY-MM>.csv`` and ``<landing>/anatel_5g/anatel_5g_<YYYY-MM>.csv``,
one per month.
"""

from __future__ import annotations

import os
import tempfile
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from nova_corrente.contracts.feeds import FEEDS_BY_NAME
from nova_corrente.erp_simulator.catalog import city_climate
from nova_corrente.erp_simulator.config import ErpData, midnight_dates, rng_for
from nova_corrente.erp_simulator.seasonality import day_of_year, rain_profile_mm

WEATHER_COLUMNS = FEEDS_BY_NAME["weather"].column_names
ECONOMIC_COLUMNS = FEEDS_BY_NAME["economic"].column_names
ANATEL_5G_COLUMNS = FEEDS_BY_NAME["anatel_5g"].column_names

# operator -> relative pace of its 5G rollout
OPERATORS_5G: dict[str, float] = {"Claro": 1.15, "Vivo": 1.0, "TIM": 0.85}
# resident population of the site cities, thousands (2022 census, rounded)
CITY_POPULATION_K: dict[str, float] = {
    "Salvador": 2418, "Feira de Santana": 616, "Vitória da Conquista": 371, "Camaçari": 300,
    "Itabuna": 187, "Juazeiro": 238, "Lauro de Freitas": 203, "Ilhéus": 179, "Jequié": 159,
    "Teixeira de Freitas": 159, "Barreiras": 160, "Alagoinhas": 151, "Porto Seguro": 168,
    "Simões Filho": 114, "Paulo Afonso": 113, "Santo Antônio de Jesus": 103, "Valença": 86,
    "Guanambi": 88, "Irecê": 70, "Eunápolis": 114, "Senhor do Bonfim": 75, "Luís Eduardo Magalhães": 108,
}
DEFAULT_POPULATION_K = 80.0
# (minimum population in thousands, months after the simulation's first month when 5G starts)
LAUNCH_TIERS: tuple[tuple[float, int], ...] = ((500, 2), (250, 7), (150, 12), (100, 18), (0, 24))
LAUNCH_JITTER_MONTHS = 4  # each operator starts 0..3 months after its city's tier
RAMP_MONTHS = 6  # months from launch to the full pace
STATIONS_PER_100K_PER_MONTH = 0.9  # full pace of one operator (times its relative pace)
STATIONS_PER_100K_FOR_63PCT = 10.0  # coverage = 1 - exp(-stations per 100k / this)
MAX_COVERAGE_PCT = 98.0
ROLLOUT_DEMAND_STRENGTH = 0.15  # +15% transmission demand in a month at full rollout activity
ROLLOUT_ACTIVITY_SCALE = 3.0  # new stations per 100k inhabitants in a month counted as full activity


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


def month_range(days: np.ndarray) -> np.ndarray:
    """Every month (``datetime64[M]``) from the first to the last of ``days`` (sorted)."""
    if not len(days):
        return np.zeros(0, dtype="datetime64[M]")
    return np.arange(days[0].astype("datetime64[M]"), days[-1].astype("datetime64[M]") + 1)


def city_population_k(cities: list[str]) -> np.ndarray:
    """Population (thousands) per city; cities without a figure get ``DEFAULT_POPULATION_K``."""
    return np.array([CITY_POPULATION_K.get(city, DEFAULT_POPULATION_K) for city in cities], dtype=float)


def launch_month_index(population_k: np.ndarray) -> np.ndarray:
    """Months after the simulation's first month when 5G reaches each city (bigger = earlier)."""
    return np.array([next(m for low, m in LAUNCH_TIERS if pop >= low) for pop in population_k], dtype=int)


def simulate_5g_additions(seed: int, months: np.ndarray, cities: list[str]) -> np.ndarray:
    """New licensed 5G stations per (month x city x operator), whole numbers >= 0.

    Each operator launches in a city at the city's tier month plus 0-3 months, ramps up over
    ``RAMP_MONTHS`` and then adds Poisson(pace x population / 100k) stations a month.
    """
    rng = rng_for(seed, "anatel_5g")
    population = city_population_k(cities)
    pace = np.array(list(OPERATORS_5G.values()))
    shape = (len(months), len(cities), len(OPERATORS_5G))
    launch = launch_month_index(population)[:, None] + rng.integers(0, LAUNCH_JITTER_MONTHS, shape[1:])
    since = np.arange(len(months))[:, None, None] - launch[None, :, :]
    ramp = np.clip((since + 1) / RAMP_MONTHS, 0.0, 1.0)
    rate = STATIONS_PER_100K_PER_MONTH * (population / 100.0)[None, :, None] * pace[None, None, :] * ramp
    return rng.poisson(rate).astype(np.int64)


def anatel_5g_frame(months: np.ndarray, cities: list[str], additions: np.ndarray) -> pd.DataFrame:
    """Long rollout frame (city, reference_month, operator, stations_5g, population_covered_pct).

    ``stations_5g`` is the stock licensed before the reference month starts (a snapshot dated the
    first of the month, so the first month is 0); coverage grows with stations per inhabitant.
    Sorted by month, then city (site order), then operator.
    """
    stations = np.cumsum(additions, axis=0) - additions
    per_100k = stations / (city_population_k(cities) / 100.0)[None, :, None]
    coverage = np.minimum(100.0 * (1.0 - np.exp(-per_100k / STATIONS_PER_100K_FOR_63PCT)), MAX_COVERAGE_PCT)
    n_months, n_cities, n_operators = additions.shape
    return pd.DataFrame(
        {
            "city": np.tile(np.repeat(np.array(cities, dtype=object), n_operators), n_months),
            "reference_month": np.repeat(midnight_dates(months.astype("datetime64[D]")), n_cities * n_operators),
            "operator": np.tile(np.array(list(OPERATORS_5G), dtype=object), n_months * n_cities),
            "stations_5g": stations.reshape(-1).astype(np.int64),
            "population_covered_pct": np.round(coverage, 1).reshape(-1),
        }
    )


def rollout_demand_factor(
    days: np.ndarray, months: np.ndarray, cities: list[str], additions: np.ndarray,
    series_city: np.ndarray, is_transmission: np.ndarray,
) -> np.ndarray:
    """Multiplier of the expected demand, (day x series): 1 except for transmission materials in a
    city that gains 5G stations that month, up to ``1 + ROLLOUT_DEMAND_STRENGTH``."""
    per_100k = additions.sum(axis=2) / (city_population_k(cities) / 100.0)[None, :]
    activity = np.minimum(per_100k / ROLLOUT_ACTIVITY_SCALE, 1.0)
    month_of_day = (days.astype("datetime64[M]") - months[0]).astype(int) if len(days) else np.zeros(0, int)
    city_col = pd.Index(cities).get_indexer(series_city)
    uplift = ROLLOUT_DEMAND_STRENGTH * activity[month_of_day][:, city_col]
    return 1.0 + uplift * np.asarray(is_transmission, dtype=float)[None, :]


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
    """Write the weather, economic and ANATEL 5G feeds as one CSV per month under ``landing_dir``.

    Only rows whose date is over by ``until`` are written (None = all; a date counts as its
    midnight UTC), so a replayed ERP and its feeds stay in step: the current month's weather and
    economic files grow day by day, and a month's 5G snapshot (dated the 1st) appears on the 2nd.
    Idempotent: a file whose content would not change is not rewritten. Returns every feed file
    path for the data (written or unchanged).
    """
    weather, economic, anatel = data.weather, data.economic, data.anatel_5g
    if until is not None:
        cutoff = pd.Timestamp(until)
        if cutoff.tzinfo is not None:
            cutoff = cutoff.tz_convert("UTC").tz_localize(None)
        one_day = pd.Timedelta(days=1)
        weather = weather[weather["weather_date"] + one_day <= cutoff]
        economic = economic[economic["indicator_date"] + one_day <= cutoff]
        anatel = anatel[anatel["reference_month"] + one_day <= cutoff]
    paths: list[Path] = []
    feeds = (
        ("weather", weather, "weather_date", {"precipitation_mm": 1, "temperature_max_c": 1, "temperature_min_c": 1}),
        ("economic", economic, "indicator_date", {"usd_brl": 4, "selic_rate_pct": 2, "ipca_index": 2}),
        ("anatel_5g", anatel, "reference_month", {"population_covered_pct": 1}),
    )
    for feed, frame, date_col, decimals in feeds:
        for month, text in _month_csvs(frame, date_col, decimals).items():
            path = Path(landing_dir) / feed / f"{feed}_{month}.csv"
            _write_if_changed(path, text)
            paths.append(path)
    return paths
