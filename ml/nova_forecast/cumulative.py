"""Quantiles of the forecast's *cumulative* demand over the next days (what the plots draw).

Summing per-day quantiles overstates the quantile of a sum; instead the cumulative demand of each
series over the next ``days`` is simulated: for each day, the forecast plus an error drawn (with
replacement) from that series' backtest errors of its selected model, clipped at 0 per day, summed.
Series with too few backtest errors draw from the spread of their recent history around its mean.
Deterministic for a given ``seed``.

This is a property of the forecast, not a business number: the reorder point, safety stock, lead
time, service level and demand class planners act on are computed once, in
``marts.fct_reorder_points`` (dbt), and the forecast task only reads them (see
:mod:`nova_forecast.warehouse`).
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


def cumulative_demand(result: ForecastResult, days: int | np.ndarray,
                      levels: tuple[float, ...] = (0.90, 0.95, 0.99), samples: int = 1000,
                      seed: int = 0, chunk: int = 100) -> pd.DataFrame:
    """Per series and level: the expected demand of the next ``days`` and its ``level`` quantile.

    ``days`` is one number or one per series (capped at the forecast horizon).
    """
    yhat = result.forecasts["yhat"].to_numpy().reshape(result.panel.n_series, -1)
    n, h = yhat.shape
    lead = np.broadcast_to(np.asarray(days, dtype=np.int64), (n,)).clip(1, h)
    errors = error_samples(result)
    counts = np.isfinite(errors).sum(axis=1)
    rng = np.random.default_rng(seed)
    quantiles = np.zeros((n, len(levels)))
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
        quantiles[rows] = np.quantile(totals, levels, axis=1).T
        expected[rows] = (yhat[rows, :max_lead] * day_in_lead[rows]).sum(axis=1)
    records = []
    for j, level in enumerate(levels):
        records.append(pd.DataFrame({
            "unique_id": result.panel.ids.astype(str),
            "days": lead,
            "level": level,
            "expected_demand": expected,
            "quantile": np.maximum(quantiles[:, j], expected),
        }))
    return pd.concat(records, ignore_index=True)
