"""Daily demand per active material-site: the generating mean and a sampled realisation.

Demand events (field jobs needing the part) arrive as a Poisson process whose daily rate is the
material's base rate times the site's size, the rainy season (scaled by how rain-sensitive the
material is), crew activity (Sundays, holidays), the site's growth and recent heavy rain in the
site's city. Each event takes ``1 + Poisson(size - 1)`` units, so the expected daily demand is
``rate * size``. Fast movers (connectors, consumables) are smooth; most parts are intermittent
(most days zero); cables and battery strings are lumpy (rare, large).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from nova_corrente.erp_simulator.config import midnight_dates, rng_for
from nova_corrente.erp_simulator.seasonality import rainy_season_index, workday_factor

SEASON_STRENGTH = 0.5
STORM_STRENGTH = 0.25
STORM_WINDOW_DAYS = 3
STORM_SCALE_MM = 40.0


@dataclass(frozen=True)
class DemandMatrices:
    """(day x series) matrices; series are the columns of ``series`` in order."""

    series: pd.DataFrame
    expected: np.ndarray
    demand: np.ndarray


def build_series(
    pairs: np.ndarray, material_params: pd.DataFrame, site_params: pd.DataFrame
) -> pd.DataFrame:
    """One row per stocked (material, site), ordered by material then site."""
    m_idx, s_idx = np.nonzero(pairs)
    mat = material_params.iloc[m_idx].reset_index(drop=True)
    site = site_params.iloc[s_idx].reset_index(drop=True)
    return pd.DataFrame(
        {
            "material_id": mat["material_id"],
            "site_id": site["site_id"],
            "city": site["city"],
            "material_index": m_idx,
            "demand_profile": mat["profile"],
            "base_rate_per_day": mat["rate"] * site["demand_factor"],
            "mean_event_size": mat["size"].astype(float),
            "rain_sensitivity": mat["rain_sensitivity"],
            "growth_per_year": site["growth_per_year"],
            "pack": mat["pack"],
        }
    )


def storm_index(precipitation: np.ndarray) -> np.ndarray:
    """Rain over the last few days (inclusive) relative to a heavy-rain scale, capped at 1.5."""
    cumulative = np.cumsum(np.vstack([np.zeros((1, precipitation.shape[1])), precipitation]), axis=0)
    window = cumulative[1:] - cumulative[np.maximum(np.arange(1, len(cumulative)) - STORM_WINDOW_DAYS, 0)]
    return np.minimum(window / STORM_SCALE_MM, 1.5)


def expected_demand(
    days: np.ndarray, series: pd.DataFrame, precipitation: np.ndarray, cities: list[str]
) -> np.ndarray:
    """The generating mean daily demand, (day x series)."""
    sens = series["rain_sensitivity"].to_numpy()[None, :]
    season = np.maximum(1.0 + SEASON_STRENGTH * sens * rainy_season_index(days)[:, None], 0.3)
    workday = workday_factor(days)[:, None]
    years = ((days - days[0]).astype(float) / 365.25)[:, None] if len(days) else np.zeros((0, 1))
    growth = 1.0 + series["growth_per_year"].to_numpy()[None, :] * years
    city_col = pd.Index(cities).get_indexer(series["city"])
    storm = 1.0 + STORM_STRENGTH * sens * storm_index(precipitation)[:, city_col]
    rate = series["base_rate_per_day"].to_numpy()[None, :] * season * workday * growth * storm
    return rate * series["mean_event_size"].to_numpy()[None, :]


def sample_demand(seed: int, expected: np.ndarray, series: pd.DataFrame) -> np.ndarray:
    """Sampled daily demand (whole units) with mean ``expected``."""
    rng = rng_for(seed, "demand")
    size = series["mean_event_size"].to_numpy()[None, :]
    events = rng.poisson(expected / size)
    extra = rng.poisson(events * (size - 1.0))
    return (events + extra).astype(float)


def truth_frame(days: np.ndarray, series: pd.DataFrame, expected: np.ndarray) -> pd.DataFrame:
    """Long (material_id, site_id, demand_date, expected_demand), sorted by series then date."""
    n_days, n_series = expected.shape
    return pd.DataFrame(
        {
            "material_id": np.repeat(series["material_id"].to_numpy(dtype=object), n_days),
            "site_id": np.repeat(series["site_id"].to_numpy(dtype=object), n_days),
            "demand_date": np.tile(midnight_dates(days), n_series),
            "expected_demand": expected.T.reshape(-1),
        }
    )
