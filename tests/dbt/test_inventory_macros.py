"""The inventory macros on literal arguments: textbook values a reader can check by hand, and NULL
for every invalid input (service level outside (0, 1), negative demand or lead time, non-positive
holding cost). Rendered by the real dbt (`dbt compile --inline`) and evaluated by PostgreSQL."""

from __future__ import annotations

import math
import statistics

import pytest
from dbt_harness import query, run_dbt


def _evaluate(pg, target, expressions: dict[str, str]) -> dict:
    inline = "select " + ", ".join(f"{{{{ {macro} }}}} as {name}" for name, macro in expressions.items())
    output = run_dbt(pg, ["compile", "--quiet", "--inline", inline], target).output
    sql = output[output.index("select "):].strip()
    return query(pg, sql)[0]


@pytest.fixture(scope="module")
def evaluated(pg_module, tmp_path_factory) -> dict:
    target = tmp_path_factory.mktemp("dbt_inventory_macros")
    return _evaluate(pg_module, target, {
        # EOQ: D 1200, S 100, H 6 -> sqrt(240000 / 6) = 200
        "eoq_textbook": "eoq(1200, 100, 6)",
        "eoq_columns_style": "eoq('1200.0 * 1', '50 + 50', '0.25 * 24')",
        "eoq_no_demand": "eoq(0, 100, 6)",
        "eoq_negative_demand": "eoq(-1, 100, 6)",
        "eoq_negative_order_cost": "eoq(1200, -100, 6)",
        "eoq_zero_holding": "eoq(1200, 100, 0)",
        "eoq_negative_holding": "eoq(1200, 100, -6)",
        "eoq_null": "eoq('null', 100, 6)",
        # safety stock / reorder point: d 10, sd 3, L 4, sd_L 1, 95% -> 1.644854 * sqrt(136)
        "ss_textbook": "safety_stock(0.95, 10, 3, 4, 1)",
        "rop_textbook": "reorder_point(0.95, 10, 3, 4, 1)",
        # the seeds' original rule is the special case z = 1.96 (97.5%), sd_L = 0: 1.96 * 3 * sqrt(4)
        "ss_fixed_z": "safety_stock(0.975, 10, 3, 4, 0)",
        "ss_service_level_one": "safety_stock(1, 10, 3, 4, 1)",
        "ss_service_level_zero": "safety_stock(0, 10, 3, 4, 1)",
        "ss_service_level_above_one": "safety_stock(1.5, 10, 3, 4, 1)",
        "ss_negative_demand": "safety_stock(0.95, -10, 3, 4, 1)",
        "ss_negative_std": "safety_stock(0.95, 10, -3, 4, 1)",
        "ss_negative_lead_time": "safety_stock(0.95, 10, 3, -4, 1)",
        "ss_negative_lead_time_std": "safety_stock(0.95, 10, 3, 4, -1)",
        "rop_negative_lead_time": "reorder_point(0.95, 10, 3, -4, 1)",
        "rop_service_level_one": "reorder_point(1, 10, 3, 4, 1)",
        "z_975": "service_level_z(0.975)",
        "z_outside": "service_level_z(1.2)",
    })


def test_eoq_textbook_and_edge_values(evaluated):
    assert evaluated["eoq_textbook"] == pytest.approx(200.0, abs=1e-12)
    assert evaluated["eoq_columns_style"] == pytest.approx(200.0, abs=1e-12)
    assert evaluated["eoq_no_demand"] == 0.0


@pytest.mark.parametrize("name", ["eoq_negative_demand", "eoq_negative_order_cost", "eoq_zero_holding",
                                  "eoq_negative_holding", "eoq_null"])
def test_eoq_is_null_for_invalid_inputs(evaluated, name):
    assert evaluated[name] is None


def test_safety_stock_and_reorder_point_textbook(evaluated):
    z = statistics.NormalDist().inv_cdf(0.95)
    assert evaluated["ss_textbook"] == pytest.approx(z * math.sqrt(136), rel=1e-12)
    assert round(evaluated["ss_textbook"], 2) == 19.18
    assert evaluated["rop_textbook"] == pytest.approx(40 + z * math.sqrt(136), rel=1e-12)
    assert round(evaluated["z_975"], 6) == 1.959964
    assert round(evaluated["ss_fixed_z"], 2) == round(1.959964 * 3 * 2, 2) == 11.76


@pytest.mark.parametrize("name", [
    "ss_service_level_one", "ss_service_level_zero", "ss_service_level_above_one", "ss_negative_demand",
    "ss_negative_std", "ss_negative_lead_time", "ss_negative_lead_time_std", "rop_negative_lead_time",
    "rop_service_level_one", "z_outside",
])
def test_invalid_inputs_give_null(evaluated, name):
    assert evaluated[name] is None
