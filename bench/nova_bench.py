"""Shared pieces of the benchmarks: throw-away databases, a simulated ERP, dbt and Airflow runs.

Everything here measures the real thing: the platform's PostgreSQL, dbt from the venv, Airflow's
own services (scheduler, dag-processor, triggerer, api-server) started with the platform's
configuration. Timings come from Airflow's metadata (task instance start/end), never from logs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import psycopg2

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from nova_corrente import airflow_services, db_roles, postgres_server  # noqa: E402
from nova_corrente.settings import PostgresSettings, dbt_env, postgres_settings  # noqa: E402
from nova_corrente.transform import PUBLISH_GROUP, TRANSFORM_GROUP  # noqa: E402

#: the daily DAG's stages (task id prefixes), in their order; a stage's seconds run from its first task's
#: start to its last task's end
STAGES = ("extract_load", "gate_raw", TRANSFORM_GROUP, "forecast", PUBLISH_GROUP, "gate_marts",
          "refresh_dbt_docs", "notify_stock_alerts", "run_report")


def bench_databases(prefix: str) -> PostgresSettings:
    """Settings for ``<prefix>_erp/_warehouse/_airflow``, dropped and created empty."""
    server = postgres_server.ensure_running(postgres_settings())
    pg = dataclasses.replace(server, erp_db=f"{prefix}_erp", warehouse_db=f"{prefix}_warehouse",
                             airflow_db=f"{prefix}_airflow")
    postgres_server.drop_databases(pg, pg.databases)
    postgres_server.ensure_databases(pg)
    db_roles.provision(pg)  # every component logs in as its own role, as in production
    return pg


def use_databases(pg: PostgresSettings) -> None:
    """Point this process's environment (and so every child: dbt, Airflow) at ``pg``'s databases."""
    os.environ.update({"NOVA_PG_ERP_DB": pg.erp_db, "NOVA_PG_WAREHOUSE_DB": pg.warehouse_db,
                       "NOVA_PG_AIRFLOW_DB": pg.airflow_db, "NOVA_PG_DB_PREFIX": ""})


def dbt(pg: PostgresSettings, *args: str, target: str = "target_bench") -> float:
    """Run ``dbt <args>`` on ``pg``'s warehouse (own target folder); returns seconds, raises on failure."""
    env = {**os.environ, **dbt_env(pg)}
    started = time.perf_counter()
    result = subprocess.run([str(Path(sys.executable).with_name("dbt")), *args, "--target-path", target],
                            env=env, cwd=REPO / "dbt_project", capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"dbt {' '.join(args)} failed:\n{result.stdout[-3000:]}")
    return time.perf_counter() - started


def query(pg: PostgresSettings, sql: str, params=None, db: str | None = None) -> list[tuple]:
    with psycopg2.connect(pg.dsn(db or pg.warehouse_db)) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall() if cur.description else []
    conn.close()
    return rows


def age_runs(pg: PostgresSettings, days: int = 1) -> None:
    """Move the runs' validation stamps ``days`` back: what the day between two daily runs does.

    The incremental marts redo every material-site touched by a batch validated up to an hour
    before what they last processed (an overlap for a verdict that committed while a build was
    reading). The bench's runs are minutes apart: without this every run would also redo the batches
    of the runs before it. (The run right after the first one does redo the first load's
    material-sites, a day apart or not: that is the overlap, paid once.) Every mart with a
    ``source_validated_at`` column is moved with the batches.
    """
    shift = f"interval '{int(days)} days'"
    query(pg, f"update audit.load_batches set validated_at = validated_at - {shift}")
    tables = query(pg, "select table_schema || '.' || table_name from information_schema.columns "
                       "where table_schema = 'marts' and column_name = 'source_validated_at' order by 1")
    for (table,) in tables:
        query(pg, f"update {table} set source_validated_at = source_validated_at - {shift}")


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# --- Airflow runs ---------------------------------------------------------------------------------


@dataclass
class TaskTiming:
    task_id: str
    map_index: int
    state: str | None
    start: datetime | None
    end: datetime | None
    hostname: str | None
    ti_id: str

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds() if self.start and self.end else 0.0


