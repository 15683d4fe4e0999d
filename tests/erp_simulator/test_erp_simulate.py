"""The simulated ERP frames: deterministic, referentially sound, stock-consistent, seasonal."""

from __future__ import annotations

import dataclasses
from datetime import date

import pandas as pd
import pytest

from nova_corrente.erp_simulator import (
    MOVEMENT_SIGN,
    MOVEMENT_TYPES,
    PRIMARY_KEYS,
    TABLE_COLUMNS,
    SimulationConfig,
    erp_state_as_of,
    simulate,
)

YEAR = SimulationConfig(seed=7, start_date=date(2024, 1, 1), end_date=date(2024, 12, 31),
                        n_materials=12, n_sites=5, n_suppliers=4)
TINY = SimulationConfig(seed=3, start_date=date(2024, 3, 1), end_date=date(2024, 5, 29),
                        n_materials=6, n_sites=3, n_suppliers=3)


@pytest.fixture(scope="module")
def year():
    return simulate(YEAR)


@pytest.fixture(scope="module")
def tiny():
    return simulate(TINY)


def _csv_bytes(data) -> dict[str, bytes]:
    names = [f.name for f in dataclasses.fields(data) if f.name != "config"]
    return {name: getattr(data, name).to_csv(index=False).encode() for name in names}


def test_same_config_gives_byte_identical_frames_and_another_seed_differs(tiny):
    again = simulate(TINY)
    assert _csv_bytes(again) == _csv_bytes(tiny)
    other = simulate(dataclasses.replace(TINY, seed=4))
    assert not other.stock_movements.equals(tiny.stock_movements)
    assert not other.truth["expected_demand"].equals(tiny.truth["expected_demand"])


def test_default_dates_are_three_years_ending_yesterday():
    cfg = SimulationConfig().resolved(today_minus_one=date(2025, 3, 10))
    assert (cfg.start_date, cfg.end_date) == (date(2022, 3, 11), date(2025, 3, 10))
    leap = SimulationConfig().resolved(today_minus_one=date(2024, 2, 29))
    assert leap.start_date == date(2021, 3, 1)
    assert SimulationConfig().resolved().end_date < date.today()
    with pytest.raises(ValueError):
        SimulationConfig(start_date=date(2024, 2, 1), end_date=date(2024, 1, 1))


def test_tables_have_schema_columns_and_unique_keys(year):
    for table, frame in year.tables().items():
        assert tuple(frame.columns) == TABLE_COLUMNS[table]
        assert not frame.duplicated(list(PRIMARY_KEYS[table])).any(), table
        assert frame.drop(columns=["received_date", "quantity_received", "purchase_order_id"],
                          errors="ignore").notna().all().all(), table
    assert len(year.materials) == 12 and len(year.sites) == 5 and len(year.suppliers) == 4


def test_referential_integrity(year):
    assert set(year.materials["family_id"]) <= set(year.material_families["family_id"])
    sm = year.supplier_materials
    assert set(sm["material_id"]) == set(year.materials["material_id"])
    assert (sm.groupby("material_id")["is_preferred"].sum() == 1).all()
    preferred = set(map(tuple, sm.loc[sm["is_preferred"], ["supplier_id", "material_id"]].to_numpy()))
    po = year.purchase_orders
    assert set(map(tuple, po[["supplier_id", "material_id"]].to_numpy())) <= preferred
    stocked = set(map(tuple, year.stock_on_hand[["material_id", "site_id"]].to_numpy()))
    assert set(map(tuple, po[["material_id", "site_id"]].to_numpy())) <= stocked
    mv = year.stock_movements
    assert set(map(tuple, mv[["material_id", "site_id"]].to_numpy())) <= stocked
    # every material stocked at >= 2 sites, every site stocks something
    assert (year.stock_on_hand.groupby("material_id").size() >= 2).all()
    assert set(year.stock_on_hand["site_id"]) == set(year.sites["site_id"])


def test_receipts_match_received_purchase_orders_one_to_one(year):
    mv = year.stock_movements
    receipts = mv[mv["movement_type"] == "receipt"]
    assert mv.loc[mv["movement_type"] != "receipt", "purchase_order_id"].isna().all()
    received = year.purchase_orders[year.purchase_orders["status"] == "received"]
    joined = receipts.merge(received, on="purchase_order_id", suffixes=("", "_po"), validate="one_to_one")
    assert len(joined) == len(receipts) == len(received)
    assert (joined["quantity"] == joined["quantity_received"]).all()
    assert (joined["movement_date"] == joined["received_date"]).all()
    assert (joined["updated_at"] == joined["updated_at_po"]).all()
    assert (joined[["material_id", "site_id"]].to_numpy() == joined[["material_id_po", "site_id_po"]].to_numpy()).all()
    assert (received["quantity_received"] <= received["quantity_ordered"]).all()
    assert (received["quantity_received"] < received["quantity_ordered"]).any()  # short deliveries happen
    assert (received["received_date"] >= received["order_date"] + pd.Timedelta(days=1)).all()
    still_open = year.purchase_orders["status"] != "received"
    assert year.purchase_orders.loc[still_open, ["received_date", "quantity_received"]].isna().all().all()


