"""Reorder points that keep their promise, end to end: hand-made demand series in raw batches, the
real dbt build on PostgreSQL, and every number of fct_reorder_points recomputed here by hand.

120 days (2024-01-01 .. 2024-04-29), one supplier SUP-1:

  MAT-S @ SITE-S (silver)  4, 6, 4, 6, ...                   smooth        receipts 4, 6, 8 days
  MAT-I @ SITE-S (silver)  0,0,5,0,0,0,0,1,0,0 x 12          intermittent  receipts 2, 2, 4 days
  MAT-E @ SITE-G (gold)    1, 9, 1, 9, ...                   erratic       quoted 3 days (no receipts)
  MAT-L @ SITE-G (gold)    0,0,0,9,0,0,0,0,1,0 x 12          lumpy         quoted 3 days
  MAT-Z @ SITE-B (bronze)  no demand                         no_demand     quoted 5 days

Built once with the classic rule (``empirical_ltd_demand_classes: [erratic, intermittent, lumpy]``:
MAT-S gets the normal formula), then fct_reorder_points is rebuilt with the empirical rule (every
class with 90+ days of history is empirical_ltd, seasonal_ltd off), with the default rule (the same
classes get seasonal_ltd: with no weather feed and 120 days of history there is neither a season nor
a growth to move the quantile, so the demand factor is 1 and the reorder points are the empirical
ones) and with an invalid seed.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from dbt_harness import Loader, create_warehouse_tables, query, run_dbt

DAYS = 120
T0 = "2023-12-31 00:00:00+00"
LOADED = "2024-04-30 01:00:00+00"
CLASSIC_RULE = json.dumps({"empirical_ltd_demand_classes": ["erratic", "intermittent", "lumpy"],
                           "seasonal_ltd_demand_classes": []})
EMPIRICAL_RULE = json.dumps({"seasonal_ltd_demand_classes": []})

SERIES = {
    ("MAT-S", "SITE-S"): [4, 6] * 60,
    ("MAT-I", "SITE-S"): [0, 0, 5, 0, 0, 0, 0, 1, 0, 0] * 12,
    ("MAT-E", "SITE-G"): [1, 9] * 60,
    ("MAT-L", "SITE-G"): [0, 0, 0, 9, 0, 0, 0, 0, 1, 0] * 12,
    ("MAT-Z", "SITE-B"): [0] * DAYS,
}
RECEIPTS = {"MAT-S": [4, 6, 8], "MAT-I": [2, 2, 4]}
QUOTED = {"MAT-S": 5, "MAT-I": 3, "MAT-E": 3, "MAT-L": 3, "MAT-Z": 5}
UNIT_COST = {"MAT-S": "10.00", "MAT-I": "100.00", "MAT-E": "20.00", "MAT-L": "50.00", "MAT-Z": "30.00"}
ON_HAND = {"MAT-S": "30", "MAT-I": "2", "MAT-E": "100", "MAT-L": "0", "MAT-Z": "1"}


def _day(index: int) -> str:
    return (date(2024, 1, 1) + timedelta(days=index)).isoformat()


def load(loader: Loader) -> None:
    passed = "passed"
    loader.batch("erp_material_families", [{"family_id": "FAM", "family_name": "Parts", "category": "energy",
                                            "updated_at": T0}], "erp.material_families|t", passed, LOADED)
    loader.batch("erp_materials", [
        {"material_id": material, "material_name": material, "family_id": "FAM", "unit_of_measure": "unit",
         "unit_cost_brl": cost, "is_active": True, "created_at": T0, "updated_at": T0}
        for material, cost in UNIT_COST.items()
    ], "erp.materials|t", passed, LOADED)
    loader.batch("erp_sites", [
        {"site_id": site, "site_name": site, "city": "Salvador", "region": "Metropolitana de Salvador",
         "latitude": "-12.97", "longitude": "-38.51", "sla_tier": tier, "is_active": True,
         "commissioned_date": "2020-01-01", "updated_at": T0}
        for site, tier in (("SITE-S", "silver"), ("SITE-G", "gold"), ("SITE-B", "bronze"))
    ], "erp.sites|t", passed, LOADED)
    loader.batch("erp_suppliers", [{"supplier_id": "SUP-1", "supplier_name": "Fornecedor", "city": "Salvador",
                                    "state": "BA", "is_active": True, "updated_at": T0}], "erp.suppliers|t", passed, LOADED)
    loader.batch("erp_supplier_materials", [
        {"supplier_id": "SUP-1", "material_id": material, "quoted_lead_time_days": quoted, "unit_price_brl": "1.00",
         "is_preferred": True, "updated_at": T0}
        for material, quoted in QUOTED.items()
    ], "erp.supplier_materials|t", passed, LOADED)
    orders = []
    for material, lead_times in RECEIPTS.items():
        for number, lead in enumerate(lead_times):
            ordered = 10 * number
            orders.append({
                "purchase_order_id": f"PO-{material}-{number}", "supplier_id": "SUP-1", "material_id": material,
                "site_id": "SITE-S", "order_date": _day(ordered), "expected_date": _day(ordered + QUOTED[material]),
                "received_date": _day(ordered + lead), "quantity_ordered": "1", "quantity_received": "1",
                "unit_price_brl": "1.00", "status": "received", "created_at": T0, "updated_at": T0,
            })
    loader.batch("erp_purchase_orders", orders, "erp.purchase_orders|t", passed, LOADED)
    movements = []
    for (material, site), quantities in SERIES.items():
        for index, quantity in enumerate(quantities):
            if quantity:
                stamp = f"{_day(index)} 15:00:00+00"
                movements.append({
                    "movement_id": len(movements) + 1, "material_id": material, "site_id": site,
                    "movement_type": "consumption", "movement_date": _day(index), "quantity": str(quantity),
                    "purchase_order_id": None, "created_at": stamp, "updated_at": stamp,
                })
    loader.batch("erp_stock_movements", movements, "erp.stock_movements|t", passed, LOADED)
    loader.batch("erp_stock_on_hand", [
        {"material_id": material, "site_id": site, "quantity_on_hand": ON_HAND[material],
         "updated_at": "2024-04-29 23:00:00+00"}
        for material, site in SERIES
    ], "erp.stock_on_hand|t", passed, LOADED)


def _reorder_points(pg) -> dict[str, dict[str, Any]]:
    return {row["material_id"]: row for row in query(pg, "select * from marts.fct_reorder_points")}


@pytest.fixture(scope="module")
def target_path(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("dbt_inventory_target")


@pytest.fixture(scope="module")
def built(pg_module, target_path) -> dict[str, Any]:
    create_warehouse_tables(pg_module)
    loader = Loader(pg_module)
    try:
        load(loader)
    finally:
        loader.close()
    state: dict[str, Any] = {}
    state["build"] = run_dbt(pg_module, ["build", "--exclude", "tag:forecast", "--vars", CLASSIC_RULE],
                             target_path, check=False)
    failed = {node: status for node, status in state["build"].statuses().items() if status in ("error", "fail")}
    assert not failed, f"{failed}\n{state['build'].output[-6000:]}"
    state["classic"] = _reorder_points(pg_module)
    state["statistics"] = {row["material_id"]: row for row in query(
        pg_module, "select * from intermediate.int_demand_statistics_computed")}
    state["classes"] = {row["material_id"]: row["abc_class"] for row in query(
        pg_module, "select material_id, abc_class from intermediate.int_material_sites_classified")}
    state["seed"] = {(row["sla_tier"], row["abc_class"]): row["service_level"] for row in query(
        pg_module, "select * from staging.service_levels")}
    run_dbt(pg_module, ["run", "--select", "fct_reorder_points", "--vars", EMPIRICAL_RULE], target_path)
    state["default"] = _reorder_points(pg_module)
    run_dbt(pg_module, ["run", "--select", "fct_reorder_points"], target_path)
    state["seasonal"] = _reorder_points(pg_module)
    return state


# -- the same definitions, computed independently in Python ----------------------------------------

def normal_reorder_point(service_level: float, demand: list[int], lead_times: list[int]) -> tuple[float, float]:
    """(safety stock, reorder point) of the normal formula, rounded like the mart."""
    d, sd = statistics.fmean(demand), statistics.stdev(demand)
    lead = statistics.fmean(lead_times)
    sd_lead = statistics.stdev(lead_times) if len(lead_times) > 1 else 0.0
    z = statistics.NormalDist().inv_cdf(service_level)
    safety = z * math.sqrt(lead * sd**2 + d**2 * sd_lead**2)
    return round(safety, 2), round(d * lead + safety, 2)


def cycle_demand_distribution(demand: list[int], lead_times: list[int]) -> dict[int, Fraction]:
    """P(LTD + U = x): circular windows of every observed lead time from every day, plus the
    undershoot U with P(U = u) = P(D > u) / E[D] over the days with demand."""
    n = len(demand)
    ltd = Counter(sum(demand[(start + k) % n] for k in range(lead)) for start in range(n) for lead in lead_times)
    sizes = [quantity for quantity in demand if quantity > 0]
    undershoot = Counter({u: sum(size > u for size in sizes) for u in range(max(sizes))}) if sizes else Counter({0: 1})
    total = sum(ltd.values()) * sum(undershoot.values())
    joint: Counter = Counter()
    for value, count in ltd.items():
        for u, weight in undershoot.items():
            joint[value + u] += count * weight
    return {value: Fraction(joint[value], total) for value in sorted(joint)}


def empirical_reorder_point(service_level: float, demand: list[int], lead_times: list[int]) -> int:
    """percentile_disc: the smallest value whose cumulative probability reaches the service level."""
    cumulative = Fraction(0)
    target = Fraction(str(service_level))
    for value, probability in cycle_demand_distribution(demand, lead_times).items():
        cumulative += probability
        if cumulative >= target:
            return value
    raise AssertionError("unreachable")


def _lead_times(material: str) -> list[int]:
    return RECEIPTS.get(material, [QUOTED[material]])


# -- tests ------------------------------------------------------------------------------------------

def test_build_passes(built):
    statuses = built["build"].statuses()
    # no weather feed here: the drivers freshness test warns (and only warns)
    assert statuses.pop("test.nova_corrente.assert_demand_drivers_reach_the_demand") == "warn"
    failed = {node: status for node, status in statuses.items()
              if status not in ("success", "pass") and not (node.startswith("exposure.") and status == "no-op")}
    assert not failed, f"{failed}\n{built['build'].output[-3000:]}"


def test_hand_made_series_are_classified(built):
    stats = built["statistics"]
    got = {material: (row["demand_class"], row["adi"], row["cv_squared"], row["zero_demand_share"])
           for material, row in stats.items()}
    assert got == {
        # every day has demand: ADI 120 / 120; sizes 4 and 6 -> variance 1 / mean^2 25
        "MAT-S": ("smooth", Decimal("1"), Decimal("0.04"), Decimal("0")),
        # 24 demand days, the last on day 118 -> ADI 118 / 24; sizes 5 and 1: variance 4 / 9
        "MAT-I": ("intermittent", Decimal("4.916667"), Decimal("0.444444"), Decimal("0.8")),
        # sizes 1 and 9 -> variance 16 / 25
        "MAT-E": ("erratic", Decimal("1"), Decimal("0.64"), Decimal("0")),
        # last demand on day 119 -> ADI 119 / 24; sizes 9 and 1 -> 0.64
        "MAT-L": ("lumpy", Decimal("4.958333"), Decimal("0.64"), Decimal("0.8")),
        "MAT-Z": ("no_demand", None, None, Decimal("1")),
    }
    assert {material: row["demand_class"] for material, row in built["classic"].items()} == {
        material: value[0] for material, value in got.items()}


def test_service_level_comes_from_the_seed_by_tier_and_abc_class(built):
    seed = built["seed"]
    assert len(seed) == 9
    assert seed[("gold", "A")] == Decimal("0.99") and seed[("bronze", "C")] == Decimal("0.90")
    for material, row in built["default"].items():
        expected_class = built["classes"].get(material, "C")
        assert row["abc_class"] == expected_class
        assert row["service_level"] == seed[(row["sla_tier"], expected_class)], material
        assert float(row["service_level_z"]) == round(statistics.NormalDist().inv_cdf(float(row["service_level"])), 6)


def test_smooth_series_normal_method_by_hand(built):
    """Classic rule: d 5, sd sqrt(120 / 119), L 6, sd_L 2 -> SS = z * sqrt(6 * 120/119 + 25 * 4)."""
    row = built["classic"]["MAT-S"]
    assert row["method"] == "normal"
    level = float(row["service_level"])
    safety, reorder = normal_reorder_point(level, SERIES[("MAT-S", "SITE-S")], RECEIPTS["MAT-S"])
    assert safety == round(statistics.NormalDist().inv_cdf(level) * math.sqrt(6 * 120 / 119 + 100), 2)
    assert (float(row["safety_stock"]), float(row["reorder_point"])) == (safety, reorder)
    assert float(row["lead_time_demand_mean"]) == 30.0
    # on hand 30 < reorder point: order up to the reorder point plus 7 days of demand
    assert row["is_below_reorder_point"] is True
    assert row["suggested_order_quantity"] == math.ceil(reorder + 5 * 7 - 30)
    # EOQ: D = 5 x 365, S = 150, H = 0.25 x 10
    assert float(row["economic_order_quantity"]) == round(math.sqrt(2 * 1825 * 150 / 2.5), 2)


def test_intermittent_series_empirical_method_by_hand(built):
    """Lead times 2, 2, 4 over the 10-day pattern: LTD 0 in 14, 1 in 8, 5 in 8 of 30; daily demands 5
    and 1: U = 0 weight 2, U = 1..4 weight 1 (of 6). At 95 % (silver A) the cycle demand's quantile
    is 8; the mean LTD is 0.6 x 8/3 = 1.6, so the safety stock is 6.4."""
    pattern = [0, 0, 5, 0, 0, 0, 0, 1, 0, 0]
    ltd = cycle_demand_distribution(pattern, [2, 2, 4])
    assert ltd[0] == Fraction(14 * 2, 180) and sum(ltd.values()) == 1
    assert empirical_reorder_point(0.95, pattern, [2, 2, 4]) == 8
    for rule in ("classic", "default"):
        row = built[rule]["MAT-I"]
        level = float(row["service_level"])
        expected = empirical_reorder_point(level, SERIES[("MAT-I", "SITE-S")], RECEIPTS["MAT-I"])
        assert row["method"] == "empirical_ltd"
        assert float(row["reorder_point"]) == expected
        assert float(row["lead_time_demand_mean"]) == 1.6
        assert float(row["safety_stock"]) == round(max(expected - 1.6, 0.0), 2)
        if level == 0.95:
            assert (float(row["reorder_point"]), float(row["safety_stock"])) == (8.0, 6.4)
    # the normal formula would hold far less for the same promise
    _, normal = normal_reorder_point(float(row["service_level"]), SERIES[("MAT-I", "SITE-S")], RECEIPTS["MAT-I"])
    assert normal < float(row["reorder_point"])


def test_every_class_gets_its_method_and_hand_computed_reorder_point(built):
    for rule, empirical_classes in (("classic", {"erratic", "intermittent", "lumpy"}),
                                    ("default", {"smooth", "erratic", "intermittent", "lumpy"})):
        for (material, _site), demand in SERIES.items():
            row = built[rule][material]
            level = float(row["service_level"])
            if row["demand_class"] in empirical_classes:
                assert row["method"] == "empirical_ltd", (rule, material)
                assert float(row["reorder_point"]) == empirical_reorder_point(level, demand, _lead_times(material))
            else:
                assert row["method"] == "normal", (rule, material)
                expected = normal_reorder_point(level, demand, _lead_times(material))
                assert (float(row["safety_stock"]), float(row["reorder_point"])) == expected
            assert float(row["reorder_point"]) >= float(row["safety_stock"]) >= 0


def test_seasonal_method_is_the_default_and_without_season_or_growth_keeps_the_empirical_quantile(built):
    for material, row in built["seasonal"].items():
        empirical = built["default"][material]
        if empirical["method"] == "normal":
            assert row["method"] == "normal" and row["demand_factor"] is None
            continue
        assert row["method"] == "seasonal_ltd", material
        assert float(row["demand_factor"]) == 1.0
        assert row["reorder_point"] == empirical["reorder_point"] == row["cycle_demand_quantile"]
        assert row["safety_stock"] == empirical["safety_stock"]
    # the mean of the cycle demand is the distribution's: MAT-I, LTD (0, 1, 5 in 14, 8, 8 of 30) + U
    distribution = cycle_demand_distribution([0, 0, 5, 0, 0, 0, 0, 1, 0, 0], [2, 2, 4])
    mean = sum(value * weight for value, weight in distribution.items())
    assert float(built["seasonal"]["MAT-I"]["cycle_demand_mean"]) == pytest.approx(float(mean), abs=1e-4)


def test_invalid_service_levels_give_null_and_fail_the_tests(built, pg_module, target_path):
    """A planner's seed edit gone wrong: gold at 1.0 (outside (0, 1)) and no silver rows at all."""
    loader = Loader(pg_module)
    try:
        loader.execute("update staging.service_levels set service_level = 1.0 where sla_tier = 'gold'")
        loader.execute("delete from staging.service_levels where sla_tier = 'silver'")
    finally:
        loader.close()
    run_dbt(pg_module, ["run", "--select", "fct_reorder_points"], target_path)
    rows = _reorder_points(pg_module)
    for material in ("MAT-E", "MAT-L"):              # gold, 1.0: z, safety stock, reorder point NULL
        assert rows[material]["service_level"] == Decimal("1")
        assert (rows[material]["service_level_z"], rows[material]["safety_stock"],
                rows[material]["reorder_point"]) == (None, None, None)
    for material in ("MAT-S", "MAT-I"):              # silver missing: everything NULL
        assert (rows[material]["service_level"], rows[material]["reorder_point"]) == (None, None)
    assert rows["MAT-Z"]["reorder_point"] == Decimal("0")   # bronze still fine
    tested = run_dbt(pg_module, ["test", "--select", "fct_reorder_points"], target_path, check=False)
    assert tested.returncode != 0
    failed = [result for result in tested.run_results["results"] if result["status"] == "fail"]
    not_null = [result for result in failed if ".not_null_columns_fct_reorder_points_" in result["unique_id"]]
    assert len(not_null) == 1, [result["unique_id"] for result in failed]
    # the test names each column with NULLs (its rows: column_name, null_rows)
    null_columns = {row["column_name"]: row["null_rows"] for row in query(pg_module, not_null[0]["compiled_code"])}
    assert {"service_level", "service_level_z", "safety_stock", "reorder_point"} <= set(null_columns)
    assert null_columns["service_level"] == 2 and null_columns["reorder_point"] == 4   # silver; silver and gold
    # back to the committed seed
    run_dbt(pg_module, ["seed", "--select", "service_levels"], target_path)
    run_dbt(pg_module, ["run", "--select", "fct_reorder_points"], target_path)
    assert _reorder_points(pg_module) == built["seasonal"]


