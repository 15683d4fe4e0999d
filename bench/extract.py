"""Benchmark of the ERP extract: rows/s of ``load_interval`` and the Python process's memory.

Generates N stock movements (default 1 000 000) server-side in throw-away databases
``bench_extract_{erp,warehouse}`` on the configured PostgreSQL, then times:

* ``copy out only``: the ERP's binary ``COPY ... TO STDOUT`` into a null sink (the source's speed limit);
* ``first load``: ``load_interval`` of every movement into an empty ``raw.erp_stock_movements``;
* ``re-run``: the same interval again (its batch is not judged yet: it is replaced);
* ``next day``: 1 000 new movements the next day, after the first batch passed, with the key/hash
  reconciliation off (the cursor window only) and on (``NOVA_CDC_RECONCILE``, the default): what
  the daily change capture costs, and what the reconciliation adds, at N rows of history.

Memory is the process's resident set (VmRSS) sampled every 5 ms while each step runs, reported
as the peak and its growth over the step's start: it stays flat whatever N (the rows stream
through a pipe and never sit in Python). Usage: ``.venv/bin/python bench/extract.py [--rows N] [--keep]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import psycopg2

from nova_corrente import db_roles, postgres_server
from nova_corrente.contracts.erp import ddl as erp_ddl
from nova_corrente.extract import load_interval
from nova_corrente.extract.erp import CdcSettings
from nova_corrente.settings import PostgresSettings, postgres_settings

T = TypeVar("T")
INTERVAL_START = datetime(2024, 1, 1, tzinfo=UTC)
INTERVAL_END = datetime(2025, 1, 1, tzinfo=UTC)


def rss_kib() -> int:
    """Current resident set size of this process, KiB (Linux /proc)."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("VmRSS not found in /proc/self/status")


