"""Landing files: the loader (structure, parsing) and the raw gate (value rules) on real files.

Structural problems hold a file back whole; unparsable rows are quarantined by the loader; values
that break the contract's rules (bounds, duplicate keys, cumulative counts) are quarantined by the
GX suites. The rest of every file loads.
"""

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
from nova_corrente.extract.feeds import parse_value
from nova_corrente.quality.gates import QuarantineSettings, validate_raw_batches

WEATHER_HEADER = "city,weather_date,precipitation_mm,temperature_max_c,temperature_min_c\n"
ANATEL_HEADER = "city,reference_month,operator,stations_5g,population_covered_pct\n"
#: the test files are tiny: a few bad rows must not hold a whole file back
LENIENT = QuarantineSettings(max_bad_share=0.9, min_bad_rows=5)


@pytest.fixture(autouse=True)
def lenient(monkeypatch):
    monkeypatch.setenv("NOVA_QUARANTINE_MAX_BAD_SHARE", "0.9")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def gate(pg, report, gx_project):
    return validate_raw_batches(pg, report.batch_ids, project_root=gx_project, settings=LENIENT)


def quarantine(warehouse, source_like: str) -> list[tuple]:
    return warehouse.rows(
        "select row_key::text, column_name, value, reason from audit.quarantined_rows where source like %s"
        " order by reason", (source_like,))


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    """A landing folder with good rows everywhere and bad ones in three files."""
    write(tmp_path / "weather" / "2024-01.csv", WEATHER_HEADER
          + "Salvador,2024-01-01,12.5,31.2,24.0\n"
          + "Salvador,2024-01-02,,30.8,23.9\n"           # missing precipitation -> NULL
          + "\"Vitória da Conquista\",2024-01-01,0,27.5,17.1\n")
    write(tmp_path / "weather" / "bad_number.csv", WEATHER_HEADER
          + "Ilheus,2024-01-01,3.1,29.0,22.0\n"
          + "Ilheus,2024-01-02,\"4,2\",29.5,22.1\n"     # decimal comma: unparsable
          + "Ilheus,2024-01-03,-5,29.5,22.1\n"         # negative rain: out of bounds
          + "Ilheus,2024-01-04,1,1e400,22.1\n")        # absurd temperature
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


def test_good_rows_load_bad_rows_are_quarantined_and_broken_files_held_back(pg, warehouse, landing, gx_project):
    report = load_landing_files(pg, landing, interval_start=DAY1, interval_end=DAY2)

    assert sorted(batch.path.name for batch in report.loaded) == [
        "2024-01.csv", "bad_number.csv", "bcb_2024-01.parquet", "duplicates.csv"]
    [held] = report.held_back
    assert held.path.name == "missing_column.csv" and held.error == (
        "held back whole, structural problem: economic/missing_column.csv: schema drift: missing columns "
        "selic_rate_pct, ipca_index; unexpected columns selic_pct (expected exactly indicator_date, usd_brl, "
        "selic_rate_pct, ipca_index)")
    assert (landing / "economic" / "missing_column.csv").exists()  # left in place
    bad_number = next(batch for batch in report.loaded if batch.path.name == "bad_number.csv")
    assert (bad_number.row_count, bad_number.quarantined) == (2, 2)  # '4,2' and 1e400 cannot be parsed

    verdicts = {v.source: v for v in gate(pg, report, gx_project).verdicts}

    assert verdicts["file:weather/2024-01.csv"].status == "passed"
    assert verdicts["file:weather/bad_number.csv"].quarantined_rows == 3  # 2 unparsable + rain -5
    assert verdicts["file:weather/duplicates.csv"].quarantined_rows == 2
    assert verdicts["file:economic/missing_column.csv"].status == "rejected"
    reasons = [reason for *_, reason in quarantine(warehouse, "file:weather/bad_number.csv")]
    assert any("weather/bad_number.csv row 2 (line 3), column precipitation_mm: bad value '4,2'" in r for r in reasons)
    assert any("precipitation_mm = -5 breaks the rule precipitation_mm at least 0 and at most 500" in r
               for r in reasons)
    assert any("temperature_max_c" in r and "magnitude out of range" in r for r in reasons)
    dup_keys = {key for key, *_ in quarantine(warehouse, "file:weather/duplicates.csv")}
    assert dup_keys == {'{"city": "Feira de Santana", "weather_date": "2024-01-01"}'}

    weather_rows = warehouse.rows(
        "select city, weather_date::text, precipitation_mm::text, _source from raw.feed_weather_daily"
        " where _source = '2024-01.csv' order by 1, 2")
    assert weather_rows == [
        ("Salvador", "2024-01-01", "12.5", "2024-01.csv"),
        ("Salvador", "2024-01-02", None, "2024-01.csv"),
        ("Vitória da Conquista", "2024-01-01", "0", "2024-01.csv"),
    ]
    economic_rows = warehouse.rows(
        "select indicator_date::text, usd_brl::text, ipca_index::text from raw.feed_economic_indicators order by 1")
    assert economic_rows == [("2024-01-02", "4.8914", "6842.11"), ("2024-01-03", "4.9231", None)]
    weather = next(batch for batch in report.loaded if batch.path.name == "2024-01.csv")
    assert weather.batch_id.startswith("file:weather:2024-01.csv|") and len(weather.batch_id.split("|")[1]) == 16
    assert batches_for_interval(pg, DAY2) == sorted(report.batch_ids)


