"""The quality history (what the data-quality page and the run report show), from real gate runs.

A good run and a bad run go through the real raw gate (real GX, real PostgreSQL): the bad run's
movements break a rule on most rows (held back whole) and its materials on one row (quarantined,
the rest passes). The history, the stored validation results, the page and the pruning are then
read back from what the gate left.
"""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta

import psycopg2
import pytest
from quality_data import DAY2, add_batch, load_good_run, movement_rows, reference_rows

from nova_corrente.operations import quality_history, quality_page
from nova_corrente.quality.context import PROJECT_ROOT
from nova_corrente.quality.gates import QuarantineSettings, validate_raw_batches
from nova_corrente.settings import PostgresSettings


@pytest.fixture(scope="module")
def gated(warehouse_module: PostgresSettings, tmp_path_factory: pytest.TempPathFactory):
    """A passed first run, then a second run whose movements hold a theft: rejected by the gate.

    The GX project is this module's own copy, so only these two runs' results are stored in it.
    """
    gx_project = tmp_path_factory.mktemp("gx_history")
    shutil.copytree(PROJECT_ROOT / "gx", gx_project / "gx", ignore=shutil.ignore_patterns("uncommitted"))
    pg = warehouse_module
    conn = psycopg2.connect(pg.dsn(pg.warehouse_db))
    conn.autocommit = True
    try:
        good = load_good_run(conn)
        validate_raw_batches(pg, good, project_root=gx_project)
        rows = movement_rows(DAY2, first_id=100)
        for row in rows[:7]:
            row.update(movement_type="theft")
        bad = add_batch(conn, "stock_movements", DAY2, rows)
        materials = reference_rows(DAY2)["materials"]
        materials[0].update(unit_cost_brl=-1)
        quarantining = add_batch(conn, "materials", DAY2, materials)
        report = validate_raw_batches(pg, [quarantining, bad], project_root=gx_project,
                                      settings=QuarantineSettings(max_bad_share=0.01, min_bad_rows=5))
        assert [v.batch_id for v in report.held_back] == [bad]
    finally:
        conn.close()
    return pg, good, bad, gx_project / "gx" / "uncommitted" / "validations"


def test_parse_failure_splits_the_gate_wording():
    failure = quality_history.parse_failure(
        "suite raw_erp_stock_movements (batch erp.stock_movements|2024-01-03T00:00:00+00:00): "
        "expect_column_values_to_be_in_set(movement_type) failed on 2 of 10 rows, sample: ['theft', 'lost']")
    assert (failure.suite, failure.expectation, failure.detail, failure.sample) == (
        "raw_erp_stock_movements", "expect_column_values_to_be_in_set", "(movement_type) failed on 2 of 10 rows",
        "['theft', 'lost']")
    other = quality_history.parse_failure("rejected with its run: x failed y")
    assert other.suite is None and other.detail == "rejected with its run: x failed y"


def test_history_shows_the_held_back_batch_with_suite_rule_and_sample(gated):
    pg, good, bad, _ = gated
    history = {b.batch_id: b for b in quality_history.batch_history(pg)}
    held = history[bad]
    assert held.status == "rejected" and held.verdict.startswith("held back whole: 7 of 10 rows (70.0%)")
    [failure] = held.failures
    assert failure.suite == "raw_erp_stock_movements"
    assert failure.expectation.startswith("rule '") and "movement_type" in failure.expectation
    assert failure.detail == " (movement_type) failed on 7 of 10 rows" and failure.sample == "['theft']"
    assert [b.batch_id for b in quality_history.batch_history(pg, status="rejected")] == [bad]
    assert set(good) <= {b.batch_id for b in history.values() if b.status == "passed"}


def test_latest_validation_of_each_suite_is_read_from_the_stored_results(gated):
    _, _, bad, validations_dir = gated
    latest = {v.suite: v for v in quality_history.latest_validations(validations_dir)}
    assert len(latest) == 8  # every raw ERP suite ran at least once
    movements = latest["raw_erp_stock_movements"]
    assert movements.batch == bad and movements.success is False and movements.failed_expectations == 1
    [failure] = movements.failures
    assert failure.startswith("unexpected_rows_expectation 'movement_type in (") and "failed on 7" in failure
    assert "'bad_value': 'theft'" in failure
    assert latest["raw_erp_sites"].success is True and latest["raw_erp_sites"].failures == []


