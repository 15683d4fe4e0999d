"""The dbt project without a database: it parses offline (the manifest the DAG renders its dbt tasks from),
follows the layer conventions, and its committed holiday seed is what the generator produces."""

from __future__ import annotations

import importlib.util
import re

import pytest
from dbt_harness import OFFLINE_ENV, PROJECT_DIR, run_dbt

from nova_corrente.reorder_replay import REPLAY_INPUTS
from nova_corrente.settings import DBT_RUN_FLAGS
from nova_forecast.warehouse import FORECAST_INPUTS

STAGING = {
    "stg_erp__material_families", "stg_erp__materials", "stg_erp__sites", "stg_erp__suppliers",
    "stg_erp__supplier_materials", "stg_erp__purchase_orders", "stg_erp__stock_movements",
    "stg_erp__stock_positions", "stg_feeds__weather_observations", "stg_feeds__economic_indicators",
    "stg_feeds__anatel_5g_rollouts", "stg_forecast__forecast_runs", "stg_forecast__forecast_values",
}
MARTS = {"dim_item", "dim_site", "dim_supplier", "dim_date", "fct_demand_daily", "fct_stock_daily",
         "fct_reorder_points", "fct_forecasts", "fct_purchase_orders", "fct_inventory_kpis_monthly",
         "fct_forecast_accuracy", "fct_stock_alerts"}
# what reads the forecast task's tables (directly or through fct_forecasts): built in the publish step
FORECAST_MODELS = {"fct_forecasts", "fct_forecast_accuracy", "fct_stock_alerts",
                   "stg_forecast__forecast_runs", "stg_forecast__forecast_values"}


@pytest.fixture(scope="module")
def manifest(parsed_manifest) -> dict:
    """The offline parse of conftest.py (no database: the DAG renders its dbt tasks from it)."""
    return parsed_manifest


def _models(manifest: dict) -> dict[str, dict]:
    return {node["name"]: node for node in manifest["nodes"].values() if node["resource_type"] == "model"}


def test_parse_works_offline_and_lists_every_layer(manifest):
    models = _models(manifest)
    assert STAGING <= set(models)
    assert MARTS <= set(models)
    assert {name for name in models if name.startswith("int_")} >= {
        "int_demand_aggregated_to_daily", "int_lead_times_observed", "int_demand_statistics_computed",
        "int_lead_time_statistics_computed", "int_material_sites_filtered_to_active",
        "int_material_sites_classified", "int_receipts_linked_to_purchase_orders",
    }
    for name, node in models.items():
        layer = node["fqn"][1]
        assert layer in ("staging", "intermediate", "marts"), name
        assert layer in node["tags"], f"{name} is not tagged with its layer"
        assert node["schema"] == layer, f"{name} builds into {node['schema']}"
        assert node["description"], f"{name} is not documented"
        if layer == "staging":
            assert node["config"]["materialized"] == "view", name
        elif layer == "intermediate":
            assert node["config"]["materialized"] in ("view", "table"), name
        else:
            assert node["config"]["materialized"] in ("table", "incremental"), name
            # BI reads every published mart, the forecaster what the forecast task reads
            forecaster_reads = f"marts.{name}" in FORECAST_INPUTS + REPLAY_INPUTS
            readers = ["nova_bi_reader", "nova_forecaster"] if forecaster_reads else ["nova_bi_reader"]
            assert sorted(node["config"]["grants"]["select"]) == readers, name
            assert node["config"]["indexes"], f"{name} has no index"
        # only staging reads sources
        assert bool(node["sources"]) == (layer == "staging"), name
    for name, date_column in (("fct_demand_daily", "demand_date"), ("fct_stock_daily", "stock_date")):
        config = models[name]["config"]
        assert config["materialized"] == "incremental", name
        assert config["incremental_strategy"] in ("merge", "delete+insert"), name
        assert config["unique_key"] == ["material_id", "site_id", date_column], name


def test_forecast_tag_marks_exactly_what_reads_the_forecast_tables(manifest):
    tagged = {node["name"] for node in manifest["nodes"].values()
              if "forecast" in node["tags"] and node["resource_type"] == "model"}
    assert tagged == FORECAST_MODELS
    # every test on them has a forecast-tagged parent (model or source), so indirect selection
    # drops it with `--exclude tag:forecast` and keeps it with `--select tag:forecast`
    tags = {uid: node["tags"] for uid, node in {**manifest["nodes"], **manifest["sources"]}.items()}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test":
            continue
        parents = node["depends_on"]["nodes"]
        if any("forecast" in parent.split(".")[-1] for parent in parents):
            assert any("forecast" in tags[parent] for parent in parents), node["name"]


