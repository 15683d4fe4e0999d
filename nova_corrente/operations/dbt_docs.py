"""The dbt docs site the Airflow UI shows (Browse > dbt Docs), kept current by the DAG.

The platform's plugin (``plugins/nova_operations_plugin.py``) serves ``index.html``, ``manifest.json``
and ``catalog.json`` from ``$NOVA_HOME/dbt_docs`` (:func:`docs_dir`) under ``/nova/dbt_docs/``, to
logged-in users. ``refresh`` rebuilds that folder cheaply after each successful transform:

* the manifest is the one the DAG renders its dbt tasks from (``dbt_project/target/manifest.json``),
  copied, not recompiled: the lineage and column docs shown are those of what runs;
* ``dbt docs generate --no-compile`` (partial parse seeded from the project's target) writes only
  ``catalog.json`` (column types and row counts, read from the warehouse) and ``index.html``;
* the three files are swapped in as one folder rename, so the UI never shows half a site.

The project sets ``send_anonymous_usage_stats: false``, so the page makes no tracking request.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from nova_corrente.settings import DBT_PROJECT_DIR, PostgresSettings, dbt_env, nova_home

log = logging.getLogger(__name__)

PROJECT_SLUG = "nova_corrente"
DISPLAY_NAME = "dbt Docs"
SITE_FILES = ("index.html", "manifest.json", "catalog.json")


def docs_dir() -> Path:
    """``$NOVA_HOME/dbt_docs``: the site the UI serves."""
    return nova_home() / "dbt_docs"


def site_file(name: str, directory: Path | None = None) -> Path:
    """The path of one of the site's files (``SITE_FILES``), for the UI to serve.

    Raises ``KeyError`` for any other name (nothing else in the folder is served) and
    ``FileNotFoundError`` with what to do when the site was not built yet.
    """
    if name not in SITE_FILES:
        raise KeyError(name)
    path = (directory or docs_dir()) / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist yet: the daily DAG's refresh_dbt_docs task builds the "
                                "dbt docs site after its first successful transform")
    return path


@dataclass(frozen=True)
class DocsSite:
    directory: Path
    nodes: int
    catalog_nodes: int
    seconds: float


def refresh(
    pg: PostgresSettings,
    *,
    project_dir: Path = DBT_PROJECT_DIR,
    manifest: Path | None = None,
    directory: Path | None = None,
    dbt_executable: str | None = None,
) -> DocsSite:
    """Rebuild the docs site in ``directory`` (default ``$NOVA_HOME/dbt_docs``); see the module docstring."""
    started = time.perf_counter()
    directory = directory or docs_dir()
    manifest = manifest or project_dir / "target" / "manifest.json"
    if not manifest.exists():
        raise FileNotFoundError(f"{manifest} does not exist: parse the dbt project first (make airflow / make demo do)")
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = directory.with_name(f".{directory.name}.new-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    partial_parse = manifest.with_name("partial_parse.msgpack")
    if partial_parse.exists():
        shutil.copy2(partial_parse, staging / partial_parse.name)
    dbt = dbt_executable or os.environ.get("NOVA_DBT_EXECUTABLE") or str(Path(sys.executable).with_name("dbt"))
    result = subprocess.run(
        [dbt, "docs", "generate", "--no-compile", "--target-path", str(staging),
         "--project-dir", str(project_dir), "--profiles-dir", str(project_dir)],
        env={**os.environ, **dbt_env(pg)}, cwd=project_dir, capture_output=True, text=True,
    )
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise RuntimeError(f"dbt docs generate failed (exit {result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-2000:]}")
    shutil.copy2(manifest, staging / "manifest.json")
    for leftover in ("partial_parse.msgpack", "perf_info.json", "graph.gpickle", "graph_summary.json"):
        (staging / leftover).unlink(missing_ok=True)
    missing = [name for name in SITE_FILES if not (staging / name).exists()]
    if missing:
        shutil.rmtree(staging, ignore_errors=True)
        raise RuntimeError(f"dbt docs generate wrote no {', '.join(missing)} in {staging}")
    _swap(staging, directory)
    nodes = len(json.loads((directory / "manifest.json").read_text()).get("nodes", {}))
    catalog_nodes = len(json.loads((directory / "catalog.json").read_text()).get("nodes", {}))
    site = DocsSite(directory, nodes, catalog_nodes, time.perf_counter() - started)
    log.info("dbt docs refreshed in %s: %d nodes, %d in the catalog (%.1fs)", directory, nodes, catalog_nodes, site.seconds)
    return site


def _swap(new: Path, target: Path) -> None:
    """Replace ``target`` by ``new``: two renames, the old folder removed afterwards."""
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    if target.exists():
        target.rename(old)
    new.rename(target)
    shutil.rmtree(old, ignore_errors=True)
