"""Benchmark: the daily run at 1x and 10x the demo's material-sites and 1x and 3x its history.

Each configuration gets its own databases (``bench_scale_<sites>x<history>_*``) and a simulated
ERP (seed 42; the demo's 40 materials, 15 x SITES sites, 1,095 x HISTORY days ending yesterday).
Under Airflow's real services (scheduler, triggerer; LocalExecutor, the platform's configuration):

1. a first run loads the ERP as of the day before (the initial full build);
2. plain ``dbt build`` of every model on that warehouse (the command line: the reference);
3. the ERP's last day arrives and the scheduled run for it runs (the measured daily run);
4. plain ``dbt build`` again (the reference for that run), the BI queries (``--bi-samples`` each,
   p50/p95 in ms, from ``marts``) and the database size.

Then one table: series, daily fact rows (fct_demand_daily + fct_stock_daily), plain dbt build s,
next-day dbt s (the daily run's dbt builds), forecast s (plan -> publish), scheduled-run wall s,
its budget (1.5 x (plain dbt build + the non-dbt tasks' own durations on the critical path:
extract, gate, forecast plan + slowest shard + publish, gate)), peak memory of the heaviest task,
database size; the goals as ratios measured in this run (10x series / 1x, 3x history / 1x); the
DAG file's parse time (DagBag of dags/). With ``--celery <config>`` that configuration's daily run
is run once more under CeleryExecutor (a private ``redis-server``, two ``airflow celery worker``
processes) and the table says which worker ran which forecast shard.

Usage: .venv/bin/python bench/scale.py [--configs 1x1,10x1,1x3] [--celery 10x1] [--bi-samples 200]
(`10x3` adds the 10x-series, 3x-history point). Takes long: about an hour on 2 cores.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg2
from nova_bench import REPO, Airflow, RunTiming, bench_databases, dbt, erp_end_date, query, use_databases

from nova_corrente import airflow_services
from nova_corrente.airflow_env import airflow_env
from nova_corrente.demo import run_logical_date
from nova_corrente.erp_simulator import SimulationConfig, load_erp, simulate, write_feed_files

DEMO_SITES, DEMO_DAYS = 15, 1095
DBT_TASKS = ("transform.", "publish_forecasts.")
BI_QUERIES = {
    "a material-site's last 30 days of demand": (
        "select demand_date, quantity_consumed from marts.fct_demand_daily "
        "where material_id = %(material)s and site_id = %(site)s and demand_date > %(last_day)s - 30 "
        "order by demand_date"),
    "this month's KPIs per family": (
        "select family_id, sum(quantity_consumed) as consumed, avg(fill_rate) as fill_rate, "
        "sum(stockout_days) as stockout_days, sum(closing_inventory_value_brl) as inventory_value_brl "
        "from marts.fct_inventory_kpis_monthly where month_start_date = date_trunc('month', %(last_day)s)::date "
        "group by family_id order by family_id"),
    "top 20 reorders with names": (
        "select rp.material_id, item.material_name, rp.site_id, site.site_name, rp.suggested_order_quantity, "
        "rp.quantity_on_hand / nullif(rp.avg_daily_demand, 0) as days_of_cover "
        "from marts.fct_reorder_points as rp "
        "join marts.dim_item as item on item.material_id = rp.material_id "
        "join marts.dim_site as site on site.site_id = rp.site_id "
        "where rp.suggested_order_quantity > 0 "
        "order by days_of_cover nulls last, rp.service_level desc, rp.material_id, rp.site_id limit 20"),
    "the forecast of one material-site": (
        "select forecast_date, yhat, yhat_lo_80, yhat_hi_80, yhat_lo_95, yhat_hi_95, model "
        "from marts.fct_forecasts where material_id = %(material)s and site_id = %(site)s order by forecast_date"),
}


@dataclass
class Point:
    label: str
    sites: int
    days: int
    materials: int
    series: int = 0
    fact_rows: int = 0
    plain_dbt: float = 0.0
    next_day_dbt: float = 0.0
    forecast: float = 0.0
    wall: float = 0.0
    budget: float = 0.0
    peak_task: str = ""
    peak_mib: float = 0.0
    db_mib: float = 0.0
    first_run_wall: float = 0.0
    bi: dict[str, tuple[float, float]] = field(default_factory=dict)
    celery: list[tuple[int, str, int, str]] = field(default_factory=list)  # shard, worker, series, classes
    celery_wall: float = 0.0


def critical_non_dbt(run: RunTiming) -> float:
    """Own durations of the non-dbt tasks on the run's critical path (shards run side by side)."""
    own = {t.task_id: t.seconds for t in run.tasks if not t.task_id.startswith(DBT_TASKS) and t.task_id != "forecast.shard"}
    shards = [t.seconds for t in run.tasks if t.task_id == "forecast.shard"]
    return sum(own.values()) + max(shards, default=0.0)


