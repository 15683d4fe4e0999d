"""The bad-input catalogue: every kind of bad or tricky source data, through the real pipeline stages.

One module-scoped scenario on a simulated ERP and its feed files, three days in a row, each day
extract_load -> gate_raw -> dbt build (staging -> marts) -> gate_reconciliation, on real PostgreSQL, GX and dbt:

* day 1: good data (plus one kind that needs a day-1 state);
* day 2: every kind below is injected at once into the ERP (a sloppy ERP: some of its own
  constraints dropped, as a real one may lack them) and into the landing folder;
* day 3: the source fixes everything (a corrected row, a deleted row, a re-delivered file).

Every kind asserts, in its own test: the stage that stops it and its message (table/file, row or
key, column, value), that no bad value reaches staging or the marts, that the day's good data is
delivered anyway, and that the fix flows in on day 3. Then an old day is re-run with a back-dated
bad row and nothing that passed is withdrawn.

The batches of these tiny days are small, so the share above which a batch is held back whole is
raised to 50 % here (``NOVA_QUARANTINE_MAX_BAD_SHARE``); the 5-row floor still applies, and one
kind shows a file held back whole for its share of bad rows.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from nova_corrente.erp_simulator import SimulationConfig, load_erp, simulate, write_feed_files
from nova_corrente.pipeline import ReconciliationFailed, extract_load, gate_raw, gate_reconciliation
from nova_corrente.settings import REPO_ROOT, dbt_env

pytestmark = pytest.mark.slow

CONFIG = SimulationConfig(seed=23, start_date=date(2025, 1, 1), end_date=date(2025, 6, 30),
                          n_materials=30, n_sites=10, n_suppliers=3)
DAY1, DAY2, DAY3 = CONFIG.end_date - timedelta(days=2), CONFIG.end_date - timedelta(days=1), CONFIG.end_date
WEATHER_HEADER = "city,weather_date,precipitation_mm,temperature_max_c,temperature_min_c\n"
ANATEL_HEADER = "city,reference_month,operator,stations_5g,population_covered_pct\n"


def midnight_after(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)


def stamp(day: date, hour: int = 10) -> datetime:
    """A moment during ``day`` (UTC): when the ERP recorded a change."""
    return datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=hour)


# --------------------------------------------------------------------------------------------
# the scenario
# --------------------------------------------------------------------------------------------


@dataclass
class Scenario:
    pg: Any
    landing: Path
    target: Path
    days: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: kind name -> check name -> (ok, detail), filled while the scenario runs
    results: dict[str, dict[str, tuple[bool, str]]] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)

    def erp(self, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        return _sql(self.pg, self.pg.erp_db, statement, params)

    def wh(self, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        return _sql(self.pg, self.pg.warehouse_db, statement, params)

    def one(self, statement: str, params: Any = None) -> Any:
        rows = self.wh(statement, params)
        return rows[0][0] if rows else None

    def quarantined(self, raw_table: str, **key: Any) -> list[tuple[str, str, str, str]]:
        """(rule, column, value, reason) of the quarantine records of a key (latest batch first)."""
        return [tuple(row) for row in self.wh(
            "select rule, column_name, coalesce(value, 'NULL'), reason from audit.quarantined_rows"
            " where raw_table = %s and row_key @> %s::jsonb order by quarantine_id desc",
            (raw_table, _json(key)))]

    def file_quarantine(self, source: str) -> list[tuple[str, str, str, str]]:
        return [tuple(row) for row in self.wh(
            "select rule, coalesce(column_name, ''), coalesce(value, 'NULL'), reason from audit.quarantined_rows"
            " where source = %s order by quarantine_id", (source,))]

    def batch(self, source: str, day: date) -> tuple[str, str | None] | None:
        rows = self.wh("select status, failure_reason from audit.load_batches where source = %s and interval_end = %s"
                       " order by attempt desc limit 1", (source, midnight_after(day)))
        return tuple(rows[0]) if rows else None


def _json(value: dict[str, Any]) -> str:
    import json

    return json.dumps(value, default=str)


def _sql(pg: Any, database: str, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
    conn = psycopg2.connect(pg.dsn(database))
    try:
        with conn, conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def run_day(scenario: Scenario, day: date, label: str) -> dict[str, Any]:
    """The daily pipeline's stages for ``day`` (forecast excluded), as the DAG runs them."""
    pg, start, end = scenario.pg, midnight_after(day) - timedelta(days=1), midnight_after(day)
    loaded = extract_load(pg, start, end, scenario.landing)
    gated = gate_raw(pg, loaded["batch_ids"])
    dbt = subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "build", "--exclude", "tag:forecast", "--project-dir",
         str(REPO_ROOT / "dbt_project"), "--target-path", str(scenario.target), "--log-path",
         str(scenario.target / "logs")],
        env={**os.environ, **dbt_env(pg), "DO_NOT_TRACK": "1"}, capture_output=True, text=True, timeout=1800,
    )
    try:
        audit: dict[str, Any] | str = gate_reconciliation(pg, end, loaded["batch_ids"])
    except ReconciliationFailed as failure:
        audit = str(failure)
    outcome = {"loaded": loaded, "gated": gated, "dbt_code": dbt.returncode,
               "dbt_output": dbt.stdout[-6000:] + dbt.stderr[-2000:], "audit": audit}
    scenario.days[label] = outcome
    return outcome


# --------------------------------------------------------------------------------------------
# the kinds
# --------------------------------------------------------------------------------------------

Check = Callable[[Scenario], tuple[bool, str]]


@dataclass
class Kind:
    """One kind of bad (or tricky) input: how to cause it, stop it, and fix it."""

    name: str
    stage: str  # where it is stopped: 'extract' (held back), 'loader' (unparsable), 'gate' (quarantine), 'cdc'
    inject: Callable[[Scenario], None]
    stopped: Check  # after day 2: the right stage stopped it, with a message naming it
    absent: Check  # after day 2: the bad value is not in staging or the marts
    fix: Callable[[Scenario], None]
    recovered: Check  # after day 3: the fix reached staging / the marts
    before_day1: Callable[[Scenario], None] | None = None
    #: a fix the source must make before its day-3 rows can even be written (a dropped column)
    fix_first: Callable[[Scenario], None] | None = None


