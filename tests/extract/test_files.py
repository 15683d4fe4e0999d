"""load_landing_files: good files load, bad ones are held back with a precise error."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from extract_testdata import DAY1, DAY2

from nova_corrente.erp_simulator import SimulationConfig, simulate, write_feed_files
from nova_corrente.extract import batches_for_interval, load_landing_files
from nova_corrente.extract.files import parse_value

WEATHER_HEADER = "city,weather_date,precipitation_mm,temperature_max_c,temperature_min_c\n"
ANATEL_HEADER = "city,reference_month,operator,stations_5g,population_covered_pct\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    """A landing folder with two good files and three bad ones."""
    write(tmp_path / "weather" / "2024-01.csv", WEATHER_HEADER
          + "Salvador,2024-01-01,12.5,31.2,24.0\n"
          + "Salvador,2024-01-02,,30.8,23.9\n"           # missing precipitation -> NULL
          + "\"Vitória da Conquista\",2024-01-01,0,27.5,17.1\n")
    write(tmp_path / "weather" / "bad_number.csv", WEATHER_HEADER
          + "Ilheus,2024-01-01,3.1,29.0,22.0\n"
          + "Ilheus,2024-01-02,\"4,2\",29.5,22.1\n")     # decimal comma
    write(tmp_path / "weather" / "duplicates.csv", WEATHER_HEADER
          + "Feira de Santana,2024-01-01,1,30,20\n"
          + "Feira de Santana,2024-01-02,2,30,20\n"
          + "Feira de Santana,2024-01-01,3,31,21\n")
    write(tmp_path / "economic" / "missing_column.csv",
          "indicator_date,usd_brl,selic_pct\n2024-01-02,4.91,11.75\n")
    table = pa.table({
        "indicator_date": pa.array([date(2024, 1, 2), date(2024, 1, 3)], pa.date32()),
        "usd_brl": [4.8914, 4.9231],
        "selic_rate_pct": [11.75, 11.75],
        "ipca_index": pa.array([Decimal("6842.11"), None], pa.decimal128(10, 2)),
    })
    (tmp_path / "economic").mkdir(exist_ok=True)
    pq.write_table(table, tmp_path / "economic" / "bcb_2024-01.parquet")
    return tmp_path


def test_good_files_load_and_bad_ones_are_held_back_with_precise_errors(pg, warehouse, landing):
    report = load_landing_files(pg, landing, interval_start=DAY1, interval_end=DAY2)

    assert sorted(batch.path.name for batch in report.loaded) == ["2024-01.csv", "bcb_2024-01.parquet"]
    errors = {item.path.name: item.error for item in report.held_back}
    assert sorted(errors) == ["bad_number.csv", "duplicates.csv", "missing_column.csv"]
    assert errors["bad_number.csv"].startswith("weather/bad_number.csv: 1 problem(s)")
    assert "row 2 (line 3), column precipitation_mm: bad value '4,2'" in errors["bad_number.csv"]
    assert ("duplicate key (city, weather_date) = (Feira de Santana, 2024-01-01) on row 1 (line 2) and row 3 (line 4)"
            in errors["duplicates.csv"])
    assert errors["missing_column.csv"] == (
        "economic/missing_column.csv: schema drift: missing columns selic_rate_pct, ipca_index; unexpected columns "
        "selic_pct (expected exactly indicator_date, usd_brl, selic_rate_pct, ipca_index)")
    assert not report.ok
    # held-back files are left in place
    assert (landing / "weather" / "bad_number.csv").exists()

    weather_rows = warehouse.rows(
        "select city, weather_date::text, precipitation_mm::text, _source from raw.feed_weather_daily order by 1, 2")
    assert weather_rows == [
        ("Salvador", "2024-01-01", "12.5", "2024-01.csv"),
        ("Salvador", "2024-01-02", None, "2024-01.csv"),
        ("Vitória da Conquista", "2024-01-01", "0", "2024-01.csv"),
    ]
    economic_rows = warehouse.rows(
        "select indicator_date::text, usd_brl::text, ipca_index::text from raw.feed_economic_indicators order by 1")
    assert economic_rows == [
        ("2024-01-02", "4.8914", "6842.11"), ("2024-01-03", "4.9231", None)]
    weather = next(batch for batch in report.loaded if batch.feed == "weather")
    assert weather.batch_id.startswith("file:weather/2024-01.csv|") and len(weather.batch_id.split("|")[1]) == 16
    assert warehouse.rows("select source, row_count, status from audit.load_batches order by 1") == [
        ("file:economic/bcb_2024-01.parquet", 2, "loaded"), ("file:weather/2024-01.csv", 3, "loaded")]
    assert batches_for_interval(pg, DAY2) == sorted(batch.batch_id for batch in report.loaded)


def test_reload_skips_unchanged_files_and_replaces_changed_ones(pg, warehouse, landing):
    first = load_landing_files(pg, landing)
    before = warehouse.raw_state()

    again = load_landing_files(pg, landing)
    assert again.loaded == []
    assert sorted(path.name for path in again.skipped) == ["2024-01.csv", "bcb_2024-01.parquet"]
    assert len(again.held_back) == 3  # still reported at every run
    assert warehouse.raw_state() == before

    write(landing / "weather" / "2024-01.csv", WEATHER_HEADER + "Salvador,2024-01-01,13.0,31.2,24.0\n")
    changed = load_landing_files(pg, landing)
    [batch] = changed.loaded
    old = next(item.batch_id for item in first.loaded if item.feed == "weather")
    assert batch.replaced_batch_ids == (old,)
    assert warehouse.rows("select city, precipitation_mm::text, _batch_id from raw.feed_weather_daily") == [
        ("Salvador", "13.0", batch.batch_id)]
    assert warehouse.scalar("select count(*) from audit.load_batches where source = 'file:weather/2024-01.csv'") == 1


def test_a_bad_new_version_keeps_the_previous_good_one(pg, warehouse, landing):
    load_landing_files(pg, landing)
    before = warehouse.raw_state()
    write(landing / "weather" / "2024-01.csv", WEATHER_HEADER + "Salvador,2024-01-31,lots,31.2,24.0\n")

    report = load_landing_files(pg, landing)

    assert "weather/2024-01.csv: 1 problem(s)" in {item.path.name: item.error for item in report.held_back}[
        "2024-01.csv"]
    assert warehouse.raw_state() == before


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("numeric", " 12.50 ", "12.50"),
        ("numeric", "", None),
        ("numeric", 4.8914, "4.8914"),
        ("numeric", 7, "7"),
        ("date", "2024-02-29", "2024-02-29"),
        ("date", date(2024, 3, 1), "2024-03-01"),
        ("text", " Salvador ", "Salvador"),
        ("integer", " 12 ", "12"),
        ("integer", "12.0", "12"),
        ("integer", 7.0, "7"),
        ("month", "2024-02-01", "2024-02-01"),
        ("month", date(2024, 3, 1), "2024-03-01"),
    ],
)
def test_parse_value_normalises_good_values(kind, value, expected):
    assert parse_value(kind, value) == expected


@pytest.mark.parametrize(
    ("kind", "value"),
    [("numeric", "4,2"), ("numeric", "NaN"), ("numeric", float("inf")), ("numeric", True),
     ("date", "2023-02-29"), ("date", "01/02/2024"), ("date", "20240102"), ("text", 12),
     ("integer", "12.5"), ("integer", "3000000000"), ("integer", "doze"), ("month", "2024-02-15")],
)
def test_parse_value_refuses_bad_values(kind, value):
    with pytest.raises(ValueError):
        parse_value(kind, value)


def anatel(path: Path, *rows: str) -> Path:
    """An ANATEL 5G rollout file with the feed's header and ``rows``."""
    return write(path, ANATEL_HEADER + "".join(f"{row}\n" for row in rows))


