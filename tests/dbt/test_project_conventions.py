"""The dbt project follows the conventions of ../shared/STYLE.md, checked on its manifest.

Hub packages such as dbt-project-evaluator cannot be installed here, so the same rules are
enforced by reading `dbt parse`'s manifest: naming per layer, only staging reads sources (one
staging model per source table), every model and column documented, every model with a primary-key
test, no test restating a rule its source's contract or DDL keeps, sources with freshness, YAML
files named after their folder, macros documented, exposures owned and reading marts only,
snapshots documented. What needs the built warehouse (every built
column documented, column names by type) is checked in test_dbt_build.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def manifest(parsed_manifest) -> dict:
    """`dbt parse`'s manifest (offline; shared with test_dbt_project_files through conftest.py)."""
    return parsed_manifest


def _models(manifest: dict) -> list[dict]:
    return [n for n in manifest["nodes"].values() if n["resource_type"] == "model" and n["package_name"] == "nova_corrente"]


def _layer(node: dict) -> str:
    return Path(node["original_file_path"]).parts[1]  # models/<layer>/...


# Entities named by a mass noun take no plural s: STYLE.md's own example is
# int_demand_aggregated_to_daily. Any other intermediate entity is plural.
MASS_NOUN_ENTITIES = ("demand",)
INTERMEDIATE_NAME = re.compile(
    rf"int_(?:[a-z0-9_]+?s|{'|'.join(MASS_NOUN_ENTITIES)})_[a-z]+ed(_[a-z0-9]+)*"
)
# the audit source is read by every staging model through the macro latest_passed_versions
BOOKKEEPING_SOURCES = ("audit",)


def test_models_are_named_for_their_layer(manifest):
    problems = []
    for node in _models(manifest):
        name, layer, parts = node["name"], _layer(node), Path(node["original_file_path"]).parts
        if layer == "staging":
            source = parts[2]
            if not re.fullmatch(rf"stg_{source}__[a-z0-9_]+s", name):
                problems.append(f"{name}: staging models are stg_{source}__<entity>s")
        elif layer == "intermediate":
            # int_<entity>s_<verb>ed, optionally qualified: int_material_sites_filtered_to_active
            if not INTERMEDIATE_NAME.fullmatch(name):
                problems.append(f"{name}: intermediate models are int_<entity>s_<verb>ed")
        elif layer == "marts":
            if not re.fullmatch(r"(dim|fct)_[a-z0-9_]+", name):
                problems.append(f"{name}: marts are dim_<thing> or fct_<thing>")
        else:
            problems.append(f"{name}: unknown layer folder {layer!r}")
    assert not problems, "\n".join(problems)


def test_only_staging_reads_sources_and_staging_has_no_joins_of_models(manifest):
    problems = []
    for node in _models(manifest):
        sources = [d for d in node["depends_on"]["nodes"] if d.startswith("source.")]
        models = [d for d in node["depends_on"]["nodes"] if d.startswith("model.")]
        if _layer(node) != "staging" and sources:
            problems.append(f"{node['name']} reads sources {sources}")
        if _layer(node) == "staging" and models:
            problems.append(f"{node['name']} (staging) depends on models {models}")
    assert not problems, "\n".join(problems)


def test_each_source_table_has_one_staging_model_in_its_folder(manifest):
    """One staging model per source table (plus, at most, its change feed ``<model>_versions``)."""
    sources = {uid: s for uid, s in manifest["sources"].items() if s["package_name"] == "nova_corrente"}
    readers: dict[str, list[str]] = {uid: [] for uid, s in sources.items() if s["source_name"] not in BOOKKEEPING_SOURCES}
    problems = []
    for node in _models(manifest):
        if _layer(node) != "staging":
            continue
        folder = Path(node["original_file_path"]).parts[2]
        read = [d for d in node["depends_on"]["nodes"] if d in readers]
        if len(read) != 1:
            problems.append(f"{node['name']} reads {len(read)} source tables, staging models read exactly one")
        for uid in read:
            if not node["name"].endswith("_versions"):
                readers[uid].append(node["name"])
            if sources[uid]["source_name"] != folder:
                problems.append(f"{node['name']} (in staging/{folder}) reads source {sources[uid]['source_name']}")
    problems += [f"source {uid} is read by {names or 'no'} staging model(s)" for uid, names in readers.items()
                 if len(names) != 1]
    assert not problems, "\n".join(problems)