def _ok(condition: bool, detail: Any = "") -> tuple[bool, str]:
    return bool(condition), str(detail)[:3000]


def _movement(s: Scenario, movement_id: int, material: str, site: str, kind: str, day: date, quantity: Any,
              when: datetime | None = None, created: datetime | None = None) -> None:
    when = when or stamp(DAY2)
    s.erp("insert into erp.stock_movements values (%s, %s, %s, %s, %s, %s, null, %s, %s)",
          (movement_id, material, site, kind, day, quantity, created or when, when))


def _fixed_movement(movement_id: int, quantity: Any = 2, day: date = DAY2, kind: str = "consumption",
                    material_site: str = "busy") -> Callable[[Scenario], None]:
    def fix(s: Scenario) -> None:
        material, site = s.notes[material_site]
        s.erp("delete from erp.stock_movements where movement_id = %s", (movement_id,))
        _movement(s, movement_id, material, site, kind, day, quantity, when=stamp(DAY3))
    return fix


def _movement_quarantined(movement_id: int, rule: str, value: str) -> Check:
    def check(s: Scenario) -> tuple[bool, str]:
        records = s.quarantined("raw.erp_stock_movements", movement_id=movement_id)
        hit = [r for r in records if rule in r[0] and r[2] == value]
        return _ok(hit and f'"movement_id": {movement_id}' in hit[0][3] and value in hit[0][3], records)
    return check


def _movement_absent(movement_id: int) -> Check:
    def check(s: Scenario) -> tuple[bool, str]:
        rows = s.wh("select quantity, movement_date from staging.stg_erp__stock_movements where movement_id = %s",
                    (movement_id,))
        return _ok(rows == [], rows)
    return check


def _movement_recovered(movement_id: int, quantity: str = "2.00") -> Check:
    def check(s: Scenario) -> tuple[bool, str]:
        rows = s.wh("select quantity::text from staging.stg_erp__stock_movements where movement_id = %s",
                    (movement_id,))
        open_records = s.wh("select count(*) from audit.quarantined_rows where raw_table = 'raw.erp_stock_movements'"
                            " and row_key @> %s::jsonb and resolved_at is null", (_json({"movement_id": movement_id}),))
        return _ok(rows == [(quantity,)] and open_records == [(0,)], (rows, open_records))
    return check


def movement_kind(name: str, movement_id: int, rule: str, value: str, *, day: date = DAY2, kind: str = "consumption",
                  quantity: Any = 3, material_site: str = "busy", material: str | None = None,
                  absent_extra: Check | None = None) -> Kind:
    """A bad stock movement recorded on day 2, corrected on day 3 (same id, quantity 2)."""

    def inject(s: Scenario) -> None:
        default_material, site = s.notes[material_site]
        _movement(s, movement_id, material or default_material, site, kind, day, quantity)

    def absent(s: Scenario) -> tuple[bool, str]:
        ok, detail = _movement_absent(movement_id)(s)
        if absent_extra is not None:
            extra_ok, extra_detail = absent_extra(s)
            return ok and extra_ok, f"{detail}; {extra_detail}"
        return ok, detail

    return Kind(name, "gate", inject, _movement_quarantined(movement_id, rule, value), absent,
                _fixed_movement(movement_id, material_site=material_site), _movement_recovered(movement_id))


def _no_huge_demand(s: Scenario) -> tuple[bool, str]:
    biggest = s.one("select max(quantity_consumed) from marts.fct_demand_daily")
    return _ok(biggest is not None and biggest < 1000, biggest)


def _no_ancient_days(s: Scenario) -> tuple[bool, str]:
    first = s.one("select min(demand_date) from marts.fct_demand_daily")
    first_stock = s.one("select min(stock_date) from marts.fct_stock_daily")
    return _ok(first >= CONFIG.start_date and first_stock >= CONFIG.start_date, (first, first_stock))


# -- ERP rows of other tables -----------------------------------------------------------------


def site_update_kind(name: str, column: str, bad: Any, rule: str) -> Kind:
    site_key = f"site_for_{name}"

    def inject(s: Scenario) -> None:
        site = s.erp("select site_id from erp.sites where is_active order by site_id offset %s limit 1",
                     (len([k for k in s.notes if k.startswith("site_for_")]),))[0][0]
        s.notes[site_key] = (site, s.erp(f"select {column}::text from erp.sites where site_id = %s", (site,))[0][0])
        s.erp(f"update erp.sites set {column} = %s, updated_at = %s where site_id = %s", (bad, stamp(DAY2), site))

    def stopped(s: Scenario) -> tuple[bool, str]:
        site = s.notes[site_key][0]
        records = s.quarantined("raw.erp_sites", site_id=site)
        return _ok(any(rule in r[0] and r[1] == column and f'"site_id": "{site}"' in r[3] for r in records), records)

    def absent(s: Scenario) -> tuple[bool, str]:
        site, good = s.notes[site_key]
        staged = s.wh(f"select {column}::text from staging.stg_erp__sites where site_id = %s", (site,))
        marts = s.wh(f"select {column}::text from marts.dim_site where site_id = %s", (site,))
        return _ok(staged == [(good,)] and marts == [(good,)], (staged, marts, good))

    def fix(s: Scenario) -> None:
        site, good = s.notes[site_key]
        s.erp(f"update erp.sites set {column} = %s, site_name = site_name || ' (verified)', updated_at = %s"
              " where site_id = %s", (good, stamp(DAY3), site))

    def recovered(s: Scenario) -> tuple[bool, str]:
        site, _ = s.notes[site_key]
        name_now = s.wh("select site_name from marts.dim_site where site_id = %s", (site,))
        return _ok(name_now and name_now[0][0].endswith("(verified)"), name_now)

    return Kind(name, "gate", inject, stopped, absent, fix, recovered)


