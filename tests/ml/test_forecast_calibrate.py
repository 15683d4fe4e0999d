"""Interval calibration on held-out backtest folds, on cases whose coverage can be counted by hand."""

import numpy as np
import pandas as pd
import pytest

from nova_forecast.calibrate import calibrate, coverage_table, held_out_hits
from nova_forecast.engine import EngineConfig, forecast


def test_a_folds_interval_is_built_from_the_other_folds_errors_only():
    """Fold 0 errors are all 0, fold 1 errors all +5 (forecast 100). Fold 1's interval comes from
    fold 0's errors: [100, 100] misses every actual 105; fold 0's from fold 1's: [100, 105] covers
    every actual 100. Built from its own errors, each fold would be covered entirely."""
    forecasts = np.full((1, 2, 10), 100.0)
    actuals = forecasts + np.array([0.0, 5.0])[None, :, None]
    hits, counted = held_out_hits(actuals, forecasts, np.array([0.8]), "interval")
    assert (hits[0, 0], counted[0, 0]) == (10, 20)


def test_the_calibrated_level_is_the_narrowest_with_the_closest_held_out_coverage():
    """Every fold's errors are -4.5, -3.5, ..., 4.5 (forecast 100). A held-out fold's interval
    comes from the 20 errors of the two others (each value twice): their 0.1 and 0.9 quantiles are
    -3.6 and 3.6, so the 80 % interval holds 8 of 10 actuals. It keeps 8 as long as its upper
    quantile p = 1 - (1 - l) / 2 reaches 3.5, the 17th of the 20 sorted errors: 19 p >= 16, i.e.
    l >= 13 / 19 = 0.684: the calibrated level is 0.69."""
    rng = np.random.default_rng(0)
    errors = np.stack([rng.permutation(np.arange(-4.5, 5.0)) for _ in range(3)])
    forecasts = np.full((1, 3, 10), 100.0)
    table = calibrate(forecasts + errors[None], forecasts, np.array(["smooth"]), (0.8,), ()).table
    row = table.iloc[0]
    assert (row["kind"], row["target"], row["coverage_raw"], row["coverage"]) == ("interval", 0.8, 0.8, 0.8)
    assert row["nominal"] == pytest.approx(0.69)


def test_a_class_with_more_zero_days_than_the_target_keeps_its_coverage_and_says_so():
    """Nine days in ten without demand (forecast 0.1): any interval reaching 0 covers 90 %, and one
    reaching 1 covers 100 %: the 80 % target cannot be met; the narrowest level is kept and the
    table reports the 90 % it gives."""
    day = np.array([0.0] * 9 + [1.0])
    actuals = np.stack([np.stack([np.roll(day, k) for k in range(3)]) for _ in range(4)])
    forecasts = np.full_like(actuals, 0.1)
    table = calibrate(actuals, forecasts, np.array(["intermittent"] * 4), (0.8,), ()).table
    assert table["coverage"].iat[0] == pytest.approx(0.9)
    assert table["nominal"].iat[0] == pytest.approx(0.3)  # the narrowest level of the grid


def test_one_sided_quantiles_are_calibrated_too():
    errors = np.tile(np.arange(-4.5, 5.0), (3, 1))  # same errors in every fold
    forecasts = np.full((1, 3, 10), 100.0)
    table = calibrate(forecasts + errors[None], forecasts, np.array(["smooth"]), (), (0.9,)).table
    assert table["kind"].iat[0] == "quantile"
    assert table["coverage"].iat[0] == pytest.approx(0.9)  # y <= 100 + q covers 9 of 10


def test_coverage_table_counts_overall_and_per_class():
    actual = np.array([[0.0, 1.0], [5.0, 9.0]])
    table = coverage_table(actual, np.array([[0.0, 0.0], [4.0, 4.0]]), np.array([[0.5, 0.5], [6.0, 6.0]]),
                           np.array(["intermittent", "smooth"])).set_index("demand_class")
    assert table.loc["all", "coverage"] == 0.5
    assert table.loc["intermittent", "coverage"] == 0.5 and table.loc["smooth", "points"] == 2


def test_forecast_intervals_are_calibrated_and_nested():
    rng = np.random.default_rng(5)
    frame = pd.concat(pd.DataFrame({"unique_id": uid, "ds": pd.date_range("2024-01-01", periods=200),
                                    "y": rng.poisson(lam, 200).astype(float)}) for uid, lam in
                      (("a", 6.0), ("b", 3.0), ("c", 0.2)))
    result = forecast(frame, EngineConfig(horizon=14, models=("mean", "ses", "croston")))
    table = result.calibration.table
    assert set(table["kind"]) == {"interval", "quantile"}
    assert set(table["target"]) == {0.8, 0.95, 0.9, 0.99}
    fc = result.forecasts
    assert (fc["yhat_lo_95"] <= fc["yhat_lo_80"]).all() and (fc["yhat_hi_80"] <= fc["yhat_hi_95"]).all()
    assert (fc["yhat_lo_80"] <= fc["yhat"]).all() and (fc["yhat"] <= fc["yhat_hi_80"]).all()
    assert "interval_calibration" in result.summary()
    plain = forecast(frame, EngineConfig(horizon=14, models=("mean", "ses", "croston"), calibrate_intervals=False))
    assert plain.calibration is None


def test_calibrated_intervals_cover_their_share_of_future_demand():
    """120 series of Poisson demand (6 a day): the 80 % and 95 % intervals of the next 14 days,
    calibrated on the backtest only, cover demand drawn afterwards from the same process (1,680 days:
    a binomial standard error of 1.0 and 0.5 points) within 3 points of 80 % and 95 %. Measured:
    81.0 % and 96.0 % (uncalibrated: 82.1 % and 93.2 %). Before the final interval was built from
    the same leave-one-fold-out samples as the calibration, the 95 % interval took the calibrated
    level (0.999) on all the errors at once and covered 98.4 % (40 series)."""
    rng = np.random.default_rng(11)
    history, future = 200, 14
    draws = {f"s{number:03d}": rng.poisson(6.0, history + future).astype(float) for number in range(120)}
    frame = pd.concat(pd.DataFrame({"unique_id": uid, "ds": pd.date_range("2024-01-01", periods=history),
                                    "y": values[:history]}) for uid, values in draws.items())
    fc = forecast(frame, EngineConfig(horizon=future, models=("mean", "ses"))).forecasts.sort_values(["unique_id", "ds"])
    assert len(fc) == 120 * future
    actual = np.concatenate([draws[uid][history:] for uid in fc["unique_id"].unique()])
    covered_80 = np.mean((fc["yhat_lo_80"].to_numpy() <= actual) & (actual <= fc["yhat_hi_80"].to_numpy()))
    covered_95 = np.mean((fc["yhat_lo_95"].to_numpy() <= actual) & (actual <= fc["yhat_hi_95"].to_numpy()))
    assert abs(covered_80 - 0.80) <= 0.03, covered_80
    assert abs(covered_95 - 0.95) <= 0.03, covered_95
