"""Candidate models on tiny series whose forecasts can be worked out by hand."""

import numpy as np
import pandas as pd
import pytest

from nova_forecast.data import Panel, load_panel
from nova_forecast.models import (
    ADIDA,
    AGGREGATE_SES_ALPHAS,
    IMAPA,
    SES,
    SES_ALPHAS,
    TSB,
    Croston,
    CrostonSBA,
    HistoricAverage,
    Naive,
    SeasonalES,
    SeasonalNaive,
    SeasonalWindowAverage,
    WindowAverage,
    best_ses,
    croston_parts,
)


def panel_of(*series: list[float]) -> Panel:
    frames = [
        pd.DataFrame({"unique_id": f"s{i}", "ds": pd.date_range("2024-01-01", periods=len(y)), "y": y})
        for i, y in enumerate(series)
    ]
    panel, _ = load_panel(pd.concat(frames), "D")
    return panel


def test_croston_on_two_equal_demands_three_periods_apart_forecasts_one_per_period():
    # sizes 3, 3 -> z = 3; intervals 3 (from the start), 3 -> p = 3; forecast z / p = 1
    panel = panel_of([0, 0, 3, 0, 0, 3])
    assert Croston().fit(panel).predict(4).tolist() == [[1.0, 1.0, 1.0, 1.0]]


def test_sba_is_croston_times_one_minus_half_alpha():
    panel = panel_of([0, 0, 3, 0, 0, 3], [0, 4, 0, 0, 0, 2, 0, 1])
    croston = Croston(alpha=0.1).fit(panel).predict(1)[:, 0]
    sba = CrostonSBA(alpha=0.1).fit(panel).predict(1)[:, 0]
    assert sba == pytest.approx(0.95 * croston)
    assert sba[0] == pytest.approx(0.95)


def test_croston_smooths_sizes_and_intervals_separately():
    # sizes 4, 2, 1 with alpha 0.5: z = 4 -> 3 -> 2; intervals 2, 4, 3: p = 2 -> 3 -> 3
    size, interval = croston_parts(np.array([[0, 4, 0, 0, 0, 2, 0, 0, 1.0]]), alpha=0.5)
    assert (size[0], interval[0]) == (2.0, 3.0)
    assert Croston(alpha=0.5).fit(panel_of([0, 4, 0, 0, 0, 2, 0, 0, 1])).predict(1)[0, 0] == pytest.approx(2 / 3)


def test_tsb_with_fixed_alphas():
    # probability (alpha 0.5) from the first period's 0: 0, 0, .5, .25, .125, .5625; size stays 3
    forecast = TSB(alpha_d=0.5, alpha_p=0.5).fit(panel_of([0, 0, 3, 0, 0, 3])).predict(2)
    assert forecast.tolist() == [[0.5625 * 3, 0.5625 * 3]]


def test_intermittent_models_forecast_zero_without_demand():
    panel = panel_of([0, 0, 0, 0])
    for model in (Croston(), CrostonSBA(), TSB(), ADIDA(), IMAPA()):
        assert model.fit(panel).predict(2).tolist() == [[0.0, 0.0]], model.name


def test_seasonal_naive_repeats_last_week():
    two_weeks = [1, 2, 3, 4, 5, 6, 7, 10, 20, 30, 40, 50, 60, 70]
    forecast = SeasonalNaive(7).fit(panel_of(two_weeks)).predict(10)
    assert forecast.tolist() == [[10, 20, 30, 40, 50, 60, 70, 10, 20, 30]]


def test_seasonal_naive_has_no_forecast_for_a_series_shorter_than_a_season():
    forecast = SeasonalNaive(7).fit(panel_of(list(range(14)), [1, 2, 3])).predict(2)
    assert np.isfinite(forecast[0]).all() and np.isnan(forecast[1]).all()


def test_seasonal_window_average_means_the_same_weekday():
    weeks = [2] * 7 + [4] * 7  # two weeks: mean of each weekday = 3
    assert SeasonalWindowAverage(7, seasons=2).fit(panel_of(weeks)).predict(3).tolist() == [[3, 3, 3]]


def test_baselines():
    panel = panel_of([1, 2, 3, 6], [5, 5])
    assert Naive().fit(panel).predict(2).tolist() == [[6, 6], [5, 5]]
    assert HistoricAverage().fit(panel).predict(1).tolist() == [[3], [5]]
    assert WindowAverage(window=2).fit(panel).predict(1).tolist() == [[4.5], [5]]


def test_series_of_different_lengths_are_independent():
    # right-aligned with NaN padding: the short series must not see the long one's values
    alone = Croston().fit(panel_of([0, 2, 0, 2])).predict(1)
    together = Croston().fit(panel_of([9, 9, 9, 9, 9, 9, 9, 9], [0, 2, 0, 2])).predict(1)
    assert together[1] == pytest.approx(alone[0])


def test_ses_picks_the_alpha_with_the_smallest_in_sample_error():
    # a level shift: the largest alpha in the grid (0.99) follows it best
    values = np.array([[0, 0, 0, 0, 10, 10, 10, 10.0]])
    level = 0.0
    for x in values[0, 1:]:
        level += 0.99 * (x - level)
    assert SES_ALPHAS.max() == 0.99
    assert best_ses(values)[0] == pytest.approx(level)
    assert SES().fit(panel_of(values[0].tolist())).predict(1)[0, 0] == pytest.approx(level)
    # ... and with a grid that stops at 0.3, 0.3
    level = 0.0
    for x in values[0, 1:]:
        level += 0.3 * (x - level)
    assert best_ses(values, AGGREGATE_SES_ALPHAS)[0] == pytest.approx(level)


