"""The project's own generic tests on literal tables: the rows each one returns (dbt fails a test
that returns rows). Rendered by the real dbt (`dbt compile --inline`) and evaluated by PostgreSQL."""

from __future__ import annotations

import re

import pytest
from dbt_harness import query, run_dbt

KEYED_ROWS = "(values ('m1', 's1', 1), ('m1', 's2', 2), ('m2', 's1', 3)) as keyed (material_id, site_id, n)"


def rendered_test(pg, target, call: str):
    """The SQL of a generic test ``call`` on the placeholder model ``__model__``, rendered once by the
    real dbt; returns a function that runs it on a literal table and gives the failing rows."""
    output = run_dbt(pg, ["compile", "--quiet", "--inline", "{{ " + call + " }}"], target).output
    sql = output[re.search(r"^\s*(with|select)\b", output, re.MULTILINE).start():].strip()
    assert sql.count("__model__") == 1, sql
    return lambda model: query(pg, sql.replace("__model__", model))


@pytest.fixture(scope="module")
def unique_combination(pg_module, tmp_path_factory):
    """The primary-key test of (material_id, site_id)."""
    return rendered_test(pg_module, tmp_path_factory.mktemp("dbt_generic_tests"),
                         "test_unique_combination(model='__model__', columns=['material_id', 'site_id'])")


def test_unique_combination_passes_a_complete_unique_key(unique_combination):
    assert unique_combination(KEYED_ROWS) == []


def test_unique_combination_returns_each_duplicated_key_with_its_count(unique_combination):
    model = KEYED_ROWS.replace("('m2', 's1', 3)", "('m2', 's1', 3), ('m1', 's1', 4), ('m1', 's1', 5)")
    failures = unique_combination(model)
    assert failures == [{"material_id": "m1", "site_id": "s1", "occurrences": 3}]


@pytest.mark.parametrize("null_row", ["(null, 's1', 4)", "('m3', null, 4)"])
def test_unique_combination_fails_on_a_null_key_column_even_once(unique_combination, null_row):
    """The key test stands in for not_null on the key columns: a single row with a NULL key fails."""
    model = KEYED_ROWS.replace("('m2', 's1', 3)", f"('m2', 's1', 3), {null_row}")
    failures = unique_combination(model)
    assert len(failures) == 1
    assert failures[0]["occurrences"] == 1
    assert None in (failures[0]["material_id"], failures[0]["site_id"])


@pytest.fixture(scope="module")
def not_null_columns(pg_module, tmp_path_factory):
    """The required-columns test of (material_id, n)."""
    return rendered_test(pg_module, tmp_path_factory.mktemp("dbt_generic_tests_not_null"),
                         "test_not_null_columns(model='__model__', columns=['material_id', 'n'])")


def test_not_null_columns_passes_filled_columns_and_ignores_the_others(not_null_columns):
    assert not_null_columns(KEYED_ROWS.replace("('m2', 's1', 3)", "('m2', null, 3)")) == []


def test_not_null_columns_names_each_column_with_nulls_and_counts_them(not_null_columns):
    model = KEYED_ROWS.replace("('m2', 's1', 3)", "('m2', 's1', null), (null, 's1', null), ('m3', 's1', null)")
    failures = not_null_columns(model)
    assert sorted(failures, key=lambda row: row["column_name"]) == [
        {"column_name": "material_id", "null_rows": 1}, {"column_name": "n", "null_rows": 3}]