# -- the weekly replay: the as-of build, the evidence and the choice it feeds ----------------------

REPLAY_DAYS_BACK = 20   # the as-of build sees 100 days (enough for both empirical methods)


def test_replay_builds_the_reorder_points_of_a_past_day_beside_the_live_marts_and_replays_both(built, pg_module):
    from nova_corrente import reorder_replay

    # 120 days of demand: a replay 120 days back would have no history before its as-of date
    assert reorder_replay.not_ready(pg_module, 120) == (
        "marts.fct_demand_daily covers 120 days (2024-01-01 .. 2024-04-29); the replay needs more than 120 "
        "(the days back) to have a history before its as-of date")
    assert reorder_replay.not_ready(pg_module, REPLAY_DAYS_BACK) is None
    live_before = query(pg_module, "select * from marts.fct_reorder_point_outlook order by 1, 2, 3")
    reorder_replay.build_as_of(pg_module, REPLAY_DAYS_BACK)
    # the as-of build ends 20 days before the last movement date (2024-04-29) and stays in its schemas
    assert query(pg_module, "select max(demand_date) as last from intermediate_replay.int_demand_aggregated_to_daily"
                 ) == [{"last": date(2024, 4, 9)}]
    assert query(pg_module, "select min(outlook_date) as first from marts_replay.fct_reorder_point_outlook"
                 ) == [{"first": date(2024, 4, 10)}]
    assert _reorder_points(pg_module) == built["seasonal"]
    assert query(pg_module, "select * from marts.fct_reorder_point_outlook order by 1, 2, 3") == live_before
    as_of = {row["material_id"]: row for row in query(pg_module, "select * from marts_replay.fct_reorder_points")}
    assert as_of["MAT-S"]["demand_days"] == 100 and built["seasonal"]["MAT-S"]["demand_days"] == 120
    seasonal = sorted(material for material, row in as_of.items() if row["method"] == "seasonal_ltd")
    assert seasonal == ["MAT-E", "MAT-I", "MAT-L", "MAT-S"]

    summary = reorder_replay.replay_methods(pg_module)   # as the forecaster
    assert (summary["as_of_date"], summary["replay_days"], summary["material_sites"]) == ("2024-04-09", 20, 4)
    rows = query(pg_module, "select * from marts.reorder_point_replays order by material_id, method")
    assert [(row["material_id"], row["method"]) for row in rows] == [
        (material, method) for material in seasonal for method in ("empirical_ltd", "seasonal_ltd")]
    assert {(row["as_of_date"], row["replay_days"], row["lead_time_draws"]) for row in rows} == {
        (date(2024, 4, 9), 20, reorder_replay.DEFAULT_LEAD_TIME_DRAWS)}
    # without a weather feed or growth the seasonal outlook is the empirical quantile every day, so
    # the two methods' evidence is the same, cycle for cycle
    by_method = {(row["material_id"], row["method"]): row for row in rows}
    fields = ["cycles", "stockout_cycles", "average_on_hand", "average_reorder_point"]
    for material in seasonal:
        empirical, moved = by_method[(material, "empirical_ltd")], by_method[(material, "seasonal_ltd")]
        assert [empirical[f] for f in fields] == [moved[f] for f in fields], material
        assert empirical["average_reorder_point"] == float(as_of[material]["cycle_demand_quantile"])
    assert by_method[("MAT-S", "empirical_ltd")]["cycles"] > 0


