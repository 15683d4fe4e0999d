"""The dbt graph of a selection, read from ``target/manifest.json`` (what ``dbt parse`` writes).

A selection is what one Airflow task group builds: dbt's ``--select``/``--exclude`` with node
names and ``tag:<tag>`` (the forms the DAG uses; anything else is refused rather than guessed).
Each model, seed and snapshot of the selection becomes one Airflow task; its upstream tasks are
the selected nodes it ``ref``s. Tests (data and unit tests) do not get tasks of their own: each test reports on
one selected node, so a failing test fails that node's task and everything downstream of it:

1. the node the test is defined on (dbt's ``attached_node``: a relationships test on
   ``fct_x.site_id`` reports on ``fct_x``; a unit test's model), when selected;
2. otherwise the selected parent of the test that dbt builds last (singular tests);
3. otherwise, for tests on sources, every selected node that reads the tested source.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

TASK_RESOURCE_TYPES = ("model", "seed", "snapshot")


class SelectionError(ValueError):
    """A selector this module does not understand, or one that selects nothing."""


@dataclass(frozen=True)
class DbtNode:
    """A model, seed or snapshot of the selection, with the selected nodes it depends on."""

    unique_id: str
    name: str
    resource_type: str
    upstream: tuple[str, ...]  # unique_ids of selected nodes, sorted


@dataclass(frozen=True)
class DbtSelection:
    """The nodes of one selection in build order, and which node each test reports on."""

    select: tuple[str, ...]
    exclude: tuple[str, ...]
    nodes: tuple[DbtNode, ...]
    reported_on: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # test uid -> node uids

    def tests_of(self, unique_id: str) -> list[str]:
        """unique_ids of the tests that report on ``unique_id``."""
        return sorted(test for test, nodes in self.reported_on.items() if unique_id in nodes)

    def dbt_args(self) -> list[str]:
        """The ``--select``/``--exclude`` arguments that make dbt build exactly this selection."""
        return selector_args(self.select, self.exclude)


def selector_args(select: Sequence[str] = (), exclude: Sequence[str] = ()) -> list[str]:
    args: list[str] = []
    if select:
        args += ["--select", *select]
    if exclude:
        args += ["--exclude", *exclude]
    return args


def load_manifest(path: Path) -> dict[str, Any]:
    """dbt's manifest (read once per process while the file is unchanged: a DAG file renders two
    groups from it); a missing one names the command that writes it. Treat it as read-only."""
    if not path.exists():
        raise FileNotFoundError(f"dbt manifest {path} is missing: run `dbt parse` in {path.parent.parent} "
                                "(make demo / make airflow do it)")
    stat = path.stat()
    return _read_manifest(path.resolve(), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=2)
def _read_manifest(path: Path, mtime_ns: int, size: int) -> dict[str, Any]:
    return json.loads(path.read_text())


def _matches(node: Mapping[str, Any], selector: str) -> bool:
    if selector.startswith("tag:"):
        return selector.removeprefix("tag:") in node.get("tags", [])
    if ":" in selector or any(char in selector for char in "+@*,/"):
        raise SelectionError(f"selector {selector!r} is not supported here: use a node name or tag:<tag>")
    return node["name"] == selector


def select_nodes(manifest: Mapping[str, Any], select: Sequence[str] = (),
                 exclude: Sequence[str] = ()) -> DbtSelection:
    """The models, seeds and snapshots of ``manifest`` that ``--select``/``--exclude`` pick."""
    nodes = manifest["nodes"]
    chosen = {
        uid: node for uid, node in nodes.items()
        if node["resource_type"] in TASK_RESOURCE_TYPES
        and (not select or any(_matches(node, s) for s in select))
        and not any(_matches(node, s) for s in exclude)
    }
    if not chosen:
        raise SelectionError(f"--select {list(select)} --exclude {list(exclude)} selects no model, seed or snapshot")
    upstream = {uid: tuple(sorted(up for up in node["depends_on"].get("nodes", []) if up in chosen))
                for uid, node in chosen.items()}
    # build order: dependencies first, ties by name (stable task order in the UI and in tests)
    sorter = TopologicalSorter(upstream)
    sorter.prepare()
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=lambda uid: chosen[uid]["name"])
        order.extend(ready)
        sorter.done(*ready)
    rank = {uid: index for index, uid in enumerate(order)}
    built = [DbtNode(uid, chosen[uid]["name"], chosen[uid]["resource_type"], upstream[uid]) for uid in order]
    tests = {uid: node for uid, node in [*nodes.items(), *manifest.get("unit_tests", {}).items()]
             if node["resource_type"] in ("test", "unit_test")}
    return DbtSelection(tuple(select), tuple(exclude), tuple(built), _reported_on(tests, chosen, rank))


def _reported_on(tests: Mapping[str, Any], chosen: Mapping[str, Any], rank: Mapping[str, int]) -> dict:
    readers: dict[str, list[str]] = {}  # source uid -> selected nodes reading it
    for uid, node in chosen.items():
        for parent in node["depends_on"].get("nodes", []):
            if parent.startswith("source."):
                readers.setdefault(parent, []).append(uid)
    reported: dict[str, tuple[str, ...]] = {}
    for uid, node in tests.items():
        parents = node["depends_on"].get("nodes", [])
        attached = node.get("attached_node")
        selected_parents = [parent for parent in parents if parent in chosen]
        if attached in chosen:
            reported[uid] = (attached,)
        elif selected_parents:
            reported[uid] = (max(selected_parents, key=rank.__getitem__),)
        else:
            source_readers = sorted({reader for parent in parents for reader in readers.get(parent, [])})
            if source_readers:
                reported[uid] = tuple(source_readers)
    return reported


def edges(selection: DbtSelection) -> dict[str, list[str]]:
    """node name -> names of its upstream nodes (what the Airflow dependencies must mirror)."""
    names = {node.unique_id: node.name for node in selection.nodes}
    return {node.name: sorted(names[up] for up in node.upstream) for node in selection.nodes}
