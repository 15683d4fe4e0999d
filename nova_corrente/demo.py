"""`make demo`: the whole pipeline on deterministic demo data, through Airflow, then a summary.

Steps, each skipped when already done (a second run only does what is missing):
1. the PostgreSQL server and its databases (embedded unless NOVA_PG_HOST is set);
2. the simulated ERP (seeded) in database ``erp`` and the feed files in the landing folder;
3. the dbt manifest the DAG renders its dbt tasks from, and the Airflow metadata database;
4. one run of the daily DAG through Airflow (`airflow dags test`) for the day after the ERP's
   last business day;
5. a summary read from the marts.
"""

from __future__ import annotations

import logging
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg2

from nova_corrente import airflow_services, postgres_server
from nova_corrente.airflow_env import api_port
from nova_corrente.operations.run_report import latest as latest_report
from nova_corrente.operations.run_report import top_reorders
from nova_corrente.pipeline import landing_dir
from nova_corrente.settings import PostgresSettings, nova_home

log = logging.getLogger(__name__)
BAHIA = ZoneInfo("America/Bahia")


def run_logical_date(erp_end: date) -> str:
    """The DAG run whose data interval closes after the ERP's last day: the next 06:00 in Bahia."""
    return datetime.combine(erp_end + timedelta(days=1), datetime.min.time().replace(hour=6), BAHIA).isoformat()


def ensure_erp(pg: PostgresSettings) -> date:
    """Create the simulated ERP and feed files unless they exist; returns the ERP's last day."""
    from nova_corrente.erp_simulator import (
        SimulationConfig,
        erp_exists,
        load_erp,
        loaded_config,
        simulate,
        write_feed_files,
    )

    if erp_exists(pg):
        config = loaded_config(pg)
        print(f"[demo] ERP exists ({config.n_materials} materials, {config.n_sites} sites, "
              f"{config.start_date} .. {config.end_date}); reusing it")
    else:
        started = time.perf_counter()
        data = simulate(SimulationConfig())
        config = data.config  # resolved: concrete start and end dates
        summary = load_erp(pg, data)
        print(f"[demo] simulated ERP {config.start_date} .. {config.end_date}: "
              f"{summary} ({time.perf_counter() - started:.1f}s)")
        files = write_feed_files(data, landing_dir())
        print(f"[demo] {len(files)} feed files in {landing_dir()}")
    return config.end_date