@dataclass
class RunTiming:
    dag_id: str
    run_id: str
    state: str
    start: datetime
    end: datetime
    tasks: list[TaskTiming] = field(default_factory=list)
    peak_rss_mib: dict[str, float] = field(default_factory=dict)  # task_id -> peak RSS of its process tree

    @property
    def wall(self) -> float:
        return (self.end - self.start).total_seconds()

    def task_seconds(self, prefix: str = "") -> float:
        return sum(t.seconds for t in self.tasks if t.task_id.startswith(prefix))

    def span(self, prefix: str) -> float:
        """Wall seconds from the first start to the last end of the tasks whose id starts with ``prefix``."""
        spans = [(t.start, t.end) for t in self.tasks if t.task_id.startswith(prefix) and t.start and t.end]
        if not spans:
            return float("nan")
        return (max(end for _, end in spans) - min(start for start, _ in spans)).total_seconds()

    def count(self, prefix: str = "") -> int:
        return sum(1 for t in self.tasks if t.task_id.startswith(prefix) and t.start)


def run_timing(pg: PostgresSettings, dag_id: str, run_id: str) -> RunTiming:
    rows = query(pg, "select state, start_date, end_date from dag_run where dag_id = %s and run_id = %s",
                 (dag_id, run_id), db=pg.airflow_db)
    state, start, end = rows[0]
    tasks = [TaskTiming(*row[:6], ti_id=str(row[6])) for row in query(
        pg, "select task_id, map_index, state, start_date, end_date, hostname, id from task_instance "
        "where dag_id = %s and run_id = %s order by start_date nulls last", (dag_id, run_id), db=pg.airflow_db)]
    return RunTiming(dag_id, run_id, state, start, end or datetime.now(start.tzinfo), tasks)


WARMUP_DAG = '''"""Benchmark warm-up, not measured: a long-running triggerer pays its one-time imports (the
in-process execution API, the trigger's module) on its first trigger, so each benchmark runs this once."""
import pendulum
from airflow.sdk import dag, task
from nova_dbt import DbtNodeOperator, report_key


@dag(dag_id="bench_warmup", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False,
     tags=["bench"])
def bench_warmup():
    @task
    def build(ti=None):
        ti.xcom_push(key=report_key("model.bench.warmup"),
                     value={"unique_id": "model.bench.warmup", "name": "warmup", "status": "success",
                            "attempt": ti.try_number})

    build() >> DbtNodeOperator(task_id="warmup", unique_id="model.bench.warmup", build_task_id="build")


bench_warmup()
'''


