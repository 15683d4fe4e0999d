"""Benchmark: what the daily run costs at 1x and 10x the demo's material-sites and 1x and 3x its history.

Each point is a fresh ERP from the simulator (``--points``: materials x sites x days; default the demo
40 x 15 x 1,095, ten times its material-sites 126 x 47 x 1,095, and three times its history
40 x 15 x 3,285), loaded as of two days before its last day. Airflow's own services (scheduler,
LocalExecutor, triggerer, dag-processor, api-server; the platform's configuration) then run the daily
DAG three times, each triggered as from the UI, one ERP day apart (the day loaded, the earlier runs'
validation stamps moved a day back: ``age_runs``): the **first run** (the whole history), the second
(whose one-hour overlap redoes the material-sites of the first load, once) and the **next day's run**,
the steady daily cost (one day of changes). Then plain `dbt build` of the same nodes on the warehouse.

Prints one table, a column per point: series, fct_demand_daily rows, stock movements; each run's wall
(from Airflow's dag_run) and each stage of the next day's run (first task start -> last task end);
plain dbt build; the next day's run against issue 8's budget (plain builds + the other tasks' own time);
the peak resident memory of the heaviest task (its process tree, sampled every 0.2 s; which task); the
warehouse's size. Then the goals, as ratios measured in the same run: the next day's run <= 1.5x its
budget; at 10x series the runs and plain build <= 10x those at 1x; the next day's run at 3x history
<= 1.3x the one at 1x; forecast of the 10x point (about 3,500 series) <= 180 s.

With ``--celery`` the first point's DAG runs once more under the CeleryExecutor (Debian's
``redis-server`` as the broker, two ``airflow celery worker`` processes) and the bench prints which
worker ran which forecast shard.

Usage: .venv/bin/python bench/scale.py [--points 40x15x1095,40x15x3285,126x47x1095] [--celery]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from nova_bench import (  # noqa: E402
    STAGES,
    Airflow,
    RunTiming,
    age_runs,
    bench_databases,
    dbt,
    environment,
    erp_end_date,
    query,
    redis_server,
    use_databases,
)  # noqa: E402

from nova_corrente import airflow_services  # noqa: E402
from nova_corrente.erp_simulator import SimulationConfig, load_erp, simulate, write_feed_files  # noqa: E402
from nova_corrente.settings import share_secrets  # noqa: E402
from nova_corrente.transform import DAILY_GROUPS  # noqa: E402

DAG_ID = airflow_services.DAG_ID


@dataclass(frozen=True)
class Point:
    materials: int
    sites: int
    days: int

    @classmethod
    def parse(cls, text: str) -> Point:
        try:
            materials, sites, days = (int(part) for part in text.lower().split("x"))
        except ValueError:
            raise SystemExit(f"a point is materials x sites x days, e.g. 40x15x1095 (got {text!r})") from None
        return cls(materials, sites, days)

    @property
    def label(self) -> str:
        return f"{self.materials}x{self.sites}x{self.days}"


@dataclass
class Measured:
    point: Point
    series: int
    demand_rows: int
    movements: int
    first: RunTiming
    second: RunTiming
    next_day: RunTiming
    plain_build_s: float
    plain_publish_s: float
    warehouse_mib: float
    celery: RunTiming | None = None
    celery_shards: list[dict] | None = None

    @property
    def non_dbt_task_s(self) -> float:
        """Summed seconds of the next day's tasks outside the dbt groups (extract, gates, forecast, ...)."""
        return sum(task.seconds for task in self.next_day.tasks if task.task_id.split(".")[0] not in DAILY_GROUPS)

    @property
    def budget_s(self) -> float:
        """Issue 8's budget of a scheduled run: plain `dbt build` of the same nodes + the other tasks' own time."""
        return self.plain_build_s + self.plain_publish_s + self.non_dbt_task_s

    @property
    def peak(self) -> tuple[str, float]:
        """(task, MiB) of the heaviest task over the three runs."""
        peaks: dict[str, float] = {}
        for run in (self.first, self.second, self.next_day):
            for task_id, mib in run.peak_rss_mib.items():
                peaks[task_id] = max(peaks.get(task_id, 0.0), mib)
        return max(peaks.items(), key=lambda item: item[1]) if peaks else ("-", float("nan"))


def midnight_after(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)


