"""The weekly replay's evidence on a case small enough to follow day by day (the database steps,
the as-of dbt build and the choice it feeds, are tested in tests/dbt/test_inventory_reorder_points.py)."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from nova_corrente.reorder_replay import DEFAULT_DAYS_BACK, ReplayError, ReplayInputs, days_back_setting, replay_frame

AS_OF = date(2024, 3, 31)


def _inputs(outlook_s: float = 0.0, outlook_series: tuple[str, ...] = ("A", "B")) -> ReplayInputs:
    """A and B are seasonal_ltd as of AS_OF (so both methods are replayed), N is normal (never).
    Empirical s = 2 (the cycle-demand quantile); the seasonal outlook says ``outlook_s`` every day;
    Q = order_up_to_level - reorder_point = 5; lead time 2 days, no spread. A consumes 1 a day for
    the 12 days after AS_OF; B and N nothing."""
    reorder_points = pd.DataFrame({
        "material_id": ["A", "B", "N"], "site_id": ["S", "S", "S"],
        "method": ["seasonal_ltd", "seasonal_ltd", "normal"], "service_level": [0.95, 0.95, 0.95],
        "cycle_demand_quantile": [2.0, 2.0, None], "reorder_point": [1.0, 1.0, 3.0],
        "order_up_to_level": [6.0, 6.0, 8.0], "avg_lead_time_days": [2.0, 2.0, 2.0],
        "std_lead_time_days": [0.0, 0.0, 0.0],
    })
    days = [AS_OF + timedelta(days=k) for k in range(1, 366)]
    outlook = pd.DataFrame([{"material_id": m, "site_id": "S", "outlook_date": day, "reorder_point": outlook_s}
                            for m in outlook_series for day in days])
    demand = pd.DataFrame([{"material_id": "A", "site_id": "S", "demand_date": AS_OF + timedelta(days=k),
                            "quantity_consumed": 1.0} for k in range(-5, 13)])  # days up to AS_OF are ignored
    return ReplayInputs(reorder_points, outlook, demand, AS_OF)


def test_both_methods_replayed_over_the_same_demand_by_hand():
    """Material A, 12 days of 1 unit, Q = 5, lead time 2, opening stock s + Q. End-of-day net stock:

      day             0 1 2 3 4 5 6 7 8 9 10 11
      empirical s=2   6 5 4 3 2 1 5 4 3 2  1  5   orders day 4 and 9 (position 2 <= s), receipts 6 and 11:
                                                  one cycle (days 6..10) without a stockout; on hand 41/12
      seasonal  s=0   4 3 2 1 0 -1 3 2 1 0 -1 3   orders day 4 and 9: the cycle of days 6..10 ends at -1
                                                  (day 5 is before the first receipt: warm-up); on hand 19/12
    Two lead-time draws (identical without spread) double the cycles; B never orders (no demand)."""
    frame = replay_frame(_inputs(outlook_s=0.0), lead_time_draws=2).set_index(["material_id", "method"])
    assert sorted(frame.index) == [("A", "empirical_ltd"), ("A", "seasonal_ltd"),
                                   ("B", "empirical_ltd"), ("B", "seasonal_ltd")]   # N (normal) is not replayed
    a_empirical, a_seasonal = frame.loc[("A", "empirical_ltd")], frame.loc[("A", "seasonal_ltd")]
    assert (a_empirical["cycles"], a_empirical["stockout_cycles"]) == (2, 0)
    assert (a_seasonal["cycles"], a_seasonal["stockout_cycles"]) == (2, 2)
    assert a_empirical["average_on_hand"] == pytest.approx(41 / 12)
    assert a_seasonal["average_on_hand"] == pytest.approx(19 / 12)
    assert (a_empirical["average_reorder_point"], a_seasonal["average_reorder_point"]) == (2.0, 0.0)
    assert frame.loc[("B", "empirical_ltd"), "cycles"] == frame.loc[("B", "seasonal_ltd"), "cycles"] == 0
    assert set(frame["replay_days"]) == {12} and set(frame["as_of_date"]) == {AS_OF}
    assert set(frame["lead_time_draws"]) == {2} and set(frame["service_level"]) == {0.95}
    one_draw = replay_frame(_inputs(outlook_s=0.0), lead_time_draws=1).set_index(["material_id", "method"])
    assert one_draw.loc[("A", "seasonal_ltd"), "cycles"] == 1


def test_a_seasonal_schedule_equal_to_the_quantile_gives_the_same_evidence():
    frame = replay_frame(_inputs(outlook_s=2.0), lead_time_draws=3).set_index(["material_id", "method"])
    columns = ["cycles", "stockout_cycles", "average_on_hand", "average_reorder_point"]
    assert frame.loc[("A", "empirical_ltd"), columns].tolist() == frame.loc[("A", "seasonal_ltd"), columns].tolist()


def test_a_seasonal_material_site_without_an_outlook_is_an_error_not_a_guess():
    with pytest.raises(ReplayError, match=r"no reorder point for 1 material-site\(s\), e.g. \('B', 'S'\)"):
        replay_frame(_inputs(outlook_series=("A",)))


def test_nothing_after_the_as_of_date_replays_nothing():
    inputs = _inputs()
    early = ReplayInputs(inputs.reorder_points, inputs.outlook,
                         inputs.demand[inputs.demand["demand_date"] <= AS_OF], AS_OF)
    assert replay_frame(early).empty
    with pytest.raises(ValueError, match="lead_time_draws"):
        replay_frame(inputs, lead_time_draws=0)


def test_a_material_site_without_an_as_of_reorder_point_is_left_out_not_replayed_as_nan(caplog):
    inputs = _inputs()
    broken = inputs.reorder_points.copy()
    broken.loc[broken["material_id"] == "B", ["cycle_demand_quantile", "reorder_point"]] = None
    frame = replay_frame(ReplayInputs(broken, inputs.outlook, inputs.demand, AS_OF))
    assert set(frame["material_id"]) == {"A"}
    assert "not replayed: 1 material-site(s) without an as-of reorder point, e.g. B @ S" in caplog.text


def test_the_days_back_come_from_the_environment_with_a_clear_error():
    assert days_back_setting({}) == DEFAULT_DAYS_BACK == 365
    assert days_back_setting({"NOVA_REPLAY_DAYS_BACK": "120"}) == 120
    with pytest.raises(ValueError, match=r"NOVA_REPLAY_DAYS_BACK='0': keep at least 1 day"):
        days_back_setting({"NOVA_REPLAY_DAYS_BACK": "0"})
