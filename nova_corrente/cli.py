"""`nova`: the platform's command line (what the Makefile targets call)."""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import subprocess
import sys

from nova_corrente.settings import DBT_PROJECT_DIR, dbt_env, postgres_settings


def _db(args: argparse.Namespace) -> int:
    from nova_corrente import postgres_server

    if args.action == "start":
        pg = postgres_server.ensure_running()
        print(postgres_server.status(pg))
    elif args.action == "roles":
        return _db_roles(args)
    elif args.action == "privileges":
        from nova_corrente import db_roles

        pg = postgres_settings()
        print(db_roles.format_matrix(db_roles.measure(pg), pg))
    elif args.action == "stop":
        print("stopped" if postgres_server.stop() else "not running (or external)")
    else:
        print(postgres_server.status())
    return 0


def _db_roles(args: argparse.Namespace) -> int:
    """`nova db roles`: print the roles/grants script for a DBA; `--apply` runs it as the administrator."""
    from nova_corrente import db_roles, postgres_server

    pg = postgres_settings()
    if not args.apply:
        print(db_roles.render_psql(pg))
        return 0
    postgres_server.wait_until_ready(pg)
    postgres_server.ensure_databases(pg)
    updated = db_roles.provision(pg)
    print(f"roles and grants applied on {pg.describe()} ({', '.join(pg.databases)})")
    missing = [role for role in db_roles.ROLES if role not in updated]
    print(f"passwords set: {', '.join(updated) or 'none'}"
          + (f"; unchanged (no NOVA_PG_<COMPONENT>_PASSWORD exported): {', '.join(missing)}" if missing else ""))
    return 0


def _demo(_: argparse.Namespace) -> int:
    from nova_corrente.demo import run_demo

    return run_demo()


def _airflow(args: argparse.Namespace) -> int:
    from nova_corrente import airflow_services, postgres_server
    from nova_corrente.airflow_env import ADMIN_USER, API_HOST, airflow_env, api_port

    if args.action == "env":
        for key, value in airflow_env(postgres_settings()).items():
            print(f"export {key}={shlex.quote(value)}")
        return 0
    if args.action == "down":
        stopped = airflow_services.stop_services()
        print(f"stopped airflow {', '.join(stopped)}" if stopped else "airflow was not running")
        return 0
    pg = postgres_server.ensure_running()
    airflow_services.dbt_manifest(pg)
    airflow_services.migrate(pg)
    _first_docs_site(pg)
    pids = airflow_services.start_services(pg)
    print(f"Airflow UI: http://{API_HOST}:{api_port()}  (login: {ADMIN_USER} / {airflow_services.admin_password()})")
    print("  Browse menu: dbt Docs, Data quality; each run's report is its note (and under $NOVA_HOME/reports)")
    print(f"services: {', '.join(f'{name} pid {pid}' for name, pid in pids.items())}")
    print(f"logs: {airflow_services._run_dir()}  |  stop with: make stop")
    return 0


def _first_docs_site(pg) -> None:
    """The UI's dbt docs exist from the start (each DAG run refreshes them afterwards)."""
    from nova_corrente.operations import dbt_docs

    if (dbt_docs.docs_dir() / "index.html").exists():
        return
    try:
        dbt_docs.refresh(pg)
    except (OSError, RuntimeError) as exc:  # the UI still starts; the first DAG run builds the site
        print(f"dbt docs for the UI not built yet ({exc}); the first DAG run builds them", file=sys.stderr)


def _stop(_: argparse.Namespace) -> int:
    from nova_corrente import airflow_services, postgres_server

    stopped = airflow_services.stop_services()
    print(f"airflow: stopped {', '.join(stopped)}" if stopped else "airflow: not running")
    print("postgres: stopped" if postgres_server.stop() else "postgres: not running (or external)")
    return 0


def _dbt(args: argparse.Namespace) -> int:
    """Run dbt with the platform's profile environment: `nova dbt build`, `nova dbt docs generate`."""
    from nova_corrente import postgres_server

    pg = postgres_server.ensure_running()
    project = DBT_PROJECT_DIR
    env = {**os.environ, **dbt_env(pg)}
    dbt = os.path.join(os.path.dirname(sys.executable), "dbt")
    return subprocess.run([dbt, *args.dbt_args], env=env, cwd=project).returncode


