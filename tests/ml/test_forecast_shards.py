"""Sharded forecast runs: whole demand classes per shard, same forecasts as one run, atomic publish."""

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import psycopg2
import pytest

from nova_forecast import warehouse
from nova_forecast.data import InputError
from nova_forecast.engine import EngineConfig
from nova_forecast.shards import Shard, merge_metrics, plan_shards

CONFIG = EngineConfig(horizon=7, folds=2, models=("naive", "mean", "ses", "croston", "sba", "tsb"))
DAY = datetime(2024, 4, 1, 6, 0, tzinfo=UTC)
PUBLISHED = dict(model_version="test-1", generated_at=DAY, source="unit-test")


def stats(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    """unique_id, demand_class, rank (the engine's slow-model ranking, NaN = not ranked)."""
    return pd.DataFrame(rows, columns=["unique_id", "demand_class", "rank"]).assign(volume=0.0)


def test_shards_hold_whole_demand_classes_and_their_share_of_the_top_k():
    table = stats([("a", "smooth", 0), ("b", "smooth", 3), ("c", "smooth", np.nan),
                   ("d", "intermittent", 1), ("e", "intermittent", 2), ("f", "lumpy", np.nan)])
    config = EngineConfig(top_k=2, auto_top_k=3)
    shards = plan_shards(table, 2, config)
    # largest class first onto the emptiest shard: smooth (3) | intermittent (2) + lumpy (1)
    assert [s.classes for s in shards] == [("smooth",), ("intermittent", "lumpy")]
    assert [s.series for s in shards] == [("a", "b", "c"), ("d", "e", "f")]
    # run's top-2 = a (rank 0), d (rank 1); top-3 adds e (rank 2): each shard gets its count
    assert [(s.top_k, s.auto_top_k) for s in shards] == [(1, 1), (1, 2)]
    assert shards[1].engine_config(config).top_k == 1 and shards[1].engine_config(config).auto_top_k == 2


def test_no_more_shards_than_demand_classes():
    table = stats([("a", "smooth", 0), ("b", "lumpy", 1)])
    assert len(plan_shards(table, 8, EngineConfig())) == 2
    assert [s.count for s in plan_shards(table, 1, EngineConfig())] == [1]
    with pytest.raises(ValueError):
        plan_shards(table, 0, EngineConfig())


def test_shard_round_trips_through_an_xcom_dict():
    shard = Shard(1, 2, ("lumpy",), ("x@y",), 0, 1)
    assert Shard.from_dict(shard.as_dict()) == shard


def test_merged_metrics_add_counts_and_weight_means_by_series():
    one = {"series": 3, "models_selected": {"ses": 2, "croston": 1}, "demand_classes": {"smooth": 3},
           "selection": {"series": 3, "rmsse": 1.0}, "seconds": 2.0, "warnings": ["w1"]}
    two = {"series": 1, "models_selected": {"ses": 1}, "demand_classes": {"lumpy": 1},
           "selection": {"series": 1, "rmsse": 2.0}, "seconds": 5.0, "warnings": []}
    merged = merge_metrics([one, two], ["worker-a", "worker-b"])
    assert merged["series"] == 4
    assert merged["models_selected"] == {"ses": 3, "croston": 1}
    assert merged["demand_classes"] == {"smooth": 3, "lumpy": 1}
    assert merged["selection"] == {"series": 4, "rmsse": 1.25}  # (3 * 1.0 + 1 * 2.0) / 4
    assert merged["warnings"] == ["w1"] and merged["seconds"] == 5.0
    assert [(s["shard"], s["worker"], s["series"]) for s in merged["shards"]] == [(0, "worker-a", 3),
                                                                                   (1, "worker-b", 1)]
    alone = merge_metrics([one], [None])
    assert alone["selection"] == one["selection"] and alone["shards"][0]["series"] == 3


# --- against PostgreSQL ---------------------------------------------------------------------------------


@pytest.fixture
def pg(pg_module):
    with psycopg2.connect(pg_module.dsn(pg_module.warehouse_db)) as conn, conn.cursor() as cur:
        cur.execute("drop schema if exists marts cascade; drop schema if exists forecast_staging cascade")
    conn.close()
    create_demand_mart(pg_module)
    return pg_module


def create_demand_mart(pg, days: int = 84) -> None:
    """Two series of each demand class (smooth, erratic, intermittent, lumpy) over ``days`` days."""
    rng = np.random.default_rng(11)
    rows = []
    kinds = {"smooth": (0.95, lambda: rng.integers(4, 6)), "erratic": (0.95, lambda: rng.integers(1, 30)),
             "intermittent": (0.12, lambda: 3), "lumpy": (0.12, lambda: rng.integers(1, 40))}
    for number, (share, size) in enumerate(kinds.values()):
        for site in ("SITE-0001", "SITE-0002"):
            for day in range(days):
                rows.append((f"MAT-{number:05d}", site, day, float(size()) if rng.random() < share else 0.0))
    with psycopg2.connect(pg.dsn(pg.warehouse_db)) as conn, conn.cursor() as cur:
        cur.execute("create schema if not exists marts")
        cur.execute("create table marts.fct_demand_daily (material_id text not null, site_id text not null, "
                    "demand_date date not null, quantity_consumed numeric(12, 2) not null, "
                    "primary key (material_id, site_id, demand_date))")
        cur.executemany("insert into marts.fct_demand_daily values (%s, %s, date '2024-01-01' + %s, %s)", rows)
    conn.close()


def query(pg, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg2.connect(pg.dsn(pg.warehouse_db)) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    conn.close()
    return rows


VALUES = ("material_id, site_id, forecast_date, yhat, yhat_lo_80, yhat_hi_80, yhat_lo_95, yhat_hi_95, yhat_q90, "
          "yhat_q95, yhat_q99, model, demand_class")


def test_a_sharded_run_forecasts_exactly_what_one_run_does(pg):
    alone = warehouse.run_forecasts(pg, config=CONFIG, run_id="alone", **PUBLISHED)
    plan = warehouse.plan_run(pg, "sharded", 3, CONFIG)
    assert len(plan) == 3 and sorted(uid for s in plan for uid in s.series) == sorted(
        uid for (uid,) in query(pg, "select distinct material_id || '@' || site_id from marts.fct_demand_daily"))
    for shard in plan:
        warehouse.run_forecasts(pg, config=CONFIG, run_id="sharded", shard=shard, worker=f"w{shard.index}",
                                **PUBLISHED)
    published = warehouse.publish_shards(pg, "sharded", len(plan), **PUBLISHED)
    assert published["series_count"] == alone.series_count == 8
    assert published["workers"] == ["w0", "w1", "w2"]
    assert published["models_selected"] == alone.models_selected
    select = f"select {VALUES} from marts.forecast_values where run_id = %s order by 1, 2, 3"
    assert query(pg, select, ("sharded",)) == query(pg, select, ("alone",))
    assert query(pg, "select count(*) from forecast_staging.shard_values") == [(0,)]  # cleared on publish


def test_shards_become_visible_together_or_not_at_all(pg):
    warehouse.run_forecasts(pg, config=CONFIG, run_id="yesterday", generated_at=datetime(2024, 3, 31, tzinfo=UTC),
                            model_version="test-1", source="unit-test")
    before = query(pg, "select run_id, count(*) from marts.forecast_values group by run_id")
    plan = warehouse.plan_run(pg, "today", 2, CONFIG)
    warehouse.run_forecasts(pg, config=CONFIG, run_id="today", shard=plan[0], **PUBLISHED)
    warehouse.run_forecasts(pg, config=CONFIG, run_id="today", shard=plan[0], **PUBLISHED)  # a retried shard
    # one shard staged: nothing of today's run is in the marts, and publishing it refuses
    assert query(pg, "select run_id, count(*) from marts.forecast_values group by run_id") == before
    with pytest.raises(InputError, match=r"staged shards \[0\]"):
        warehouse.publish_shards(pg, "today", 2, **PUBLISHED)
    assert query(pg, "select run_id from marts.forecast_runs") == [("yesterday",)]
    warehouse.run_forecasts(pg, config=CONFIG, run_id="today", shard=plan[1], **PUBLISHED)
    warehouse.publish_shards(pg, "today", 2, **PUBLISHED)
    counts = dict(query(pg, "select run_id, count(*) from marts.forecast_values group by run_id"))
    assert counts["today"] == 8 * CONFIG.horizon  # every series once: the retried shard did not double
    assert warehouse.latest_run_id(pg) == "today"
    # a new plan for the run starts from scratch: a stale shard of an earlier plan is not published
    replanned = warehouse.plan_run(pg, "again", 2, CONFIG)
    warehouse.run_forecasts(pg, config=CONFIG, run_id="again", shard=replanned[1], **PUBLISHED)
    warehouse.plan_run(pg, "again", 2, CONFIG)
    with pytest.raises(InputError):
        warehouse.publish_shards(pg, "again", 2, **PUBLISHED)
