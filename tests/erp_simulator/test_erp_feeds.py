"""Weather, economic and ANATEL 5G feeds: plausible values, monthly CSV files, idempotent writes."""

from __future__ import annotations

import dataclasses
from datetime import date

import numpy as np
import pandas as pd
import pytest

from nova_corrente.erp_simulator import SimulationConfig, feeds, simulate, write_feed_files
from nova_corrente.erp_simulator.feeds import rollout_demand_factor

CONFIG = SimulationConfig(seed=11, start_date=date(2024, 1, 1), end_date=date(2024, 12, 31),
                          n_materials=4, n_sites=4, n_suppliers=2)


@pytest.fixture(scope="module")
def data():
    return simulate(CONFIG)


def test_weather_covers_each_site_city_every_day(data):
    weather = data.weather
    assert set(weather["city"]) == set(data.sites["city"])
    assert len(weather) == 366 * weather["city"].nunique()
    assert not weather.duplicated(["city", "weather_date"]).any()
    assert (weather["precipitation_mm"] >= 0).all()
    assert (weather["temperature_min_c"] < weather["temperature_max_c"]).all()
    assert weather["temperature_max_c"].between(15, 42).all()
    # the coast is wetter than the inland plateau (sites 1-4: Salvador, Feira, Conquista, Camaçari)
    rain = weather.groupby("city")["precipitation_mm"].sum()
    assert rain["Salvador"] > 2 * rain["Vitória da Conquista"]


def test_economic_indicators_move_like_the_real_ones(data):
    eco = data.economic
    assert len(eco) == 366 and eco["indicator_date"].is_monotonic_increasing
    assert eco["usd_brl"].between(4.9, 5.8).all()
    assert eco["usd_brl"].nunique() > 300  # a walk, not a constant
    selic_changes = np.flatnonzero(eco["selic_rate_pct"].diff().fillna(0).to_numpy() != 0)
    assert (np.diff(selic_changes) >= 45).all()
    monthly = eco.groupby(eco["indicator_date"].dt.to_period("M"))["ipca_index"]
    assert (monthly.nunique() == 1).all()
    assert monthly.first().is_monotonic_increasing


def test_feed_files_one_per_month_readable_and_not_rewritten(data, tmp_path):
    paths = write_feed_files(data, tmp_path)
    assert len(paths) == 36
    assert tmp_path / "weather" / "weather_2024-04.csv" in paths
    assert tmp_path / "economic" / "economic_2024-12.csv" in paths
    april = pd.read_csv(tmp_path / "weather" / "weather_2024-04.csv")
    assert list(april.columns) == ["city", "weather_date", "precipitation_mm", "temperature_max_c",
                                   "temperature_min_c"]
    assert april["weather_date"].min() == "2024-04-01" and april["weather_date"].max() == "2024-04-30"
    expected = data.weather[data.weather["weather_date"].dt.month == 4]
    assert np.allclose(april["precipitation_mm"], expected["precipitation_mm"])
    eco = pd.read_csv(tmp_path / "economic" / "economic_2024-02.csv")
    assert list(eco.columns) == ["indicator_date", "usd_brl", "selic_rate_pct", "ipca_index"]
    assert len(eco) == 29

    stamps = {p: p.stat().st_mtime_ns for p in paths}
    contents = {p: p.read_bytes() for p in paths}
    assert write_feed_files(simulate(CONFIG), tmp_path) == paths
    assert {p: p.stat().st_mtime_ns for p in paths} == stamps
    assert {p: p.read_bytes() for p in paths} == contents


def test_feed_files_until_only_hold_finished_days(data, tmp_path):
    paths = write_feed_files(data, tmp_path, until=date(2024, 3, 15))
    assert sorted(p.name for p in paths if p.parent.name == "economic") == [
        "economic_2024-01.csv", "economic_2024-02.csv", "economic_2024-03.csv"]
    march = pd.read_csv(tmp_path / "economic" / "economic_2024-03.csv")
    assert march["indicator_date"].max() == "2024-03-14"
    write_feed_files(data, tmp_path, until=date(2024, 3, 16))
    assert pd.read_csv(tmp_path / "economic" / "economic_2024-03.csv")["indicator_date"].max() == "2024-03-15"


def test_anatel_5g_has_one_row_per_city_month_and_operator(data):
    rollout = data.anatel_5g
    assert list(rollout.columns) == ["city", "reference_month", "operator", "stations_5g", "population_covered_pct"]
    assert set(rollout["city"]) == set(data.sites["city"])
    assert set(rollout["operator"]) == {"Claro", "Vivo", "TIM"}
    assert len(rollout) == 12 * rollout["city"].nunique() * 3
    assert not rollout.duplicated(["city", "reference_month", "operator"]).any()
    assert (rollout["reference_month"].dt.day == 1).all()
    assert rollout["reference_month"].min() == pd.Timestamp("2024-01-01")
    assert rollout["reference_month"].max() == pd.Timestamp("2024-12-01")


