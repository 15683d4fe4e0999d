"""The whole daily pipeline through real Airflow DAG runs (`airflow dags test`) on a real PostgreSQL.

One module-scoped scenario on a small simulated ERP, in the order a production week would see it:
1. first run: ERP history -> raw -> gate -> dbt marts -> forecasts -> gate; the marts are checked
   against the source;
2. the same day again: the marts are identical;
3. the next day brings a bad row: the raw gate quarantines it, the rest of the day reaches the marts
   and the bad value does not; the reconciliation explains the difference by the quarantined row;
4. the ERP fixes the row: the next run takes the fix, the quarantine record is resolved.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, date, datetime, timedelta

import psycopg2
import pytest

from nova_corrente import airflow_services
from nova_corrente.demo import run_logical_date, summary
from nova_corrente.erp_simulator import SimulationConfig, load_erp, simulate, write_feed_files
from nova_corrente.settings import nova_home, share_secrets

pytestmark = pytest.mark.slow

CONFIG = SimulationConfig(
    seed=11, start_date=date(2025, 1, 1), end_date=date(2026, 3, 31), n_materials=8, n_sites=4, n_suppliers=3
)
FIRST_DAY = CONFIG.end_date - timedelta(days=1)  # the ERP as of the end of this day, first
MARTS_COMPARED = {
    # mart -> columns left out of the comparison (run metadata that legitimately changes)
    "dim_item": set(),
    "dim_site": set(),
    "dim_supplier": set(),
    "dim_date": set(),
    "fct_demand_daily": {"source_validated_at"},
    "fct_stock_daily": {"source_validated_at"},
    "fct_reorder_points": set(),
    "fct_forecasts": {"run_id", "generated_at", "source"},
}


def _midnight_after(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)


def _summary_reorders(text: str) -> dict[tuple[str, str], tuple[str, str, str, str]]:
    """(material, site) -> (on hand, reorder point, order, service level) as the demo summary prints them."""
    rows = {}
    table = text.split("Ten most urgent reorders", 1)[1].split("\n\n", 1)[0].splitlines()[2:]
    for line in table:
        tokens = line.split()
        site_id = next(token for token in tokens if token.startswith("SITE-"))
        on_hand, _on_order, reorder_point, order, service_level, _cover = tokens[-6:]
        rows[(tokens[0], site_id)] = (on_hand, reorder_point, order, service_level)
    return rows


def _query(pg, sql: str, params=None, db: str | None = None):
    with psycopg2.connect(pg.dsn(db or pg.warehouse_db)) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    conn.close()
    return rows


def _marts_fingerprint(pg) -> dict[str, str]:
    """A digest of every compared mart's full content (ordered), per mart."""
    digests = {}
    for table, skipped in MARTS_COMPARED.items():
        columns = [
            name for (name,) in _query(
                pg, "select column_name from information_schema.columns where table_schema = 'marts' "
                "and table_name = %s order by ordinal_position", (table,))
            if name not in skipped
        ]
        assert columns, f"marts.{table} is missing"
        column_list = ", ".join(f'"{c}"' for c in columns)
        rows = _query(pg, f"select {column_list} from marts.{table} order by {column_list}")
        digests[table] = hashlib.sha256(repr(rows).encode()).hexdigest() + f":{len(rows)}"
    return digests


@pytest.fixture(scope="module")
def scenario(pg_module, tmp_path_factory):
    """Environment for the DAG runs: test databases, a private NOVA_HOME, AIRFLOW_HOME and landing folder."""
    home = tmp_path_factory.mktemp("airflow_home")
    landing = tmp_path_factory.mktemp("landing")
    nova = tmp_path_factory.mktemp("nova_home")  # reports, docs site, plots; same server: its passwords come along
    share_secrets(pg_module.secrets_dir, nova)
    saved = {key: os.environ.get(key) for key in ("NOVA_AIRFLOW_HOME", "NOVA_LANDING_DIR", "NOVA_HOME")}
    os.environ["NOVA_AIRFLOW_HOME"], os.environ["NOVA_LANDING_DIR"] = str(home), str(landing)
    os.environ["NOVA_HOME"] = str(nova)
    data = simulate(CONFIG)
    load_erp(pg_module, data, until=_midnight_after(FIRST_DAY))
    write_feed_files(data, landing)
    airflow_services.dbt_manifest(pg_module)
    airflow_services.migrate(pg_module)
    yield pg_module, data, home
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _note(pg, day: date) -> str | None:
    """The note of the newest run at that day's logical date (the run report, attached by the plugin)."""
    rows = _query(pg, "select note.content from dag_run join dag_run_note as note on note.dag_run_id = dag_run.id "
                      "where dag_run.dag_id = %s and dag_run.logical_date = %s order by dag_run.id desc limit 1",
                  (airflow_services.DAG_ID, datetime.fromisoformat(run_logical_date(day))), db=pg.airflow_db)
    return rows[0][0] if rows else None


