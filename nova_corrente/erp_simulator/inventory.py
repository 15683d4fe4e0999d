"""Day-by-day stock simulation under an (s, Q) policy, vectorised across material-sites.

Order of events within a business day (and of their UTC timestamps, 08:00-18:00 in Bahia):
receipts of purchase orders (11:00-12:59 UTC), transfers between sites (13:00-13:59), purchase
order cancellations (15:00-15:59, rare), consumption (14:00-18:59), returns of unused material
by field crews (19:00-19:29), inventory-count adjustments (19:30-19:59), then new purchase orders
(20:00-20:59) for every material-site whose inventory position (stock + open orders) is at or
below its reorder point ``s``. Consumption is ``min(demand, stock)``, so stock is never negative.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from nova_corrente.erp_simulator.config import rng_for

Z_SERVICE = 1.65
REVIEW_BUFFER_DAYS = 3
P_SHORT_RECEIPT = 0.04
P_CANCEL = 0.02
P_ADJUSTMENT = 1 / 120
P_RETURN = 0.03
P_TRANSFER = 1 / 40

# window of each event type, seconds after midnight UTC
WINDOWS: dict[str, tuple[int, int]] = {
    "receipt": (11 * 3600, 13 * 3600),
    "transfer": (13 * 3600, 14 * 3600),
    "consumption": (14 * 3600, 19 * 3600),
    "cancel": (15 * 3600, 16 * 3600),
    "return": (19 * 3600, 19 * 3600 + 1800),
    "adjustment": (19 * 3600 + 1800, 20 * 3600),
    "order": (20 * 3600, 21 * 3600),
}


@dataclass(frozen=True)
class StockResult:
    """What the stock simulation produced (indices refer to days and ``series`` rows)."""

    policy: pd.DataFrame  # reorder_point, order_quantity, initial_stock per series
    orders: pd.DataFrame  # order_day, series, quantity_ordered, lead_time_days, arrival_day,
    #                       quantity_received, cancel_day (-1 = none); arrival beyond horizon = open
    movements: pd.DataFrame  # day, series, movement_type, quantity, order (row in orders or -1)
    final_stock: np.ndarray


def reorder_policy(
    seed: int, expected: np.ndarray, series: pd.DataFrame, lead_time_days: np.ndarray,
    unit_cost: np.ndarray,
) -> pd.DataFrame:
    """(s, Q) per series from the average demand and the preferred supplier's quoted lead time.

    ``s`` covers demand over lead time plus a review buffer with a 95 % safety stock; ``Q`` covers
    30 (expensive), 45 or 60 (cheap) days of demand, in multiples of the material's pack size.
    """
    rng = rng_for(seed, "policy")
    mean = expected.mean(axis=0) if len(expected) else np.zeros(len(series))
    size = series["mean_event_size"].to_numpy()
    pack = series["pack"].to_numpy()
    cover = lead_time_days + REVIEW_BUFFER_DAYS
    variance = mean * (size + 1.0)
    s = np.maximum(np.ceil(mean * cover + Z_SERVICE * np.sqrt(cover * variance)), 1.0)
    cycle = np.where(unit_cost > 5000, 30, np.where(unit_cost > 500, 45, 60))
    q = np.maximum(np.ceil(mean * cycle / pack), 1.0) * pack
    initial = s + np.round(q * rng.uniform(0.3, 1.0, len(series)))
    return pd.DataFrame({"reorder_point": s, "order_quantity": q.astype(float), "initial_stock": initial})


def simulate_stock(
    seed: int,
    days: np.ndarray,
    demand: np.ndarray,
    series: pd.DataFrame,
    policy: pd.DataFrame,
    lead_time: pd.DataFrame,
) -> StockResult:
    """Run the (s, Q) policy over all days; returns orders and movements as index frames.

    ``lead_time`` has one row per series: quoted_lead_time_days, log_bias, lead_time_sigma of the
    preferred supplier (actual lead time = quoted * exp(bias + sigma * N(0, 1)), at least 1 day).
    """
    rng = rng_for(seed, "stock")
    n_days, n_series = demand.shape
    shape = (n_days, n_series)
    weekday = ((days.astype(int) + 3) % 7) < 5
    # everything random is drawn up front, so the loop is pure bookkeeping
    lead = np.maximum(1, np.round(
        lead_time["quoted_lead_time_days"].to_numpy()[None, :]
        * np.exp(lead_time["log_bias"].to_numpy()[None, :]
                 + lead_time["lead_time_sigma"].to_numpy()[None, :] * rng.standard_normal(shape))
    )).astype(int)
    short = np.where(rng.random(shape) < P_SHORT_RECEIPT, rng.uniform(0.85, 0.98, shape), 1.0)
    cancel_delay = np.where(rng.random(shape) < P_CANCEL, rng.integers(1, 4, shape), 0)
    adjust_step = np.maximum(1.0, np.round(series["mean_event_size"].to_numpy() / 3.0))[None, :]
    adjust = np.where(
        (rng.random(shape) < P_ADJUSTMENT) & weekday[:, None],
        rng.choice(np.array([-3.0, -2.0, -1.0, -1.0, 1.0, 2.0]), size=shape) * adjust_step, 0.0,
    )
    return_draw = rng.random(shape) < P_RETURN
    return_share = rng.uniform(0.1, 0.5, shape)
    material_index = series["material_index"].to_numpy()
    materials = np.unique(material_index)
    members = [np.flatnonzero(material_index == m) for m in materials]
    transfer_draw = (rng.random((n_days, len(materials))) < P_TRANSFER) & weekday[:, None]

    s = policy["reorder_point"].to_numpy()
    q = policy["order_quantity"].to_numpy()
    stock = policy["initial_stock"].to_numpy().astype(float).copy()
    on_order = np.zeros(n_series)
    due_ordered = np.zeros(shape)
    due_received = np.zeros(shape)
    due_cancelled = np.zeros(shape)
    consumed = np.zeros(shape)
    returned = np.zeros(shape)
    adjusted = np.zeros(shape)
    transfers: list[tuple[int, int, int, float]] = []
    order_parts: list[tuple[np.ndarray, ...]] = []
    prev_consumed = np.zeros(n_series)

    for t in range(n_days):
        stock += due_received[t]
        on_order -= due_ordered[t] + due_cancelled[t]
        for k in np.flatnonzero(transfer_draw[t]):
            idx = members[k]
            if len(idx) < 2:
                continue
            cover = stock[idx] / s[idx]
            src, dst = idx[int(np.argmax(cover))], idx[int(np.argmin(cover))]
            amount = np.floor((stock[src] - stock[dst]) / 3.0)
            if src != dst and amount >= 1:
                stock[src] -= amount
                stock[dst] += amount
                transfers.append((t, int(src), int(dst), float(amount)))
        used = np.minimum(demand[t], stock)
        stock -= used
        back = np.where(return_draw[t] & (prev_consumed > 0),
                        np.maximum(1.0, np.floor(prev_consumed * return_share[t])), 0.0)
        stock += back
        delta = np.maximum(adjust[t], -stock)
        stock += delta
        consumed[t], returned[t], adjusted[t] = used, back, delta
        prev_consumed = used

        position = stock + on_order
        need = np.flatnonzero(position <= s)
        if len(need):
            qty = np.ceil((s[need] - position[need] + 1.0) / q[need]) * q[need]
            lead_t = lead[t, need]
            arrival = t + lead_t
            received = np.where(qty > 1, np.floor(qty * short[t, need]), qty)
            delay = cancel_delay[t, need]
            cancel_day = np.where((delay > 0) & (delay < lead_t), t + delay, -1)
            on_order[need] += qty
            cancels = (cancel_day >= 0) & (cancel_day < n_days)
            np.add.at(due_cancelled, (cancel_day[cancels], need[cancels]), qty[cancels])
            arrives = (cancel_day < 0) & (arrival < n_days)
            np.add.at(due_ordered, (arrival[arrives], need[arrives]), qty[arrives])
            np.add.at(due_received, (arrival[arrives], need[arrives]), received[arrives])
            order_parts.append((np.full(len(need), t), need, qty, lead_t, arrival, received, cancel_day))

    orders = _orders_frame(order_parts)
    movements = _movements_frame(consumed, returned, adjusted, transfers, orders, n_days)
    return StockResult(policy=policy, orders=orders, movements=movements, final_stock=stock)


def _orders_frame(parts: list[tuple[np.ndarray, ...]]) -> pd.DataFrame:
    columns = ["order_day", "series", "quantity_ordered", "lead_time_days", "arrival_day",
               "quantity_received", "cancel_day"]
    if not parts:
        return pd.DataFrame({c: np.zeros(0, dtype=float if "quantity" in c else int) for c in columns})
    stacked = [np.concatenate([p[i] for p in parts]) for i in range(len(columns))]
    return pd.DataFrame(dict(zip(columns, stacked, strict=True)))


def _movements_frame(
    consumed: np.ndarray, returned: np.ndarray, adjusted: np.ndarray,
    transfers: list[tuple[int, int, int, float]], orders: pd.DataFrame, n_days: int,
) -> pd.DataFrame:
    """All movements as (day, series, movement_type, quantity, order) rows, unsorted."""
    blocks = []
    for kind, matrix, keep in (
        ("consumption", consumed, consumed > 0),
        ("return", returned, returned > 0),
        ("adjustment", adjusted, adjusted != 0),
    ):
        day, col = np.nonzero(keep)
        blocks.append(pd.DataFrame({"day": day, "series": col, "movement_type": kind,
                                    "quantity": matrix[day, col], "order": -1}))
    received = orders[(orders["cancel_day"] < 0) & (orders["arrival_day"] < n_days)]
    blocks.append(pd.DataFrame({"day": received["arrival_day"].to_numpy(), "series": received["series"].to_numpy(),
                                "movement_type": "receipt", "quantity": received["quantity_received"].to_numpy(),
                                "order": received.index.to_numpy()}))
    if transfers:
        tr = np.array(transfers)
        day, src, dst, amount = tr[:, 0].astype(int), tr[:, 1].astype(int), tr[:, 2].astype(int), tr[:, 3]
        blocks.append(pd.DataFrame({"day": day, "series": src, "movement_type": "transfer_out",
                                    "quantity": amount, "order": -1}))
        blocks.append(pd.DataFrame({"day": day, "series": dst, "movement_type": "transfer_in",
                                    "quantity": amount, "order": -1}))
    out = pd.concat(blocks, ignore_index=True)
    return out.astype({"day": "int64", "series": "int64", "order": "int64", "quantity": "float64"})