def test_adida_aggregates_over_the_mean_interval():
    # mean interval 3: bucket sums [3, 3] -> SES 3 -> 3 / 3 = 1 per period
    assert ADIDA().fit(panel_of([0, 0, 3, 0, 0, 3])).predict(2).tolist() == [[1.0, 1.0]]


def test_imapa_averages_the_forecasts_of_every_bucket_size():
    y = np.array([0, 2, 0, 2, 0, 2, 0, 2.0])  # mean interval 2: bucket sizes 1 and 2
    level_1 = best_ses(y[None, :], AGGREGATE_SES_ALPHAS)[0]
    level_2 = best_ses(np.array([[2, 2, 2, 2.0]]), AGGREGATE_SES_ALPHAS)[0] / 2  # = 1
    assert IMAPA().fit(panel_of(y.tolist())).predict(1)[0, 0] == pytest.approx((level_1 + level_2) / 2)


def test_rows_mask_leaves_other_series_without_forecast():
    panel = panel_of([1, 2], [3, 4])
    forecast = Naive().fit(panel, rows=np.array([False, True])).predict(1)
    assert np.isnan(forecast[0, 0]) and forecast[1, 0] == 4


def test_matches_statsforecast_on_a_random_intermittent_series():
    from statsforecast.models import TSB as SfTSB
    from statsforecast.models import CrostonClassic
    from statsforecast.models import CrostonSBA as SfSBA

    rng = np.random.default_rng(3)
    y = (rng.random(200) < 0.2) * rng.integers(1, 6, 200).astype(float)
    panel = panel_of(y.tolist())
    assert Croston().fit(panel).predict(1)[0, 0] == pytest.approx(CrostonClassic().forecast(y=y, h=1)["mean"][0])
    assert CrostonSBA().fit(panel).predict(1)[0, 0] == pytest.approx(SfSBA().forecast(y=y, h=1)["mean"][0])
    ours = TSB(alpha_d=0.2, alpha_p=0.1).fit(panel).predict(1)[0, 0]
    assert ours == pytest.approx(SfTSB(alpha_d=0.2, alpha_p=0.1).forecast(y=y, h=1)["mean"][0])


def test_the_vectorised_models_are_statsforecasts_models():
    """Kept because they are many times faster on a panel at the same accuracy (models.py docstring,
    bench/forecast.py); they must stay the same models: same forecasts on series of different
    lengths, sparse and dense."""
    from statsforecast import models as sf

    rng = np.random.default_rng(11)
    sparse = (rng.random(150) < 0.15) * rng.integers(1, 9, 150).astype(float)
    dense = rng.poisson(4.0, 90).astype(float) * np.tile([1.2, 1.1, 1.1, 1, 1, 0.4, 0.3], 13)[:90]
    panel = panel_of(sparse.tolist(), dense.tolist())
    pairs = [
        (Naive(), sf.Naive()), (HistoricAverage(), sf.HistoricAverage()), (WindowAverage(28), sf.WindowAverage(28)),
        (SeasonalNaive(7), sf.SeasonalNaive(7)), (SeasonalWindowAverage(7, 4), sf.SeasonalWindowAverage(7, 4)),
        (Croston(), sf.CrostonClassic()), (CrostonSBA(), sf.CrostonSBA()),
        # alpha from a grid over statsforecast's bounds instead of its continuous optimum: within 1 %
        (ADIDA(), sf.ADIDA()), (IMAPA(), sf.IMAPA()),
    ]
    for ours, theirs in pairs:
        forecast = ours.fit(panel).predict(7)
        tolerance = 1e-2 if isinstance(ours, ADIDA | IMAPA) else 1e-9
        for row, y in enumerate((sparse, dense)):
            expected = theirs.forecast(y=y, h=7)["mean"]
            assert forecast[row] == pytest.approx(expected, rel=tolerance), (type(ours).__name__, row)


def test_seasonal_es_reproduces_an_exact_weekly_pattern_and_needs_two_seasons():
    week = [6, 5, 5, 5, 5, 1, 0]
    panel = panel_of(week * 6, week[3:] + week * 5, [1, 2, 3])  # the second starts on a Thursday
    forecast = SeasonalES(7).fit(panel).predict(9)
    assert forecast[0].tolist() == pytest.approx(week + week[:2])  # no error, so the states never move
    assert forecast[1].tolist() == pytest.approx(week + week[:2])  # both end on a Sunday
    assert np.isnan(forecast[2]).all()


def test_seasonal_es_follows_a_level_shift():
    week = np.array([2, 2, 2, 2, 2, 0, 0.0])
    history = np.concatenate([np.tile(week, 6), np.tile(week + 3, 6)])
    forecast = SeasonalES(7).fit(panel_of(history.tolist())).predict(7)[0]
    assert forecast[0] > 4.0  # close to the new Monday level of 5
    assert forecast[0] - forecast[5] == pytest.approx(2.0, abs=0.5)  # weekday gap kept
