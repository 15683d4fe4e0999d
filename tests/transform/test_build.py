"""Splitting one dbt build's results into one report per model (what its Airflow task shows)."""

from transform_testdata import MANIFEST

from nova_corrente.transform.build import NodeReport, split_results
from nova_corrente.transform.graph import select_nodes

SELECTION = select_nodes(MANIFEST, exclude=["tag:forecast"])


def result(uid: str, status: str, message: str | None = None) -> dict:
    return {"unique_id": uid, "name": uid.rsplit(".", 1)[-1], "status": status, "message": message, "seconds": 0.5}


def test_a_model_and_its_tests_succeed_together():
    results = [result("model.p.stg_items", "success"), result("test.p.unique_stg_items_id", "pass"),
               result("test.p.assert_forecast_active", "warn")]
    lines = {"model.p.stg_items": ["1 of 3 OK created view"], "test.p.unique_stg_items_id": ["2 of 3 PASS unique"]}
    reports, unreported = split_results(SELECTION, results, lines, attempt=1)
    report = reports["model.p.stg_items"]
    assert report.ok and report.failure() is None and report.attempt == 1
    assert report.lines == ["1 of 3 OK created view", "2 of 3 PASS unique"]
    assert [t["name"] for t in report.tests] == ["assert_forecast_active", "unique_stg_items_id"]
    assert unreported == []


def test_a_failing_test_fails_the_model_it_reports_on_and_names_itself():
    results = [result("model.p.fct_stock", "success"),
               result("test.p.relationships_fct_stock_item", "fail", "Got 3 results, configured to fail if != 0")]
    reports, _ = split_results(SELECTION, results, {})
    report = reports["model.p.fct_stock"]
    assert not report.ok
    assert "relationships_fct_stock_item fail: Got 3 results" in report.failure()
    assert "nothing downstream of it runs" in report.failure()


def test_errors_skips_and_missing_nodes_fail_their_task_with_a_reason():
    results = [result("model.p.stg_moves", "error", 'relation "raw.moves" does not exist'),
               result("model.p.fct_stock", "skipped")]
    reports, _ = split_results(SELECTION, results, {})
    assert reports["model.p.stg_moves"].failure() == 'stg_moves error: relation "raw.moves" does not exist'
    assert "skipped fct_stock" in reports["model.p.fct_stock"].failure()
    assert reports["seed.p.holidays"].failure() == "dbt build did not run holidays"


def test_failures_no_task_reports_are_returned_not_lost():
    results = [result("test.p.some_other_test", "fail", "1 row"), result("exposure.p.board", "no-op")]
    _, unreported = split_results(SELECTION, results, {})
    assert unreported == ["some_other_test fail: 1 row"]


def test_reports_travel_as_plain_dicts():
    report = NodeReport("model.p.x", "x", "success", tests=[{"name": "t", "status": "pass", "message": None}],
                        lines=["a"], attempt=2)
    assert NodeReport.from_dict(report.as_dict()) == report