def test_anatel_5g_counts_and_coverage_never_decrease_and_big_cities_lead(data):
    rollout = data.anatel_5g.sort_values(["city", "operator", "reference_month"])
    steps = rollout.groupby(["city", "operator"])[["stations_5g", "population_covered_pct"]].diff().dropna()
    assert (steps >= 0).all().all()
    assert rollout["population_covered_pct"].between(0, 100).all()
    assert (rollout["stations_5g"] >= 0).all()
    first_months = rollout[rollout["reference_month"] < pd.Timestamp("2024-03-01")]
    assert (first_months["stations_5g"] == 0).all()
    assert rollout["stations_5g"].max() > 0
    december = data.anatel_5g[data.anatel_5g["reference_month"] == pd.Timestamp("2024-12-01")]
    total = december.groupby("city")["stations_5g"].sum()
    assert total["Salvador"] > total["Feira de Santana"] > total["Vitória da Conquista"]
    assert total["Feira de Santana"] > total["Camaçari"]


def test_anatel_5g_is_deterministic_and_depends_on_the_seed(data):
    pd.testing.assert_frame_equal(simulate(CONFIG).anatel_5g, data.anatel_5g)
    other = simulate(dataclasses.replace(CONFIG, seed=12))
    assert not other.anatel_5g["stations_5g"].equals(data.anatel_5g["stations_5g"])


def test_rollout_factor_raises_only_transmission_demand_in_months_with_new_stations():
    days = np.arange(np.datetime64("2024-01-30"), np.datetime64("2024-02-02"))  # Jan 30, 31, Feb 1
    months = np.array(["2024-01", "2024-02"], dtype="datetime64[M]")
    additions = np.zeros((2, 2, 3), dtype=np.int64)
    additions[1, 0] = [30, 20, 22]  # Salvador: 72 new stations in February = 2.98 per 100k
    additions[1, 1] = [500, 0, 0]  # Feira de Santana: far above full activity -> capped
    factor = rollout_demand_factor(days, months, ["Salvador", "Feira de Santana"], additions,
                                   np.array(["Salvador", "Salvador", "Feira de Santana"]),
                                   np.array([True, False, True]))
    assert factor.shape == (3, 3)
    assert (factor[:2] == 1.0).all()  # January: nothing new
    assert factor[2, 0] == pytest.approx(1 + 0.15 * (72 / 24.18) / 3.0)
    assert factor[2, 1] == 1.0  # not a transmission material
    assert factor[2, 2] == pytest.approx(1.15)


def test_simulated_demand_carries_the_rollout_uplift(data, monkeypatch):
    monkeypatch.setattr(feeds, "ROLLOUT_DEMAND_STRENGTH", 0.0)
    without = simulate(CONFIG).truth.set_index(["material_id", "site_id", "demand_date"])["expected_demand"]
    with_uplift = data.truth.set_index(["material_id", "site_id", "demand_date"])["expected_demand"]
    ratio = with_uplift / without
    transmission = set(data.materials.loc[data.materials["family_id"].str.startswith("TX_"), "material_id"])
    is_tx = ratio.index.get_level_values("material_id").isin(transmission)
    assert is_tx.any() and (~is_tx).any()
    assert np.allclose(ratio[~is_tx], 1.0)
    assert ratio[is_tx].between(1.0, 1.15 + 1e-9).all()
    assert ratio[is_tx].max() > 1.02


def test_anatel_5g_files_one_per_month_and_until_publishes_a_month_after_its_first_day(data, tmp_path):
    paths = write_feed_files(data, tmp_path)
    anatel = sorted(p.name for p in paths if p.parent.name == "anatel_5g")
    assert anatel == [f"anatel_5g_2024-{month:02d}.csv" for month in range(1, 13)]
    june = pd.read_csv(tmp_path / "anatel_5g" / "anatel_5g_2024-06.csv")
    assert list(june.columns) == ["city", "reference_month", "operator", "stations_5g", "population_covered_pct"]
    assert set(june["reference_month"]) == {"2024-06-01"}
    expected = data.anatel_5g[data.anatel_5g["reference_month"] == pd.Timestamp("2024-06-01")]
    assert june["stations_5g"].tolist() == expected["stations_5g"].tolist()
    assert np.allclose(june["population_covered_pct"], expected["population_covered_pct"])

    until_first = write_feed_files(data, tmp_path / "until", until=date(2024, 3, 1))
    assert sorted(p.name for p in until_first if p.parent.name == "anatel_5g") == [
        "anatel_5g_2024-01.csv", "anatel_5g_2024-02.csv"]
    until_second = write_feed_files(data, tmp_path / "until", until=date(2024, 3, 2))
    assert tmp_path / "until" / "anatel_5g" / "anatel_5g_2024-03.csv" in until_second
