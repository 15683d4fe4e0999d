"""What to simulate (`SimulationConfig`) and what comes out (`ErpData`).

Table frames have exactly the columns of the ERP contract (``nova_corrente.contracts.erp``), in
its order. Date columns are ``datetime64`` at midnight (no time
zone), timestamp columns are UTC ``datetime64[us, UTC]``, quantities and money are ``float64``
holding values with at most two decimals.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd

from nova_corrente.contracts.erp import (  # noqa: F401 - re-exported for the simulator's modules
    MOVEMENT_SIGN,
    MOVEMENT_TYPES,
    PRIMARY_KEYS,
    TABLE_COLUMNS,
    TABLE_NAMES,
)

# The table contract (names, columns, keys, movement types) is nova_corrente.contracts.erp; the
# simulator writes exactly those tables.
TABLES: tuple[str, ...] = TABLE_NAMES


def yesterday_utc() -> date:
    """Yesterday's date in UTC (the default last simulated day)."""
    return datetime.now(UTC).date() - timedelta(days=1)


@dataclass(frozen=True)
class SimulationConfig:
    """Parameters of one simulated ERP; the same resolved config always gives the same data.

    ``start_date``/``end_date`` left as None are resolved when the simulation runs: the end is
    yesterday (UTC) and the start three years earlier (``end - 3 years + 1 day``).
    """

    seed: int = 42
    start_date: date | None = None
    end_date: date | None = None
    n_materials: int = 40
    n_sites: int = 15
    n_suppliers: int = 8
    site_stock_share: float = 0.6

    def __post_init__(self) -> None:
        for name in ("n_materials", "n_sites", "n_suppliers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0.0 < self.site_stock_share <= 1.0:
            raise ValueError(f"site_stock_share must be in (0, 1], got {self.site_stock_share}")
        if self.start_date and self.end_date and self.start_date > self.end_date:
            raise ValueError(f"start_date {self.start_date} is after end_date {self.end_date}")

    def resolved(self, today_minus_one: date | None = None) -> SimulationConfig:
        """This config with both dates filled in (defaults computed now unless given)."""
        end = self.end_date or today_minus_one or yesterday_utc()
        start = self.start_date
        if start is None:
            try:
                start = end.replace(year=end.year - 3) + timedelta(days=1)
            except ValueError:  # 29 February
                start = end.replace(year=end.year - 3, day=28) + timedelta(days=1)
        return replace(self, start_date=start, end_date=end)

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly dict of the resolved parameters."""
        cfg = self.resolved()
        out: dict[str, object] = {}
        for field in fields(cfg):
            value = getattr(cfg, field.name)
            out[field.name] = value.isoformat() if isinstance(value, date) else value
        return out

    def fingerprint(self) -> str:
        """Short stable hash of the resolved parameters (what the ERP was generated from)."""
        payload = json.dumps(self.as_dict(), sort_keys=True).encode()
        return hashlib.sha256(payload).hexdigest()[:16]

    @property
    def end_exclusive(self) -> datetime:
        """Midnight UTC after the last simulated day: an ``until`` that includes everything."""
        end = self.resolved().end_date
        assert end is not None
        return datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=UTC)


@dataclass(frozen=True)
class ErpData:
    """One simulated ERP: the final tables, their version history and the generating truth.

    Table frames hold the final state (columns exactly as the contract). ``*_versions`` frames
    have the same columns and one row per version (the row as it was from its ``updated_at`` on);
    the ERP as of any instant is the latest version with ``updated_at`` before it
    (see ``replay.erp_state_as_of``).
    """

    config: SimulationConfig
    material_families: pd.DataFrame
    materials: pd.DataFrame
    sites: pd.DataFrame
    suppliers: pd.DataFrame
    supplier_materials: pd.DataFrame
    purchase_orders: pd.DataFrame
    stock_movements: pd.DataFrame
    stock_on_hand: pd.DataFrame
    material_versions: pd.DataFrame
    supplier_material_versions: pd.DataFrame
    purchase_order_versions: pd.DataFrame
    series: pd.DataFrame
    """One row per active material-site: demand profile, (s, Q) policy, ``initial_stock`` and the
    ``opening_at`` timestamp at which that opening stock was recorded."""
    lead_times: pd.DataFrame
    """Per supplier-material: quoted and true mean lead time, log-normal sigma, erratic flag."""
    truth: pd.DataFrame
    """Long frame (material_id, site_id, demand_date, expected_demand): the generating mean."""
    weather: pd.DataFrame
    economic: pd.DataFrame
    anatel_5g: pd.DataFrame
    """Long frame (city, reference_month, operator, stations_5g, population_covered_pct): licensed
    5G stations per site city and operator as of the first day of each month (cumulative)."""

    def tables(self) -> dict[str, pd.DataFrame]:
        """Final ERP tables by name, in foreign-key order."""
        return {name: getattr(self, name) for name in TABLES}

    def history(self, table: str) -> pd.DataFrame:
        """All versions of a table's rows (the table itself for tables never updated)."""
        versioned = {
            "materials": self.material_versions,
            "supplier_materials": self.supplier_material_versions,
            "purchase_orders": self.purchase_order_versions,
        }
        if table == "stock_on_hand":
            raise ValueError("stock_on_hand has no stored history; it is derived from movements")
        return versioned.get(table, getattr(self, table))


def utc_timestamps(days: np.ndarray, seconds: np.ndarray) -> pd.DatetimeIndex:
    """UTC timestamps from ``datetime64[D]`` days plus whole seconds after midnight."""
    stamps = days.astype("datetime64[s]") + seconds.astype("int64").astype("timedelta64[s]")
    return pd.DatetimeIndex(stamps.astype("datetime64[us]")).tz_localize("UTC")


def midnight_dates(days: np.ndarray) -> np.ndarray:
    """``datetime64[D]`` -> ``datetime64[s]`` at midnight (the frames' date dtype)."""
    return days.astype("datetime64[D]").astype("datetime64[s]")


def rng_for(seed: int, stream: str) -> np.random.Generator:
    """Independent, reproducible random stream per simulation component.

    Each component draws from its own stream, so changing how one component samples does not
    shift the numbers every other component sees.
    """
    stream_key = int.from_bytes(hashlib.sha256(stream.encode()).digest()[:8], "little")
    return np.random.default_rng(np.random.SeedSequence([seed, stream_key]))
