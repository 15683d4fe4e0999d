"""The dbt docs site the UI serves: rebuilt from the DAG's manifest and the warehouse's catalog."""

from __future__ import annotations

import dataclasses
import json
import re

import psycopg2
import pytest

from nova_corrente import airflow_services, db_roles
from nova_corrente.operations import dbt_docs


def test_docs_site_reuses_the_manifest_and_reads_the_catalog_from_the_warehouse(pg, tmp_path):
    manifest = airflow_services.dbt_manifest(pg)
    with psycopg2.connect(pg.dsn(pg.warehouse_db)) as conn, conn.cursor() as cur:
        cur.execute("create table marts.dim_item (material_id text, material_name text)")
    conn.close()
    db_roles.provision(pg)  # the table goes to the schema's owner, the transformer dbt logs in as
    site_dir = tmp_path / "dbt_docs"

    site = dbt_docs.refresh(pg, directory=site_dir)

    assert sorted(p.name for p in site_dir.iterdir()) == ["catalog.json", "index.html", "manifest.json"]
    assert (site_dir / "manifest.json").read_bytes() == manifest.read_bytes()  # what the DAG renders its dbt tasks from
    catalog = json.loads((site_dir / "catalog.json").read_text())
    assert set(catalog["nodes"]["model.nova_corrente.dim_item"]["columns"]) == {"material_id", "material_name"}
    assert site.nodes > 50 and site.catalog_nodes == 1
    index = (site_dir / "index.html").read_text()
    assert re.findall(r'<(?:script|link)[^>]*(?:src|href)="(https?://[^"]+)"', index) == []

    # a failed rebuild leaves the served site as it was, and no temporary folder behind
    broken = dataclasses.replace(pg, port=1)  # the server is unreachable
    with pytest.raises(RuntimeError, match="dbt docs generate failed"):
        dbt_docs.refresh(broken, directory=site_dir)
    assert json.loads((site_dir / "catalog.json").read_text()) == catalog
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dbt_docs"]


def test_the_ui_serves_only_the_sites_files_and_says_when_it_is_not_built(tmp_path):
    with pytest.raises(FileNotFoundError, match="refresh_dbt_docs task builds the dbt docs site"):
        dbt_docs.site_file("index.html", tmp_path)
    (tmp_path / "index.html").write_text("<html></html>")
    (tmp_path / "secret.txt").write_text("not served")
    assert dbt_docs.site_file("index.html", tmp_path) == tmp_path / "index.html"
    for name in ("secret.txt", "../index.html", "partial_parse.msgpack"):
        with pytest.raises(KeyError):
            dbt_docs.site_file(name, tmp_path)
