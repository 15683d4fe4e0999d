"""The raw gate on a real warehouse with real GX: good batches pass, bad ones are rejected and named."""

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

from nova_corrente.quality.gates import QualityGateFailed, validate_raw_batches
from nova_corrente.settings import PostgresSettings


def test_a_good_run_passes_and_its_batches_become_passed(warehouse: PostgresSettings, conn: Any, gx_project: Path):
    batches = load_good_run(conn)

    report = validate_raw_batches(warehouse, batches, project_root=gx_project)

    assert report.success
    assert [result.suite for result in report.suites] == [
        "raw_erp_material_families", "raw_erp_materials", "raw_erp_sites", "raw_erp_suppliers",
        "raw_erp_supplier_materials", "raw_erp_purchase_orders", "raw_erp_stock_movements", "raw_erp_stock_on_hand",
    ]
    movements = report.suites[6]
    assert movements.row_count == 10
    assert movements.evaluated_expectations >= 12 and movements.failed_expectations == 0
    for batch in batches:
        status, reason, validated_at = status_of(conn, batch)
        assert (status, reason) == ("passed", None) and validated_at is not None
    assert report.as_dict()["success"] is True


def test_a_bad_movement_batch_is_rejected_with_suite_expectation_and_sample(
    warehouse: PostgresSettings, conn: Any, gx_project: Path
):
    validate_raw_batches(warehouse, load_good_run(conn), project_root=gx_project)
    rows = movement_rows(DAY2, first_id=100)
    rows[0].update(material_id="MAT-99999")           # unknown material code
    rows[1].update(movement_type="consumption", quantity=-5)  # negative quantity outside an adjustment
    rows[2].update(movement_type="theft")              # not an accepted movement type
    rows[3].update(movement_type="lost")
    rows[4].update(movement_id=100)                     # duplicate key within the batch
    movements = add_batch(conn, "stock_movements", DAY2, rows)
    materials = add_batch(conn, "materials", DAY2, reference_rows(DAY2)["materials"])

    with pytest.raises(QualityGateFailed) as failure:
        validate_raw_batches(warehouse, [materials, movements], project_root=gx_project)

    message = str(failure.value)
    where = f"suite raw_erp_stock_movements (batch {movements})"
    assert f"{where}: expect_column_values_to_be_in_set(movement_type) failed on 2 of 10 rows, sample: ['theft', 'lost']" in message
    assert f"{where}: expect_column_values_to_be_unique(movement_id) failed on 2 of 10 rows, sample: [100]" in message
    assert "'quantity > 0 except for adjustments' (quantity) failed on 1 of 10 rows" in message
    assert "'movement_id': 101, 'movement_type': 'consumption', 'quantity': -5" in message
    assert "(material_id) failed on 1 of 10 rows, sample: [{'movement_id': 100, 'material_id': 'MAT-99999'}]" in message
    assert "raw_erp_materials" not in message  # the materials batch itself is fine

    report = failure.value.report
    assert not report.success and report.failed_expectations == 4
    status, reason, validated_at = status_of(conn, movements)
    assert status == "rejected" and validated_at is not None
    assert "expect_column_values_to_be_in_set(movement_type)" in reason and "MAT-99999" in reason
    # all-or-nothing: the run's other batch is rejected too, pointing at the culprit
    status, reason, _ = status_of(conn, materials)
    assert status == "rejected"
    assert reason == f"rejected with its run: {movements} failed raw_erp_stock_movements"


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
    families = add_batch(conn, "material_families", DAY1, reference_rows(DAY1)["material_families"], "rejected")
    materials = add_batch(conn, "materials", DAY2, reference_rows(DAY2)["materials"])

    with pytest.raises(QualityGateFailed, match=r"\(family_id\) failed on 2 of 2 rows"):
        validate_raw_batches(warehouse, [materials], project_root=gx_project)
    assert status_of(conn, families)[0] == "rejected"


def test_dates_after_the_interval_end_are_rejected(warehouse: PostgresSettings, conn: Any, gx_project: Path):
    validate_raw_batches(warehouse, load_good_run(conn), project_root=gx_project)
    rows = movement_rows(DAY2, first_id=100, count=3)
    rows[0].update(movement_date=DAY2.date())  # the day after the interval: the future
    movements = add_batch(conn, "stock_movements", DAY2, rows)

    with pytest.raises(QualityGateFailed, match=r"at or after the batch's interval_end' \(movement_date, created_at, updated_at\) "
                                                r"failed on 1 of 3 rows, sample: \[\{'movement_id': 100, 'movement_date': '2024-01-03'"):
        validate_raw_batches(warehouse, [movements], project_root=gx_project)


def test_an_empty_batch_passes_and_a_batch_without_its_rows_fails(
    warehouse: PostgresSettings, conn: Any, gx_project: Path
):
    empty = add_batch(conn, "suppliers", DAY1, [])
    assert validate_raw_batches(warehouse, [empty], project_root=gx_project).success
    assert status_of(conn, empty)[0] == "passed"

    with conn.cursor() as cur:
        cur.execute("insert into audit.load_batches (batch_id, source, interval_end, row_count) "
                    "values ('erp.sites|lost', 'erp.sites', %s, 3)", (DAY2,))
    with pytest.raises(QualityGateFailed, match=r"records 3 rows but raw.erp_sites has none for it"):
        validate_raw_batches(warehouse, ["erp.sites|lost"], project_root=gx_project)


def test_unknown_batch_ids_are_refused_before_anything_changes(warehouse: PostgresSettings, conn: Any, gx_project: Path):
    good = add_batch(conn, "suppliers", DAY1, reference_rows(DAY1)["suppliers"])
    with pytest.raises(KeyError, match="erp.suppliers|nope"):
        validate_raw_batches(warehouse, [good, "erp.suppliers|nope"], project_root=gx_project)
    assert status_of(conn, good)[0] == "loaded"


def test_batches_without_a_suite_share_the_runs_verdict(warehouse: PostgresSettings, conn: Any, gx_project: Path):
    suppliers = add_batch(conn, "suppliers", DAY1, reference_rows(DAY1)["suppliers"])
    with conn.cursor() as cur:
        cur.execute("insert into audit.load_batches (batch_id, source, interval_end, row_count) "
                    "values ('file:weather/2024-01.csv|abc', 'file:weather/2024-01.csv', %s, 31)", (DAY1,))

    report = validate_raw_batches(warehouse, [suppliers, "file:weather/2024-01.csv|abc"], project_root=gx_project)

    assert report.unchecked_batches == ["file:weather/2024-01.csv|abc"]
    assert [result.suite for result in report.suites] == ["raw_erp_suppliers"]
    assert status_of(conn, "file:weather/2024-01.csv|abc")[0] == "passed"
