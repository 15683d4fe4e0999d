"""Helpers for the dbt tests: raw/audit/forecast tables as the other stages write them, a tiny
hand-written data set loaded in batches, and a runner for the real dbt CLI.

The raw tables and the audit tables are created by the extract's own DDL from the source
contracts (``nova_corrente.contracts``: ``raw_create_statement``, ``ensure_feed_tables``,
``ensure_warehouse_schemas``), so a change of a contract reaches these tests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.extras

from nova_corrente import db_roles
from nova_corrente.contracts.erp import TABLE_NAMES, TABLES_BY_NAME
from nova_corrente.extract.feeds import ensure_feed_tables
from nova_corrente.extract.raw_tables import ensure_raw_metadata, raw_create_statement
from nova_corrente.extract.warehouse_setup import ensure_warehouse_schemas_in
from nova_corrente.settings import REPO_ROOT, PostgresSettings, dbt_env

PROJECT_DIR = REPO_ROOT / "dbt_project"
ERP_TABLES = TABLE_NAMES

WAREHOUSE_DDL = """
-- setup created the schemas and the forecast tables; these tests write them without constraints
drop table marts.forecast_values, marts.forecast_runs;
create table marts.forecast_runs (
    run_id text primary key, model_version text, generated_at timestamptz, source text,
    dataset_id text, parameters jsonb, data_fingerprint text, metrics jsonb, series_count integer
);
create table marts.forecast_values (
    run_id text, material_id text, site_id text, forecast_date date, yhat double precision,
    yhat_lo_80 double precision, yhat_hi_80 double precision, yhat_lo_95 double precision,
    yhat_hi_95 double precision, model text, demand_class text, model_version text,
    generated_at timestamptz, source text, dataset_id text,
    yhat_q90 double precision, yhat_q95 double precision, yhat_q99 double precision
);
"""

OFFLINE_ENV = {
    # nothing listens on port 1: parse must not need the database
    "NOVA_DBT_HOST": "127.0.0.1",
    "NOVA_DBT_PORT": "1",
    "NOVA_DBT_USER": "nobody",
    "NOVA_DBT_PASSWORD": "not-a-secret",
    "NOVA_DBT_DBNAME": "nowhere",
    "DBT_PROFILES_DIR": str(PROJECT_DIR),
}


def create_warehouse_tables(pg: PostgresSettings) -> None:
    """raw.erp_* (from the ERP contract), raw.feed_* (from the file loader), audit.load_batches,
    marts.forecast_*; created as the administrator, then given to their schemas' owners with the
    platform's grants (``db_roles.provision``), so dbt reads them as nova_transformer."""
    with psycopg2.connect(pg.dsn(pg.warehouse_db)) as conn, conn.cursor() as cur:
        ensure_warehouse_schemas_in(conn)
        cur.execute(WAREHOUSE_DDL)
        ensure_feed_tables(conn)
        for table in ERP_TABLES:
            cur.execute(raw_create_statement(TABLES_BY_NAME[table]))
            ensure_raw_metadata(cur, TABLES_BY_NAME[table])
    conn.close()
    db_roles.provision(pg)


class Loader:
    """Writes rows into raw tables as batches, the way extract + gate leave them."""

    def __init__(self, pg: PostgresSettings) -> None:
        self.conn = psycopg2.connect(pg.dsn(pg.warehouse_db))
        self.conn.autocommit = True

    def close(self) -> None:
        self.conn.close()

    def batch(self, table: str, rows: list[dict[str, Any]], batch_id: str, status: str,
              loaded_at: str) -> None:
        """Append rows to raw.<table> under batch_id and record the batch with its status."""
        source = table.replace("erp_", "erp.", 1) if table.startswith("erp_") else table
        with self.conn.cursor() as cur:
            for row in rows:
                columns = [*row, "_batch_id", "_source", "_loaded_at"]
                values = [*row.values(), batch_id, source, loaded_at]
                cur.execute(
                    f"insert into raw.{table} ({', '.join(columns)}) values ({', '.join(['%s'] * len(values))})",
                    values,
                )
            cur.execute(
                "insert into audit.load_batches (batch_id, source, status, row_count, loaded_at)"
                " values (%s, %s, %s, %s, %s)",
                (batch_id, source, status, len(rows), loaded_at),
            )

    def set_status(self, batch_id: str, status: str) -> None:
        with self.conn.cursor() as cur:
            cur.execute("update audit.load_batches set status = %s where batch_id = %s", (status, batch_id))

    def execute(self, sql: str, params: Any = None) -> None:
        with self.conn.cursor() as cur:
            cur.execute(sql, params)


def query(pg: PostgresSettings, sql: str, params: Any = None) -> list[dict[str, Any]]:
    with psycopg2.connect(pg.dsn(pg.warehouse_db)) as conn:
        with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            cur.execute(sql, params)
            rows = [dict(row) for row in cur.fetchall()]
    conn.close()
    return rows


def dbt_executable() -> str:
    """The dbt of the interpreter running the tests (the project's virtualenv)."""
    beside = Path(sys.executable).with_name("dbt")
    if beside.exists():
        return str(beside)
    found = shutil.which("dbt")
    if not found:
        raise RuntimeError("dbt is not installed in this environment")
    return found


@dataclass
class DbtResult:
    args: list[str]
    returncode: int
    output: str
    seconds: float
    run_results: dict[str, Any] | None

    def statuses(self) -> dict[str, str]:
        """unique_id -> status of every node the command ran."""
        if not self.run_results:
            return {}
        return {result["unique_id"]: result["status"] for result in self.run_results["results"]}


def run_dbt(pg: PostgresSettings | None, args: list[str], target_path: Path,
            env_overrides: dict[str, str] | None = None, check: bool = True) -> DbtResult:
    """Run the dbt CLI on dbt_project/ with the platform's env vars and a private target path."""
    env = {**os.environ, "DO_NOT_TRACK": "1"}
    if pg is not None:
        env.update(dbt_env(pg))
    env["DBT_EXCLUDE_RESOURCE_TYPES"] = ""  # CI runs every node, unit tests too (production runs skip them)
    env.update(env_overrides or {})
    target_path.mkdir(parents=True, exist_ok=True)
    run_results_path = target_path / "run_results.json"
    run_results_path.unlink(missing_ok=True)
    command = [
        dbt_executable(), *args,
        "--project-dir", str(PROJECT_DIR),
        "--target-path", str(target_path),
        "--log-path", str(target_path / "logs"),
    ]
    started = time.perf_counter()
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, cwd=REPO_ROOT)
    seconds = time.perf_counter() - started
    output = completed.stdout + completed.stderr
    run_results = json.loads(run_results_path.read_text()) if run_results_path.exists() else None
    result = DbtResult(args, completed.returncode, output, seconds, run_results)
    if check and completed.returncode != 0:
        raise AssertionError(f"dbt {' '.join(args)} failed ({completed.returncode}):\n{output[-8000:]}")
    return result