def measure(point: Point, index: int, celery: bool = False) -> Measured:
    pg = bench_databases(f"bench_scale{index}")
    use_databases(pg)
    work = Path(tempfile.mkdtemp(prefix=f"nova-bench-scale-{point.label}-"))
    share_secrets(pg.secrets_dir, work)  # the bench's $NOVA_HOME: the same server's role passwords
    with environment(NOVA_HOME=str(work), NOVA_LANDING_DIR=str(work / "landing"), NOVA_ALERT_DEADLINE="off"):
        return _measure(pg, point, work, celery)


def _measure(pg, point: Point, work: Path, celery: bool = False) -> Measured:
    end = erp_end_date()
    config = SimulationConfig(seed=42, start_date=end - timedelta(days=point.days - 1), end_date=end,
                              n_materials=point.materials, n_sites=point.sites)
    print(f"[{point.label}] simulating {point.materials} materials x {point.sites} sites, {point.days} days",
          flush=True)
    data = simulate(config)
    load_erp(pg, data, until=midnight_after(end - timedelta(days=2)))
    write_feed_files(data, work / "landing", until=midnight_after(end - timedelta(days=2)))
    airflow_services.dbt_manifest(pg, True)
    with Airflow(pg, work / "airflow") as airflow:
        airflow.fail_scheduled_runs(DAG_ID)
        runs = []
        for day in (2, 1, 0):  # the ERP as of the end of its day end - 2, then each next day happens
            if day < 2:
                age_runs(pg)
                load_erp(pg, data, until=midnight_after(end - timedelta(days=day)))
                write_feed_files(data, work / "landing", until=midnight_after(end - timedelta(days=day)))
            runs.append(airflow.run(DAG_ID, timeout_s=7200))
            print(f"[{point.label}] run {len(runs)}: {runs[-1].wall:.1f} s", flush=True)
    first, second, next_day = runs
    celery_run, shards = None, None
    if celery:
        try:
            celery_run, shards = _celery_run(pg, work)
        except Exception as exc:  # the other points still get measured; the table says it failed
            print(f"[celery] FAILED: {type(exc).__name__}: {exc}", flush=True)
    plain = dbt(pg, "build", "--exclude", "tag:forecast")
    plain_publish = dbt(pg, "build", "--select", "tag:forecast")
    print(f"[{point.label}] plain dbt build {plain:.1f} s (+ {plain_publish:.1f} s tag:forecast)", flush=True)
    series = query(pg, "select count(*) from erp.stock_on_hand", db=pg.erp_db)[0][0]
    movements = query(pg, "select count(*) from erp.stock_movements", db=pg.erp_db)[0][0]
    demand_rows = query(pg, "select count(*) from marts.fct_demand_daily")[0][0]
    size = query(pg, "select pg_database_size(current_database())")[0][0] / 2**20
    return Measured(point, series, demand_rows, movements, first, second, next_day, plain, plain_publish, size,
                    celery_run, shards)


def _celery_run(pg, work: Path) -> tuple[RunTiming, list[dict]]:
    """The next day's DAG once more, under the CeleryExecutor: Redis as the broker, two `airflow
    celery worker` processes (worker-1, worker-2); returns the run and, per forecast shard, the
    worker that staged it (the published run's metrics) and its task's times."""
    with redis_server() as broker, Airflow(pg, work / "airflow", celery_workers=2, extra_env={
            "NOVA_AIRFLOW_EXECUTOR": "CeleryExecutor", "NOVA_CELERY_BROKER_URL": broker}) as airflow:
        age_runs(pg)
        run = airflow.run(DAG_ID, timeout_s=7200)
    print(f"[celery] run: {run.wall:.1f} s", flush=True)
    staged = query(pg, "select metrics -> 'shards' from marts.forecast_runs order by generated_at desc, run_id desc "
                   "limit 1")[0][0]
    tasks = {t.map_index: t for t in run.tasks if t.task_id == "forecast.shard"}
    for shard in staged:
        task = tasks.get(shard["shard"])
        shard["task_s"] = task.seconds if task else float("nan")
        shard["start"] = task.start if task else None
    return run, staged


