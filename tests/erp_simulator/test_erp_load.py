"""Loading the simulated ERP into a real PostgreSQL: replay up to an instant, advance, roll back.

The tests share one module-scoped set of databases (creating and dropping databases is the slow
part); each test sets the whole ERP state it needs, which is exactly what ``load_erp`` does.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, date, datetime, timedelta

import psycopg2
import pytest

from nova_corrente.erp_simulator import (
    TABLE_COLUMNS,
    TABLES,
    SimulationConfig,
    erp_exists,
    erp_state_as_of,
    load_erp,
    loaded_config,
    loaded_simulation,
    simulate,
)
from nova_corrente.erp_simulator.cli import main

CONFIG = SimulationConfig(seed=5, start_date=date(2024, 3, 1), end_date=date(2024, 5, 29),
                          n_materials=6, n_sites=3, n_suppliers=3)


@pytest.fixture(scope="module")
def data():
    return simulate(CONFIG)


def _query(pg, statement: str, params: tuple = ()) -> list[tuple]:
    conn = psycopg2.connect(pg.dsn(pg.erp_db))
    try:
        with conn, conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def _counts(pg) -> dict[str, int]:
    return {t: _query(pg, f"select count(*) from erp.{t}")[0][0] for t in TABLES}


def _utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def test_schema_matches_the_frames_and_the_erp_replays_to_an_instant(pg_module, data):
    pg = pg_module
    _query(pg, "drop schema if exists erp cascade")
    assert not erp_exists(pg)
    until = date(2024, 4, 1)
    summary = load_erp(pg, data, until)
    for table in TABLES:
        columns = _query(pg, "select column_name from information_schema.columns where table_schema = 'erp'"
                             " and table_name = %s order by ordinal_position", (table,))
        assert tuple(c for (c,) in columns) == TABLE_COLUMNS[table]
    expected = {t: len(f) for t, f in erp_state_as_of(data, until).items()}
    assert summary.rows == expected == _counts(pg)
    assert summary.inserted == expected
    assert _query(pg, "select max(updated_at) < %s from erp.stock_movements", (_utc(until),))[0][0]
    assert _query(pg, "select count(*) from erp.purchase_orders where status = 'open'")[0][0] > 0
    loaded = loaded_simulation(pg)
    assert loaded.config == CONFIG == loaded_config(pg)
    assert loaded.loaded_until == _utc(until) and not loaded.is_complete
    assert erp_exists(pg) and erp_exists(pg, CONFIG)
    assert not erp_exists(pg, dataclasses.replace(CONFIG, seed=6))


def test_advancing_until_adds_rows_and_updates_purchase_orders(pg_module, data):
    pg = pg_module
    first = date(2024, 4, 1)
    load_erp(pg, data, first)
    versions = data.purchase_order_versions
    received_later = versions[(versions["status"] == "received") & (versions["updated_at"] >= _utc(first))]
    po_id, received_at = received_later.sort_values("updated_at").iloc[0][["purchase_order_id", "updated_at"]]
    assert _query(pg, "select status from erp.purchase_orders where purchase_order_id = %s", (po_id,)) == [("open",)]
    max_id = _query(pg, "select max(movement_id) from erp.stock_movements")[0][0]

    second = received_at.date() + timedelta(days=1)
    summary = load_erp(pg, data, second)
    assert _query(pg, "select status, received_date from erp.purchase_orders where purchase_order_id = %s",
                  (po_id,)) == [("received", received_at.date())]
    assert summary.updated["purchase_orders"] >= 1 and summary.inserted["stock_movements"] > 0
    assert _query(pg, "select min(movement_id) from erp.stock_movements where movement_id > %s", (max_id,)) == \
        [(max_id + 1,)]
    # what an incremental extract would see: exactly the rows changed by this load
    changed = _query(pg, "select count(*) from erp.stock_movements where updated_at >= %s", (_utc(first),))[0][0]
    assert changed == summary.inserted["stock_movements"]
    po_changed = _query(pg, "select count(*) from erp.purchase_orders where updated_at >= %s", (_utc(first),))[0][0]
    assert po_changed == summary.inserted["purchase_orders"] + summary.updated["purchase_orders"]
    # stock on hand in the database is the replayed stock
    soh = erp_state_as_of(data, second)["stock_on_hand"]
    db = dict(((m, s), float(q)) for m, s, q in _query(pg, "select material_id, site_id, quantity_on_hand"
                                                           " from erp.stock_on_hand"))
    assert db == {(m, s): q for m, s, q in soh[["material_id", "site_id", "quantity_on_hand"]].to_numpy()}

    final = load_erp(pg_module, data)
    assert final.rows == {t: len(f) for t, f in data.tables().items()}
    assert loaded_simulation(pg).is_complete
    again = load_erp(pg_module, data)
    assert sum(again.inserted.values()) == sum(again.updated.values()) == sum(again.deleted.values()) == 0

    rewound = load_erp(pg, data, first)
    assert rewound.rows == {t: len(f) for t, f in erp_state_as_of(data, first).items()}
    assert rewound.deleted["stock_movements"] > 0
    assert _query(pg, "select status from erp.purchase_orders where purchase_order_id = %s", (po_id,)) == [("open",)]


def test_a_failing_load_leaves_the_previous_state_untouched(pg_module, data):
    pg = pg_module
    until = date(2024, 4, 1)
    load_erp(pg, data, until)
    before_counts = _counts(pg)
    before_run = loaded_simulation(pg)
    movements = data.stock_movements.copy()
    movements.loc[movements.index[-1], "material_id"] = "MAT-99999"  # violates the foreign key
    broken = dataclasses.replace(data, stock_movements=movements)
    with pytest.raises(psycopg2.errors.ForeignKeyViolation):
        load_erp(pg, broken)  # would also have added rows and received purchase orders
    assert _counts(pg) == before_counts
    assert loaded_simulation(pg) == before_run
    assert _query(pg, "select max(updated_at) < %s from erp.stock_movements", (_utc(until),))[0][0]



def test_cli_generates_into_the_configured_database(pg_module, data, tmp_path, monkeypatch, capsys):
    pg = pg_module
    # NOVA_PG_DB_PREFIX makes postgres_settings() name exactly this module's databases
    monkeypatch.setenv("NOVA_PG_DB_PREFIX", pg.erp_db.removesuffix("erp"))
    monkeypatch.delenv("NOVA_PG_ERP_DB", raising=False)
    args = ["generate", "--seed", "5", "--start-date", "2024-03-01", "--end-date", "2024-05-29",
            "--materials", "6", "--sites", "3", "--suppliers", "3", "--until", "2024-05-01",
            "--landing-dir", str(tmp_path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"into database {pg.erp_db}" in out
    assert re.search(r"^simulated seed=5 .* in \d+\.\d\ds$", out, re.MULTILINE)  # timings are printed
    assert re.search(r"^stock_movements +\d+ +\d+", out, re.MULTILINE)
    state = erp_state_as_of(data, date(2024, 5, 1))
    assert _counts(pg) == {t: len(f) for t, f in state.items()}
    assert (tmp_path / "weather" / "weather_2024-04.csv").exists()
    assert not (tmp_path / "weather" / "weather_2024-05.csv").exists()
    assert main(["status"]) == 0
    assert "until 2024-05-01T00:00:00+00:00 (partial)" in capsys.readouterr().out
