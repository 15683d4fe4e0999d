"""Benchmark: how fast the marts answer the typical BI queries, as the BI role reads them.

Run against a built warehouse (by default ``bench_warehouse``, which ``bench/pipeline.py`` leaves
behind: run that first, e.g. at 10x the demo's material-sites with ``--materials 126 --sites 47``).
Logs in as ``nova_bi_reader`` (read-only sessions, as Metabase/Superset do) and runs each query
``--repeat`` times with a different material-site each time (the same sample for every query):

* ``demand_30d``: a material-site's last 30 days of demand (``fct_demand_daily``);
* ``kpis_month``: this month's inventory KPIs per material family (``fct_inventory_kpis_monthly``);
* ``top_reorders``: the 20 most urgent reorders with material and site names (the run report's
  query, ``nova_corrente.operations.run_report.top_reorders``);
* ``forecast``: a material-site's forecast with its 80 % interval (``fct_forecasts``).

Prints per query the rows it returns, p50 / p95 / max milliseconds (client wall time, one
connection, after one warm-up pass) against the goal of p95 <= 10 ms, and the mart sizes. The
plan (EXPLAIN ANALYZE) of any query over the goal is printed under the table.

Usage: .venv/bin/python bench/bi_latency.py [--database bench_warehouse] [--repeat 200]
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import statistics
import sys
import time
from pathlib import Path

import psycopg2

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from nova_corrente import postgres_server  # noqa: E402
from nova_corrente.operations.run_report import TOP_REORDERS_SQL  # noqa: E402
from nova_corrente.settings import postgres_settings  # noqa: E402

GOAL_P95_MS = 10.0
MARTS = ("fct_demand_daily", "fct_inventory_kpis_monthly", "fct_reorder_points", "fct_forecasts", "dim_item",
         "dim_site")

QUERIES = {
    "demand_30d": (
        "select demand_date, quantity_consumed from marts.fct_demand_daily "
        "where material_id = %(material_id)s and site_id = %(site_id)s "
        "and demand_date > %(last_day)s::date - 30 order by demand_date"
    ),
    "kpis_month": (
        "select family_id, sum(quantity_consumed) as consumed, sum(estimated_lost_quantity) as lost, "
        "sum(stockout_days) as stockout_days, sum(closing_inventory_value_brl) as inventory_brl "
        "from marts.fct_inventory_kpis_monthly where month_start_date = %(month)s "
        "group by family_id order by family_id"
    ),
    "top_reorders": TOP_REORDERS_SQL.replace("%s", "%(limit)s"),
    "forecast": (
        "select forecast_date, yhat, yhat_lo_80, yhat_hi_80 from marts.fct_forecasts "
        "where material_id = %(material_id)s and site_id = %(site_id)s order by forecast_date"
    ),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="bench_warehouse")
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()

    server = postgres_server.ensure_running(postgres_settings())
    pg = dataclasses.replace(server, warehouse_db=args.database).as_role("bi_reader")
    conn = psycopg2.connect(pg.dsn(pg.warehouse_db))
    conn.set_session(readonly=True, autocommit=True)
    with conn.cursor() as cur:
        sizes = {}
        for mart in MARTS:
            cur.execute(f"select count(*) from marts.{mart}")  # noqa: S608 - fixed names
            sizes[mart] = cur.fetchone()[0]
        cur.execute("select material_id, site_id from marts.fct_reorder_points order by material_id, site_id")
        series = cur.fetchall()
        cur.execute("select max(demand_date) from marts.fct_demand_daily")
        last_day = cur.fetchone()[0]
        cur.execute("select max(month_start_date) from marts.fct_inventory_kpis_monthly")
        month = cur.fetchone()[0]
    if not series:
        raise SystemExit(f"marts.fct_reorder_points is empty in {args.database}: run bench/pipeline.py first")
    sample = random.Random(7).choices(series, k=args.repeat)
    params = [{"material_id": m, "site_id": s, "last_day": last_day, "month": month, "limit": 20} for m, s in sample]

    results = {}
    with conn.cursor() as cur:
        for name, sql in QUERIES.items():
            for p in params[:20]:  # warm-up: plans and pages, as a BI server's pooled connection has them
                cur.execute(sql, p)
                cur.fetchall()
            times, rows = [], []
            for p in params:
                started = time.perf_counter()
                cur.execute(sql, p)
                rows.append(len(cur.fetchall()))
                times.append((time.perf_counter() - started) * 1000)
            times.sort()
            results[name] = (statistics.median(rows), times[len(times) // 2], times[int(len(times) * 0.95) - 1],
                             times[-1])

    print(f"\nBI latency on {args.database} as {pg.user}: {len(series):,} material-sites, last day {last_day}, "
          f"{args.repeat} runs per query\n")
    print("  ".join(f"{mart} {rows:,}" for mart, rows in sizes.items()))
    print(f"\n{'query':<14}{'rows':>6}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}  goal p95 <= {GOAL_P95_MS:.0f} ms")
    slow = []
    for name, (rows, p50, p95, worst) in results.items():
        ok = p95 <= GOAL_P95_MS
        print(f"{name:<14}{rows:>6.0f}{p50:>9.2f}{p95:>9.2f}{worst:>9.2f}  {'ok' if ok else 'MISS'}")
        if not ok:
            slow.append(name)
    with conn.cursor() as cur:
        for name in slow:
            cur.execute("explain (analyze, buffers) " + QUERIES[name], params[0])
            print(f"\n{name}:\n" + "\n".join(row[0] for row in cur.fetchall()))
    conn.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