def test_every_model_and_column_is_documented(manifest):
    problems = []
    for node in _models(manifest):
        if not node["description"].strip():
            problems.append(f"{node['name']}: no description")
        if not node["columns"]:
            problems.append(f"{node['name']}: no columns documented")
        for column in node["columns"].values():
            if not column["description"].strip():
                problems.append(f"{node['name']}.{column['name']}: no description")
    assert not problems, "\n".join(problems)


def test_every_model_has_a_primary_key_test(manifest):
    tests_by_model: dict[str, list[dict]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] == "test" and node.get("attached_node"):
            tests_by_model.setdefault(node["attached_node"], []).append(node)
    problems = []
    for node in _models(manifest):
        tests = tests_by_model.get(node["unique_id"], [])
        by_column: dict[str, set[str]] = {}
        combination = False
        for test in tests:
            name = (test.get("test_metadata") or {}).get("name", "")
            if name == "unique_combination":
                combination = True
            if test.get("column_name"):
                by_column.setdefault(test["column_name"], set()).add(name)
        single = any({"unique", "not_null"} <= names for names in by_column.values())
        if not (single or combination):
            problems.append(f"{node['name']}: no unique+not_null (or unique_combination) primary-key test")
    assert not problems, "\n".join(problems)


# a staging line `<expression> as <column>`: the staged column and the raw columns it is made of
STAGED_COLUMN = re.compile(r"^\s*(?P<expression>.+?)\s+as\s+(?P<column>\w+),?\s*$")
# data tests that restate a contract column's own rule: NOT NULL, allowed codes, bounds
CONTRACT_RULE_TESTS = {
    "not_null": lambda column: not column.nullable,
    "accepted_values": lambda column: bool(column.allowed),
    "values_between": lambda column: column.bound is not None,
}
CONTRACT_RULE_TESTS["not_null_columns"] = CONTRACT_RULE_TESTS["not_null"]


def _contract_columns_of_staging(node: dict, contract) -> dict[str, str]:
    """staged column -> the contract column it is cast from (`cast(category as text) as family_category`)."""
    names = set(contract.column_names)
    staged: dict[str, str] = {name: name for name in names}
    for line in node["raw_code"].splitlines():
        match = STAGED_COLUMN.match(line)
        if match:
            raw = [word for word in re.findall(r"\w+", match["expression"]) if word in names]
            if raw:
                staged[match["column"]] = raw[0]
    return staged


def test_no_data_test_restates_a_rule_kept_elsewhere(manifest):
    """One rule, one place: a raw table's rules are its contract's (nova_corrente/contracts), checked on
    every row by the raw gate before staging shows it; the audit and forecast tables' rules are their
    DDL's constraints. So no source carries a data test, and no staging test restates its contract's
    NOT NULL, codes or bounds on a column outside the key (the key's test checks staging's own work:
    one row per key after the latest-version choice)."""
    from nova_corrente.contracts import erp, feeds

    contracts = {contract.staging_model: contract for contract in (*erp.TABLES, *feeds.FEEDS)}
    assert all(contracts), "every contract names its staging model"
    problems = []
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test" or node["package_name"] != "nova_corrente":
            continue
        parents = node["depends_on"]["nodes"]
        if any(parent.startswith("source.") for parent in parents):
            problems.append(f"{node['name']}: a data test on a source")
        attached = manifest["nodes"].get(node.get("attached_node") or "")
        name = (node.get("test_metadata") or {}).get("name", "")
        if not attached or attached["name"] not in contracts or name not in CONTRACT_RULE_TESTS:
            continue
        contract = contracts[attached["name"]]
        staged = _contract_columns_of_staging(attached, contract)
        rule = CONTRACT_RULE_TESTS[name]
        # not_null_columns tests several columns at once: each of them is checked like a not_null test
        columns = node["test_metadata"]["kwargs"]["columns"] if name == "not_null_columns" else [node.get("column_name")]
        for raw in (staged.get(column or "") for column in columns):
            if raw and raw not in contract.key and rule(contract.column(raw)):
                problems.append(f"{node['name']}: restates the rule of {contract.name}.{raw} (its contract, "
                                "checked by the raw gate)")
    assert not problems, "\n".join(problems)


