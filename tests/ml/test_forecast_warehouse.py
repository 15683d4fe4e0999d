"""The forecast task against a real PostgreSQL: metadata, atomic runs, idempotence, pruning."""

import json
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import psycopg2
import pytest

from nova_corrente import db_roles
from nova_forecast import warehouse
from nova_forecast.engine import EngineConfig

CONFIG = EngineConfig(horizon=7, folds=2, models=("naive", "seasonal_naive", "mean", "croston", "sba", "tsb"))
DAY_1 = datetime(2024, 4, 1, 6, 0, tzinfo=UTC)
DAY_2 = datetime(2024, 4, 2, 6, 0, tzinfo=UTC)


@pytest.fixture
def pg(pg_module):
    """One database for the module (creating one per test is the slow part); emptied per test: an
    empty marts schema with the forecast tables, as setup leaves it (db_roles.provision)."""
    with psycopg2.connect(pg_module.dsn(pg_module.warehouse_db)) as conn, conn.cursor() as cur:
        cur.execute("drop schema if exists marts cascade")
    conn.close()
    db_roles.provision(pg_module)
    return pg_module


def create_demand_mart(pg, days: int = 70) -> None:
    rng = np.random.default_rng(5)
    rows = []
    for material, site, p in (("MAT-00001", "SITE-0001", 0.9), ("MAT-00001", "SITE-0002", 0.3),
                              ("MAT-00002", "SITE-0001", 0.05)):
        for day in range(days):
            quantity = float((rng.random() < p) * rng.integers(1, 6))
            rows.append((material, site, day, quantity))
    with psycopg2.connect(pg.dsn(pg.warehouse_db)) as conn, conn.cursor() as cur:
        cur.execute("set role nova_transformer")  # as dbt builds it, with its grants config
        cur.execute("create table marts.fct_demand_daily (material_id text not null, site_id text not null, "
                    "demand_date date not null, quantity_consumed numeric(12, 2) not null, "
                    "primary key (material_id, site_id, demand_date))")
        cur.executemany("insert into marts.fct_demand_daily values (%s, %s, date '2024-01-01' + %s, %s)", rows)
        cur.execute("grant select on marts.fct_demand_daily to nova_bi_reader, nova_forecaster")
    conn.close()


def create_drivers_mart(pg) -> None:
    """One city's drivers, 2023-12-01 .. 2024-03-20, and its site."""
    with psycopg2.connect(pg.dsn(pg.warehouse_db)) as conn, conn.cursor() as cur:
        cur.execute("set role nova_transformer")
        cur.execute("create table marts.fct_demand_drivers_daily as select 'Salvador'::text as city, day::date as "
                    "driver_date, true as is_observed, 0.5 as rainy_season_index, 0.1 as storm_index, "
                    "0.1 as expected_storm_index, 1 as stations_5g_added, false as is_holiday "
                    "from generate_series(date '2023-12-01', date '2024-03-20', interval '1 day') as day")
        cur.execute("create table marts.dim_site as select 'SITE-0001'::text as site_id, 'Salvador'::text as city")
        cur.execute("grant select on marts.fct_demand_drivers_daily, marts.dim_site to nova_forecaster")
    conn.close()


