"""Quantiles of cumulative forecast demand, and the planner plots (which show the mart's numbers)."""

import numpy as np
import pandas as pd
import pytest

from nova_forecast.cumulative import cumulative_demand
from nova_forecast.engine import EngineConfig, forecast
from nova_forecast.plots import plot_top_series


def long(series: dict[str, list[float]]) -> pd.DataFrame:
    return pd.concat(pd.DataFrame({"unique_id": uid, "ds": pd.date_range("2024-01-01", periods=len(y)), "y": y})
                     for uid, y in series.items())


def test_without_forecast_errors_the_quantile_is_the_expected_demand():
    week = [6, 5, 5, 5, 5, 1, 0]  # seasonal naive is exact: every backtest error is 0
    result = forecast(long({"w": week * 10}), EngineConfig(horizon=14, folds=2, models=("seasonal_naive", "mean")))
    points = cumulative_demand(result, days=10, levels=(0.95,))
    assert points["expected_demand"].tolist() == [sum(week) + 6 + 5 + 5]  # ten days: one week plus Mon-Wed
    assert points["quantile"].tolist() == points["expected_demand"].tolist()


def test_the_quantile_grows_with_the_level_and_the_days():
    rng = np.random.default_rng(0)
    result = forecast(long({"a": rng.poisson(3, 120).tolist()}), EngineConfig(horizon=28, models=("mean",)))
    points = cumulative_demand(result, days=14).set_index("level")["quantile"]
    assert points[0.90] <= points[0.95] <= points[0.99]
    assert points[0.90] > result.forecasts["yhat"].iloc[:14].sum()  # demand is uncertain
    longer = cumulative_demand(result, days=21, levels=(0.95,))["quantile"].iat[0]
    assert longer > points[0.95]
    again = cumulative_demand(result, days=14).set_index("level")["quantile"]
    assert again.tolist() == pytest.approx(points.tolist())  # seeded: deterministic


def test_plots_show_the_marts_reorder_point_and_return_what_they_show(tmp_path):
    rng = np.random.default_rng(1)
    data = long({"small": rng.poisson(1, 60).tolist(), "big": rng.poisson(9, 60).tolist()})
    result = forecast(data, EngineConfig(horizon=7, folds=2, models=("mean", "naive")))
    mart = pd.DataFrame({"reorder_point": [123.45], "avg_lead_time_days": [17.5], "safety_stock": [34.5],
                         "service_level": [0.93], "method": ["seasonal_ltd"], "demand_class": ["smooth"]},
                        index=pd.Index(["big"], name="unique_id"))
    records = plot_top_series(result, tmp_path, top=1, reorder_points=mart)
    assert [r["path"] for r in records] == ["01_big.png"]
    assert (tmp_path / "01_big.png").read_bytes()[:4] == b"\x89PNG"
    shown = records[0]
    assert (shown["reorder_point"], shown["lead_time_days"], shown["safety_stock"], shown["service_level"],
            shown["method"]) == (123.45, 17.5, 34.5, 0.93, "seasonal_ltd")
    # without the mart (the command line): the forecast only, no reorder point
    bare = plot_top_series(result, tmp_path / "bare", top=1)
    assert "reorder_point" not in bare[0] and bare[0]["service_level"] == 0.95
