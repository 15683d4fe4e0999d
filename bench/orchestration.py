"""Benchmark: what orchestration costs on top of the dbt work (the floor table of issue 8).

On its own databases (``bench_orch_*``) with a simulated ERP loaded into ``raw`` and built once,
the same dbt work (``dbt build --exclude tag:forecast``: the daily DAG's transform) is run under
Airflow's real scheduler (LocalExecutor, the platform's configuration) in four shapes:

* ``noop``: one no-op Python task per dbt node, with the dbt dependencies (the scheduler's floor);
* ``plain_dbt``: one task running ``dbt build``;
* ``cosmos_local``: Cosmos ExecutionMode.LOCAL, one task per model running ``dbt build -s model``
  (the daily DAG before issue 8);
* ``cosmos_watcher``: Cosmos ExecutionMode.WATCHER, one producer ``dbt build`` and one deferrable
  sensor per model and per model's tests (TestBehavior.AFTER_EACH);
* ``build_report_workers``: ``plugins/nova_dbt.py`` with its model tasks run by workers;
* ``build_report``: ``plugins/nova_dbt.py`` as the daily DAG uses it: one ``dbt build`` task, one
  task per model that reports it from the triggerer (no worker process);

and, as the reference, plain ``dbt build`` from the command line, measured in the same run before
each DAG run. Prints per shape: tasks, DAG-run wall seconds, summed task seconds, wall / plain
``dbt build`` and wall - plain (seconds of orchestration).

Usage: .venv/bin/python bench/orchestration.py [--materials 8 --sites 4 --days 730] [--repeat 2]
       [--shapes noop,plain_dbt,cosmos_local,cosmos_watcher,build_report_workers,build_report]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

from nova_bench import REPO, Airflow, bench_databases, dbt, erp_end_date, median, use_databases

from nova_corrente import airflow_services, pipeline
from nova_corrente.erp_simulator import SimulationConfig, load_erp, simulate, write_feed_files

SHAPES = ("noop", "plain_dbt", "cosmos_local", "cosmos_watcher", "build_report_workers", "build_report")
SELECTION = ["--exclude", "tag:forecast"]

HEADER = f'''\
import sys

import pendulum
from airflow.sdk import dag, task

sys.path.insert(0, {str(REPO / "dags")!r})
DBT_PROJECT = {str(REPO / "dbt_project")!r}
START = pendulum.datetime(2026, 1, 1, tz="UTC")
'''

# Cosmos as the daily DAG used it before issue 8 (LOCAL, BUILD), and in its WATCHER mode (Cosmos 1.15:
# TestBehavior.BUILD is not implemented there, so tests get their own sensors: AFTER_EACH).
COSMOS = '''
import os
from pathlib import Path

from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior

PROJECT = Path(DBT_PROJECT)


def cosmos_group(mode):
    watcher = mode == "watcher"
    return DbtTaskGroup(
        group_id="transform",
        project_config=ProjectConfig(dbt_project_path=PROJECT, manifest_path=PROJECT / "target" / "manifest.json"),
        profile_config=ProfileConfig(profile_name="nova_corrente", target_name="warehouse",
                                     profiles_yml_filepath=PROJECT / "profiles.yml"),
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.WATCHER if watcher else ExecutionMode.LOCAL,
            dbt_executable_path=os.environ.get("NOVA_DBT_EXECUTABLE", "dbt"), invocation_mode=InvocationMode.DBT_RUNNER),
        render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST,
                                   test_behavior=TestBehavior.AFTER_EACH if watcher else TestBehavior.BUILD,
                                   should_detach_multiple_parents_tests=not watcher, emit_datasets=False,
                                   exclude=["tag:forecast"]),
        operator_args={"install_deps": False},
        default_args={"retries": 0},
    )
'''

DAG_FILES = {
    "noop": HEADER + '''
EDGES = {edges}


@dag(dag_id="bench_noop", schedule=None, start_date=START, catchup=False, tags=["bench"])
def bench_noop():
    tasks = {{}}
    for node in EDGES:
        @task(task_id=node)
        def noop() -> None:
            return None

        tasks[node] = noop()
    for node, upstream in EDGES.items():
        for parent in upstream:
            tasks[parent] >> tasks[node]


bench_noop()
''',
    "cosmos_local": HEADER + COSMOS + """

@dag(dag_id="bench_cosmos_local", schedule=None, start_date=START, catchup=False, tags=["bench"])
def bench_cosmos_local():
    cosmos_group("local")


bench_cosmos_local()
""",
    "cosmos_watcher": HEADER + COSMOS + """

@dag(dag_id="bench_cosmos_watcher", schedule=None, start_date=START, catchup=False, tags=["bench"])
def bench_cosmos_watcher():
    cosmos_group("watcher")


bench_cosmos_watcher()
""",
    "build_report_workers": HEADER + """
from nova_dbt import dbt_task_group


@dag(dag_id="bench_build_report_workers", schedule=None, start_date=START, catchup=False, tags=["bench"])
def bench_build_report_workers():
    dbt_task_group("transform", exclude=["tag:forecast"], report_in_triggerer=False)


bench_build_report_workers()
""",
    "build_report": HEADER + """
from nova_dbt import dbt_task_group


