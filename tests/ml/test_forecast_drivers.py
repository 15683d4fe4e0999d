"""The drivers candidate: features aligned with the panel's dates, effects recovered from data
generated with known ones."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import PoissonRegressor

from nova_forecast.data import load_panel
from nova_forecast.drivers import (
    FEATURES,
    Drivers,
    DriversGLM,
    drivers_for_panel,
    poisson_fixed_effects,
    rollout_activity,
)
from nova_forecast.engine import EngineConfig, forecast_panel


def test_rollout_activity_is_relative_to_the_citys_busiest_month():
    added = pd.Series([0, 5, 10, 2, 4])
    city = pd.Series(["A", "A", "A", "B", "B"])
    assert rollout_activity(added, city).tolist() == [0, 0.5, 1, 0.5, 1]


def test_features_follow_each_series_dates_and_forecasts_see_the_expected_storm():
    """Two series in two cities, the second ending a day earlier; the mart covers 2024-03-01..10."""
    days = pd.date_range("2024-03-01", periods=10)
    mart = pd.DataFrame({
        "city": ["A"] * 10 + ["B"] * 10, "driver_date": list(days) * 2,
        "rainy_season_index": list(np.arange(10) / 10) * 2,
        "storm_index": [0.5] * 10 + [1.0] * 5 + [None] * 5,
        "expected_storm_index": [0.2] * 10 + [0.3] * 10,
        "is_observed": [True] * 10 + [True] * 5 + [False] * 5,
        "stations_5g_added": [4] * 20, "is_holiday": [False] * 9 + [True] + [False] * 9 + [True],
    })
    frame = pd.concat([pd.DataFrame({"unique_id": "m@a", "ds": days[:6], "y": 1.0}),
                       pd.DataFrame({"unique_id": "m@b", "ds": days[:5], "y": 1.0})])
    panel, _ = load_panel(frame, "D")
    drivers = drivers_for_panel(panel, mart, pd.Series({"m@a": "A", "m@b": "B"}), pd.Series({"m@a": "m", "m@b": "m"}),
                                horizon=3)
    season, storm, activity, saturday, _, holiday = range(len(FEATURES))
    assert drivers.observed.shape == (len(FEATURES), 2, 6 + 3)
    # m@a: columns = 2024-03-01 .. 03-09; m@b ends 03-05, so its columns are 02-29 .. 03-08
    assert drivers.observed[season, 0].tolist() == pytest.approx([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
    assert drivers.observed[season, 1, 0] == 0 and drivers.observed[season, 1, 1] == 0.0  # 02-29: not covered
    assert drivers.observed[storm, 1, 1:6].tolist() == [1.0] * 5
    assert drivers.observed[storm, 1, 6:].tolist() == [0.3] * 3  # not observed: the expected value
    assert drivers.known[storm, 0].tolist() == [0.2] * 9  # a forecast never knows the storm
    assert drivers.observed[activity, 0, 0] == 1.0
    assert drivers.observed[saturday, 0, 1] == 1.0  # 2024-03-02 was a Saturday
    assert drivers.observed[holiday, 1].tolist()[-1] == 0.0 and drivers.observed[holiday, 0].tolist()[-1] == 0.0
    assert list(drivers.groups) == ["m", "m"]


def _simulated(effects: dict[str, float], days: int = 700, horizon: int = 28, seed: int = 0):
    """Three sites of one material (levels 8, 4 and 2 a day): log mean = site level + sum(effect x
    feature), Poisson counts."""
    rng = np.random.default_rng(seed)
    width = days + horizon
    t = np.arange(width)
    season = np.sin(2 * np.pi * t / 365.25)[None, :].repeat(3, axis=0)
    storm = np.minimum(rng.exponential(0.3, (3, width)), 1.5)
    zeros = np.zeros((3, width))
    saturday = ((t % 7) == 5).astype(float)[None, :].repeat(3, axis=0)
    sunday = ((t % 7) == 6).astype(float)[None, :].repeat(3, axis=0)
    observed = np.stack([season, storm, zeros, saturday, sunday, zeros])
    levels = np.log([8.0, 4.0, 2.0])[:, None]
    log_mean = levels + effects["season"] * season + effects["storm"] * storm + effects["sunday"] * sunday
    y = rng.poisson(np.exp(log_mean)).astype(float)
    frame = pd.concat(pd.DataFrame({"unique_id": f"m@{i}", "ds": pd.date_range("2023-01-02", periods=days),
                                    "y": y[i, :days]}) for i in range(3))
    known = observed.copy()
    known[1, :, days:] = storm[:, :days].mean()
    return frame, Drivers(observed, known, np.array(["m"] * 3, dtype=object)), np.exp(log_mean[:, days:])


def test_the_poisson_regression_recovers_known_effects():
    frame, drivers, _ = _simulated({"season": 0.4, "storm": 0.2, "sunday": -1.0})
    panel, _ = load_panel(frame, "D")
    model = DriversGLM(drivers).fit(panel)
    effects = model.effects_.iloc[0]
    assert effects["rainy_season_index"] == pytest.approx(0.4, abs=0.05)
    assert effects["storm_index"] == pytest.approx(0.2, abs=0.07)
    assert effects["is_sunday"] == pytest.approx(-1.0, abs=0.1)
    assert effects["is_saturday"] == pytest.approx(0.0, abs=0.1)
    forecast = model.predict(28)
    assert forecast.shape == (3, 28) and np.all(forecast > 0)


def test_effects_are_found_for_parts_used_a_few_times_a_month():
    """Spare parts' levels are small (log level about -2.5 here): a penalty on the sites' levels would
    pull them toward 0 and move the effects to make up for it (scikit-learn's PoissonRegressor with
    alpha=1e-3 turned a true +0.3 into -0.5 on this shape)."""
    rng = np.random.default_rng(11)
    sites, days = 80, 730
    season = np.sin(2 * np.pi * np.arange(days) / 365.25)[None, :].repeat(sites, axis=0)
    storm = np.minimum(rng.exponential(0.3, (sites, days)), 1.5)
    sunday = ((np.arange(days) % 7) == 6).astype(float)[None, :].repeat(sites, axis=0)
    levels = rng.normal(-2.5, 0.4, sites)
    y = rng.poisson(np.exp(levels[:, None] + 0.5 * season + 0.3 * storm - 1.0 * sunday)).astype(float)
    y[0] = 0.0  # a site that never used the part: no forecast above 0
    y[1, :200] = np.nan  # a site that opened later
    z = np.stack([np.zeros((sites, days)), season, storm, sunday], axis=2)
    fitted_levels, effects = poisson_fixed_effects(y, np.isfinite(y), z)
    # within about 2.5 standard errors (80 sites x 730 days hold about 4,800 uses)
    assert np.all(np.abs(effects[1:] - [0.5, 0.3, -1.0]) <= [0.08, 0.12, 0.2])
    assert fitted_levels[0] == -np.inf
    assert fitted_levels[2:] == pytest.approx(levels[2:], abs=0.35)
    # the same maximum as a plain Poisson GLM with a column per site (no penalty), to 1e-6
    design = np.hstack([np.repeat(np.eye(sites - 1), days, axis=0), z[1:].reshape(-1, 4)[:, 1:]])
    seen = np.isfinite(y[1:]).ravel()
    reference = PoissonRegressor(alpha=0.0, fit_intercept=False, solver="newton-cholesky", max_iter=200, tol=1e-10)
    reference.fit(design[seen], y[1:].ravel()[seen])
    unpenalised = poisson_fixed_effects(y[1:], np.isfinite(y[1:]), z[1:, :, 1:], prior=0.0)[1]
    assert unpenalised == pytest.approx(reference.coef_[sites - 1:], abs=1e-6)


def test_the_engine_selects_the_drivers_model_where_it_beats_the_univariate_ones():
    frame, drivers, truth = _simulated({"season": 0.8, "storm": 0.0, "sunday": -1.5}, seed=3)
    panel, _ = load_panel(frame, "D")
    config = EngineConfig(horizon=28, models=("mean", "ses", "croston"), calibrate_intervals=False)
    with_drivers = forecast_panel(panel, config, drivers=drivers)
    assert "glm_drivers" in with_drivers.backtest.models
    assert (with_drivers.selection["model"] == "glm_drivers").sum() >= 2
    without = forecast_panel(panel, config)
    assert "glm_drivers" not in without.backtest.models
    error = {name: np.abs(r.forecasts["yhat"].to_numpy().reshape(3, 28) - truth).mean()
             for name, r in (("drivers", with_drivers), ("univariate", without))}
    assert error["drivers"] < error["univariate"]