def _run_dag(pg, day: date, home) -> tuple[int, str]:
    logical_date = run_logical_date(day)
    log_file = home / f"run_{day.isoformat()}_{datetime.now().strftime('%H%M%S%f')}.log"
    code = airflow_services.dags_test(pg, logical_date, log_file)
    return code, log_file.read_text()


def test_first_run_builds_marts_that_match_the_source(scenario):
    pg, _, home = scenario
    code, log = _run_dag(pg, FIRST_DAY, home)
    assert code == 0, log[-5000:]
    assert airflow_services.last_run_state(pg, run_logical_date(FIRST_DAY)) == "success", log[-5000:]

    erp = lambda sql: _query(pg, sql, db=pg.erp_db)  # noqa: E731
    # counts match the source
    assert _query(pg, "select count(*) from marts.dim_item") == erp("select count(*) from erp.materials")
    assert _query(pg, "select count(*) from marts.dim_site") == erp("select count(*) from erp.sites")
    consumed_erp = erp("select round(sum(quantity), 2) from erp.stock_movements where movement_type = 'consumption'")
    consumed_mart = _query(pg, "select round(sum(quantity_consumed), 2) from marts.fct_demand_daily")
    assert consumed_mart == consumed_erp
    # every active material-site has a reorder point
    active = erp(
        "select soh.material_id, soh.site_id from erp.stock_on_hand as soh "
        "join erp.materials as m using (material_id) join erp.sites as s using (site_id) "
        "where m.is_active and s.is_active order by 1, 2"
    )
    with_rop = _query(pg, "select material_id, site_id from marts.fct_reorder_points "
                          "where reorder_point is not null order by 1, 2")
    assert active and with_rop == active
    # every forecast row carries its metadata, and covers every active material-site
    missing_meta = _query(pg, "select count(*) from marts.fct_forecasts where model_version is null "
                              "or generated_at is null or source is null or dataset_id is null")
    assert missing_meta == [(0,)]
    forecast_series = _query(pg, "select distinct material_id, site_id from marts.fct_forecasts order by 1, 2")
    assert forecast_series == active
    # one number, one place: the forecasts carry fct_reorder_points' demand class, never their own
    disagreeing = _query(pg, "select count(*) from marts.fct_forecasts as f join marts.fct_reorder_points as r "
                             "using (material_id, site_id) where f.demand_class is distinct from r.demand_class")
    assert disagreeing == [(0,)]
    # the reorder-point outlook starts at today's reorder point and covers the coming year
    outlook = _query(pg, "select count(distinct (material_id, site_id)), min(n), max(n) from (select material_id, "
                         "site_id, count(*) as n from marts.fct_reorder_point_outlook group by 1, 2) as per_series")
    assert outlook == [(len(active), 365, 365)]
    # all of this run's batches passed the gate
    statuses = _query(pg, "select distinct status from audit.load_batches")
    assert statuses == [("passed",)]
    # the run's report: a file under $NOVA_HOME/reports, and the run's note
    latest = nova_home() / "reports" / "latest.md"
    assert latest.read_text().startswith("# nova_corrente_daily: SUCCESS")
    assert _note(pg, FIRST_DAY).startswith("Run report: **SUCCESS**")


