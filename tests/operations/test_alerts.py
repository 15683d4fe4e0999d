"""Alerts: messages, configuration, and delivery through Airflow's notifiers to real local receivers."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace

import psycopg2
import pytest
from alert_receivers import SmtpReceiver, WebhookReceiver, alert_env

from nova_corrente.extract.warehouse_setup import ensure_warehouse_schemas
from nova_corrente.operations import airflow_callbacks, alerts, daily_tasks
from nova_corrente.operations.quality_history import Batch, QuarantineGroup

ENV_KEYS = ("AIRFLOW_CONN_NOVA_ALERTS_SMTP", "NOVA_ALERT_EMAIL_TO", "AIRFLOW_CONN_NOVA_ALERTS_SLACK",
            "AIRFLOW__API__BASE_URL")


@pytest.fixture
def receivers(monkeypatch):
    with SmtpReceiver() as smtp, WebhookReceiver() as webhook:
        for key, value in alert_env(smtp, webhook).items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://127.0.0.1:8080")
        yield smtp, webhook


@pytest.fixture
def no_channels(monkeypatch):
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)


def _rejected(batch_id: str, rows: int, reason: str) -> Batch:
    end = datetime(2026, 3, 2, 9, tzinfo=UTC)
    return Batch(batch_id, batch_id.split("|")[0], end - timedelta(days=1), end, rows, "rejected", end, end, reason)


# the gate's wording (nova_corrente.quality.gates): a verdict, then the rules it rests on
MOVEMENTS_REASON = (
    "held back whole: 7 of 12 rows (58.3%) broke row rules, more than 1.0% and more than 5 rows: "
    "rule 'quantity > 0 except for adjustments' (quantity) failed on 7 of 12 rows, sample: [-40]"
)


def test_the_deadline_follows_the_schedule():
    # daily at 06:00, deadline 07:30 Bahia: logical date (yesterday 06:00) + 1 day 1:30
    assert alerts.deadline_after_logical_date(time(6), time(7, 30)) == timedelta(days=1, hours=1, minutes=30)
    # a deadline earlier in the day than the schedule falls on the next morning
    assert alerts.deadline_after_logical_date(time(6), time(5)) == timedelta(days=1, hours=23)
    assert alerts.deadline_time({}) == time(7, 30)
    assert alerts.deadline_time({"NOVA_ALERT_DEADLINE": "08:15"}) == time(8, 15)
    assert alerts.deadline_time({"NOVA_ALERT_DEADLINE": "off"}) is None
    with pytest.raises(ValueError, match="NOVA_ALERT_DEADLINE='7h30'"):
        alerts.deadline_time({"NOVA_ALERT_DEADLINE": "7h30"})


def test_channels_come_from_the_environment_and_half_configurations_are_named():
    assert not alerts.configured_channels({}).any
    smtp_only = alerts.configured_channels({"AIRFLOW_CONN_NOVA_ALERTS_SMTP": "smtp://x"})
    assert not smtp_only.email and "NOVA_ALERT_EMAIL_TO is not" in smtp_only.problems[0]
    to_only = alerts.configured_channels({"NOVA_ALERT_EMAIL_TO": "a@x"})
    assert not to_only.email and "AIRFLOW_CONN_NOVA_ALERTS_SMTP is not" in to_only.problems[0]
    both = alerts.configured_channels({"AIRFLOW_CONN_NOVA_ALERTS_SMTP": "smtp://x", "NOVA_ALERT_EMAIL_TO": "a@x, b@y",
                                       "AIRFLOW_CONN_NOVA_ALERTS_SLACK": "{}"})
    assert both.email_to == ("a@x", "b@y") and both.slack and not both.problems


def test_gate_alert_names_suite_rule_sample_and_the_batches_held_back():
    held = [_rejected("erp.stock_movements|2026-03-02T09:00:00+00:00", 12, MOVEMENTS_REASON)]
    quarantined = [
        QuarantineGroup("erp.stock_movements|2026-03-02T09:00:00+00:00", "erp.stock_movements", "quantity > 0", "quantity",
                        7, ["-40"], "r", datetime(2026, 3, 2, tzinfo=UTC)),  # the held-back batch's own rows
        QuarantineGroup("file:weather/w.csv|ab", "file:weather/w.csv", "temperature_c between -10 and 50",
                        "temperature_c", 2, ["71.5", "99"], "r", datetime(2026, 3, 2, tzinfo=UTC)),
    ]
    alert = alerts.gate_rejected("nova_corrente_daily", "scheduled__2026-03-01", held, url="http://ui/run",
                                 quarantined=quarantined)
    assert alert.title == "nova_corrente_daily: raw quality gate held back 1 batch and quarantined 2 rows"
    assert alert.lines == (
        "Held back: erp.stock_movements|2026-03-02T09:00:00+00:00 (12 rows): held back whole: 7 of 12 rows (58.3%) "
        "broke row rules, more than 1.0% and more than 5 rows",
        "  suite raw_erp_stock_movements: rule 'quantity > 0 except for adjustments' (quantity) failed on 7 of 12 rows; "
        "sample bad values: [-40]",
        "Quarantined: 2 rows of file:weather/w.csv|ab, rule 'temperature_c between -10 and 50' (temperature_c); "
        "sample bad values: 71.5, 99",
        "Held back whole: 1 batch, 12 rows; the marts keep their previous content for those sources.",
        "Quarantined rows are in audit.quarantined_rows; the rest of their batches went on.",
        "DAG run: scheduled__2026-03-01. Fix the source; the next run picks the corrected rows up.",
    )
    assert "<li>" in alert.html() and "Open in Airflow" in alert.html()


def test_critical_stock_alert_lists_material_site_and_stockout_date():
    alert = alerts.critical_stock([
        alerts.CriticalStockAlert("MAT-1", "Battery 48V", "SITE-9", "Feira de Santana", 3, date(2026, 3, 5), 3, 20),
        alerts.CriticalStockAlert("MAT-2", None, "SITE-1", None, 0, None, None, 4),
    ])
    assert alert.title == "2 new critical stock alerts"
    assert alert.lines == (
        "MAT-1 (Battery 48V) at site SITE-9 (Feira de Santana): projected stockout 2026-03-05, in 3 days "
        "(on hand 3, order 20)",
        "MAT-2 at site SITE-1: out of stock now (on hand 0, order 4)",
    )


def test_an_alert_arrives_by_email_and_webhook(receivers):
    smtp, webhook = receivers
    alert = alerts.critical_stock([
        alerts.CriticalStockAlert("MAT-1", "Battery {{ 48V }}", "SITE-9", "Ilhéus", 3, date(2026, 3, 5), 3, 20)])

    assert alerts.deliver(alert) == ["email", "slack"]

    mail = smtp.wait_for(lambda m: "critical stock" in m["subject"], timeout=10)
    assert mail["subject"] == "[Nova Corrente] 1 new critical stock alert"
    assert mail["to"] == ["oncall@nova-corrente.test"] and mail["from"] == "airflow@nova-corrente.test"
    # sent as written: the braces in a value are not rendered as a template
    assert "MAT-1 (Battery {{ 48V }}) at site SITE-9 (Ilhéus): projected stockout 2026-03-05" in mail["body"]
    text = webhook.wait_for(lambda t: "critical stock" in t, timeout=10)
    assert text.startswith("*[Nova Corrente] 1 new critical stock alert*\nMAT-1 (Battery {{ 48V }})")
    assert webhook.posts[0]["path"] == "/services/T000/B000/nova"


def test_unconfigured_alerts_are_a_log_line_and_nothing_is_sent(no_channels, caplog):
    caplog.set_level(logging.WARNING, logger="nova_corrente.operations.alerts")
    alert = alerts.deadline_missed("nova_corrente_daily", "scheduled__x", "running", "2026-03-02T10:30+00:00")
    assert alerts.deliver(alert) == []
    assert "alert not sent (no channel configured" in caplog.text
    assert "run not successful by its deadline" in caplog.text


def test_a_broken_channel_does_not_silence_the_other(receivers, monkeypatch):
    smtp, webhook = receivers
    closed = json.loads(smtp.connection())
    closed["port"] = 1  # nothing listens there
    monkeypatch.setenv("AIRFLOW_CONN_NOVA_ALERTS_SMTP", json.dumps(closed))
    with pytest.raises(alerts.AlertDeliveryError, match="email"):
        alerts.deliver(alerts.task_failed("d", "t", "r", 3, "boom"))
    assert webhook.wait_for(lambda t: "task t failed after 3 tries" in t, timeout=10)


def test_task_failure_callback_sends_the_error(receivers):
    smtp, webhook = receivers
    ti = SimpleNamespace(dag_id="nova_corrente_daily", task_id="forecast", run_id="manual__2026-03-02", try_number=3)
    airflow_callbacks.on_task_failure({"ti": ti, "exception": RuntimeError("statsforecast ran out of memory")})

    mail = smtp.wait_for(lambda m: "forecast failed" in m["subject"], timeout=10)
    assert mail["subject"] == "[Nova Corrente] nova_corrente_daily: task forecast failed after 3 tries"
    assert "Error: RuntimeError: statsforecast ran out of memory" in mail["body"]
    assert "http://127.0.0.1:8080/dags/nova_corrente_daily/runs/manual__2026-03-02/tasks/forecast" in mail["body"]
    assert "DAG run: manual__2026-03-02" in webhook.wait_for(lambda t: "forecast failed" in t, timeout=10)


def test_held_back_batches_of_the_run_are_alerted_and_a_clean_run_is_not(receivers, pg):
    smtp, webhook = receivers
    ensure_warehouse_schemas(pg)
    end = datetime(2026, 3, 2, 9, tzinfo=UTC)
    ids = [f"erp.stock_movements|{end.isoformat()}", f"erp.materials|{end.isoformat()}"]
    with psycopg2.connect(pg.dsn(pg.warehouse_db)) as conn, conn.cursor() as cur:
        for batch_id, rows, status, reason in ((ids[0], 12, "rejected", MOVEMENTS_REASON), (ids[1], 3, "passed", None)):
            cur.execute("insert into audit.load_batches (batch_id, source, interval_start, interval_end, row_count, "
                        "status, failure_reason) values (%s, %s, %s, %s, %s, %s, %s)",
                        (batch_id, batch_id.split("|")[0], end - timedelta(days=1), end, rows, status, reason))
    conn.close()

    assert daily_tasks.alert_held_back_batches(pg, [ids[1]], "clean_run") == {"held_back": [], "quarantined_rows": 0}
    result = daily_tasks.alert_held_back_batches(pg, ids, "scheduled__2026-03-01")
    assert result == {"held_back": [ids[0]], "quarantined_rows": 0}

    mail = smtp.wait_for(lambda m: "held back" in m["subject"], timeout=10)
    assert mail["subject"] == "[Nova Corrente] nova_corrente_daily: raw quality gate held back 1 batch"
    assert "rule &#x27;quantity &gt; 0 except for adjustments&#x27; (quantity) failed on 7 of 12 rows" in mail["body"]
    assert "sample bad values: [-40]" in mail["body"] and f"Held back: {ids[0]} (12 rows)" in mail["body"]
    assert "suite raw_erp_stock_movements" in webhook.wait_for(lambda t: "held back" in t, timeout=10)
    assert len(smtp.messages) == 1  # the clean run sent nothing


def test_deadline_callback_runs_on_an_event_loop(receivers):
    smtp, webhook = receivers
    context = {"dag_run": {"dag_id": "nova_corrente_daily", "dag_run_id": "scheduled__2026-03-01T09:00:00+00:00",
                           "state": "running"},
               "deadline": {"id": "x", "deadline_time": "2026-03-02T10:30:00+00:00"}}
    sent = asyncio.run(airflow_callbacks.on_deadline_missed(context=context))
    assert sent == ["email", "slack"]
    mail = smtp.wait_for(lambda m: "deadline" in m["subject"], timeout=10)
    assert mail["subject"] == ("[Nova Corrente] nova_corrente_daily: run not successful by its deadline "
                               "(2026-03-02 07:30 America/Bahia)")
    assert "State at the deadline: running" in mail["body"]
    assert "scheduled__2026-03-01T09%3A00%3A00%2B00%3A00" in webhook.wait_for(lambda t: "deadline" in t, timeout=10)