def test_passed_files_are_skipped_held_back_ones_retried_and_new_versions_add_rows(pg, warehouse, landing,
                                                                                   gx_project):
    first = load_landing_files(pg, landing)
    gate(pg, first, gx_project)
    again = load_landing_files(pg, landing)
    assert again.loaded == []
    assert sorted(path.name for path in again.skipped) == [
        "2024-01.csv", "bad_number.csv", "bcb_2024-01.parquet", "duplicates.csv"]
    assert [item.path.name for item in again.held_back] == ["missing_column.csv"]  # reported at every run

    write(landing / "weather" / "2024-01.csv", WEATHER_HEADER + "Salvador,2024-01-01,13.0,31.2,24.0\n")
    changed = load_landing_files(pg, landing)
    [batch] = changed.loaded
    assert batch.tombstones == 2  # Salvador 01-02 and Vitória da Conquista left the file
    gate(pg, changed, gx_project)
    # the passed rows of the old version stay in raw; the new version is newer
    assert warehouse.rows("select city, weather_date::text, precipitation_mm::text, _change from raw.feed_weather_daily"
                          " where _batch_id = %s order by 1, 2", (batch.batch_id,)) == [
        ("Salvador", "2024-01-01", "13.0", "file"), ("Salvador", "2024-01-02", None, "delete"),
        ("Vitória da Conquista", "2024-01-01", None, "delete")]
    assert warehouse.scalar("select count(*) from raw.feed_weather_daily where _source = '2024-01.csv'") == 6


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


def test_anatel_5g_bad_rows_are_quarantined_naming_file_row_and_column(pg, warehouse, tmp_path, gx_project):
    folder = tmp_path / "anatel_5g"
    anatel(folder / "anatel_5g_2024-01.csv",
           "Salvador,2024-01-01,Claro,12,45.5", "Salvador,2024-01-01,Vivo,0,0", "Feira de Santana,2024-01-01,TIM,3,4.2")
    anatel(folder / "bad_values.csv",
           "Itabuna,2024-01-01,Claro,doze,1.0", "Itabuna,2024-01-01,Vivo,-1,0", "Itabuna,2024-01-01,TIM,2,120",
           "Jequié,2024-01-15,Claro,1,0.5", "Itabuna,2024-01-01,Oi,1,1.0")
    anatel(folder / "decreasing.csv", "Ilhéus,2024-02-01,Claro,5,9.0", "Ilhéus,2024-01-01,Claro,8,9.0")
    write(folder / "drift.csv", "city,reference_month,operator,stations,population_covered_pct\n"
                                "Barreiras,2024-01-01,TIM,1,1.0\n")

    report = load_landing_files(pg, tmp_path)
    verdicts = {v.source.split("/")[-1]: v for v in gate(pg, report, gx_project).verdicts}

    assert [item.path.name for item in report.held_back] == ["drift.csv"]
    assert report.held_back[0].error.startswith(
        "held back whole, structural problem: anatel_5g/drift.csv: schema drift: missing columns stations_5g;"
        " unexpected columns stations")
    assert verdicts["anatel_5g_2024-01.csv"].quarantined_rows == 0
    assert verdicts["bad_values.csv"].quarantined_rows == 4 and verdicts["bad_values.csv"].status == "passed"
    reasons = "\n".join(reason for *_, reason in quarantine(warehouse, "file:anatel_5g/bad_values.csv"))
    assert "anatel_5g/bad_values.csv row 1 (line 2), column stations_5g: bad value 'doze' (expected a number" in reasons
    assert "stations_5g = -1 breaks the rule stations_5g at least 0" in reasons
    assert "population_covered_pct = 120 breaks the rule population_covered_pct at least 0 and at most 100" in reasons
    assert "row 4 (line 5), column reference_month: bad value '2024-01-15' (expected the first day of a month)" \
        in reasons
    # the later month has fewer stations than the earlier one: the later row is the suspect
    [(key, column, value, reason)] = quarantine(warehouse, "file:anatel_5g/decreasing.csv")
    assert (column, value) == ("stations_5g", "5") and '"reference_month": "2024-02-01"' in key
    assert "does not decrease over reference_month per city, operator" in reason


