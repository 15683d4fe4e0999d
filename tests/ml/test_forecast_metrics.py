"""Accuracy metrics on hand examples."""

import math

import numpy as np
import pytest

from nova_forecast import metrics


def test_rmsse_scales_by_the_in_sample_naive_mse():
    # history steps 1, 1, 1 -> scale 1; errors 1, 2 -> MSE 2.5
    assert metrics.rmsse([5, 6], [4, 4], [1, 2, 3, 4])[0] == pytest.approx(math.sqrt(2.5))


def test_rmsse_scale_starts_at_the_first_non_zero_demand_like_m5():
    # leading zeros are not history yet: only the step 2 -> 4 counts, scale 4
    assert metrics.naive_scale([0, 0, 2, 4])[0] == pytest.approx(4.0)
    assert metrics.rmsse([4, 4], [2, 2], [0, 0, 2, 4])[0] == pytest.approx(1.0)


def test_rmsse_is_undefined_for_a_constant_history():
    assert np.isnan(metrics.rmsse([1], [1], [3, 3, 3])[0])


def test_wape_bias_and_mape_over_non_zero_actuals():
    actual, forecast = [2, 0, 4], [1, 1, 4]
    assert metrics.wape(actual, forecast)[0] == pytest.approx(2 / 6)  # |errors| 1 + 1 + 0 over 6
    assert metrics.bias(actual, forecast)[0] == pytest.approx(0.0)  # over- and under-forecast cancel
    assert metrics.bias([2, 2], [3, 3])[0] == pytest.approx(0.5)
    assert metrics.mape(actual, forecast)[0] == pytest.approx(0.25)  # (1/2 + 0/4) / 2; the zero is left out


def test_wape_and_mape_undefined_without_demand():
    assert np.isnan(metrics.wape([0, 0], [1, 1])[0])
    assert np.isnan(metrics.mape([0, 0], [1, 1])[0])


def test_metrics_are_row_wise_and_ignore_nan():
    actual = np.array([[1, 2], [4, np.nan]])
    forecast = np.array([[1, 1], [2, 2]])
    assert metrics.wape(actual, forecast).tolist() == pytest.approx([1 / 3, 0.5])


def test_pinball_and_scaled_pinball():
    # q = 0.9: under-forecast by 2 costs 0.9 * 2, over-forecast by 1 costs 0.1 * 1
    assert metrics.pinball([3, 0], [1, 1], 0.9)[0] == pytest.approx((1.8 + 0.1) / 2)
    # history steps |1|, |1| -> mean absolute naive error 1
    assert metrics.scaled_pinball([3, 0], [1, 1], 0.9, [1, 2, 1])[0] == pytest.approx(0.95)