def test_quarantined_rows_and_reconciliations_are_read_and_missing_tables_read_as_empty(gated, pg):
    assert quality_history.quarantined(pg) == [] and quality_history.latest_reconciliations(pg) == []  # no audit schema
    warehouse, _, bad, validations_dir = gated
    groups = quality_history.quarantined(warehouse)
    [cost] = [g for g in groups if g.source == "erp.materials" and g.column_name == "unit_cost_brl"]
    assert cost.rows == 1 and cost.sample_values in (["-1"], ["-1.00"])
    assert [g.rows for g in groups if g.batch_id == bad] == [7]  # a held-back batch's bad rows are recorded too
    now = datetime(2024, 1, 3, 1, tzinfo=UTC)
    with psycopg2.connect(warehouse.dsn(warehouse.warehouse_db)) as conn, conn.cursor() as cur:
        for checked_at, status in ((now - timedelta(hours=1), "failed"), (now, "explained")):
            cur.execute("insert into audit.reconciliation_results (checked_at, interval_end, table_name, check_name, "
                        "erp_value, warehouse_value, quarantined_value, difference, status) "
                        "values (%s, %s, 'erp.stock_movements', 'row_count', 12, 10, 2, 0, %s)", (checked_at, DAY2, status))
    conn.close()
    [check] = quality_history.latest_reconciliations(warehouse)
    assert (check.check_name, check.status, float(check.quarantined_value)) == ("row_count", "explained", 2.0)
    page = quality_page.render(quality_page.collect(warehouse, validations_dir=validations_dir))
    assert "Quarantined rows" in page and "unit_cost_brl" in page and "Reconciliation with the ERP" in page


def test_the_page_shows_the_rejected_batch_and_loads_nothing_from_outside(gated):
    pg, _, bad, validations_dir = gated
    page = quality_page.render(quality_page.collect(pg, validations_dir=validations_dir))
    card = page[page.index('class="card rejection"'):page.index("</div>", page.index('class="card rejection"'))]
    assert "erp.stock_movements" in card and "held back whole: 7 of 10 rows" in card
    row = card[card.index(f'<tr class="failure" data-batch="{bad}">'):]
    row = row[:row.index("</tr>")]
    assert "raw_erp_stock_movements" in row and "movement_type" in row and "[&#39;theft&#39;]" in row
    assert 'data-suite="raw_erp_stock_movements"' in page
    # no script, no stylesheet or image from anywhere: everything is inline
    assert "<script" not in page and re.findall(r'(?:src|href)="(?!\?|#)[^"]*"', page) == []
    with pytest.raises(ValueError, match="unknown batch status"):
        quality_page.collect(pg, status="bogus", validations_dir=validations_dir)
    only_rejected = quality_page.render(quality_page.collect(pg, status="rejected", validations_dir=validations_dir))
    assert only_rejected.count('class="batch"') == 1


def test_pruning_keeps_the_retention_and_each_suites_latest_run(gated, monkeypatch):
    _, _, _, validations_dir = gated
    runs_before = {suite: len(runs) for suite, runs in quality_history._run_dirs(validations_dir).items()}
    assert runs_before["raw_erp_stock_movements"] == 2
    # within the retention nothing goes
    assert quality_history.prune_validation_results(validations_dir, days=30).deleted_runs == 0
    # a year later: all but each suite's latest run go
    result = quality_history.prune_validation_results(validations_dir, days=30, now=datetime.now(UTC) + timedelta(days=365))
    assert result.deleted_runs == sum(runs_before.values()) - len(runs_before)
    assert {suite: len(runs) for suite, runs in quality_history._run_dirs(validations_dir).items()} == \
        dict.fromkeys(runs_before, 1)
    assert quality_history.latest_validations(validations_dir)  # the latest results are still readable
    monkeypatch.setenv("NOVA_GX_RESULTS_RETENTION_DAYS", "0")
    with pytest.raises(ValueError, match="keep at least 1 day"):
        quality_history.prune_validation_results(validations_dir)


def test_rejections_group_a_runs_batches_into_failing_and_held_back():
    end, at = DAY2, DAY2 + timedelta(hours=1)

    def batch(source, reason, validated_at=at):
        return quality_history.Batch(f"{source}|x", source, end - timedelta(days=1), end, 3, "rejected", at,
                                     validated_at, reason)

    own = batch("erp.stock_movements", "suite raw_erp_stock_movements (batch erp.stock_movements|x): "
                                       "expect_column_values_to_be_in_set(movement_type) failed on 1 of 3 rows, sample: ['theft']")
    with_it = batch("erp.materials", "rejected with its run: erp.stock_movements|x failed raw_erp_stock_movements")
    earlier = batch("erp.sites", "suite raw_erp_sites (batch erp.sites|x): expect_column_values_to_not_be_null(city) "
                                 "failed on 1 of 3 rows, sample: [None]", validated_at=at - timedelta(days=1))
    latest, older = quality_page.rejections([with_it, own, earlier])
    assert (latest.failing, latest.held_back) == ([own], [with_it])
    assert (older.failing, older.held_back) == ([earlier], [])