def _material_cost_kind() -> Kind:
    def inject(s: Scenario) -> None:
        material = s.notes["busy"][0]
        s.notes["cost"] = s.erp("select unit_cost_brl::text from erp.materials where material_id = %s", (material,))[0][0]
        s.erp("update erp.materials set unit_cost_brl = -5, updated_at = %s where material_id = %s",
              (stamp(DAY2), material))

    def stopped(s: Scenario) -> tuple[bool, str]:
        records = s.quarantined("raw.erp_materials", material_id=s.notes["busy"][0])
        return _ok(any("unit_cost_brl at least 0" in r[0] and r[2] == "-5.00" for r in records), records)

    def absent(s: Scenario) -> tuple[bool, str]:
        rows = s.wh("select unit_cost_brl::text from marts.dim_item where material_id = %s", (s.notes["busy"][0],))
        return _ok(rows == [(s.notes["cost"],)], rows)

    def fix(s: Scenario) -> None:
        s.erp("update erp.materials set unit_cost_brl = 99.50, updated_at = %s where material_id = %s",
              (stamp(DAY3), s.notes["busy"][0]))

    def recovered(s: Scenario) -> tuple[bool, str]:
        rows = s.wh("select unit_cost_brl::text from marts.dim_item where material_id = %s", (s.notes["busy"][0],))
        return _ok(rows == [("99.50",)], rows)

    return Kind("negative unit cost of a material", "gate", inject, stopped, absent, fix, recovered)


def purchase_order_kind(name: str, po_id: str, column: str, value: Any, rule: str, shown: str) -> Kind:
    def inject(s: Scenario) -> None:
        material, site = s.notes["busy"]
        supplier = s.erp("select supplier_id from erp.suppliers order by 1 limit 1")[0][0]
        values = {"quantity_ordered": 5, "status": "open", column: value}
        s.erp("insert into erp.purchase_orders values (%s, %s, %s, %s, %s, %s, null, %s, null, 10, %s, %s, %s)",
              (po_id, supplier, material, site, DAY2, DAY2 + timedelta(days=10), values["quantity_ordered"],
               values["status"], stamp(DAY2), stamp(DAY2)))

    def stopped(s: Scenario) -> tuple[bool, str]:
        records = s.quarantined("raw.erp_purchase_orders", purchase_order_id=po_id)
        return _ok(any(rule in r[0] and r[2] == shown for r in records), records)

    def absent(s: Scenario) -> tuple[bool, str]:
        rows = s.wh("select 1 from marts.fct_purchase_orders where purchase_order_id = %s", (po_id,))
        return _ok(rows == [], rows)

    def fix(s: Scenario) -> None:
        material, site = s.notes["busy"]
        supplier = s.erp("select supplier_id from erp.suppliers order by 1 limit 1")[0][0]
        s.erp("insert into erp.purchase_orders values (%s, %s, %s, %s, %s, %s, null, 5, null, 10, 'open', %s, %s)",
              (po_id, supplier, material, site, DAY2, DAY2 + timedelta(days=10), stamp(DAY2), stamp(DAY3)))

    def recovered(s: Scenario) -> tuple[bool, str]:
        rows = s.wh("select quantity_ordered::text from marts.fct_purchase_orders where purchase_order_id = %s",
                    (po_id,))
        return _ok(rows == [("5.00",)], rows)

    return Kind(name, "gate", inject, stopped, absent, fix, recovered)


def _huge_receipt_kind() -> Kind:
    """A 1e9 receipt booked on the stock: the receipt and the stock row it explains are quarantined."""

    def inject(s: Scenario) -> None:
        material, site = s.notes["stocked"]
        s.notes["stocked_qty"] = s.erp("select quantity_on_hand::text from erp.stock_on_hand where material_id = %s"
                                       " and site_id = %s", (material, site))[0][0]
        _movement(s, 900010, material, site, "receipt", DAY2, 1_000_000_000)
        s.erp("update erp.stock_on_hand set quantity_on_hand = quantity_on_hand + 1000000000, updated_at = %s"
              " where material_id = %s and site_id = %s", (stamp(DAY2), material, site))

    def stopped(s: Scenario) -> tuple[bool, str]:
        material, site = s.notes["stocked"]
        receipt = s.quarantined("raw.erp_stock_movements", movement_id=900010)
        stock = s.quarantined("raw.erp_stock_on_hand", material_id=material, site_id=site)
        return _ok(any("at most 100000" in r[0] for r in receipt) and any("at most 1000000" in r[0] for r in stock)
                   and any("no movement of the material-site is in quarantine" in r[0] for r in stock),
                   (receipt, stock))

    def absent(s: Scenario) -> tuple[bool, str]:
        material, site = s.notes["stocked"]
        rop = s.wh("select quantity_on_hand::text from marts.fct_reorder_points where material_id = %s"
                   " and site_id = %s", (material, site))
        received = s.one("select max(quantity_received) from marts.fct_stock_daily")
        return _ok(rop == [(s.notes["stocked_qty"],)] and received < 1_000_000, (rop, received))

    def fix(s: Scenario) -> None:
        # the ERP books the receipt it meant: 10 units, on top of today's stock
        material, site = s.notes["stocked"]
        _movement(s, 900010, material, site, "receipt", DAY2, 10, when=stamp(DAY3))
        s.notes["stocked_fixed"] = s.erp(
            "update erp.stock_on_hand set quantity_on_hand = quantity_on_hand + 10, updated_at = %s"
            " where material_id = %s and site_id = %s returning quantity_on_hand", (stamp(DAY3), material, site))[0][0]

    def recovered(s: Scenario) -> tuple[bool, str]:
        material, site = s.notes["stocked"]
        rop = s.wh("select quantity_on_hand from marts.fct_reorder_points where material_id = %s and site_id = %s",
                   (material, site))
        return _ok(rop == [(s.notes["stocked_fixed"],)], (rop, s.notes["stocked_fixed"]))

    return Kind("receipt of 1e9 booked on the stock", "gate", inject, stopped, absent, fix, recovered)


