"""The dbt project against a real PostgreSQL: hand-written raw batches in, marts checked by hand.

One module-scoped warehouse, built twice (dbt invocations cost seconds, so assertions are grouped):

* round 1 - a full ``dbt build`` (seeds, snapshot, models, data tests, unit tests) over 10 days of
  data loaded in passed, rejected and not-yet-validated batches;
* round 2 - one more day of passed data (a new active material-site, a deactivated material, an
  updated material, a late correction of day 4) and ``dbt build --exclude tag:forecast`` as the
  DAG's transform step runs it (with a 2-day look-back): the incremental demand, stock and KPI marts
  grow and shrink correctly (and equal a --full-refresh rebuild) and the snapshots keep history.

The data set (days 2024-01-01 .. 2024-01-10):

  sites      SITE-1 gold, SITE-2 silver, SITE-3 bronze (inactive)
  materials  MAT-1, MAT-2, MAT-3 (inactive), MAT-4 ('Old' -> 'New'; a rejected batch says 'Rejected')
  on hand    MAT-1@SITE-1 20, MAT-2@SITE-1 5, MAT-2@SITE-2 3, MAT-4@SITE-2 0,
             MAT-3@SITE-1 4 (inactive material), MAT-1@SITE-3 9 (inactive site)
  demand     MAT-1@SITE-1: day 1: 2, day 3: 4 + 1 (movement 3 was 9, corrected to 4), day 10: 3
             MAT-2@SITE-1: day 2: 1; MAT-4@SITE-2: day 4: 2; MAT-2@SITE-2: none
             rejected batch: 50 on day 7; batch still 'loaded': 77 on day 8 (both must be ignored)
  receipts   MAT-1 from SUP-1 (preferred): lead times 4, 6, 8 days (+ 100 days in a rejected batch)
             MAT-2 from SUP-1: one receipt only -> quoted 10 days
"""

from __future__ import annotations

import json
import math
import statistics
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from dbt_harness import Loader, create_warehouse_tables, query, run_dbt

from nova_forecast.warehouse import FORECAST_INPUTS

DAYS = [f"2024-01-{day:02d}" for day in range(1, 11)]
T0 = "2024-01-01 00:00:00+00"
R1_PASSED = "2024-01-10"
R1_REJECTED = "2024-01-11"


def _family(family_id: str) -> dict[str, Any]:
    return {"family_id": family_id, "family_name": "Batteries", "category": "energy", "updated_at": T0}


def _material(material_id: str, *, name: str | None = None, active: bool = True, updated_at: str = T0,
              cost: str = "10.00") -> dict[str, Any]:
    return {"material_id": material_id, "material_name": name or f"Material {material_id}",
            "family_id": "FAM-E", "unit_of_measure": "unit", "unit_cost_brl": cost, "is_active": active,
            "created_at": T0, "updated_at": updated_at}


def _site(site_id: str, tier: str, *, active: bool = True) -> dict[str, Any]:
    return {"site_id": site_id, "site_name": f"Torre {site_id}", "city": "Salvador",
            "region": "Metropolitana de Salvador", "latitude": "-12.970000", "longitude": "-38.510000",
            "sla_tier": tier, "is_active": active, "commissioned_date": "2020-01-01", "updated_at": T0}


def _supplier(supplier_id: str) -> dict[str, Any]:
    return {"supplier_id": supplier_id, "supplier_name": f"Fornecedor {supplier_id}", "city": "Salvador",
            "state": "BA", "is_active": True, "updated_at": T0}


def _offer(supplier_id: str, material_id: str, quoted: int, preferred: bool) -> dict[str, Any]:
    return {"supplier_id": supplier_id, "material_id": material_id, "quoted_lead_time_days": quoted,
            "unit_price_brl": "9.50", "is_preferred": preferred, "updated_at": T0}


def _order(order_id: str, material_id: str, site_id: str, ordered: str, received: str | None, *,
           status: str | None = None, supplier_id: str = "SUP-1", quantity: str = "10",
           updated_at: str = T0) -> dict[str, Any]:
    return {"purchase_order_id": order_id, "supplier_id": supplier_id, "material_id": material_id,
            "site_id": site_id, "order_date": ordered, "expected_date": ordered, "received_date": received,
            "quantity_ordered": quantity, "quantity_received": quantity if received else None,
            "unit_price_brl": "9.50", "status": status or ("received" if received else "open"),
            "created_at": T0, "updated_at": updated_at}


def _movement(movement_id: int, material_id: str, site_id: str, day: str, quantity: str,
              movement_type: str = "consumption", updated_at: str | None = None) -> dict[str, Any]:
    stamp = updated_at or f"{day} 12:00:00+00"
    return {"movement_id": movement_id, "material_id": material_id, "site_id": site_id,
            "movement_type": movement_type, "movement_date": day, "quantity": quantity,
            "purchase_order_id": None, "created_at": stamp, "updated_at": stamp}


