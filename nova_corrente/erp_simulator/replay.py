"""The ERP as it was at an instant: replaying the simulated history up to ``until``.

A row exists as of ``until`` when its ``updated_at`` is before ``until``; for versioned tables the
latest such version wins. ``stock_on_hand`` is recomputed from the opening stock plus the
movements recorded before ``until``, so stock and movements always agree.
"""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd

from nova_corrente.erp_simulator.config import MOVEMENT_SIGN, PRIMARY_KEYS, TABLE_COLUMNS, TABLES, ErpData


def as_utc(until: date | datetime) -> pd.Timestamp:
    """``until`` as a UTC timestamp: a date means its midnight UTC, a naive datetime is UTC."""
    if not isinstance(until, datetime):
        until = datetime(until.year, until.month, until.day)
    stamp = pd.Timestamp(until)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def latest_versions(versions: pd.DataFrame, key: tuple[str, ...], until: pd.Timestamp) -> pd.DataFrame:
    """Latest version per key among the versions with ``updated_at < until``."""
    visible = versions[versions["updated_at"] < until]
    ordered = visible.sort_values([*key, "updated_at"], kind="stable")
    return ordered.drop_duplicates(list(key), keep="last").reset_index(drop=True)


def stock_as_of(data: ErpData, until: pd.Timestamp) -> pd.DataFrame:
    """stock_on_hand as of ``until``: opening stock + signed movements recorded before it."""
    series = data.series[data.series["opening_at"] < until]
    moves = data.stock_movements[data.stock_movements["updated_at"] < until]
    sign = moves["movement_type"].map(MOVEMENT_SIGN).to_numpy()
    grouped = (
        moves.assign(signed=moves["quantity"].to_numpy() * sign)
        .groupby(["material_id", "site_id"])
        .agg(net=("signed", "sum"), last_at=("updated_at", "max"))
    )
    key = pd.MultiIndex.from_frame(series[["material_id", "site_id"]])
    grouped = grouped.reindex(key)
    net = grouped["net"].fillna(0.0).to_numpy()
    last_at = grouped["last_at"].reset_index(drop=True)
    opening_at = series["opening_at"].reset_index(drop=True)
    return pd.DataFrame(
        {
            "material_id": series["material_id"].to_numpy(),
            "site_id": series["site_id"].to_numpy(),
            "quantity_on_hand": np.round(series["initial_stock"].to_numpy() + net, 2),
            "updated_at": last_at.where(last_at.notna(), opening_at),
        }
    )


def erp_state_as_of(data: ErpData, until: date | datetime | None = None) -> dict[str, pd.DataFrame]:
    """Every ERP table as of ``until`` (None = the final state), columns as in the ERP contract."""
    if until is None:
        return data.tables()
    cut = as_utc(until)
    state: dict[str, pd.DataFrame] = {}
    for table in TABLES:
        if table == "stock_on_hand":
            frame = stock_as_of(data, cut)
        else:
            frame = latest_versions(data.history(table), PRIMARY_KEYS[table], cut)
        state[table] = frame[list(TABLE_COLUMNS[table])]
    return state