def test_every_primary_key_is_tested(manifest):
    tests_by_model: dict[str, set[str]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] == "test" and node.get("test_metadata"):
            for parent in node["depends_on"]["nodes"]:
                tests_by_model.setdefault(parent.split(".")[-1], set()).add(node["test_metadata"]["name"])
    for name in _models(manifest):
        kinds = tests_by_model.get(name, set())
        assert "unique_combination" in kinds or {"unique", "not_null"} <= kinds, f"{name}: {kinds}"


def test_macros_documented_and_unit_tests_present(manifest):
    ours = {macro["name"]: macro for macro in manifest["macros"].values()
            if macro["package_name"] == "nova_corrente"}
    assert {"service_level_z", "safety_stock", "reorder_point", "generate_schema_name",
            "test_unique_combination", "refuse_superuser"} <= set(ours)
    for name, macro in ours.items():
        assert macro["description"], f"macro {name} is not documented in macros/_macros.yml"
    unit_tests = {test["name"] for test in manifest["unit_tests"].values()}
    assert {"reorder_points_textbook_examples", "service_level_z_matches_normal_tables", "material_site_classes_by_hand",
            "forecast_accuracy_by_hand", "stock_alerts_by_hand", "inventory_kpis_by_hand"} <= unit_tests
    snapshots = [node for node in manifest["nodes"].values() if node["resource_type"] == "snapshot"]
    assert sorted((node["name"], node["schema"], node["config"]["strategy"]) for node in snapshots) == [
        ("snap_erp__materials", "snapshots", "timestamp"),
        ("snap_erp__supplier_materials", "snapshots", "timestamp"),
    ]


def test_the_platform_runs_skip_unit_tests_that_ci_runs(manifest, tmp_path):
    """The platform's dbt flags (what the DAG, `nova dbt` and the benches run with) leave the unit
    tests to CI; the CI harness, like any caller that sets the variable, selects them again."""
    listed = {}
    for label, env in (("platform", {**OFFLINE_ENV, **DBT_RUN_FLAGS}), ("ci", OFFLINE_ENV)):
        result = run_dbt(None, ["ls", "--resource-type", "unit_test", "--resource-type", "model", "--output", "name",
                                "-q"], tmp_path / label, env_overrides=env)
        listed[label] = set(result.output.split())
    unit_tests = {test["name"] for test in manifest["unit_tests"].values()}
    models = {node["name"] for node in manifest["nodes"].values() if node["resource_type"] == "model"}
    assert listed["ci"] == unit_tests | models
    assert listed["platform"] == models


def test_no_package_dependencies_and_no_secrets():
    assert not (PROJECT_DIR / "packages.yml").exists()
    assert not (PROJECT_DIR / "dependencies.yml").exists()
    profiles = (PROJECT_DIR / "profiles.yml").read_text()
    for name in ("HOST", "PORT", "USER", "PASSWORD", "DBNAME"):
        assert f"env_var('NOVA_DBT_{name}')" in profiles
    assert not re.search(r"^\s*(password|user|host):\s*[^\"'{\s]", profiles, re.MULTILINE)


def test_holiday_seed_equals_generator_output():
    path = PROJECT_DIR / "scripts" / "generate_holidays.py"
    spec = importlib.util.spec_from_file_location("generate_holidays", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = module.holiday_rows()
    committed = (PROJECT_DIR / "seeds" / "br_ba_holidays.csv").read_text(encoding="utf-8")
    assert committed == module.render_csv(rows), "seed out of date: run dbt_project/scripts/generate_holidays.py"
    assert module.main(["--check"]) == 0
    # a few facts a reader can check: national, Bahia-only, and optional days
    by_key = {(day.isoformat(), category): name for day, name, category in rows}
    assert by_key[("2024-07-02", "public")] == "Independência da Bahia"
    assert by_key[("2024-11-20", "public")].startswith("Dia Nacional de Zumbi")
    assert by_key[("2024-02-13", "optional")] == "Carnaval"
    assert {day.year for day, _, _ in rows} == set(range(module.FIRST_YEAR, module.LAST_YEAR + 1))
