"""Durability and concurrency of extract and gate, on real PostgreSQL servers.

* an extract killed with SIGKILL in the middle of a large COPY leaves nothing half-written;
* a batch that ``extract_load`` reported is still there after the server crashes right after it
  (``pg_ctl stop -m immediate``: no checkpoint, the restart replays the write-ahead log);
* an extract and a gate of the same source never interleave: the gate's verdict covers exactly the
  rows it validated, even when another run re-extracts the same interval meanwhile.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import psycopg2
import pytest
from extract_testdata import DAY1, DAY2, DAY3, Database

from nova_corrente import postgres_server
from nova_corrente.extract import load_interval
from nova_corrente.quality.gates import QuarantineSettings, validate_raw_batches
from nova_corrente.settings import REPO_ROOT, nova_home


def test_an_extract_killed_mid_copy_leaves_nothing_half_written(pg, erp, warehouse, tmp_path):
    load_interval(pg, DAY1, DAY2)
    warehouse.execute("update audit.load_batches set status = 'passed', validated_at = now()")  # day 1 judged
    before = warehouse.raw_state()
    erp.execute("""
        insert into erp.stock_movements
        select 1000 + n, 'MAT-00001', 'SITE-0001', 'consumption', '2024-01-02', 1, null,
               '2024-01-02 08:00+00', '2024-01-02 08:00+00'
          from generate_series(1, 400000) as n
    """)
    script = tmp_path / "extract.py"
    script.write_text(textwrap.dedent(f"""
        import dataclasses, datetime
        from nova_corrente.extract import load_interval
        from nova_corrente.settings import postgres_settings
        pg = dataclasses.replace(postgres_settings(), erp_db={pg.erp_db!r}, warehouse_db={pg.warehouse_db!r})
        utc = datetime.timezone.utc
        load_interval(pg, datetime.datetime(2024, 1, 2, tzinfo=utc), datetime.datetime(2024, 1, 3, tzinfo=utc))
    """))
    process = subprocess.Popen([sys.executable, str(script)], cwd=REPO_ROOT, env={**os.environ})
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until the warehouse receives the big COPY
            copying = warehouse.rows(
                "select count(*) from pg_stat_activity where datname = %s and query ilike 'copy _incoming%%'"
                " and state = 'active'", (pg.warehouse_db,))[0][0]
            if copying or process.poll() is not None:
                break
            time.sleep(0.02)
        assert process.poll() is None, "the extract finished before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    # the server ends the killed client's transaction: nothing of it is visible
    deadline = time.monotonic() + 30
    while warehouse.scalar("select count(*) from pg_stat_activity where datname = %s"
                           " and application_name = 'nova_extract_warehouse'", (pg.warehouse_db,)):
        assert time.monotonic() < deadline, "the killed extract's backend is still there"
        time.sleep(0.1)
    assert warehouse.raw_state() == before
    # and the next run loads the interval whole
    results = {result.source: result for result in load_interval(pg, DAY2, DAY3)}
    assert results["erp.stock_movements"].row_count == 400001  # movement 4 and the 400,000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def own_server(pg_server):
    """A second embedded server of our own (its data under $NOVA_HOME), so crashing it harms no one."""
    if not pg_server.embedded:
        pytest.fail("the crash test needs the embedded server binaries (NOVA_PG_HOST selects an external server)")
    root = Path(tempfile.mkdtemp(prefix="crash-test-", dir=nova_home()))
    root.chmod(0o755)
    server = dataclasses.replace(pg_server, port=_free_port(), data_dir=root / "pgdata", erp_db="crash_erp",
                                 warehouse_db="crash_warehouse", airflow_db="crash_airflow")
    postgres_server.ensure_running(server)
    yield server
    postgres_server.stop(server, mode="immediate")
    shutil.rmtree(root, ignore_errors=True)


def test_a_batch_reported_done_survives_a_server_crash_right_after(own_server, gx_project):
    from extract_testdata import SCHEMA_SQL, SEED_SQL

    pg = own_server
    erp = Database(pg, pg.erp_db)
    erp.execute(SCHEMA_SQL)
    erp.execute(SEED_SQL)

    results = load_interval(pg, DAY1, DAY2)
    postgres_server.stop(pg, mode="immediate")  # the server crashes right after the stage returned
    postgres_server.ensure_running(pg)

    warehouse = Database(pg, pg.warehouse_db)
    assert warehouse.rows("select batch_id, row_count from audit.load_batches order by 1") == sorted(
        (result.batch_id, result.row_count) for result in results)
    report = validate_raw_batches(pg, [result.batch_id for result in results], project_root=gx_project)
    assert report.success and all(verdict.status == "passed" for verdict in report.verdicts)
    postgres_server.stop(pg, mode="immediate")  # and the verdicts survive a crash too
    postgres_server.ensure_running(pg)
    assert warehouse.rows("select distinct status from audit.load_batches") == [("passed",)]


def test_an_extract_waits_for_a_gate_of_the_same_source_so_verdicts_cover_what_they_validated(
    pg, erp, warehouse, gx_project
):
    load_interval(pg, DAY1, DAY2)
    warehouse.execute("update audit.load_batches set status = 'passed', validated_at = now()")  # day 1 judged
    [loaded] = load_interval(pg, DAY2, DAY3, tables=["stock_movements"])  # movement 4, not judged yet
    # while the gate runs on it, the ERP gets a bad row and another run re-extracts the interval
    erp.execute("insert into erp.stock_movements values (99, 'MAT-00001', 'SITE-0001', 'consumption', '2024-01-02',"
                " -7, null, '2024-01-02 09:00+00', '2024-01-02 09:00+00')")
    events: dict[str, float] = {}

    def gate() -> None:
        events["gate_start"] = time.monotonic()
        validate_raw_batches(pg, [loaded.batch_id], project_root=gx_project,
                             settings=QuarantineSettings(max_bad_share=1.0, min_bad_rows=0))
        events["gate_end"] = time.monotonic()

    def extract() -> None:
        # start while the gate holds the source's advisory lock (not after a guessed delay: a quiet
        # machine's gate can finish in less)
        with psycopg2.connect(pg.dsn(pg.warehouse_db)) as conn, conn.cursor() as cur:
            for _ in range(3000):
                cur.execute("select count(*) from pg_locks where locktype = 'advisory' and granted")
                if cur.fetchone()[0] or "gate_end" in events:
                    break
                time.sleep(0.01)
        conn.close()
        events["extract_start"] = time.monotonic()
        load_interval(pg, DAY2, DAY3, tables=["stock_movements"])
        events["extract_end"] = time.monotonic()

    threads = [threading.Thread(target=gate), threading.Thread(target=extract)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)

    assert events["extract_start"] < events["gate_end"] <= events["extract_end"] + 0.5
    batches = warehouse.rows("select batch_id, status, validated_at, loaded_at from audit.load_batches"
                             " where source = 'erp.stock_movements' and interval_end = %s order by attempt", (DAY3,))
    # the gate judged attempt 1 as it was; the re-extract waited, then wrote attempt 2 with the bad row
    (first_id, first_status, validated_at, _), (second_id, second_status, _, second_loaded_at) = batches
    assert (first_id, first_status) == (loaded.batch_id, "passed") and second_status == "loaded"
    assert second_loaded_at > validated_at
    assert warehouse.rows("select movement_id from raw.erp_stock_movements where _batch_id = %s", (first_id,)) == [(4,)]
    assert warehouse.rows("select movement_id from raw.erp_stock_movements where _batch_id = %s", (second_id,)) == [
        (99,)]
    # no row of a passed batch was written after its verdict
    late = warehouse.rows("select r._batch_id from raw.erp_stock_movements as r join audit.load_batches as b"
                          " on b.batch_id = r._batch_id where b.status = 'passed' and r._loaded_at > b.validated_at")
    assert late == []
