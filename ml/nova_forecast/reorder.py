"""Service-level quantiles of lead-time demand, for reorder points.

A reorder point must cover the demand *summed over the replenishment lead time* with the wanted
probability (the service level, e.g. 95 %). Summing per-day quantiles overstates it; instead the
lead-time demand of each series is simulated: for each of the next L days, the forecast plus an
error drawn (with replacement) from that series' backtest errors of its selected model, clipped at
0 per day, summed over the L days. The reorder point is the service-level quantile of that sum;
safety stock is the reorder point minus the expected lead-time demand.

Series with too few backtest errors draw from the spread of their recent history around its mean.
Deterministic for a given ``seed``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nova_forecast.engine import MIN_RESIDUALS, ForecastResult


def error_samples(result: ForecastResult) -> np.ndarray:
    """(n_series, m) errors to draw from, left-packed, NaN-padded (see the module docstring)."""
    residuals = result.residuals
    enough = np.isfinite(residuals).sum(axis=1) >= MIN_RESIDUALS
    recent = result.panel.values[:, -max(28, 2 * MIN_RESIDUALS):]
    with np.errstate(invalid="ignore"):
        centred = recent - np.nanmean(recent, axis=1, keepdims=True)
    width = max(residuals.shape[1], centred.shape[1])
    samples = np.full((result.panel.n_series, width), np.nan)
    samples[enough, : residuals.shape[1]] = residuals[enough]
    samples[~enough, : centred.shape[1]] = centred[~enough]
    order = np.argsort(~np.isfinite(samples), axis=1, kind="stable")  # finite values first
    return np.take_along_axis(samples, order, axis=1)


def lead_time_demand(result: ForecastResult, lead_time_days: int | np.ndarray,
                     service_levels: tuple[float, ...] = (0.90, 0.95, 0.99), samples: int = 1000,
                     seed: int = 0, chunk: int = 100) -> pd.DataFrame:
    """Per series and service level: expected lead-time demand, reorder point and safety stock.

    ``lead_time_days`` is one number or one per series (capped at the forecast horizon).
    """
    yhat = result.forecasts["yhat"].to_numpy().reshape(result.panel.n_series, -1)
    n, h = yhat.shape
    lead = np.broadcast_to(np.asarray(lead_time_days, dtype=np.int64), (n,)).clip(1, h)
    errors = error_samples(result)
    counts = np.isfinite(errors).sum(axis=1)
    rng = np.random.default_rng(seed)
    quantiles = np.zeros((n, len(service_levels)))
    expected = np.zeros(n)
    max_lead = int(lead.max())
    day_in_lead = np.arange(max_lead)[None, :] < lead[:, None]
    for start in range(0, n, chunk):
        rows = slice(start, min(start + chunk, n))
        size = rows.stop - rows.start
        draw = (rng.random((size, samples, max_lead)) * np.maximum(counts[rows], 1)[:, None, None]).astype(np.int64)
        picked = errors[rows][np.arange(size)[:, None, None], draw]
        picked = np.where(counts[rows][:, None, None] > 0, picked, 0.0)
        daily = np.clip(yhat[rows, None, :max_lead] + picked, 0.0, None) * day_in_lead[rows, None, :]
        totals = daily.sum(axis=2)
        quantiles[rows] = np.quantile(totals, service_levels, axis=1).T
        expected[rows] = (yhat[rows, :max_lead] * day_in_lead[rows]).sum(axis=1)
    records = []
    for j, level in enumerate(service_levels):
        reorder_point = np.maximum(quantiles[:, j], expected)
        records.append(pd.DataFrame({
            "unique_id": result.panel.ids.astype(str),
            "lead_time_days": lead,
            "service_level": level,
            "expected_demand": expected,
            "reorder_point": reorder_point,
            "safety_stock": reorder_point - expected,
        }))
    return pd.concat(records, ignore_index=True)
