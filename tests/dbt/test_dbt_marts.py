"""The planners' marts on a small hand-written warehouse, checked against numbers worked out by hand.

One module-scoped warehouse and one ``dbt build`` (plus one ``dbt source freshness``); every test
reads what it needs from that build. The data set, four weeks from Monday 2024-02-12 to Sunday
2024-03-10 (the calendar of the marts runs from the first to the last movement):

  materials   M-A (FAM-A, 100 BRL), M-B (FAM-B, 10 BRL), M-C (FAM-C, 5 BRL), M-D (FAM-B, 1 BRL),
              M-E (FAM-E, 50 BRL); one supplier SUP-1, preferred for all, quoted lead times
              M-A 30, M-B 2, M-C 10, M-D 30, M-E 5 days (one receipt each at most -> quoted)
  on hand     SITE-A: M-A 1, M-B 1, M-C 0, M-D 4, M-E 5;  SITE-B: M-C 1000, M-B 7
  consumption (weeks Feb 12-18 | Feb 19-25 | Feb 26-Mar 3 | Mar 4-10)
              M-A@A  Feb 14: 1, Feb 21: 2, Feb 28: 1, Mar 6: 2      weekly 1, 2, 1, 2
              M-B@A  Feb 14: 10, Feb 28: 5, Mar 6: 10              weekly 10, 0, 5, 10
                     + receipt of PO-2 on Feb 15: 15
              M-C@A  Mar 6: 20 (its whole stock: out of stock from then on)
              M-D@A  Feb 12: 12, Feb 21: 13, Feb 28: 12, Mar 10: 13  weekly 12, 13, 12, 13
              M-C@B  Feb 20: 3
  orders      PO-1 M-A ordered Feb 1, expected Feb 11, received Feb 10, 10 of 10
              PO-2 M-B ordered Feb 5, expected Feb 12, received Feb 15, 15 of 20 (receipt movement)
              PO-3 M-A ordered Mar 8, expected Mar 20, open, 10;  PO-4 M-D cancelled
  forecasts   run-old (Mar 3): M-A 0.5/day and M-E 0/day for Mar 4-10
              run-mid (Mar 8): M-A 1/day for Mar 9-12
              run-new (Mar 10, the latest): M-A 0.1/day Mar 11-13, M-B 0.3/day Mar 11-16,
              M-D 1.5/day Mar 11-13
"""

from __future__ import annotations

import json
import math
import statistics
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from dbt_harness import Loader, create_warehouse_tables, query, run_dbt

NOW = datetime.now(UTC).replace(microsecond=0)
RECENT = (NOW - timedelta(hours=2)).isoformat()          # fresh: loaded two hours ago
MONTH_OLD = (NOW - timedelta(days=40)).isoformat()       # a monthly file 40 days old: late (warn)
T0 = "2024-01-01 00:00:00+00"
FIRST_DAY, LAST_DAY = date(2024, 2, 12), date(2024, 3, 10)

COSTS = {"M-A": "100.00", "M-B": "10.00", "M-C": "5.00", "M-D": "1.00", "M-E": "50.00"}
FAMILIES = {"M-A": "FAM-A", "M-B": "FAM-B", "M-C": "FAM-C", "M-D": "FAM-B", "M-E": "FAM-E"}
QUOTED = {"M-A": 30, "M-B": 2, "M-C": 10, "M-D": 30, "M-E": 5}
ON_HAND = {("M-A", "SITE-A"): 1, ("M-B", "SITE-A"): 1, ("M-C", "SITE-A"): 0, ("M-D", "SITE-A"): 4,
           ("M-E", "SITE-A"): 5, ("M-C", "SITE-B"): 1000, ("M-B", "SITE-B"): 7}
