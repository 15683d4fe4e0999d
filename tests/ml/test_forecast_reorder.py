"""Lead-time demand quantiles (reorder points) and the planner plots."""

import numpy as np
import pandas as pd
import pytest

from nova_forecast.engine import EngineConfig, forecast
from nova_forecast.plots import plot_top_series
from nova_forecast.reorder import lead_time_demand


def long(series: dict[str, list[float]]) -> pd.DataFrame:
    return pd.concat(pd.DataFrame({"unique_id": uid, "ds": pd.date_range("2024-01-01", periods=len(y)), "y": y})
                     for uid, y in series.items())


def test_without_forecast_errors_the_reorder_point_is_the_expected_lead_time_demand():
    week = [6, 5, 5, 5, 5, 1, 0]  # seasonal naive is exact: every backtest error is 0
    result = forecast(long({"w": week * 10}), EngineConfig(horizon=14, folds=2, models=("seasonal_naive", "mean")))
    points = lead_time_demand(result, lead_time_days=10, service_levels=(0.95,))
    assert points["expected_demand"].tolist() == [sum(week) + 6 + 5 + 5]  # ten days: one week plus Mon-Wed
    assert points["reorder_point"].tolist() == points["expected_demand"].tolist()
    assert points["safety_stock"].tolist() == [0.0]


def test_reorder_point_grows_with_service_level_and_lead_time():
    rng = np.random.default_rng(0)
    result = forecast(long({"a": rng.poisson(3, 120).tolist()}), EngineConfig(horizon=28, models=("mean",)))
    points = lead_time_demand(result, lead_time_days=14).set_index("service_level")["reorder_point"]
    assert points[0.90] <= points[0.95] <= points[0.99]
    assert points[0.90] > result.forecasts["yhat"].iloc[:14].sum()  # demand is uncertain: safety stock > 0
    longer = lead_time_demand(result, lead_time_days=21, service_levels=(0.95,))["reorder_point"].iat[0]
    assert longer > points[0.95]
    again = lead_time_demand(result, lead_time_days=14).set_index("service_level")["reorder_point"]
    assert again.tolist() == pytest.approx(points.tolist())  # seeded: deterministic


def test_plots_are_written_for_the_largest_series(tmp_path):
    rng = np.random.default_rng(1)
    data = long({"small": rng.poisson(1, 60).tolist(), "big": rng.poisson(9, 60).tolist()})
    result = forecast(data, EngineConfig(horizon=7, folds=2, models=("mean", "naive")))
    paths = plot_top_series(result, tmp_path, top=1)
    assert [p.name for p in paths] == ["01_big.png"]
    assert paths[0].read_bytes()[:4] == b"\x89PNG"