def test_anatel_5g_counts_may_not_decrease_against_months_already_loaded(pg, warehouse, tmp_path, gx_project):
    folder = tmp_path / "anatel_5g"
    anatel(folder / "anatel_5g_2024-01.csv", "Salvador,2024-01-01,Claro,12,45.5", "Salvador,2024-01-01,Vivo,3,9.0")
    gate(pg, load_landing_files(pg, tmp_path), gx_project)

    anatel(folder / "anatel_5g_2024-02.csv", "Salvador,2024-02-01,Claro,10,46.0", "Salvador,2024-02-01,Vivo,4,9.5")
    [verdict] = gate(pg, load_landing_files(pg, tmp_path), gx_project).verdicts
    assert verdict.quarantined_rows == 1
    [(key, column, value, _)] = quarantine(warehouse, "file:anatel_5g/anatel_5g_2024-02.csv")
    assert (column, value) == ("stations_5g", "10") and '"operator": "Claro"' in key

    # the corrected file: a new version, its Claro row passes and resolves the quarantine record
    anatel(folder / "anatel_5g_2024-02.csv", "Salvador,2024-02-01,Claro,15,46.0", "Salvador,2024-02-01,Vivo,4,9.5")
    [verdict] = gate(pg, load_landing_files(pg, tmp_path), gx_project).verdicts
    assert verdict.quarantined_rows == 0
    assert warehouse.scalar("select count(*) from audit.quarantined_rows where resolved_at is null") == 0

    # a new version of January may not rise above February
    anatel(folder / "anatel_5g_2024-01.csv", "Salvador,2024-01-01,Claro,20,45.5", "Salvador,2024-01-01,Vivo,3,9.0")
    [verdict] = gate(pg, load_landing_files(pg, tmp_path), gx_project).verdicts
    assert verdict.quarantined_rows == 1


def test_a_file_with_too_many_unparsable_rows_is_held_back_whole(pg, warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("NOVA_QUARANTINE_MAX_BAD_SHARE", "0.01")
    write(tmp_path / "weather" / "broken.csv", WEATHER_HEADER + "".join(
        f"Salvador,2024-01-{day:02d},{'x' if day <= 8 else '1'},30,20\n" for day in range(1, 21)))

    report = load_landing_files(pg, tmp_path)

    [held] = report.held_back
    assert held.error == ("held back whole: 8 of 20 rows of weather/broken.csv cannot be parsed, more than 1.0% and"
                          " more than 5 rows")
    assert warehouse.scalar("select count(*) from raw.feed_weather_daily") == 0
    assert warehouse.rows("select status, row_count from audit.load_batches") == [("rejected", 0)]


def test_simulated_feed_files_all_load_and_pass(pg, warehouse, tmp_path, gx_project):
    config = SimulationConfig(seed=5, start_date=date(2024, 1, 1), end_date=date(2024, 6, 30),
                              n_materials=3, n_sites=3, n_suppliers=2)
    data = simulate(config)
    write_feed_files(data, tmp_path)

    report = load_landing_files(pg, tmp_path)
    gated = gate(pg, report, gx_project)

    assert report.ok, report.summary()
    assert len(report.loaded) == 18
    assert gated.success and gated.quarantined_rows == 0, gated.summary()
    assert warehouse.scalar("select count(*) from raw.feed_anatel_5g_rollout") == len(data.anatel_5g) == 6 * 3 * 3
    assert warehouse.scalar("select max(stations_5g) from raw.feed_anatel_5g_rollout") == data.anatel_5g[
        "stations_5g"].max() > 0
