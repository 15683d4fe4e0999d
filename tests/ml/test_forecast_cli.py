"""The ``nova-forecast`` command: outputs, metrics printout, error messages and exit codes."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nova_forecast.cli import main

FAST = "naive,seasonal_naive,mean,croston,sba,tsb"
COMMAND = Path(sys.executable).with_name("nova-forecast")


def write_demand(path: Path, days: int = 60, extra: pd.DataFrame | None = None) -> Path:
    rng = np.random.default_rng(0)
    frames = [
        pd.DataFrame({"unique_id": uid, "ds": pd.date_range("2024-01-01", periods=days).strftime("%Y-%m-%d"),
                      "y": (rng.random(days) < p) * rng.integers(1, 5, days)})
        for uid, p in (("MAT-1@SITE-1", 0.9), ("MAT-2@SITE-1", 0.2))
    ]
    frame = pd.concat([*frames, *([] if extra is None else [extra])])
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def test_forecast_writes_long_output_with_interval_columns(tmp_path, capsys):
    source = write_demand(tmp_path / "demand.csv")
    out = tmp_path / "forecast.csv"
    assert main(["forecast", "--input", str(source), "--horizon", "7", "--models", FAST, "--output", str(out)]) == 0
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["unique_id", "ds", "model", "yhat", "yhat_lo_80", "yhat_hi_80", "yhat_lo_95",
                                   "yhat_hi_95"]
    assert len(frame) == 14 and frame["ds"].iat[0] == "2024-03-01"
    assert (frame["yhat_lo_95"] >= 0).all()
    assert "wrote 14 rows for 2 series" in capsys.readouterr().out


def test_forecast_parquet_in_and_out_with_levels_and_service_levels(tmp_path):
    source = write_demand(tmp_path / "demand.parquet")
    out = tmp_path / "forecast.parquet"
    code = main(["forecast", "--input", str(source), "--horizon", "5", "--models", FAST, "--levels", "50,90",
                 "--service-levels", "0.95,0.99", "--output", str(out), "--report", str(tmp_path / "run.json")])
    assert code == 0
    frame = pd.read_parquet(out)
    assert list(frame.columns)[4:] == ["yhat_lo_50", "yhat_hi_50", "yhat_lo_90", "yhat_hi_90", "yhat_q95", "yhat_q99"]
    assert pd.api.types.is_datetime64_any_dtype(frame["ds"])
    assert '"candidates"' in (tmp_path / "run.json").read_text()


def test_backtest_prints_metrics_per_model_and_the_selection(tmp_path, capsys):
    source = write_demand(tmp_path / "demand.csv")
    out = tmp_path / "metrics.csv"
    code = main(["backtest", "--input", str(source), "--horizon", "7", "--folds", "2", "--models", FAST,
                 "--output", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "model" in printed and "rmsse" in printed and "wape" in printed
    for name in FAST.split(","):
        assert name in printed
    assert "selection (series per demand class and model):" in printed
    metrics = pd.read_csv(out)
    assert metrics["selected"].sum() == 2
    assert set(metrics["model"]) == set(FAST.split(","))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("unique_id,date,y\na,2024-01-01,1\n", "missing column(s) ds"),
        ("unique_id,ds,y\na,2024-01-01,1\na,01/02/2024x,2\n", "unparsable dates in column ds for 1 row(s): '01/02/2024x' (unique_id a, row 2)"),
        ("unique_id,ds,y\na,2024-01-01,1\na,2024-01-01,2\n", "duplicate (unique_id, ds) pairs in 2 rows: a on 2024-01-01"),
        ("unique_id,ds,y\na,2024-01-01,1\na,2024-01-02,-3\n", "negative values in y for 1 row(s): a on 2024-01-02 (y=-3, row 2)"),
        ("unique_id,ds,y\na,2024-01-01,1\na,2024-01-02,2\nb,2024-01-01,1\n", "1 series too short to forecast (need at least 2 observations): b (1 observation)"),
    ],
)
def test_bad_input_exits_2_naming_the_problem(tmp_path, capsys, content, message):
    source = tmp_path / "bad.csv"
    source.write_text(content)
    code = main(["forecast", "--input", str(source), "--horizon", "3", "--models", FAST,
                 "--output", str(tmp_path / "out.csv")])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()


def test_too_short_series_warn_and_fall_back_instead_of_failing(tmp_path, capsys):
    short = pd.DataFrame({"unique_id": "MAT-9@SITE-1", "ds": ["2024-02-20", "2024-02-21", "2024-02-22"],
                          "y": [1, 0, 2]})
    source = write_demand(tmp_path / "demand.csv", extra=short)
    out = tmp_path / "forecast.csv"
    assert main(["forecast", "--input", str(source), "--horizon", "7", "--models", FAST, "--output", str(out)]) == 0
    assert "warning: 1 series too short to backtest" in capsys.readouterr().err
    frame = pd.read_csv(out)
    assert frame.query("unique_id == 'MAT-9@SITE-1'")["model"].eq("mean").all()


def test_console_script_exit_codes(tmp_path):
    source = write_demand(tmp_path / "demand.csv")
    ok = subprocess.run([str(COMMAND), "backtest", "--input", str(source), "--horizon", "7", "--models", FAST],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "rmsse" in ok.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("unique_id,ds,y\na,2024-01-01,1\na,2024-01-02,-3\n")
    negative = subprocess.run([str(COMMAND), "forecast", "--input", str(bad), "--horizon", "7",
                               "--output", str(tmp_path / "o.csv")], capture_output=True, text=True, timeout=120)
    assert negative.returncode == 2
    assert "error: negative values in y for 1 row(s): a on 2024-01-02 (y=-3, row 2)" in negative.stderr


def test_missing_file_and_bad_arguments_exit_2(tmp_path, capsys):
    assert main(["forecast", "--input", str(tmp_path / "nope.csv"), "--horizon", "7",
                 "--output", str(tmp_path / "o.csv")]) == 2
    assert "error: input file not found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["forecast", "--input", "x.csv", "--horizon", "0", "--output", "o.csv"])
    assert usage.value.code == 2
    assert "expected a positive integer" in capsys.readouterr().err


def test_history_days_window_and_its_errors(tmp_path, capsys):
    source = write_demand(tmp_path / "demand.csv", days=80)
    report = tmp_path / "report.json"
    assert main(["forecast", "--input", str(source), "--horizon", "7", "--models", FAST, "--history-days", "40",
                 "--output", str(tmp_path / "o.csv"), "--report", str(report)]) == 0
    assert json.loads(report.read_text())["parameters"]["history_days"] == 40
    for whole in ("0", "all"):
        assert main(["backtest", "--input", str(source), "--horizon", "7", "--models", FAST,
                     "--history-days", whole]) == 0
    capsys.readouterr()
    assert main(["backtest", "--input", str(source), "--horizon", "7", "--history-days", "30"]) == 2
    assert "error: history_days must be at least 35" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["backtest", "--input", str(source), "--horizon", "7", "--history-days", "-1"])
    assert usage.value.code == 2
