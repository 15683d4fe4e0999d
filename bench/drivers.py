"""Benchmark: what do the demand drivers bring to the forecast, and does the model find the
simulator's own effects?

Needs the warehouse that ``bench/service_level.py`` builds (``bench_sl_warehouse``: the real pipeline
on the simulated ERP, seed 42, 40 materials x 15 sites, history up to 2024-12-31, so the marts
``fct_demand_daily``, ``fct_reorder_points``, ``fct_demand_drivers_daily`` and ``dim_site`` exist).

1. Rolling origins through 2024 (every ``--every`` days from March): the engine with the fast
   candidates, with and without the drivers model (``nova_forecast.drivers``), on the history up to
   the origin; RMSSE on the next 28 days of recorded demand, for all series and for the series that
   respond to drivers (materials with the simulator's rain sensitivity >= 0.6, and transmission
   materials, whose demand the 5G rollout raises); how often the drivers model is selected.
2. The drivers model fitted on the whole history, one Poisson regression per material: its rainy-
   season, storm and 5G effects against the simulator's generating parameters
   (``nova_corrente/erp_simulator/demand.py`` and ``feeds.py``: demand x (1 + 0.5 s x season index)
   x (1 + 0.25 s x storm index) x (1 + 0.15 x 5G activity, transmission only), s = the material's
   rain sensitivity; in log terms about 0.5 s, 0.25 s and 0.15).

Prints figures only. Usage: .venv/bin/python bench/drivers.py [--every 42]
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time
import warnings
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from nova_corrente.erp_simulator import SimulationConfig, simulate  # noqa: E402
from nova_corrente.settings import postgres_settings  # noqa: E402
from nova_forecast import metrics  # noqa: E402
from nova_forecast.data import load_panel  # noqa: E402
from nova_forecast.drivers import DriversGLM, drivers_for_panel  # noqa: E402
from nova_forecast.engine import EngineConfig, forecast_panel  # noqa: E402
from nova_forecast.models import FAST_MODELS  # noqa: E402
from nova_forecast.warehouse import mart_classes, read_daily_demand, read_drivers, read_reorder_points  # noqa: E402

HORIZON = 28
SENSITIVE = 0.6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=42, help="days between forecast origins")
    parser.add_argument("--first", type=date.fromisoformat, default=date(2024, 3, 1))
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    warnings.filterwarnings("ignore")

    pg = dataclasses.replace(postgres_settings(), erp_db="bench_sl_erp", warehouse_db="bench_sl_warehouse")
    demand = read_daily_demand(pg)
    reorder_points = read_reorder_points(pg)
    read = read_drivers(pg)
    if read is None or reorder_points is None:
        raise SystemExit("run bench/service_level.py first: it builds bench_sl_warehouse with the marts")
    mart, site_cities = read
    keys = demand.drop_duplicates("unique_id").set_index("unique_id")
    series_city, series_group = keys["site_id"].map(site_cities), keys["material_id"]

    end = date(2025, 12, 31)
    data = simulate(SimulationConfig(seed=42, start_date=end - timedelta(days=1094), end_date=end, n_materials=40,
                                     n_sites=15))
    truth = data.series.assign(unique_id=data.series["material_id"] + "@" + data.series["site_id"])
    categories = data.materials.merge(data.material_families, on="family_id").set_index("material_id")["category"]
    truth["transmission"] = truth["material_id"].map(categories).eq("transmission")
    sensitivity = truth.set_index("unique_id")["rain_sensitivity"]
    transmission = truth.set_index("unique_id")["transmission"]

    last = demand["ds"].max()
    origins = pd.date_range(pd.Timestamp(args.first), last - pd.Timedelta(days=HORIZON), freq=f"{args.every}D")
    config = EngineConfig(horizon=HORIZON, models=tuple(m for m in FAST_MODELS), top_k=0, auto_top_k=0)
    rows = []
    print(f"drivers benchmark on bench_sl_warehouse: {keys.shape[0]} series, history {demand['ds'].min().date()} .. "
          f"{last.date()}, origins {', '.join(str(o.date()) for o in origins)}")
    for origin in origins:
        history = demand[demand["ds"] <= origin]
        test = demand[(demand["ds"] > origin) & (demand["ds"] <= origin + pd.Timedelta(days=HORIZON))]
        panel, _ = load_panel(history[["unique_id", "ds", "y"]], "D")
        classes, _ = mart_classes(panel, reorder_points)
        drivers = drivers_for_panel(panel, mart, series_city, series_group, HORIZON)
        tic = time.perf_counter()
        with_drivers = forecast_panel(panel, config, classes, drivers)
        seconds_with = time.perf_counter() - tic
        tic = time.perf_counter()
        without = forecast_panel(panel, config, classes)
        seconds_without = time.perf_counter() - tic
        ids = panel.ids.astype(str)
        actual = test.pivot(index="unique_id", columns="ds", values="y").reindex(ids).to_numpy()
        for name, result in (("with drivers", with_drivers), ("univariate", without)):
            yhat = result.forecasts["yhat"].to_numpy().reshape(panel.n_series, HORIZON)
            rows.append(pd.DataFrame({
                "origin": origin, "engine": name, "unique_id": ids,
                "rmsse": metrics.rmsse(actual, yhat, panel.values),
                "selected_drivers": result.selection["model"].to_numpy() == DriversGLM.name,
                "seconds": seconds_with if name == "with drivers" else seconds_without,
            }))
        print(f"  origin {origin.date()}: engine {seconds_without:.0f} s, with drivers {seconds_with:.0f} s, drivers "
              f"model selected for {int((with_drivers.selection['model'] == DriversGLM.name).sum())} series")
    results = pd.concat(rows, ignore_index=True)
    results["sensitive"] = results["unique_id"].map(sensitivity).ge(SENSITIVE)
    results["transmission"] = results["unique_id"].map(transmission).fillna(False)
    results["rainy"] = results["origin"].dt.month.isin([3, 4, 5, 6])  # the next 28 days reach into April-July

    print(f"\nout-of-sample RMSSE on the next {HORIZON} days, mean over series and origins (lower is better):")
    print(f"  {'series':<48}{'n':>6}{'univariate':>12}{'with drivers':>14}{'change':>9}")
    groups = {
        "all": results["unique_id"].notna(),
        f"rain-sensitive (s >= {SENSITIVE})": results["sensitive"],
        "rain-sensitive, origins before/in the rains": results["sensitive"] & results["rainy"],
        "transmission (5G)": results["transmission"],
        "not driver-responsive": ~results["sensitive"] & ~results["transmission"],
    }
    for label, mask in groups.items():
        part = results[mask]
        table = part.pivot_table(index=["origin", "unique_id"], columns="engine", values="rmsse").dropna()
        before, after = table["univariate"].mean(), table["with drivers"].mean()
        print(f"  {label:<48}{len(table):>6}{before:>12.4f}{after:>14.4f}{after / before - 1:>+9.1%}")
    chosen = results[results["engine"] == "with drivers"]
    print(f"drivers model selected for {chosen['selected_drivers'].mean():.1%} of series-origins "
          f"({chosen[chosen['sensitive']]['selected_drivers'].mean():.1%} of rain-sensitive ones)")

    # effects on the whole history against the simulator's parameters
    panel, _ = load_panel(demand[["unique_id", "ds", "y"]], "D")
    model = DriversGLM(drivers_for_panel(panel, mart, series_city, series_group, HORIZON)).fit(panel)
    effects = model.effects_.set_index("group")
    material_truth = truth.drop_duplicates("material_id").set_index("material_id")
    effects["s"] = material_truth["rain_sensitivity"].reindex(effects.index)
    effects["transmission"] = material_truth["transmission"].reindex(effects.index)
    effects["true_season"] = 0.5 * effects["s"]
    effects["true_storm"] = 0.25 * effects["s"]
    effects["true_5g"] = np.where(effects["transmission"], 0.15, 0.0)
    print(f"\neffects found (Poisson regression per material, whole history, {len(effects)} materials) vs the "
          "simulator's generating parameters (log scale):")
    print(f"  {'driver':<22}{'found: mean':>12}{'true: mean':>11}{'corr':>7}{'mean |error|':>14}")
    for label, found, true in (("rainy season index", "rainy_season_index", "true_season"),
                               ("storm index", "storm_index", "true_storm")):
        corr = np.corrcoef(effects[found], effects[true])[0, 1]
        print(f"  {label:<22}{effects[found].mean():>12.3f}{effects[true].mean():>11.3f}{corr:>7.2f}"
              f"{(effects[found] - effects[true]).abs().mean():>14.3f}")
    for label, mask in (("5G, transmission", effects["transmission"]), ("5G, other materials", ~effects["transmission"])):
        part = effects[mask.astype(bool)]
        print(f"  {label:<22}{part['rollout_activity'].mean():>12.3f}{part['true_5g'].mean():>11.3f}{'':>7}"
              f"{(part['rollout_activity'] - part['true_5g']).abs().mean():>14.3f}   ({len(part)} materials)")
    print("  Sunday / Saturday / holiday (simulator: x0.35 / x0.7 / x0.3 -> log -1.05 / -0.36 / -1.20): "
          f"{effects['is_sunday'].mean():.2f} / {effects['is_saturday'].mean():.2f} / {effects['is_holiday'].mean():.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
