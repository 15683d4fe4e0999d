"""The raw gate on a real warehouse with real GX: bad rows go to quarantine, good rows pass, and a
batch is held back whole only for a structural problem or too many bad rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from quality_data import (
    DAY1,
    DAY2,
    add_batch,
    load_good_run,
    movement_rows,
    reference_rows,
    status_of,
)

from nova_corrente.quality.gates import MissingBatches, QuarantineSettings, validate_raw_batches
from nova_corrente.settings import PostgresSettings

#: the tests' batches are small: let them pass with a few bad rows, as a large daily batch would
LENIENT = QuarantineSettings(max_bad_share=0.9, min_bad_rows=5)


def quarantined(conn: Any, batch: str) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute("select row_key, rule, column_name, value, reason from audit.quarantined_rows"
                    " where batch_id = %s order by row_key::text, rule", (batch,))
        return cur.fetchall()


def test_a_good_run_passes_and_its_batches_become_passed(warehouse: PostgresSettings, conn: Any, gx_project: Path):
    batches = load_good_run(conn)

    report = validate_raw_batches(warehouse, batches, project_root=gx_project)

    assert report.success and report.quarantined_rows == 0
    assert [result.suite for result in report.suites] == [
        "raw_erp_material_families", "raw_erp_materials", "raw_erp_sites", "raw_erp_suppliers",
        "raw_erp_supplier_materials", "raw_erp_purchase_orders", "raw_erp_stock_movements", "raw_erp_stock_on_hand",
    ]
    movements = report.suites[6]
    assert movements.evaluated_expectations >= 15 and movements.failed_expectations == 0
    for batch in batches:
        status, reason, validated_at = status_of(conn, batch)
        assert (status, reason) == ("passed", None) and validated_at is not None
    assert report.as_dict()["success"] is True


def test_bad_rows_are_quarantined_and_the_rest_of_the_batch_passes(
    warehouse: PostgresSettings, conn: Any, gx_project: Path
):
    validate_raw_batches(warehouse, load_good_run(conn), project_root=gx_project)
    rows = movement_rows(DAY2, first_id=100, count=12)
    rows[0].update(material_id="MAT-99999")                      # unknown material code
    rows[1].update(movement_type="consumption", quantity=-5)     # negative quantity outside an adjustment
    rows[2].update(movement_type="theft")                        # not an accepted movement type
    rows[3].update(movement_id=104)                              # duplicate key within the batch (with row 4)
    movements = add_batch(conn, "stock_movements", DAY2, rows)
    materials = add_batch(conn, "materials", DAY2, reference_rows(DAY2)["materials"])

    report = validate_raw_batches(warehouse, [materials, movements], project_root=gx_project, settings=LENIENT)

    assert report.success and not report.held_back
    assert status_of(conn, materials)[0] == "passed"          # one batch never holds back another
    status, reason, _ = status_of(conn, movements)
    assert status == "passed" and "5 row(s) in quarantine" in reason
    records = quarantined(conn, movements)
    by_rule = {(row_key["movement_id"], column): value for row_key, _, column, value, _ in records}
    assert by_rule[(100, "material_id")] == "MAT-99999"
    assert by_rule[(101, "quantity")] == "-5.00"
    assert by_rule[(102, "movement_type")] == "theft"
    assert {key for key in by_rule if key[1] == "movement_id"} == {(104, "movement_id")}
    reasons = [reason for *_, reason in records]
    assert any("raw.erp_stock_movements row {\"movement_id\": 102}" in reason and "theft" in reason for reason in reasons)
    verdict = next(v for v in report.verdicts if v.batch_id == movements)
    assert verdict.quarantined_rows == 5 and verdict.row_count == 12
    assert any("movement_type in (" in failure and "sample: ['theft']" in failure for failure in verdict.rules_failed)


def test_too_many_bad_rows_hold_the_batch_back_whole(warehouse: PostgresSettings, conn: Any, gx_project: Path):
    validate_raw_batches(warehouse, load_good_run(conn), project_root=gx_project)
    rows = movement_rows(DAY2, first_id=100, count=20)
    for row in rows[:7]:
        row.update(movement_type="theft")
    movements = add_batch(conn, "stock_movements", DAY2, rows)

    report = validate_raw_batches(warehouse, [movements], project_root=gx_project,
                                  settings=QuarantineSettings(max_bad_share=0.01, min_bad_rows=5))

    assert not report.success and [v.batch_id for v in report.held_back] == [movements]
    status, reason, _ = status_of(conn, movements)
    assert status == "rejected"
    assert reason.startswith("held back whole: 7 of 20 rows (35.0%) broke row rules, more than 1.0% and more than 5")
    assert "sample: ['theft']" in reason
    # a few bad rows in the same batch stay below the floor: the batch passes, the rows are quarantined
    assert QuarantineSettings(0.01, 5).holds_back(6, 100) and not QuarantineSettings(0.01, 5).holds_back(5, 100)


def test_only_the_given_batches_are_validated(warehouse: PostgresSettings, conn: Any, gx_project: Path):
    validate_raw_batches(warehouse, load_good_run(conn), project_root=gx_project)
    bad = movement_rows(DAY1 - (DAY2 - DAY1), first_id=500)  # an older, never-gated batch
    bad[0].update(movement_type="theft", quantity=-1)
    other = add_batch(conn, "stock_movements", DAY1 - (DAY2 - DAY1), bad)
    good = add_batch(conn, "stock_movements", DAY2, movement_rows(DAY2, first_id=1000))

    report = validate_raw_batches(warehouse, [good], project_root=gx_project)

    assert report.success and report.suites[0].row_count == 10
    assert status_of(conn, good)[0] == "passed"
    assert status_of(conn, other)[0] == "loaded"


def test_codes_known_only_from_a_rejected_batch_are_unknown(warehouse: PostgresSettings, conn: Any, gx_project: Path):
    add_batch(conn, "material_families", DAY1, reference_rows(DAY1)["material_families"], "rejected")
    materials = add_batch(conn, "materials", DAY2, reference_rows(DAY2)["materials"])

    validate_raw_batches(warehouse, [materials], project_root=gx_project, settings=LENIENT)

    records = quarantined(conn, materials)
    assert {(row_key["material_id"], column) for row_key, _, column, _, _ in records} == {
        ("MAT-00001", "family_id"), ("MAT-00002", "family_id")}
    assert status_of(conn, materials)[0] == "passed"  # 2 bad rows are within the floor


def test_dates_after_the_interval_end_are_quarantined(warehouse: PostgresSettings, conn: Any, gx_project: Path):
    validate_raw_batches(warehouse, load_good_run(conn), project_root=gx_project)
    rows = movement_rows(DAY2, first_id=100, count=3)
    rows[0].update(movement_date=DAY2.date())  # the day after the interval: the future
    movements = add_batch(conn, "stock_movements", DAY2, rows)

    validate_raw_batches(warehouse, [movements], project_root=gx_project, settings=LENIENT)

    [(row_key, rule, column, value, _)] = quarantined(conn, movements)
    assert (row_key, rule, column, value) == (
        {"movement_id": 100}, "movement_date before the batch's interval end", "movement_date", "2024-01-03")


def test_an_empty_batch_passes_and_a_batch_without_its_rows_is_held_back(
    warehouse: PostgresSettings, conn: Any, gx_project: Path
):
    empty = add_batch(conn, "suppliers", DAY1, [])
    assert validate_raw_batches(warehouse, [empty], project_root=gx_project).success
    assert status_of(conn, empty)[0] == "passed"

    with conn.cursor() as cur:
        cur.execute("insert into audit.load_batches (batch_id, source, interval_end, row_count) "
                    "values ('erp.sites|lost', 'erp.sites', %s, 3)", (DAY2,))
    report = validate_raw_batches(warehouse, ["erp.sites|lost"], project_root=gx_project)
    assert not report.success
    status, reason, _ = status_of(conn, "erp.sites|lost")
    assert status == "rejected"
    assert "held back whole, structural problem" in reason and "raw.erp_sites has none for it" in reason


def test_unknown_batch_ids_are_refused_before_anything_changes(warehouse: PostgresSettings, conn: Any, gx_project: Path):
    good = add_batch(conn, "suppliers", DAY1, reference_rows(DAY1)["suppliers"])
    with pytest.raises(MissingBatches, match=r"erp\.suppliers\|nope.*did not commit.*Clear extract_load"):
        validate_raw_batches(warehouse, [good, "erp.suppliers|nope"], project_root=gx_project)
    assert status_of(conn, good)[0] == "loaded"


def test_a_batch_without_a_contract_is_held_back(warehouse: PostgresSettings, conn: Any, gx_project: Path):
    suppliers = add_batch(conn, "suppliers", DAY1, reference_rows(DAY1)["suppliers"])
    with conn.cursor() as cur:
        cur.execute("insert into audit.load_batches (batch_id, source, interval_end, row_count) "
                    "values ('file:tides/2024-01.csv|abc', 'file:tides/2024-01.csv', %s, 31)", (DAY1,))

    report = validate_raw_batches(warehouse, [suppliers, "file:tides/2024-01.csv|abc"], project_root=gx_project)

    assert status_of(conn, suppliers)[0] == "passed"
    status, reason, _ = status_of(conn, "file:tides/2024-01.csv|abc")
    assert status == "rejected" and "no contract" in reason
    assert [v.batch_id for v in report.held_back] == ["file:tides/2024-01.csv|abc"]


def test_a_judged_batch_is_not_judged_again(warehouse: PostgresSettings, conn: Any, gx_project: Path):
    batches = load_good_run(conn)
    validate_raw_batches(warehouse, batches, project_root=gx_project)
    again = validate_raw_batches(warehouse, batches, project_root=gx_project)
    assert all(verdict.already and verdict.status == "passed" for verdict in again.verdicts)
    assert again.suites == []
