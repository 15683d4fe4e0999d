"""Calibrated prediction intervals: conformal calibration on the rolling-origin backtest.

The engine's intervals add quantiles of a series' backtest errors ``y - yhat`` (of its selected
model) to its forecast. Taken at their nominal level those intervals cover the wrong share of
actuals: the errors of other folds under-state the spread of a new window, and daily demand is
discrete (a day without demand is covered by any interval reaching 0). So each demand class gets its
own *nominal* level, set on the backtest itself, split-conformal style:

1. for every fold, the interval of that fold is built only from the errors of the *other* folds
   (the fold is held out, as a future window is);
2. for every demand class and target (80 % and 95 % intervals; 90/95/99 % one-sided service-level
   quantiles) the nominal level is the one, on a fine grid, whose held-out coverage over all the
   class's series and folds is closest to the target (the narrower one on ties);
3. the forecast's intervals use the class's nominal level on the same samples: the quantile of the
   errors of all folds but one, averaged over the fold left out (nova_forecast.engine._error_shifts),
   so the interval is built from as many errors as the level was calibrated on.

Coverage = share of actuals with ``lo <= y <= hi`` (two-sided) or ``y <= q`` (one-sided), bounds
built as the forecast builds them (clipped at 0, ``lo <= yhat <= hi``; for series of whole units the
lower bound is rounded down to a whole unit: otherwise a forecast a hair above the backtest's moves
the lower bound of a mostly-zero series just above 0, and the interval misses every day without
demand). Classes whose held-out
coverage cannot reach a target at any level (e.g. series with more zero days than the target) keep
the level closest to it, and the calibration table says what coverage that gives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: nominal levels tried (two-sided interval levels and one-sided quantile levels)
GRID = np.round(np.concatenate([np.arange(0.30, 0.95, 0.01), np.arange(0.95, 0.9991, 0.001)]), 4)
MIN_HELD_OUT_RESIDUALS = 10


@dataclass(frozen=True)
class Calibration:
    """Nominal level per (demand class, target), with the held-out coverage before and after."""

    table: pd.DataFrame  # demand_class, kind ('interval' | 'quantile'), target, nominal, coverage_raw,
    #                      coverage, points

    def nominal(self, demand_class: str, kind: str, target: float) -> float:
        """The calibrated nominal level; the target itself when the class was not calibrated."""
        rows = self.table[(self.table["demand_class"] == demand_class) & (self.table["kind"] == kind)
                          & np.isclose(self.table["target"], target)]
        return float(rows["nominal"].iat[0]) if len(rows) else float(target)


def bounds(yhat: np.ndarray, shift_lo: np.ndarray, shift_hi: np.ndarray,
           whole_units: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Interval ``[yhat + shift_lo, yhat + shift_hi]`` clipped at 0 and kept around ``yhat``; the
    lower bound of the rows flagged in ``whole_units`` (one flag per row) rounded down."""
    lo = np.minimum(np.clip(yhat + shift_lo, 0.0, None), yhat)
    hi = np.maximum(np.clip(yhat + shift_hi, 0.0, None), yhat)
    if whole_units is not None:
        lo = np.where(np.asarray(whole_units, dtype=bool).reshape(-1, *[1] * (lo.ndim - 1)),
                      np.floor(lo + 1e-9), lo)
    return lo, hi


def whole_unit_rows(values: np.ndarray) -> np.ndarray:
    """True for the rows of (n, T) whose observed values are all whole numbers."""
    observed = np.isfinite(values)
    return np.all(~observed | (np.abs(values - np.round(values)) < 1e-9), axis=1)


def interval_quantiles(level: float) -> tuple[float, float]:
    """Lower and upper error quantiles of a central interval of ``level`` (0.8 -> 0.1, 0.9)."""
    return (1.0 - level) / 2.0, 1.0 - (1.0 - level) / 2.0


