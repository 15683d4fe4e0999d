"""Long-format input: validation messages, the right-aligned panel, files and fingerprints."""

import numpy as np
import pandas as pd
import pytest

from nova_forecast.data import InputError, Panel, fingerprint, load_panel, read_frame, validate_long, write_frame


def frame(ids, dates, ys):
    return pd.DataFrame({"unique_id": ids, "ds": dates, "y": ys})


def test_panel_is_right_aligned_on_each_series_last_date():
    df = frame(["a", "a", "a", "b", "b"], ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-05", "2024-01-06"],
               [1, 2, 3, 7, 8])
    panel, warnings = load_panel(df)
    assert panel.ids.tolist() == ["a", "b"]
    assert np.array_equal(panel.values, [[1, 2, 3], [np.nan, 7, 8]], equal_nan=True)
    assert [str(pd.Timestamp(d).date()) for d in panel.last_ds] == ["2024-01-03", "2024-01-06"]
    assert warnings == []
    assert panel.head(1).values.tolist()[0] == [1, 2]
    assert str(pd.Timestamp(panel.head(1).last_ds[1]).date()) == "2024-01-05"
    back = panel.to_long()
    assert back["y"].tolist() == [1, 2, 3, 7, 8]


def test_missing_days_are_filled_with_zero_and_reported():
    panel, warnings = load_panel(frame(["a", "a"], ["2024-01-01", "2024-01-04"], [1, 2]))
    assert panel.values.tolist() == [[1, 0, 0, 2]]
    assert warnings == ["1 series have missing periods, filled with 0 (no demand recorded): a (2)"]


def test_weekly_monthly_and_quarterly_grids():
    weekly, _ = load_panel(frame(["a"] * 3, ["2024-01-03", "2024-01-10", "2024-01-24"], [1, 2, 3]), "W")
    assert weekly.values.tolist() == [[1, 2, 0, 3]]
    assert str(pd.Timestamp(weekly.future_dates(1)[0, 0]).date()) == "2024-01-31"
    monthly, _ = load_panel(frame(["a"] * 2, ["2024-11-01", "2025-01-01"], [1, 2]), "MS")
    assert monthly.values.tolist() == [[1, 0, 2]]
    assert [str(pd.Timestamp(d).date()) for d in monthly.future_dates(2)[0]] == ["2025-02-01", "2025-03-01"]
    quarterly, _ = load_panel(frame(["a"] * 2, ["2024-07-01", "2024-10-01"], [1, 2]), "QS")
    assert str(pd.Timestamp(quarterly.future_dates(1)[0, 0]).date()) == "2025-01-01"


def test_history_window_keeps_each_series_days_after_its_last_date_minus_the_window():
    daily, _ = load_panel(frame(["a"] * 5 + ["b"] * 2, [f"2024-01-0{d}" for d in range(1, 6)] + ["2024-01-08", "2024-01-09"],
                                [1, 2, 3, 4, 5, 8, 9]))
    cut = daily.last_days(3)  # a: Jan 3-5 (after Jan 2); b is shorter than the window
    assert np.array_equal(cut.values, [[3, 4, 5], [np.nan, 8, 9]], equal_nan=True)
    assert cut.last_ds.tolist() == daily.last_ds.tolist()
    assert daily.last_days(5) is daily
    # months: Jan 1 is 60 days before Mar 1 2024 (leap year), Jul 1 62 days before Sep 1: a 61-day
    # window holds Jan-Mar of one series and Aug-Sep of the other
    months = [f"2023-{m:02d}-01" for m in range(10, 13)] + [f"2024-{m:02d}-01" for m in range(1, 4)]
    monthly, _ = load_panel(frame(["a"] * 6 + ["b"] * 4, months + ["2024-06-01", "2024-07-01", "2024-08-01",
                                                                     "2024-09-01"], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), "MS")
    assert np.array_equal(monthly.last_days(61).values, [[4, 5, 6], [np.nan, 9, 10]], equal_nan=True)
    weekly, _ = load_panel(frame(["a"] * 4, ["2024-01-03", "2024-01-10", "2024-01-17", "2024-01-24"], [1, 2, 3, 4]), "W")
    assert weekly.last_days(8).values.tolist() == [[3, 4]]  # the week 7 days back is in, 14 days back is out


@pytest.mark.parametrize(
    ("df", "freq", "message"),
    [
        (pd.DataFrame({"unique_id": ["a"], "y": [1]}), "D", r"missing column\(s\) ds"),
        (frame(["a", "a"], ["2024-01-01", "2024-31-01"], [1, 2]), "D", r"unparsable dates .*'2024-31-01' \(unique_id a, row 2\)"),
        (frame(["a", "a", "a"], ["2024-01-01", "2024-01-01", "2024-01-02"], [1, 2, 3]), "D", "duplicate .* a on 2024-01-01"),
        (frame(["a", "a"], ["2024-01-01", "2024-01-02"], [1, -2]), "D", r"negative values .* a on 2024-01-02 \(y=-2, row 2\)"),
        (frame(["a", "a", "b"], ["2024-01-01", "2024-01-02", "2024-01-01"], [1, 2, 3]), "D", r"too short .* b \(1 observation\)"),
        (frame(["a", "a"], ["2024-01-01", "2024-01-02"], [1, "x"]), "D", r"non-numeric values in y .*'x'"),
        (frame(["a", "a"], ["2024-01-01", "2024-01-15"], [1, 2]), "MS", "off the MS grid.*a on 2024-01-15"),
        (frame(["a", "a"], ["2024-01-01", "2024-01-02"], [1, 2]), "H", "unsupported frequency"),
    ],
)
def test_bad_input_is_named(df, freq, message):
    with pytest.raises(InputError, match=message):
        validate_long(df, freq)


def test_csv_and_parquet_round_trip(tmp_path):
    df = frame(["a", "a", "b", "b"], pd.to_datetime(["2024-01-01", "2024-01-02"] * 2), [1.5, 0.0, 2.0, 3.0])
    for name in ("x.csv", "x.parquet"):
        path = write_frame(df, tmp_path / name)
        back = read_frame(path)
        clean = validate_long(back)
        assert clean["unique_id"].tolist() == ["a", "a", "b", "b"]
        assert clean["y"].tolist() == [1.5, 0.0, 2.0, 3.0]
        assert clean["ds"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-01", "2024-01-02"] * 2
    assert (tmp_path / "x.csv").read_text().splitlines()[1] == "a,2024-01-01,1.5"


def test_unknown_file_format_is_refused(tmp_path):
    path = tmp_path / "x.xlsx"
    path.write_text("")
    with pytest.raises(InputError, match="unsupported input format .xlsx"):
        read_frame(path)


def test_fingerprint_depends_on_content_not_row_order():
    df = frame(["a", "a", "b"], pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01"]), [1.0, 2.0, 3.0])
    assert fingerprint(df) == fingerprint(df.iloc[::-1])
    assert len(fingerprint(df)) == 64
    changed = df.assign(y=[1.0, 2.0, 3.5])
    assert fingerprint(df) != fingerprint(changed)


def test_panel_subset_trims_padding():
    clean = validate_long(frame(["a", "a", "a", "b", "b"],
                                   ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-02", "2024-01-03"],
                                   [1, 2, 3, 4, 5]))
    panel = Panel.from_long(clean)
    assert panel.values.shape == (2, 3)
    only_b = panel.subset(np.array([1]))
    assert only_b.values.tolist() == [[4.0, 5.0]]
    assert only_b.ids.tolist() == ["b"]