CONSUMPTION = {
    ("M-A", "SITE-A"): {"2024-02-14": 1, "2024-02-21": 2, "2024-02-28": 1, "2024-03-06": 2},
    ("M-B", "SITE-A"): {"2024-02-14": 10, "2024-02-28": 5, "2024-03-06": 10},
    ("M-C", "SITE-A"): {"2024-03-06": 20},
    ("M-D", "SITE-A"): {"2024-02-12": 12, "2024-02-21": 13, "2024-02-28": 12, "2024-03-10": 13},
    ("M-C", "SITE-B"): {"2024-02-20": 3},
}
FORECASTS = {  # run_id -> (generated_at, [(material_id, first day, days, yhat)])
    "run-old": ("2024-03-03 06:00:00+00", [("M-A", "2024-03-04", 7, 0.5), ("M-E", "2024-03-04", 7, 0.0)]),
    "run-mid": ("2024-03-08 06:00:00+00", [("M-A", "2024-03-09", 4, 1.0)]),
    "run-new": ("2024-03-10 06:00:00+00", [("M-A", "2024-03-11", 3, 0.1), ("M-B", "2024-03-11", 6, 0.3),
                                           ("M-D", "2024-03-11", 3, 1.5)]),
}


def _order(order_id: str, material_id: str, ordered: str, expected: str, received: str | None,
           quantity: str, received_quantity: str | None, status: str) -> dict[str, Any]:
    return {"purchase_order_id": order_id, "supplier_id": "SUP-1", "material_id": material_id,
            "site_id": "SITE-A", "order_date": ordered, "expected_date": expected, "received_date": received,
            "quantity_ordered": quantity, "quantity_received": received_quantity,
            "unit_price_brl": COSTS[material_id], "status": status, "created_at": T0,
            "updated_at": f"{received or ordered} 18:00:00+00"}


def load_data_set(loader: Loader) -> None:
    """The data set of the module docstring, every batch passed and loaded two hours ago."""
    def batch(table: str, rows: list[dict[str, Any]], loaded_at: str = RECENT, suffix: str = "") -> None:
        loader.batch(table, rows, f"{table}|{NOW.date()}{suffix}", "passed", loaded_at)

    batch("erp_material_families", [
        {"family_id": family, "family_name": family, "category": "energy", "updated_at": T0}
        for family in sorted(set(FAMILIES.values()))
    ])
    batch("erp_materials", [
        {"material_id": material, "material_name": material, "family_id": FAMILIES[material],
         "unit_of_measure": "unit", "unit_cost_brl": cost, "is_active": True, "created_at": T0, "updated_at": T0}
        for material, cost in COSTS.items()
    ])
    batch("erp_sites", [
        {"site_id": site, "site_name": site, "city": "Salvador", "region": "Metropolitana de Salvador",
         "latitude": "-12.97", "longitude": "-38.51", "sla_tier": "gold", "is_active": True,
         "commissioned_date": "2020-01-01", "updated_at": T0}
        for site in ("SITE-A", "SITE-B")
    ])
    batch("erp_suppliers", [{"supplier_id": "SUP-1", "supplier_name": "Fornecedor", "city": "Salvador",
                             "state": "BA", "is_active": True, "updated_at": T0}])
    batch("erp_supplier_materials", [
        {"supplier_id": "SUP-1", "material_id": material, "quoted_lead_time_days": days,
         "unit_price_brl": COSTS[material], "is_preferred": True, "updated_at": T0}
        for material, days in QUOTED.items()
    ])
    batch("erp_purchase_orders", [
        _order("PO-1", "M-A", "2024-02-01", "2024-02-11", "2024-02-10", "10", "10", "received"),
        _order("PO-2", "M-B", "2024-02-05", "2024-02-12", "2024-02-15", "20", "15", "received"),
        _order("PO-3", "M-A", "2024-03-08", "2024-03-20", None, "10", None, "open"),
        _order("PO-4", "M-D", "2024-02-20", "2024-03-01", None, "30", None, "cancelled"),
    ])
    movements = []
    for (material, site), days in CONSUMPTION.items():
        for day, quantity in days.items():
            movements.append((material, site, "consumption", day, quantity, None))
    movements.append(("M-B", "SITE-A", "receipt", "2024-02-15", 15, "PO-2"))
    batch("erp_stock_movements", [
        {"movement_id": number, "material_id": material, "site_id": site, "movement_type": kind,
         "movement_date": day, "quantity": str(quantity), "purchase_order_id": order,
         "created_at": f"{day} 12:00:00+00", "updated_at": f"{day} 12:00:00+00"}
        for number, (material, site, kind, day, quantity, order) in enumerate(movements, start=1)
    ])
    batch("erp_stock_on_hand", [
        {"material_id": material, "site_id": site, "quantity_on_hand": str(quantity),
         "updated_at": "2024-03-10 23:00:00+00"}
        for (material, site), quantity in ON_HAND.items()
    ])
    batch("feed_weather_daily", [{"city": "Salvador", "weather_date": "2024-03-10", "precipitation_mm": 0,
                                  "temperature_max_c": 30, "temperature_min_c": 24}])
    batch("feed_economic_indicators", [{"indicator_date": "2024-03-10", "usd_brl": "4.95",
                                        "selic_rate_pct": "10.75", "ipca_index": "6900.1"}])
    # the February 5G file, delivered twice (a correction): the later delivery wins
    anatel = {"city": "Salvador", "reference_month": "2024-02-01", "operator": "Claro"}
    batch("feed_anatel_5g_rollout", [{**anatel, "stations_5g": 10, "population_covered_pct": "5.0"}],
          loaded_at=(NOW - timedelta(days=41)).isoformat(), suffix="a")
    batch("feed_anatel_5g_rollout", [{**anatel, "stations_5g": 12, "population_covered_pct": "6.5"},
                                     {**anatel, "operator": "Vivo", "stations_5g": 3, "population_covered_pct": "1.2"}],
          loaded_at=MONTH_OLD, suffix="b")
    for run_id, (generated_at, series) in FORECASTS.items():
        loader.execute(
            "insert into marts.forecast_runs values (%s, '1.0.0', %s, 'test', %s, '{}'::jsonb, 'fp', '{}'::jsonb, %s)",
            (run_id, generated_at, f"ds-{run_id}", len(series)),
        )
        for material, first, days, yhat in series:
            for offset in range(days):
                loader.execute(
                    "insert into marts.forecast_values values (%s, %s, 'SITE-A', date %s + %s, %s, 0, %s, 0, %s,"
                    " 'ets', 'smooth', '1.0.0', %s, 'test', %s)",
                    (run_id, material, first, offset, yhat, yhat * 2, yhat * 3, generated_at, f"ds-{run_id}"),
                )


