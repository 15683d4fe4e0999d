"""The reconciliation gate: does the warehouse hold what the ERP holds? (run after the marts are published)

For every ERP table (its contract) the gate copies the ERP's keys, ``updated_at`` and measures into
the warehouse (binary COPY, one read-only snapshot) and compares them, key by key, with the dbt
staging model that shows the table's current rows:

* ``keys``: keys the ERP has and the warehouse lacks, and keys the warehouse has that the ERP deleted;
* ``row_count`` and ``sum(<measure>)`` for each measure of the contract (quantities, stock on hand);
* ``marts.fct_reorder_points.quantity_on_hand`` against ``erp.stock_on_hand``, per material-site.

Only keys the extract could have seen are compared: a key whose ERP ``updated_at`` is at or after
the interval end changed after the run's extract and is left for the next run. A difference on a
key whose current ERP version is in quarantine (an open ``audit.quarantined_rows`` record) is
*explained*; any other difference fails the gate, naming the table, the check and sample keys.
Results go to ``audit.reconciliation_results``.

Roles (README, 'Database roles'): the ERP is read as ``nova_erp_reader``, the comparison runs as
``nova_transformer`` (temporary tables, staging and marts), the results are written as the loader.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from psycopg2 import sql
from psycopg2.extensions import ISOLATION_LEVEL_REPEATABLE_READ

from nova_corrente.contracts.erp import TABLES, TableContract
from nova_corrente.contracts.erp import source_name as erp_source
from nova_corrente.extract.connections import close_quietly, connect
from nova_corrente.extract.copy_stream import stream_copy
from nova_corrente.settings import PostgresSettings

log = logging.getLogger(__name__)

#: keys named per failed check
SAMPLE_KEYS = 10


@dataclass
class CheckResult:
    """One comparison of one table."""

    table_name: str
    check_name: str
    erp_value: Decimal | None
    warehouse_value: Decimal | None
    quarantined_value: Decimal
    difference: Decimal
    status: str  # ok | explained | failed
    detail: str = ""


@dataclass
class ReconciliationReport:
    """Every check of one reconciliation."""

    interval_end: datetime
    checks: list[CheckResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[CheckResult]:
        return [check for check in self.checks if check.status == "failed"]

    @property
    def success(self) -> bool:
        return not self.failed

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable (the Airflow task's XCom)."""
        return {
            "interval_end": self.interval_end.isoformat(),
            "success": self.success,
            "seconds": round(self.seconds, 2),
            "checks": [
                {**asdict(check), **{name: None if getattr(check, name) is None else float(getattr(check, name))
                                     for name in ("erp_value", "warehouse_value", "quarantined_value", "difference")}}
                for check in self.checks
            ],
        }

    def summary(self) -> str:
        explained = sum(check.status == "explained" for check in self.checks)
        lines = [f"reconciliation as of {self.interval_end.isoformat()}: {len(self.checks)} checks,"
                 f" {explained} explained by quarantined rows, {len(self.failed)} failed ({self.seconds:.1f}s)"]
        lines += [f"  FAILED {check.table_name} {check.check_name}: ERP {check.erp_value}, warehouse"
                  f" {check.warehouse_value}, unexplained difference {check.difference}; {check.detail}"
                  for check in self.failed]
        return "\n".join(lines)


def _ids(names: tuple[str, ...], alias: str | None = None) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(alias, name) if alias else sql.Identifier(name) for name in names)


def _match(key: tuple[str, ...], left: str, right: str) -> sql.Composable:
    return sql.SQL(" and ").join(
        sql.SQL("{} = {}").format(sql.Identifier(left, name), sql.Identifier(right, name)) for name in key)


def _copy_erp_state(erp: Any, warehouse: Any, contract: TableContract) -> None:
    """``_erp_state``: key, updated_at and measures of every ERP row (temp table in the warehouse)."""
    types = {column.name: column.type for column in contract.columns}
    columns = (*contract.key, "updated_at", *contract.measures)
    with warehouse.cursor() as wcur:
        wcur.execute("drop table if exists _erp_state")
        wcur.execute(sql.SQL("create temp table _erp_state ({})").format(sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(types[name])) for name in columns)))
    copy_out = sql.SQL("copy (select {} from {}) to stdout with (format binary)").format(
        _ids(columns), sql.Identifier("erp", contract.name))
    with erp.cursor() as ecur, warehouse.cursor() as wcur:
        stream_copy(ecur, copy_out.as_string(erp), wcur, "copy _erp_state from stdin with (format binary)")
        wcur.execute("analyze _erp_state")