def test_sources_have_freshness(manifest):
    missing = [
        f"{s['source_name']}.{s['name']}" for s in manifest["sources"].values()
        if s["package_name"] == "nova_corrente"
        and not ((s.get("freshness") or {}).get("warn_after") or {}).get("count")
        and not ((s.get("freshness") or {}).get("error_after") or {}).get("count")
    ]
    assert not missing, "\n".join(missing)


def test_yaml_files_are_named_after_their_folder(manifest):
    problems = []
    for node in _models(manifest):
        patch = node.get("patch_path") or ""
        if not patch:
            problems.append(f"{node['name']}: not declared in any YAML file")
            continue
        path = Path(patch.split("://", 1)[-1])
        if path.parent != Path(node["original_file_path"]).parent:
            problems.append(f"{node['name']}: documented in {path}, not beside the model")
        elif not re.fullmatch(rf"_{path.parent.name}__models\.ya?ml", path.name):
            problems.append(f"{node['name']}: YAML file {path.name} should be _{path.parent.name}__models.yml")
    for source in manifest["sources"].values():
        path = Path(source["original_file_path"])
        if not re.fullmatch(r"_[a-z0-9_]+__sources\.ya?ml", path.name):
            problems.append(f"source {source['source_name']}: declared in {path.name}, expected _<source>__sources.yml")
    assert not problems, "\n".join(problems)


def test_project_macros_are_documented(manifest):
    undocumented = [
        m["name"] for m in manifest["macros"].values()
        if m["package_name"] == "nova_corrente" and not m["name"].startswith("test_")
        and not m["description"].strip()
    ]
    assert not undocumented, "\n".join(undocumented)


def test_exposures_are_owned_and_read_only_marts(manifest):
    problems = []
    for exposure in manifest["exposures"].values():
        owner = exposure.get("owner") or {}
        if not (owner.get("name") and owner.get("email")):
            problems.append(f"exposure {exposure['name']}: owner needs a name and an email")
        if not exposure["description"].strip():
            problems.append(f"exposure {exposure['name']}: no description")
        models = exposure["depends_on"]["nodes"]
        if not models:
            problems.append(f"exposure {exposure['name']}: depends on nothing")
        for uid in models:
            node = manifest["nodes"][uid]
            if node["resource_type"] != "model" or _layer(node) != "marts":
                problems.append(f"exposure {exposure['name']} reads {uid}: BI reads marts only")
    assert manifest["exposures"], "no exposures declared"
    assert not problems, "\n".join(problems)


def test_snapshots_are_documented_and_keyed(manifest):
    problems = []
    for node in manifest["nodes"].values():
        if node["resource_type"] != "snapshot" or node["package_name"] != "nova_corrente":
            continue
        if not node["description"].strip():
            problems.append(f"{node['name']}: no description")
        problems += [f"{node['name']}.{name}: no description" for name, column in node["columns"].items()
                     if not column["description"].strip()]
        tests = {(t.get("test_metadata") or {}).get("name") for t in manifest["nodes"].values()
                 if t["resource_type"] == "test" and t.get("attached_node") == node["unique_id"]}
        if "unique_combination" not in tests:
            problems.append(f"{node['name']}: no unique_combination test on (key, dbt_valid_from)")
    assert not problems, "\n".join(problems)