def test_anatel_5g_good_file_loads_and_bad_ones_are_held_back_naming_file_row_and_column(pg, warehouse, tmp_path):
    folder = tmp_path / "anatel_5g"
    anatel(folder / "anatel_5g_2024-01.csv",
           "Salvador,2024-01-01,Claro,12,45.5", "Salvador,2024-01-01,Vivo,0,0", "Feira de Santana,2024-01-01,TIM,3,4.2")
    anatel(folder / "bad_values.csv",
           "Itabuna,2024-01-01,Claro,doze,1.0", "Itabuna,2024-01-01,Vivo,-1,0", "Itabuna,2024-01-01,TIM,2,120",
           "Jequié,2024-01-15,Claro,1,0.5")
    anatel(folder / "decreasing.csv", "Ilhéus,2024-02-01,Claro,5,9.0", "Ilhéus,2024-01-01,Claro,8,9.0")
    anatel(folder / "duplicates.csv", "Juazeiro,2024-01-01,Vivo,1,2.0", "Juazeiro,2024-01-01,Vivo,2,3.0")
    write(folder / "drift.csv", "city,reference_month,operator,stations,population_covered_pct\n"
                                "Barreiras,2024-01-01,TIM,1,1.0\n")

    report = load_landing_files(pg, tmp_path)

    assert [batch.path.name for batch in report.loaded] == ["anatel_5g_2024-01.csv"]
    errors = {item.path.name: item.error for item in report.held_back}
    assert sorted(errors) == ["bad_values.csv", "decreasing.csv", "drift.csv", "duplicates.csv"]
    assert errors["bad_values.csv"].startswith("anatel_5g/bad_values.csv: 4 problem(s)")
    assert "row 1 (line 2), column stations_5g: bad value 'doze' (expected a number" in errors["bad_values.csv"]
    assert "row 2 (line 3), column stations_5g: bad value '-1' (must be at least 0)" in errors["bad_values.csv"]
    assert ("row 3 (line 4), column population_covered_pct: bad value '120' (must be between 0 and 100)"
            in errors["bad_values.csv"])
    assert ("row 4 (line 5), column reference_month: bad value '2024-01-15' (expected the first day of a month)"
            in errors["bad_values.csv"])
    assert errors["decreasing.csv"] == (
        "anatel_5g/decreasing.csv: 1 problem(s):\n  row 1 (line 2), column stations_5g: bad value '5' (below 8 on"
        " row 2 (line 3) for reference_month 2024-01-01, (Ilhéus, Claro); stations_5g must not decrease over"
        " reference_month per city, operator)")
    assert ("duplicate key (city, reference_month, operator) = (Juazeiro, 2024-01-01, Vivo) on row 1 (line 2)"
            " and row 2 (line 3)" in errors["duplicates.csv"])
    assert errors["drift.csv"].startswith(
        "anatel_5g/drift.csv: schema drift: missing columns stations_5g; unexpected columns stations")

    assert warehouse.rows(
        "select column_name, data_type from information_schema.columns"
        " where table_schema = 'raw' and table_name = 'feed_anatel_5g_rollout' order by ordinal_position") == [
        ("city", "text"), ("reference_month", "date"), ("operator", "text"), ("stations_5g", "integer"),
        ("population_covered_pct", "numeric"), ("_batch_id", "text"), ("_source", "text"),
        ("_loaded_at", "timestamp with time zone")]
    assert warehouse.rows(
        "select city, reference_month, operator, stations_5g, population_covered_pct::text, _source"
        " from raw.feed_anatel_5g_rollout order by 1, 3") == [
        ("Feira de Santana", date(2024, 1, 1), "TIM", 3, "4.2", "anatel_5g_2024-01.csv"),
        ("Salvador", date(2024, 1, 1), "Claro", 12, "45.5", "anatel_5g_2024-01.csv"),
        ("Salvador", date(2024, 1, 1), "Vivo", 0, "0", "anatel_5g_2024-01.csv"),
    ]
    assert warehouse.rows("select source, row_count, status from audit.load_batches") == [
        ("file:anatel_5g/anatel_5g_2024-01.csv", 3, "loaded")]