class Airflow:
    """Airflow's services for a benchmark: own AIRFLOW_HOME, DAG folder and metadata database.

    ``extra_env`` is merged over the platform's configuration (e.g. the executor); the services are
    stopped on exit. ``run`` starts a DAG run through the REST API (what the UI calls) and waits.
    On entry a warm-up DAG runs once (see ``WARMUP_DAG``), so the runs measured later see the
    services as a deployment does: long-running.
    """

    def __init__(self, pg: PostgresSettings, home: Path, dags_folder: Path | None = None,
                 extra_env: dict[str, str] | None = None, celery_workers: int = 0):
        self.pg, self.home, self.dags_folder, self.celery_workers = pg, home, dags_folder, celery_workers
        self.env = {"NOVA_AIRFLOW_HOME": str(home), **({"NOVA_DAGS_FOLDER": str(dags_folder)} if dags_folder else {}),
                    **(extra_env or {})}
        self._saved: dict[str, str | None] = {}
        self._token: str | None = None
        self._sampler: MemorySampler | None = None

    def __enter__(self) -> Airflow:
        self._saved = {key: os.environ.get(key) for key in self.env}
        os.environ.update(self.env)
        if self.dags_folder:
            (self.dags_folder / "bench_warmup.py").write_text(WARMUP_DAG)
        airflow_services.migrate(self.pg)
        airflow_services.start_services(self.pg, wait_s=300)
        if self.celery_workers:
            airflow_services.start_celery_workers(self.pg, self.celery_workers)
        self._sampler = MemorySampler()
        self._sampler.start()
        if self.dags_folder:
            self.run("bench_warmup")
        return self

    def __exit__(self, *exc) -> None:
        if self._sampler:
            self._sampler.stop()
        airflow_services.stop_services()
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    @property
    def base(self) -> str:
        from nova_corrente.airflow_env import API_HOST, api_port

        return f"http://{API_HOST}:{api_port()}"

    def _call(self, path: str, body: dict | None = None, method: str = "GET") -> dict:
        if self._token is None and not path.startswith("/auth"):
            password = airflow_services.admin_password()
            self._token = self._call("/auth/token", {"username": "admin", "password": password}, "POST")["access_token"]
        request = urllib.request.Request(self.base + path, method=method,
                                         data=json.dumps(body).encode() if body is not None else None)
        request.add_header("Content-Type", "application/json")
        if self._token:
            request.add_header("Authorization", f"Bearer {self._token}")
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"{}")

    def wait_for_dag(self, dag_id: str, timeout_s: float = 300) -> None:
        """Until the dag-processor has parsed ``dag_id`` (and it is unpaused)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                dag = self._call(f"/api/v2/dags/{dag_id}")
                if dag.get("is_paused"):
                    self._call(f"/api/v2/dags/{dag_id}", {"is_paused": False}, "PATCH")
                return
            except urllib.error.HTTPError:
                time.sleep(2)
        raise RuntimeError(f"DAG {dag_id} did not appear within {timeout_s:.0f}s (import error? see dag-processor log)")

    def fail_scheduled_runs(self, dag_id: str, wait_s: float = 240) -> None:
        """Mark failed the scheduled run the scheduler creates when it first sees an unpaused DAG
        (``dags_are_paused_at_creation`` is off), so that the runs measured are the triggered ones."""
        self.wait_for_dag(dag_id, wait_s)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            runs = [run for run in self._call(f"/api/v2/dags/{dag_id}/dagRuns")["dag_runs"]
                    if run["run_type"] == "scheduled"]
            if runs:
                for run in runs:
                    self._call(f"/api/v2/dags/{dag_id}/dagRuns/{run['dag_run_id']}?update_mask=state",
                               {"state": "failed"}, "PATCH")
                return
            time.sleep(2)
        raise RuntimeError(f"the scheduler created no scheduled run of {dag_id} within {wait_s:.0f}s")

    def run(self, dag_id: str, logical_date: str | None = None, timeout_s: float = 3600,
            conf: dict | None = None) -> RunTiming:
        """Trigger ``dag_id``, wait until the run ends, return its timings (raises if it failed)."""
        self.wait_for_dag(dag_id)
        body: dict = {"logical_date": logical_date}
        if conf:
            body["conf"] = conf
        if self._sampler:
            self._sampler.reset()
        run_id = self._call(f"/api/v2/dags/{dag_id}/dagRuns", body, "POST")["dag_run_id"]
        deadline = time.monotonic() + timeout_s
        state = "queued"
        while time.monotonic() < deadline and state not in ("success", "failed"):
            time.sleep(1)
            state = self._call(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"]
        timing = run_timing(self.pg, dag_id, run_id)
        if self._sampler:
            by_ti = {t.ti_id: t.task_id for t in timing.tasks}
            for ti_id, peak in self._sampler.peaks().items():
                if ti_id in by_ti:
                    task_id = by_ti[ti_id]
                    timing.peak_rss_mib[task_id] = max(timing.peak_rss_mib.get(task_id, 0.0), peak)
        if state != "success":
            failed = [(t.task_id, t.state) for t in timing.tasks if t.state not in ("success", "skipped")]
            raise RuntimeError(f"{dag_id} run {run_id} ended {state}: {failed[:10]}")
        return timing


@contextlib.contextmanager
def redis_server(port: int = 6390):
    """Debian's ``redis-server`` on 127.0.0.1:``port`` for the length of a block (a Celery broker;
    nothing persisted); yields its URL."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(binary).exists():
        raise SystemExit("redis-server is not installed (Debian: apt-get install redis-server)")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"redis-server did not answer on 127.0.0.1:{port}")
            time.sleep(0.2)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


class MemorySampler:
    """Peak resident memory of each Airflow task's process tree, sampled every 0.2 s.

    Airflow titles a task's process ``airflow worker -- <task instance id>``; the peak covers it
    and its children (dbt threads run inside it; the forecast's worker processes are children).
    """

    def __init__(self, interval_s: float = 0.2):
        self.interval_s = interval_s
        self._peaks: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def reset(self) -> None:
        self._peaks = {}

    def peaks(self) -> dict[str, float]:
        return dict(self._peaks)

    def _loop(self) -> None:
        import psutil

        marker = "airflow worker -- "
        while not self._stop.is_set():
            for proc in psutil.process_iter(["cmdline"]):
                try:
                    cmdline = " ".join(proc.info["cmdline"] or [])
                    if not cmdline.startswith(marker):
                        continue
                    ti_id = cmdline.removeprefix(marker).strip()
                    if len(ti_id) != 36:  # the executor's own workers: "LocalExecutor: <name>"
                        continue
                    rss = proc.memory_info().rss + sum(child.memory_info().rss
                                                       for child in proc.children(recursive=True))
                except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                    continue
                self._peaks[ti_id] = max(self._peaks.get(ti_id, 0.0), rss / 2**20)
            self._stop.wait(self.interval_s)


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def erp_end_date() -> date:
    return date.today() - timedelta(days=1)