def _compare_table(warehouse: Any, contract: TableContract, interval_end: datetime) -> list[CheckResult]:
    """Key, count and measure checks of one table (``_erp_state`` holds the ERP side)."""
    key = contract.key
    table = erp_source(contract.name)
    measures = contract.measures
    with warehouse.cursor() as cur:
        cur.execute("drop table if exists _compared")
        # one row per key that either side has; the ERP's changes after the interval end are left out
        cur.execute(sql.SQL(
            """
            create temp table _compared as
            with warehouse_rows as (
                select {key}{measures_select} from {staging}
            ),
            open_quarantine as (
                select distinct quarantined.row_key
                from audit.quarantined_rows as quarantined
                join audit.load_batches as batch on batch.batch_id = quarantined.batch_id and batch.status = 'passed'
                where quarantined.raw_table = %(raw_table)s and quarantined.resolved_at is null
            )
            select {key_coalesce},
                   e.updated_at is not null as in_erp, w.{first_key} is not null as in_warehouse,
                   {measure_pairs}
                   jsonb_build_object({key_json}) in (select row_key from open_quarantine) as quarantined
            from _erp_state as e
            full join warehouse_rows as w on {match}
            where e.updated_at is null or e.updated_at < %(end)s
            """
        ).format(
            key=_ids(key),
            measures_select=sql.SQL("").join(sql.SQL(", {}").format(sql.Identifier(m)) for m in measures),
            staging=sql.Identifier("staging", contract.staging_model),
            key_coalesce=sql.SQL(", ").join(
                sql.SQL("coalesce(e.{0}, w.{0}) as {0}").format(sql.Identifier(name)) for name in key),
            first_key=sql.Identifier(key[0]),
            measure_pairs=sql.SQL("").join(
                sql.SQL("e.{0} as {1}, w.{0} as {2}, ").format(
                    sql.Identifier(m), sql.Identifier(f"erp_{m}"), sql.Identifier(f"wh_{m}")) for m in measures),
            key_json=sql.SQL(", ").join(
                sql.SQL("{}, coalesce(e.{}, w.{})").format(sql.Literal(name), sql.Identifier(name), sql.Identifier(name))
                for name in key),
            match=_match(key, "e", "w"),
        ), {"raw_table": f"raw.{contract.raw_table}", "end": interval_end})
        results = [_keys_check(cur, contract, table)]
        results.append(_aggregate_check(cur, table, "row_count", "count(*) filter (where in_erp)",
                                        "count(*) filter (where in_warehouse)"))
        for measure in measures:
            results.append(_aggregate_check(
                cur, table, f"sum({measure})", f"coalesce(sum(erp_{measure}), 0)", f"coalesce(sum(wh_{measure}), 0)",
                differs=f"erp_{measure} is distinct from wh_{measure}"))
    return results


def _sample(cur: Any, key: tuple[str, ...], condition: str) -> str:
    cur.execute(sql.SQL("select {} from _compared where {} order by 1 limit {}").format(
        _ids(key), sql.SQL(condition), sql.Literal(SAMPLE_KEYS)))
    return ", ".join("(" + ", ".join(str(value) for value in row) + ")" for row in cur.fetchall())


def _keys_check(cur: Any, contract: TableContract, table: str) -> CheckResult:
    key = contract.key
    cur.execute("select count(*) filter (where in_erp), count(*) filter (where in_warehouse),"
                " count(*) filter (where in_erp <> in_warehouse and quarantined),"
                " count(*) filter (where in_erp and not in_warehouse and not quarantined),"
                " count(*) filter (where in_warehouse and not in_erp and not quarantined) from _compared")
    erp_keys, warehouse_keys, explained, missing, extra = cur.fetchone()
    details = []
    if missing:
        details.append(f"{missing} key(s) ({', '.join(key)}) in the ERP but not in staging.{contract.staging_model}: "
                       + _sample(cur, key, "in_erp and not in_warehouse and not quarantined"))
    if extra:
        details.append(f"{extra} key(s) in staging.{contract.staging_model} that the ERP no longer has (deleted): "
                       + _sample(cur, key, "in_warehouse and not in_erp and not quarantined"))
    if explained:
        details.append(f"{explained} key(s) differ because their ERP version is in quarantine: "
                       + _sample(cur, key, "in_erp <> in_warehouse and quarantined"))
    status = "failed" if missing or extra else ("explained" if explained else "ok")
    return CheckResult(table, "keys", Decimal(erp_keys), Decimal(warehouse_keys), Decimal(explained),
                       Decimal(missing + extra), status, "; ".join(details))


def _aggregate_check(cur: Any, table: str, name: str, erp_expr: str, warehouse_expr: str,
                     differs: str = "in_erp <> in_warehouse") -> CheckResult:
    """Totals of both sides; the difference on quarantined keys is explained, the rest must be 0."""
    cur.execute(
        f"select {erp_expr}, {warehouse_expr},"
        f" (select {erp_expr} from _compared where quarantined) - (select {warehouse_expr} from _compared where quarantined),"
        f" count(*) filter (where ({differs}) and not quarantined)"
        f" from _compared"
    )
    erp_value, warehouse_value, explained, differing = cur.fetchone()
    erp_value, warehouse_value = Decimal(erp_value), Decimal(warehouse_value)
    explained = Decimal(explained or 0)
    difference = erp_value - warehouse_value - explained
    detail = ""
    status = "ok"
    if differing or difference != 0:
        status = "failed"
        key_columns = [row for row in _columns(cur) if row not in ("in_erp", "in_warehouse", "quarantined")
                       and not row.startswith(("erp_", "wh_"))]
        detail = f"{differing} key(s) differ: " + _sample(cur, tuple(key_columns), f"({differs}) and not quarantined")
    elif explained != 0:
        status = "explained"
        detail = "the difference is the ERP's version of quarantined rows"
    return CheckResult(table, name, erp_value, warehouse_value, explained, difference, status, detail)


