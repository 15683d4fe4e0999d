"""The run report: collected from a real warehouse and the run's task states, rendered, written, printed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg2
from operations_data import INTERVAL_END

from nova_corrente import cli
from nova_corrente.operations import run_report

DAG_ID, RUN_ID = "nova_corrente_daily", "scheduled__2026-03-01T09:00:00+00:00"
BAD_REASON = ("held back whole: 7 of 12 rows (58.3%) broke row rules, more than 1.0% and more than 5 rows: "
              "rule 'quantity > 0 except for adjustments' (quantity) failed on 7 of 12 rows, sample: [-40]")
TASK_STATES = {
    "extract_load": "success", "gate_raw": "failed",
    "transform.dbt_build": "upstream_failed", "transform.stg_erp__materials": "upstream_failed",
    "transform.fct_reorder_points": "upstream_failed", "forecast": "upstream_failed",
    "publish_forecasts.fct_forecasts": "upstream_failed", "gate_marts": "upstream_failed",
    "refresh_dbt_docs": "upstream_failed", "notify_stock_alerts": "upstream_failed", "run_report": "running",
}


def _load(pg, with_forecast: bool = True) -> None:
    start = INTERVAL_END - timedelta(days=1)
    with psycopg2.connect(pg.dsn(pg.warehouse_db)) as conn, conn.cursor() as cur:
        for source, rows, status, reason in (
            ("erp.stock_movements", 12, "rejected", BAD_REASON),
            ("erp.materials", 3, "rejected", "held back whole, structural problem: suite raw_erp_materials "
             "(batch erp.materials|x): expect_table_columns_to_match_set(table columns) failed, observed: ['x']"),
            ("file:weather/2026-03.csv", 31, "passed", None),
        ):
            cur.execute("insert into audit.load_batches (batch_id, source, interval_start, interval_end, row_count, "
                        "status, failure_reason) values (%s, %s, %s, %s, %s, %s, %s)",
                        (f"{source}|{INTERVAL_END.isoformat()}", source, start, INTERVAL_END, rows, status, reason))
        # a batch of another day is not this run's
        cur.execute("insert into audit.load_batches (batch_id, source, interval_end, row_count, status) "
                    "values ('erp.sites|old', 'erp.sites', %s, 7, 'passed')", (start,))
        if with_forecast:
            generated = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
            cur.execute("insert into marts.forecast_runs values ('daily-20260302T090000Z', 'v1', %s, %s, 'd', '{}', "
                        "'f', '{}', 3)", (generated, f"airflow:{DAG_ID}/{RUN_ID}"))
            for material, site, model, demand_class in (("MAT-1", "SITE-1", "croston_sba", "intermittent"),
                                                        ("MAT-2", "SITE-2", "croston_sba", "intermittent"),
                                                        ("MAT-3", "SITE-1", "ets", "smooth")):
                for day in range(2):
                    cur.execute(
                        "insert into marts.forecast_values (run_id, material_id, site_id, forecast_date, yhat, "
                        "yhat_lo_80, yhat_hi_80, yhat_lo_95, yhat_hi_95, model, demand_class, model_version, "
                        "generated_at, source, dataset_id) values ('daily-20260302T090000Z', %s, %s, %s, 1, 1, 1, 1, 1, "
                        "%s, %s, 'v1', %s, 's', 'd')",
                        (material, site, INTERVAL_END.date() + timedelta(days=day), model, demand_class, generated))
    conn.close()


def _collect(pg, **overrides):
    args = dict(dag_id=DAG_ID, run_id=RUN_ID, interval_start=INTERVAL_END - timedelta(days=1),
                interval_end=INTERVAL_END, task_states=TASK_STATES, batch_ids=None,
                dbt_groups=("transform", "publish_forecasts"), ui_base_url="http://127.0.0.1:8080/")
    return run_report.collect(pg, **{**args, **overrides})


def test_dbt_tasks_are_counted_by_kind_and_state():
    outcome = run_report.dbt_outcome({
        "transform.dbt_build": "success", "transform.stg_a": "success", "transform.stg_b": "failed",
        "transform.fct_c": "upstream_failed", "publish_forecasts.dbt_build": None,
        "publish_forecasts.fct_f": None, "forecast": "failed", "transform_x": "success",
    }, ("transform", "publish_forecasts"))
    assert outcome.models == {"success": 1, "failed": 1, "upstream_failed": 1, "not run": 1}
    assert outcome.builds == {"success": 1, "not run": 1}
    assert outcome.failed == ["transform.fct_c (upstream_failed)", "transform.stg_b (failed)"]


def test_a_rejected_run_reports_what_was_loaded_what_was_rejected_and_why(marts):
    _load(marts)
    report = _collect(marts)
    assert report.outcome == "FAILED" and report.failed_tasks == ["gate_raw"] and report.not_run_tasks == 8
    assert sorted(b.source for b in report.batches) == ["erp.materials", "erp.stock_movements", "file:weather/2026-03.csv"]

    markdown = run_report.render_markdown(report)
    assert markdown.startswith("# nova_corrente_daily: FAILED\n")
    assert "3 batches: 1 passed, 2 rejected, 0 not validated." in markdown
    assert "| erp.stock_movements | 1 | 12 | rejected |" in markdown
    assert "| file:weather | 1 | 31 | passed |" in markdown  # feed files count per feed
    assert (f"- `erp.stock_movements|{INTERVAL_END.isoformat()}`: held back whole: 7 of 12 rows (58.3%) broke row rules, "
            "more than 1.0% and more than 5 rows\n  - suite raw_erp_stock_movements: rule 'quantity > 0 except for "
            "adjustments' (quantity) failed on 7 of 12 rows, sample: [-40]") in markdown
    assert "Models, seeds and snapshots (each with its tests): 3 (3 upstream_failed); dbt builds: 1 (1 upstream_failed)." in markdown
    assert "| intermittent | croston_sba | 2 |" in markdown and "| smooth | ets | 1 |" in markdown
    # most urgent first: 2 days of cover before 10
    assert markdown.index("| MAT-1 Battery 48V 100Ah | SITE-1 Salvador | 4 | 0 | 12.5 | 20 | 2.0 |") < markdown.index("MAT-2 Rectifier")
    assert "Critical stock alerts open: 1." in markdown
    assert "- [dbt docs (lineage)](http://127.0.0.1:8080/nova/dbt_docs/index.html)" in markdown
    assert "- [Data quality](http://127.0.0.1:8080/nova/quality/)" in markdown

    note = run_report.note_text(report, None)
    assert note.startswith(f"{run_report.NOTE_PREFIX} **FAILED** — 3 batches, 2 rejected")
    assert "Failed: `gate_raw`; 8 tasks not run" in note
    assert ("`erp.stock_movements`: rule 'quantity > 0 except for adjustments' (quantity) failed on 7 of 12 rows, "
            "sample [-40]") in note
    assert "`erp.materials`: expect_table_columns_to_match_set(table columns) failed" in note
    assert "Forecast: intermittent→croston_sba (2), smooth→ets (1)" in note
    assert len(note) <= run_report.NOTE_MAX_CHARS


def test_a_first_run_without_forecast_or_marts_still_reports(pg):
    from nova_corrente.extract.warehouse_setup import ensure_warehouse_schemas

    ensure_warehouse_schemas(pg)
    report = _collect(pg, task_states={"extract_load": "success", "gate_raw": "success"}, ui_base_url=None)
    assert report.outcome == "SUCCESS" and report.batches == [] and report.top_reorders == []
    markdown = run_report.render_markdown(report)
    assert "No forecast run for this DAG run." in markdown and "Nothing to order" in markdown
    assert "dbt docs" not in markdown


def test_the_report_is_written_and_nova_summary_prints_the_latest(marts, tmp_path, monkeypatch, capsys):
    _load(marts, with_forecast=False)
    monkeypatch.setenv("NOVA_HOME", str(tmp_path))
    markdown = run_report.render_markdown(_collect(marts))
    path = run_report.write(markdown, RUN_ID)
    assert path == tmp_path / "reports" / "scheduled__2026-03-01T09_00_00_00_00.md"
    assert path.read_text() == markdown and run_report.latest() == tmp_path / "reports" / "latest.md"

    newer = markdown.replace("FAILED", "SUCCESS", 1)
    run_report.write(newer, "manual__2026-03-02")
    assert cli.main(["summary"]) == 0
    printed = capsys.readouterr().out
    assert "# nova_corrente_daily: SUCCESS" in printed and "# nova_corrente_daily: FAILED" not in printed


def test_long_notes_are_cut_to_what_airflow_stores(marts):
    _load(marts)
    report = _collect(marts)
    report.batches = report.batches * 40
    report.failed_tasks = [f"transform.model_{i}_run" for i in range(200)]
    short = run_report.note_text(report, None)
    assert "120 batches, 80 rejected" in short and "transform.model_4_run` …" in short  # lists are capped
    assert len(short) < run_report.NOTE_MAX_CHARS
    note = run_report.note_text(report, Path("/srv/nova/" + "very_long_folder/" * 60 + "report.md"))
    assert len(note) == run_report.NOTE_MAX_CHARS and note.endswith("…")

