"""The platform operated from the Airflow UI, in a real browser (Debian's chromium driven by Playwright).

One Airflow start for the module: `make airflow`'s api-server, scheduler, dag-processor and triggerer
(LocalExecutor) on test databases, a private NOVA_HOME and a spare port, with the alerts pointed at
a local SMTP server and a local webhook receiver. In order:

1. log in, open the DAG, trigger it with the Trigger button; the run succeeds, one task per dbt model,
   and its report is its note;
2. clearing one model's task (as the UI's Clear does) re-runs that model alone and nothing else;
3. the dbt docs view (Browse menu) shows fct_reorder_points and its lineage;
4. a failing dbt test fails its model's task and everything downstream of it stays unbuilt (a probe DAG:
   a three-model dbt project written by the test, through the same ``plugins/nova_dbt.py``);
5. bad ERP rows: the raw gate of the next run holds their batch back (the run's final audit fails
   the run), the alert names the suite, the rule and the bad values, and the data-quality page
   (Browse menu) shows the batch held back with its failing rule;
6. a run created after its deadline raises the deadline alert;
7. every request the browser made stayed on 127.0.0.1.

The DAG is unpaused at creation (as `make airflow` leaves it), so the scheduler starts the latest
scheduled run as soon as it sees the DAG; the fixture marks that run failed (it would double the
module's time) so that the run triggered from the button is the one that does the work.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg2
import pytest
from alert_receivers import SmtpReceiver, WebhookReceiver, alert_env, free_port
from browser import LAUNCH_FLAGS, foreign_requests, require_chromium, screenshot

from nova_corrente import airflow_services
from nova_corrente.erp_simulator import SimulationConfig, load_erp, simulate, write_feed_files
from nova_corrente.settings import COMPONENT_ROLES, REPO_ROOT, dbt_env, share_secrets

pytestmark = pytest.mark.slow
DAG_ID = airflow_services.DAG_ID
RUN_TIMEOUT_S = 1800
PROBE_DAG_ID = "nova_dbt_probe"

PROBE_PROJECT = {
    "dbt_project.yml": 'name: probe\nprofile: nova_corrente\nversion: "1.0.0"\nconfig-version: 2\n'
                       "flags:\n  send_anonymous_usage_stats: false\n"
                       "models:\n  probe:\n    +materialized: table\n    +schema: probe\n",
    "models/_probe.yml": "sources:\n  - name: probe\n    schema: probe_src\n    tables:\n      - name: flags\n"
                         "models:\n  - name: first\n    columns:\n      - name: status\n        data_tests:\n"
                         "          - accepted_values:\n              arguments:\n                values: ['ok']\n",
    "models/first.sql": "select status from {{ source('probe', 'flags') }}\n",
    "models/second.sql": "select status from {{ ref('first') }}\n",
    "models/third.sql": "select status, clock_timestamp() as built_at from {{ ref('second') }}\n",
}

PROBE_DAG = '''"""Test probe: a three-model dbt project through plugins/nova_dbt.py."""
from pathlib import Path

import pendulum
from airflow.sdk import dag
from nova_dbt import dbt_task_group


@dag(dag_id="nova_dbt_probe", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False,
     tags=["test"], doc_md=__doc__)
def nova_dbt_probe():
    dbt_task_group("probe", project_dir=Path({project!r}))


nova_dbt_probe()
'''


def _call(base: str, path: str, token: str | None = None, body: dict | None = None, method: str = "GET"):
    request = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body else None)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"{}")


class Ui:
    """What the tests share: the Airflow base URL, an API token, the receivers, the browser page."""

    def __init__(self, base, password, token, pg, home, smtp, webhook, page, requests):
        self.base, self.password, self.token, self.pg, self.home = base, password, token, pg, home
        self.smtp, self.webhook, self.page, self.requests = smtp, webhook, page, requests
        self.first_run: tuple[str, dict] | None = None  # the successful run's id and its task instances

    def api(self, path: str, body: dict | None = None, method: str = "GET"):
        return _call(self.base, path, self.token, body, method)

    def wait_for_run(self, run_id: str, timeout: float = RUN_TIMEOUT_S) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.api(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}")
            if run["state"] in ("success", "failed"):
                return run
            time.sleep(10)
        pytest.fail(f"run {run_id} did not finish within {timeout:.0f}s")

    def task_instances(self, run_id: str, dag_id: str = DAG_ID) -> dict[str, dict]:
        tis = self.api(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=500")["task_instances"]
        return {ti["task_id"]: ti for ti in tis}

    def task_states(self, run_id: str, dag_id: str = DAG_ID) -> dict[str, str]:
        return {task_id: ti["state"] for task_id, ti in self.task_instances(run_id, dag_id).items()}

    def task_log(self, run_id: str, task_id: str, try_number: int, dag_id: str = DAG_ID) -> str:
        return json.dumps(self.api(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/"
                                   f"{try_number}?full_content=true"))

    def warehouse(self, sql: str, params=None) -> list[tuple]:
        with psycopg2.connect(self.pg.dsn(self.pg.warehouse_db)) as conn, conn.cursor() as cur:
            cur.execute(sql, params)
            rows = cur.fetchall()
        conn.close()
        return rows

    def open_from_browse_menu(self, name: str) -> None:
        self.page.get_by_role("button", name="Browse").click()
        self.page.get_by_role("menuitem", name=name).click()


def _probe_project(pg, folder: Path) -> Path:
    """The probe dbt project, parsed, and its source table holding one 'ok' flag; dbt builds it as the
    transformer, in a schema the setup gives it (as the platform's setup does for the real project)."""
    for name, text in PROBE_PROJECT.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    transformer = COMPONENT_ROLES["transformer"]
    with psycopg2.connect(pg.dsn(pg.warehouse_db)) as conn, conn.cursor() as cur:
        cur.execute(f"create schema if not exists probe_src; drop table if exists probe_src.flags; "
                    f"create table probe_src.flags as select 'ok'::text as status; "
                    f"grant usage on schema probe_src to {transformer}; grant select on probe_src.flags to {transformer}; "
                    f"create schema if not exists public_probe authorization {transformer}")
    conn.close()
    result = subprocess.run([str(Path(sys.executable).with_name("dbt")), "parse", "--project-dir", str(folder)],
                            env={**os.environ, **dbt_env(pg)}, capture_output=True, text=True, cwd=folder)
    assert result.returncode == 0, result.stdout[-3000:]
    return folder


@pytest.fixture(scope="module")
def ui(pg_module, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    chromium = require_chromium()
    port = free_port()
    home = tmp_path_factory.mktemp("nova_home")
    # a private NOVA_HOME (reports, docs site, plots) on the same server: its password files come along
    share_secrets(pg_module.secrets_dir, home)
    smtp, webhook = SmtpReceiver().__enter__(), WebhookReceiver().__enter__()
    # the platform's DAG files and the probe DAG (a failing dbt test, test 4)
    dags = tmp_path_factory.mktemp("dags")
    for path in (REPO_ROOT / "dags").glob("*.py"):
        (dags / path.name).symlink_to(path)
    project = _probe_project(pg_module, tmp_path_factory.mktemp("probe_dbt"))
    (dags / "nova_dbt_probe.py").write_text(PROBE_DAG.replace("{project!r}", repr(str(project))))
    env = {
        "NOVA_HOME": str(home), "NOVA_AIRFLOW_HOME": str(home / "airflow"), "NOVA_LANDING_DIR": str(home / "landing"),
        "NOVA_AIRFLOW_PORT": str(port), "NOVA_RETRY_DELAY_SECONDS": "5", "NOVA_DAGS_FOLDER": str(dags),
        **alert_env(smtp, webhook),
    }
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    config = SimulationConfig(seed=5, start_date=date(2025, 6, 1), end_date=date(2026, 2, 28),
                              n_materials=5, n_sites=3, n_suppliers=2)
    data = simulate(config)
    load_erp(pg_module, data)
    _run_out_of_stock(pg_module, config.end_date)
    write_feed_files(data, Path(env["NOVA_LANDING_DIR"]))
    airflow_services.dbt_manifest(pg_module)
    airflow_services.migrate(pg_module)
    requests: list[str] = []
    try:
        airflow_services.start_services(pg_module, wait_s=300)
        base, password = f"http://127.0.0.1:{port}", airflow_services.admin_password()
        token = _call(base, "/auth/token", body={"username": "admin", "password": password}, method="POST")["access_token"]
        _stop_the_startup_run(base, token)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(chromium), args=LAUNCH_FLAGS, headless=True)
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            context.on("request", lambda request: requests.append(request.url))
            page = context.new_page()
            page.set_default_timeout(60_000)
            yield Ui(base, password, token, pg_module, home, smtp, webhook, page, requests)
            browser.close()
    finally:
        airflow_services.stop_services()
        smtp.__exit__(None, None, None)
        webhook.__exit__(None, None, None)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _stop_the_startup_run(base: str, token: str, wait_s: float = 240) -> None:
    """Mark failed the scheduled run the scheduler creates when it first sees the (unpaused) DAG."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            runs = _call(base, f"/api/v2/dags/{DAG_ID}/dagRuns", token)["dag_runs"]
        except urllib.error.HTTPError:  # the DAG is not parsed yet
            runs = []
        scheduled = [run for run in runs if run["run_type"] == "scheduled"]
        if scheduled:
            for run in scheduled:
                _call(base, f"/api/v2/dags/{DAG_ID}/dagRuns/{run['dag_run_id']}?update_mask=state",
                      token, {"state": "failed"}, "PATCH")
            return
        time.sleep(2)


def _run_out_of_stock(pg, day: date) -> None:
    """On the ERP's last day the busiest material-site consumes all its stock: a critical stock alert."""
    at = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=15)
    with psycopg2.connect(pg.dsn(pg.erp_db)) as conn, conn.cursor() as cur:
        cur.execute(
            """
            with busiest as (
                select soh.material_id, soh.site_id, soh.quantity_on_hand
                from erp.stock_on_hand as soh
                join erp.stock_movements as m using (material_id, site_id)
                where m.movement_type = 'consumption' and soh.quantity_on_hand > 0
                group by soh.material_id, soh.site_id, soh.quantity_on_hand
                order by count(*) desc, soh.material_id, soh.site_id
                limit 1
            )
            insert into erp.stock_movements (movement_id, material_id, site_id, movement_type, movement_date,
                                             quantity, purchase_order_id, created_at, updated_at)
            select (select max(movement_id) + 1 from erp.stock_movements), material_id, site_id, 'consumption',
                   %(day)s, quantity_on_hand, null, %(at)s, %(at)s
            from busiest
            returning material_id, site_id
            """,
            {"day": day, "at": at},
        )
        material_id, site_id = cur.fetchone()
        cur.execute("update erp.stock_on_hand set quantity_on_hand = 0, updated_at = %s "
                    "where material_id = %s and site_id = %s", (at, material_id, site_id))
    conn.close()