def _reused_key_kind() -> Kind:
    """A movement id that already passed comes again as another record (new created_at)."""

    def inject(s: Scenario) -> None:
        movement_id, material, site, day, quantity = s.erp(
            "select movement_id, material_id, site_id, movement_date, quantity::text from erp.stock_movements"
            " where movement_type = 'consumption' and updated_at < %s order by movement_id desc limit 1",
            (midnight_after(DAY1),))[0]
        s.notes["reused"] = (movement_id, quantity)
        s.erp("update erp.stock_movements set created_at = %s, updated_at = %s, quantity = 7 where movement_id = %s",
              (stamp(DAY2), stamp(DAY2), movement_id))

    def stopped(s: Scenario) -> tuple[bool, str]:
        records = s.quarantined("raw.erp_stock_movements", movement_id=s.notes["reused"][0])
        return _ok(any("key was reused" in r[0] and r[1] == "created_at" for r in records), records)

    def absent(s: Scenario) -> tuple[bool, str]:
        movement_id, quantity = s.notes["reused"]
        rows = s.wh("select quantity::text from staging.stg_erp__stock_movements where movement_id = %s", (movement_id,))
        return _ok(rows == [(quantity,)], rows)

    def fix(s: Scenario) -> None:
        # the ERP gives the new record its own id and restores the old one
        movement_id, _ = s.notes["reused"]
        original = s.erp("select created_at from erp.stock_movements where movement_id = %s", (movement_id,))
        assert original  # load_erp(DAY3) restored the simulated row

    def recovered(s: Scenario) -> tuple[bool, str]:
        movement_id, quantity = s.notes["reused"]
        rows = s.wh("select quantity::text from staging.stg_erp__stock_movements where movement_id = %s", (movement_id,))
        return _ok(rows == [(quantity,)], rows)

    return Kind("business key reused for another record", "gate", inject, stopped, absent, fix, recovered)


# -- change capture ---------------------------------------------------------------------------


def _late_commit_kind() -> Kind:
    """Stamped just before day 2's end but committed after day 2's extract (injected after day 2 ran)."""

    def inject(s: Scenario) -> None:
        s.notes["late_pending"] = True

    def stopped(s: Scenario) -> tuple[bool, str]:
        return _ok(True, "not bad data: nothing to stop")

    def absent(s: Scenario) -> tuple[bool, str]:
        return _ok(True, "committed after day 2's extract")

    def fix(s: Scenario) -> None:
        pass  # see late_commit() below: injected between day 2 and day 3

    def recovered(s: Scenario) -> tuple[bool, str]:
        rows = s.wh("select quantity::text from staging.stg_erp__stock_movements where movement_id = 900020")
        consumed = s.wh("select quantity_consumed::text from marts.fct_demand_daily where material_id = %s"
                        " and site_id = %s and demand_date = %s", (*s.notes["quiet"], DAY2))
        return _ok(rows == [("6.00",)] and consumed and Decimal(consumed[0][0]) >= 6, (rows, consumed))

    return Kind("late commit stamped before the interval end", "cdc", inject, stopped, absent, fix, recovered)


def late_commit(s: Scenario) -> None:
    material, site = s.notes["quiet"]
    end = midnight_after(DAY2)
    _movement(s, 900020, material, site, "consumption", DAY2, 6, when=end - timedelta(seconds=1))
    s.erp("update erp.stock_on_hand set quantity_on_hand = quantity_on_hand - 6 where material_id = %s"
          " and site_id = %s", (material, site))


def _backdated_edit_kind() -> Kind:
    """A day-1 movement corrected without touching updated_at (older than the 24 h lookback)."""

    def inject(s: Scenario) -> None:
        movement_id, quantity = s.erp(
            "select movement_id, quantity from erp.stock_movements where movement_type = 'consumption'"
            " and updated_at < %s order by movement_id limit 1", (midnight_after(DAY1) - timedelta(days=3),))[0]
        s.notes["backdated"] = (movement_id, quantity + 1)
        s.erp("update erp.stock_movements set quantity = quantity + 1 where movement_id = %s", (movement_id,))

    def stopped(s: Scenario) -> tuple[bool, str]:
        movement_id, quantity = s.notes["backdated"]
        change = s.wh("select _change from raw.erp_stock_movements where movement_id = %s order by _row_id desc"
                      " limit 1", (movement_id,))
        return _ok(change == [("repair",)], change)

    def absent(s: Scenario) -> tuple[bool, str]:
        movement_id, quantity = s.notes["backdated"]
        rows = s.wh("select quantity from staging.stg_erp__stock_movements where movement_id = %s", (movement_id,))
        return _ok(rows == [(quantity,)], (rows, quantity))  # the correction is delivered, not lost

    def recovered(s: Scenario) -> tuple[bool, str]:
        # the simulated ERP reverts the edit the next day (keeping its old updated_at again): found again
        movement_id, _ = s.notes["backdated"]
        erp_now = s.erp("select quantity from erp.stock_movements where movement_id = %s", (movement_id,))
        rows = s.wh("select quantity from staging.stg_erp__stock_movements where movement_id = %s", (movement_id,))
        return _ok(rows == erp_now, (rows, erp_now))

    return Kind("edit that keeps an old updated_at", "cdc", inject, stopped, absent, lambda s: None, recovered)


def _deleted_duplicate_stock_kind() -> Kind:
    """Day 1: a duplicate stock row (999,999 on hand) passes; day 2: the ERP deletes it."""

    def before_day1(s: Scenario) -> None:
        material, site = s.erp(
            "select m.material_id, st.site_id from erp.materials as m cross join erp.sites as st"
            " where m.is_active and st.is_active and not exists (select 1 from erp.stock_on_hand as h"
            " where h.material_id = m.material_id and h.site_id = st.site_id) order by 1, 2 limit 1")[0]
        s.notes["duplicate_stock"] = (material, site)
        s.erp("insert into erp.stock_on_hand values (%s, %s, 999999, %s)", (material, site, stamp(DAY1)))

    def inject(s: Scenario) -> None:
        s.erp("delete from erp.stock_on_hand where material_id = %s and site_id = %s", s.notes["duplicate_stock"])

    def stopped(s: Scenario) -> tuple[bool, str]:
        tombstone = s.wh("select _change from raw.erp_stock_on_hand where material_id = %s and site_id = %s"
                         " order by _row_id desc limit 1", s.notes["duplicate_stock"])
        return _ok(tombstone == [("delete",)], tombstone)

    def absent(s: Scenario) -> tuple[bool, str]:
        rows = s.wh("select quantity_on_hand from marts.fct_reorder_points where material_id = %s and site_id = %s",
                    s.notes["duplicate_stock"])
        staged = s.wh("select 1 from staging.stg_erp__stock_positions where material_id = %s and site_id = %s",
                      s.notes["duplicate_stock"])
        return _ok(rows == [] and staged == [], (rows, staged))

    def was_there(s: Scenario) -> tuple[bool, str]:
        return absent(s)

    return Kind("deleted duplicate stock row (999,999 on hand)", "cdc", inject, stopped, absent, lambda s: None,
                was_there, before_day1=before_day1)


