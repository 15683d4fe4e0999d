"""``nova-forecast``: forecast or backtest a long-format CSV/Parquet file (no database needed).

    nova-forecast forecast --input demand.csv --horizon 28 --output forecasts.parquet
    nova-forecast backtest --input demand.csv --horizon 28 --folds 3 --output metrics.csv

Input: columns ``unique_id``, ``ds`` (YYYY-MM-DD), ``y`` (>= 0), one row per series and period.
Forecast output: ``unique_id, ds, model, yhat, yhat_lo_<level>, yhat_hi_<level>`` per level
(plus ``yhat_q<NN>`` with ``--service-levels``). Exit codes: 0 done, 2 bad input or usage
(the message names the rows or series), 1 unexpected failure.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from nova_forecast._version import __version__
from nova_forecast.data import FREQUENCIES, InputError, read_frame, write_frame
from nova_forecast.engine import (
    ALL_MODELS,
    DEFAULT_MODELS,
    EngineConfig,
    backtest,
    forecast,
    select_models,
)

log = logging.getLogger("nova_forecast")

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or any(not 0 < v < 100 for v in values):
        raise argparse.ArgumentTypeError(f"levels must be between 1 and 99, got {text!r}")
    return values


def _float_list(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not values or any(not 0 < v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"service levels must be between 0 and 1, got {text!r}")
    return values


def _models(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [n for n in names if n not in ALL_MODELS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown model(s) {', '.join(unknown) or '(none)'}; "
                                         f"choose from {', '.join(ALL_MODELS)}")
    return names


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _history_days(text: str) -> int | None:
    """Days of history the fits see: a positive integer, or 0 / "all" for all of it (None)."""
    if text.strip().lower() == "all":
        return None
    value = _non_negative(text)
    return value or None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nova-forecast", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress (which models run where)")
    commands = parser.add_subparsers(dest="command", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--input", required=True, type=Path, help="long-format CSV or Parquet (unique_id, ds, y)")
        sub.add_argument("--horizon", required=True, type=_positive, help="periods to forecast")
        sub.add_argument("--freq", default="D", choices=FREQUENCIES, help="data frequency (default D)")
        sub.add_argument("--season-length", type=_positive, help="season length (default 7/52/12/4 by freq)")
        sub.add_argument("--folds", type=_positive, default=3, help="backtest folds (default 3)")
        sub.add_argument("--step", type=_positive, help="periods between backtest origins (default: horizon)")
        sub.add_argument("--models", type=_models, default=DEFAULT_MODELS,
                         help=f"comma-separated candidates (default: {','.join(DEFAULT_MODELS)})")
        sub.add_argument("--top-k", type=_non_negative, default=3,
                         help="Prophet/pmdarima run on the top K series by volume (default 3, 0 = never)")
        sub.add_argument("--auto-top-k", type=_non_negative, default=20,
                         help="ETS/ARIMA run on the top K series by volume (default 20, 0 = never)")
        sub.add_argument("--margin", type=float, default=0.1,
                         help="a series leaves its class champion only for a model better by this share (0.1)")
        sub.add_argument("--n-jobs", type=_positive, default=1, help="processes for the slow models (default 1)")
        sub.add_argument("--history-days", type=_history_days, default=None,
                         help="fit on each series' last N days only (default: the whole history; 0 or all = the "
                              "whole history)")

    fc = commands.add_parser("forecast", help="backtest, select per series and forecast")
    common(fc)
    fc.add_argument("--levels", type=_int_list, default=(80, 95), help="interval levels in %% (default 80,95)")
    fc.add_argument("--service-levels", type=_float_list,
                    help="also write yhat_qNN service-level quantiles, e.g. 0.9,0.95,0.99")
    fc.add_argument("--output", required=True, type=Path, help="CSV or Parquet file to write")
    fc.add_argument("--report", type=Path, help="write the run's parameters and backtest metrics as JSON")
    fc.add_argument("--plots", type=Path, help="folder for PNG plots of the most important series")
    fc.add_argument("--plot-top", type=_non_negative, default=10, help="how many series to plot (default 10)")
    fc.add_argument("--reconcile", action="store_true",
                    help="make forecasts add up to material (and family) totals; needs material_id "
                         "(and optionally family_id) columns in the input")

    bt = commands.add_parser("backtest", help="print backtest metrics per model and the selection")
    common(bt)
    bt.add_argument("--output", type=Path, help="CSV or Parquet file for the per-series metrics")
    return parser


def _config(args: argparse.Namespace, **extra: object) -> EngineConfig:
    return EngineConfig(
        horizon=args.horizon, freq=args.freq, season_length=args.season_length, folds=args.folds, step=args.step,
        models=tuple(args.models), top_k=args.top_k, auto_top_k=args.auto_top_k, selection_margin=args.margin,
        n_jobs=args.n_jobs, history_days=args.history_days, **extra,  # type: ignore[arg-type]
    )


def _run_forecast(args: argparse.Namespace) -> int:
    service_levels = args.service_levels or ()
    config = _config(args, levels=tuple(args.levels), service_levels=service_levels or (0.95,))
    frame = read_frame(args.input)
    result = forecast(frame, config)
    if args.reconcile:
        from nova_forecast.reconcile import reconcile

        if "material_id" not in frame.columns:
            raise InputError("--reconcile needs a material_id column (and optionally family_id) in the input")
        hierarchy = frame.assign(unique_id=frame["unique_id"].astype(str)).drop_duplicates("unique_id")
        result = reconcile(result, hierarchy, config).result
    columns = ["unique_id", "ds", "model", "yhat"]
    for level in config.levels:
        columns += [f"yhat_lo_{level}", f"yhat_hi_{level}"]
    columns += [f"yhat_q{round(level * 100)}" for level in service_levels]
    write_frame(result.forecasts[columns], args.output)
    print(f"wrote {len(result.forecasts)} rows for {result.panel.n_series} series to {args.output}")
    print(_selection_text(result.selection))
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        report = {"parameters": config.to_dict(), "metrics": result.summary(), "warnings": result.warnings}
        args.report.write_text(json.dumps(report, indent=2, default=str) + "\n")
    if args.plots:
        from nova_forecast.plots import plot_top_series

        paths = plot_top_series(result, args.plots, top=args.plot_top)
        print(f"wrote {len(paths)} plots to {args.plots}")
    return EXIT_OK


def _run_backtest(args: argparse.Namespace) -> int:
    config = _config(args)
    frame = read_frame(args.input)
    result = backtest(frame, config)
    selection = select_models(result)
    columns = [c for c in ("model", "series", "rmsse", "wape", "bias", "mape", "spl_95", "seconds")
               if c in result.summary.columns]
    print(f"backtest: {result.panel.n_series} series, {config.folds} folds of {config.horizon} periods "
          f"(step {config.origin_step})")
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(result.summary[columns].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(_selection_text(selection))
    picked = result.metrics.merge(selection[["unique_id", "model"]], on=["unique_id", "model"])
    if len(picked):
        print(f"selection (in-sample to the folds): mean RMSSE {picked['rmsse'].mean():.4f}, "
              f"mean WAPE {picked['wape'].mean():.4f}")
    if args.output:
        table = result.metrics.merge(selection[["unique_id", "model"]].assign(selected=True),
                                     on=["unique_id", "model"], how="left")
        table["selected"] = table["selected"].fillna(False).astype(bool)
        write_frame(table, args.output)
        print(f"wrote per-series metrics to {args.output}")
    return EXIT_OK


def _selection_text(selection: pd.DataFrame) -> str:
    counts = selection.groupby(["demand_class", "model"]).size().rename("series").reset_index()
    lines = ["selection (series per demand class and model):"]
    for row in counts.itertuples(index=False):
        lines.append(f"  {row.demand_class:<13} {row.model:<24} {row.series}")
    return "\n".join(lines)


class _LowerLevel(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LowerLevel())
    log.addHandler(handler)
    log.setLevel(logging.INFO if args.verbose else logging.WARNING)
    log.propagate = False
    try:
        if args.command == "forecast":
            return _run_forecast(args)
        return _run_backtest(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as exc:  # the command line reports, the library raises
        log.exception("unexpected failure")
        print(f"error: unexpected {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        log.removeHandler(handler)


if __name__ == "__main__":
    raise SystemExit(main())
