"""PNG plots for planners: recent history, forecast, 80/95 % intervals and the reorder point.

One figure per series, two panels:

* top: the last ``history_days`` of demand, the forecast and its 80 % and 95 % intervals;
* bottom: cumulative forecast demand over the horizon with the service-level quantile of the
  cumulative demand, and the reorder point at the lead time (see :mod:`nova_forecast.reorder`).

Uses matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from nova_forecast.engine import ForecastResult
from nova_forecast.reorder import lead_time_demand


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
                    lead_time_days: int = 14, service_level: float = 0.95, history_days: int = 120) -> list[Path]:
    """Write one PNG per important series into ``out_dir``; returns the paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    rows = top_series(result, top, groups)
    if not rows:
        return []
    h = result.config.horizon
    reorder = lead_time_demand(result, lead_time_days, (service_level,))
    cumulative = _cumulative_quantiles(result, rows, service_level)
    paths = []
    for rank, i in enumerate(rows, start=1):
        uid = str(result.panel.ids[i])
        fc = result.forecasts.iloc[i * h:(i + 1) * h]
        dates = result.panel.dates(i)[-history_days:]
        history = result.panel.series(i)[-history_days:]
        fig, (top_ax, bottom_ax) = plt.subplots(2, 1, figsize=(10, 7), gridspec_kw={"height_ratios": [3, 2]})
        top_ax.bar(dates, history, width=1.0, color="#9aa7b1", label="demand")
        for level, alpha in ((95, 0.18), (80, 0.32)):
            if f"yhat_lo_{level}" in fc:
                top_ax.fill_between(fc["ds"], fc[f"yhat_lo_{level}"], fc[f"yhat_hi_{level}"], color="#1f77b4",
                                    alpha=alpha, step="mid", label=f"{level} % interval")
        top_ax.plot(fc["ds"], fc["yhat"], color="#1f77b4", label=f"forecast ({fc['model'].iat[0]})")
        top_ax.axvline(result.panel.last_ds[i], color="black", linewidth=0.8, linestyle=":")
        top_ax.set_title(f"{uid} - {fc['demand_class'].iat[0]} demand")
        top_ax.set_ylabel("units per day")
        top_ax.legend(loc="upper left", fontsize=8)

        steps = np.arange(1, h + 1)
        bottom_ax.plot(steps, np.cumsum(fc["yhat"].to_numpy()), color="#1f77b4", label="expected cumulative demand")
        bottom_ax.plot(steps, cumulative[rank - 1], color="#d62728", linestyle="--",
                       label=f"{service_level:.0%} quantile of cumulative demand")
        point = reorder.loc[reorder["unique_id"] == uid].iloc[0]
        bottom_ax.scatter([point["lead_time_days"]], [point["reorder_point"]], color="#d62728", zorder=3)
        bottom_ax.annotate(f"reorder point {point['reorder_point']:.1f} (lead time {int(point['lead_time_days'])} d, "
                           f"safety stock {point['safety_stock']:.1f})",
                           (point["lead_time_days"], point["reorder_point"]), textcoords="offset points",
                           xytext=(8, -12), fontsize=8)
        bottom_ax.set_xlabel("days ahead")
        bottom_ax.set_ylabel("units")
        bottom_ax.legend(loc="upper left", fontsize=8)
        fig.tight_layout()
        path = out_dir / f"{rank:02d}_{_file_name(uid)}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        paths.append(path)
    return paths


def _cumulative_quantiles(result: ForecastResult, rows: list[int], service_level: float) -> list[np.ndarray]:
    """Service-level quantile of the cumulative demand for 1..h days ahead (bootstrap, see reorder)."""
    h = result.config.horizon
    out = []
    for i in rows:
        curve = []
        for days in range(1, h + 1):
            frame = lead_time_demand(_one_series(result, i), days, (service_level,), samples=400)
            curve.append(float(frame["reorder_point"].iat[0]))
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