# -- structural ERP problems ------------------------------------------------------------------


def _dropped_column_kind() -> Kind:
    def inject(s: Scenario) -> None:
        s.notes["suppliers"] = s.wh("select supplier_id, supplier_name from marts.dim_supplier order by 1")
        s.erp("alter table erp.suppliers drop column state")
        s.erp("update erp.suppliers set supplier_name = supplier_name || ' S.A.', updated_at = %s", (stamp(DAY2),))

    def stopped(s: Scenario) -> tuple[bool, str]:
        batch = s.batch("erp.suppliers", DAY2)
        return _ok(batch and batch[0] == "rejected" and "erp.suppliers.state was dropped from the source" in batch[1],
                   batch)

    def absent(s: Scenario) -> tuple[bool, str]:
        names = s.wh("select supplier_id, supplier_name from marts.dim_supplier order by 1")
        others = s.batch("erp.stock_movements", DAY2)
        # held back: the marts keep day 1's suppliers; the other tables went on
        return _ok(names == s.notes["suppliers"] and others[0] == "passed", (names, others))

    def fix_first(s: Scenario) -> None:
        s.erp("alter table erp.suppliers add column state text")

    def recovered(s: Scenario) -> tuple[bool, str]:
        erp_now = s.erp("select supplier_id, supplier_name, state from erp.suppliers order by 1")
        marts = s.wh("select supplier_id, supplier_name, state from marts.dim_supplier order by 1")
        return _ok(marts == erp_now and s.batch("erp.suppliers", DAY3)[0] == "passed", (marts, erp_now))

    return Kind("contract column dropped at the source", "extract", inject, stopped, absent, lambda s: None,
                recovered, fix_first=fix_first)


def _retyped_column_kind() -> Kind:
    def inject(s: Scenario) -> None:
        s.erp("alter table erp.material_families alter column family_name type varchar(80)")
        s.erp("update erp.material_families set family_name = upper(family_name), updated_at = %s", (stamp(DAY2),))

    def stopped(s: Scenario) -> tuple[bool, str]:
        batch = s.batch("erp.material_families", DAY2)
        return _ok(batch and batch[0] == "rejected" and "erp.material_families.family_name changed type: the contract"
                   " says text, the source now has character varying(80)" in batch[1], batch)

    def absent(s: Scenario) -> tuple[bool, str]:
        upper = s.wh("select count(*) from marts.dim_item where family_name = upper(family_name)")
        return _ok(upper == [(0,)], upper)

    def fix_first(s: Scenario) -> None:
        s.erp("alter table erp.material_families alter column family_name type text")

    def recovered(s: Scenario) -> tuple[bool, str]:
        erp_now = s.erp("select family_id, family_name from erp.material_families order by 1")
        marts = s.wh("select distinct family_id, family_name from marts.dim_item order by 1")
        return _ok(set(marts) <= set(erp_now) and s.batch("erp.material_families", DAY3)[0] == "passed",
                   (marts, erp_now))

    return Kind("contract column retyped at the source", "extract", inject, stopped, absent, lambda s: None,
                recovered, fix_first=fix_first)


def _extra_column_kind() -> Kind:
    def inject(s: Scenario) -> None:
        s.erp("alter table erp.sites add column tower_height_m numeric")
        s.erp("update erp.sites set tower_height_m = 42, updated_at = %s where site_id = %s",
              (stamp(DAY2), s.notes["busy"][1]))

    def stopped(s: Scenario) -> tuple[bool, str]:
        rows = s.wh("select tower_height_m from raw.erp_sites where tower_height_m is not null")
        return _ok(rows == [("42",)] and s.batch("erp.sites", DAY2)[0] == "passed", rows)

    def fix(s: Scenario) -> None:
        s.erp("alter table erp.sites drop column tower_height_m")

    def recovered(s: Scenario) -> tuple[bool, str]:
        batch = s.batch("erp.sites", DAY3)
        return _ok(batch[0] == "passed", batch)

    return Kind("extra column added, then removed", "cdc", inject, stopped, lambda s: _ok(True), fix, recovered)


def _enum_column_kind() -> Kind:
    def inject(s: Scenario) -> None:
        s.erp("create type erp.criticality as enum ('low', 'high')")
        s.erp("alter table erp.materials add column criticality erp.criticality")
        s.erp("update erp.materials set criticality = 'high', updated_at = %s where material_id = %s",
              (stamp(DAY2), s.notes["quiet"][0]))

    def stopped(s: Scenario) -> tuple[bool, str]:
        rows = s.wh("select criticality, pg_typeof(criticality)::text from raw.erp_materials"
                    " where criticality is not null")
        return _ok(rows == [("high", "text")] and s.batch("erp.materials", DAY2)[0] == "passed", rows)

    def recovered(s: Scenario) -> tuple[bool, str]:
        return _ok(s.batch("erp.materials", DAY3)[0] == "passed", s.batch("erp.materials", DAY3))

    return Kind("new column of a user-defined enum type", "cdc", inject, stopped, lambda s: _ok(True),
                lambda s: None, recovered)


# -- feeds -------------------------------------------------------------------------------------


def feed_file_kind(name: str, stage: str, feed: str, file_name: str, text: bytes | str, fixed: str,
                   expect: Callable[[Scenario, str], tuple[bool, str]],
                   absent_sql: str, recovered_sql: str, recovered_value: Any) -> Kind:
    source = f"file:{feed}/{file_name}"

    def inject(s: Scenario) -> None:
        path = s.landing / feed / file_name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text if isinstance(text, bytes) else text.encode())

    def stopped(s: Scenario) -> tuple[bool, str]:
        return expect(s, source)

    def absent(s: Scenario) -> tuple[bool, str]:
        rows = s.wh(absent_sql)
        return _ok(rows == [(0,)], rows)

    def fix(s: Scenario) -> None:
        (s.landing / feed / file_name).write_text(fixed)

    def recovered(s: Scenario) -> tuple[bool, str]:
        rows = s.wh(recovered_sql)
        return _ok(rows == recovered_value, rows)

    return Kind(name, stage, inject, stopped, absent, fix, recovered)