def print_table(results: list[Measured]) -> None:
    def row(label: str, values: list[str]) -> None:
        print(f"{label:<44}" + "".join(f"{value:>20}" for value in values))

    row("point (materials x sites x days)", [m.point.label for m in results])
    row("material-site series", [f"{m.series:,}" for m in results])
    row("fct_demand_daily rows", [f"{m.demand_rows:,}" for m in results])
    row("ERP stock movements", [f"{m.movements:,}" for m in results])
    row("first run (whole history), wall s", [f"{m.first.wall:.1f}" for m in results])
    row("second run (redoes the first load's days), s", [f"{m.second.wall:.1f}" for m in results])
    row("next day's run (third), wall s", [f"{m.next_day.wall:.1f}" for m in results])
    for stage in STAGES:
        row(f"  its {stage} stage s", [f"{m.next_day.span(stage):.1f}" for m in results])
    row("plain dbt build --exclude tag:forecast s", [f"{m.plain_build_s:.1f}" for m in results])
    row("plain dbt build --select tag:forecast s", [f"{m.plain_publish_s:.1f}" for m in results])
    row("next day's tasks outside dbt groups, summed s", [f"{m.non_dbt_task_s:.1f}" for m in results])
    row("next day's run / (plain builds + those)", [f"{m.next_day.wall / m.budget_s:.2f}x" for m in results])
    row("peak RSS of the heaviest task, MiB", [f"{m.peak[1]:.0f}" for m in results])
    row("  (that task)", [m.peak[0][-19:] for m in results])
    row("warehouse database size, MiB", [f"{m.warehouse_mib:.0f}" for m in results])


def print_goals(results: list[Measured]) -> None:
    base = results[0]
    print("\ngoals: a scheduled run <= 1.5 x (plain dbt build of the same nodes + the other tasks' own time):")
    for measured in results:
        ratio = measured.next_day.wall / measured.budget_s
        print(f"  {measured.point.label}: next day's run {measured.next_day.wall:.1f} s / {measured.budget_s:.1f} s = "
              f"{ratio:.2f}x: {'met' if ratio <= 1.5 else 'MISSED'}")
    print(f"goals, against {base.point.label} measured in the same run:")
    for other in results[1:]:
        series_ratio = other.series / base.series
        history_ratio = other.point.days / base.point.days
        if series_ratio > 1.5 and history_ratio == 1:
            for label, value, reference in (
                ("next day's run", other.next_day.wall, base.next_day.wall),
                ("first run", other.first.wall, base.first.wall),
                ("plain dbt build", other.plain_build_s, base.plain_build_s),
            ):
                ratio = value / reference
                verdict = "met" if ratio <= series_ratio else "MISSED"
                print(f"  {other.point.label}: {series_ratio:.1f}x series -> {label} {ratio:.2f}x "
                      f"(goal <= {series_ratio:.1f}x): {verdict}")
            forecast = other.next_day.span("forecast")
            print(f"  {other.point.label}: forecast of {other.series:,} series {forecast:.1f} s (goal <= 180 s for "
                  f"about 3,500): {'met' if forecast <= 180 else 'MISSED'}")
        elif history_ratio > 1.5 and series_ratio < 1.5:
            ratio = other.next_day.wall / base.next_day.wall
            print(f"  {other.point.label}: {history_ratio:.1f}x history -> next day's run {ratio:.2f}x "
                  f"(goal <= 1.3x): {'met' if ratio <= 1.3 else 'MISSED'}")
            for stage in ("transform", "forecast"):
                print(f"      {stage} stage {other.next_day.span(stage) / base.next_day.span(stage):.2f}x")


def print_celery(results: list[Measured]) -> None:
    for measured in results:
        if measured.celery is None:
            continue
        run = measured.celery
        print(f"\nCeleryExecutor (Redis broker, 2 workers), {measured.point.label}: the next day's DAG again, "
              f"{run.wall:.1f} s wall (forecast stage {run.span('forecast'):.1f} s; LocalExecutor "
              f"{measured.next_day.wall:.1f} s / {measured.next_day.span('forecast'):.1f} s)")
        begin = min(s["start"] for s in measured.celery_shards if s["start"] is not None)
        for shard in measured.celery_shards:
            offset = (shard["start"] - begin).total_seconds() if shard["start"] is not None else float("nan")
            print(f"  forecast shard {shard['shard'] + 1}: {shard['series']:>5} series on {shard['worker']:<10} "
                  f"engine {shard['seconds']:6.1f} s, task {shard['task_s']:6.1f} s, started +{offset:.1f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", default="40x15x1095,126x47x1095,40x15x3285",
                        help="comma-separated materials x sites x days; the first is the reference")
    parser.add_argument("--celery", action="store_true",
                        help="after the first point's runs, run its DAG once more under the CeleryExecutor (Redis, "
                             "two workers) and say which worker ran which forecast shard")
    args = parser.parse_args()
    points = [Point.parse(text) for text in args.points.split(",") if text]
    results = [measure(point, index, celery=args.celery and index == 0) for index, point in enumerate(points)]
    print(f"\nNova Corrente at scale: {os.cpu_count()} cores; runs under the scheduler (LocalExecutor), "
          "triggered as from the UI\n")
    print_table(results)
    print_goals(results)
    print_celery(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
