"""Reconciliation of site forecasts with material and family totals."""

import numpy as np
import pandas as pd
import pytest

from nova_forecast.data import load_panel
from nova_forecast.engine import EngineConfig, forecast_panel
from nova_forecast.reconcile import reconcile, wls_structural


def test_structural_weights_split_the_gap_between_total_and_sites():
    # one material over two sites: S = [[1, 1], [1, 0], [0, 1]], W = diag(2, 1, 1)
    # base forecasts: material 10, sites 3 and 5 (they sum to 8): each site gets +0.5
    s_matrix = np.array([[1, 1], [1, 0], [0, 1.0]])
    bottoms = wls_structural(s_matrix, np.array([[10.0], [3.0], [5.0]]))
    assert bottoms.ravel().tolist() == pytest.approx([3.5, 5.5])


def test_reconciled_site_forecasts_add_up_to_the_totals():
    rng = np.random.default_rng(0)
    ids = ["M1@S1", "M1@S2", "M2@S1", "M3@S1"]
    frame = pd.concat(pd.DataFrame({"unique_id": uid, "ds": pd.date_range("2024-01-01", periods=84),
                                    "y": (rng.random(84) < p) * rng.integers(1, 9, 84)})
                      for uid, p in zip(ids, (0.9, 0.2, 0.5, 0.1), strict=True))
    config = EngineConfig(horizon=7, folds=2, models=("mean", "croston", "seasonal_naive", "tsb"))
    panel, _ = load_panel(frame)
    base = forecast_panel(panel, config)
    hierarchy = pd.DataFrame({"unique_id": ids, "material_id": ["M1", "M1", "M2", "M3"],
                              "family_id": ["F1", "F1", "F1", "F2"]})
    rec = reconcile(base, hierarchy, config)
    fc = rec.result.forecasts.assign(material=lambda f: f["unique_id"].str.split("@").str[0])
    site_sums = fc.groupby(["material", "ds"])["yhat"].sum().to_numpy()
    totals = rec.totals.query("level == 'material'").sort_values(["unique_id", "ds"])["yhat"].to_numpy()
    assert site_sums == pytest.approx(totals)
    family_total = rec.totals.query("level == 'family' and unique_id == 'family:F2'")["yhat"].to_numpy()
    assert family_total == pytest.approx(fc.query("material == 'M3'")["yhat"].to_numpy())
    values = fc[["yhat_lo_95", "yhat_lo_80", "yhat", "yhat_hi_80", "yhat_hi_95"]].to_numpy()
    assert (values >= 0).all() and (np.diff(values, axis=1) >= -1e-12).all()
