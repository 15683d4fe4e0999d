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
    SchemaDriftError,
    batches_for_interval,
    load_interval,
    set_batch_status,
)
from nova_corrente.extract.erp import compare_columns
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
    # movement 4 was updated after the interval end
    assert warehouse.rows("select movement_id from raw.erp_stock_movements order by 1") == [(1,), (2,), (3,)]
    # same columns and exact types as the source, plus the metadata columns
    type_query = (
        "select attname, format_type(atttypid, atttypmod) from pg_attribute"
        " where attrelid = %s::regclass and attnum > 0 and not attisdropped order by attnum"
    )
    assert warehouse.rows(type_query, ("raw.erp_sites",)) == erp.rows(type_query, ("erp.sites",)) + [
        ("_batch_id", "text"), ("_source", "text"), ("_loaded_at", "timestamp with time zone")]
    assert warehouse.rows("select distinct _source, _batch_id from raw.erp_sites") == [
        ("erp.sites", "erp.sites|2024-01-02T00:00:00+00:00")]
    # values survive the COPY round trip unchanged
    assert warehouse.rows("select * from raw.erp_sites order by site_id")[0][:10] == erp.rows(
        "select * from erp.sites order by site_id")[0]
    audit = warehouse.rows(
        "select source, watermark_from::text, watermark_to, row_count, status from audit.load_batches"
        " where source = 'erp.materials'")
    assert audit == [("erp.materials", "-infinity", DAY2, 3, "loaded")]
    assert batches_for_interval(pg, DAY2) == sorted(result.batch_id for result in results)


def test_next_interval_takes_only_rows_updated_since_the_passed_watermark(pg, erp, warehouse):
    load_interval(pg, DAY1, DAY2)
    pass_batches(pg, DAY2)
    erp.execute("update erp.materials set unit_cost_brl = 1300.00, updated_at = '2024-01-02 09:00+00'"
                " where material_id = 'MAT-00001'")
    erp.execute("insert into erp.stock_movements values (5, 'MAT-00001', 'SITE-0001', 'receipt', '2024-01-02', 4,"
                " 'PO-000001', '2024-01-02 10:00+00', '2024-01-02 10:00+00')")
    erp.execute("insert into erp.stock_movements values (6, 'MAT-00001', 'SITE-0001', 'consumption', '2024-01-03', 1,"
                " null, '2024-01-03 10:00+00', '2024-01-03 10:00+00')")  # next day: not yet

    results = {result.source: result for result in load_interval(pg, DAY2, DAY3)}

    assert {source: result.row_count for source, result in results.items() if result.row_count} == {
        "erp.materials": 1, "erp.stock_movements": 2}
    assert results["erp.materials"].watermark_from == DAY2
    day2_movements = warehouse.rows(
        "select movement_id from raw.erp_stock_movements where _batch_id = %s order by 1",
        (results["erp.stock_movements"].batch_id,))
    assert day2_movements == [(4,), (5,)]
    # raw is append-only per batch: both versions of MAT-00001 are kept
    assert warehouse.rows("select unit_cost_brl::text from raw.erp_materials where material_id = 'MAT-00001'"
                          " order by updated_at") == [("1250.50",), ("1300.00",)]


def test_rerunning_an_interval_replaces_its_batch_and_gives_the_same_raw(pg, erp, warehouse):
    load_interval(pg, DAY1, DAY2)
    pass_batches(pg, DAY2)
    load_interval(pg, DAY2, DAY3)
    before = warehouse.raw_state()
    pass_batches(pg, DAY3)  # even the re-run interval's own passed batch must not move its watermark

    again = load_interval(pg, DAY2, DAY3)

    after = warehouse.raw_state()
    assert after == before  # same rows (all columns but _loaded_at), same audit, status back to loaded
    assert {result.watermark_from for result in again} == {DAY2}
    assert warehouse.scalar("select count(*) from raw.erp_stock_movements") == 4