def test_fct_reorder_points_takes_the_method_the_replay_found_best(built, pg_module, target_path):
    """MAT-S: empirical_ltd kept the target with less stock -> empirical_ltd (the empirical rule's
    reorder point). MAT-I: seasonal_ltd kept it, empirical_ltd did not -> seasonal_ltd. MAT-E: its
    evidence is for another target service level -> the demand class decides. MAT-Z (no demand,
    normal) is never replaced. Then without evidence everything is back to the demand classes."""
    seasonal = built["seasonal"]
    evidence = []
    for material, method, csl, on_hand, level in (
        ("MAT-S", "empirical_ltd", 0.99, 10.0, None), ("MAT-S", "seasonal_ltd", 0.99, 11.0, None),
        ("MAT-I", "empirical_ltd", 0.50, 1.0, None), ("MAT-I", "seasonal_ltd", 0.99, 2.0, None),
        ("MAT-E", "empirical_ltd", 0.99, 1.0, 0.5), ("MAT-E", "seasonal_ltd", 0.50, 2.0, 0.5),
        ("MAT-Z", "empirical_ltd", 0.99, 1.0, None), ("MAT-Z", "seasonal_ltd", 0.99, 2.0, None),
    ):
        row = seasonal[material]
        evidence.append((material, row["site_id"], method, level or row["service_level"], 1000,
                         round(1000 * (1 - csl)), on_hand))
    loader = Loader(pg_module)
    try:
        loader.execute("delete from marts.reorder_point_replays")
        for material, site, method, level, cycles, stockouts, on_hand in evidence:
            loader.execute(
                "insert into marts.reorder_point_replays values (%s, %s, %s, '2024-04-09', 20, 10, %s, %s, %s, %s,"
                " 1.0, now())", (material, site, method, level, cycles, stockouts, on_hand))
    finally:
        loader.close()
    run_dbt(pg_module, ["run", "--select", "int_reorder_point_methods_replayed", "fct_reorder_points"], target_path)
    rows = _reorder_points(pg_module)
    assert {material: (row["method"], row["method_source"]) for material, row in rows.items()} == {
        "MAT-S": ("empirical_ltd", "replay"), "MAT-I": ("seasonal_ltd", "replay"),
        "MAT-E": ("seasonal_ltd", "demand_class"), "MAT-L": ("seasonal_ltd", "demand_class"),
        "MAT-Z": ("normal", "demand_class"),
    }
    assert rows["MAT-S"]["reorder_point"] == built["default"]["MAT-S"]["reorder_point"]   # the empirical rule's
    assert rows["MAT-S"]["demand_factor"] is None
    for material in ("MAT-I", "MAT-E", "MAT-L", "MAT-Z"):
        assert rows[material] == {**seasonal[material], "method_source": rows[material]["method_source"]}
    # the order-up-to level is one review period (7 days) of demand above the reorder point
    for row in rows.values():
        assert float(row["order_up_to_level"]) == pytest.approx(
            float(row["reorder_point"]) + 7 * float(row["avg_daily_demand"]), abs=0.006)

    loader = Loader(pg_module)
    try:
        loader.execute("delete from marts.reorder_point_replays")
    finally:
        loader.close()
    run_dbt(pg_module, ["run", "--select", "fct_reorder_points"], target_path)
    assert _reorder_points(pg_module) == seasonal


def test_a_past_days_build_never_writes_into_the_live_schemas(built, pg_module, tmp_path):
    """The guard behind the schema names: a build with replay_days_back that selects a node of a live
    schema (here the snapshots) stops before building anything, naming it."""
    refused = run_dbt(pg_module, ["snapshot", "--vars", json.dumps({"replay_days_back": 5})], tmp_path, check=False)
    assert refused.returncode != 0
    assert "would replace live ones" in refused.output and "(snapshots)" in refused.output, refused.output[-3000:]
