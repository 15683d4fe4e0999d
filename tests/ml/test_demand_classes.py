"""Syntetos-Boylan classification of hand-made series."""

import pandas as pd
import pytest

from nova_forecast.classify import adi_cv2, classify, classify_values


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([5, 6, 5, 6, 5, 6], "smooth"),  # ADI 1, CV² 0.25 / 30.25 = 0.008
        ([1, 10, 1, 10, 1, 10], "erratic"),  # ADI 1, CV² 20.25 / 30.25 = 0.67
        ([0, 0, 3, 0, 0, 3], "intermittent"),  # ADI 3, CV² 0
        ([0, 0, 1, 0, 0, 10], "lumpy"),  # ADI 3, CV² 0.67
        ([0, 0, 0], "no_demand"),
    ],
)
def test_classes(values, expected):
    assert classify_values(values) == expected


def test_adi_counts_the_first_interval_from_the_start():
    adi, cv2 = adi_cv2([[0, 0, 3, 0, 0, 3]])
    assert (adi[0], cv2[0]) == (3.0, 0.0)
    adi, _ = adi_cv2([[4, 0, 4, 4]])  # intervals 1, 2, 1
    assert adi[0] == pytest.approx(4 / 3)  # just above the 1.32 cut-off: intermittent
    assert classify_values([4, 0, 4, 4]) == "intermittent"
    assert classify_values([4, 0, 4, 4, 4]) == "smooth"  # intervals 1, 2, 1, 1: ADI 1.25


def test_classify_long_frame():
    frame = pd.DataFrame({
        "unique_id": ["a"] * 4 + ["b"] * 4,
        "ds": list(pd.date_range("2024-01-01", periods=4)) * 2,
        "y": [2, 2, 2, 2, 0, 0, 0, 5],
    })
    classes = classify(frame).set_index("unique_id")
    assert classes.loc["a", "demand_class"] == "smooth"
    assert classes.loc["b", "demand_class"] == "intermittent"
    assert classes.loc["b", "adi"] == 4.0
    assert classes.loc["b", "total"] == 5.0