def _stock(material_id: str, site_id: str, quantity: str) -> dict[str, Any]:
    return {"material_id": material_id, "site_id": site_id, "quantity_on_hand": quantity,
            "updated_at": "2024-01-10 23:00:00+00"}


def load_round_one(loader: Loader) -> None:
    first = "2024-01-05 01:00:00+00"
    second = "2024-01-10 01:00:00+00"
    later = "2024-01-11 01:00:00+00"
    loader.batch("erp_material_families", [_family("FAM-E")], "erp.material_families|2024-01-05", "passed", first)
    loader.batch("erp_materials", [
        _material("MAT-1"), _material("MAT-2"), _material("MAT-3", active=False), _material("MAT-4", name="Old"),
    ], "erp.materials|2024-01-05", "passed", first)
    loader.batch("erp_materials", [_material("MAT-4", name="New", updated_at="2024-01-08 00:00:00+00")],
                 "erp.materials|2024-01-10", "passed", second)
    loader.batch("erp_materials", [_material("MAT-4", name="Rejected", updated_at="2024-01-10 12:00:00+00")],
                 "erp.materials|2024-01-11", "rejected", later)
    loader.batch("erp_sites", [_site("SITE-1", "gold"), _site("SITE-2", "silver"),
                               _site("SITE-3", "bronze", active=False)],
                 "erp.sites|2024-01-05", "passed", first)
    loader.batch("erp_suppliers", [_supplier("SUP-1"), _supplier("SUP-2")], "erp.suppliers|2024-01-05",
                 "passed", first)
    loader.batch("erp_supplier_materials", [
        _offer("SUP-1", "MAT-1", 5, True), _offer("SUP-2", "MAT-1", 3, False),
        _offer("SUP-1", "MAT-2", 10, True), _offer("SUP-2", "MAT-4", 7, True),
    ], "erp.supplier_materials|2024-01-05", "passed", first)
    loader.batch("erp_purchase_orders", [
        _order("PO-1", "MAT-1", "SITE-1", "2023-11-01", "2023-11-05"),
        _order("PO-2", "MAT-1", "SITE-1", "2023-11-10", "2023-11-16"),
        _order("PO-3", "MAT-1", "SITE-1", "2023-12-01", None),            # open in this version
        _order("PO-4", "MAT-2", "SITE-1", "2023-12-01", "2023-12-03"),
        _order("PO-5", "MAT-1", "SITE-1", "2023-12-02", "2023-12-20", supplier_id="SUP-2"),  # not preferred
    ], "erp.purchase_orders|2024-01-05", "passed", first)
    loader.batch("erp_purchase_orders", [
        _order("PO-3", "MAT-1", "SITE-1", "2023-12-01", "2023-12-09", updated_at="2024-01-09 00:00:00+00"),
        _order("PO-6", "MAT-2", "SITE-2", "2024-01-09", None, quantity="5"),  # open: on order
    ], "erp.purchase_orders|2024-01-10", "passed", second)
    loader.batch("erp_purchase_orders", [
        _order("PO-7", "MAT-1", "SITE-1", "2023-09-01", "2023-12-10", updated_at="2024-01-10 12:00:00+00"),
    ], "erp.purchase_orders|2024-01-11", "rejected", later)
    loader.batch("erp_stock_movements", [
        _movement(1, "MAT-1", "SITE-1", DAYS[0], "2"),
        _movement(2, "MAT-2", "SITE-1", DAYS[1], "1"),
        _movement(3, "MAT-1", "SITE-1", DAYS[2], "9"),
        _movement(4, "MAT-1", "SITE-1", DAYS[2], "1"),
        _movement(5, "MAT-4", "SITE-2", DAYS[3], "2"),
        _movement(6, "MAT-1", "SITE-1", DAYS[4], "10", "receipt"),
        _movement(7, "MAT-3", "SITE-1", DAYS[4], "3"),                    # inactive material
    ], "erp.stock_movements|2024-01-05", "passed", first)
    loader.batch("erp_stock_movements", [
        _movement(3, "MAT-1", "SITE-1", DAYS[2], "4", updated_at="2024-01-09 08:00:00+00"),  # correction
        _movement(8, "MAT-1", "SITE-1", DAYS[9], "3"),
    ], "erp.stock_movements|2024-01-10", "passed", second)
    loader.batch("erp_stock_movements", [_movement(9, "MAT-1", "SITE-1", DAYS[6], "50")],
                 "erp.stock_movements|2024-01-11", "rejected", later)
    loader.batch("erp_stock_movements", [_movement(10, "MAT-1", "SITE-1", DAYS[7], "77")],
                 "erp.stock_movements|2024-01-11b", "loaded", later)
    loader.batch("erp_stock_on_hand", [
        _stock("MAT-1", "SITE-1", "20"), _stock("MAT-2", "SITE-1", "5"), _stock("MAT-2", "SITE-2", "3"),
        _stock("MAT-4", "SITE-2", "0"), _stock("MAT-3", "SITE-1", "4"), _stock("MAT-1", "SITE-3", "9"),
    ], "erp.stock_on_hand|2024-01-10", "passed", second)
    # feeds: a re-delivered day replaces the first delivery; a rejected file never shows
    loader.batch("feed_weather_daily", [
        {"city": "Salvador", "weather_date": DAYS[0], "temperature_max_c": 30, "temperature_min_c": 24,
         "precipitation_mm": 1.5},
    ], "file:weather/weather_2024-01.csv|0a1b2c3d4e5f6a7b", "passed", first)
    loader.batch("feed_weather_daily", [
        {"city": "Salvador", "weather_date": DAYS[0], "temperature_max_c": 31, "temperature_min_c": 24,
         "precipitation_mm": 2.5},
    ], "file:weather/weather_2024-01-fix.csv|9a8b7c6d5e4f3a2b", "passed", second)
    loader.batch("feed_weather_daily", [
        {"city": "Ilhéus", "weather_date": DAYS[0], "temperature_max_c": 99, "temperature_min_c": 24,
         "precipitation_mm": -1},
    ], "file:weather/bad.csv|00ff00ff00ff00ff", "rejected", later)
    loader.batch("feed_economic_indicators", [
        {"indicator_date": DAYS[0], "usd_brl": "4.85", "selic_rate_pct": "11.75", "ipca_index": "6800.5"},
    ], "file:economic/eco_2024-01.csv|1f2e3d4c5b6a7988", "passed", first)
    # two forecast runs: fct_forecasts publishes the later one only
    for run_id, generated_at, version in (("run-1", "2024-01-10 06:00:00+00", "0.1.0"),
                                         ("run-2", "2024-01-11 06:00:00+00", "0.2.0")):
        loader.execute(
            "insert into marts.forecast_runs values (%s, %s, %s, %s, %s, '{}'::jsonb, 'fp', '{}'::jsonb, 1)",
            (run_id, version, generated_at, f"test:{run_id}", f"ds-{run_id}"),
        )
        for offset, yhat in ((1, 1.5), (2, 2.5)):
            loader.execute(
                "insert into marts.forecast_values values (%s, 'MAT-1', 'SITE-1', date '2024-01-10' + %s,"
                " %s, %s, %s, 0, %s, 'croston', 'intermittent', %s, %s, %s, %s)",
                (run_id, offset, yhat + (10 if run_id == "run-1" else 0), yhat / 2, yhat * 1.5, yhat * 3,
                 version, generated_at, f"test:{run_id}", f"ds-{run_id}"),
            )