def _file_rule(rule: str, column: str, value: str, where: str = "") -> Callable[[Scenario, str], tuple[bool, str]]:
    def expect(s: Scenario, source: str) -> tuple[bool, str]:
        records = s.file_quarantine(source)
        hit = [r for r in records if rule in r[0] and r[1] == column and r[2] == value and where in r[3]]
        return _ok(hit, records)
    return expect


def _file_held_back(reason: str) -> Callable[[Scenario, str], tuple[bool, str]]:
    def expect(s: Scenario, source: str) -> tuple[bool, str]:
        rows = s.wh("select status, failure_reason from audit.load_batches where source = %s"
                    " order by loaded_at desc limit 1", (source,))
        return _ok(rows and rows[0][0] == "rejected" and reason in rows[0][1], rows)
    return expect


def _weather(city: str, *lines: str) -> str:
    return WEATHER_HEADER + "".join(f"{city},{line}\n" for line in lines)


def _kinds() -> list[Kind]:
    day = DAY2.isoformat()
    month = DAY2.replace(day=1)
    previous_month = (month - timedelta(days=1)).replace(day=1)
    kinds = [
        movement_kind("negative consumption", 900001, "quantity > 0 except for adjustments", "-40.00", quantity=-40),
        movement_kind("NULL quantity", 900002, "quantity is not null", "NULL", quantity=None),
        movement_kind("movement dated after the interval end", 900003, "movement_date before the batch's interval end",
                      (DAY2 + timedelta(days=5)).isoformat(), day=DAY2 + timedelta(days=5)),
        movement_kind("unknown material code", 900004, "material_id known to the warehouse", "MAT-99999",
                      material="MAT-99999"),
        movement_kind("unknown movement type", 900005, "movement_type in (", "theft", kind="theft"),
        movement_kind("consumption of 1e9", 900006, "quantity at least -100000 and at most 100000",
                      "1000000000.00", quantity=1_000_000_000, absent_extra=_no_huge_demand),
        movement_kind("consumption far above the material's history", 900007,
                      "quantity at most max(", "IMPLAUSIBLE", quantity="IMPLAUSIBLE"),
        movement_kind("movement dated 1990", 900008, "movement_date on or after 2000-01-01", "1990-03-01",
                      day=date(1990, 3, 1), absent_extra=_no_ancient_days),
        _reused_key_kind(),
        _huge_receipt_kind(),
        site_update_kind("unknown SLA tier", "sla_tier", "platinum", "sla_tier in ("),
        site_update_kind("latitude out of range", "latitude", 123.5, "latitude at least -90 and at most 90"),
        _material_cost_kind(),
        purchase_order_kind("purchase order of 0 units", "PO-900001", "quantity_ordered", 0,
                            "quantity_ordered above 0", "0.00"),
        purchase_order_kind("unknown purchase order status", "PO-900002", "status", "lost", "status in (", "lost"),
        _late_commit_kind(),
        _backdated_edit_kind(),
        _deleted_duplicate_stock_kind(),
        _dropped_column_kind(),
        _retyped_column_kind(),
        _extra_column_kind(),
        _enum_column_kind(),
        feed_file_kind("negative rain", "gate", "weather", "rain_fix.csv",
                       _weather("Cidade Teste 1", f"{day},-5,30,22"), _weather("Cidade Teste 1", f"{day},5,30,22"),
                       _file_rule("precipitation_mm at least 0", "precipitation_mm", "-5"),
                       "select count(*) from staging.stg_feeds__weather_observations where precipitation_mm < 0",
                       "select precipitation_mm::text from staging.stg_feeds__weather_observations"
                       f" where city = 'Cidade Teste 1' and weather_date = '{day}'", [("5.00",)]),
        feed_file_kind("temperature of 1e400", "loader", "weather", "heat_fix.csv",
                       _weather("Cidade Teste 2", f"{day},1,1e400,22"), _weather("Cidade Teste 2", f"{day},1,31,22"),
                       _file_rule("cells parse", "temperature_max_c", "1e400", "magnitude out of range"),
                       "select count(*) from staging.stg_feeds__weather_observations where temperature_max_c > 60",
                       "select temperature_max_c::text from staging.stg_feeds__weather_observations"
                       f" where city = 'Cidade Teste 2' and weather_date = '{day}'", [("31.00",)]),
        feed_file_kind("decimal comma", "loader", "weather", "comma_fix.csv",
                       _weather("Cidade Teste 3", f'{day},"4,2",30,20'), _weather("Cidade Teste 3", f"{day},4.2,30,20"),
                       _file_rule("cells parse", "precipitation_mm", "4,2", "row 1 (line 2)"),
                       "select count(*) from staging.stg_feeds__weather_observations where precipitation_mm = 42",
                       "select precipitation_mm::text from staging.stg_feeds__weather_observations"
                       f" where city = 'Cidade Teste 3' and weather_date = '{day}'", [("4.20",)]),
        feed_file_kind("duplicate key in a file", "gate", "weather", "twice_fix.csv",
                       _weather("Cidade Teste 4", f"{day},1,30,20", f"{day},9,33,21"),
                       _weather("Cidade Teste 4", f"{day},1,30,20"),
                       _file_rule("unique within the batch", "city, weather_date", f"Cidade Teste 4, {day}"),
                       "select count(*) from staging.stg_feeds__weather_observations where city = 'Cidade Teste 4'",
                       "select precipitation_mm::text from staging.stg_feeds__weather_observations"
                       f" where city = 'Cidade Teste 4' and weather_date = '{day}'", [("1.00",)]),
        feed_file_kind("feed file missing a column", "extract", "economic", "bcb_fix.csv",
                       "indicator_date,usd_brl\n2024-12-31,5.1\n",
                       "indicator_date,usd_brl,selic_rate_pct,ipca_index\n2024-12-31,5.1,10.5,7000\n",
                       _file_held_back("schema drift: missing columns selic_rate_pct, ipca_index"),
                       "select count(*) from staging.stg_feeds__economic_indicators where indicator_date = '2024-12-31'",
                       "select usd_brl = 5.1 from staging.stg_feeds__economic_indicators"
                       " where indicator_date = '2024-12-31'", [(True,)]),
        feed_file_kind("feed file that is not UTF-8", "extract", "weather", "latin1_fix.csv",
                       WEATHER_HEADER.encode() + "Cidade Teste Ç,".encode("latin-1") + f"{day},2,30,20\n".encode(),
                       _weather("Cidade Teste Ç", f"{day},2,30,20"),
                       _file_held_back("not UTF-8 text"),
                       "select count(*) from staging.stg_feeds__weather_observations where city like 'Cidade Teste _'"
                       " and source_file = 'latin1_fix.csv'",
                       "select precipitation_mm::text from staging.stg_feeds__weather_observations"
                       f" where city = 'Cidade Teste Ç' and weather_date = '{day}'", [("2.00",)]),
        feed_file_kind("5G stations decreasing", "gate", "anatel_5g", "anatel_fix.csv",
                       ANATEL_HEADER + f"Cidade Teste 5G,{previous_month},Claro,10,1.0\n"
                       f"Cidade Teste 5G,{month},Claro,0,1.0\n",
                       ANATEL_HEADER + f"Cidade Teste 5G,{previous_month},Claro,10,1.0\n"
                       f"Cidade Teste 5G,{month},Claro,12,2.0\n",
                       _file_rule("does not decrease", "stations_5g", "0"),
                       "select count(*) from staging.stg_feeds__anatel_5g_rollouts where city = 'Cidade Teste 5G'"
                       " and stations_5g = 0",
                       "select stations_5g from staging.stg_feeds__anatel_5g_rollouts where city = 'Cidade Teste 5G'"
                       f" and month_start_date = '{month}'", [(12,)]),
        feed_file_kind("feed file with most rows unparsable", "loader", "weather", "bulk_fix.csv",
                       WEATHER_HEADER + "".join(f"Bulk City,2025-01-{d:02d},{'x' if d <= 8 else 1},30,20\n"
                                                for d in range(1, 11)),
                       WEATHER_HEADER + "".join(f"Bulk City,2025-01-{d:02d},1,30,20\n" for d in range(1, 11)),
                       _file_held_back("8 of 10 rows of weather/bulk_fix.csv cannot be parsed, more than 50.0%"),
                       "select count(*) from staging.stg_feeds__weather_observations where city = 'Bulk City'",
                       "select count(*) from staging.stg_feeds__weather_observations where city = 'Bulk City'",
                       [(10,)]),
    ]
    return kinds