def test_first_run_ran_under_the_split_roles(scenario):
    """Each stage logged in as its own role: what it created belongs to that role, nothing to the
    administrator; BI (the demo summary) sees the published marts and only them."""
    pg, _, _ = scenario
    owners = _query(pg, """
        select schema.nspname, array_agg(distinct pg_get_userbyid(relation.relowner)::text
                                         order by pg_get_userbyid(relation.relowner)::text)
        from pg_class as relation join pg_namespace as schema on schema.oid = relation.relnamespace
        where schema.nspname in ('raw', 'audit', 'staging', 'intermediate', 'marts', 'snapshots', 'forecast_staging')
          and relation.relkind in ('r', 'p', 'v', 'm')
        group by 1 order by 1""")
    assert owners == [("audit", ["nova_loader"]), ("forecast_staging", ["nova_forecaster"]),
                      ("intermediate", ["nova_transformer"]),
                      ("marts", ["nova_forecaster", "nova_transformer"]), ("raw", ["nova_loader"]),
                      ("snapshots", ["nova_transformer"]), ("staging", ["nova_transformer"])]
    assert _query(pg, "select tablename from pg_tables where tableowner = 'nova_forecaster' order by 1") == [
        ("forecast_parts",), ("forecast_runs",), ("forecast_values",), ("reorder_point_replays",)]
    # the forecast ran in shards and its publish cleared what they staged
    assert _query(pg, "select count(*) from forecast_staging.forecast_parts") == [(0,)]
    assert _query(pg, "select distinct tableowner from pg_tables where schemaname = 'public'", db=pg.airflow_db) == [
        ("nova_airflow",)]
    text = summary(pg)
    assert "fct_reorder_points" in text and "fct_forecasts" in text and "user=nova_bi_reader" in text
    assert "forecast_values" not in text.split("Ten most urgent")[0]  # not a published mart: BI cannot see it
    # one number, one place: the summary's reorders are the mart's rows, as the mart has them
    shown = _summary_reorders(text)
    assert shown, text
    for (material_id, site_id), (on_hand, reorder_point, order, service_level) in shown.items():
        mart = _query(pg, "select quantity_on_hand, reorder_point, suggested_order_quantity, service_level "
                          "from marts.fct_reorder_points where material_id = %s and site_id = %s",
                      (material_id, site_id))
        assert len(mart) == 1, (material_id, site_id)
        mart_on_hand, mart_rop, mart_order, mart_level = (float(value) for value in mart[0])
        assert (on_hand, reorder_point, order, service_level) == (
            f"{mart_on_hand:.0f}", f"{mart_rop:.1f}", f"{mart_order:.0f}", f"{mart_level:.0%}"), (material_id, site_id)


def test_rerunning_the_same_day_leaves_identical_marts(scenario):
    pg, _, home = scenario
    before = _marts_fingerprint(pg)
    raw_before = _query(pg, "select count(*) from raw.erp_stock_movements")
    code, log = _run_dag(pg, FIRST_DAY, home)
    assert code == 0, log[-5000:]
    assert _marts_fingerprint(pg) == before
    assert _query(pg, "select count(*) from raw.erp_stock_movements") == raw_before


def test_a_bad_row_is_quarantined_and_the_rest_of_the_day_reaches_the_marts(scenario):
    pg, data, home = scenario
    load_erp(pg, data, until=_midnight_after(CONFIG.end_date))
    # the ERP records an impossible consumption during the new day (on its best-stocked material-site)
    recorded_at = _midnight_after(CONFIG.end_date) - timedelta(hours=3)
    with psycopg2.connect(pg.dsn(pg.erp_db)) as conn, conn.cursor() as cur:
        cur.execute(
            "insert into erp.stock_movements (movement_id, material_id, site_id, movement_type, movement_date, "
            "quantity, purchase_order_id, created_at, updated_at) "
            "select (select max(movement_id) + 1 from erp.stock_movements), material_id, site_id, 'consumption', "
            "%s, -40, null, %s, %s from erp.stock_on_hand order by quantity_on_hand desc, material_id, site_id limit 1",
            (CONFIG.end_date, recorded_at, recorded_at),
        )
    conn.close()
    code, log = _run_dag(pg, CONFIG.end_date, home)
    assert code == 0, log[-5000:]
    assert airflow_services.last_run_state(pg, run_logical_date(CONFIG.end_date)) == "success"
    assert "raw_erp_stock_movements" in log and "-40" in log  # the gate names the suite and the bad value
    records = _query(pg, "select raw_table, rule, value, reason, row_key from audit.quarantined_rows"
                         " order by raw_table")
    [(_, rule, value, reason, movement_key)] = [r for r in records if r[0] == "raw.erp_stock_movements"]
    assert rule == "quantity > 0 except for adjustments" and value == "-40.00" and "raw.erp_stock_movements" in reason
    # whatever else is held back is the stock position of the same material-site, which that movement makes
    # inconsistent (it comes back with the fix)
    [(material_id, site_id)] = _query(pg, "select material_id, site_id from raw.erp_stock_movements"
                                          " where movement_id = %s", (movement_key["movement_id"],))
    for raw_table, rule, _, _, row_key in records:
        if raw_table != "raw.erp_stock_movements":
            assert raw_table == "raw.erp_stock_on_hand" and rule.startswith("stock on hand consistent"), records
            assert row_key == {"material_id": material_id, "site_id": site_id}, records
    assert _query(pg, "select count(*) from audit.load_batches where status = 'rejected'") == [(0,)]
    # the day's good data reached the marts, the bad value did not
    assert _query(pg, "select max(demand_date) from marts.fct_demand_daily")[0][0] == CONFIG.end_date
    assert _query(pg, "select count(*) from staging.stg_erp__stock_movements where quantity < 0"
                      " and movement_type = 'consumption'") == [(0,)]
    consumed_erp = _query(pg, "select round(sum(quantity), 2) from erp.stock_movements where movement_type ="
                              " 'consumption' and quantity > 0", db=pg.erp_db)
    assert _query(pg, "select round(sum(quantity_consumed), 2) from marts.fct_demand_daily") == consumed_erp
    # the reconciliation explains the difference by the quarantined row
    statuses = dict(_query(pg, "select check_name, status from audit.reconciliation_results"
                               " where table_name = 'erp.stock_movements' and checked_at ="
                               " (select max(checked_at) from audit.reconciliation_results)"))
    assert statuses["sum(quantity)"] == "explained" and statuses["keys"] == "explained"
    note = _note(pg, CONFIG.end_date)  # the run report: the day went through, with what was quarantined
    assert note.startswith("Run report: **SUCCESS**"), note
    assert "Quarantined rows: " in note and "erp.stock_movements quantity > 0 except for adjustments" in note, note