def load_round_two(loader: Loader) -> None:
    at = "2024-01-12 01:00:00+00"
    day11 = "2024-01-11"
    loader.batch("erp_materials", [
        _material("MAT-1", cost="12.00", updated_at="2024-01-11 09:00:00+00"),     # price change
        _material("MAT-2", active=False, updated_at="2024-01-11 09:00:00+00"),     # deactivated
    ], "erp.materials|2024-01-12", "passed", at)
    loader.batch("erp_stock_movements", [
        _movement(11, "MAT-1", "SITE-1", day11, "1"),
        _movement(12, "MAT-2", "SITE-2", day11, "2"),
        # a late correction of day 4 (2 -> 3), older than round 2's look-back: its day (demand) and
        # its material-site's whole history (stock) are recomputed all the same
        _movement(5, "MAT-4", "SITE-2", DAYS[3], "3", updated_at="2024-01-11 10:00:00+00"),
    ], "erp.stock_movements|2024-01-12", "passed", at)
    loader.batch("erp_stock_on_hand", [_stock("MAT-1", "SITE-1", "19"), _stock("MAT-4", "SITE-1", "6")],
                 "erp.stock_on_hand|2024-01-12", "passed", at)
    # SUP-2 quotes MAT-1 one day longer (it is not the preferred supplier: no effect on reorder points)
    loader.batch("erp_supplier_materials", [{**_offer("SUP-2", "MAT-1", 4, False), "updated_at": "2024-01-11 09:00:00+00"}],
                 "erp.supplier_materials|2024-01-12", "passed", at)
    # the batch that was still being validated in round 1 is rejected by the gate
    loader.set_status("erp.stock_movements|2024-01-11b", "rejected")


def _capture(pg) -> dict[str, Any]:
    """Everything the assertions need, read right after a build."""
    return {
        "demand": query(pg, "select material_id, site_id, demand_date::text as day, quantity_consumed,"
                            " consumption_count from marts.fct_demand_daily order by 1, 2, 3"),
        "stock": query(pg, "select material_id, site_id, stock_date::text as day, opening_quantity_on_hand,"
                           " closing_quantity_on_hand, net_change_quantity from marts.fct_stock_daily"
                           " order by 1, 2, 3"),
        "kpis": query(pg, "select * from marts.fct_inventory_kpis_monthly order by 1, 2, 3"),
        "reorder": {(row["material_id"], row["site_id"]): row
                    for row in query(pg, "select * from marts.fct_reorder_points")},
        "items": {row["material_id"]: row for row in query(pg, "select * from marts.dim_item")},
        "snapshot": query(pg, "select material_id, unit_cost_brl, dbt_valid_to is null as is_current"
                              " from snapshots.snap_erp__materials order by material_id, dbt_valid_from"),
        "offers_snapshot": query(pg, "select supplier_id, material_id, quoted_lead_time_days, dbt_valid_from::text"
                                     " as valid_from, dbt_valid_to is null as is_current"
                                     " from snapshots.snap_erp__supplier_materials"
                                     " order by supplier_id, material_id, dbt_valid_from"),
    }


