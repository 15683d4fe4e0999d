"""`simulate(config) -> ErpData`: the whole simulated ERP from one seed.

Composition only: master data (``catalog``), weather, economy and the 5G rollout (``feeds``),
demand (``demand``), stock and purchasing (``inventory``); this module turns their index frames
into the ERP tables with ids and UTC timestamps.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nova_corrente.erp_simulator import catalog
from nova_corrente.erp_simulator.config import (
    MOVEMENT_TYPES,
    TABLE_COLUMNS,
    ErpData,
    SimulationConfig,
    midnight_dates,
    rng_for,
    utc_timestamps,
)
from nova_corrente.erp_simulator.demand import build_series, expected_demand, sample_demand, truth_frame
from nova_corrente.erp_simulator.feeds import (
    anatel_5g_frame,
    month_range,
    rollout_demand_factor,
    simulate_5g_additions,
    simulate_economic,
    simulate_weather_matrix,
    weather_frame,
)
from nova_corrente.erp_simulator.inventory import WINDOWS, reorder_policy, simulate_stock
from nova_corrente.erp_simulator.seasonality import day_range


def _seconds(rng: np.random.Generator, kind: str, n: int) -> np.ndarray:
    low, high = WINDOWS[kind]
    return rng.integers(low, high, n)


def simulate(config: SimulationConfig | None = None) -> ErpData:
    """Generate the ERP described by ``config`` (defaults: 40 materials, 15 sites, 3 years)."""
    cfg = (config or SimulationConfig()).resolved()
    days = day_range(np.datetime64(cfg.start_date), np.datetime64(cfg.end_date))
    families = catalog.build_families(cfg)
    materials0, material_params = catalog.build_materials(cfg)
    sites, site_params = catalog.build_sites(cfg)
    suppliers, supplier_params = catalog.build_suppliers(cfg)
    supplier_materials0, lead_times = catalog.build_supplier_materials(
        cfg, materials0, material_params, supplier_params)

    pairs = catalog.stocked_pairs(cfg, len(materials0), len(sites))
    series = build_series(pairs, material_params, site_params)
    cities = list(dict.fromkeys(sites["city"]))
    weather_m = simulate_weather_matrix(cfg.seed, days, cities)
    months = month_range(days)
    additions_5g = simulate_5g_additions(cfg.seed, months, cities)
    is_transmission = material_params["category"].to_numpy()[series["material_index"].to_numpy()] == "transmission"
    expected = expected_demand(days, series, weather_m["precipitation_mm"], cities) * rollout_demand_factor(
        days, months, cities, additions_5g, series["city"].to_numpy(), is_transmission)
    demand = sample_demand(cfg.seed, expected, series)

    preferred = lead_times[lead_times["is_preferred"]].set_index("material_id")
    series_lead = preferred.loc[series["material_id"]].reset_index()
    unit_cost = materials0["unit_cost_brl"].to_numpy()[series["material_index"].to_numpy()]
    policy = reorder_policy(cfg.seed, expected, series, series_lead["quoted_lead_time_days"].to_numpy(), unit_cost)
    stock = simulate_stock(cfg.seed, days, demand, series, policy, series_lead)

    factors = catalog.price_revision_factors(cfg, days, len(materials0))
    material_versions, supplier_material_versions = _price_versions(
        cfg, days, factors, materials0, supplier_materials0)
    po_versions, order_ids, order_times = _purchase_orders(cfg, days, series, series_lead, stock.orders,
                                                           factors, supplier_materials0)
    movements = _movements(cfg, days, series, stock.movements, order_ids, order_times)
    opening_at = catalog.master_timestamp(cfg, 16)
    stock_on_hand = _stock_on_hand(series, stock.final_stock, movements, opening_at)

    series_out = pd.DataFrame({
        "material_id": series["material_id"],
        "site_id": series["site_id"],
        "demand_profile": series["demand_profile"],
        "base_rate_per_day": series["base_rate_per_day"],
        "mean_event_size": series["mean_event_size"],
        "rain_sensitivity": series["rain_sensitivity"],
        "supplier_id": series_lead["supplier_id"],
        "reorder_point": policy["reorder_point"],
        "order_quantity": policy["order_quantity"],
        "initial_stock": policy["initial_stock"],
        "opening_at": opening_at,
    })
    return ErpData(
        config=cfg,
        material_families=families,
        materials=_latest(material_versions, ["material_id"]),
        sites=sites,
        suppliers=suppliers,
        supplier_materials=_latest(supplier_material_versions, ["supplier_id", "material_id"]),
        purchase_orders=_latest(po_versions, ["purchase_order_id"]),
        stock_movements=movements,
        stock_on_hand=stock_on_hand,
        material_versions=material_versions,
        supplier_material_versions=supplier_material_versions,
        purchase_order_versions=po_versions,
        series=series_out,
        lead_times=lead_times.drop(columns="log_bias"),
        truth=truth_frame(days, series, expected),
        weather=weather_frame(days, cities, weather_m),
        economic=simulate_economic(cfg.seed, days),
        anatel_5g=anatel_5g_frame(months, cities, additions_5g),
    )


def _latest(versions: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """The newest version per key (versions sorted by key then updated_at)."""
    ordered = versions.sort_values(key + ["updated_at"], kind="stable")
    return ordered.drop_duplicates(key, keep="last").sort_values(key, ignore_index=True)


def _price_versions(
    cfg: SimulationConfig, days: np.ndarray, factors: np.ndarray, materials: pd.DataFrame,
    supplier_materials: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Material and supplier-material rows as first loaded plus one version per yearly revision."""
    change_days = np.flatnonzero(np.r_[False, (np.diff(factors, axis=0) != 0).any(axis=1)]) if len(days) else []
    mat_parts, sm_parts = [materials], [supplier_materials]
    m_index = pd.Index(materials["material_id"]).get_indexer(supplier_materials["material_id"])
    for d in change_days:
        stamp = pd.Timestamp(days[d], tz="UTC") + pd.Timedelta(hours=12)
        mat_parts.append(materials.assign(
            unit_cost_brl=np.round(materials["unit_cost_brl"].to_numpy() * factors[d], 2),
            updated_at=stamp + pd.to_timedelta(np.arange(len(materials)), unit="s")))
        sm_parts.append(supplier_materials.assign(
            unit_price_brl=np.round(supplier_materials["unit_price_brl"].to_numpy() * factors[d, m_index], 2),
            updated_at=stamp + pd.Timedelta(minutes=30)))
    material_versions = pd.concat(mat_parts, ignore_index=True)
    sm_versions = pd.concat(sm_parts, ignore_index=True)
    return (
        material_versions[list(TABLE_COLUMNS["materials"])],
        sm_versions[list(TABLE_COLUMNS["supplier_materials"])],
    )


