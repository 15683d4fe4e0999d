"""Load a simulated ERP into PostgreSQL as it was at an instant, in one transaction.

``load_erp(pg, data, until)`` makes database ``pg.erp_db`` equal to ``erp_state_as_of(data,
until)``: every table is COPYed into a temporary table, rows that changed are updated, new rows
inserted and rows that should not exist yet (loading an earlier ``until``) deleted. Calling it
again with a later ``until`` advances the ERP the way a live system moves forward, so
incremental extraction sees new rows and updated purchase orders. Either the whole change lands
or nothing does. ``erp.simulation_runs`` records which config was loaded up to when.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd
import psycopg2
from psycopg2 import sql

from nova_corrente.contracts import erp as erp_contract
from nova_corrente.erp_simulator.config import PRIMARY_KEYS, TABLE_COLUMNS, TABLES, ErpData, SimulationConfig
from nova_corrente.erp_simulator.replay import as_utc, erp_state_as_of
from nova_corrente.postgres_server import ensure_databases
from nova_corrente.settings import PostgresSettings

ADVISORY_LOCK_KEY = 4_242_001  # serialises concurrent loads into the same ERP database

RUNS_DDL = """
create table if not exists erp.simulation_runs (
    fingerprint       text primary key,
    seed              integer not null,
    start_date        date not null,
    end_date          date not null,
    n_materials       integer not null,
    n_sites           integer not null,
    n_suppliers       integer not null,
    site_stock_share  double precision not null,
    loaded_until      timestamptz not null,
    is_complete       boolean not null,
    loaded_at         timestamptz not null default now()
)
"""


@dataclass(frozen=True)
class LoadSummary:
    """What a load did: rows per table afterwards, and how many were inserted/updated/deleted."""

    until: datetime | None
    rows: dict[str, int]
    inserted: dict[str, int]
    updated: dict[str, int]
    deleted: dict[str, int]
    seconds: float

    def __str__(self) -> str:
        total = sum(self.rows.values())
        changed = sum(self.inserted.values()) + sum(self.updated.values()) + sum(self.deleted.values())
        return (f"{total:,} ERP rows ({self.rows['stock_movements']:,} stock movements, "
                f"{self.rows['purchase_orders']:,} purchase orders), {changed:,} changed, in {self.seconds:.2f}s")

    def describe(self) -> str:
        """Human-readable table of the counts."""
        lines = [f"{'table':<20}{'rows':>10}{'inserted':>10}{'updated':>10}{'deleted':>10}"]
        for table in TABLES:
            lines.append(f"{table:<20}{self.rows[table]:>10}{self.inserted[table]:>10}"
                         f"{self.updated[table]:>10}{self.deleted[table]:>10}")
        return "\n".join(lines)


@dataclass(frozen=True)
class LoadedSimulation:
    """The simulation currently loaded in an ERP database (from ``erp.simulation_runs``)."""

    config: SimulationConfig
    fingerprint: str
    loaded_until: datetime
    is_complete: bool
    loaded_at: datetime


def _csv(frame: pd.DataFrame) -> io.StringIO:
    """Frame as headerless CSV (NULL = empty unquoted field)."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False, na_rep="", lineterminator="\n")
    buffer.seek(0)
    return buffer


def _key_match(key: tuple[str, ...], left: str, right: str) -> sql.Composed:
    return sql.SQL(" and ").join(
        sql.SQL("{}.{} = {}.{}").format(sql.Identifier(left), sql.Identifier(k), sql.Identifier(right), sql.Identifier(k))
        for k in key
    )


def _sync_table(cur: psycopg2.extensions.cursor, table: str) -> tuple[int, int]:
    """Update changed rows and insert new ones from the staged temp table; (inserted, updated)."""
    columns = TABLE_COLUMNS[table]
    key = PRIMARY_KEYS[table]
    others = [c for c in columns if c not in key]
    target = sql.Identifier("erp", table)
    staged = sql.Identifier(f"_new_{table}")
    update = sql.SQL(
        "update {target} as t set {assign} from {staged} as n where {match} "
        "and ({old}) is distinct from ({new})"
    ).format(
        target=target,
        staged=staged,
        assign=sql.SQL(", ").join(sql.SQL("{} = n.{}").format(sql.Identifier(c), sql.Identifier(c)) for c in others),
        match=_key_match(key, "t", "n"),
        old=sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in others),
        new=sql.SQL(", ").join(sql.SQL("n.{}").format(sql.Identifier(c)) for c in others),
    )
    cur.execute(update)
    updated = cur.rowcount
    cols = sql.SQL(", ").join(map(sql.Identifier, columns))
    cur.execute(
        sql.SQL("insert into {target} ({cols}) select {cols} from {staged} on conflict ({key}) do nothing").format(
            target=target, cols=cols, staged=staged, key=sql.SQL(", ").join(map(sql.Identifier, key)))
    )
    return cur.rowcount, updated