def test_watermark_advances_only_from_passed_batches(pg, erp, warehouse):
    load_interval(pg, DAY1, DAY2)
    set_rejected = "quality gate: unit_cost_brl out of range"
    pass_batches(pg, DAY2, "rejected", set_rejected)
    assert warehouse.rows("select distinct status, failure_reason from audit.load_batches") == [
        ("rejected", set_rejected)]

    day2 = {result.source: result for result in load_interval(pg, DAY2, DAY3)}
    # nothing passed yet: day 2 re-extracts from -infinity, i.e. day 1's rows again plus movement 4
    assert day2["erp.stock_movements"].watermark_from is None
    assert day2["erp.stock_movements"].row_count == 4
    assert day2["erp.materials"].row_count == 3

    # a batch that is only 'loaded' (not gated yet) does not move the watermark either
    day3 = {result.source: result for result in load_interval(pg, DAY3, DAY4)}
    assert day3["erp.stock_movements"].watermark_from is None

    pass_batches(pg, DAY3)
    erp.execute("update erp.sites set sla_tier = 'gold', updated_at = '2024-01-04 08:00+00'"
                " where site_id = 'SITE-0002'")
    day4 = {result.source: result for result in load_interval(pg, DAY4, DAY4.replace(day=5))}
    assert day4["erp.sites"].watermark_from == DAY3
    assert {source: result.row_count for source, result in day4.items() if result.row_count} == {"erp.sites": 1}


def test_new_source_column_is_added_to_raw(pg, erp, warehouse, caplog):
    load_interval(pg, DAY1, DAY2)
    pass_batches(pg, DAY2)
    erp.execute("alter table erp.materials add column criticality text")
    erp.execute("update erp.materials set criticality = 'high', updated_at = '2024-01-02 08:00+00'"
                " where material_id = 'MAT-00002'")

    with caplog.at_level(logging.WARNING, logger="nova_corrente.extract.erp"):
        load_interval(pg, DAY2, DAY3, tables=["materials"])

    assert "new source column erp.materials.criticality (text) added to raw.erp_materials" in caplog.text
    assert warehouse.rows("select material_id, criticality from raw.erp_materials order by _batch_id, material_id") == [
        ("MAT-00001", None), ("MAT-00002", None), ("MAT-00003", None), ("MAT-00002", "high")]


def test_retyped_or_dropped_source_column_stops_the_load(pg, erp, warehouse):
    load_interval(pg, DAY1, DAY2)
    before = warehouse.raw_state()
    erp.execute("alter table erp.sites alter column latitude type numeric(10, 6)")
    erp.execute("alter table erp.suppliers drop column state")
    erp.execute("update erp.materials set updated_at = '2024-01-02 08:00+00'")  # would be loaded otherwise

    with pytest.raises(SchemaDriftError) as failure:
        load_interval(pg, DAY2, DAY3)

    message = str(failure.value)
    assert "erp.sites.latitude changed type: raw.erp_sites has numeric(9,6), source now numeric(10,6)" in message
    assert "erp.suppliers.state was dropped from the source (raw.erp_suppliers has it as text)" in message
    assert warehouse.raw_state() == before


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

    with pytest.raises(ExtractError, match=r"loading erp\.stock_movements into raw\.erp_stock_movements "
                                           r"\(writing raw\.erp_stock_movements\) failed: disk quota exceeded"):
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

    with pytest.raises(ExtractError, match=r"loading erp\.stock_on_hand .*\(reading erp\.stock_on_hand\) failed: "
                                           r"division by zero"):
        load_interval(pg, DAY2, DAY3)

    assert warehouse.raw_state() == before


def test_missing_source_table_is_named_and_nothing_loads(pg, erp, warehouse):
    load_interval(pg, DAY1, DAY2)
    before = warehouse.raw_state()
    erp.execute("drop table erp.stock_on_hand")

    with pytest.raises(ExtractError, match=r"source table erp\.stock_on_hand does not exist"):
        load_interval(pg, DAY2, DAY3)

    assert warehouse.raw_state() == before


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
            killed.extend(row[0] for row in erp.rows(
                "select pg_terminate_backend(pid) from pg_stat_activity"
                " where datname = %s and application_name = %s and query ilike 'copy%%stock_on_hand%%'",
                (pg.erp_db if role == "erp" else pg.warehouse_db, f"nova_extract_{role}")))
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

    with pytest.raises(ExtractError, match=r"\(writing raw\.erp_stock_movements\) failed: .*no_big_ids"):
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


def test_compare_columns_reports_added_dropped_and_retyped_columns():
    raw = [("id", "text"), ("qty", "numeric(12,2)"), ("gone", "date"), ("_batch_id", "text")]
    source = [("id", "text"), ("qty", "numeric(14,2)"), ("new", "boolean")]
    added, problems = compare_columns("things", source, raw)
    assert added == [("new", "boolean")]
    assert problems == [
        "erp.things.qty changed type: raw.erp_things has numeric(12,2), source now numeric(14,2)",
        "erp.things.gone was dropped from the source (raw.erp_things has it as date)",
    ]
