"""PNG plots for planners: recent history, forecast, 80/95 % intervals and the reorder point.

One figure per series, two panels:

* top: the last ``history_days`` of demand, the forecast and its 80 % and 95 % intervals;
* bottom: cumulative forecast demand over the horizon with its quantile at the service level
  (:mod:`nova_forecast.cumulative`) and, when ``reorder_points`` are given, the reorder point at the
  lead time.

The reorder point, its lead time, safety stock, service level, method and demand class are *read*,
never computed here: the warehouse task passes ``marts.fct_reorder_points`` (one number, one place),
and the values drawn are returned (and written to the run's ``run.json``) so they can be checked
against the mart. Without them (the command line) the plot shows the forecast only, at
``service_level``.

Uses matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from nova_forecast.cumulative import cumulative_demand
from nova_forecast.engine import ForecastResult

#: the columns of marts.fct_reorder_points a plot shows (indexed by unique_id = material@site)
REORDER_COLUMNS = ("reorder_point", "avg_lead_time_days", "safety_stock", "service_level", "method", "demand_class")


def top_series(result: ForecastResult, top: int, groups: pd.Series | None = None) -> list[int]:
    """Row numbers of the most important series: the ``top`` groups (e.g. materials) by total
    demand, and within each its series with the most demand."""
    volume = pd.Series(np.nansum(result.panel.values, axis=1), index=result.panel.ids.astype(str))
    if groups is None:
        chosen = volume.sort_values(ascending=False, kind="stable").index[:top]
    else:
        group_of = groups.reindex(volume.index).fillna(pd.Series(volume.index, index=volume.index))
        ranked = volume.groupby(group_of).sum().sort_values(ascending=False, kind="stable").index[:top]
        chosen = [volume[group_of == g].idxmax() for g in ranked]
    position = {uid: i for i, uid in enumerate(result.panel.ids.astype(str))}
    return [position[uid] for uid in chosen]


def plot_top_series(result: ForecastResult, out_dir: Path, top: int = 10, groups: pd.Series | None = None,
                    reorder_points: pd.DataFrame | None = None, service_level: float = 0.95,
                    history_days: int = 120) -> list[dict]:
    """Write one PNG per important series into ``out_dir``; returns one record per plot: its path
    and the numbers it shows (the mart's, when ``reorder_points`` has a row for the series)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    rows = top_series(result, top, groups)
    if not rows:
        return []
    h = result.config.horizon
    records = []
    for rank, i in enumerate(rows, start=1):
        uid = str(result.panel.ids[i])
        mart = (reorder_points.loc[uid] if reorder_points is not None and uid in reorder_points.index else None)
        level = float(mart["service_level"]) if mart is not None else service_level
        cumulative = _cumulative_quantiles(result, [i], level)[0]
        fc = result.forecasts.iloc[i * h:(i + 1) * h]
        dates = result.panel.dates(i)[-history_days:]
        history = result.panel.series(i)[-history_days:]
        fig, (top_ax, bottom_ax) = plt.subplots(2, 1, figsize=(10, 7), gridspec_kw={"height_ratios": [3, 2]})
        top_ax.bar(dates, history, width=1.0, color="#9aa7b1", label="demand")
        for width, alpha in ((95, 0.18), (80, 0.32)):
            if f"yhat_lo_{width}" in fc:
                top_ax.fill_between(fc["ds"], fc[f"yhat_lo_{width}"], fc[f"yhat_hi_{width}"], color="#1f77b4",
                                    alpha=alpha, step="mid", label=f"{width} % interval")
        top_ax.plot(fc["ds"], fc["yhat"], color="#1f77b4", label=f"forecast ({fc['model'].iat[0]})")
        top_ax.axvline(result.panel.last_ds[i], color="black", linewidth=0.8, linestyle=":")
        top_ax.set_title(f"{uid} - {fc['demand_class'].iat[0]} demand")  # the mart's class (warehouse runs)
        top_ax.set_ylabel("units per day")
        top_ax.legend(loc="upper left", fontsize=8)

        steps = np.arange(1, h + 1)
        bottom_ax.plot(steps, np.cumsum(fc["yhat"].to_numpy()), color="#1f77b4", label="expected cumulative demand")
        bottom_ax.plot(steps, cumulative, color="#d62728", linestyle="--",
                       label=f"{level:.0%} quantile of cumulative forecast demand")
        record: dict = {"unique_id": uid, "demand_class": str(fc["demand_class"].iat[0]), "service_level": level}
        if mart is not None:
            lead = float(mart["avg_lead_time_days"])
            record.update(reorder_point=float(mart["reorder_point"]), lead_time_days=lead,
                          safety_stock=float(mart["safety_stock"]), method=str(mart["method"]))
            bottom_ax.scatter([lead], [record["reorder_point"]], color="black", zorder=3)
            bottom_ax.annotate(f"reorder point {record['reorder_point']:.1f} (lead time {lead:.1f} d, safety stock "
                               f"{record['safety_stock']:.1f}, service level {level:.0%}, {record['method']}; "
                               "marts.fct_reorder_points)",
                               (lead, record["reorder_point"]), textcoords="offset points", xytext=(8, -12),
                               fontsize=8)
        bottom_ax.set_xlabel("days ahead")
        bottom_ax.set_ylabel("units")
        bottom_ax.legend(loc="upper left", fontsize=8)
        fig.tight_layout()
        path = out_dir / f"{rank:02d}_{_file_name(uid)}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        records.append({"path": path.name, **record})
    return records


def _cumulative_quantiles(result: ForecastResult, rows: list[int], service_level: float) -> list[np.ndarray]:
    """``service_level`` quantile of the cumulative demand for 1..h days ahead (bootstrap, see cumulative)."""
    h = result.config.horizon
    out = []
    for i in rows:
        curve = []
        for days in range(1, h + 1):
            frame = cumulative_demand(_one_series(result, i), days, (service_level,), samples=400)
            curve.append(float(frame["quantile"].iat[0]))
        out.append(np.maximum.accumulate(np.array(curve)))
    return out


def _one_series(result: ForecastResult, i: int) -> ForecastResult:
    from dataclasses import replace

    h = result.config.horizon
    panel = result.panel.subset(np.array([i]))
    return replace(result, forecasts=result.forecasts.iloc[i * h:(i + 1) * h], panel=panel,
                   residuals=result.residuals[[i]])


def _file_name(uid: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in uid)
