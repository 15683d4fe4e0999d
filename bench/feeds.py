"""Benchmark of the feed-file loader: rows/s and the Python process's peak memory against file size.

Writes weather CSV files of N rows (default 1 000 000 and 5 000 000; 1 % of them with a decimal
comma, so the loader's quarantine path is exercised too) and loads each with ``load_landing_files``
into a throw-away warehouse, sampling the process's resident set (VmRSS) every 5 ms. Flat memory
means the peak does not grow with the file: rows stream through spool files into COPY.

Usage: ``.venv/bin/python bench/feeds.py [--rows 1000000 5000000]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from extract import measured  # noqa: E402  (the same RSS sampler as bench/extract.py)

from nova_corrente import postgres_server  # noqa: E402
from nova_corrente.extract import load_landing_files  # noqa: E402
from nova_corrente.settings import postgres_settings  # noqa: E402

HEADER = "city,weather_date,precipitation_mm,temperature_max_c,temperature_min_c\n"


def write_weather(path: Path, rows: int) -> None:
    """``rows`` weather rows (unique city/day keys); every 100th has a decimal comma."""
    path.parent.mkdir(parents=True, exist_ok=True)
    first = date(2000, 1, 1)
    days = 9000
    with path.open("w") as handle:
        handle.write(HEADER)
        for n in range(rows):
            rain = '"1,5"' if n % 100 == 0 else f"{n % 37 / 3:.1f}"
            handle.write(f"City {n // days},{first + timedelta(days=n % days)},{rain},31.0,22.5\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000], help="rows per file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    server = postgres_server.ensure_running(postgres_settings())
    print(f"{'rows':>12}{'file MiB':>10}{'seconds':>10}{'rows/s':>12}{'RSS start MiB':>15}{'RSS peak MiB':>14}"
          f"{'growth MiB':>12}{'quarantined':>13}")
    for rows in args.rows:
        pg = dataclasses.replace(server, erp_db="bench_feeds_erp", warehouse_db="bench_feeds_warehouse",
                                 airflow_db="bench_feeds_airflow")
        postgres_server.drop_databases(pg, (pg.warehouse_db,))
        postgres_server.ensure_databases(pg, (pg.warehouse_db,))
        try:
            with tempfile.TemporaryDirectory() as landing:
                path = Path(landing) / "weather" / f"weather_{rows}.csv"
                write_weather(path, rows)
                size = path.stat().st_size / 2**20
                started = time.perf_counter()
                report, seconds, rss0, peak = measured(lambda pg=pg, path=landing: load_landing_files(pg, Path(path)))
                seconds = time.perf_counter() - started
                [batch] = report.loaded
                print(f"{rows:>12,}{size:>10.0f}{seconds:>10.1f}{rows / seconds:>12,.0f}{rss0 / 1024:>15.1f}"
                      f"{peak / 1024:>14.1f}{(peak - rss0) / 1024:>12.1f}{batch.quarantined:>13,}")
        finally:
            postgres_server.drop_databases(pg, (pg.warehouse_db,))


if __name__ == "__main__":
    main()
