"""Backtest, selection and forecasts of the engine on small frames."""

import numpy as np
import pandas as pd
import pytest

from nova_forecast.data import InputError
from nova_forecast.engine import EngineConfig, backtest, forecast, select_models

FAST = ("naive", "seasonal_naive", "mean", "window_average", "croston", "sba", "tsb", "adida", "imapa", "ses")


def long(series: dict[str, list[float]], start: str = "2024-01-01") -> pd.DataFrame:
    return pd.concat(
        pd.DataFrame({"unique_id": uid, "ds": pd.date_range(start, periods=len(y)), "y": y})
        for uid, y in series.items()
    )


def random_demand(n: int = 6, days: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    series = {}
    for i in range(n):
        p = [0.9, 0.3, 0.08][i % 3]
        series[f"s{i}"] = ((rng.random(days) < p) * rng.poisson(4, days)).tolist()
    return long(series)


def test_rolling_origins_cutoffs_actuals_and_rmsse():
    # y = 1..20; horizon 3, 2 folds: train on 1..14 then on 1..17; naive forecasts 14 and 17
    config = EngineConfig(horizon=3, folds=2, min_train=5, models=("naive",))
    bt = backtest(long({"a": list(range(1, 21))}), config)
    assert [str(pd.Timestamp(c).date()) for c in bt.cutoffs[0]] == ["2024-01-14", "2024-01-17"]
    assert bt.actuals[0].tolist() == [[15, 16, 17], [18, 19, 20]]
    assert bt.forecasts["naive"][0].tolist() == [[14, 14, 14], [17, 17, 17]]
    # naive steps in the history are all 1 (scale 1); errors 1, 2, 3 in each fold: MSE 14 / 3
    row = bt.metrics.set_index("model").loc["naive"]
    assert row["rmsse"] == pytest.approx(np.sqrt(14 / 3))
    assert row["wape"] == pytest.approx((6 + 6) / (48 + 57))
    assert row["folds"] == 2
    cv = bt.cv_frame()
    assert cv["ds"].dt.strftime("%m-%d").tolist()[:3] == ["01-15", "01-16", "01-17"]


def test_weekly_pattern_selects_seasonal_naive_with_zero_width_intervals():
    week = [6, 5, 5, 5, 5, 1, 0]
    result = forecast(long({"w": week * 10}), EngineConfig(horizon=7, folds=2, models=("naive", "seasonal_naive",
                                                                                         "mean")))
    assert result.selection["model"].tolist() == ["seasonal_naive"]
    assert result.selection["rmsse"].iat[0] == 0.0
    fc = result.forecasts
    assert fc["yhat"].tolist() == week  # ten whole weeks of history: next week repeats the pattern
    assert (fc["yhat_lo_95"] == fc["yhat"]).all() and (fc["yhat_hi_95"] == fc["yhat"]).all()


def test_forecast_frame_dates_bounds_and_columns():
    result = forecast(random_demand(), EngineConfig(horizon=14, folds=2, models=FAST))
    fc = result.forecasts
    assert list(fc.columns[:5]) == ["unique_id", "ds", "model", "demand_class", "yhat"]
    assert len(fc) == 6 * 14
    assert fc.groupby("unique_id")["ds"].min().eq(pd.Timestamp("2024-04-30")).all()  # day after the last
    values = fc[["yhat_lo_95", "yhat_lo_80", "yhat", "yhat_hi_80", "yhat_hi_95"]].to_numpy()
    assert (values >= 0).all()
    assert (np.diff(values, axis=1) >= 0).all()  # lo95 <= lo80 <= yhat <= hi80 <= hi95
    assert (fc["yhat_q90"] <= fc["yhat_q95"]).all() and (fc["yhat_q95"] <= fc["yhat_q99"]).all()
    summary = result.summary()
    assert summary["series"] == 6 and sum(summary["models_selected"].values()) == 6
    assert {c["model"] for c in summary["candidates"]} == set(FAST)


def test_too_short_series_fall_back_to_the_baseline_with_a_warning(caplog):
    data = long({"long": [3.0] * 40 + [4.0] * 20, "short": [2, 4, 6]})
    result = forecast(data, EngineConfig(horizon=7, folds=2, models=FAST))
    chosen = result.selection.set_index("unique_id")
    assert chosen.loc["short", "model"] == "mean"
    assert chosen.loc["short", "reason"] == "too short to backtest"
    assert result.forecasts.query("unique_id == 'short'")["yhat"].tolist() == [4.0] * 7
    assert any("short (3)" in w and "baseline" in w for w in result.warnings)
    assert "1 series too short to backtest" in caplog.text


def test_backtest_with_only_too_short_series_is_an_input_error():
    with pytest.raises(InputError, match="too short to backtest .* a \\(5\\)"):
        backtest(long({"a": [1, 2, 3, 4, 5]}), EngineConfig(horizon=7, models=FAST))


def test_selection_is_the_per_series_minimum_without_margin_and_the_champion_with_full_margin():
    bt = backtest(random_demand(n=9, seed=4), EngineConfig(horizon=14, folds=3, models=FAST))
    # naive baselines are benchmarks only on intermittent and lumpy series
    sparse = bt.metrics["demand_class"].isin(["intermittent", "lumpy"])
    selectable = bt.metrics[~(sparse & bt.metrics["model"].isin(["naive", "seasonal_naive"]))]
    best = selectable.loc[selectable.groupby("unique_id")["rmsse"].idxmin()].set_index("unique_id")["model"]
    free = select_models(bt, margin=0.0).set_index("unique_id")["model"]
    assert free.sort_index().tolist() == best.sort_index().tolist()
    assert sparse.any() and bt.metrics.loc[sparse, "model"].eq("naive").any()  # still backtested
    sticky = select_models(bt, margin=1.0)
    assert (sticky.groupby("demand_class")["model"].nunique() == 1).all()
    assert (sticky["model"] == sticky["champion"]).all()


def test_slow_models_run_on_top_k_and_skip_intermittent_series_with_a_reason(caplog):
    rng = np.random.default_rng(1)
    days = 84
    data = long({
        "big_smooth": rng.poisson(20, days).tolist(),
        "big_lumpy": ((rng.random(days) < 0.1) * 300).tolist(),
        "small_smooth": rng.poisson(3, days).tolist(),
    })
    caplog.set_level("INFO", logger="nova_forecast")
    config = EngineConfig(horizon=7, folds=2, models=("mean", "prophet"), top_k=2)
    bt = backtest(data, config)
    assert set(bt.metrics.query("model == 'prophet'")["unique_id"]) == {"big_smooth"}
    skipped = bt.skipped.set_index("unique_id")
    assert skipped.loc["big_lumpy", "model"] == "prophet"
    assert skipped.loc["big_lumpy", "reason"].startswith("intermittent demand (ADI")
    assert "prophet skipped for big_lumpy: intermittent demand" in caplog.text
    assert (bt.forecasts["prophet"][list(bt.panel.ids).index("big_smooth")] >= 0).all()


@pytest.mark.slow
def test_pmdarima_candidate_runs_bounded():
    rng = np.random.default_rng(2)
    days = np.arange(70)
    y = rng.poisson(10 + 4 * np.sin(2 * np.pi * days / 7))
    config = EngineConfig(horizon=7, folds=1, models=("mean", "pmdarima"), top_k=1)
    result = forecast(long({"a": y.tolist()}), config)
    assert set(result.backtest.metrics["model"]) == {"mean", "pmdarima"}
    assert np.isfinite(result.backtest.forecasts["pmdarima"]).all()


def test_config_rejects_unknown_models_and_bad_levels():
    with pytest.raises(InputError, match="unknown model.*lstm"):
        EngineConfig(models=("mean", "lstm"))
    with pytest.raises(InputError, match="interval levels"):
        EngineConfig(levels=(80, 120))


def test_config_history_window_needs_room_for_training_and_horizon():
    assert EngineConfig().history_days is None and EngineConfig(history_days=1095).to_dict()["history_days"] == 1095
    assert EngineConfig(history_days=None).to_dict()["history_days"] is None
    assert EngineConfig(horizon=28, history_days=56).min_history_days == 56  # min_train 28 + horizon 28 days
    for bad in (55, 0, -7):
        with pytest.raises(InputError, match=f"history_days must be at least 56 .*got {bad}"):
            EngineConfig(horizon=28, history_days=bad)
    # monthly: 12 + 12 months, the 23 before the last at most 31 days each
    assert EngineConfig(freq="MS", horizon=12, history_days=714).min_history_days == 714
    with pytest.raises(InputError, match="at least 714 .* periods of MS"):
        EngineConfig(freq="MS", horizon=12, history_days=713)


def test_a_selected_model_failing_on_the_full_history_is_replaced_by_the_class_champion(monkeypatch):
    from nova_forecast import slow_models

    rng = np.random.default_rng(3)
    y = rng.poisson(6, 70).astype(float)

    def perfect_in_backtest_then_broken(history, dates, h, **settings):
        if len(history) == len(y):
            raise ValueError("did not converge")
        return y[len(history):len(history) + h]  # the future itself: wins every backtest fold

    monkeypatch.setitem(slow_models._FITTERS, "ets", perfect_in_backtest_then_broken)
    config = EngineConfig(horizon=7, folds=2, models=("mean", "naive", "ets"), auto_top_k=1)
    small = rng.poisson(3, 70).astype(float)  # same class, not in the top 1: the champion is a fast model
    result = forecast(long({"a": y.tolist(), "b": small.tolist()}), config)
    assert result.backtest.metrics.query("model == 'ets'")["rmsse"].tolist() == [0.0]
    assert result.selection["demand_class"].tolist() == ["smooth", "smooth"]
    chosen = result.selection.iloc[0]
    assert (chosen["model"], chosen["reason"]) == (chosen["champion"], "final fit failed, replaced")
    assert chosen["champion"] in ("mean", "naive")
    assert np.isfinite(result.forecasts["yhat"]).all()
    assert any("could not be fitted by their selected model" in w for w in result.warnings)


def test_prophet_holidays_are_brazil_and_bahia_offline():
    from nova_forecast.slow_models import brazil_bahia_holidays

    days = brazil_bahia_holidays(2024, 2025).set_index("ds")["holiday"]
    assert days[pd.Timestamp("2024-07-02")] == "Bahia Independence Day"  # state holiday
    assert days[pd.Timestamp("2024-02-13")] == "Carnival"
    assert days[pd.Timestamp("2025-12-25")] == "Christmas Day"