def test_fixed_source_passes_and_the_new_day_reaches_the_marts(scenario):
    pg, _, home = scenario
    # the ERP corrects the movement to a real consumption of 4 and books it on the stock, as an ERP does
    with psycopg2.connect(pg.dsn(pg.erp_db)) as conn, conn.cursor() as cur:
        cur.execute("update erp.stock_movements set quantity = 4, updated_at = updated_at + interval '1 hour' "
                    "where quantity < 0 and movement_type = 'consumption' returning material_id, site_id, updated_at")
        fixed = cur.fetchall()
        assert len(fixed) == 1
        material_id, site_id, updated_at = fixed[0]
        cur.execute("update erp.stock_on_hand set quantity_on_hand = quantity_on_hand - 4, updated_at = %s "
                    "where material_id = %s and site_id = %s", (updated_at, material_id, site_id))
    conn.close()
    code, log = _run_dag(pg, CONFIG.end_date, home)
    assert code == 0, log[-5000:]
    assert _query(pg, "select count(*) from audit.quarantined_rows where resolved_at is null") == [(0,)]
    last_day = _query(pg, "select max(demand_date) from marts.fct_demand_daily")[0][0]
    assert last_day == CONFIG.end_date
    consumed_erp = _query(pg, "select round(sum(quantity), 2) from erp.stock_movements "
                              "where movement_type = 'consumption'", db=pg.erp_db)
    assert _query(pg, "select round(sum(quantity_consumed), 2) from marts.fct_demand_daily") == consumed_erp


def test_the_weekly_replay_dag_writes_evidence_and_leaves_the_live_marts_alone(scenario, monkeypatch):
    """The DAG nova_corrente_reorder_replay through Airflow: the reorder points as of 120 days before
    the last movement date into marts_replay, both methods replayed over the days since (as the
    forecaster), the live marts byte for byte as they were."""
    pg, _, home = scenario
    before = _marts_fingerprint(pg)
    monkeypatch.setenv("NOVA_REPLAY_DAYS_BACK", "120")
    log_file = home / "replay.log"
    code = airflow_services.dags_test(pg, run_logical_date(CONFIG.end_date), log_file,
                                      dag_id="nova_corrente_reorder_replay")
    assert code == 0, log_file.read_text()[-5000:]
    as_of = CONFIG.end_date - timedelta(days=120)
    assert _query(pg, "select min(outlook_date) - 1 from marts_replay.fct_reorder_point_outlook") == [(as_of,)]
    evidence = _query(pg, "select method, count(*), min(as_of_date), max(replay_days), sum(cycles) > 0 "
                          "from marts.reorder_point_replays group by method order by method")
    assert [row[0] for row in evidence] == ["empirical_ltd", "seasonal_ltd"]
    assert evidence[0][1] == evidence[1][1] > 0
    assert {row[2:] for row in evidence} == {(as_of, 120, True)}
    assert _marts_fingerprint(pg) == before
