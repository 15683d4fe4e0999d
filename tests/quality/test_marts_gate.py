"""The marts gate: reorder points and the latest forecast run, on tables made like dbt/the forecast task make them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from nova_corrente.quality.gates import QualityGateFailed, validate_marts
from nova_corrente.settings import PostgresSettings

GENERATED = datetime(2024, 1, 2, 9, tzinfo=UTC)


def add_reorder_points(conn: Any, rows: list[tuple[str, str, float, float, float]]) -> None:
    """rows: (material_id, site_id, service_level, safety_stock, reorder_point)."""
    with conn.cursor() as cur:
        for material_id, site_id, service_level, safety_stock, reorder_point in rows:
            cur.execute(
                "insert into marts.fct_reorder_points (material_id, site_id, service_level, safety_stock, "
                "reorder_point, method) values (%s, %s, %s, %s, %s, 'normal')",
                (material_id, site_id, service_level, safety_stock, reorder_point),
            )


def add_forecast_run(conn: Any, run_id: str, generated_at: datetime, model_version: str | None = "1.0.0",
                     yhat: float = 3.0) -> None:
    """Two series x three days; intervals yhat-1 .. yhat+1 (80%) and yhat-2 .. yhat+2 (95%)."""
    with conn.cursor() as cur:
        cur.execute(
            "insert into marts.forecast_runs (run_id, model_version, generated_at, source, dataset_id, series_count) "
            "values (%s, %s, %s, 'test', 'erp-2024-01-02', 2)",
            (run_id, model_version, generated_at),
        )
        for material_id, site_id in (("MAT-00001", "SITE-0001"), ("MAT-00002", "SITE-0002")):
            for day in range(3):
                cur.execute(
                    """
                    insert into marts.forecast_values (run_id, material_id, site_id, forecast_date, yhat,
                        yhat_lo_80, yhat_hi_80, yhat_lo_95, yhat_hi_95, model, demand_class, model_version,
                        generated_at, source, dataset_id)
                    values (%s, %s, %s, %s, %s, %s, %s, %s, %s, 'croston', 'intermittent', %s, %s, 'test', 'erp-2024-01-02')
                    """,
                    (run_id, material_id, site_id, date(2024, 1, 2) + timedelta(days=day), yhat, max(yhat - 1, 0),
                     yhat + 1, max(yhat - 2, 0), yhat + 2, model_version, generated_at),
                )


def good_marts(conn: Any) -> None:
    add_reorder_points(conn, [("MAT-00001", "SITE-0001", 0.95, 2.5, 6.0), ("MAT-00002", "SITE-0002", 0.9, 0.0, 0.0)])
    add_forecast_run(conn, "run-1", GENERATED - timedelta(days=1))
    add_forecast_run(conn, "run-2", GENERATED)


def test_good_marts_pass(warehouse: PostgresSettings, conn: Any, gx_project: Path):
    good_marts(conn)

    report = validate_marts(warehouse, project_root=gx_project)

    assert report.success
    assert [(result.suite, result.batch, result.row_count) for result in report.suites] == [
        ("marts_fct_reorder_points", "marts.fct_reorder_points", 2),
        ("marts_forecast_values", "run-2", 6),
    ]
    assert report.failed_expectations == 0 and report.evaluated_expectations > 20


def test_reorder_point_below_safety_stock_fails(warehouse: PostgresSettings, conn: Any, gx_project: Path):
    good_marts(conn)
    add_reorder_points(conn, [("MAT-00003", "SITE-0001", 0.95, 5.0, 3.0)])

    with pytest.raises(QualityGateFailed) as failure:
        validate_marts(warehouse, project_root=gx_project)

    assert (
        "suite marts_fct_reorder_points (marts.fct_reorder_points): "
        "expect_column_pair_values_a_to_be_greater_than_b(reorder_point, safety_stock) failed on 1 of 3 rows, "
        "sample: [[3, 5]]"
    ) in str(failure.value)
    assert "marts_forecast_values" not in str(failure.value)


def test_service_level_outside_zero_one_fails(warehouse: PostgresSettings, conn: Any, gx_project: Path):
    good_marts(conn)
    add_reorder_points(conn, [("MAT-00003", "SITE-0001", 1.0, 1.0, 2.0)])

    with pytest.raises(QualityGateFailed, match=r"expect_column_values_to_be_between\(service_level\) failed on 1 of 3 rows, sample: \[1\]"):
        validate_marts(warehouse, project_root=gx_project)


def test_latest_forecast_without_model_version_fails(warehouse: PostgresSettings, conn: Any, gx_project: Path):
    good_marts(conn)
    add_forecast_run(conn, "run-3", GENERATED + timedelta(days=1), model_version=None)

    with pytest.raises(QualityGateFailed) as failure:
        validate_marts(warehouse, project_root=gx_project)

    assert (
        "suite marts_forecast_values (marts.forecast_values run run-3): "
        "expect_column_values_to_not_be_null(model_version) failed on 6 of 6 rows, sample: [None]"
    ) in str(failure.value)
    assert failure.value.report.failed_expectations == 1


def test_only_the_latest_forecast_run_is_validated(warehouse: PostgresSettings, conn: Any, gx_project: Path):
    add_reorder_points(conn, [("MAT-00001", "SITE-0001", 0.95, 2.5, 6.0)])
    add_forecast_run(conn, "run-1", GENERATED - timedelta(days=1), yhat=-4.0)  # bad, but superseded
    add_forecast_run(conn, "run-2", GENERATED)

    assert validate_marts(warehouse, project_root=gx_project).success

    add_forecast_run(conn, "run-3", GENERATED + timedelta(days=1), yhat=-4.0)
    with pytest.raises(QualityGateFailed, match=r"run run-3\): expect_column_values_to_be_between\(yhat\) failed on 6 of 6 rows, sample: \[-4.0\]"):
        validate_marts(warehouse, project_root=gx_project)


def test_no_forecast_run_fails(warehouse: PostgresSettings, conn: Any, gx_project: Path):
    add_reorder_points(conn, [("MAT-00001", "SITE-0001", 0.95, 2.5, 6.0)])

    with pytest.raises(QualityGateFailed, match=r"suite marts_forecast_values \(marts.forecast_values\): "
                                                r"marts.forecast_values holds no forecast run"):
        validate_marts(warehouse, project_root=gx_project)