KINDS = _kinds()


def _implausible_quantity(s: Scenario) -> str:
    from nova_corrente.contracts.erp import PLAUSIBLE_FLOOR, PLAUSIBLE_MULTIPLE

    largest = s.erp("select max(quantity) from erp.stock_movements where movement_type = 'consumption'"
                    " and material_id = %s and updated_at < %s", (s.notes["busy"][0], midnight_after(DAY1)))[0][0]
    return str(max(PLAUSIBLE_FLOOR, PLAUSIBLE_MULTIPLE * largest) + 1)


def _sloppy_erp(s: Scenario) -> None:
    """The ERP lacks some of its own checks (as a real one may): the gate must not rely on them."""
    s.erp("""
        alter table erp.stock_movements alter column quantity drop not null;
        alter table erp.stock_movements drop constraint if exists stock_movements_movement_type_check;
        alter table erp.stock_movements drop constraint if exists stock_movements_material_id_fkey;
        alter table erp.sites drop constraint if exists sites_sla_tier_check;
        alter table erp.materials drop constraint if exists materials_unit_cost_brl_check;
        alter table erp.purchase_orders drop constraint if exists purchase_orders_quantity_ordered_check;
        alter table erp.purchase_orders drop constraint if exists purchase_orders_status_check;
    """)


@pytest.fixture(scope="module")
def scenario(pg_module, tmp_path_factory) -> Scenario:
    landing = tmp_path_factory.mktemp("landing")
    saved = os.environ.get("NOVA_QUARANTINE_MAX_BAD_SHARE")
    os.environ["NOVA_QUARANTINE_MAX_BAD_SHARE"] = "0.5"
    s = Scenario(pg_module, landing, tmp_path_factory.mktemp("dbt_target"))
    try:
        data = simulate(CONFIG)
        load_erp(pg_module, data, until=midnight_after(DAY1))
        write_feed_files(data, landing, until=midnight_after(DAY1))
        _sloppy_erp(s)
        s.notes["busy"] = tuple(s.erp(
            "select material_id, site_id from erp.stock_movements where movement_type = 'consumption'"
            " group by 1, 2 order by count(*) desc, 1, 2 limit 1")[0])
        s.notes["quiet"] = tuple(s.erp(
            "select h.material_id, h.site_id from erp.stock_on_hand as h join erp.materials as m using (material_id)"
            " join erp.sites as st using (site_id) where m.is_active and st.is_active and h.quantity_on_hand > 20"
            " order by 1 desc, 2 desc limit 1")[0])
        s.notes["stocked"] = tuple(s.erp(
            "select h.material_id, h.site_id from erp.stock_on_hand as h join erp.materials as m using (material_id)"
            " join erp.sites as st using (site_id) where m.is_active and st.is_active order by 2, 1 limit 1")[0])
        for kind in KINDS:
            if kind.before_day1:
                kind.before_day1(s)
        run_day(s, DAY1, "day1")

        # day 2: the ERP's normal day, then every bad kind
        load_erp(pg_module, data, until=midnight_after(DAY2))
        write_feed_files(data, landing, until=midnight_after(DAY2))
        # the simulated ERP's good movements of the day, before anything bad is added
        s.notes["day2_good_movements"] = s.erp(
            "select movement_id, quantity::text from erp.stock_movements where updated_at >= %s and updated_at < %s"
            " order by 1", (midnight_after(DAY1), midnight_after(DAY2)))
        s.notes["IMPLAUSIBLE"] = _implausible_quantity(s)
        for kind in KINDS:
            if kind.name == "consumption far above the material's history":
                kind.inject = _implausible_injector(s.notes["IMPLAUSIBLE"])
                kind.stopped = _movement_quarantined(900007, "quantity at most max(",
                                                     f"{Decimal(s.notes['IMPLAUSIBLE']):.2f}")
            kind.inject(s)
        run_day(s, DAY2, "day2")
        s.notes["day2_staged"] = s.wh(
            "select movement_id, quantity::text from staging.stg_erp__stock_movements where movement_id = any(%s)"
            " order by 1", ([movement_id for movement_id, _ in s.notes["day2_good_movements"]],))
        s.notes["day2_weather"] = s.one(
            "select count(*) from staging.stg_feeds__weather_observations where weather_date = %s"
            " and city not like 'Cidade Teste%%'", (DAY2,))
        s.notes["day2_last_demand_date"] = s.one("select max(demand_date) from marts.fct_demand_daily")
        for kind in KINDS:
            s.results[kind.name] = {"stopped": _safe(kind.stopped, s), "absent": _safe(kind.absent, s)}

        # day 3: the source fixes everything (the simulated ERP also reverts every injected change:
        # extra rows are deleted, edited rows get their simulated values back)
        for kind in KINDS:
            if kind.fix_first:
                kind.fix_first(s)
        load_erp(pg_module, data, until=midnight_after(DAY3))
        write_feed_files(data, landing, until=midnight_after(DAY3))
        late_commit(s)  # committed after day 2's extract, stamped a second before day 2's end
        for kind in KINDS:
            kind.fix(s)
        run_day(s, DAY3, "day3")
        for kind in KINDS:
            s.results[kind.name]["recovered"] = _safe(kind.recovered, s)
        yield s
    finally:
        if saved is None:
            os.environ.pop("NOVA_QUARANTINE_MAX_BAD_SHARE", None)
        else:
            os.environ["NOVA_QUARANTINE_MAX_BAD_SHARE"] = saved


