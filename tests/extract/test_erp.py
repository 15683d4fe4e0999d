"""load_interval against a real ERP database and warehouse (hand-written rows, see conftest)."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time

import psycopg2
import pytest
from extract_testdata import DAY1, DAY1_COUNTS, DAY2, DAY3, DAY4

from nova_corrente.extract import (
    ERP_TABLES,
    ExtractError,
    batches_for_interval,
    load_interval,
    set_batch_status,
)
from nova_corrente.extract.erp import plan_table
from nova_corrente.postgres_server import DatabaseUnavailable


def pass_batches(pg, interval_end, status="passed", reason=None):
    with psycopg2.connect(pg.dsn(pg.warehouse_db)) as conn:
        set_batch_status(conn, batches_for_interval(pg, interval_end), status, reason)
    conn.close()


def test_first_load_takes_every_row_before_the_interval_end(pg, erp, warehouse):
    results = load_interval(pg, DAY1, DAY2)

    assert [result.source for result in results] == [f"erp.{table}" for table in ERP_TABLES]
    assert {result.source.removeprefix("erp."): result.row_count for result in results} == DAY1_COUNTS
    movements = next(result for result in results if result.source == "erp.stock_movements")
    assert movements.batch_id == "erp.stock_movements|2024-01-02T00:00:00+00:00"
    assert (movements.watermark_from, movements.watermark_to) == (None, DAY2)
    assert movements.rows_by_change == {"window": 3}
    # movement 4 was updated after the interval end
    assert warehouse.rows("select movement_id from raw.erp_stock_movements order by 1") == [(1,), (2,), (3,)]
    # the contract's columns with the contract's (= the source's) exact types, plus the metadata columns
    type_query = (
        "select attname, format_type(atttypid, atttypmod) from pg_attribute"
        " where attrelid = %s::regclass and attnum > 0 and not attisdropped order by attnum"
    )
    assert warehouse.rows(type_query, ("raw.erp_sites",)) == erp.rows(type_query, ("erp.sites",)) + [
        ("_batch_id", "text"), ("_source", "text"), ("_loaded_at", "timestamp with time zone"),
        ("_row_id", "bigint"), ("_row_hash", "text"), ("_change", "text")]
    assert warehouse.rows("select distinct _source, _batch_id, _change from raw.erp_sites") == [
        ("erp.sites", "erp.sites|2024-01-02T00:00:00+00:00", "window")]
    # values survive the COPY round trip unchanged, and the row hash is the source's
    assert warehouse.rows("select * from raw.erp_sites order by site_id")[0][:10] == erp.rows(
        "select * from erp.sites order by site_id")[0]
    assert warehouse.rows("select site_id, _row_hash from raw.erp_sites order by 1") == erp.rows(
        "select site_id, md5(row(s.*)::text) from erp.sites as s order by 1")
    audit = warehouse.rows(
        "select source, watermark_from::text, watermark_to, row_count, status from audit.load_batches"
        " where source = 'erp.materials'")
    assert audit == [("erp.materials", "-infinity", DAY2, 3, "loaded")]
    assert batches_for_interval(pg, DAY2) == sorted(result.batch_id for result in results)


def test_next_interval_takes_changed_rows_once_despite_the_lookback(pg, erp, warehouse):
    load_interval(pg, DAY1, DAY2)
    pass_batches(pg, DAY2)
    erp.execute("update erp.materials set unit_cost_brl = 1300.00, updated_at = '2024-01-02 09:00+00'"
                " where material_id = 'MAT-00001'")
    erp.execute("insert into erp.stock_movements values (5, 'MAT-00001', 'SITE-0001', 'receipt', '2024-01-02', 4,"
                " 'PO-000001', '2024-01-02 10:00+00', '2024-01-02 10:00+00')")
    erp.execute("insert into erp.stock_movements values (6, 'MAT-00001', 'SITE-0001', 'consumption', '2024-01-03', 1,"
                " null, '2024-01-03 10:00+00', '2024-01-03 10:00+00')")  # next day: not yet

    results = {result.source: result for result in load_interval(pg, DAY2, DAY3)}

    # the 24 h lookback re-reads day 1's rows, but only rows that differ from the current version load
    assert {source: result.row_count for source, result in results.items() if result.row_count} == {
        "erp.materials": 1, "erp.stock_movements": 2}
    assert results["erp.materials"].watermark_from == DAY1  # DAY2 minus the lookback
    day2_movements = warehouse.rows(
        "select movement_id from raw.erp_stock_movements where _batch_id = %s order by 1",
        (results["erp.stock_movements"].batch_id,))
    assert day2_movements == [(4,), (5,)]
    # raw is append-only per batch: both versions of MAT-00001 are kept
    assert warehouse.rows("select unit_cost_brl::text from raw.erp_materials where material_id = 'MAT-00001'"
                          " order by _row_id") == [("1250.50",), ("1300.00",)]


def test_a_late_commit_stamped_before_the_interval_end_is_captured_next_run(pg, erp, warehouse):
    load_interval(pg, DAY1, DAY2)
    pass_batches(pg, DAY2)
    # committed after the day-1 extract, but stamped 23:59:59 of day 1 (a long ERP transaction)
    erp.execute("insert into erp.stock_movements values (7, 'MAT-00002', 'SITE-0002', 'consumption', '2024-01-01', 2,"
                " null, '2024-01-01 23:59:59+00', '2024-01-01 23:59:59+00')")

    results = {result.source: result for result in load_interval(pg, DAY2, DAY3)}

    assert results["erp.stock_movements"].rows_by_change == {"window": 2}  # movements 4 and 7
    assert warehouse.rows("select movement_id from raw.erp_stock_movements where _batch_id = %s order by 1",
                          (results["erp.stock_movements"].batch_id,)) == [(4,), (7,)]


def test_an_edit_that_keeps_an_old_updated_at_and_a_delete_are_found_by_the_reconciliation(pg, erp, warehouse):
    load_interval(pg, DAY1, DAY2)
    pass_batches(pg, DAY2)
    load_interval(pg, DAY2, DAY3)
    pass_batches(pg, DAY3)
    # day 3: the ERP corrects movement 1 without touching updated_at (older than the lookback) and
    # deletes movement 2 (a duplicate) and a stock row
    erp.execute("update erp.stock_movements set quantity = 3 where movement_id = 1")
    erp.execute("delete from erp.stock_movements where movement_id = 2")
    erp.execute("delete from erp.stock_on_hand where material_id = 'MAT-00002'")

    results = {result.source: result for result in load_interval(pg, DAY3, DAY4)}

    assert results["erp.stock_movements"].rows_by_change == {"repair": 1, "delete": 1}
    assert results["erp.stock_on_hand"].rows_by_change == {"delete": 1}
    rows = warehouse.rows("select movement_id, quantity::text, _change from raw.erp_stock_movements"
                          " where _batch_id = %s order by 1", (results["erp.stock_movements"].batch_id,))
    assert rows == [(1, "3.00", "repair"), (2, None, "delete")]
    # a second run finds nothing new: tombstones and repairs are not repeated
    pass_batches(pg, DAY4)
    again = {result.source: result for result in load_interval(pg, DAY4, DAY4 + (DAY2 - DAY1))}
    assert sum(result.row_count for result in again.values()) == 0


def test_rows_of_a_rejected_batch_come_again(pg, erp, warehouse):
    load_interval(pg, DAY1, DAY2)
    pass_batches(pg, DAY2, "rejected", "held back whole: test")

    day2 = {result.source: result for result in load_interval(pg, DAY2, DAY3)}

    # nothing passed: the window starts at -infinity and every row comes again, plus movement 4
    assert day2["erp.stock_movements"].watermark_from is None
    assert day2["erp.stock_movements"].row_count == 4
    assert day2["erp.materials"].row_count == 3


def test_rerunning_a_passed_interval_adds_a_batch_and_never_removes_passed_rows(pg, erp, warehouse):
    load_interval(pg, DAY1, DAY2)
    pass_batches(pg, DAY2)
    load_interval(pg, DAY2, DAY3)
    pass_batches(pg, DAY3)
    before = warehouse.rows("select _row_id, _batch_id from raw.erp_stock_movements order by 1")
    # a back-dated row appears in day 2's window after day 3 passed
    erp.execute("insert into erp.stock_movements values (8, 'MAT-00001', 'SITE-0002', 'consumption', '2024-01-02', 1,"
                " null, '2024-01-02 15:00+00', '2024-01-02 15:00+00')")

    again = {result.source: result for result in load_interval(pg, DAY2, DAY3)}

    movements = again["erp.stock_movements"]
    assert movements.batch_id == "erp.stock_movements|2024-01-03T00:00:00+00:00#2" and movements.attempt == 2
    assert warehouse.rows("select movement_id from raw.erp_stock_movements where _batch_id = %s",
                          (movements.batch_id,)) == [(8,)]
    after = warehouse.rows("select _row_id, _batch_id from raw.erp_stock_movements order by 1")
    assert after[: len(before)] == before  # every passed row is still there, untouched
    assert warehouse.scalar("select status from audit.load_batches where batch_id ="
                            " 'erp.stock_movements|2024-01-03T00:00:00+00:00'") == "passed"
    # re-running a batch that is not judged yet replaces it (same raw state)
    state = warehouse.raw_state(exclude=("_loaded_at", "_row_id"))
    load_interval(pg, DAY2, DAY3)
    assert warehouse.raw_state(exclude=("_loaded_at", "_row_id")) == state


def test_extra_source_columns_are_kept_as_text_and_may_disappear_again(pg, erp, warehouse, caplog):
    load_interval(pg, DAY1, DAY2)
    pass_batches(pg, DAY2)
    erp.execute("create type erp.criticality as enum ('low', 'high')")
    erp.execute("alter table erp.materials add column criticality erp.criticality")
    erp.execute("update erp.materials set criticality = 'high', updated_at = '2024-01-02 08:00+00'"
                " where material_id = 'MAT-00002'")

    with caplog.at_level(logging.WARNING, logger="nova_corrente.extract.erp"):
        load_interval(pg, DAY2, DAY3, tables=["materials"])

    assert "new source column erp.materials.criticality (not in the contract) kept in raw.erp_materials as text" \
        in caplog.text
    assert warehouse.rows("select material_id, criticality from raw.erp_materials order by _row_id") == [
        ("MAT-00001", None), ("MAT-00002", None), ("MAT-00003", None), ("MAT-00002", "high")]
    pass_batches(pg, DAY3)
    # the column goes away again: the load goes on, the column is null from now on
    erp.execute("alter table erp.materials drop column criticality")
    erp.execute("update erp.materials set unit_cost_brl = 1, updated_at = '2024-01-03 08:00+00'"
                " where material_id = 'MAT-00003'")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="nova_corrente.extract.erp"):
        [result] = load_interval(pg, DAY3, DAY4, tables=["materials"])
    assert result.status == "loaded" and result.row_count == 1
    assert "erp.materials.criticality (not in the contract) is gone from the source" in caplog.text


def test_a_retyped_or_dropped_contract_column_holds_back_that_table_only(pg, erp, warehouse):
    load_interval(pg, DAY1, DAY2)
    pass_batches(pg, DAY2)
    erp.execute("alter table erp.sites alter column latitude type numeric(10, 6)")
    erp.execute("alter table erp.suppliers drop column state")
    erp.execute("update erp.materials set unit_cost_brl = 1, updated_at = '2024-01-02 08:00+00'")

    results = {result.source: result for result in load_interval(pg, DAY2, DAY3)}

    assert results["erp.sites"].status == "rejected"
    assert ("erp.sites.latitude changed type: the contract says numeric(9,6), the source now has numeric(10,6)"
            in results["erp.sites"].failure_reason)
    assert results["erp.suppliers"].status == "rejected"
    assert "erp.suppliers.state was dropped from the source" in results["erp.suppliers"].failure_reason
    assert results["erp.materials"].status == "loaded" and results["erp.materials"].row_count == 3
    assert warehouse.rows("select status, row_count from audit.load_batches where source = 'erp.sites'"
                          " and interval_end = %s", (DAY3,)) == [("rejected", 0)]


def test_failure_while_writing_one_table_rolls_back_every_table(pg, erp, warehouse):
    load_interval(pg, DAY1, DAY2)
    pass_batches(pg, DAY2)
    erp.execute("update erp.materials set updated_at = '2024-01-02 08:00+00'")
    erp.execute("update erp.stock_movements set updated_at = '2024-01-02 08:00+00'")
    # the warehouse refuses movement rows half-way through the call (materials come first)
    warehouse.execute("""
        create function raw.refuse() returns trigger language plpgsql as
        $$ begin raise exception 'disk quota exceeded (simulated)'; end $$;
        create trigger refuse before insert on raw.erp_stock_movements for each row execute function raw.refuse();
    """)
    before = warehouse.raw_state()

    with pytest.raises(ExtractError, match=r"writing raw\.erp_stock_movements failed: disk quota exceeded"):
        load_interval(pg, DAY2, DAY3)

    assert warehouse.raw_state() == before
    assert batches_for_interval(pg, DAY3) == []


def test_failure_while_reading_one_table_rolls_back_every_table(pg, erp, warehouse):
    load_interval(pg, DAY1, DAY2)
    pass_batches(pg, DAY2)
    erp.execute("update erp.materials set updated_at = '2024-01-02 08:00+00'")
    # the source fails in the middle of streaming its last table
    erp.execute("""
        alter table erp.stock_on_hand rename to stock_on_hand_base;
        create view erp.stock_on_hand as
        select material_id, site_id,
               (quantity_on_hand / case when site_id = 'SITE-0002' then 0 else 1 end)::numeric(12, 2)
                   as quantity_on_hand,
               '2024-01-02 09:00+00'::timestamptz as updated_at
          from erp.stock_on_hand_base;
    """)
    before = warehouse.raw_state()

    with pytest.raises(ExtractError, match=r"capturing erp\.stock_on_hand .*reading erp\.stock_on_hand\) failed: "
                                           r"division by zero"):
        load_interval(pg, DAY2, DAY3)

    assert warehouse.raw_state() == before


def test_a_missing_source_table_is_named_and_held_back(pg, erp, warehouse):
    load_interval(pg, DAY1, DAY2)
    erp.execute("drop table erp.stock_on_hand")

    results = {result.source: result for result in load_interval(pg, DAY2, DAY3)}

    assert results["erp.stock_on_hand"].status == "rejected"
    assert "source table erp.stock_on_hand does not exist" in results["erp.stock_on_hand"].failure_reason
    assert results["erp.stock_movements"].status == "loaded"


@pytest.mark.parametrize("role", ["erp", "warehouse"])
def test_database_going_away_mid_load_is_named_and_nothing_loads(pg, erp, warehouse, role):
    load_interval(pg, DAY1, DAY2)
    pass_batches(pg, DAY2)
    erp.execute("update erp.materials set updated_at = '2024-01-02 08:00+00'")
    erp.execute("update erp.stock_on_hand set updated_at = '2024-01-02 09:00+00'")
    erp.execute("""
        create function erp.slowly(value numeric) returns numeric language plpgsql as
        $$ begin perform pg_sleep(0.5); return value; end $$;
        alter table erp.stock_on_hand rename to stock_on_hand_base;
        create view erp.stock_on_hand as
        select material_id, site_id, erp.slowly(quantity_on_hand)::numeric(12, 2) as quantity_on_hand, updated_at
          from erp.stock_on_hand_base;
    """)
    before = warehouse.raw_state()
    killed: list[int] = []

    def kill_the_extract_once_it_streams() -> None:
        deadline = time.monotonic() + 10
        while not killed and time.monotonic() < deadline:
            # once the ERP streams stock_on_hand, kill the role's backend (the warehouse side copies
            # into a temporary table, so the ERP's query says which table is on its way)
            killed.extend(row[0] for row in erp.rows(
                "select pg_terminate_backend(pid) from pg_stat_activity"
                " where datname = %s and application_name = %s and exists ("
                "   select 1 from pg_stat_activity as source where source.datname = %s"
                "   and source.application_name = 'nova_extract_erp' and source.query ilike 'copy%%stock_on_hand%%')",
                (pg.erp_db if role == "erp" else pg.warehouse_db, f"nova_extract_{role}", pg.erp_db)))
            time.sleep(0.05)

    killer = threading.Thread(target=kill_the_extract_once_it_streams)
    killer.start()
    try:
        with pytest.raises(DatabaseUnavailable) as failure:
            load_interval(pg, DAY1, DAY3)
    finally:
        killer.join()

    assert killed
    database = pg.erp_db if role == "erp" else pg.warehouse_db
    assert f"lost the connection to the {role} database '{database}' at {pg.host}:{pg.port}" in str(failure.value)
    assert "erp.stock_on_hand" in str(failure.value)
    assert warehouse.raw_state() == before


@pytest.mark.parametrize("role", ["erp", "warehouse"])
def test_unreachable_database_is_named_with_host_and_port(pg_server, role):
    # the other database is the server's maintenance database, which always exists
    names = {"erp_db": "postgres", "warehouse_db": "postgres", f"{role}_db": "nova_no_such_db"}
    missing = dataclasses.replace(pg_server, **names)
    login = {"erp": "nova_erp_reader", "warehouse": "nova_loader"}[role]
    with pytest.raises(DatabaseUnavailable, match=rf"cannot connect to the {role} database 'nova_no_such_db' "
                                                  rf"at {pg_server.host}:{pg_server.port} as {login}: .*does not exist"):
        load_interval(missing, DAY1, DAY2)


def test_many_rows_stream_through_the_pipe(pg, erp, warehouse):
    """More rows than the pipe and buffers hold, so both COPYs must run concurrently."""
    erp.execute("""
        insert into erp.stock_movements
        select 100 + n, 'MAT-00001', 'SITE-0001', 'consumption', '2024-01-01', n % 7 + 1, null,
               '2024-01-01 00:00+00'::timestamptz + n * interval '1 ms',
               '2024-01-01 00:00+00'::timestamptz + n * interval '1 ms'
          from generate_series(1, 50000) as n
    """)
    [result] = load_interval(pg, DAY1, DAY2, tables=["stock_movements"])
    assert result.row_count == 50003
    expected = erp.rows("select count(*), sum(quantity)::text from erp.stock_movements where updated_at < %s", (DAY2,))
    assert warehouse.rows("select count(*), sum(quantity)::text from raw.erp_stock_movements") == expected


def test_warehouse_failure_during_a_long_stream_is_reported_as_the_write_side(pg, erp, warehouse):
    load_interval(pg, DAY1, DAY2, tables=["stock_movements"])
    before = warehouse.raw_state()
    erp.execute("""
        insert into erp.stock_movements
        select 100 + n, 'MAT-00001', 'SITE-0001', 'consumption', '2024-01-02', 1, null, '2024-01-02 08:00+00',
               '2024-01-02 08:00+00'
          from generate_series(1, 50000) as n
    """)
    warehouse.execute("""
        alter table raw.erp_stock_movements add constraint no_big_ids check (movement_id < 110);
    """)

    with pytest.raises(ExtractError, match=r"writing raw\.erp_stock_movements failed: .*no_big_ids"):
        load_interval(pg, DAY1, DAY3, tables=["stock_movements"])

    assert warehouse.raw_state() == before


def test_invalid_arguments_are_refused(pg_server):
    pg = pg_server  # refused before any connection is opened
    with pytest.raises(ValueError, match="timezone-aware"):
        load_interval(pg, DAY1.replace(tzinfo=None), DAY2)
    with pytest.raises(ValueError, match="empty interval"):
        load_interval(pg, DAY2, DAY1)
    with pytest.raises(ValueError, match="unknown or repeated ERP tables"):
        load_interval(pg, DAY1, DAY2, tables=["invoices"])


def test_set_batch_status_refuses_unknown_batches_and_changes_nothing(pg, erp, warehouse):
    [result] = load_interval(pg, DAY1, DAY2, tables=["sites"])
    with psycopg2.connect(pg.dsn(pg.warehouse_db)) as conn:
        with pytest.raises(KeyError, match=r"erp\.sites\|typo"):
            set_batch_status(conn, [result.batch_id, "erp.sites|typo"], "passed")
        with pytest.raises(ValueError, match="unknown batch status"):
            set_batch_status(conn, [result.batch_id], "approved")  # type: ignore[arg-type]
    conn.close()
    assert warehouse.rows("select status, validated_at from audit.load_batches") == [("loaded", None)]


def test_plan_table_names_dropped_and_retyped_contract_columns():
    from nova_corrente.contracts.erp import TABLES_BY_NAME
    from nova_corrente.extract.erp import SourceColumn

    contract = TABLES_BY_NAME["suppliers"]
    source = [SourceColumn(column.name, column.type, True) for column in contract.columns if column.name != "state"]
    source[1] = SourceColumn("supplier_name", "character varying(80)", True)
    source.append(SourceColumn("rating", "erp.stars", False))
    plan, problems = plan_table(contract, source, [])
    assert plan is None
    assert problems == [
        "erp.suppliers.supplier_name changed type: the contract says text, the source now has character varying(80)",
        "erp.suppliers.state was dropped from the source (the contract requires it as text)",
    ]
    plan, problems = plan_table(contract, [SourceColumn(c.name, c.type, True) for c in contract.columns]
                                + [SourceColumn("rating", "erp.stars", False)], [])
    assert problems == [] and plan.extra_columns == ("rating",) and plan.added_columns == ("rating",)