def test_anatel_5g_counts_may_not_decrease_against_months_already_loaded(pg, warehouse, tmp_path):
    folder = tmp_path / "anatel_5g"
    anatel(folder / "anatel_5g_2024-01.csv", "Salvador,2024-01-01,Claro,12,45.5", "Salvador,2024-01-01,Vivo,3,9.0")
    assert len(load_landing_files(pg, tmp_path).loaded) == 1

    anatel(folder / "anatel_5g_2024-02.csv", "Salvador,2024-02-01,Claro,10,46.0", "Salvador,2024-02-01,Vivo,4,9.5")
    [held] = load_landing_files(pg, tmp_path).held_back
    assert held.error == (
        "anatel_5g/anatel_5g_2024-02.csv: 1 problem(s):\n  row 1 (line 2), column stations_5g: bad value '10'"
        " (below 12 already loaded from anatel_5g_2024-01.csv for reference_month 2024-01-01, (Salvador, Claro);"
        " stations_5g must not decrease over reference_month per city, operator)")
    assert warehouse.scalar("select count(*) from raw.feed_anatel_5g_rollout") == 2

    anatel(folder / "anatel_5g_2024-02.csv", "Salvador,2024-02-01,Claro,15,46.0", "Salvador,2024-02-01,Vivo,4,9.5")
    assert [batch.path.name for batch in load_landing_files(pg, tmp_path).loaded] == ["anatel_5g_2024-02.csv"]

    # a new version of January may lower its own old value, but not rise above February's
    anatel(folder / "anatel_5g_2024-01.csv", "Salvador,2024-01-01,Claro,20,45.5", "Salvador,2024-01-01,Vivo,3,9.0")
    [held] = load_landing_files(pg, tmp_path).held_back
    assert ("row 1 (line 2), column stations_5g: bad value '20' (above 15 already loaded from"
            " anatel_5g_2024-02.csv for reference_month 2024-02-01, (Salvador, Claro)") in held.error
    anatel(folder / "anatel_5g_2024-01.csv", "Salvador,2024-01-01,Claro,11,45.5", "Salvador,2024-01-01,Vivo,3,9.0")
    [batch] = load_landing_files(pg, tmp_path).loaded
    assert batch.path.name == "anatel_5g_2024-01.csv" and len(batch.replaced_batch_ids) == 1

    # a rejected batch does not count: March only has to stay above January
    warehouse.execute("update audit.load_batches set status = 'rejected'"
                      " where source = 'file:anatel_5g/anatel_5g_2024-02.csv'")
    anatel(folder / "anatel_5g_2024-03.csv", "Salvador,2024-03-01,Claro,13,47.0", "Salvador,2024-03-01,Vivo,5,9.9")
    assert [batch.path.name for batch in load_landing_files(pg, tmp_path).loaded] == ["anatel_5g_2024-03.csv"]
    assert warehouse.rows(
        "select reference_month::text, stations_5g from raw.feed_anatel_5g_rollout"
        " where operator = 'Claro' order by 1") == [("2024-01-01", 11), ("2024-02-01", 15), ("2024-03-01", 13)]


def test_simulated_feed_files_all_load(pg, warehouse, tmp_path):
    config = SimulationConfig(seed=5, start_date=date(2024, 1, 1), end_date=date(2024, 6, 30),
                              n_materials=3, n_sites=3, n_suppliers=2)
    data = simulate(config)
    write_feed_files(data, tmp_path)

    report = load_landing_files(pg, tmp_path)

    assert report.ok, report.summary()
    assert len(report.loaded) == 18
    assert warehouse.scalar("select count(*) from raw.feed_anatel_5g_rollout") == len(data.anatel_5g) == 6 * 3 * 3
    assert warehouse.scalar("select max(stations_5g) from raw.feed_anatel_5g_rollout") == data.anatel_5g[
        "stations_5g"].max() > 0
