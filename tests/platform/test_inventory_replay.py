"""The (s, Q) replay on cases small enough to follow day by day."""

from __future__ import annotations

import numpy as np
import pytest

from nova_corrente.inventory_replay import lognormal_lead_times, replay_s_q


def test_one_unit_a_day_with_and_without_a_stockout():
    """Demand 1 a day for 12 days, s = 2, Q = 5, opening stock 5.

    Series 0, lead time 2 days. End-of-day net stock:
      day  0 1 2 3 4 5 6 7 8 9 10 11
      net  4 3 2 1 5 4 3 2 1 5  4  3
    orders on days 2 and 7 (position 2 <= s), received on days 4 and 9: one complete cycle
    (days 4..8), no stockout -> cycle service level 1; mean on hand 37 / 12.

    Series 1: the order of day 2 takes 2 days, the order of day 7 takes 4 (arrives day 11):
      net  4 3 2 1 5 4 3 2 1 0 -1  3
    the cycle of days 4..10 ends at -1 -> 1 cycle, 1 with a stockout, service level 0;
    on hand 4+3+2+1+5+4+3+2+1+0+0+3 = 28 over 12 days.
    """
    demand = np.ones((12, 2))
    lead = np.full((12, 2), 2)
    lead[5:, 1] = 4
    result = replay_s_q(demand, reorder_point=[2, 2], order_quantity=[5, 5], lead_time_days=lead,
                        initial_stock=[5, 5])
    assert result.cycles.tolist() == [1, 1]
    assert result.stockout_cycles.tolist() == [0, 1]
    assert result.cycle_service_level().tolist() == [1.0, 0.0]
    assert result.orders.tolist() == [2, 2]
    assert result.average_on_hand.tolist() == pytest.approx([37 / 12, 28 / 12])
    assert result.backordered_days.tolist() == [0, 1]


def test_a_lump_orders_enough_multiples_of_q_to_lift_the_position_above_s():
    """s = 2, Q = 3, opening stock 4: a lump of 7 on day 0 leaves -3; (2 - (-3)) / 3 -> floor 1, + 1
    = 2 batches = 6, position 3 > s. The order arrives on day 1 (lead 1): net 3, then nothing."""
    demand = np.array([[7.0], [0.0], [0.0]])
    result = replay_s_q(demand, reorder_point=[2], order_quantity=[3], lead_time_days=1, initial_stock=[4])
    assert result.orders.tolist() == [1]
    assert result.average_on_hand.tolist() == pytest.approx([(0 + 3 + 3) / 3])
    assert result.backordered_days.tolist() == [1]      # the warm-up day: not a cycle
    assert result.cycles.tolist() == [0]
    assert np.isnan(result.cycle_service_level()[0])


def test_a_higher_reorder_point_never_keeps_fewer_cycles_clean():
    rng = np.random.default_rng(7)
    demand = rng.poisson(0.3, (2000, 1)) * rng.integers(1, 6, (2000, 1))
    lead = rng.integers(3, 9, (2000, 1))
    levels = [replay_s_q(demand, [s], [10], lead).cycle_service_level()[0] for s in (0, 3, 6, 12)]
    assert levels == sorted(levels) and levels[-1] > levels[0]


def test_lead_times_follow_the_simulator_distribution():
    rng = np.random.default_rng(0)
    draws = lognormal_lead_times(rng, np.array([10.0, 30.0]), np.array([10.2, 36.0]), np.array([0.15, 0.45]), 20000)
    assert draws.min() >= 1
    assert draws.mean(axis=0) == pytest.approx([10.2, 36.0], rel=0.02)


def test_invalid_inputs_are_refused():
    with pytest.raises(ValueError):
        replay_s_q(np.ones((3, 1)), [1], [0], 1)
    with pytest.raises(ValueError):
        replay_s_q(np.ones((3, 1)), [1], [2], 0)
    with pytest.raises(ValueError):
        replay_s_q(np.ones(3), [1], [2], 1)


def test_cycles_are_counted_by_the_season_of_their_closing_order_and_s_may_change_by_day():
    """The first test's two series with days 0-4 labelled 0 and days 5-11 labelled 1: the one
    complete cycle of each closes with the order placed on day 7, so it counts under label 1.
    Series 1 runs out on day 10 with s = 2; with s = 3 from day 5 its order goes out on day 6 (net 3 +
    on order 0 <= 3) and arrives on day 10 (4 days), the day after the stock reached 0: no stockout."""
    demand = np.ones((12, 2))
    lead = np.full((12, 2), 2)
    lead[5:, 1] = 4
    season = np.array([0] * 5 + [1] * 7)
    constant = replay_s_q(demand, [2, 2], [5, 5], lead, initial_stock=[5, 5], season=season)
    assert constant.cycles_by_season.tolist() == [[0, 0], [1, 1]]
    assert constant.stockout_cycles_by_season.tolist() == [[0, 0], [0, 1]]
    assert constant.on_hand_by_season[:, 0].tolist() == pytest.approx([(4 + 3 + 2 + 1 + 5) / 5, (4 + 3 + 2 + 1 + 5
                                                                                                + 4 + 3) / 7])
    by_day = np.full((12, 2), 2.0)
    assert replay_s_q(demand, by_day, [5, 5], lead, initial_stock=[5, 5]).stockout_cycles.tolist() == [0, 1]
    by_day[5:, 1] = 3.0
    raised = replay_s_q(demand, by_day, [5, 5], lead, initial_stock=[5, 5], season=season)
    assert raised.stockout_cycles.tolist() == [0, 0]
    assert raised.orders[1] == 3 and raised.cycles[1] == 1  # days 2, 6 and 11 (net 3 on day 11)


def test_season_labels_must_cover_every_day():
    with pytest.raises(ValueError, match="one label"):
        replay_s_q(np.ones((3, 1)), [1], [2], 1, season=[0, 1])
