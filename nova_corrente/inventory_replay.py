"""Replay a continuous-review (s, Q) policy over daily demand: the service level a reorder point keeps.

Pure numpy, vectorised over series (the columns of the demand matrix); used by
``bench/service_level.py`` to check the reorder points of ``marts.fct_reorder_points`` against the
demand that came after they were computed.

A day ``t`` runs in the order the ERP simulator runs a business day:

1. purchase orders due on day ``t`` arrive (before any consumption);
2. the day's demand ``D[t]`` is consumed; what the stock cannot cover is backordered, so the net
   stock may go negative;
3. when the inventory position (net stock + quantity on order) is at or below the reorder point
   ``s``, the smallest multiple ``n * Q`` that lifts it above ``s`` is ordered; it arrives on day
   ``t + L[t]``.

A *replenishment cycle* runs from one receipt up to the day before the next receipt (the days
before the first receipt are warm-up from an arbitrary opening stock and are not a cycle, nor is
the cycle still open on the last day). A cycle has a *stockout* when the net stock is negative at
the end of any of its days. The cycle service level is the share of cycles without a stockout.

The reorder point may change from day to day (a (days x series) matrix: a season-aware schedule).
With ``season`` (one label 0..k-1 per day) every cycle is also counted under the label of the day
the order that closes it was placed: the lead time it had to cover started then, so a rainy-season
cycle is one whose closing order was placed in the rainy season. Days on hand are counted per label
too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ReplayResult:
    """Per series: what happened over the replayed days."""

    cycles: np.ndarray
    """Completed replenishment cycles (receipt to receipt)."""
    stockout_cycles: np.ndarray
    """Cycles with a negative net stock at the end of at least one day."""
    average_on_hand: np.ndarray
    """Mean of max(net stock, 0) at the end of each day."""
    orders: np.ndarray
    """Purchase orders placed."""
    backordered_days: np.ndarray
    """Days ending with a negative net stock (warm-up included)."""
    cycles_by_season: np.ndarray | None = None
    """(labels x series): completed cycles by the label of the day their closing order was placed."""
    stockout_cycles_by_season: np.ndarray | None = None
    """(labels x series): the same for cycles with a stockout."""
    on_hand_by_season: np.ndarray | None = None
    """(labels x series): mean end-of-day on-hand stock over the days of each label."""

    def cycle_service_level(self) -> np.ndarray:
        """Share of cycles without a stockout; NaN for a series without a complete cycle."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.cycles > 0, 1.0 - self.stockout_cycles / np.maximum(self.cycles, 1), np.nan)