def dbt_seconds(run: RunTiming) -> float:
    return sum(t.seconds for t in run.tasks if t.task_id.endswith(".dbt_build"))


def bi_latency(pg, samples: int) -> dict[str, tuple[float, float]]:
    """p50 and p95 milliseconds per BI query (client side, one connection, parameters varied)."""
    last_day = query(pg, "select max(demand_date) from marts.fct_demand_daily")[0][0]
    pairs = query(pg, "select material_id, site_id from marts.fct_reorder_points order by 1, 2")
    out = {}
    conn = psycopg2.connect(pg.dsn(pg.warehouse_db))
    try:
        with conn.cursor() as cur:
            for name, sql in BI_QUERIES.items():
                timings = []
                for i in range(samples + 5):
                    material, site = pairs[(i * 7919) % len(pairs)]
                    started = time.perf_counter()
                    cur.execute(sql, {"material": material, "site": site, "last_day": last_day})
                    cur.fetchall()
                    if i >= 5:  # the first executions warm the plan cache
                        timings.append((time.perf_counter() - started) * 1000)
                timings.sort()
                out[name] = (statistics.median(timings), timings[int(0.95 * (len(timings) - 1))])
        conn.rollback()
    finally:
        conn.close()
    return out


def dag_parse_seconds(pg, repeat: int = 3) -> list[float]:
    """Seconds the DagBag of dags/ spends in nova_corrente_daily.py, in fresh processes."""
    probe = ("import json, sys\nfrom airflow.configuration import conf\nfrom airflow.dag_processing.dagbag import DagBag\n"
             "sys.path.insert(0, conf.get('core', 'dags_folder'))\nbag = DagBag()\n"
             "print('PARSE' + json.dumps({s.file: s.duration.total_seconds() for s in bag.dagbag_stats}))")
    env = {**os.environ, **airflow_env(pg, home=Path(tempfile.mkdtemp(prefix="nova-parse-")))}
    env["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "dags")
    seconds = []
    for _ in range(repeat):
        result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, cwd=REPO)
        line = next((text for text in result.stdout.splitlines() if text.startswith("PARSE")), None)
        if line is None:
            raise SystemExit(f"DagBag probe failed:\n{result.stderr[-2000:]}")
        seconds.append(json.loads(line.removeprefix("PARSE"))["nova_corrente_daily.py"])
    return seconds