def measured(step: Callable[[], T]) -> tuple[T, float, int, int]:
    """Run ``step``; return (its result, seconds, RSS at start KiB, peak RSS while it ran KiB)."""
    start_rss = rss_kib()
    peak = [start_rss]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_kib())
            done.wait(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    try:
        result = step()
    finally:
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
    return result, seconds, start_rss, max(peak[0], rss_kib())


def generate_erp(pg: PostgresSettings, rows: int) -> None:
    """The contract schema, 200 materials x 50 sites, and ``rows`` movements spread over 2024."""
    with psycopg2.connect(pg.dsn(pg.erp_db)) as conn, conn.cursor() as cur:
        cur.execute(erp_ddl())
        cur.execute("""
            insert into erp.material_families values ('ENERGY_BATTERY', 'Batteries', 'energy', '2024-01-01');
            insert into erp.materials
            select format('MAT-%s', lpad(n::text, 5, '0')), format('Material %s', n), 'ENERGY_BATTERY', 'unit',
                   10 + n, true, '2024-01-01', '2024-01-01'
              from generate_series(1, 200) as n;
            insert into erp.sites
            select format('SITE-%s', lpad(n::text, 4, '0')), format('Site %s', n), 'Salvador',
                   'Metropolitana de Salvador', -12.97, -38.50, 'gold', true, '2020-01-01', '2024-01-01'
              from generate_series(1, 50) as n;
        """)
        cur.execute("""
            insert into erp.stock_movements
            select n, 'MAT-' || lpad((mod(n, 200) + 1)::text, 5, '0'), 'SITE-' || lpad((mod(n, 50) + 1)::text, 4, '0'),
                   (array['consumption', 'receipt', 'transfer_in', 'transfer_out', 'return'])[mod(n, 5) + 1],
                   date '2024-01-01' + mod(n, 366), (mod(n, 17) + 1)::numeric(12, 2), null,
                   timestamptz '2024-01-01' + mod(n, 366) * interval '1 day' + mod(n, 86400) * interval '1 second',
                   timestamptz '2024-01-01' + mod(n, 366) * interval '1 day' + mod(n, 86400) * interval '1 second'
              from generate_series(1, %s) as n
        """, (rows,))
    conn.close()


def copy_out_only(pg: PostgresSettings) -> int:
    """Stream the movements out of the ERP into a null sink; returns the row count."""

    class NullSink:
        def write(self, data: bytes) -> int:
            return len(data)

    with psycopg2.connect(pg.dsn(pg.erp_db)) as conn, conn.cursor() as cur:
        cur.copy_expert("copy (select * from erp.stock_movements) to stdout with (format binary)", NullSink())
        count = cur.rowcount
    conn.close()
    return count


def next_day(pg: PostgresSettings) -> tuple[int, float, int, int, int, float, int, int]:
    """Pass the first batch, add a day of 1,000 movements, capture it without then with reconciliation."""
    with psycopg2.connect(pg.dsn(pg.warehouse_db)) as conn, conn.cursor() as cur:
        cur.execute("update audit.load_batches set status = 'passed', validated_at = now()")
    conn.close()
    with psycopg2.connect(pg.dsn(pg.erp_db)) as conn, conn.cursor() as cur:
        cur.execute("""
            insert into erp.stock_movements
            select 100000000 + n, 'MAT-00001', 'SITE-0001', 'consumption', date '2025-01-01', 1, null,
                   timestamptz '2025-01-01 08:00+00', timestamptz '2025-01-01 08:00+00'
              from generate_series(1, 1000) as n
        """)
    conn.close()
    day_end = INTERVAL_END + timedelta(days=1)
    window = CdcSettings(reconcile=False)
    off, off_s, off_rss0, off_peak = measured(
        lambda: load_interval(pg, INTERVAL_END, day_end, tables=["stock_movements"], cdc=window))
    on, on_s, on_rss0, on_peak = measured(
        lambda: load_interval(pg, INTERVAL_END, day_end, tables=["stock_movements"], cdc=CdcSettings()))
    assert off[0].row_count == on[0].row_count == 1000, (off[0].row_count, on[0].row_count)
    return off[0].row_count, off_s, off_rss0, off_peak, on[0].row_count, on_s, on_rss0, on_peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="stock movements to generate")
    parser.add_argument("--keep", action="store_true", help="keep the bench databases afterwards")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    server = postgres_server.ensure_running(postgres_settings())
    pg = dataclasses.replace(server, erp_db="bench_extract_erp", warehouse_db="bench_extract_warehouse",
                             airflow_db="bench_extract_airflow")
    names = pg.databases
    postgres_server.drop_databases(pg, names)
    postgres_server.ensure_databases(pg)
    db_roles.provision(pg)  # the extract runs as nova_erp_reader + nova_loader, as in production
    try:
        started = time.perf_counter()
        generate_erp(pg, args.rows)
        print(f"generated {args.rows:,} stock movements in {time.perf_counter() - started:.1f} s ({pg.describe()})")

        rows_out, out_s, out_rss0, out_peak = measured(lambda: copy_out_only(pg))
        first, first_s, first_rss0, first_peak = measured(
            lambda: load_interval(pg, INTERVAL_START, INTERVAL_END, tables=["stock_movements"]))
        rerun, rerun_s, rerun_rss0, rerun_peak = measured(
            lambda: load_interval(pg, INTERVAL_START, INTERVAL_END, tables=["stock_movements"]))
        loaded = first[0].row_count
        assert loaded == rows_out == rerun[0].row_count == args.rows, (loaded, rows_out, rerun[0].row_count)
        next_off, off_s, off_rss0, off_peak, next_on, on_s, on_rss0, on_peak = next_day(pg)

        print(f"{'step':<32}{'rows':>12}{'seconds':>10}{'rows/s':>12}"
              f"{'RSS start MiB':>15}{'RSS peak MiB':>14}{'growth MiB':>12}")
        for label, rows, seconds, rss0, peak in (
            ("copy out only (null sink)", rows_out, out_s, out_rss0, out_peak),
            ("load_interval, first load", loaded, first_s, first_rss0, first_peak),
            ("load_interval, re-run (replace)", rerun[0].row_count, rerun_s, rerun_rss0, rerun_peak),
            ("next day, window only", next_off, off_s, off_rss0, off_peak),
            ("next day, window + reconciliation", next_on, on_s, on_rss0, on_peak),
        ):
            print(f"{label:<32}{rows:>12,}{seconds:>10.2f}{rows / seconds:>12,.0f}{rss0 / 1024:>15.1f}"
                  f"{peak / 1024:>14.1f}{(peak - rss0) / 1024:>12.1f}")
        print(f"ratio first load / copy-out-only time: {first_s / out_s:.2f}x")
        print(f"reconciliation of {args.rows:,} keys adds {on_s - off_s:.2f} s to the next day's capture "
              f"({on_s / off_s:.1f}x the window alone)")
        print(f"memory growth per million rows during the first load: "
              f"{(first_peak - first_rss0) / 1024 / (loaded / 1e6):.2f} MiB")
    finally:
        if not args.keep:
            postgres_server.drop_databases(pg, names)


if __name__ == "__main__":
    main()