def _wait_for_dag(ui: Ui) -> dict:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:  # the dag-processor parses the folder
        try:
            return ui.api(f"/api/v2/dags/{DAG_ID}")
        except urllib.error.HTTPError:
            time.sleep(3)
    pytest.fail("the DAG never appeared in the API")


def test_log_in_open_the_dag_and_trigger_it_from_the_button(ui: Ui):
    with pytest.raises(urllib.error.HTTPError):
        _call(ui.base, "/auth/token", body={"username": "admin", "password": "wrong"}, method="POST")
    assert _wait_for_dag(ui)["is_paused"] is False
    page = ui.page
    page.goto(ui.base + "/")
    page.locator("input[name=username]").fill("admin")
    page.locator("input[name=password]").fill(ui.password)
    page.locator("button[type=submit]").click()
    page.wait_for_url(ui.base + "/")
    screenshot(page, "01_home")

    page.goto(f"{ui.base}/dags/{DAG_ID}")
    before = {run["dag_run_id"] for run in ui.api(f"/api/v2/dags/{DAG_ID}/dagRuns")["dag_runs"]}
    page.get_by_role("button", name="Trigger Dag").click()
    dialog = page.get_by_role("dialog")
    screenshot(page, "02_trigger_dialog")
    dialog.get_by_role("button", name="Trigger", exact=True).click()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        manual = [run for run in ui.api(f"/api/v2/dags/{DAG_ID}/dagRuns")["dag_runs"]
                  if run["dag_run_id"] not in before and run["run_type"] == "manual"]
        if manual:
            break
        time.sleep(1)
    else:
        pytest.fail("the Trigger button created no run")
    run_id = manual[0]["dag_run_id"]

    run = ui.wait_for_run(run_id)
    states = ui.task_states(run_id)
    assert run["state"] == "success", f"run {run_id} ended {run['state']}: {states}"
    assert {"extract_load", "gate_raw", "transform.dbt_build", "forecast.plan", "forecast.shard", "forecast.publish",
            "publish_forecasts.dbt_build", "gate_marts", "refresh_dbt_docs", "notify_stock_alerts",
            "run_report"} <= set(states)
    # the forecast ran in shards: one mapped task per shard, named in the UI, published as one run
    tis = ui.api(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances?limit=500")["task_instances"]
    shards = sorted((ti["map_index"], ti["rendered_map_index"], ti["state"])
                    for ti in tis if ti["task_id"] == "forecast.shard")
    assert [(index, state) for index, _, state in shards] == [(0, "success"), (1, "success")], shards
    assert shards[0][1].startswith("shard 1/2: ") and " series of " in shards[0][1], shards
    (series, staged), = ui.warehouse("select series_count, metrics -> 'shards' from marts.forecast_runs "
                                     "order by generated_at desc limit 1")
    assert len(staged) == 2 and sum(shard["series"] for shard in staged) == series, staged
    # one task per dbt model, seed and snapshot, as in the manifest
    assert {"transform.stg_erp__stock_movements", "transform.fct_reorder_points",
            "publish_forecasts.fct_forecasts"} <= set(states)
    assert all(state == "success" for state in states.values()), states
    ui.first_run = run_id, ui.task_instances(run_id)

    # the run report is the run's note and a file under $NOVA_HOME/reports
    assert run["note"].startswith("Run report: **SUCCESS**"), run["note"]
    report = Path(re.search(r"Full report: `([^`]+)`", run["note"])[1])
    assert report.parent == ui.home / "reports" and report.read_text().startswith(f"# {DAG_ID}: SUCCESS")
    page.goto(f"{ui.base}/dags/{DAG_ID}/runs/{run_id}")
    page.get_by_text("Run report:").first.wait_for()
    screenshot(page, "03_run_with_report_note")

    # every critical stock alert of the marts (at least the material-site run out of stock) was notified,
    # once: by the first run that found it, not again by the next
    critical = ui.warehouse("select material_id, site_id from marts.fct_stock_alerts where alert_severity = 'critical'")
    assert critical, "the material-site run out of stock is not a critical stock alert"
    stock_mails = [m for m in ui.smtp.messages if "critical stock alert" in m["subject"]]
    assert len(stock_mails) == 1, [m["subject"] for m in stock_mails]
    assert "out of stock now" in stock_mails[0]["body"]
    for material_id, site_id in critical:
        assert re.search(rf"{re.escape(material_id)} \(.*?\) at site {re.escape(site_id)} ", stock_mails[0]["body"])


def test_clearing_one_model_task_rebuilds_that_model_alone(ui: Ui):
    assert ui.first_run is not None, "the first run did not succeed"
    run_id, before = ui.first_run
    [(sites,)] = ui.warehouse("select count(*) from marts.dim_site")
    with psycopg2.connect(ui.pg.dsn(ui.pg.warehouse_db)) as conn, conn.cursor() as cur:
        cur.execute("truncate marts.dim_site")  # damage one model's table, as a bad manual fix would
    conn.close()
    ui.api(f"/api/v2/dags/{DAG_ID}/clearTaskInstances", {
        "dry_run": False, "dag_run_id": run_id, "task_ids": ["transform.dim_site"], "only_failed": False,
        "include_upstream": False, "include_downstream": False, "reset_dag_runs": True}, "POST")
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        time.sleep(5)
        ti = ui.api(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/transform.dim_site")
        if ti["state"] in ("success", "failed") and ti["try_number"] > before["transform.dim_site"]["try_number"]:
            break
    assert ti["state"] == "success", ti
    assert ui.warehouse("select count(*) from marts.dim_site") == [(sites,)]  # the model was rebuilt
    assert "re-running dim_site on its own" in ui.task_log(run_id, "transform.dim_site", ti["try_number"])
    ui.wait_for_run(run_id)
    after = ui.task_instances(run_id)
    # nothing else ran again: not the group's dbt build, not the other models
    rerun = sorted(task_id for task_id, t in after.items() if t["try_number"] != before[task_id]["try_number"])
    assert rerun == ["transform.dim_site"]


def test_dbt_docs_from_the_browse_menu_show_fct_reorder_points_and_its_lineage(ui: Ui):
    page = ui.page
    page.goto(f"{ui.base}/dags/{DAG_ID}")
    with page.context.expect_page() as opened:
        ui.open_from_browse_menu("dbt Docs")
    docs = opened.value
    docs.set_default_timeout(60_000)
    assert docs.url.startswith(f"{ui.base}/nova/dbt_docs/index.html")
    # the docs app has loaded the manifest once the sidebar's project tree shows the project ("Projects"
    # is in the static template: a search typed before the manifest is loaded finds nothing, on a slow machine)
    docs.locator(".filename", has_text="nova_corrente").first.wait_for()
    docs.locator("input[placeholder*='Search']").first.fill("fct_reorder_points")
    docs.locator(".search-result h4").filter(has_text=re.compile(r"^\s*fct_reorder_points\s+model\s*$")).first.click()
    docs.wait_for_url(re.compile(r".*#!/model/model\.nova_corrente\.fct_reorder_points$"))
    docs.get_by_role("heading", name=re.compile("fct_reorder_points")).first.wait_for()

    # its lineage, as the manifest the DAG runs from has it: parents under Depends On, children under Referenced By
    url = f"{ui.base}/nova/dbt_docs/manifest.json"
    with pytest.raises(urllib.error.HTTPError) as refused:  # logged-in users only
        urllib.request.urlopen(url, timeout=60)
    assert refused.value.code == 401
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {ui.token}"})
    manifest = json.loads(urllib.request.urlopen(request, timeout=60).read())
    node = "model.nova_corrente.fct_reorder_points"
    parents = {p.split(".")[-1] for p in manifest["parent_map"][node] if p.startswith("model.")}
    children = {c.split(".")[-1] for c in manifest["child_map"][node] if c.startswith("model.")}
    assert parents and children
    body = docs.locator("body").inner_text()
    sections = body[body.index("Referenced By\nModels"):]  # the sections, after the tabs of the same names
    referenced_by = sections[:sections.index("Depends On\n")]
    depends_on = sections[sections.index("Depends On\n"):sections.index("\nCode\n")]
    assert all(child in referenced_by for child in children), (children, referenced_by)
    assert all(parent in depends_on for parent in parents), (parents, depends_on)
    screenshot(docs, "04_dbt_docs_fct_reorder_points")
    docs.locator("a[title='View Lineage Graph']").click()
    docs.get_by_text("Lineage Graph", exact=True).wait_for()
    docs.locator("canvas").first.wait_for()
    time.sleep(2)  # the graph lays itself out before the screenshot
    screenshot(docs, "05_dbt_docs_lineage")
    docs.close()


def _run_probe(ui: Ui, logical: datetime) -> tuple[str, str, dict[str, str]]:
    run = ui.api(f"/api/v2/dags/{PROBE_DAG_ID}/dagRuns", {"logical_date": logical.isoformat()}, "POST")
    deadline = time.monotonic() + 600
    state = run["state"]
    while time.monotonic() < deadline and state not in ("success", "failed"):
        time.sleep(5)
        state = ui.api(f"/api/v2/dags/{PROBE_DAG_ID}/dagRuns/{run['dag_run_id']}")["state"]
    return run["dag_run_id"], state, ui.task_states(run["dag_run_id"], PROBE_DAG_ID)


def test_a_failing_dbt_test_fails_its_model_task_and_stops_everything_downstream(ui: Ui):
    ui.api(f"/api/v2/dags/{PROBE_DAG_ID}", {"is_paused": False}, "PATCH")
    run_id, state, states = _run_probe(ui, datetime(2026, 1, 2, tzinfo=UTC))
    assert state == "success", states
    assert "PASS accepted_values_first_status" in ui.task_log(run_id, "probe.first", 1, PROBE_DAG_ID)
    built = ui.warehouse("select built_at from public_probe.third")

    with psycopg2.connect(ui.pg.dsn(ui.pg.warehouse_db)) as conn, conn.cursor() as cur:
        cur.execute("update probe_src.flags set status = 'broken'")  # the test on `first` now fails
    conn.close()
    run_id, state, states = _run_probe(ui, datetime(2026, 1, 3, tzinfo=UTC))
    assert state == "failed"
    assert states == {"probe.dbt_build": "success", "probe.first": "failed", "probe.second": "upstream_failed",
                      "probe.third": "upstream_failed"}
    log = ui.task_log(run_id, "probe.first", 1, PROBE_DAG_ID)
    assert "FAIL 1 accepted_values_first_status" in log and "nothing downstream of it runs" in log
    assert ui.warehouse("select built_at from public_probe.third") == built  # dbt did not rebuild downstream


BAD_ROWS = 6  # more than the gate's floor of 5 bad rows, all of the batch: held back whole


def _bad_consumptions(ui: Ui) -> datetime:
    """The ERP records six impossible consumptions (-40) now, on its best-stocked material-sites; returns when."""
    now = datetime.now(UTC)
    with psycopg2.connect(ui.pg.dsn(ui.pg.erp_db)) as conn, conn.cursor() as cur:
        cur.execute(
            "insert into erp.stock_movements (movement_id, material_id, site_id, movement_type, movement_date, "
            "quantity, purchase_order_id, created_at, updated_at) "
            "select (select max(movement_id) from erp.stock_movements) + row_number() over (), material_id, site_id, "
            "'consumption', %s, -40, null, %s, %s from (select * from erp.stock_on_hand "
            "order by quantity_on_hand desc, material_id, site_id limit %s) as best_stocked",
            (now.date(), now, now, BAD_ROWS),
        )
        assert cur.rowcount == BAD_ROWS
    conn.close()
    return now


def test_a_bad_batch_is_held_back_alerted_and_shown_on_the_data_quality_page(ui: Ui):
    recorded_at = _bad_consumptions(ui)
    # a run over the data since the last passed batches, up to now (the scheduler never starts a run
    # whose logical date is in the future, so the interval is given explicitly, as the trigger form allows)
    [(watermark,)] = ui.warehouse("select max(watermark_to) from audit.load_batches where status = 'passed'")
    now = datetime.now(UTC)
    assert watermark <= recorded_at < now
    run = ui.api(f"/api/v2/dags/{DAG_ID}/dagRuns", {
        "dag_run_id": "bad_batch", "logical_date": now.isoformat(),
        "data_interval_start": watermark.isoformat(), "data_interval_end": now.isoformat(),
    }, "POST")
    run = ui.wait_for_run(run["dag_run_id"])
    states = ui.task_states("bad_batch")
    # the gate holds the batch back and the good data goes on; the reconciliation gate fails the run
    assert run["state"] == "failed" and states["gate_raw"] == "success" and states["gate_reconciliation"] == "failed", states
    [(batch_id, reason)] = ui.warehouse("select batch_id, failure_reason from audit.load_batches "
                                        "where status = 'rejected' and source = 'erp.stock_movements'")
    rule = re.search(rf"rule '([^']+)' \(quantity\) failed on {BAD_ROWS} of {BAD_ROWS} rows", reason)[1]
    assert reason.startswith(f"held back whole: {BAD_ROWS} of {BAD_ROWS} rows")

    # the alert: suite, rule, sample bad values, the batch held back
    mail = ui.smtp.wait_for(lambda m: "held back" in m["subject"], timeout=120)
    assert mail["subject"].startswith(f"[Nova Corrente] {DAG_ID}: raw quality gate held back 1 batch")
    assert f"Held back: {batch_id} ({BAD_ROWS} rows)" in mail["body"] and "-40" in mail["body"]
    chat = ui.webhook.wait_for(lambda text: "held back" in text, timeout=60)
    assert f"suite raw_erp_stock_movements: rule '{rule}' (quantity) failed on {BAD_ROWS} of {BAD_ROWS} rows" in chat
    assert "sample bad values: [" in chat and "-40" in chat
    assert run["note"].startswith("Run report: **FAILED**") and "`erp.stock_movements`" in run["note"]
    assert "`gate_reconciliation`" in run["note"]

    # the data-quality page, from the UI menu
    page = ui.page
    page.goto(f"{ui.base}/dags/{DAG_ID}")
    ui.open_from_browse_menu("Data quality")
    frame = page.frame_locator("iframe[title='Data quality']")
    failure = frame.locator(f".rejection tr.failure[data-batch='{batch_id}']")
    failure.wait_for()
    text = failure.inner_text()
    assert "raw_erp_stock_movements" in text and rule in text and "-40" in text
    assert "held back whole" in frame.locator(".rejection").first.inner_text()
    screenshot(page, "06_data_quality_held_back")


def test_a_run_late_for_its_deadline_raises_the_deadline_alert(ui: Ui):
    # created long after 07:30 Bahia of the morning after its interval: the deadline is already missed
    run = ui.api(f"/api/v2/dags/{DAG_ID}/dagRuns",
                 {"logical_date": "2026-03-01T09:00:00Z", "dag_run_id": "late_run"}, "POST")
    try:
        mail = ui.smtp.wait_for(lambda m: "late_run" in m["body"] and "deadline" in m["subject"], timeout=300)
        assert mail["subject"] == f"[Nova Corrente] {DAG_ID}: run not successful by its deadline (2026-03-02 07:30 America/Bahia)"
        assert "late_run" in ui.webhook.wait_for(lambda text: "late_run" in text, timeout=60)
    finally:  # the alert is what this test is about: the run itself need not go on
        ui.api(f"/api/v2/dags/{DAG_ID}/dagRuns/{run['dag_run_id']}?update_mask=state", {"state": "failed"}, "PATCH")


def test_every_browser_request_stayed_on_127_0_0_1(ui: Ui):
    assert len(ui.requests) > 20
    assert foreign_requests(ui.requests) == []
