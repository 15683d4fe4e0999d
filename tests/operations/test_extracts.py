"""The reorder extract: what to order, most urgent first, as CSV; a re-run rewrites the day's file."""

from __future__ import annotations

import csv

from operations_data import AS_OF

from nova_corrente.operations.extracts import COLUMNS, export_reorder_list


def test_reorder_list_is_written_most_urgent_first(marts, tmp_path):
    extract = export_reorder_list(marts, tmp_path)
    assert extract.as_of_date == AS_OF and extract.rows == 2
    assert extract.path == tmp_path / AS_OF.isoformat() / "reorder_list.csv"
    rows = list(csv.DictReader(extract.path.open()))
    assert tuple(rows[0]) == COLUMNS
    assert [(r["material_id"], r["site_id"], r["alert_severity"], r["projected_stockout_date"]) for r in rows] == [
        ("MAT-1", "SITE-1", "critical", "2026-03-03"), ("MAT-2", "SITE-2", "warning", "2026-03-20")]
    assert rows[1]["city"] == "Ilhéus" and rows[0]["suggested_order_quantity"] == "20"
    assert extract.latest.read_text() == extract.path.read_text()

    again = export_reorder_list(marts, tmp_path)
    assert again.path == extract.path and len(list(tmp_path.glob("*/reorder_list.csv"))) == 1