def load_erp(pg: PostgresSettings, data: ErpData, until: date | datetime | None = None) -> LoadSummary:
    """Make the ERP database equal to the simulated ERP as of ``until`` (None = everything).

    Creates database ``pg.erp_db`` and the ``erp`` schema when missing (idempotent), then applies
    the difference in one transaction: on any error (a violated constraint, a lost connection)
    the previous state stays as it was.
    """
    started = time.perf_counter()
    state = erp_state_as_of(data, until)
    cfg = data.config
    loaded_until = as_utc(until) if until is not None else pd.Timestamp(cfg.end_exclusive)
    ensure_databases(pg, (pg.erp_db,))
    inserted: dict[str, int] = {}
    updated: dict[str, int] = {}
    deleted: dict[str, int] = {}
    rows: dict[str, int] = {}
    conn = psycopg2.connect(pg.dsn(pg.erp_db))
    try:
        with conn, conn.cursor() as cur:
            cur.execute("select pg_advisory_xact_lock(%s)", (ADVISORY_LOCK_KEY,))
            cur.execute("set local timezone = 'UTC'")
            cur.execute(erp_contract.ddl())
            cur.execute(RUNS_DDL)
            for table in TABLES:
                staged = sql.Identifier(f"_new_{table}")
                cur.execute(sql.SQL("create temp table {} (like {}) on commit drop").format(
                    staged, sql.Identifier("erp", table)))
                cols = sql.SQL(", ").join(map(sql.Identifier, TABLE_COLUMNS[table]))
                cur.copy_expert(
                    sql.SQL("copy {} ({}) from stdin with (format csv)").format(staged, cols).as_string(conn),
                    _csv(state[table][list(TABLE_COLUMNS[table])]),
                )
                cur.execute(sql.SQL("analyze {}").format(staged))
            for table in reversed(TABLES):
                cur.execute(sql.SQL("delete from {} as t where not exists (select 1 from {} as n where {})").format(
                    sql.Identifier("erp", table), sql.Identifier(f"_new_{table}"),
                    _key_match(PRIMARY_KEYS[table], "n", "t")))
                deleted[table] = cur.rowcount
            for table in TABLES:
                inserted[table], updated[table] = _sync_table(cur, table)
                cur.execute(sql.SQL("select count(*) from {}").format(sql.Identifier("erp", table)))
                rows[table] = cur.fetchone()[0]
            cur.execute("delete from erp.simulation_runs")
            cur.execute(
                "insert into erp.simulation_runs (fingerprint, seed, start_date, end_date, n_materials, n_sites,"
                " n_suppliers, site_stock_share, loaded_until, is_complete) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (cfg.fingerprint(), cfg.seed, cfg.start_date, cfg.end_date, cfg.n_materials, cfg.n_sites,
                 cfg.n_suppliers, cfg.site_stock_share, loaded_until.to_pydatetime(),
                 bool(loaded_until >= pd.Timestamp(cfg.end_exclusive))),
            )
    finally:
        conn.close()
    return LoadSummary(
        until=as_utc(until).to_pydatetime() if until is not None else None,
        rows=rows, inserted=inserted, updated=updated, deleted=deleted,
        seconds=time.perf_counter() - started,
    )


def _database_exists(pg: PostgresSettings) -> bool:
    conn = psycopg2.connect(pg.dsn("postgres"))
    try:
        with conn.cursor() as cur:
            cur.execute("select 1 from pg_database where datname = %s", (pg.erp_db,))
            return cur.fetchone() is not None
    finally:
        conn.close()


def loaded_simulation(pg: PostgresSettings) -> LoadedSimulation | None:
    """What simulation the ERP database holds (None when it holds none)."""
    if not _database_exists(pg):
        return None
    conn = psycopg2.connect(pg.dsn(pg.erp_db))
    try:
        with conn.cursor() as cur:
            cur.execute("select to_regclass('erp.simulation_runs') is not null")
            if not cur.fetchone()[0]:
                return None
            cur.execute(
                "select fingerprint, seed, start_date, end_date, n_materials, n_sites, n_suppliers,"
                " site_stock_share, loaded_until, is_complete, loaded_at from erp.simulation_runs"
            )
            row = cur.fetchone()
    finally:
        conn.close()
    if row is None:
        return None
    config = SimulationConfig(seed=row[1], start_date=row[2], end_date=row[3], n_materials=row[4],
                              n_sites=row[5], n_suppliers=row[6], site_stock_share=row[7])
    return LoadedSimulation(config=config, fingerprint=row[0], loaded_until=row[8], is_complete=row[9],
                            loaded_at=row[10])


def loaded_config(pg: PostgresSettings) -> SimulationConfig | None:
    """The (resolved) config of the simulation the ERP database holds, or None."""
    loaded = loaded_simulation(pg)
    return loaded.config if loaded else None


def erp_exists(pg: PostgresSettings, config: SimulationConfig | None = None) -> bool:
    """True when the ERP database holds a loaded simulation (of ``config``, when given)."""
    loaded = loaded_simulation(pg)
    if loaded is None:
        return False
    return config is None or loaded.fingerprint == config.fingerprint()