LOOKBACK_2 = "{demand_lookback_days: 2}"


@pytest.fixture(scope="module")
def target_path(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("dbt_target")


@pytest.fixture(scope="module")
def built(pg_module, target_path) -> dict[str, Any]:
    """Round 1 and round 2 builds; returns the results and the captured marts of both rounds."""
    create_warehouse_tables(pg_module)
    loader = Loader(pg_module)
    try:
        load_round_one(loader)
        first = run_dbt(pg_module, ["build"], target_path)
        state: dict[str, Any] = {"first": first, "round1": _capture(pg_module)}
        state["round1"]["staging_batches"] = query(pg_module, """
            select 'materials' as model, source_batch_id from staging.stg_erp__materials
            union all select 'movements', source_batch_id from staging.stg_erp__stock_movements
            union all select 'orders', source_batch_id from staging.stg_erp__purchase_orders
            union all select 'weather', source_batch_id from staging.stg_feeds__weather_observations""")
        state["round1"]["weather"] = query(pg_module, "select * from staging.stg_feeds__weather_observations")
        state["round1"]["economic"] = query(pg_module, "select * from staging.stg_feeds__economic_indicators")
        state["round1"]["forecasts"] = query(pg_module, "select * from marts.fct_forecasts order by forecast_date")
        load_round_two(loader)
        # a 2-day look-back (28 in production) so that the incremental facts keep most of round 1's
        # days and recompute only what changed
        state["second"] = run_dbt(pg_module, ["build", "--exclude", "tag:forecast", "--vars", LOOKBACK_2], target_path)
        state["round2"] = _capture(pg_module)
        # the incremental result must equal a rebuild from scratch
        run_dbt(pg_module, ["run", "--full-refresh", "--vars", LOOKBACK_2, "--select", "fct_demand_daily",
                            "fct_stock_daily", "fct_inventory_kpis_monthly"], target_path)
        rebuilt = _capture(pg_module)
        state["round2_rebuilt_demand"], state["round2_rebuilt_stock"] = rebuilt["demand"], rebuilt["stock"]
        state["round2_rebuilt_kpis"] = rebuilt["kpis"]
    finally:
        loader.close()
    return state


def _series(rows: list[dict[str, Any]], material_id: str, site_id: str, column: str) -> list[Any]:
    return [row[column] for row in rows if (row["material_id"], row["site_id"]) == (material_id, site_id)]


def test_build_passes_every_test_and_unit_test(built):
    statuses = built["first"].statuses()
    # the hand-made weather feed has one day: the drivers freshness test warns (and only warns)
    assert statuses.pop("test.nova_corrente.assert_demand_drivers_reach_the_demand") == "warn"
    failed = {node: status for node, status in statuses.items()
              if status not in ("success", "pass") and not (node.startswith("exposure.") and status == "no-op")}
    assert not failed, f"nodes not successful: {failed}\n{built['first'].output[-4000:]}"
    unit_tests = {node.split(".")[-1] for node in statuses if node.startswith("unit_test.")}
    assert unit_tests >= {
        "reorder_points_textbook_examples", "service_level_z_matches_normal_tables", "forecasts_come_from_the_latest_run",
        "lead_time_statistics_fall_back_to_quoted_below_three_receipts", "demand_statistics_use_the_window_ending_at_the_last_day",
        "material_site_classes_by_hand", "forecast_accuracy_by_hand", "stock_alerts_by_hand", "inventory_kpis_by_hand",
        "demand_factors_project_the_coming_lead_times_season_and_growth",
        "rainy_season_profile_smooths_around_the_year_end", "demand_drivers_fill_what_is_not_known_yet",
        "reorder_point_method_chosen_by_replay_evidence",
    }, unit_tests
    assert sum(node.startswith("snapshot.") for node in statuses) == 2
    assert sum(node.startswith("seed.") for node in statuses) == 2
    second = built["second"].statuses()
    assert second.pop("test.nova_corrente.assert_demand_drivers_reach_the_demand") == "warn"
    assert all(status in ("success", "pass") or node.startswith("exposure.") for node, status in second.items()), second
    assert not any("forecast" in node for node in second), "the forecast step builds separately"


def test_rejected_and_unvalidated_batches_never_reach_staging_or_marts(built):
    batches = {row["source_batch_id"] for row in built["round1"]["staging_batches"]}
    assert batches, "staging is empty"
    assert not {batch for batch in batches if "2024-01-11" in batch or "bad.csv" in batch}
    demand = built["round1"]["demand"]
    total = sum(row["quantity_consumed"] for row in demand)
    assert total == Decimal("13")   # 2 + 5 + 3 (MAT-1) + 1 (MAT-2) + 2 (MAT-4); not the 50 or 77
    assert built["round1"]["items"]["MAT-4"]["material_name"] == "New"
    # the rejected 100-day receipt does not move MAT-1's lead time
    assert built["round1"]["reorder"][("MAT-1", "SITE-1")]["avg_lead_time_days"] == Decimal("6")
    # later runs keep it out too, and the batch rejected after round 1 disappears from the marts
    assert sum(row["quantity_consumed"] for row in built["round2"]["demand"]
               if row["material_id"] == "MAT-1") == Decimal("11")


def test_latest_passed_version_wins(built):
    demand = built["round1"]["demand"]
    assert _series(demand, "MAT-1", "SITE-1", "quantity_consumed")[2] == Decimal("5")   # 4 (not 9) + 1
    weather = built["round1"]["weather"]
    assert [(row["city"], row["temperature_max_c"], row["precipitation_mm"]) for row in weather] == [
        ("Salvador", Decimal("31.00"), Decimal("2.50"))
    ]
    economic = built["round1"]["economic"]
    assert [(str(row["indicator_date"]), row["usd_brl"], row["selic_rate_pct"]) for row in economic] == [
        ("2024-01-01", Decimal("4.850000"), Decimal("11.7500"))
    ]
    reorder = built["round1"]["reorder"]
    # PO-3 was open in its first version and received in the second: it counts as a receipt
    assert reorder[("MAT-1", "SITE-1")]["receipt_count"] == 3
    assert reorder[("MAT-2", "SITE-2")]["quantity_on_order"] == Decimal("5")


def test_demand_is_zero_filled_over_active_material_sites(built):
    demand = built["round1"]["demand"]
    pairs = sorted({(row["material_id"], row["site_id"]) for row in demand})
    assert pairs == [("MAT-1", "SITE-1"), ("MAT-2", "SITE-1"), ("MAT-2", "SITE-2"), ("MAT-4", "SITE-2")]
    for material_id, site_id in pairs:
        assert [row["day"] for row in demand if (row["material_id"], row["site_id"]) == (material_id, site_id)] == DAYS
    assert _series(demand, "MAT-1", "SITE-1", "quantity_consumed") == [
        Decimal(value) for value in ("2", "0", "5", "0", "0", "0", "0", "0", "0", "3")
    ]
    assert _series(demand, "MAT-1", "SITE-1", "consumption_count") == [1, 0, 2, 0, 0, 0, 0, 0, 0, 1]
    assert set(_series(demand, "MAT-2", "SITE-2", "quantity_consumed")) == {Decimal("0")}


def test_stock_is_reconstructed_back_from_stock_on_hand(built):
    stock = built["round1"]["stock"]
    closing = _series(stock, "MAT-1", "SITE-1", "closing_quantity_on_hand")
    # on hand 20 at the end; going back: +3 (day 10), -10 receipt (day 5), +5 (day 3), +2 (day 1)
    assert closing == [Decimal(value) for value in ("18", "18", "13", "13", "23", "23", "23", "23", "23", "20")]
    assert _series(stock, "MAT-1", "SITE-1", "opening_quantity_on_hand")[0] == Decimal("20")


def _hand_computed_reorder_point(service_level: float, demand: list[float], lead_times: list[float],
                                 on_hand: float, on_order: float = 0.0, review_days: int = 7):
    d, sd = statistics.fmean(demand), statistics.stdev(demand)
    lead, sd_lead = statistics.fmean(lead_times), (statistics.stdev(lead_times) if len(lead_times) > 1 else 0.0)
    z = statistics.NormalDist().inv_cdf(service_level)
    safety = z * math.sqrt(lead * sd ** 2 + d ** 2 * sd_lead ** 2)
    reorder_point = round(d * lead + safety, 2)
    position = on_hand + on_order
    order = math.ceil(round(reorder_point + d * review_days - position, 6)) if position < reorder_point else 0
    return round(z, 6), round(safety, 2), reorder_point, order


def test_reorder_points_equal_hand_computed_values(built):
    reorder = built["round1"]["reorder"]
    assert set(reorder) == {("MAT-1", "SITE-1"), ("MAT-2", "SITE-1"), ("MAT-2", "SITE-2"), ("MAT-4", "SITE-2")}
    # MAT-1 @ SITE-1 (gold, 99%): demand 2,0,5,0,0,0,0,0,0,3 -> d 1, sd sqrt(28/9); observed lead
    # times 4, 6, 8 from the preferred supplier -> L 6, sd_L 2. SS = 2.326348 * sqrt(6*28/9 + 1*4)
    row = reorder[("MAT-1", "SITE-1")]
    z, safety, rop, order = _hand_computed_reorder_point(0.99, [2, 0, 5, 0, 0, 0, 0, 0, 0, 3], [4, 6, 8], 20)
    assert (safety, rop) == (11.08, 17.08)
    assert float(row["service_level_z"]) == z == 2.326348
    assert float(row["avg_daily_demand"]) == 1.0
    assert float(row["std_daily_demand"]) == pytest.approx(math.sqrt(28 / 9), abs=1e-4)
    assert (float(row["avg_lead_time_days"]), float(row["std_lead_time_days"])) == (6.0, 2.0)
    assert row["lead_time_source"] == "observed"
    assert (float(row["safety_stock"]), float(row["reorder_point"])) == (safety, rop)
    assert row["is_below_reorder_point"] is False and row["suggested_order_quantity"] == order == 0
    # MAT-2 @ SITE-2 (silver, 95%): no demand at all -> SS 0, ROP 0; one receipt only -> quoted 10 days
    row = reorder[("MAT-2", "SITE-2")]
    assert row["lead_time_source"] == "quoted" and float(row["avg_lead_time_days"]) == 10.0
    assert (float(row["safety_stock"]), float(row["reorder_point"])) == (0.0, 0.0)
    # MAT-4 @ SITE-2 (silver, 95%): demand 2 on one day of ten, quoted 7 days, nothing on hand
    row = reorder[("MAT-4", "SITE-2")]
    z, safety, rop, order = _hand_computed_reorder_point(0.95, [0, 0, 0, 2, 0, 0, 0, 0, 0, 0], [7], 0)
    assert float(row["service_level_z"]) == z == 1.644854
    assert (float(row["safety_stock"]), float(row["reorder_point"])) == (safety, rop)
    assert row["is_below_reorder_point"] is True
    assert row["suggested_order_quantity"] == order > 0
    assert row["method"] == "normal"


def test_forecast_mart_publishes_the_latest_run(built):
    forecasts = built["round1"]["forecasts"]
    assert [(row["run_id"], row["yhat"], row["model_version"], row["source"], row["dataset_id"])
            for row in forecasts] == [("run-2", 1.5, "0.2.0", "test:run-2", "ds-run-2"),
                                      ("run-2", 2.5, "0.2.0", "test:run-2", "ds-run-2")]


def test_incremental_demand_follows_new_days_and_active_material_sites(built):
    demand = built["round2"]["demand"]
    days = [*DAYS, "2024-01-11"]
    pairs = sorted({(row["material_id"], row["site_id"]) for row in demand})
    # MAT-2 deactivated -> its rows are gone; MAT-4 @ SITE-1 newly stocked -> its full history
    assert pairs == [("MAT-1", "SITE-1"), ("MAT-4", "SITE-1"), ("MAT-4", "SITE-2")]
    for material_id, site_id in pairs:
        assert [row["day"] for row in demand if (row["material_id"], row["site_id"]) == (material_id, site_id)] == days
    assert _series(demand, "MAT-1", "SITE-1", "quantity_consumed")[-1] == Decimal("1")
    assert set(built["round2"]["reorder"]) == set(pairs)
    assert demand == built["round2_rebuilt_demand"], "incremental differs from a full refresh"
    stock = built["round2"]["stock"]
    assert stock == built["round2_rebuilt_stock"], "incremental stock differs from a full refresh"
    assert built["round2"]["kpis"] == built["round2_rebuilt_kpis"], "incremental KPIs differ from a full refresh"
    # the late correction of day 4 reached both facts
    assert _series(demand, "MAT-4", "SITE-2", "quantity_consumed")[3] == Decimal("3")
    assert _series(stock, "MAT-4", "SITE-2", "net_change_quantity")[3] == Decimal("-3")
    assert sorted({(row["material_id"], row["site_id"]) for row in stock}) == pairs
    assert stock[-1]["day"] == "2024-01-11"
    # MAT-1 @ SITE-1: the rows of round 1 were kept or rewritten and still end at the new on-hand (19)
    assert _series(stock, "MAT-1", "SITE-1", "closing_quantity_on_hand")[-2:] == [Decimal("20"), Decimal("19")]


def test_snapshot_keeps_material_history(built):
    assert [(row["material_id"], row["is_current"]) for row in built["round1"]["snapshot"]] == [
        ("MAT-1", True), ("MAT-2", True), ("MAT-3", True), ("MAT-4", True)
    ]
    history = [(row["material_id"], row["unit_cost_brl"], row["is_current"]) for row in built["round2"]["snapshot"]
               if row["material_id"] == "MAT-1"]
    assert history == [("MAT-1", Decimal("10.00"), False), ("MAT-1", Decimal("12.00"), True)]


def test_snapshot_keeps_supplier_lead_time_history(built):
    assert len(built["round1"]["offers_snapshot"]) == 4
    assert all(row["is_current"] for row in built["round1"]["offers_snapshot"])
    history = [(row["quoted_lead_time_days"], row["valid_from"][:10], row["is_current"])
               for row in built["round2"]["offers_snapshot"] if (row["supplier_id"], row["material_id"]) == ("SUP-2", "MAT-1")]
    # the version valid from the offer's updated_at, closed by the one quoted on 2024-01-11
    assert history == [(3, "2024-01-01", False), (4, "2024-01-11", True)]
    assert sum(row["is_current"] for row in built["round2"]["offers_snapshot"]) == 4


def test_every_built_column_is_documented(built, pg_module, target_path):
    """Stricter than the manifest check of test_project_conventions (which sees only the columns
    written in YAML): every column of every relation a model built has a description."""
    manifest = json.loads((target_path / "manifest.json").read_text())
    documented = {
        (node["schema"], node["alias"]): {name for name, column in node["columns"].items() if column["description"].strip()}
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["package_name"] == "nova_corrente"
    }
    columns = query(pg_module, "select table_schema, table_name, column_name from information_schema.columns"
                               " where table_schema in ('staging', 'intermediate', 'marts')")
    missing = sorted(
        f"{row['table_schema']}.{row['table_name']}.{row['column_name']}" for row in columns
        if (row["table_schema"], row["table_name"]) in documented
        and row["column_name"] not in documented[(row["table_schema"], row["table_name"])]
    )
    assert not missing, "columns without a description:\n" + "\n".join(missing)


def test_every_table_is_analyzed_as_soon_as_it_is_built(built, pg_module, target_path):
    """The analyze_table post-hook: a table read later in the same run has statistics (a manual
    ANALYZE, not autovacuum's), so the planner does not guess its row count; views are left alone."""
    manifest = json.loads((target_path / "manifest.json").read_text())
    materialized = {
        (node["schema"], node["alias"]): node["config"]["materialized"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["package_name"] == "nova_corrente"
    }
    analyzed = {(row["schemaname"], row["relname"]): row["last_analyze"] for row in query(
        pg_module, "select schemaname, relname, last_analyze from pg_stat_user_tables")}
    tables = {relation for relation, kind in materialized.items() if kind in ("table", "incremental")}
    assert {("intermediate", "int_demand_aggregated_to_daily"), ("intermediate", "int_lead_time_demands_bootstrapped"),
            ("marts", "fct_demand_daily")} <= tables
    assert sorted(relation for relation in tables if analyzed.get(relation) is None) == []
    assert all(kind == "view" for relation, kind in materialized.items() if relation not in analyzed)


def test_column_names_say_their_type(built, pg_module):
    """STYLE.md: booleans is_/has_, dates <event>_date, UTC timestamps <event>_at (dbt's relations)."""
    wrong = query(pg_module, r"""
        select table_schema || '.' || table_name || '.' || column_name || ' (' || data_type || ')' as wrong
        from information_schema.columns
        where table_schema in ('staging', 'intermediate', 'marts')
            and table_name not in ('forecast_runs', 'forecast_values')   -- the forecast task's tables
            and (
                (data_type = 'boolean' and column_name !~ '^(is|has)_')
                or (data_type = 'date' and column_name !~ '_date$')
                or (data_type like 'timestamp%' and column_name !~ '_at$')
            )
        order by 1""")
    assert not wrong, "\n".join(row["wrong"] for row in wrong)


def test_marts_have_indexes_and_are_readable_by_the_bi_role(built, pg_module):
    indexes = query(pg_module, "select tablename, indexdef from pg_indexes where schemaname = 'marts'")
    definitions = {row["tablename"]: [] for row in indexes}
    for row in indexes:
        definitions[row["tablename"]].append(row["indexdef"])
    # BI reads 30-day series of one material at one site: (material_id, site_id, <date>) on the daily facts
    for table, date_column in (("fct_demand_daily", "demand_date"), ("fct_stock_daily", "stock_date"),
                               ("fct_forecasts", "forecast_date")):
        assert any("UNIQUE" in d and f"(material_id, site_id, {date_column})" in d for d in definitions[table]), table
    assert any("(material_id, site_id)" in d for d in definitions["fct_reorder_points"])
    assert any("UNIQUE" in d and "(material_id, site_id)" in d for d in definitions["fct_stock_alerts"])
    assert any("UNIQUE" in d and "(purchase_order_id)" in d for d in definitions["fct_purchase_orders"])
    assert any("(material_id, site_id, order_date)" in d for d in definitions["fct_purchase_orders"])
    assert any("UNIQUE" in d and "(site_id, family_id, month_start_date)" in d
               for d in definitions["fct_inventory_kpis_monthly"])
    assert any("UNIQUE" in d and "(run_id, material_id, site_id, model)" in d for d in definitions["fct_forecast_accuracy"])
    privileges = query(pg_module, """
        select
            has_schema_privilege('nova_bi_reader', 'marts', 'usage') as uses_marts,
            has_table_privilege('nova_bi_reader', 'marts.fct_reorder_points', 'select') as reads_reorder,
            has_table_privilege('nova_bi_reader', 'marts.fct_demand_daily', 'select') as reads_demand,
            has_table_privilege('nova_bi_reader', 'marts.fct_reorder_points', 'insert') as writes_reorder,
            has_schema_privilege('nova_bi_reader', 'staging', 'usage') as uses_staging,
            has_table_privilege('nova_forecaster', 'marts.dim_item', 'select') as forecaster_reads_items,
            (select array_agg(distinct tableowner) from pg_tables where schemaname in ('staging', 'marts',
             'snapshots') and tablename not in ('forecast_runs', 'forecast_values', 'reorder_point_replays'))
             as owners""")[0]
    # dbt built everything as nova_transformer; its grants config opened the published marts to BI
    # and what the forecast task reads (only that) to the forecaster
    assert privileges == {"uses_marts": True, "reads_reorder": True, "reads_demand": True,
                          "writes_reorder": False, "uses_staging": False, "forecaster_reads_items": False,
                          "owners": ["nova_transformer"]}
    for table in FORECAST_INPUTS:
        assert query(pg_module, "select has_table_privilege('nova_forecaster', %s, 'select') as reads",
                     (table,)) == [{"reads": True}], table


def test_dim_date_has_bahia_holidays(built, pg_module):
    rows = query(pg_module, "select calendar_date::text as day, is_holiday, holiday_name, is_business_day,"
                            " day_of_week from marts.dim_date where calendar_date in"
                            " ('2023-11-01', '2024-01-01', '2024-01-02', '2024-07-02', '2024-01-06')"
                            " order by calendar_date")
    assert [(row["day"], row["is_holiday"], row["is_business_day"]) for row in rows] == [
        ("2023-11-01", False, True),     # first data date (PO-1's order date)
        ("2024-01-01", True, False),     # Confraternização Universal
        ("2024-01-02", False, True),
        ("2024-01-06", False, False),    # Saturday
        ("2024-07-02", True, False),     # Independência da Bahia (state holiday)
    ]
    assert rows[-1]["holiday_name"] == "Independência da Bahia"


def test_macros_match_the_normal_distribution_to_1e_9(built, pg_module, target_path):
    """service_level_z on a grid of 0.5..0.9999 (and the lower half) against Python's NormalDist;
    safety_stock / reorder_point against the formula; NULL outside (0, 1) and for negative inputs."""
    inline = (
        "select p, {{ service_level_z('p') }} as z,"
        " {{ safety_stock('p', 'd', 'sd', 'l', 'sdl') }} as ss,"
        " {{ reorder_point('p', 'd', 'sd', 'l', 'sdl') }} as rop"
        " from macro_grid"
    )
    compiled = run_dbt(pg_module, ["compile", "--quiet", "--inline", inline], target_path).output
    sql = compiled[compiled.index("select p,"):].strip()
    grid = [0.5 + i * (0.4999 / 2000) for i in range(2001)] + [0.9999, 1e-6, 0.02425, 0.3, 0.075, 1 - 1e-12]
    rows = query(pg_module, f"""
        with macro_grid as (
            select p, 10.0 as d, 3.0 as sd, 4.0 as l, 1.0 as sdl from unnest(%s::float8[]) as grid (p)
        )
        {sql}""", (grid,))
    normal = statistics.NormalDist()
    worst = max(abs(row["z"] - normal.inv_cdf(row["p"])) for row in rows)
    assert worst < 1e-9
    for row in rows:
        # independent check: Phi(z) = p
        assert 0.5 * math.erfc(-row["z"] / math.sqrt(2)) == pytest.approx(row["p"], rel=1e-12, abs=1e-15)
        assert row["ss"] == pytest.approx(row["z"] * math.sqrt(4 * 9 + 100 * 1), rel=1e-12, abs=1e-12)
        assert row["rop"] == pytest.approx(40 + row["ss"], rel=1e-12)
    edge = query(pg_module, sql.replace("from macro_grid", """from (values
            (0.0, 10.0, 3.0, 4.0, 1.0), (1.0, 10.0, 3.0, 4.0, 1.0), (-0.5, 10.0, 3.0, 4.0, 1.0),
            (null, 10.0, 3.0, 4.0, 1.0), (0.95, -1.0, 3.0, 4.0, 1.0), (0.95, 10.0, 3.0, -4.0, 1.0),
            (0.95, 10.0, 3.0, 4.0, 1.0)) as macro_grid (p, d, sd, l, sdl)"""))
    assert [row["z"] for row in edge[:4]] == [None] * 4                    # p outside (0, 1) or NULL
    assert [(row["ss"], row["rop"]) for row in edge[:6]] == [(None, None)] * 6  # ... or a negative input
    assert round(edge[6]["z"], 6) == 1.644854 and round(edge[6]["ss"], 2) == 19.18
    assert round(edge[6]["rop"], 2) == 59.18
