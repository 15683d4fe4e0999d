"""Weather and economic feeds: plausible values, monthly CSV files, idempotent writes."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from nova_corrente.erp_simulator import SimulationConfig, simulate, write_feed_files

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
    assert len(paths) == 24
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