def query(pg, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg2.connect(pg.dsn(pg.warehouse_db)) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    conn.close()
    return rows


def test_read_daily_demand_builds_material_at_site_ids(pg):
    create_demand_mart(pg, days=3)
    frame = warehouse.read_daily_demand(pg)
    assert list(frame.columns) == ["unique_id", "ds", "y", "material_id", "site_id"]
    assert frame["unique_id"].unique().tolist() == ["MAT-00001@SITE-0001", "MAT-00001@SITE-0002",
                                                     "MAT-00002@SITE-0001"]
    assert len(frame) == 9 and str(frame["ds"].iat[0].date()) == "2024-01-01"


def test_reads_of_the_demand_mart_follow_the_history_window(pg):
    create_demand_mart(pg, days=70)  # 2024-01-01 .. 2024-03-10
    full = warehouse.read_daily_demand(pg)
    window = warehouse.read_daily_demand(pg, history_days=30)  # the days after 2024-02-09
    assert len(window) == 3 * 30
    assert [str(window["ds"].min().date()), str(window["ds"].max().date())] == ["2024-02-10", "2024-03-10"]
    assert window.equals(full[full["ds"] > "2024-02-09"].reset_index(drop=True))
    one = warehouse.read_daily_demand(pg, materials=["MAT-00002"], history_days=30)
    assert one["unique_id"].unique().tolist() == ["MAT-00002@SITE-0001"] and len(one) == 30
    stats = warehouse.read_series_stats(pg, history_days=30).set_index("unique_id")
    assert stats["length"].tolist() == [30, 30, 30]
    assert stats["volume"].to_dict() == window.groupby("unique_id")["y"].sum().to_dict()
    assert warehouse.read_series_stats(pg)["length"].tolist() == [70, 70, 70]
    create_drivers_mart(pg)  # 2023-12-01 .. 2024-03-20: older than the demand and its future
    drivers, cities = warehouse.read_drivers(pg, history_days=30)
    assert [str(drivers["driver_date"].min()), str(drivers["driver_date"].max()), len(drivers)] == \
        ["2024-02-10", "2024-03-20", 40]
    assert len(warehouse.read_drivers(pg)[0]) == 111 and cities.to_dict() == {"SITE-0001": "Salvador"}


def test_a_windowed_run_reads_what_the_engine_keeps_in_one_process_and_in_shards(pg):
    create_demand_mart(pg)
    windowed = replace(CONFIG, history_days=40)
    read = warehouse.run_forecasts(pg, config=windowed, generated_at=DAY_1, run_id="read")
    given = warehouse.run_forecasts(pg, config=windowed, generated_at=DAY_1, run_id="given",
                                    demand=warehouse.read_daily_demand(pg))  # all 70 days: the engine cuts
    plan = warehouse.plan_run(pg, "sharded", 2, windowed)
    for index in range(plan.count):
        warehouse.forecast_shard(pg, plan.shard(index), windowed)
    warehouse.publish_run(pg, plan, windowed, generated_at=DAY_2)

    def rows(run_id):
        return query(pg, f"select {VALUES} from marts.forecast_values where run_id = %s order by 1, 2, 3", (run_id,))

    assert len(rows("read")) == 21 and rows("read") == rows("given") == rows("sharded")
    assert read.data_fingerprint == given.data_fingerprint  # the fingerprint of the 40 days fitted
    assert query(pg, "select parameters ->> 'history_days' from marts.forecast_runs where run_id = 'read'") == [("40",)]
    whole_history = warehouse.run_forecasts(pg, config=replace(CONFIG, history_days=None), generated_at=DAY_1)
    assert whole_history.data_fingerprint != read.data_fingerprint


def test_run_writes_values_and_run_with_metadata(pg, tmp_path):
    create_demand_mart(pg)
    summary = warehouse.run_forecasts(pg, config=CONFIG, model_version="test-1", source="unit-test",
                                      generated_at=DAY_1, artifacts_dir=tmp_path, plot_top=2)
    assert summary.series_count == 3 and summary.rows_written == 21
    assert summary.dataset_id == summary.data_fingerprint and len(summary.dataset_id) == 64
    runs = query(pg, "select run_id, model_version, generated_at, source, dataset_id, data_fingerprint, "
                     "series_count, parameters ->> 'horizon', jsonb_array_length(metrics -> 'candidates') "
                     "from marts.forecast_runs")
    assert runs == [(summary.run_id, "test-1", DAY_1, "unit-test", summary.dataset_id, summary.dataset_id, 3, "7", 6)]
    values = query(pg, "select count(*), count(distinct (material_id, site_id)), min(forecast_date)::text, "
                       "bool_and(model_version = 'test-1' and source = 'unit-test' and generated_at = %s "
                       "and dataset_id = %s and run_id = %s), bool_and(yhat >= 0 and yhat_lo_95 >= 0), "
                       "bool_and(demand_class in ('smooth', 'erratic', 'intermittent', 'lumpy')) "
                       "from marts.forecast_values",
                   (DAY_1, summary.dataset_id, summary.run_id))
    assert values == [(21, 3, "2024-03-11", True, True, True)]
    # the service-level quantiles the reorder points need are stored, ordered and never negative
    quantiles = query(pg, "select bool_and(yhat_q90 is not null and yhat_q95 is not null and yhat_q99 is not null), "
                          "bool_and(0 <= yhat_q90 and yhat_q90 <= yhat_q95 and yhat_q95 <= yhat_q99) "
                          "from marts.forecast_values")
    assert quantiles == [(True, True)]
    as_dict = json.loads(json.dumps(summary.as_dict()))  # JSON-able, e.g. for an Airflow XCom
    assert as_dict["run_id"] == summary.run_id and as_dict["rows_written"] == 21
    assert as_dict["generated_at"] == "2024-04-01T06:00:00+00:00"
    run_dir = tmp_path / summary.run_id
    assert (run_dir / "run.json").exists()
    assert len(list(run_dir.glob("*.png"))) == 2


def test_failure_mid_write_leaves_the_previous_run_intact(pg, monkeypatch):
    create_demand_mart(pg)
    first = warehouse.run_forecasts(pg, config=CONFIG, generated_at=DAY_1)
    before = query(pg, "select run_id, count(*), sum(yhat) from marts.forecast_values group by run_id")

    real_copy = warehouse._copy_values

    def copy_half_then_fail(cur, values):
        real_copy(cur, values.iloc[: len(values) // 2])
        raise RuntimeError("connection lost mid-COPY")

    monkeypatch.setattr(warehouse, "_copy_values", copy_half_then_fail)
    with pytest.raises(RuntimeError, match="mid-COPY"):
        warehouse.run_forecasts(pg, config=CONFIG, generated_at=DAY_2)
    assert query(pg, "select run_id from marts.forecast_runs") == [(first.run_id,)]
    assert query(pg, "select run_id, count(*), sum(yhat) from marts.forecast_values group by run_id") == before
    assert warehouse.latest_run_id(pg) == first.run_id


def test_readers_see_the_previous_run_until_the_new_one_commits(pg, monkeypatch):
    create_demand_mart(pg)
    first = warehouse.run_forecasts(pg, config=CONFIG, generated_at=DAY_1)
    seen_during_write = []
    real_copy = warehouse._copy_values

    def copy_and_look(cur, values):
        real_copy(cur, values)
        seen_during_write.append(warehouse.latest_run_id(pg))  # another connection, mid-transaction

    monkeypatch.setattr(warehouse, "_copy_values", copy_and_look)
    second = warehouse.run_forecasts(pg, config=CONFIG, generated_at=DAY_2)
    assert seen_during_write == [first.run_id]
    assert warehouse.latest_run_id(pg) == second.run_id
    assert query(pg, "select count(*) from marts.forecast_runs") == [(2,)]


def test_same_run_id_replaces_the_run_and_old_runs_are_pruned(pg):
    create_demand_mart(pg)
    warehouse.run_forecasts(pg, config=CONFIG, generated_at=DAY_1, run_id="daily-2024-04-01")
    warehouse.run_forecasts(pg, config=CONFIG, generated_at=DAY_1, run_id="daily-2024-04-01")
    assert query(pg, "select run_id, count(*) from marts.forecast_values group by run_id") == [("daily-2024-04-01", 21)]
    warehouse.run_forecasts(pg, config=CONFIG, generated_at=DAY_2, run_id="daily-2024-04-02")
    third = datetime(2024, 4, 3, 6, 0, tzinfo=UTC)
    summary = warehouse.run_forecasts(pg, config=CONFIG, generated_at=third, run_id="daily-2024-04-03", keep_runs=2)
    assert summary.pruned_runs == 1
    assert query(pg, "select run_id from marts.forecast_runs order by generated_at") == [
        ("daily-2024-04-02",), ("daily-2024-04-03",)]
    assert query(pg, "select count(distinct run_id) from marts.forecast_values") == [(2,)]


def test_a_run_leaves_statistics_that_know_it(pg):
    """The marts gate selects the newest run by run_id right after the write: the planner must know it
    exists (with the previous run's statistics it expects no row and picks nested loops)."""
    create_demand_mart(pg)
    warehouse.run_forecasts(pg, config=CONFIG, generated_at=DAY_1, run_id="daily-2024-04-01")
    warehouse.run_forecasts(pg, config=CONFIG, generated_at=DAY_2, run_id="daily-2024-04-02")
    rows, estimated = query(pg, "select count(*), (select reltuples from pg_class "
                                "where oid = 'marts.forecast_values'::regclass) from marts.forecast_values")[0]
    assert (rows, estimated) == (42, 42)
    (plan,) = query(pg, "explain (format json) select * from marts.forecast_values where run_id = 'daily-2024-04-02'")[0]
    assert plan[0]["Plan"]["Plan Rows"] == 21


def test_missing_mart_is_a_clear_error(pg):
    with pytest.raises(warehouse.InputError, match="marts.fct_demand_daily does not exist"):
        warehouse.run_forecasts(pg, config=CONFIG)


def test_runs_as_the_forecaster_which_may_not_create_its_tables(pg):
    """The run is written by nova_forecaster (owner of the forecast tables that setup created); when
    they are missing it says so instead of creating them: it may not create tables."""
    create_demand_mart(pg)
    warehouse.run_forecasts(pg, config=CONFIG, generated_at=DAY_1, run_id="r1")
    assert query(pg, "select tableowner from pg_tables where schemaname = 'marts' and tablename in ('forecast_runs', 'forecast_values') "
                     "order by tablename") == [("nova_forecaster",), ("nova_forecaster",)]
    with psycopg2.connect(pg.dsn(pg.warehouse_db)) as conn, conn.cursor() as cur:
        cur.execute("drop table marts.forecast_values, marts.forecast_runs")
    conn.close()
    with pytest.raises(warehouse.InputError, match="nova_forecaster may not create them: the platform's setup does"):
        warehouse.run_forecasts(pg, config=CONFIG, generated_at=DAY_2, run_id="r2")


def test_run_registry_lists_runs_newest_first_and_reconciled_runs(pg):
    create_demand_mart(pg)
    assert warehouse.list_runs(pg).empty
    warehouse.run_forecasts(pg, config=CONFIG, generated_at=DAY_1, run_id="r1")
    warehouse.run_forecasts(pg, config=CONFIG, generated_at=DAY_2, run_id="r2", reconcile=True)
    runs = warehouse.list_runs(pg)
    assert runs["run_id"].tolist() == ["r2", "r1"]
    assert runs["series_count"].tolist() == [3, 3]
    assert (runs["rmsse"] > 0).all()
    assert query(pg, "select parameters ->> 'reconcile' from marts.forecast_runs order by run_id") == [
        ("false",), ("true",)]


def create_reorder_point_mart(pg) -> None:
    """fct_reorder_points as dbt builds it, with numbers no engine default would produce; its demand
    classes disagree with what the engine would find on the demand (MAT-00002 is mostly zeros)."""
    with psycopg2.connect(pg.dsn(pg.warehouse_db)) as conn, conn.cursor() as cur:
        cur.execute("set role nova_transformer")  # as dbt builds it, with its grants config
        cur.execute("create table marts.fct_reorder_points (material_id text, site_id text, demand_class text, "
                    "adi numeric, cv_squared numeric, service_level numeric(6, 5), avg_lead_time_days numeric, "
                    "safety_stock numeric, reorder_point numeric, method text, economic_order_quantity numeric, "
                    "suggested_order_quantity integer)")
        cur.executemany("insert into marts.fct_reorder_points values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", [
            ("MAT-00001", "SITE-0001", "erratic", 1.1, 0.6, 0.93, 17.5, 94.7, 210.0, "seasonal_ltd", 40, 12),
            ("MAT-00001", "SITE-0002", "lumpy", 3.0, 0.7, 0.97, 17.5, 11.2, 30.25, "empirical_ltd", 9, 0),
            ("MAT-00002", "SITE-0001", "smooth", 1.0, 0.1, 0.90, 6.0, 1.5, 4.0, "normal", 3, 0),
        ])
        cur.execute("grant select on marts.fct_reorder_points to nova_bi_reader, nova_forecaster")
    conn.close()


def test_forecasts_and_plots_read_the_business_numbers_from_the_mart(pg, tmp_path):
    """One number, one place: the forecast rows carry the mart's demand class, and the plots and
    run.json show the mart's reorder point, lead time, safety stock and service level."""
    create_demand_mart(pg)
    create_reorder_point_mart(pg)
    summary = warehouse.run_forecasts(pg, config=CONFIG, generated_at=DAY_1, artifacts_dir=tmp_path, plot_top=2)
    classes = query(pg, "select distinct v.material_id, v.site_id, v.demand_class = r.demand_class "
                        "from marts.forecast_values as v join marts.fct_reorder_points as r using (material_id, site_id)")
    assert len(classes) == 3 and all(same for _, _, same in classes)
    assert summary.demand_classes == {"erratic": 1, "lumpy": 1, "smooth": 1}
    plots = json.loads((tmp_path / summary.run_id / "run.json").read_text())["plots"]
    mart = {f"{m}@{s}": (float(rp), float(lt), float(ss), float(sl), method, dc) for m, s, rp, lt, ss, sl, method, dc in
            query(pg, "select material_id, site_id, reorder_point, avg_lead_time_days, safety_stock, service_level, "
                      "method, demand_class from marts.fct_reorder_points")}
    assert len(plots) == 2
    for shown in plots:
        assert (shown["reorder_point"], shown["lead_time_days"], shown["safety_stock"], shown["service_level"],
                shown["method"], shown["demand_class"]) == mart[shown["unique_id"]]


def test_without_the_reorder_point_mart_the_engine_classifies_and_says_so(pg, tmp_path):
    create_demand_mart(pg)
    summary = warehouse.run_forecasts(pg, config=CONFIG, generated_at=DAY_1, artifacts_dir=tmp_path, plot_top=1)
    assert any("fct_reorder_points does not exist" in w for w in summary.warnings)
    plots = json.loads((tmp_path / summary.run_id / "run.json").read_text())["plots"]
    assert "reorder_point" not in plots[0]


# --- a run in shards ---------------------------------------------------------------------------

VALUES = "material_id, site_id, forecast_date, yhat, yhat_lo_80, yhat_hi_95, yhat_q95, model, demand_class, dataset_id"


def _sharded_run(pg, run_id: str, shards: int = 2, **publish) -> warehouse.RunSummary:
    plan = warehouse.plan_run(pg, run_id, shards, CONFIG)
    for index in range(plan.count):
        warehouse.forecast_shard(pg, plan.shard(index), CONFIG)
    return warehouse.publish_run(pg, plan, CONFIG, generated_at=DAY_2, **publish)


def test_a_run_in_shards_publishes_what_the_run_in_one_process_publishes(pg, monkeypatch):
    create_demand_mart(pg)
    whole = warehouse.run_forecasts(pg, config=CONFIG, generated_at=DAY_1, run_id="whole")
    monkeypatch.setenv("NOVA_WORKER_NAME", "worker-7")
    plan = warehouse.plan_run(pg, "sharded", 2, CONFIG)
    assert plan.shards == (("MAT-00001",), ("MAT-00002",)) and plan.series == (2, 1)
    staged = [warehouse.forecast_shard(pg, plan.shard(i), CONFIG) for i in range(2)]
    assert [(s["shard"], s["series"], s["worker"]) for s in staged] == [(0, 2, "worker-7"), (1, 1, "worker-7")]
    assert query(pg, "select count(*) from marts.forecast_runs where run_id = 'sharded'") == [(0,)]
    sharded = warehouse.publish_run(pg, plan, CONFIG, generated_at=DAY_2)

    def rows(run_id):
        return query(pg, f"select {VALUES} from marts.forecast_values where run_id = %s order by 1, 2, 3", (run_id,))

    assert len(rows("sharded")) == 21 and rows("sharded") == rows("whole")
    assert sharded.data_fingerprint == whole.data_fingerprint
    assert sharded.metrics["selection"] == whole.metrics["selection"]
    assert [(s["shard"], s["series"], s["worker"]) for s in sharded.metrics["shards"]] == \
        [(0, 2, "worker-7"), (1, 1, "worker-7")]
    assert query(pg, "select count(*) from forecast_staging.forecast_parts") == [(0,)]  # cleared on publish


def test_a_missing_shard_publishes_nothing_and_the_previous_run_stays(pg):
    create_demand_mart(pg)
    first = warehouse.run_forecasts(pg, config=CONFIG, generated_at=DAY_1)
    plan = warehouse.plan_run(pg, "daily-2", 2, CONFIG)
    warehouse.forecast_shard(pg, plan.shard(1), CONFIG)  # shard 1 of 2 failed
    with pytest.raises(warehouse.InputError, match="shard.s. 1 of 2 are not staged"):
        warehouse.publish_run(pg, plan, CONFIG, generated_at=DAY_2)
    assert warehouse.latest_run_id(pg) == first.run_id
    # the retried shard replaces its earlier attempt, and the run publishes
    warehouse.forecast_shard(pg, plan.shard(0), CONFIG)
    warehouse.forecast_shard(pg, plan.shard(0), CONFIG)
    assert query(pg, "select shard, count(*) from forecast_staging.forecast_parts group by 1 order by 1") == \
        [(0, 1), (1, 1)]
    assert warehouse.publish_run(pg, plan, CONFIG, generated_at=DAY_2).run_id == warehouse.latest_run_id(pg)


def test_staged_shards_are_invisible_to_bi_and_a_new_attempt_starts_clean(pg):
    create_demand_mart(pg)
    plan = warehouse.plan_run(pg, "daily-3", 2, CONFIG)
    warehouse.forecast_shard(pg, plan.shard(0), CONFIG)
    bi = pg.as_role("bi_reader")
    with psycopg2.connect(bi.dsn(bi.warehouse_db)) as conn, conn.cursor() as cur:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute("select count(*) from forecast_staging.forecast_parts")
    conn.close()
    warehouse.plan_run(pg, "daily-3", 2, CONFIG)  # the run's next attempt: what the last one staged goes
    assert query(pg, "select count(*) from forecast_staging.forecast_parts") == [(0,)]


def test_more_shards_than_materials_and_bad_counts(pg):
    create_demand_mart(pg)
    assert warehouse.plan_run(pg, "r", 5, CONFIG).count == 2  # whole materials: at most one shard each
    with pytest.raises(warehouse.InputError, match="at least one shard"):
        warehouse.plan_run(pg, "r", 0, CONFIG)


def test_shards_are_whole_materials_balanced_by_work_with_the_runs_ranking():
    """Material A has the run's biggest series (every slow model fits them), B and C many small ones."""
    config = EngineConfig(horizon=7, models=("mean", "ets", "prophet"), top_k=1, auto_top_k=2)
    stats = warehouse.pd.DataFrame({
        "unique_id": ["A@1", "A@2"] + [f"B@{i}" for i in range(12)] + [f"C@{i}" for i in range(10)],
        "material_id": ["A"] * 2 + ["B"] * 12 + ["C"] * 10,
        "volume": [1000.0, 900.0] + [10.0] * 12 + [5.0] * 10,
        "length": [100] * 24,
    })
    plan = warehouse.plan_shards(stats, "r", 2, config)
    # A: 2 series + ets and prophet on A@1, ets on A@2: 2 + 20 + 75 + 20 = 117 units; B 12, C 10
    assert plan.shards == (("A",), ("B", "C")) and plan.series == (2, 22)
    assert plan.ranking[:2] == ("A@1", "A@2") and len(plan.ranking) == 2
    assert warehouse.RunPlan.from_dict(plan.as_dict()) == plan
    by_series = warehouse.plan_shards(stats.assign(volume=0.0), "r", 2, config)
    assert by_series.ranking == () and by_series.shards == (("B",), ("A", "C"))  # no slow fits: by series


def test_a_shard_staged_for_an_earlier_plan_is_refused(pg):
    create_demand_mart(pg)
    plan = warehouse.plan_run(pg, "daily-4", 2, CONFIG)
    for index in range(2):
        warehouse.forecast_shard(pg, plan.shard(index), CONFIG)
    swapped = warehouse.RunPlan(plan.run_id, plan.shards[::-1], plan.series[::-1], plan.ranking)
    with pytest.raises(warehouse.InputError, match="other materials than the plan"):
        warehouse.publish_run(pg, swapped, CONFIG, generated_at=DAY_2)
    assert query(pg, "select count(*) from marts.forecast_runs") == [(0,)]
    assert warehouse.RunPlan.from_shards(plan.run_id, [plan.shard(1), plan.shard(0)]) == plan