@dag(dag_id="bench_build_report", schedule=None, start_date=START, catchup=False, tags=["bench"])
def bench_build_report():
    dbt_task_group("transform", exclude=["tag:forecast"])


bench_build_report()
""",
    "plain_dbt": HEADER + '''

@dag(dag_id="bench_plain_dbt", schedule=None, start_date=START, catchup=False, tags=["bench"])
def bench_plain_dbt():
    @task
    def dbt_build() -> None:
        import os
        import subprocess

        subprocess.run([os.environ["NOVA_DBT_EXECUTABLE"], "build", "--exclude", "tag:forecast",
                        "--target-path", "target_bench_task"], cwd=DBT_PROJECT, check=True)

    dbt_build()


bench_plain_dbt()
''',
}


def dbt_edges(manifest: Path) -> dict[str, list[str]]:
    """node name -> upstream node names of the transform selection (as the DAG's task group has them)."""
    from nova_corrente.transform.graph import edges, load_manifest, select_nodes

    return edges(select_nodes(load_manifest(manifest), exclude=SELECTION[1:]))


def write_dag_files(folder: Path, shapes: list[str], manifest: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for shape in shapes:
        text = DAG_FILES[shape]
        if shape == "noop":
            text = text.replace("{{", "{").replace("}}", "}").replace("{edges}", repr(dbt_edges(manifest)))
        (folder / f"bench_{shape}.py").write_text(textwrap.dedent(text))


def prepare_warehouse(pg, config: SimulationConfig, landing: Path) -> None:
    """Simulated ERP -> raw (passed batches) -> one full dbt build, so every shape then does the same work."""
    data = simulate(config)
    load_erp(pg, data)
    write_feed_files(data, landing)
    end = datetime.combine(config.end_date + timedelta(days=1), datetime.min.time(), UTC)
    loaded = pipeline.extract_load(pg, end - timedelta(days=1), end, landing)
    pipeline.gate_raw(pg, loaded["batch_ids"])
    airflow_services.dbt_manifest(pg)
    dbt(pg, "build", *SELECTION)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--materials", type=int, default=8)
    parser.add_argument("--sites", type=int, default=4)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--shapes", default=",".join(SHAPES))
    args = parser.parse_args()
    shapes = [shape for shape in args.shapes.split(",") if shape]
    unknown = set(shapes) - set(SHAPES)
    if unknown:
        parser.error(f"unknown shapes {sorted(unknown)}; choose from {', '.join(SHAPES)}")
    if importlib.util.find_spec("cosmos") is None and any(shape.startswith("cosmos") for shape in shapes):
        print("astronomer-cosmos is not installed (the platform no longer uses it): the cosmos_* shapes are "
              "left out; `.venv/bin/uv pip install astronomer-cosmos==1.15.1` to measure them too")
        shapes = [shape for shape in shapes if not shape.startswith("cosmos")]

    pg = bench_databases("bench_orch")
    use_databases(pg)
    work = Path(tempfile.mkdtemp(prefix="nova-bench-orch-"))
    os.environ["NOVA_LANDING_DIR"] = str(work / "landing")
    end = erp_end_date()
    config = SimulationConfig(seed=42, start_date=end - timedelta(days=args.days - 1), end_date=end,
                              n_materials=args.materials, n_sites=args.sites)
    print(f"preparing {args.materials} materials x {args.sites} sites, {args.days} days ...", flush=True)
    prepare_warehouse(pg, config, work / "landing")
    write_dag_files(work / "dags", shapes, REPO / "dbt_project" / "target" / "manifest.json")

    results: dict[str, list] = {shape: [] for shape in shapes}
    plain: list[float] = []
    with Airflow(pg, work / "airflow", work / "dags") as airflow:
        for round_ in range(args.repeat):
            for shape in shapes:
                plain.append(dbt(pg, "build", *SELECTION))
                timing = airflow.run(f"bench_{shape}")
                results[shape].append(timing)
                print(f"  round {round_ + 1} {shape:<15} wall {timing.wall:7.1f} s  tasks {timing.count():3d}  "
                      f"task-s {timing.task_seconds():7.1f}  (plain dbt build just before: {plain[-1]:.1f} s)",
                      flush=True)

    reference = median(plain)
    print(f"\nOrchestration floor: {args.materials} materials x {args.sites} sites, {args.days} days; "
          f"{os.cpu_count()} cores; LocalExecutor; medians of {args.repeat} runs\n")
    print(f"plain `dbt build {' '.join(SELECTION)}` (CLI): {reference:.1f} s (runs: "
          f"{', '.join(f'{s:.1f}' for s in plain)})\n")
    print(f"{'shape':<16}{'tasks':>6}{'wall s':>9}{'task s':>9}{'s/task':>8}{'wall/plain':>12}{'wall-plain s':>14}")
    for shape in shapes:
        runs = results[shape]
        wall = median([run.wall for run in runs])
        summed = median([run.task_seconds() for run in runs])
        tasks = runs[0].count()
        print(f"{shape:<16}{tasks:>6}{wall:>9.1f}{summed:>9.1f}{summed / max(tasks, 1):>8.2f}"
              f"{wall / reference:>11.2f}x{wall - reference:>14.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
