"""Profile one dbt model's SQL with ``EXPLAIN (ANALYZE, BUFFERS)`` on a built warehouse.

Compiles the model (today's SQL, or its SQL at a git revision with ``--rev``, compiled against
today's project: same refs, today's upstream relations) and runs its select under EXPLAIN in a
transaction that is rolled back. Prints execution time, the plan's node types, the rows the joins
threw away (``Rows Removed by Join Filter``: the cost of a nested loop that should have been a hash
join), temp blocks (sorts and hashes spilled to disk), the worst row estimate (planned vs actual
rows of one node), and the ten nodes with the most exclusive time.

Usage: .venv/bin/python bench/explain.py [--model int_lead_time_demands_bootstrapped]
       [--rev 30b0fd5^ | --sql-file compiled.sql] [--database warehouse] [--plan-file plan.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import psycopg2

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from nova_corrente import postgres_server  # noqa: E402
from nova_corrente.settings import DBT_PROJECT_DIR, dbt_env, postgres_settings  # noqa: E402

TARGET = "target_explain"


def model_path(model: str) -> Path:
    found = sorted(DBT_PROJECT_DIR.glob(f"models/**/{model}.sql"))
    if len(found) != 1:
        raise SystemExit(f"model {model!r}: {len(found)} files match models/**/{model}.sql")
    return found[0]


def compiled_sql(pg, model: str, rev: str | None) -> str:
    """The model's compiled select; at ``rev`` its SQL of that revision is compiled as a temporary model."""
    path, name = model_path(model), model
    temporary = None
    if rev:
        relative = path.relative_to(REPO)
        old = subprocess.run(["git", "show", f"{rev}:{relative}"], cwd=REPO, capture_output=True, text=True)
        if old.returncode != 0:
            raise SystemExit(f"git show {rev}:{relative} failed: {old.stderr.strip()}")
        name = f"{model}__explain_rev"
        temporary = path.with_name(f"{name}.sql")
        temporary.write_text(old.stdout)
    try:
        env = {**os.environ, **dbt_env(pg)}
        result = subprocess.run([str(Path(sys.executable).with_name("dbt")), "compile", "--select", name,
                                 "--target-path", TARGET, "--quiet"],
                                env=env, cwd=DBT_PROJECT_DIR, capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(f"dbt compile {name} failed:\n{result.stdout[-3000:]}{result.stderr[-2000:]}")
        compiled = sorted((DBT_PROJECT_DIR / TARGET / "compiled").glob(f"**/{name}.sql"))
        return compiled[0].read_text()
    finally:
        if temporary:
            temporary.unlink()


@dataclasses.dataclass
class Profile:
    execution_ms: float
    planning_ms: float
    node_types: Counter
    rows_removed_by_join_filter: int
    temp_read: int
    temp_written: int
    worst_estimate: tuple[str, float, float]  # node, planned rows, actual rows
    hottest: list[tuple[str, float]]  # node, exclusive ms


def _walk(node: dict, out: list[dict]) -> None:
    out.append(node)
    for child in node.get("Plans", []):
        _walk(child, out)


def _label(node: dict) -> str:
    parts = [node["Node Type"], node.get("Join Type", ""), node.get("Relation Name", ""), node.get("CTE Name", "")]
    return " ".join(part for part in parts if part)


def profile(plan: dict) -> Profile:
    nodes: list[dict] = []
    _walk(plan["Plan"], nodes)
    worst = ("-", 0.0, 0.0)
    worst_ratio = 1.0
    exclusive: list[tuple[str, float]] = []
    for node in nodes:
        loops = node.get("Actual Loops", 1) or 1
        planned, actual = node["Plan Rows"], node["Actual Rows"] * loops
        ratio = max(planned, 1) / max(actual, 1)
        ratio = max(ratio, 1 / ratio)
        if ratio > worst_ratio:
            worst_ratio, worst = ratio, (_label(node), planned, actual)
        children = sum(child["Actual Total Time"] * (child.get("Actual Loops", 1) or 1)
                       for child in node.get("Plans", []) if child.get("Parent Relationship") != "InitPlan")
        exclusive.append((_label(node), max(node["Actual Total Time"] * loops - children, 0.0)))
    return Profile(
        execution_ms=plan["Execution Time"],
        planning_ms=plan["Planning Time"],
        node_types=Counter(node["Node Type"] for node in nodes),
        rows_removed_by_join_filter=sum(node.get("Rows Removed by Join Filter", 0) * (node.get("Actual Loops", 1) or 1)
                                        for node in nodes),
        temp_read=plan["Plan"].get("Temp Read Blocks", 0),  # the root's buffers include its children's
        temp_written=plan["Plan"].get("Temp Written Blocks", 0),
        worst_estimate=worst,
        hottest=sorted(exclusive, key=lambda item: -item[1])[:10],
    )


def explain(pg, database: str, sql: str) -> dict:
    conn = psycopg2.connect(pg.dsn(database))
    try:
        with conn.cursor() as cur:
            cur.execute("explain (analyze, buffers, format json) " + sql)
            return cur.fetchone()[0][0]
    finally:
        conn.rollback()
        conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="int_lead_time_demands_bootstrapped")
    parser.add_argument("--rev", help="profile the model's SQL at this git revision (compiled against today's project)")
    parser.add_argument("--sql-file", type=Path,
                        help="profile this compiled SQL instead (e.g. the model compiled by an older checkout)")
    parser.add_argument("--database", help="the warehouse database (default: the configured one)")
    parser.add_argument("--plan-file", type=Path, help="also write the JSON plan here")
    args = parser.parse_args()

    pg = postgres_server.ensure_running(postgres_settings())
    if args.database:
        pg = dataclasses.replace(pg, warehouse_db=args.database)
    sql = args.sql_file.read_text() if args.sql_file else compiled_sql(pg, args.model, args.rev)
    plan = explain(pg, pg.warehouse_db, sql)
    if args.plan_file:
        args.plan_file.write_text(json.dumps(plan, indent=1))
    result = profile(plan)
    rows = plan["Plan"]["Actual Rows"]
    source = f" from {args.sql_file}" if args.sql_file else f" at {args.rev}" if args.rev else ""
    print(f"{args.model}{source} on {pg.warehouse_db}: {rows:,} rows")
    print(f"execution {result.execution_ms / 1000:.2f} s, planning {result.planning_ms:.0f} ms")
    print("nodes: " + ", ".join(f"{kind} {count}" for kind, count in result.node_types.most_common()))
    print(f"rows removed by join filter: {result.rows_removed_by_join_filter:,}")
    print(f"temp blocks read / written: {result.temp_read:,} / {result.temp_written:,}")
    node, planned, actual = result.worst_estimate
    print(f"worst row estimate: {node}: planned {planned:,.0f}, actual {actual:,.0f}")
    print("most exclusive time:")
    for node, ms in result.hottest:
        print(f"  {ms / 1000:8.2f} s  {node}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
