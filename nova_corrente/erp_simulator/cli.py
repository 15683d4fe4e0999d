"""Command line: generate the simulated ERP into the configured PostgreSQL, or show what is loaded.

    python -m nova_corrente.erp_simulator generate [--seed 42] [--start-date ...] [--until ...]
    python -m nova_corrente.erp_simulator status
"""

from __future__ import annotations

import argparse
import time
from datetime import date, datetime
from pathlib import Path

from nova_corrente.erp_simulator.config import SimulationConfig


def _date(text: str) -> date:
    return date.fromisoformat(text)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (separate so tests can inspect it)."""
    parser = argparse.ArgumentParser(prog="python -m nova_corrente.erp_simulator", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="simulate the ERP and load it into the configured database")
    defaults = SimulationConfig()
    gen.add_argument("--seed", type=int, default=defaults.seed)
    gen.add_argument("--start-date", type=_date, default=None, help="first day (default: end - 3 years + 1 day)")
    gen.add_argument("--end-date", type=_date, default=None, help="last day (default: yesterday UTC)")
    gen.add_argument("--materials", type=int, default=defaults.n_materials)
    gen.add_argument("--sites", type=int, default=defaults.n_sites)
    gen.add_argument("--suppliers", type=int, default=defaults.n_suppliers)
    gen.add_argument("--site-stock-share", type=float, default=defaults.site_stock_share)
    gen.add_argument("--until", type=_instant, default=None,
                     help="load the ERP as of this instant (ISO date or timestamp, UTC); default: everything")
    gen.add_argument("--landing-dir", type=Path, default=None,
                     help="where the weather/economic CSVs go (default: $NOVA_HOME/landing)")
    gen.add_argument("--no-feeds", action="store_true", help="do not write the landing feed files")
    sub.add_parser("status", help="show which simulation the ERP database holds")
    return parser


def _generate(args: argparse.Namespace) -> int:
    from nova_corrente import postgres_server
    from nova_corrente.erp_simulator.feeds import write_feed_files
    from nova_corrente.erp_simulator.load import load_erp
    from nova_corrente.erp_simulator.simulate import simulate
    from nova_corrente.settings import nova_home, postgres_settings

    config = SimulationConfig(seed=args.seed, start_date=args.start_date, end_date=args.end_date,
                              n_materials=args.materials, n_sites=args.sites, n_suppliers=args.suppliers,
                              site_stock_share=args.site_stock_share).resolved()
    pg = postgres_server.ensure_running(postgres_settings())
    started = time.perf_counter()
    data = simulate(config)
    simulated = time.perf_counter() - started
    print(f"simulated seed={config.seed} {config.start_date}..{config.end_date} "
          f"({config.n_materials} materials, {config.n_sites} sites, {config.n_suppliers} suppliers, "
          f"{len(data.series)} active material-sites) in {simulated:.2f}s")
    summary = load_erp(pg, data, args.until)
    until = args.until.isoformat() if args.until else "everything"
    print(f"loaded ERP as of {until} into database {pg.erp_db} ({pg.describe()}) in {summary.seconds:.2f}s")
    print(summary.describe())
    if not args.no_feeds:
        started = time.perf_counter()
        landing = args.landing_dir or nova_home() / "landing"
        paths = write_feed_files(data, landing, args.until)
        print(f"wrote feeds: {len(paths)} monthly files under {landing} in {time.perf_counter() - started:.2f}s")
    return 0


def _status() -> int:
    from nova_corrente import postgres_server
    from nova_corrente.erp_simulator.load import loaded_simulation
    from nova_corrente.settings import postgres_settings

    pg = postgres_server.ensure_running(postgres_settings())
    loaded = loaded_simulation(pg)
    if loaded is None:
        print(f"database {pg.erp_db}: no simulated ERP loaded")
        return 1
    print(f"database {pg.erp_db}: fingerprint {loaded.fingerprint}, {loaded.config}, loaded until "
          f"{loaded.loaded_until.isoformat()} ({'complete' if loaded.is_complete else 'partial'}), "
          f"at {loaded.loaded_at.isoformat()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    if args.command == "generate":
        return _generate(args)
    return _status()