def replay_s_q(
    demand: np.ndarray,
    reorder_point: np.ndarray,
    order_quantity: np.ndarray,
    lead_time_days: np.ndarray,
    initial_stock: np.ndarray | None = None,
    season: np.ndarray | None = None,
) -> ReplayResult:
    """Run the (s, Q) policy over ``demand`` (days x series) and count cycles and stockouts.

    ``reorder_point`` (s) has one value per series or one per day and series (days x series);
    ``order_quantity`` (Q > 0) one per series; ``lead_time_days`` is the lead time (>= 1 day) of an
    order placed on each day, (days x series) or one value per series. ``initial_stock`` defaults
    to s + Q of the first day (the stock right after a receipt). ``season`` (optional, one integer
    label >= 0 per day) adds the per-label counts (see the module docstring).
    """
    demand = np.asarray(demand, dtype=float)
    if demand.ndim != 2:
        raise ValueError(f"demand must be (days x series), got shape {demand.shape}")
    n_days, n_series = demand.shape
    s_days = np.broadcast_to(np.asarray(reorder_point, dtype=float), (n_days, n_series))
    q = np.broadcast_to(np.asarray(order_quantity, dtype=float), (n_series,))
    if np.any(~(q > 0)):
        raise ValueError("order quantities must be positive")
    if np.any(np.isnan(s_days)):
        raise ValueError("reorder points must not be NaN")
    lead = np.broadcast_to(np.asarray(lead_time_days, dtype=np.int64), (n_days, n_series))
    if np.any(lead < 1):
        raise ValueError("lead times must be at least one day")

    labels = None if season is None else np.asarray(season, dtype=np.int64)
    if labels is not None and (labels.shape != (n_days,) or np.any(labels < 0)):
        raise ValueError(f"season must hold one label >= 0 per day ({n_days}), got shape {labels.shape}")
    n_labels = 0 if labels is None else int(labels.max(initial=0)) + 1

    net = (s_days[0] + q if initial_stock is None else np.asarray(initial_stock, dtype=float)).copy()
    on_order = np.zeros(n_series)
    horizon = n_days + int(lead.max(initial=1)) + 1
    due_quantity = np.zeros((horizon, n_series))
    due_orders = np.zeros((horizon, n_series), dtype=np.int64)
    due_label = np.zeros((horizon, n_series), dtype=np.int64)
    columns = np.arange(n_series)
    cycles_by = np.zeros((n_labels, n_series), dtype=np.int64)
    stockouts_by = np.zeros((n_labels, n_series), dtype=np.int64)
    on_hand_by = np.zeros((n_labels, n_series))

    started = np.zeros(n_series, dtype=bool)
    stockout_in_cycle = np.zeros(n_series, dtype=bool)
    cycles = np.zeros(n_series, dtype=np.int64)
    stockout_cycles = np.zeros(n_series, dtype=np.int64)
    orders = np.zeros(n_series, dtype=np.int64)
    backordered_days = np.zeros(n_series, dtype=np.int64)
    on_hand_sum = np.zeros(n_series)

    for t in range(n_days):
        arriving = due_orders[t] > 0
        closing = arriving & started
        cycles += closing
        stockout_cycles += closing & stockout_in_cycle
        if labels is not None and closing.any():
            np.add.at(cycles_by, (due_label[t, closing], columns[closing]), 1)
            hit = closing & stockout_in_cycle
            np.add.at(stockouts_by, (due_label[t, hit], columns[hit]), 1)
        stockout_in_cycle &= ~arriving
        started |= arriving
        net += due_quantity[t]
        on_order -= due_quantity[t]

        net -= demand[t]
        short = net < 0
        stockout_in_cycle |= short & started
        backordered_days += short
        on_hand_sum += np.maximum(net, 0.0)
        if labels is not None:
            on_hand_by[labels[t]] += np.maximum(net, 0.0)

        s = s_days[t]
        position = net + on_order
        need = position <= s
        if need.any():
            batches = np.floor((s[need] - position[need]) / q[need]) + 1.0
            quantity = batches * q[need]
            arrival = t + lead[t, need]
            on_order[need] += quantity
            np.add.at(due_quantity, (arrival, columns[need]), quantity)
            np.add.at(due_orders, (arrival, columns[need]), 1)
            if labels is not None:
                due_label[arrival, columns[need]] = labels[t]
            orders += need

    return ReplayResult(
        cycles=cycles,
        stockout_cycles=stockout_cycles,
        average_on_hand=on_hand_sum / max(n_days, 1),
        orders=orders,
        backordered_days=backordered_days,
        cycles_by_season=None if labels is None else cycles_by,
        stockout_cycles_by_season=None if labels is None else stockouts_by,
        on_hand_by_season=None if labels is None else on_hand_by / np.maximum(
            np.bincount(labels, minlength=n_labels), 1)[:, None],
    )


def lognormal_lead_times(
    rng: np.random.Generator, quoted_days: np.ndarray, mean_days: np.ndarray, sigma: np.ndarray, n_days: int
) -> np.ndarray:
    """(n_days x series) lead times drawn like the ERP simulator draws them:
    ``max(1, round(quoted * exp(bias + sigma * N(0, 1))))`` with the bias that gives the mean
    ``mean_days`` (``bias = ln(mean / quoted) - sigma^2 / 2``)."""
    quoted = np.asarray(quoted_days, dtype=float)
    sigma = np.asarray(sigma, dtype=float)
    bias = np.log(np.asarray(mean_days, dtype=float) / quoted) - sigma**2 / 2.0
    normal = rng.standard_normal((n_days, len(quoted)))
    return np.maximum(1, np.round(quoted[None, :] * np.exp(bias[None, :] + sigma[None, :] * normal))).astype(np.int64)
