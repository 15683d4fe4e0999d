"""A run split into parts (whole materials each, the run's slow-model ranking in each) forecasts
exactly what the whole panel forecasts: the shards of the daily run rely on it."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from nova_forecast.data import InputError, Panel, load_panel
from nova_forecast.drivers import drivers_for_panel
from nova_forecast.engine import EngineConfig, finish, forecast_panel, forecast_part, slow_model_ranking

CITIES = {"s1": "Salvador", "s2": "Feira", "s3": "Salvador"}


def _demand() -> pd.DataFrame:
    """Three materials x three sites: smooth, intermittent and lumpy series, different starts, one
    series too short to backtest."""
    rng = np.random.default_rng(7)
    frames = []
    for m, material in enumerate(("batt", "cable", "rect")):
        for s, site in enumerate(CITIES):
            days = 400 - 20 * m - 60 * s if (material, site) != ("rect", "s3") else 30
            ds = pd.date_range("2024-12-31", periods=days, freq="-1D")[::-1]
            if m == 0:  # driven by the rainy season and the weekday: the drivers model's kind of series
                season = np.sin((ds - pd.Timestamp("2023-10-01")).days.to_numpy() / 58.0) ** 2
                y = rng.poisson(6 * np.exp(1.5 * season - 1.5 * (ds.dayofweek.to_numpy() == 6)))
            elif m == 1:
                y = rng.poisson(0.3, days) * rng.integers(1, 4, days)
            else:
                y = (rng.random(days) < 0.1) * rng.integers(1, 30, days)
            frames.append(pd.DataFrame({"unique_id": f"{material}@{site}", "ds": ds, "y": y.astype(float),
                                        "material_id": material, "site_id": site}))
    return pd.concat(frames, ignore_index=True)


def _mart() -> pd.DataFrame:
    days = pd.date_range("2023-10-01", "2025-02-28")
    rng = np.random.default_rng(1)
    rows = []
    for city in sorted(set(CITIES.values())):
        rows.append(pd.DataFrame({
            "city": city, "driver_date": days, "is_observed": days <= "2024-12-31",
            "rainy_season_index": np.sin(np.arange(len(days)) / 58.0) ** 2,
            "storm_index": rng.exponential(0.3, len(days)), "expected_storm_index": 0.3,
            "stations_5g_added": rng.integers(0, 3, len(days)), "is_holiday": False}))
    return pd.concat(rows, ignore_index=True)


def _inputs(frame: pd.DataFrame, config: EngineConfig):
    panel, _ = load_panel(frame[["unique_id", "ds", "y"]], "D")
    keys = frame.drop_duplicates("unique_id").set_index("unique_id")
    drivers = drivers_for_panel(panel, _mart(), keys["site_id"].map(CITIES), keys["material_id"], config.horizon)
    return panel, drivers


def _run_ranking(panel: Panel, config: EngineConfig) -> np.ndarray:
    return slow_model_ranking(panel.ids, np.nansum(panel.values, axis=1), panel.lengths, config)


@pytest.fixture(scope="module")
def config() -> EngineConfig:
    return EngineConfig(horizon=14, models=("mean", "window_average", "ses", "croston", "tsb", "ets"),
                        auto_top_k=2, folds=3)


def test_parts_of_whole_materials_forecast_what_the_whole_panel_forecasts(config):
    demand = _demand()
    whole_panel, whole_drivers = _inputs(demand, config)
    whole = forecast_panel(whole_panel, config, drivers=whole_drivers)
    ranking = _run_ranking(whole_panel, config)

    parts = []
    for materials in (["rect", "batt"], ["cable"]):  # out of order on purpose
        panel, drivers = _inputs(demand[demand["material_id"].isin(materials)], config)
        parts.append(forecast_part(panel, config, drivers=drivers, ranking=ranking))
    split = finish(parts)

    # the test means something: the slow model ran on the run's top 2 only, the drivers model and a
    # fallback were chosen somewhere, and the parts differ in width
    assert set(whole.backtest.metrics.query("model == 'ets'")["unique_id"]) == set(ranking[:2])
    assert "too short to backtest" in set(whole.selection["reason"])
    assert parts[0].backtest.panel.n_periods != parts[1].backtest.panel.n_periods
    assert "glm_drivers" in set(whole.selection["model"])

    pd.testing.assert_frame_equal(split.selection, whole.selection, check_exact=True)
    pd.testing.assert_frame_equal(split.forecasts, whole.forecasts, check_exact=True)
    pd.testing.assert_frame_equal(split.backtest.metrics, whole.backtest.metrics, check_exact=True)
    pd.testing.assert_frame_equal(split.backtest.summary.drop(columns="seconds"),
                                  whole.backtest.summary.drop(columns="seconds"))
    assert split.calibration.table.equals(whole.calibration.table)
    assert split.summary()["selection"] == whole.summary()["selection"]


def test_a_history_window_fits_what_the_series_cut_to_it_by_hand_fits(config):
    """Every step sees the window only: the drivers model (730 days at most, 200 here), the slow
    model's top-K (by volume in the window), the classes, the folds and the final fits."""
    demand = _demand()
    windowed = replace(config, history_days=200)
    cut = demand[demand["ds"] > demand.groupby("unique_id")["ds"].transform("max") - pd.Timedelta(days=200)]
    long_panel, long_drivers = _inputs(demand, windowed)
    assert long_panel.n_periods == 400 and (long_panel.lengths > 200).sum() == 8
    result = forecast_panel(long_panel, windowed, drivers=long_drivers)
    cut_panel, cut_drivers = _inputs(cut, windowed)
    by_hand = forecast_panel(cut_panel, replace(windowed, history_days=None), drivers=cut_drivers)

    assert result.panel.n_periods == 200 and np.array_equal(result.panel.values, by_hand.panel.values, equal_nan=True)
    pd.testing.assert_frame_equal(result.selection, by_hand.selection, check_exact=True)
    pd.testing.assert_frame_equal(result.forecasts, by_hand.forecasts, check_exact=True)
    pd.testing.assert_frame_equal(result.backtest.metrics, by_hand.backtest.metrics, check_exact=True)
    assert "glm_drivers" in set(result.backtest.metrics["model"])
    # the window changes what is fitted (else the test proves nothing), and parts of it still add up
    whole_history = forecast_panel(long_panel, replace(windowed, history_days=None), drivers=long_drivers)
    assert not whole_history.forecasts["yhat"].equals(result.forecasts["yhat"])
    ranking = slow_model_ranking(result.panel.ids, np.nansum(result.panel.values, axis=1), result.panel.lengths,
                                 windowed)
    parts = []
    for materials in (["batt"], ["cable", "rect"]):
        panel, drivers = _inputs(demand[demand["material_id"].isin(materials)], windowed)
        parts.append(forecast_part(panel, windowed, drivers=drivers, ranking=ranking))
    pd.testing.assert_frame_equal(finish(parts).forecasts, result.forecasts, check_exact=True)


def test_each_part_uses_the_runs_top_k_not_its_own(config):
    demand = _demand()
    whole_panel, _ = _inputs(demand, config)
    ranking = _run_ranking(whole_panel, config)
    smallest = [uid for uid in ranking if uid.startswith("batt@")][-1]  # smooth, not in the run's top 2
    assert smallest not in ranking[:2]
    panel, drivers = _inputs(demand[demand["unique_id"] == smallest], config)
    alone = forecast_part(panel, config, drivers=drivers)
    in_run = forecast_part(panel, config, drivers=drivers, ranking=ranking)
    assert set(alone.backtest.metrics.query("model == 'ets'")["unique_id"]) == {smallest}
    assert in_run.backtest.metrics.query("model == 'ets'").empty
    assert np.isnan(in_run.fits["ets"]).all() and np.isfinite(alone.fits["ets"]).all()


def test_overlapping_parts_are_refused(config):
    demand = _demand()
    panel, drivers = _inputs(demand[demand["material_id"] == "batt"], config)
    part = forecast_part(panel, config, drivers=drivers)
    with pytest.raises(InputError, match="overlap"):
        finish([part, part])