@pytest.fixture(scope="module")
def marts(pg_module, tmp_path_factory) -> dict[str, Any]:
    """Build once; return every mart row the tests read, keyed for lookup."""
    target = tmp_path_factory.mktemp("dbt_marts_target")
    create_warehouse_tables(pg_module)
    loader = Loader(pg_module)
    try:
        load_data_set(loader)
    finally:
        loader.close()
    # the unit tests run in test_dbt_build.py; here the models, snapshots and data tests
    build = run_dbt(pg_module, ["build", "--exclude", "test_type:unit"], target)
    freshness = run_dbt(pg_module, ["source", "freshness", "--output", str(target / "sources.json")], target,
                        check=False)

    def rows(sql: str) -> list[dict[str, Any]]:
        return query(pg_module, sql)

    def by_key(sql: str, *key: str) -> dict[Any, dict[str, Any]]:
        return {tuple(row[column] for column in key) if len(key) > 1 else row[key[0]]: row for row in rows(sql)}

    return {
        "build": build,
        "freshness": freshness,
        "sources": json.loads((target / "sources.json").read_text()),
        "classes": by_key("select * from intermediate.int_material_sites_classified", "material_id", "site_id"),
        "orders": by_key("select * from marts.fct_purchase_orders", "purchase_order_id"),
        "receipts": rows("select * from intermediate.int_receipts_linked_to_purchase_orders"),
        "kpis": by_key("select *, month_start_date::text as month from marts.fct_inventory_kpis_monthly",
                       "site_id", "family_id", "month"),
        "accuracy": by_key("select * from marts.fct_forecast_accuracy", "run_id", "material_id"),
        "alerts": by_key("select * from marts.fct_stock_alerts", "material_id", "site_id"),
        "stock": rows("select material_id, site_id, stock_date, closing_quantity_on_hand from marts.fct_stock_daily"
                      " order by 1, 2, 3"),
        "anatel": rows("select city, month_start_date::text as month, operator, stations_5g, population_covered_pct"
                       " from staging.stg_feeds__anatel_5g_rollouts order by operator"),
    }