def test_stock_never_negative_and_balances_to_stock_on_hand(year):
    mv = year.stock_movements.sort_values("movement_id")
    assert mv["created_at"].is_monotonic_increasing  # ids follow time
    signed = mv["quantity"] * mv["movement_type"].map(MOVEMENT_SIGN)
    opening = year.series.set_index(["material_id", "site_id"])["initial_stock"]
    running = signed.groupby([mv["material_id"], mv["site_id"]]).cumsum()
    start = opening.reindex(pd.MultiIndex.from_frame(mv[["material_id", "site_id"]])).to_numpy()
    assert (start + running.to_numpy()).min() >= 0
    net = signed.groupby([mv["material_id"], mv["site_id"]]).sum()
    final = year.stock_on_hand.set_index(["material_id", "site_id"])["quantity_on_hand"]
    expected = opening.add(net, fill_value=0.0)
    pd.testing.assert_series_equal(final.sort_index(), expected.reindex(final.index).sort_index(),
                                   check_names=False)
    assert (mv.loc[mv["movement_type"] != "adjustment", "quantity"] > 0).all()
    assert (mv.loc[mv["movement_type"] == "adjustment", "quantity"] < 0).any()


def test_every_movement_type_occurs_even_in_a_tiny_erp(tiny, year):
    for data in (tiny, year):
        assert set(data.stock_movements["movement_type"]) == set(MOVEMENT_TYPES)
    mv = tiny.stock_movements
    outs = mv[mv["movement_type"] == "transfer_out"].reset_index(drop=True)
    ins = mv[mv["movement_type"] == "transfer_in"].reset_index(drop=True)
    assert (outs["movement_date"] == ins["movement_date"]).all()
    assert (outs["material_id"] == ins["material_id"]).all() and (outs["site_id"] != ins["site_id"]).all()
    assert (outs["quantity"] == ins["quantity"]).all()


def test_timestamps_are_utc_business_hours_of_the_event_day(year):
    mv = year.stock_movements
    assert str(mv["created_at"].dt.tz) == "UTC"
    assert mv["created_at"].dt.hour.between(11, 20).all()
    assert (mv["created_at"].dt.tz_localize(None).dt.normalize() == mv["movement_date"]).all()
    po = year.purchase_orders
    assert (po["created_at"].dt.tz_localize(None).dt.normalize() == po["order_date"]).all()
    assert (po["updated_at"] >= po["created_at"]).all()


def test_purchase_orders_keep_their_version_history(year):
    versions = year.purchase_order_versions
    first = versions.groupby("purchase_order_id").head(1)
    assert (first["status"] == "open").all() and (first["updated_at"] == first["created_at"]).all()
    assert set(versions["purchase_order_id"]) == set(year.purchase_orders["purchase_order_id"])
    assert {"received", "cancelled"} <= set(year.purchase_orders["status"])
    assert versions["purchase_order_id"].value_counts().max() == 2
    ids = year.purchase_orders.sort_values("created_at")["purchase_order_id"]
    assert list(ids) == [f"PO-{i:06d}" for i in range(1, len(ids) + 1)]
    # mid-year the ERP shows the received orders of later as still open
    mid = erp_state_as_of(year, date(2024, 7, 1))["purchase_orders"]
    later = year.purchase_orders.set_index("purchase_order_id").loc[mid["purchase_order_id"]]
    changed = (mid["status"].to_numpy() == "open") & (later["status"].to_numpy() == "received")
    assert changed.any()


def test_prices_are_revised_each_january(year):
    # 2024-01-02 is in range: every material has two versions, the second 3-7 % dearer
    versions = year.material_versions.sort_values(["material_id", "updated_at"])
    assert (versions.groupby("material_id").size() == 2).all()
    ratio = versions.groupby("material_id")["unit_cost_brl"].agg(lambda s: s.iloc[1] / s.iloc[0])
    assert ratio.between(1.025, 1.075).all()
    energy = year.materials[year.materials["family_id"].str.startswith("ENERGY")]["unit_cost_brl"]
    connectors = year.materials[year.materials["family_id"] == "CONN_CONNECTOR"]["unit_cost_brl"]
    assert energy.min() > connectors.max()


def test_rainy_season_and_calendar_shape_the_true_demand(year):
    truth = year.truth
    month = truth["demand_date"].dt.month
    rainy = truth.loc[month.isin([4, 5, 6, 7]), "expected_demand"].mean()
    dry = truth.loc[month.isin([9, 10, 11, 12]), "expected_demand"].mean()
    assert rainy > 1.15 * dry
    daily = truth.groupby("demand_date")["expected_demand"].sum()
    weekday = daily.index.dayofweek
    assert daily[weekday == 6].mean() < 0.5 * daily[weekday < 5].mean()
    # 2 July (Bahia's independence day, a state holiday) fell on a Tuesday in 2024
    tuesdays = daily[(weekday == 1) & (daily.index.month == 7)]
    assert daily[pd.Timestamp("2024-07-02")] < 0.5 * tuesdays.drop(pd.Timestamp("2024-07-02")).mean()
    weather = year.weather
    wm = weather["weather_date"].dt.month
    assert weather.loc[wm.isin([4, 5, 6, 7]), "precipitation_mm"].mean() > 1.5 * \
        weather.loc[wm.isin([9, 10, 11, 12]), "precipitation_mm"].mean()


def test_intermittent_series_have_mostly_zero_days(year):
    mv = year.stock_movements
    n_days = year.truth["demand_date"].nunique()
    used_days = (mv[mv["movement_type"] == "consumption"].groupby(["material_id", "site_id"])["movement_date"]
                 .nunique())
    series = year.series.set_index(["material_id", "site_id"])
    zero_share = 1.0 - used_days.reindex(series.index).fillna(0) / n_days
    by_profile = zero_share.groupby(series["demand_profile"]).mean()
    assert by_profile["intermittent"] > 0.8
    assert by_profile["smooth"] < 0.6
    assert set(by_profile.index) == {"smooth", "intermittent", "lumpy"}