def summary(pg: PostgresSettings) -> str:
    """Rows per mart, the ten most urgent reorders, where to look next: what BI sees, read as the
    BI role (``nova_bi_reader``: the published marts only); the data-quality line from ``audit``,
    read as the transformer (which may read it, not write it)."""
    from nova_corrente.db_roles import refuse_superuser

    lines = []
    pg = pg.as_role("bi_reader")
    with psycopg2.connect(pg.dsn(pg.warehouse_db)) as conn, conn.cursor() as cur:
        refuse_superuser(conn, "the demo summary")
        cur.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' order by table_name"
        )
        tables = [row[0] for row in cur.fetchall()]
        lines.append("Rows per mart (warehouse.marts):")
        for table in tables:
            cur.execute(f'select count(*) from marts."{table}"')
            lines.append(f"  {table:<32} {cur.fetchone()[0]:>10,}")
        urgent = top_reorders(cur, 10)
        cur.execute(
            "select count(*) filter (where suggested_order_quantity > 0), "
            "count(*) filter (where is_below_reorder_point) from marts.fct_reorder_points"
        )
        to_order, below = cur.fetchone()
        cur.execute("select max(run_id) from marts.fct_forecasts")
        forecast_run = cur.fetchone()[0]
    conn.close()
    # the data-quality registers are not published to BI: read them as the transformer (SELECT only)
    operator = pg.as_role("transformer")
    with psycopg2.connect(operator.dsn(operator.warehouse_db)) as conn, conn.cursor() as cur:
        refuse_superuser(conn, "the demo summary")
        cur.execute(
            "select count(*) filter (where status = 'passed'), count(*) filter (where status = 'rejected'),"
            " (select count(*) from audit.quarantined_rows where resolved_at is null) from audit.load_batches"
        )
        passed, held_back, quarantined = cur.fetchone()
        cur.execute(
            "select status, count(*) from audit.reconciliation_results where checked_at ="
            " (select max(checked_at) from audit.reconciliation_results) group by status order by status"
        )
        reconciliation = ", ".join(f"{count} {status}" for status, count in cur.fetchall()) or "not run yet"
    conn.close()
    lines.append("")
    lines.append(f"Data quality: {passed} batches passed, {held_back} held back whole (audit.load_batches),"
                 f" {quarantined} bad rows in quarantine (audit.quarantined_rows where resolved_at is null);"
                 f" last reconciliation with the ERP: {reconciliation} (audit.reconciliation_results).")
    lines.append("")
    lines.append(f"Ten most urgent reorders ({to_order} material-sites to order now; {below} are below their "
                 "reorder point on hand, some already covered by open purchase orders):")
    lines.append(f"  {'material':<10} {'name':<30} {'site':<9} {'city':<18} {'on hand':>7} {'on order':>8} "
                 f"{'ROP':>7} {'order':>6} {'SL':>4} {'cover d':>7}")
    for r in urgent:
        cover_text = f"{r.days_of_cover:7.1f}" if r.days_of_cover is not None else "      -"
        lines.append(f"  {r.material_id:<10} {r.material_name[:30]:<30} {r.site_id:<9} {r.city[:18]:<18} "
                     f"{r.quantity_on_hand:>7.0f} {r.quantity_on_order:>8.0f} {r.reorder_point:>7.1f} "
                     f"{r.suggested_order_quantity:>6.0f} {r.service_level:>4.0%} {cover_text}")
    plots = nova_home() / "forecast_runs" / str(forecast_run) if forecast_run else None
    if plots and plots.exists():
        lines.append("")
        lines.append(f"Forecast plots of the most important materials (run {forecast_run}): {plots}")
    lines.append("")
    lines.append("Where to look next:")
    lines.append(f"  make airflow   Airflow UI on http://127.0.0.1:{api_port()} (trigger nova_corrente_daily, watch it run;"
                 " Browse > dbt Docs, Browse > Data quality)")
    lines.append("  make docs      dbt docs site with lineage")
    report = latest_report()
    if report:
        lines.append(f"  run report     {report}  (nova summary prints it)")
    lines.append(f"  psql           host={pg.host} port={pg.port} dbname={pg.warehouse_db} user={pg.user} "
                 f"(password: {f'$NOVA_HOME/pg/{pg.user}.password' if pg.embedded else '$NOVA_PG_BI_READER_PASSWORD'})")
    lines.append("  privileges     .venv/bin/nova db privileges (what each database role may do)")
    lines.append(f"  run log        {nova_home() / 'demo' / 'dag_run.log'}")
    return "\n".join(lines)


def run_demo() -> int:
    started = time.perf_counter()
    pg = postgres_server.ensure_running()
    print(f"[demo] {postgres_server.status(pg)}")
    erp_end = ensure_erp(pg)
    airflow_services.dbt_manifest(pg)
    airflow_services.migrate(pg)
    logical_date = run_logical_date(erp_end)
    state = airflow_services.last_run_state(pg, logical_date)
    if state == "success":
        print(f"[demo] DAG run {airflow_services.DAG_ID} @ {logical_date} already succeeded; not re-running")
    else:
        log_file = nova_home() / "demo" / "dag_run.log"
        print(f"[demo] running {airflow_services.DAG_ID} for {logical_date} through Airflow "
              f"(log: {log_file}) ...")
        step = time.perf_counter()
        code = airflow_services.dags_test(pg, logical_date, log_file)
        if code != 0 or airflow_services.last_run_state(pg, logical_date) != "success":
            print(f"[demo] the DAG run failed; the last lines of {log_file}:")
            print("\n".join(log_file.read_text().splitlines()[-40:]))
            return 1
        print(f"[demo] DAG run succeeded in {time.perf_counter() - step:.0f}s")
    print()
    print(summary(pg))
    print(f"\n[demo] done in {time.perf_counter() - started:.0f}s")
    return 0