def test_build_passes(marts):
    statuses = marts["build"].statuses()
    failed = {node: status for node, status in statuses.items()
              if status not in ("success", "pass") and not (node.startswith("exposure.") and status == "no-op")}
    assert not failed, f"{failed}\n{marts['build'].output[-4000:]}"
    ours = {"int_material_sites_classified", "int_receipts_linked_to_purchase_orders", "fct_purchase_orders",
            "fct_inventory_kpis_monthly", "fct_forecast_accuracy", "fct_stock_alerts"}
    assert ours <= {node.split(".")[-1] for node in statuses if node.startswith("model.")}


def test_abc_classes_follow_the_80_15_5_rule_per_site(marts):
    classes = marts["classes"]
    # SITE-A over the 28 days: M-A 6 x 100 = 600, M-B 25 x 10 = 250, M-C 20 x 5 = 100, M-D 50 x 1 = 50,
    # M-E 0; total 1000. Value ranked above: M-A 0 -> A; M-B 600 < 800 -> A; M-C 850 < 950 -> B;
    # M-D 950 (not < 950) -> C; M-E has no consumption -> C.
    assert {material: row["abc_class"] for (material, site), row in classes.items() if site == "SITE-A"} == {
        "M-A": "A", "M-B": "A", "M-C": "B", "M-D": "C", "M-E": "C"}
    # annual value: the 28 days scaled to 365
    assert classes[("M-A", "SITE-A")]["annual_consumption_value_brl"] == Decimal(str(round(600 * 365 / 28, 2)))
    assert classes[("M-E", "SITE-A")]["annual_consumption_value_brl"] == Decimal("0.00")
    assert [float(classes[(m, "SITE-A")]["cumulative_consumption_value_share"]) for m in ("M-A", "M-B", "M-C", "M-D")] \
        == [0.6, 0.85, 0.95, 1.0]
    # per site: at SITE-B M-C is the only consumption (3 x 5), so it is A there; M-B without demand is C
    assert classes[("M-C", "SITE-B")]["abc_class"] == "A" and classes[("M-B", "SITE-B")]["abc_class"] == "C"


def test_xyz_classes_follow_the_weekly_coefficient_of_variation(marts):
    classes = marts["classes"]
    weekly = {"M-A": [1, 2, 1, 2], "M-B": [10, 0, 5, 10], "M-C": [0, 0, 0, 20], "M-D": [12, 13, 12, 13]}
    expected_class = {"M-A": "X", "M-B": "Y", "M-C": "Z", "M-D": "X"}
    for material, weeks in weekly.items():
        row = classes[(material, "SITE-A")]
        cv = statistics.stdev(weeks) / statistics.fmean(weeks)   # M-A 0.385, M-B 0.766, M-C 2, M-D 0.046
        assert row["weekly_demand_weeks"] == 4
        assert float(row["weekly_demand_cv"]) == pytest.approx(cv, abs=1e-6)
        assert row["xyz_class"] == expected_class[material], material
    # no demand: the cv is undefined -> Z
    assert classes[("M-E", "SITE-A")]["weekly_demand_cv"] is None and classes[("M-E", "SITE-A")]["xyz_class"] == "Z"


def test_purchase_orders_measure_supplier_performance(marts):
    orders = marts["orders"]
    po1, po2, po3, po4 = (orders[f"PO-{n}"] for n in range(1, 5))
    # PO-1: 9 days (promised 10), one day early, complete
    assert (po1["lead_time_days"], po1["expected_lead_time_days"], po1["days_late"], po1["is_on_time"],
            po1["fill_ratio"]) == (9, 10, -1, True, Decimal("1.0000"))
    # PO-2: 10 days, three days late, 15 of 20 = 0.75; booked by one receipt movement of 15
    assert (po2["lead_time_days"], po2["days_late"], po2["is_on_time"], po2["fill_ratio"]) == (
        10, 3, False, Decimal("0.7500"))
    assert (po2["receipt_movement_count"], po2["quantity_received_in_movements"], str(po2["first_receipt_date"])) == (
        1, Decimal("15.00"), "2024-02-15")
    assert po2["order_value_brl"] == Decimal("200.00") and po2["received_value_brl"] == Decimal("150.00")
    # open and cancelled orders have no lead time, lateness or fill ratio
    for order in (po3, po4):
        assert (order["lead_time_days"], order["days_late"], order["is_on_time"], order["fill_ratio"]) == (
            None, None, None, None)
    assert (po3["order_status"], po4["order_status"]) == ("open", "cancelled")
    [receipt] = marts["receipts"]
    assert (receipt["purchase_order_id"], receipt["is_linked_to_order"], receipt["is_matching_order_line"],
            receipt["days_after_order"]) == ("PO-2", True, True, 10)