def _implausible_injector(quantity: str) -> Callable[[Scenario], None]:
    def inject(s: Scenario) -> None:
        material, site = s.notes["busy"]
        _movement(s, 900007, material, site, "consumption", DAY2, quantity)
    return inject


def _safe(check: Check, s: Scenario) -> tuple[bool, str]:
    try:
        return check(s)
    except Exception as exc:  # a check that cannot run is a failed check, with its reason
        return False, f"{type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------------------------
# the tests
# --------------------------------------------------------------------------------------------


def test_the_catalogue_has_at_least_25_kinds_across_every_stage():
    assert len(KINDS) >= 25
    assert {kind.stage for kind in KINDS} == {"extract", "loader", "gate", "cdc"}
    assert len({kind.name for kind in KINDS}) == len(KINDS)


def test_every_day_runs_through_and_dbt_builds(scenario):
    for label in ("day1", "day2", "day3"):
        day = scenario.days[label]
        assert day["dbt_code"] == 0, f"{label}: {day['dbt_output']}"
    assert isinstance(scenario.days["day1"]["audit"], dict), scenario.days["day1"]["audit"]


@pytest.mark.parametrize("kind", KINDS, ids=[kind.name for kind in KINDS])
def test_bad_input_is_stopped_where_it_should_be_with_a_message(scenario, kind):
    ok, detail = scenario.results[kind.name]["stopped"]
    assert ok, f"{kind.name} ({kind.stage}): {detail}"


@pytest.mark.parametrize("kind", KINDS, ids=[kind.name for kind in KINDS])
def test_no_bad_value_reaches_staging_or_the_marts(scenario, kind):
    ok, detail = scenario.results[kind.name]["absent"]
    assert ok, f"{kind.name}: {detail}"


@pytest.mark.parametrize("kind", KINDS, ids=[kind.name for kind in KINDS])
def test_the_fix_flows_in_the_next_day(scenario, kind):
    ok, detail = scenario.results[kind.name]["recovered"]
    assert ok, f"{kind.name}: {detail}"


def test_the_days_good_data_is_delivered_despite_the_bad(scenario):
    good = scenario.notes["day2_good_movements"]
    assert good, "the simulated day 2 has movements"
    # right after day 2's run, staging (what the marts are built from) had every good movement of the day
    assert scenario.notes["day2_staged"] == good
    day2 = scenario.days["day2"]["gated"]
    movement_batch = next(batch for batch in day2["batches"] if batch["source"] == "erp.stock_movements")
    assert movement_batch["status"] == "passed" and movement_batch["quarantined_rows"] >= 8
    # a good feed file of the same run passed: the day's weather reached staging
    assert scenario.notes["day2_weather"] >= 1  # the simulated weather of the day, from the same run
    assert scenario.notes["day2_last_demand_date"] == DAY2  # the day reached the demand mart


def test_day_2_audit_fails_the_run_naming_the_held_back_batches_and_day_3_reconciles(scenario):
    day2 = scenario.days["day2"]["audit"]
    assert isinstance(day2, str), "day 2 held batches back: the run's audit must fail"
    assert "erp.suppliers|" in day2 and "erp.material_families|" in day2 and "bcb_fix.csv" in day2
    day3 = scenario.days["day3"]["audit"]
    assert isinstance(day3, dict) and day3["success"], day3
    statuses = {(check["table_name"], check["check_name"]): check["status"] for check in day3["checks"]}
    assert statuses[("erp.stock_movements", "sum(quantity)")] in ("ok", "explained")
    assert statuses[("erp.stock_on_hand", "marts.fct_reorder_points.quantity_on_hand")] in ("ok", "explained")


def test_rerunning_an_old_day_with_a_back_dated_bad_row_withdraws_nothing(scenario):
    s = scenario
    material, site = s.notes["busy"]
    before = s.wh("select movement_id, quantity from staging.stg_erp__stock_movements order by 1")
    # after day 3 passed, a bad row back-dated into day 2's window appears; an operator re-runs day 2
    _movement(s, 900099, material, site, "consumption", DAY2, -3, when=stamp(DAY2, 20))

    outcome = run_day(s, DAY2, "day2_rerun")

    assert outcome["dbt_code"] == 0, outcome["dbt_output"]
    assert s.quarantined("raw.erp_stock_movements", movement_id=900099)
    assert s.wh("select movement_id, quantity from staging.stg_erp__stock_movements order by 1") == before
    passed_before = s.wh("select count(*) from audit.load_batches where interval_end = %s and status = 'passed'"
                         " and attempt = 1", (midnight_after(DAY2),))
    assert passed_before[0][0] >= 8  # day 2's original batches are still passed, untouched