@contextlib.contextmanager
def redis_server(work: Path) -> Iterator[str]:
    """A private ``redis-server`` (Debian's) on a free port; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("--celery needs Debian's redis-server (apt-get install redis-server)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(work)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if time.monotonic() > deadline:
                raise SystemExit("redis-server did not start")
            time.sleep(0.2)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def dags_folder(work: Path) -> Path:
    """The platform's DAG files (links) in a folder the benchmark's warm-up DAG can join."""
    folder = work / "dags"
    folder.mkdir(parents=True, exist_ok=True)
    for path in (REPO / "dags").glob("*.py"):
        (folder / path.name).symlink_to(path)
    return folder


def measure(label: str, sites_x: int, history_x: int, args, celery: bool) -> Point:
    point = Point(label, DEMO_SITES * sites_x, DEMO_DAYS * history_x, args.materials)
    pg = bench_databases(f"bench_scale_{sites_x}x{history_x}")
    use_databases(pg)
    work = Path(tempfile.mkdtemp(prefix=f"nova-bench-scale-{label}-"))
    landing = work / "landing"
    os.environ["NOVA_LANDING_DIR"] = str(landing)
    end = erp_end_date()
    config = SimulationConfig(seed=42, start_date=end - timedelta(days=point.days - 1), end_date=end,
                              n_materials=args.materials, n_sites=point.sites)
    print(f"[{label}] simulating {point.sites} sites x {point.days} days ...", flush=True)
    data = simulate(config)
    day_before = datetime.combine(end, datetime.min.time(), UTC)  # the ERP as of the end of end - 1
    load_erp(pg, data, until=day_before)
    write_feed_files(data, landing, until=day_before)
    airflow_services.dbt_manifest(pg, force=True)
    folder = dags_folder(work)
    with Airflow(pg, work / "airflow", folder) as airflow:
        first = airflow.run(airflow_services.DAG_ID, run_logical_date(end - timedelta(days=1)), timeout_s=6 * 3600)
        point.first_run_wall = first.wall
        print(f"[{label}] first run (initial build): {first.wall:.0f} s", flush=True)
        point.plain_dbt = dbt(pg, "build")
        load_erp(pg, data)
        write_feed_files(data, landing)
        daily = airflow.run(airflow_services.DAG_ID, run_logical_date(end), timeout_s=6 * 3600)
        reference = dbt(pg, "build")
        print(f"[{label}] daily run {daily.wall:.0f} s; plain dbt build {point.plain_dbt:.0f} s then "
              f"{reference:.0f} s", flush=True)
    point.wall = daily.wall
    point.next_day_dbt = dbt_seconds(daily)
    point.forecast = daily.span("forecast.")
    point.budget = 1.5 * (reference + critical_non_dbt(daily))
    if daily.peak_rss_mib:
        point.peak_task, point.peak_mib = max(daily.peak_rss_mib.items(), key=lambda item: item[1])
    point.series = query(pg, "select count(*) from marts.fct_reorder_points")[0][0]
    point.fact_rows = sum(query(pg, f"select count(*) from marts.{table}")[0][0]
                          for table in ("fct_demand_daily", "fct_stock_daily"))
    point.db_mib = query(pg, "select pg_database_size(current_database())")[0][0] / 2**20
    point.bi = bi_latency(pg, args.bi_samples)
    if celery:
        with redis_server(work) as broker, Airflow(pg, work / "airflow", folder, celery_workers=2, extra_env={
                "NOVA_AIRFLOW_EXECUTOR": "CeleryExecutor", "NOVA_CELERY_BROKER_URL": broker}) as airflow:
            # the same day once more (an hour later: a new logical date), now spread over the workers
            rerun = (datetime.fromisoformat(run_logical_date(end)) + timedelta(hours=1)).isoformat()
            again = airflow.run(airflow_services.DAG_ID, rerun, timeout_s=6 * 3600)
        point.celery_wall = again.wall
        metrics = query(pg, "select metrics from marts.forecast_runs order by generated_at desc limit 1")[0][0]
        point.celery = [(s["shard"], s.get("worker") or "?", s.get("series", 0), ", ".join(s.get("demand_classes", {})))
                        for s in metrics.get("shards", [])]
    return point


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="1x1,10x1,1x3", help="<sites multiple>x<history multiple>, comma-separated")
    parser.add_argument("--celery", default="", metavar="CONFIG",
                        help="run this configuration's daily run once more under CeleryExecutor (e.g. 10x1)")
    parser.add_argument("--materials", type=int, default=40, help="materials (the demo's 40; fewer for a smoke run)")
    parser.add_argument("--bi-samples", type=int, default=200)
    args = parser.parse_args()
    configs = [tuple(int(part) for part in label.split("x")) for label in args.configs.split(",")]
    points = [measure(f"{s}x{h}", s, h, args, args.celery == f"{s}x{h}") for s, h in configs]
    parse = dag_parse_seconds(bench_databases("bench_scale_parse"))
    report(points, parse)
    return 0


def report(points: list[Point], parse: list[float]) -> None:
    print(f"\nScale benchmark: {points[0].materials} materials, {os.cpu_count()} cores, LocalExecutor; the daily (next-day) run "
          "under the scheduler\n")
    header = (f"{'config':<7}{'series':>7}{'fact rows':>11}{'dbt build':>10}{'next-day':>9}{'forecast':>9}"
              f"{'run wall':>9}{'budget':>8}{'peak MiB':>9}  {'(task)':<26}{'DB MiB':>8}")
    print(header)
    print(f"{'':<7}{'':>7}{'':>11}{'plain s':>10}{'dbt s':>9}{'s':>9}{'s':>9}{'s':>8}")
    for p in points:
        print(f"{p.label:<7}{p.series:>7,}{p.fact_rows:>11,}{p.plain_dbt:>10.0f}{p.next_day_dbt:>9.0f}"
              f"{p.forecast:>9.0f}{p.wall:>9.0f}{p.budget:>8.0f}{p.peak_mib:>9.0f}  {p.peak_task[:26]:<26}"
              f"{p.db_mib:>8.0f}")
    print("\nbudget = 1.5 x (plain dbt build after the run + own durations of the non-dbt tasks on its critical path)")
    by_label = {p.label: p for p in points}
    base = by_label.get("1x1")
    print("\nGoals (ratios within this run):")
    for p in points:
        print(f"  {p.label}: scheduled run {p.wall:.0f} s {'<=' if p.wall <= p.budget else '>'} budget "
              f"{p.budget:.0f} s ({p.wall / p.budget:.2f} of it); first (initial) run {p.first_run_wall:.0f} s")
    if base and "10x1" in by_label:
        big = by_label["10x1"]
        series = big.series / base.series
        for name, small, large in (("plain dbt build", base.plain_dbt, big.plain_dbt),
                                   ("next-day dbt", base.next_day_dbt, big.next_day_dbt),
                                   ("forecast", base.forecast, big.forecast), ("scheduled run", base.wall, big.wall)):
            ratio = large / small if small else float("nan")
            print(f"  10x series ({series:.1f}x): {name} {ratio:.1f}x -> {'linear or better' if ratio <= series else 'WORSE than linear'}")
        print(f"  forecast of {big.series:,} series: {big.forecast:.0f} s ({'<=' if big.forecast <= 180 else '>'} 180 s)")
    if base and "1x3" in by_label:
        long = by_label["1x3"]
        for name, small, large in (("next-day dbt", base.next_day_dbt, long.next_day_dbt),
                                   ("scheduled run", base.wall, long.wall)):
            ratio = large / small if small else float("nan")
            print(f"  3x history: {name} {ratio:.2f}x ({'<=' if ratio <= 1.3 else '>'} 1.3x)")
    print("\nBI queries from marts, ms (p50 / p95; goal p95 <= 10 ms):")
    for p in points:
        print(f"  {p.label}: " + "; ".join(f"{name} {p50:.1f} / {p95:.1f}" for name, (p50, p95) in p.bi.items()))
    for p in points:
        if p.celery:
            print(f"\nCeleryExecutor ({p.label}, two `airflow celery worker` processes, Redis broker): run "
                  f"{p.celery_wall:.0f} s")
            for shard, worker, series, classes in p.celery:
                print(f"  forecast shard {shard + 1}: {series:,} series ({classes}) ran on {worker}")
    print(f"\nDAG file parse time (DagBag of dags/, nova_corrente_daily.py, {len(parse)} fresh processes): "
          f"{', '.join(f'{s:.2f}' for s in parse)} s (goal <= 1 s)")


if __name__ == "__main__":
    sys.exit(main())
