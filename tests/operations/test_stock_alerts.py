"""New critical stock alerts: notified once while they stay critical, again after they clear and return."""

from __future__ import annotations

import psycopg2
import pytest

from nova_corrente.operations.stock_alerts import notify_new_critical_alerts


def _set_severity(pg, material_id: str, severity: str) -> None:
    with psycopg2.connect(pg.dsn(pg.warehouse_db)) as conn, conn.cursor() as cur:
        cur.execute("update marts.fct_stock_alerts set alert_severity = %s where material_id = %s", (severity, material_id))
    conn.close()


def test_new_critical_alerts_are_sent_once_and_again_after_a_relapse(marts):
    sent: list[list[str]] = []

    def send(alerts):
        sent.append([f"{a.material_id}@{a.site_id} {a.projected_stockout_date} {a.material_name}/{a.city}" for a in alerts])

    first = notify_new_critical_alerts(marts, send, dag_run_id="run-1")
    assert [(a.material_id, a.site_id) for a in first] == [("MAT-1", "SITE-1")]
    assert sent == [["MAT-1@SITE-1 2026-03-03 Battery 48V 100Ah/Salvador"]]

    assert notify_new_critical_alerts(marts, send, dag_run_id="run-2") == []  # still critical: not news
    assert len(sent) == 1

    _set_severity(marts, "MAT-2", "critical")  # a second one turns critical
    assert [a.material_id for a in notify_new_critical_alerts(marts, send)] == ["MAT-2"]

    _set_severity(marts, "MAT-1", "warning")  # MAT-1 clears ...
    assert notify_new_critical_alerts(marts, send) == []
    _set_severity(marts, "MAT-1", "critical")  # ... and relapses: news again
    assert [a.material_id for a in notify_new_critical_alerts(marts, send)] == ["MAT-1"]
    assert len(sent) == 3


def test_a_failed_send_leaves_the_alert_new_for_the_retry(marts):
    def broken(alerts):
        raise ConnectionError("SMTP server down")

    with pytest.raises(ConnectionError):
        notify_new_critical_alerts(marts, broken)
    received = []
    retried = notify_new_critical_alerts(marts, received.extend)
    assert [a.material_id for a in retried] == ["MAT-1"] and len(received) == 1