def _purchase_orders(
    cfg: SimulationConfig, days: np.ndarray, series: pd.DataFrame, series_lead: pd.DataFrame,
    orders: pd.DataFrame, factors: np.ndarray, supplier_materials: pd.DataFrame,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Purchase-order versions ('open', then 'received' or 'cancelled'), ids in creation order.

    Returns the versions, the id of each row of ``orders`` and its receipt timestamp (seconds
    after midnight of the arrival day) so receipts can reuse them.
    """
    rng = rng_for(cfg.seed, "po_timestamps")
    n_days, n = len(days), len(orders)
    created_s = _seconds(rng, "order", n)
    received_s = _seconds(rng, "receipt", n)
    cancelled_s = _seconds(rng, "cancel", n)
    order_day = orders["order_day"].to_numpy()
    col = orders["series"].to_numpy()
    rank = np.lexsort((col, created_s, order_day))
    ids = np.empty(n, dtype=object)
    ids[rank] = [f"PO-{i + 1:06d}" for i in range(n)]
    price_key = pd.MultiIndex.from_frame(supplier_materials[["supplier_id", "material_id"]])
    base_price = supplier_materials["unit_price_brl"].to_numpy()[
        price_key.get_indexer(pd.MultiIndex.from_arrays([series_lead["supplier_id"], series["material_id"]]))]
    price = np.round(base_price[col] * factors[order_day, series["material_index"].to_numpy()[col]], 2)
    quoted = series_lead["quoted_lead_time_days"].to_numpy()[col]
    order_dates = days[order_day]
    opened = pd.DataFrame({
        "purchase_order_id": ids,
        "supplier_id": series_lead["supplier_id"].to_numpy()[col],
        "material_id": series["material_id"].to_numpy()[col],
        "site_id": series["site_id"].to_numpy()[col],
        "order_date": midnight_dates(order_dates),
        "expected_date": midnight_dates(order_dates + quoted.astype("timedelta64[D]")),
        "received_date": pd.NaT,
        "quantity_ordered": orders["quantity_ordered"].to_numpy(),
        "quantity_received": np.nan,
        "unit_price_brl": price,
        "status": "open",
        "created_at": utc_timestamps(order_dates, created_s),
    })
    opened["received_date"] = opened["received_date"].astype("datetime64[s]")
    opened["updated_at"] = opened["created_at"]
    arrival = orders["arrival_day"].to_numpy()
    cancel = orders["cancel_day"].to_numpy()
    got = (cancel < 0) & (arrival < n_days)
    arrival_dates = days[np.minimum(arrival, n_days - 1)]
    received = opened[got].assign(
        received_date=midnight_dates(arrival_dates[got]),
        quantity_received=orders["quantity_received"].to_numpy()[got],
        status="received",
        updated_at=utc_timestamps(arrival_dates[got], received_s[got]),
    )
    dropped = (cancel >= 0) & (cancel < n_days)
    cancelled = opened[dropped].assign(
        status="cancelled",
        updated_at=utc_timestamps(days[cancel[dropped]], cancelled_s[dropped]),
    )
    versions = pd.concat([opened, received, cancelled], ignore_index=True)
    versions = versions.sort_values(["purchase_order_id", "updated_at"], ignore_index=True)
    return versions[list(TABLE_COLUMNS["purchase_orders"])], ids, received_s


def _movements(
    cfg: SimulationConfig, days: np.ndarray, series: pd.DataFrame, raw: pd.DataFrame,
    order_ids: np.ndarray, receipt_seconds: np.ndarray,
) -> pd.DataFrame:
    """Stock movements with sequential ids in time order and business-hour UTC timestamps."""
    rng = rng_for(cfg.seed, "movement_timestamps")
    kind = raw["movement_type"].to_numpy()
    seconds = np.zeros(len(raw), dtype=np.int64)
    for name, window in (("consumption", "consumption"), ("return", "return"), ("adjustment", "adjustment")):
        rows = np.flatnonzero(kind == name)
        seconds[rows] = _seconds(rng, window, len(rows))
    outs, ins = np.flatnonzero(kind == "transfer_out"), np.flatnonzero(kind == "transfer_in")
    transfer_s = _seconds(rng, "transfer", len(outs))
    seconds[outs], seconds[ins] = transfer_s, transfer_s + 1
    receipts = np.flatnonzero(kind == "receipt")
    order = raw["order"].to_numpy()
    seconds[receipts] = receipt_seconds[order[receipts]]
    day = raw["day"].to_numpy()
    col = raw["series"].to_numpy()
    type_rank = pd.Index(MOVEMENT_TYPES).get_indexer(kind)
    sort = np.lexsort((type_rank, col, seconds, day))
    day, col, seconds, kind, order = day[sort], col[sort], seconds[sort], kind[sort], order[sort]
    stamps = utc_timestamps(days[day], seconds)
    po = np.where(order >= 0, order_ids[np.maximum(order, 0)] if len(order_ids) else None, None)
    return pd.DataFrame({
        "movement_id": np.arange(1, len(sort) + 1, dtype=np.int64),
        "material_id": series["material_id"].to_numpy()[col],
        "site_id": series["site_id"].to_numpy()[col],
        "movement_type": kind,
        "movement_date": midnight_dates(days[day]),
        "quantity": raw["quantity"].to_numpy()[sort],
        "purchase_order_id": po,
        "created_at": stamps,
        "updated_at": stamps,
    })


def _stock_on_hand(
    series: pd.DataFrame, final_stock: np.ndarray, movements: pd.DataFrame, opening_at: pd.Timestamp
) -> pd.DataFrame:
    """Final stock per active material-site; updated_at = its last movement (or the opening)."""
    last = movements.groupby(["material_id", "site_id"])["updated_at"].max()
    key = pd.MultiIndex.from_frame(series[["material_id", "site_id"]])
    updated = last.reindex(key).fillna(opening_at).to_numpy()
    return pd.DataFrame({
        "material_id": series["material_id"],
        "site_id": series["site_id"],
        "quantity_on_hand": final_stock.astype(float),
        "updated_at": pd.DatetimeIndex(updated).tz_convert("UTC") if len(updated) else pd.DatetimeIndex([], tz="UTC"),
    })
