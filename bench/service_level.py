"""Benchmark: do the reorder points of marts.fct_reorder_points keep their service level?

Runs on its own databases (``bench_sl_erp``/``bench_sl_warehouse``/``bench_sl_airflow``), never the
demo's. Steps:

1. simulate the ERP (seed 42, 40 materials x 15 sites, three years by default);
2. run the real pipeline on the history up to a cut-off date (default: one year before the end):
   ``load_erp(until=cutoff)`` -> ``ensure_warehouse_schemas`` -> ``load_interval`` (+ the landing
   files of the feeds up to the cut-off) -> ``validate_raw_batches`` -> ``dbt build --exclude
   tag:forecast``;
3. for each target service level (90, 95, 99 %), set every row of the seed table
   ``staging.service_levels`` to it (as a planner editing the seed would), rebuild
   fct_reorder_points without the seasonal method and by demand class alone, run the weekly
   replay on the bench warehouse (``nova_corrente.reorder_replay``: the as-of build and both
   methods replayed, as the transformer and the forecaster) and rebuild it with that evidence;
4. replay the demand after the cut-off with ``nova_corrente.inventory_replay`` under a
   continuous-review (s, Q) policy, Q = the simulated company's order quantity, lead times drawn
   from the simulator's lead-time distribution of the preferred supplier-material: replication 0 is
   the simulator's own uncensored demand (the demand before stock-outs cut it), replications
   1..R-1 are fresh draws from its generating mean (``ErpData.truth``) with the same
   compound-Poisson process;
5. print, per Syntetos-Boylan class (as the mart classified the history) and target, the achieved
   cycle service level (cycles without stockout / cycles, pooled over series and replications) and
   the average stock value of five reorder points:
   * ``seed formula``: the seeds' original rule, fixed z = 1.96 and no lead-time variability,
     s = d * L + 1.96 * sd_d * sqrt(L), whatever the target;
   * ``normal``: the safety_stock macro for every series, s = d * L + z * sqrt(L sd_d^2 + d^2 sd_L^2);
   * ``mart before``: fct_reorder_points without the seasonal method (empirical_ltd where the
     history allows, normal otherwise);
   * ``class default``: fct_reorder_points choosing the method by demand class alone (seasonal_ltd
     where the history allows), its outlook replayed day by day;
   * ``mart``: fct_reorder_points with the weekly replay's evidence (``nova_corrente.reorder_replay``
     run on the bench warehouse: the reorder points as of ``--replay-days`` before the cut-off, replayed
     over the recorded demand up to it), per material-site seasonal_ltd or empirical_ltd.

Prints figures only; no timing assertions. Usage:
    .venv/bin/python bench/service_level.py [--days 1095 --replay-days 365 --replications 20]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd
import psycopg2

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from nova_corrente import db_roles, postgres_server, reorder_replay  # noqa: E402
from nova_corrente.erp_simulator import ErpData, SimulationConfig, load_erp, simulate, write_feed_files  # noqa: E402
from nova_corrente.erp_simulator.demand import sample_demand  # noqa: E402
from nova_corrente.extract import ensure_warehouse_schemas, load_interval, load_landing_files  # noqa: E402
from nova_corrente.inventory_replay import lognormal_lead_times, replay_s_q  # noqa: E402
from nova_corrente.quality.gates import validate_raw_batches  # noqa: E402
from nova_corrente.settings import PostgresSettings, dbt_env, postgres_settings  # noqa: E402

TARGETS = (0.90, 0.95, 0.99)
RAINY_MONTHS = (4, 5, 6, 7)
SEASONS = ("dry", "rainy")
GOAL_MIN_SERIES = 10
GOAL_TOLERANCE = 0.015  # label 0 = the rest of the year, 1 = April-July
CLASSES = ("smooth", "erratic", "intermittent", "lumpy")
POLICIES = ("seed formula", "normal", "mart before", "class default", "mart")
NO_SEASONAL_METHOD = '{"seasonal_ltd_demand_classes": []}'
NO_REPLAY_EVIDENCE = '{"replay_min_cycles": 1000000000}'  # no material-site has that many cycles
SEED_Z = 1.96


def _dbt(pg: PostgresSettings, target_path: Path, *args: str, check: bool = True) -> tuple[float, list[str]]:
    """Run dbt on the bench warehouse; returns seconds and the nodes that did not succeed."""
    env = {**os.environ, **dbt_env(pg), "DO_NOT_TRACK": "1"}
    started = time.perf_counter()
    result = subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), *args, "--target-path", str(target_path),
         "--log-path", str(target_path / "logs")],
        env=env, cwd=REPO / "dbt_project", capture_output=True, text=True,
    )
    seconds = time.perf_counter() - started
    failed: list[str] = []
    results_path = target_path / "run_results.json"
    if result.returncode != 0 and results_path.exists():
        failed = [f"{row['unique_id']} ({row['status']})" for row in json.loads(results_path.read_text())["results"]
                  if row["status"] not in ("success", "pass", "no-op")]
    if result.returncode != 0 and (check or not failed):
        raise SystemExit(f"dbt {' '.join(args)} failed:\n{result.stdout[-4000:]}")
    return seconds, failed


def build_warehouse(pg: PostgresSettings, data: ErpData, cutoff: datetime, work: Path) -> list[tuple[str, float]]:
    """The real pipeline on the ERP as of ``cutoff``; returns (step, seconds)."""
    steps: list[tuple[str, float]] = []

    def timed(label, func, *args, **kwargs):
        started = time.perf_counter()
        value = func(*args, **kwargs)
        steps.append((label, time.perf_counter() - started))
        return value

    start = datetime.combine(data.config.start_date - timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    timed("load_erp (until cut-off)", load_erp, pg, data, until=cutoff)
    landing = work / "landing"
    timed("write feed files", write_feed_files, data, landing, until=cutoff)
    timed("ensure_warehouse_schemas", ensure_warehouse_schemas, pg)
    batches = timed("load_interval", load_interval, pg, start, cutoff)
    files = timed("load landing files", load_landing_files, pg, landing, interval_start=start, interval_end=cutoff)
    batch_ids = [batch.batch_id for batch in batches] + [batch.batch_id for batch in files.loaded]
    timed("validate_raw_batches", validate_raw_batches, pg, batch_ids)
    target_path = work / "dbt_target"
    seconds, failed = _dbt(pg, target_path, "build", "--exclude", "tag:forecast", check=False)
    steps.append(("dbt build --exclude tag:forecast", seconds))
    if failed:
        # the bench needs fct_reorder_points and its parents; anything else failing is reported
        print("dbt build: nodes not successful (the bench goes on if fct_reorder_points was built):\n  "
              + "\n  ".join(failed))
        if any(".fct_reorder_points " in node or "int_lead_time_demands" in node for node in failed
               if node.startswith("model.")):
            raise SystemExit("fct_reorder_points or its inputs failed to build")
    return steps


def reorder_points_at(pg: PostgresSettings, work: Path, service_level: float,
                      dbt_vars: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """Every seed row set to ``service_level``, fct_reorder_points and its outlook rebuilt and read
    (with ``dbt_vars``, e.g. the seasonal method switched off)."""
    with psycopg2.connect(pg.dsn(pg.warehouse_db)) as conn, conn.cursor() as cur:
        cur.execute("update staging.service_levels set service_level = %s", (service_level,))
    conn.close()
    extra = ["--vars", dbt_vars] if dbt_vars else []
    seconds, _ = _dbt(pg, work / "dbt_target", "run", "--select", "fct_reorder_points", "fct_reorder_point_outlook",
                      *extra)
    with psycopg2.connect(pg.dsn(pg.warehouse_db)) as conn:
        frame = pd.read_sql(
            "select material_id, site_id, demand_class, method, method_source, service_level, avg_daily_demand,"
            " std_daily_demand,"
            " avg_lead_time_days, std_lead_time_days, safety_stock, reorder_point from marts.fct_reorder_points",
            conn,
        )
        outlook = pd.read_sql("select material_id, site_id, outlook_date, reorder_point from marts.fct_reorder_point_outlook",
                              conn)
    conn.close()
    numeric = ["service_level", "avg_daily_demand", "std_daily_demand", "avg_lead_time_days", "std_lead_time_days",
               "safety_stock", "reorder_point"]
    frame[numeric] = frame[numeric].astype(float)
    outlook["reorder_point"] = outlook["reorder_point"].astype(float)
    return frame, outlook, seconds


def outlook_matrix(frame: pd.DataFrame, outlook: pd.DataFrame, first_date: date, n_days: int) -> np.ndarray:
    """(days x rows of ``frame``) reorder points of the outlook from ``first_date``; days past the
    outlook keep its last value."""
    wide = outlook.pivot(index="outlook_date", columns=["material_id", "site_id"], values="reorder_point")
    wide.index = pd.to_datetime(wide.index)
    days = pd.date_range(first_date, periods=n_days, freq="D")
    wide = wide.reindex(days).ffill().bfill()
    columns = pd.MultiIndex.from_frame(frame[["material_id", "site_id"]])
    return wide.reindex(columns=columns).to_numpy(dtype=float)


def uncensored_demand(data: ErpData) -> np.ndarray:
    """(days x series) demand as the simulator drew it, before stock-outs censored it."""
    n_series = len(data.series)
    expected = data.truth["expected_demand"].to_numpy().reshape(n_series, -1).T
    return sample_demand(data.config.seed, expected, data.series)


def replay_demand(data: ErpData, first_day: int, replications: int) -> np.ndarray:
    """(replications, days after the cut-off, series): the actual draw, then fresh draws from the truth."""
    n_series = len(data.series)
    expected = data.truth["expected_demand"].to_numpy().reshape(n_series, -1).T[first_day:]
    draws = [uncensored_demand(data)[first_day:]]
    for replication in range(1, replications):
        draws.append(sample_demand(data.config.seed * 1000 + replication, expected, data.series))
    return np.stack(draws)


def policy_reorder_points(frame: pd.DataFrame, service_level: float, before: pd.DataFrame,
                          class_schedule: np.ndarray, schedule: np.ndarray) -> dict[str, np.ndarray]:
    """s of each policy for the mart's rows (``before``: the mart without the seasonal method, same
    rows; ``class_schedule``: the outlook of the mart choosing by demand class; ``schedule``: the
    mart's outlook with the replay's choice, days x rows)."""
    d = frame["avg_daily_demand"].to_numpy()
    sd = frame["std_daily_demand"].to_numpy()
    lead = frame["avg_lead_time_days"].to_numpy()
    sd_lead = frame["std_lead_time_days"].to_numpy()
    z = NormalDist().inv_cdf(service_level)
    return {
        "seed formula": d * lead + SEED_Z * sd * np.sqrt(lead),
        "normal": d * lead + z * np.sqrt(lead * sd**2 + d**2 * sd_lead**2),
        "mart before": before["reorder_point"].to_numpy(),
        "class default": class_schedule,
        "mart": schedule,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--materials", type=int, default=40)
    parser.add_argument("--sites", type=int, default=15)
    parser.add_argument("--days", type=int, default=1095, help="simulated days (history + replay)")
    parser.add_argument("--end", type=date.fromisoformat, default=date(2025, 12, 31), help="last simulated day")
    parser.add_argument("--replay-days", type=int, default=365, help="days after the cut-off to replay")
    parser.add_argument("--replications", type=int, default=20, help="demand draws of the replayed year")
    parser.add_argument("--reuse", action="store_true", help="reuse the bench warehouse built by a previous run")
    args = parser.parse_args()

    server = postgres_server.ensure_running(postgres_settings())
    pg = dataclasses.replace(server, erp_db="bench_sl_erp", warehouse_db="bench_sl_warehouse",
                             airflow_db="bench_sl_airflow")
    # per server port: helpers sharing a machine run their own servers and must not share this folder
    work = Path(tempfile.gettempdir()) / f"nova-bench-service-level-{pg.port}"
    work.mkdir(parents=True, exist_ok=True)
    config = SimulationConfig(seed=42, start_date=args.end - timedelta(days=args.days - 1), end_date=args.end,
                              n_materials=args.materials, n_sites=args.sites)
    started = time.perf_counter()
    data = simulate(config)
    simulate_seconds = time.perf_counter() - started
    cutoff_date = args.end - timedelta(days=args.replay_days - 1)
    cutoff = datetime.combine(cutoff_date, datetime.min.time(), tzinfo=UTC)
    first_day = (cutoff_date - config.start_date).days

    steps: list[tuple[str, float]] = [("simulate ERP", simulate_seconds)]
    if not args.reuse:
        postgres_server.drop_databases(pg, pg.databases)
        postgres_server.ensure_databases(pg)
        db_roles.provision(pg)  # every stage runs as its own role, as in production
        steps += build_warehouse(pg, data, cutoff, work)

    frames: dict[float, pd.DataFrame] = {}
    befores: dict[float, pd.DataFrame] = {}
    outlooks: dict[float, pd.DataFrame] = {}
    defaults: dict[float, tuple[pd.DataFrame, pd.DataFrame]] = {}
    for target in TARGETS:
        befores[target], _, seconds = reorder_points_at(pg, work, target, NO_SEASONAL_METHOD)
        steps.append((f"dbt run fct_reorder_points @ {target:.0%} without seasonal_ltd", seconds))
        *defaults[target], seconds = reorder_points_at(pg, work, target, NO_REPLAY_EVIDENCE)
        steps.append((f"dbt run fct_reorder_points + outlook @ {target:.0%} by demand class", seconds))
        seconds = reorder_replay.build_as_of(pg, args.replay_days)["seconds"]
        steps.append((f"replay: dbt run as of {args.replay_days} days back @ {target:.0%}", seconds))
        seconds = reorder_replay.replay_methods(pg)["seconds"]
        steps.append((f"replay: both methods over the {args.replay_days} days @ {target:.0%}", seconds))
        frames[target], outlooks[target], seconds = reorder_points_at(pg, work, target)
        steps.append((f"dbt run fct_reorder_points + outlook @ {target:.0%} with the replay", seconds))

    series = data.series.reset_index(drop=True)
    index = pd.MultiIndex.from_frame(series[["material_id", "site_id"]])
    order_quantity = series["order_quantity"].to_numpy(dtype=float)
    leads = data.lead_times.set_index(["supplier_id", "material_id"]).loc[
        pd.MultiIndex.from_frame(series[["supplier_id", "material_id"]])]
    unit_cost = data.materials.set_index("material_id").loc[series["material_id"], "unit_cost_brl"].to_numpy()

    started = time.perf_counter()
    demand = replay_demand(data, first_day, args.replications)   # (R, days, series)
    n_rep, n_days, n_series = demand.shape
    rng = np.random.default_rng(20251231)
    lead_draws = np.stack([
        lognormal_lead_times(rng, leads["quoted_lead_time_days"].to_numpy(), leads["mean_lead_time_days"].to_numpy(),
                             leads["lead_time_sigma"].to_numpy(), n_days)
        for _ in range(n_rep)
    ])
    # replications side by side as columns: (days, R * series)
    wide_demand = demand.transpose(1, 0, 2).reshape(n_days, n_rep * n_series)
    wide_lead = lead_draws.transpose(1, 0, 2).reshape(n_days, n_rep * n_series)
    replay_dates = pd.date_range(cutoff_date, periods=n_days, freq="D")
    season = np.asarray(replay_dates.month.isin(RAINY_MONTHS), dtype=int)  # 1 = rainy April-July
    rows = []
    for target, frame in frames.items():
        position = index.get_indexer(pd.MultiIndex.from_frame(frame[["material_id", "site_id"]]))
        if (position < 0).any():
            raise SystemExit("fct_reorder_points has material-sites the simulation does not know")
        columns = (np.arange(n_rep)[:, None] * n_series + position[None, :]).reshape(-1)
        before = befores[target].set_index(["material_id", "site_id"]).loc[
            pd.MultiIndex.from_frame(frame[["material_id", "site_id"]])].reset_index()
        schedule = outlook_matrix(frame, outlooks[target], cutoff_date, n_days)
        default_frame, default_outlook = defaults[target]
        class_schedule = outlook_matrix(frame, default_outlook, cutoff_date, n_days)
        for policy, s in policy_reorder_points(frame, target, before, class_schedule, schedule).items():
            s_wide = np.tile(s, n_rep) if s.ndim == 1 else np.tile(s[:n_days], (1, n_rep))
            result = replay_s_q(wide_demand[:, columns], s_wide, np.tile(order_quantity[position], n_rep),
                                wide_lead[:, columns], season=season)
            assert result.cycles_by_season is not None and result.stockout_cycles_by_season is not None
            assert result.on_hand_by_season is not None
            cost = np.tile(unit_cost[position], n_rep) / n_rep
            for label, name in enumerate(SEASONS):
                rows.append(pd.DataFrame({
                    "target": target,
                    "policy": policy,
                    "season": name,
                    "replication": np.repeat(np.arange(n_rep), len(position)),
                    "demand_class": np.tile(frame["demand_class"].to_numpy(), n_rep),
                    "profile": np.tile(series["demand_profile"].to_numpy()[position], n_rep),
                    "method": np.tile((frame["method"] + " (" + frame["method_source"] + ")").to_numpy(), n_rep),
                    "cycles": result.cycles_by_season[label],
                    "stockout_cycles": result.stockout_cycles_by_season[label],
                    # stock of the season's days; the whole-year figure weighs the seasons by their days
                    "stock_value_brl": result.on_hand_by_season[label] * cost,
                    "season_days": int((season == label).sum()),
                }))
    replay_seconds = time.perf_counter() - started
    steps.append((f"replay ({n_rep} x {n_days} days x {n_series} series x {len(TARGETS)} targets x {len(POLICIES)})",
                  replay_seconds))
    results = pd.concat(rows, ignore_index=True)

    print(f"\nNova Corrente service-level benchmark: {args.materials} materials x {args.sites} sites, "
          f"{len(series)} material-sites, history {config.start_date} .. {cutoff_date - timedelta(days=1)}, "
          f"replay {cutoff_date} .. {args.end} ({n_days} days x {n_rep} demand draws)\n")
    print(f"{'step':<58}{'seconds':>9}")
    for label, seconds in steps:
        print(f"{label:<58}{seconds:>9.1f}")
    print("\nachieved cycle service level (replenishment cycles without stockout / cycles, pooled over"
          " series and draws)\nand average stock value (kBRL, mean on hand x unit cost, summed over the series)")
    class_cells = print_table(results, "demand_class", (*CLASSES, "no_demand"),
                              "Syntetos-Boylan class of the history (mart)")
    profile_cells = print_table(results, "profile", ("smooth", "intermittent", "lumpy"),
                                "demand profile the simulator generated")
    all_cells = print_table(results, None, (), "all material-sites")
    counts = results[(results["target"] == TARGETS[0]) & (results["policy"] == POLICIES[0])
                     & (results["replication"] == 0) & (results["season"] == SEASONS[0])]["demand_class"].value_counts()
    big_classes = [c for c in CLASSES if counts.get(c, 0) >= GOAL_MIN_SERIES]
    profiles = results[(results["target"] == TARGETS[0]) & (results["policy"] == POLICIES[0])
                       & (results["replication"] == 0) & (results["season"] == SEASONS[0])]["profile"].value_counts()
    big_profiles = [p for p in ("smooth", "intermittent", "lumpy") if profiles.get(p, 0) >= GOAL_MIN_SERIES]
    for policy in ("mart before", "class default", "mart"):
        print_goal(class_cells, big_classes, policy, "Syntetos-Boylan class")
        print_goal(profile_cells, big_profiles, policy, "simulated profile")
    print_stock_at_equal_service(all_cells, profile_cells)
    cycles = results.groupby(["target", "policy"])["cycles"].sum()
    print(f"\ncycles counted per policy and target: {int(cycles.min()):,} .. {int(cycles.max()):,}")
    return 0


def print_stock_at_equal_service(all_cells: pd.DataFrame, profile_cells: pd.DataFrame) -> None:
    """Average stock of the mart against an earlier policy's at the same achieved service level: the
    earlier policy's (CSL, stock) points of the three targets, interpolated at the mart's CSL."""
    for baseline in ("mart before", "class default"):
        print(f"\naverage stock (kBRL) of the mart vs {baseline} at the same achieved CSL (interpolated "
              f"between {baseline}'s 90/95/99 % points), whole year:")
        for cells, groups in ((all_cells, ("all",)), (profile_cells, ("smooth", "intermittent", "lumpy"))):
            for group in groups:
                if group not in cells.index.get_level_values(0):
                    continue
                old = cells.loc[(group, "year")].xs(baseline, level="policy").sort_values("csl")
                new = cells.loc[(group, "year")].xs("mart", level="policy")
                parts = []
                for target in TARGETS:
                    csl, stock = new.loc[target, "csl"], new.loc[target, "stock"]
                    if not old["csl"].min() <= csl <= old["csl"].max():
                        parts.append(f"{target:.0%}: CSL {csl:.1%} stock {stock / 1000:.1f}, outside "
                                     f"{old['csl'].min():.1%}..{old['csl'].max():.1%}")
                        continue
                    same = float(np.interp(csl, old["csl"], old["stock"]))
                    parts.append(f"{target:.0%}: CSL {csl:.1%} stock {stock / 1000:.1f} vs {same / 1000:.1f} "
                                 f"({stock / same - 1:+.1%})")
                print(f"  {group:<13}" + "; ".join(parts))


def print_goal(cells: pd.DataFrame, classes: list[str], policy: str, grouping: str = "class") -> None:
    """The goal: every (class with >= GOAL_MIN_SERIES series, season, target) cell within
    +/- GOAL_TOLERANCE of its target; prints the cells that miss."""
    misses = []
    for demand_class in classes:
        for season_name in SEASONS:
            for target in TARGETS:
                csl = cells.loc[(demand_class, season_name, target, policy), "csl"]
                if not abs(csl - target) <= GOAL_TOLERANCE:
                    misses.append(f"{demand_class}/{season_name}/{target:.0%}: {csl:.1%}")
    total = len(classes) * len(SEASONS) * len(TARGETS)
    print(f"\ngoal ({policy}): every ({grouping} with >= {GOAL_MIN_SERIES} series, season, target) cell within "
          f"+/-{GOAL_TOLERANCE * 100:.1f} pp: {total - len(misses)} of {total} cells met"
          + ("" if not misses else "; missed: " + ", ".join(misses)))


def season_cells(results: pd.DataFrame, by: str | None) -> pd.DataFrame:
    """Cycles, stockouts, CSL and average stock value per (group, season, target, policy); season
    'year' adds both seasons up (stock weighted by the seasons' days)."""
    results = results.assign(group="all") if by is None else results.rename(columns={by: "group"})
    results = results.assign(stock_days=results["stock_value_brl"] * results["season_days"])
    keys = ["group", "target", "policy"]
    per_season = results.groupby([*keys, "season"]).agg(
        cycles=("cycles", "sum"), stockouts=("stockout_cycles", "sum"), stock_days=("stock_days", "sum"),
        days=("season_days", "first"))
    year = per_season.groupby(keys).agg(cycles=("cycles", "sum"), stockouts=("stockouts", "sum"),
                                        stock_days=("stock_days", "sum"), days=("days", "sum"))
    year["season"] = "year"
    cells = pd.concat([per_season.reset_index(), year.reset_index()], ignore_index=True)
    cells["stock"] = cells["stock_days"] / cells["days"]
    cells["csl"] = 1.0 - cells["stockouts"] / cells["cycles"].where(cells["cycles"] > 0)
    return cells.set_index(["group", "season", "target", "policy"]).sort_index()


def print_table(results: pd.DataFrame, by: str | None, groups: tuple[str, ...], title: str,
                policies: tuple[str, ...] = POLICIES) -> pd.DataFrame:
    """Cycle service level and average stock value per group, season, target and policy."""
    cells = season_cells(results, by)
    labelled = results.assign(group="all") if by is None else results.rename(columns={by: "group"})
    groups = groups or ("all",)
    one_draw = labelled[(labelled["target"] == TARGETS[0]) & (labelled["policy"] == policies[0])
                        & (labelled["replication"] == 0) & (labelled["season"] == SEASONS[0])]
    print(f"\nby {title} (season of the day the cycle's closing order was placed; rainy = April-July)")
    header = f"{'':<13}{'series':>7}{'season':>7}{'target':>7}"
    for policy in policies:
        header += f" |{policy:>15} CSL{'stock':>7}"
    print(header + " | mart method")
    print("-" * (len(header) + 26))
    for group in [g for g in groups if g in set(labelled["group"])]:
        members = one_draw[one_draw["group"] == group]
        method_text = ", ".join(f"{name} {count}" for name, count in members["method"].value_counts().items())
        first = True
        for season_name in ("year", "dry", "rainy"):
            for target in TARGETS:
                line = f"{group if first else '':<13}{len(members) if first else '':>7}{season_name:>7}{target:>7.0%}"
                for policy in policies:
                    row = cells.loc[(group, season_name, target, policy)]
                    csl = "n/a" if np.isnan(row["csl"]) else f"{row['csl']:.1%}"
                    line += f" |{csl:>19}{row['stock'] / 1000:>7.1f}"
                print(line + (f" | {method_text}" if first else " |"))
                first = False
    return cells


if __name__ == "__main__":
    raise SystemExit(main())