def _docs(_: argparse.Namespace) -> int:
    from nova_corrente import postgres_server

    pg = postgres_server.ensure_running()
    project = DBT_PROJECT_DIR
    env = {**os.environ, **dbt_env(pg)}
    dbt = os.path.join(os.path.dirname(sys.executable), "dbt")
    code = subprocess.run([dbt, "docs", "generate", "--static"], env=env, cwd=project).returncode
    if code == 0:
        page = project / "target" / "static_index.html"
        print(f"\ndbt docs (lineage) generated; open it offline: file://{page}")
        print("or serve it: .venv/bin/nova dbt docs serve --port 8081 --host 127.0.0.1")
    return code


def _replay(args: argparse.Namespace) -> int:
    """The weekly replay by hand: the reorder points as of ``--days-back`` days ago, then both
    empirical methods replayed over the demand since (what the DAG nova_corrente_reorder_replay runs)."""
    from nova_corrente import postgres_server, reorder_replay

    pg = postgres_server.ensure_running()
    days_back = args.days_back or reorder_replay.days_back_setting()
    reason = reorder_replay.not_ready(pg, days_back)
    if reason:
        print(f"nothing to replay yet: {reason}")
        return 0
    built = reorder_replay.build_as_of(pg, days_back)
    replayed = reorder_replay.replay_methods(pg, args.lead_time_draws or reorder_replay.DEFAULT_LEAD_TIME_DRAWS)
    print(f"as-of build ({built['days_back']} days back) in {built['seconds']} s; replayed "
          f"{replayed['material_sites']} material-sites over {replayed['replay_days']} days after "
          f"{replayed['as_of_date']}: cycle service level {replayed['cycle_service_level']}")
    print("fct_reorder_points uses the evidence from its next build (the daily run, or: nova dbt run --select "
          "fct_reorder_points+)")
    return 0


def _summary(args: argparse.Namespace) -> int:
    """The latest run report (``$NOVA_HOME/reports/latest.md``); the marts summary with ``--marts``."""
    from nova_corrente.demo import summary
    from nova_corrente.operations.run_report import latest

    report = None if args.marts else latest()
    if report is None:
        if not args.marts:
            print("no run report yet (a DAG run writes one under $NOVA_HOME/reports); the marts summary:\n")
        print(summary(postgres_settings()))
        return 0
    print(f"<!-- {report} -->")
    print(report.read_text())
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=os.environ.get("NOVA_LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="nova", description="Nova Corrente data platform")
    sub = parser.add_subparsers(dest="command", required=True)
    db = sub.add_parser(
        "db", help="the platform's PostgreSQL server",
        description="start/stop/status: the server (start also applies the roles and grants to the embedded "
                    "one). roles: print the roles and grants as a psql script for a DBA, or --apply them as the "
                    "administrator (NOVA_PG_USER). privileges: the role x schema x right matrix, from the catalog.")
    db.add_argument("action", choices=["start", "stop", "status", "roles", "privileges"])
    db.add_argument("--apply", action="store_true", help="roles: run the setup instead of printing it")
    db.set_defaults(func=_db)
    sub.add_parser("demo", help="run the whole pipeline on demo data and print a summary").set_defaults(func=_demo)
    af = sub.add_parser("airflow", help="Airflow UI and services")
    af.add_argument("action", choices=["up", "down", "env"])
    af.set_defaults(func=_airflow)
    sub.add_parser("stop", help="stop Airflow services and the embedded PostgreSQL").set_defaults(func=_stop)
    dbt = sub.add_parser("dbt", help="run dbt with the platform's profile environment")
    dbt.add_argument("dbt_args", nargs=argparse.REMAINDER)
    dbt.set_defaults(func=_dbt)
    sub.add_parser("docs", help="generate the dbt docs site (offline)").set_defaults(func=_docs)
    replay = sub.add_parser(
        "replay", help="replay both empirical reorder-point methods over the last year (the weekly DAG's job)")
    replay.add_argument("--days-back", type=int, help="as-of date: days before the last movement date "
                        "(default $NOVA_REPLAY_DAYS_BACK, else a year)")
    replay.add_argument("--lead-time-draws", type=int, help="lead-time draws per material-site (default 10)")
    replay.set_defaults(func=_replay)
    summary = sub.add_parser("summary", help="print the latest run report (or, with --marts, the marts summary)")
    summary.add_argument("--marts", action="store_true", help="rows per mart and the most urgent reorders instead")
    summary.set_defaults(func=_summary)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except Exception as exc:  # noqa: BLE001 - top-level: one clear line, not a traceback wall
        if os.environ.get("NOVA_DEBUG"):
            raise
        print(f"nova {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
