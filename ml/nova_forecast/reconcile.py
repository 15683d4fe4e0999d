"""Optional reconciliation of material-site forecasts with material and family totals.

Site-level spare-part demand is sparse; the same material summed over its sites (and a family
summed over its materials) is smoother and forecasts better. Reconciliation forecasts those
totals too and combines all levels so that the site forecasts add up to the totals:

    y_tilde = S (S' W^-1 S)^-1 S' W^-1 y_hat

with ``S`` the summing matrix (family, materials, sites x sites) and ``W`` diagonal with the
number of sites under each node (structural scaling, Athanasopoulos et al. 2017). Families are
independent blocks, solved one at a time. Forecasts pushed below 0 are clipped (the only case
where coherence is given up). Interval bounds move with their forecast and keep their widths.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import pairwise

import numpy as np
import pandas as pd

from nova_forecast.data import InputError, Panel
from nova_forecast.engine import EngineConfig, ForecastResult, forecast_panel


@dataclass
class Reconciled:
    """Reconciled site forecasts and the totals they add up to."""

    result: ForecastResult
    totals: pd.DataFrame
    total_results: dict[str, ForecastResult]


def aggregate_panel(panel: Panel, groups: np.ndarray, prefix: str) -> tuple[Panel, np.ndarray]:
    """Sum the series of each group (they must end on the same date); returns the panel and the
    group index of every bottom series."""
    codes, names = pd.factorize(pd.Series(groups).astype(str), sort=True)
    last = pd.Series(panel.last_ds).groupby(codes).nunique()
    mixed = last[last > 1]
    if len(mixed):
        raise InputError("reconciliation needs the series of a group to end on the same date; they differ for "
                         + ", ".join(str(names[i]) for i in mixed.index[:5]))
    values = np.zeros((len(names), panel.n_periods))
    observed = np.zeros((len(names), panel.n_periods), dtype=bool)
    np.add.at(values, codes, np.nan_to_num(panel.values))
    np.logical_or.at(observed, codes, ~np.isnan(panel.values))
    values[~observed] = np.nan
    last_ds = np.array([panel.last_ds[codes == g][0] for g in range(len(names))])
    ids = np.array([f"{prefix}:{name}" for name in names], dtype=object)
    width = int(observed.sum(axis=1).max())
    return Panel(ids, values[:, values.shape[1] - width:], last_ds, panel.freq,
                 np.zeros(len(names), dtype=np.int64)), codes


def wls_structural(s_matrix: np.ndarray, y_hat: np.ndarray) -> np.ndarray:
    """Bottom-level forecasts (S' W^-1 S)^-1 S' W^-1 y_hat, W = diag(number of bottoms per node).

    ``s_matrix`` (nodes, bottoms) sums bottoms into every node; ``y_hat`` (nodes, h) are the base
    forecasts of the nodes in the same order.
    """
    weights = 1.0 / s_matrix.sum(axis=1)
    gram = s_matrix.T @ (weights[:, None] * s_matrix)
    return np.linalg.solve(gram, s_matrix.T @ (weights[:, None] * y_hat))


def reconcile(result: ForecastResult, hierarchy: pd.DataFrame, config: EngineConfig | None = None,
              slow_models_on_totals: bool = False) -> Reconciled:
    """Forecast material (and family) totals and reconcile the site forecasts with them.

    ``hierarchy`` has ``unique_id`` and ``material_id``, optionally ``family_id``. The totals are
    backtested and forecast like the sites (``config``, default the result's), with the fast
    candidates only unless ``slow_models_on_totals``: the totals are all large, so the slow
    models would run on every top-K total again for little gain.
    """
    if "material_id" not in hierarchy.columns:
        raise InputError("reconciliation needs a material_id column for every unique_id")
    config = config or result.config
    if not slow_models_on_totals:
        config = replace(config, top_k=0, auto_top_k=0)
    panel = result.panel
    mapping = hierarchy.drop_duplicates("unique_id").set_index("unique_id")
    ids = panel.ids.astype(str)
    missing = [uid for uid in ids if uid not in mapping.index]
    if missing:
        raise InputError(f"no material_id for {len(missing)} series: {', '.join(missing[:5])}")
    materials = mapping.loc[ids, "material_id"].astype(str).to_numpy()
    families = mapping.loc[ids, "family_id"].astype(str).to_numpy() if "family_id" in mapping.columns else None

    has_family = "family_id" in mapping.columns
    material_panel, material_of = aggregate_panel(panel, materials, "material")
    levels = {"material": forecast_panel(material_panel, config)}
    groups = {"material": (material_of, material_panel)}
    if has_family:
        assert families is not None
        family_panel, family_of = aggregate_panel(panel, families, "family")
        levels["family"] = forecast_panel(family_panel, config)
        groups["family"] = (family_of, family_panel)

    h = config.horizon
    bottom = result.forecasts["yhat"].to_numpy().reshape(panel.n_series, h)
    hats = {level: r.forecasts["yhat"].to_numpy().reshape(r.panel.n_series, h) for level, r in levels.items()}
    block_of = family_of if has_family else material_of  # families (or materials) are independent blocks
    reconciled = np.empty_like(bottom)
    for block in np.unique(block_of):
        rows = np.flatnonzero(block_of == block)
        block_materials = np.unique(material_of[rows])
        summing = [np.ones((1, len(rows)))] if has_family else []
        summing.append((material_of[rows][None, :] == block_materials[:, None]).astype(float))
        summing.append(np.eye(len(rows)))
        s_matrix = np.vstack(summing)
        stacked = [hats["family"][[block]]] if has_family else []
        stacked += [hats["material"][block_materials], bottom[rows]]
        reconciled[rows] = wls_structural(s_matrix, np.vstack(stacked))
    reconciled = np.clip(reconciled, 0.0, None)

    frame = result.forecasts.copy()
    delta = (reconciled - bottom).ravel()
    frame["yhat"] = reconciled.ravel()
    for column in [c for c in frame.columns if c.startswith(("yhat_lo_", "yhat_hi_", "yhat_q"))]:
        moved = np.clip(frame[column].to_numpy() + delta, 0.0, None)
        if column.startswith("yhat_lo_"):
            moved = np.minimum(moved, frame["yhat"].to_numpy())
        else:
            moved = np.maximum(moved, frame["yhat"].to_numpy())
        frame[column] = moved
    _keep_nested(frame, config.levels)

    totals = []
    for level, (group_of, group_panel) in groups.items():
        sums = np.zeros((group_panel.n_series, h))
        np.add.at(sums, group_of, reconciled)
        totals.append(pd.DataFrame({
            "level": level,
            "unique_id": np.repeat(group_panel.ids.astype(str), h),
            "ds": levels[level].forecasts["ds"].to_numpy(),
            "yhat": sums.ravel(),
        }))
    return Reconciled(replace(result, forecasts=frame), pd.concat(totals, ignore_index=True), levels)


def _keep_nested(frame: pd.DataFrame, levels: tuple[int, ...]) -> None:
    """After moving bounds, keep wider intervals outside narrower ones."""
    ordered = sorted(levels)
    for narrow, wide in pairwise(ordered):
        frame[f"yhat_lo_{wide}"] = np.minimum(frame[f"yhat_lo_{wide}"], frame[f"yhat_lo_{narrow}"])
        frame[f"yhat_hi_{wide}"] = np.maximum(frame[f"yhat_hi_{wide}"], frame[f"yhat_hi_{narrow}"])
