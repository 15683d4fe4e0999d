"""Fixtures shared by the dbt tests: one offline ``dbt parse`` for every test that reads the
manifest (each dbt invocation costs seconds)."""

from __future__ import annotations

import json

import pytest
from dbt_harness import OFFLINE_ENV, run_dbt


@pytest.fixture(scope="session")
def parsed_manifest(tmp_path_factory) -> dict:
    """The manifest of an offline ``dbt parse`` of dbt_project/ (what the DAG renders its dbt tasks from)."""
    target = tmp_path_factory.mktemp("dbt_parse")
    run_dbt(None, ["parse"], target, env_overrides=OFFLINE_ENV)
    return json.loads((target / "manifest.json").read_text())