def test_fill_rate_and_stockout_days_estimate_the_lost_demand(marts):
    kpis = marts["kpis"]
    # M-C @ SITE-A (alone in FAM-C) had 20 until Mar 6, consumed all 20 that day and stayed at 0.
    # Days that start with stock: Feb 12 .. Mar 6 = 24 days, 20 consumed -> demand 5/6 a day.
    # Stockout days (closing 0): Mar 6 .. Mar 10 = 5; lost: Mar 6 nothing (20 consumed > 5/6),
    # Mar 7-10 4 x 5/6 = 10/3. Fill rate = 20 / (20 + 10/3) = 6/7.
    march = kpis[("SITE-A", "FAM-C", "2024-03-01")]
    assert (march["days_in_period"], march["stockout_days"], march["material_sites_with_stockout"]) == (10, 5, 1)
    assert march["estimated_lost_quantity"] == Decimal("3.3333")
    assert march["fill_rate"] == Decimal(str(round(6 / 7, 4)))
    # value: 20 units x 5 BRL on Mar 1-5, 0 after -> average 50, month end 0; 0 days of cover
    assert (march["avg_inventory_value_brl"], march["closing_inventory_value_brl"], march["days_of_cover"]) == (
        Decimal("50.00"), Decimal("0.00"), Decimal("0.00"))
    # February (Feb 12-29, 18 days): nothing consumed, nothing lost -> fill rate undefined
    february = kpis[("SITE-A", "FAM-C", "2024-02-01")]
    assert (february["days_in_period"], february["fill_rate"], february["stockout_days"],
            february["closing_inventory_value_brl"], february["days_of_cover"]) == (18, None, 0, Decimal("100.00"), None)
    # FAM-B at SITE-A in March (M-B 10 BRL, M-D 1 BRL): never out of stock -> fill rate 1. Month end
    # 1 x 10 + 4 x 1 = 14 BRL; consumed 10 x 10 + 13 x 1 = 113 BRL in 10 days -> 14 / 11.3 days of cover.
    # Average value: M-B 11 units on Mar 1-5 and 1 after (600 BRL-days), M-D 17 on Mar 1-9 and 4 on
    # Mar 10 (157) -> 757 / 10.
    family_b = kpis[("SITE-A", "FAM-B", "2024-03-01")]
    assert (family_b["fill_rate"], family_b["stockout_days"], family_b["material_site_count"]) == (Decimal("1.0000"), 0, 2)
    assert (family_b["closing_inventory_value_brl"], family_b["consumption_value_brl"]) == (
        Decimal("14.00"), Decimal("113.00"))
    assert family_b["days_of_cover"] == Decimal(str(round(14 / 11.3, 2)))
    assert family_b["avg_inventory_value_brl"] == Decimal("75.70")


def test_stock_alerts_project_the_stockout_from_the_latest_forecast(marts):
    alerts = marts["alerts"]
    # below the reorder point: every SITE-A material with demand (M-E has none, SITE-B is well stocked)
    assert set(alerts) == {("M-A", "SITE-A"), ("M-B", "SITE-A"), ("M-C", "SITE-A"), ("M-D", "SITE-A")}
    summary = {material: (str(row["projected_stockout_date"]) if row["projected_stockout_date"] else None,
                          row["days_until_stockout"], row["alert_severity"])
               for (material, _), row in alerts.items()}
    assert summary == {
        # 4 on hand, 1.5 a day from Mar 11: 1.5, 3.0, 4.5 > 4 on Mar 13; the lead time is 30 days
        "M-D": ("2024-03-13", 3, "critical"),
        # 1 on hand, 0.3 a day: 0.3, 0.6, 0.9, 1.2 > 1 on Mar 14, after its 2-day lead time
        "M-B": ("2024-03-14", 4, "warning"),
        # 1 on hand, 0.1 a day for three days: never exceeds it within the horizon
        "M-A": (None, None, "watch"),
        # nothing on hand (and no forecast): out of stock now
        "M-C": (None, None, "critical"),
    }
    assert alerts[("M-C", "SITE-A")]["is_out_of_stock"] is True
    assert {row["forecast_run_id"] for row in alerts.values()} == {"run-new", None}
    assert str(alerts[("M-A", "SITE-A")]["as_of_date"]) == "2024-03-10"
    assert str(alerts[("M-A", "SITE-A")]["next_expected_receipt_date"]) == "2024-03-20"
    assert alerts[("M-A", "SITE-A")]["quantity_on_order"] == Decimal("10.00")
    assert all(row["suggested_order_quantity"] >= 0 for row in alerts.values())