def _columns(cur: Any) -> list[str]:
    cur.execute("select attname from pg_attribute where attrelid = '_compared'::regclass and attnum > 0"
                " and not attisdropped order by attnum")
    return [row[0] for row in cur.fetchall()]


def _stock_on_hand_mart_check(warehouse: Any, interval_end: datetime) -> CheckResult | None:
    """``marts.fct_reorder_points.quantity_on_hand`` vs the ERP's stock on hand, per material-site."""
    with warehouse.cursor() as cur:
        cur.execute("select to_regclass('marts.fct_reorder_points') is not null")
        if not cur.fetchone()[0]:
            return None
        cur.execute(
            """
            select count(*),
                   count(*) filter (where quarantined),
                   count(*) filter (where not quarantined),
                   string_agg(format('(%%s, %%s): ERP %%s, mart %%s', material_id, site_id, erp_quantity, mart_quantity),
                              '; ' order by material_id, site_id) filter (where not quarantined),
                   coalesce(sum(erp_quantity), 0), coalesce(sum(mart_quantity), 0)
            from (
                select mart.material_id, mart.site_id, erp.quantity_on_hand as erp_quantity,
                       mart.quantity_on_hand as mart_quantity,
                       jsonb_build_object('material_id', mart.material_id, 'site_id', mart.site_id) in (
                           select quarantined.row_key from audit.quarantined_rows as quarantined
                           join audit.load_batches as batch
                             on batch.batch_id = quarantined.batch_id and batch.status = 'passed'
                           where quarantined.raw_table = 'raw.erp_stock_on_hand' and quarantined.resolved_at is null
                       ) as quarantined
                from marts.fct_reorder_points as mart
                left join _erp_state as erp on erp.material_id = mart.material_id and erp.site_id = mart.site_id
                where erp.updated_at is null or erp.updated_at < %(end)s
            ) as compared
            where erp_quantity is distinct from mart_quantity
            """,
            {"end": interval_end},
        )
        differing, explained, failed, detail, erp_sum, mart_sum = cur.fetchone()
    status = "failed" if failed else ("explained" if explained else "ok")
    return CheckResult(erp_source("stock_on_hand"), "marts.fct_reorder_points.quantity_on_hand",
                       Decimal(erp_sum), Decimal(mart_sum), Decimal(explained), Decimal(failed), status,
                       (detail or "")[:2000] if failed else "")


def reconcile(pg: PostgresSettings, interval_end: datetime) -> ReconciliationReport:
    """Compare the ERP and the warehouse (staging and the reorder-point mart) and record the results."""
    started = time.perf_counter()
    report = ReconciliationReport(interval_end)
    erp = connect(pg, "erp")  # as nova_erp_reader
    erp.set_session(isolation_level=ISOLATION_LEVEL_REPEATABLE_READ, readonly=True)
    # the comparisons read staging and the marts through temporary tables: the transformer's rights;
    # the results are the loader's to write (audit)
    warehouse = connect(pg.as_role("transformer"), "warehouse")
    try:
        for contract in TABLES:
            _copy_erp_state(erp, warehouse, contract)
            report.checks += _compare_table(warehouse, contract, interval_end)
            if contract.name == "stock_on_hand":
                mart_check = _stock_on_hand_mart_check(warehouse, interval_end)
                if mart_check is not None:
                    report.checks.append(mart_check)
        warehouse.rollback()  # drop the temporary tables
        close_quietly(warehouse)
        warehouse = connect(pg.component_or("loader"), "warehouse")
        with warehouse.cursor() as cur:
            cur.execute("select now()")
            checked_at = cur.fetchone()[0]
            for check in report.checks:
                cur.execute(
                    "insert into audit.reconciliation_results (checked_at, interval_end, table_name, check_name,"
                    " erp_value, warehouse_value, quarantined_value, difference, status, detail)"
                    " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (checked_at, interval_end, check.table_name, check.check_name, check.erp_value,
                     check.warehouse_value, check.quarantined_value, check.difference, check.status, check.detail),
                )
        warehouse.commit()
    finally:
        close_quietly(erp, rollback=False)
        close_quietly(warehouse)
    report.seconds = time.perf_counter() - started
    (log.info if report.success else log.error)(report.summary())
    return report