def held_out_hits(actuals: np.ndarray, forecasts: np.ndarray, levels: np.ndarray, kind: str,
                  whole_units: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """For every nominal level: (hits, counted) per series, over every fold held out in turn.

    ``actuals`` and ``forecasts`` are (n, folds, h) (the selected model's backtest); the bounds of
    fold k come from the errors of the other folds. Returns two (levels, n) arrays.
    """
    n, folds, h = actuals.shape
    errors = actuals - forecasts
    hits = np.zeros((len(levels), n))
    counted = np.zeros((len(levels), n))
    if folds < 2:
        return hits, counted
    if kind == "interval":
        pairs = [interval_quantiles(level) for level in levels]
        probabilities = sorted({p for pair in pairs for p in pair})
    else:
        probabilities = sorted(set(levels.tolist()))
    for fold in range(folds):
        others = np.delete(errors, fold, axis=1).reshape(n, -1)
        rows = (np.isfinite(others).sum(axis=1) >= MIN_HELD_OUT_RESIDUALS) & np.isfinite(actuals[:, fold]).all(axis=1)
        rows &= np.isfinite(forecasts[:, fold]).all(axis=1)
        if not rows.any():
            continue
        quantile = dict(zip(probabilities, np.nanquantile(others[rows], probabilities, axis=1), strict=True))
        y, f = actuals[rows, fold], forecasts[rows, fold]
        whole = None if whole_units is None else np.asarray(whole_units, dtype=bool)[rows]
        for j, level in enumerate(levels):
            if kind == "interval":
                q_lo, q_hi = interval_quantiles(level)
                lo, hi = bounds(f, quantile[q_lo][:, None], quantile[q_hi][:, None], whole)
                inside = (y >= lo - 1e-9) & (y <= hi + 1e-9)
            else:
                inside = y <= np.clip(f + quantile[level][:, None], 0.0, None) + 1e-9
            hits[j, rows] += inside.sum(axis=1)
            counted[j, rows] += h
    return hits, counted


def calibrate(actuals: np.ndarray, forecasts: np.ndarray, classes: np.ndarray, interval_levels: tuple[float, ...],
              quantile_levels: tuple[float, ...], whole_units: np.ndarray | None = None) -> Calibration:
    """The nominal level of every (class, target) from the held-out backtest coverage."""
    records = []
    classes = np.asarray(classes, dtype=object)
    for kind, targets in (("interval", interval_levels), ("quantile", quantile_levels)):
        if not targets:
            continue
        grid = np.unique(np.concatenate([GRID, np.asarray(targets, dtype=float)]))
        hits, counted = held_out_hits(actuals, forecasts, grid, kind, whole_units)
        for demand_class in pd.unique(classes):
            rows = classes == demand_class
            points = counted[:, rows].sum(axis=1)
            if points[0] == 0:
                continue
            coverage = hits[:, rows].sum(axis=1) / points
            for target in targets:
                raw = float(coverage[np.flatnonzero(np.isclose(grid, target))[0]])
                best = int(np.argmin(np.abs(coverage - target) + 1e-9 * np.arange(len(grid))))
                records.append({"demand_class": demand_class, "kind": kind, "target": float(target),
                                "nominal": float(grid[best]), "coverage_raw": raw, "coverage": float(coverage[best]),
                                "points": int(points[0])})
    columns = ["demand_class", "kind", "target", "nominal", "coverage_raw", "coverage", "points"]
    return Calibration(pd.DataFrame(records, columns=columns))


def coverage_table(actual: np.ndarray, lower: np.ndarray | None, upper: np.ndarray, classes: np.ndarray) -> pd.DataFrame:
    """Share of actuals inside ``[lower, upper]`` (``lower`` None: ``y <= upper``), overall and per
    class: demand_class ('all' too), coverage, points."""
    valid = np.isfinite(actual) & np.isfinite(upper)
    inside = actual <= upper + 1e-9
    if lower is not None:
        inside &= actual >= lower - 1e-9
    classes = np.asarray(classes, dtype=object)
    rows = [("all", valid)] + [(c, valid & (classes == c)[:, None]) for c in sorted(pd.unique(classes))]
    return pd.DataFrame([{"demand_class": name, "coverage": float(inside[mask].mean()) if mask.any() else np.nan,
                          "points": int(mask.sum())} for name, mask in rows])
