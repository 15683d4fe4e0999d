"""The committed GX project is exactly what ``python -m nova_corrente.quality build`` produces."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from nova_corrente.contracts import all_contracts
from nova_corrente.quality.__main__ import main
from nova_corrente.quality.context import PROJECT_ROOT
from nova_corrente.quality.suites import all_suites, build, raw_suite_name

COMMITTED = PROJECT_ROOT / "gx"
#: files GX fills with a random uuid when a project is first created (kept once committed)
RANDOM_ON_CREATION = {".ge_store_backend_id"}


def committed_files(gx_dir: Path) -> dict[str, bytes]:
    """Every file of a GX project that is committed (``uncommitted/`` is git-ignored)."""
    return {
        str(path.relative_to(gx_dir)): path.read_bytes()
        for path in sorted(gx_dir.rglob("*"))
        if path.is_file() and "uncommitted" not in path.relative_to(gx_dir).parts
    }


def copy_of_committed(tmp_path: Path) -> Path:
    shutil.copytree(COMMITTED, tmp_path / "gx", ignore=shutil.ignore_patterns("uncommitted"))
    return tmp_path


def without_random_ids(name: str, content: bytes) -> object:
    """Content with the ids GX draws at random on creation removed (expectation ids are derived)."""
    if name.endswith(".yml"):
        return re.sub(rb"(?m)^data_context_id:.*$", b"", content)
    if not name.endswith(".json"):
        return content
    document = json.loads(content)
    document.pop("id", None)
    document.get("suite", {}).pop("id", None)
    for validation in document.get("validation_definitions", []):
        validation.pop("id", None)
    return document


def test_building_over_the_committed_project_changes_nothing(tmp_path: Path):
    root = copy_of_committed(tmp_path)
    before = committed_files(root / "gx")
    assert before == committed_files(COMMITTED)

    assert main(["build", "--project-root", str(root)]) == 0
    assert committed_files(root / "gx") == before
    build(root)
    assert committed_files(root / "gx") == before


def test_a_fresh_build_equals_the_committed_project(tmp_path: Path):
    build(tmp_path)
    fresh = committed_files(tmp_path / "gx")
    committed = committed_files(COMMITTED)

    assert sorted(fresh) == sorted(committed)
    for name in committed:
        if Path(name).name in RANDOM_ON_CREATION:
            continue
        assert without_random_ids(name, fresh[name]) == without_random_ids(name, committed[name]), name


def test_the_committed_suites_are_the_suites_in_code():
    for suite in all_suites():
        committed = json.loads((COMMITTED / "expectations" / f"{suite.name}.json").read_text())
        in_code = [(e.id, e.configuration.type) for e in suite.expectations]
        assert [(e["id"], e["type"]) for e in committed["expectations"]] == in_code, suite.name


def test_connection_strings_are_never_committed():
    config = (COMMITTED / "great_expectations.yml").read_text()
    assert config.count("connection_string: ${NOVA_GX_WAREHOUSE_URL}") == 2
    for name, content in committed_files(COMMITTED).items():
        assert b"postgresql://" not in content and b"password" not in content.lower(), name


def test_every_source_contract_has_a_raw_suite_checking_its_columns():
    suites = {suite.name: suite for suite in all_suites()}
    for contract in all_contracts():
        suite = suites[raw_suite_name(contract)]
        structural = suite.expectations[0]
        assert structural.configuration.type == "expect_table_columns_to_match_set"
        assert set(contract.column_names) <= set(structural.configuration.kwargs["column_set"]), contract.name
        row_rules = [e for e in suite.expectations if (e.meta or {}).get("kind") == "row"]
        # every not-null column and every bound of the contract is a rule of its suite
        names = {e.description for e in row_rules}
        for column in contract.columns:
            if not column.nullable:
                assert f"{column.name} is not null" in names, (contract.name, column.name)
            if column.bound is not None:
                assert any(name.startswith(f"{column.name} ") and column.bound.describe() in name for name in names)
        assert all("{batch}" in e.configuration.kwargs["unexpected_rows_query"] for e in row_rules)