def test_forecast_accuracy_measures_by_hand(marts):
    accuracy = marts["accuracy"]
    # run-new forecasts days without actuals yet: not evaluated
    assert set(accuracy) == {("run-old", "M-A"), ("run-old", "M-E"), ("run-mid", "M-A")}
    # run-old, M-A: forecast 0.5 on Mar 4-10, actual 2 on Mar 6 and 0 otherwise. Errors (f - y):
    # 0.5 x 6 and -1.5. History before Mar 4 (Feb 12 - Mar 3): demand 1, 2, 1 on Feb 14, 21, 28;
    # the 20 one-step differences square to 1+1+4+4+1+1 = 12 -> scale 0.6.
    row = accuracy[("run-old", "M-A")]
    assert (row["evaluated_days"], row["nonzero_actual_days"], str(row["forecast_start_date"])) == (7, 1, "2024-03-04")
    assert row["mae"] == pytest.approx(4.5 / 7)
    assert row["rmse"] == pytest.approx(math.sqrt(3.75 / 7))
    assert row["bias"] == pytest.approx(1.5 / 7)
    assert row["wape"] == pytest.approx(4.5 / 2)
    assert row["mape"] == pytest.approx(0.75)          # the one day with demand: |2 - 0.5| / 2
    assert (row["naive_error_count"], row["naive_scale"]) == (20, pytest.approx(0.6))
    assert row["rmsse"] == pytest.approx(math.sqrt((3.75 / 7) / 0.6))
    assert row["is_latest_run"] is False
    # run-old, M-E: no demand at all -> wape and mape undefined, a flat history -> rmsse undefined
    row = accuracy[("run-old", "M-E")]
    assert (row["bias"], row["wape"], row["mape"], row["naive_scale"], row["rmsse"]) == (0, None, None, 0, None)
    # run-mid, M-A: 1 a day on Mar 9-12; only Mar 9 and 10 have actuals (both 0). History to Mar 8
    # adds the jump to 2 and back on Mar 6/7: squares 12 + 4 + 4 = 20 over 25 differences = 0.8.
    row = accuracy[("run-mid", "M-A")]
    assert (row["evaluated_days"], str(row["last_evaluated_date"]), row["mae"], row["bias"]) == (
        2, "2024-03-10", 1.0, 1.0)
    assert (row["wape"], row["mape"]) == (None, None)
    assert row["rmsse"] == pytest.approx(math.sqrt(1 / 0.8))


def test_stock_positions_and_the_anatel_feed(marts):
    stock = marts["stock"]
    days = (LAST_DAY - FIRST_DAY).days + 1
    assert len(stock) == len(ON_HAND) * days                      # zero-filled over the 28 days
    assert min(row["closing_quantity_on_hand"] for row in stock) == 0   # never negative (singular test too)
    # the corrected February delivery wins; one row per city, month and operator
    assert [(row["operator"], row["stations_5g"], row["population_covered_pct"]) for row in marts["anatel"]] == [
        ("Claro", 12, Decimal("6.50")), ("Vivo", 3, Decimal("1.20"))]


def test_source_freshness_thresholds(marts):
    status = {result["unique_id"].split(".", 2)[-1]: result["status"] for result in marts["sources"]["results"]}
    # everything was loaded two hours ago, except the monthly 5G file (40 days: past 35, before 45)
    assert status.pop("feeds.anatel_5g_rollout") == "warn"
    assert status.pop("forecast.forecast_runs") == status.pop("forecast.forecast_values") == "error"  # 2024 runs
    # no weekly replay has run yet (the table is empty): a warning, never an error
    assert status.pop("replay.reorder_point_replays") == "warn"
    assert set(status.values()) == {"pass"}, status
    assert "erp.material_families" in status and "audit.load_batches" in status   # master data via audit
