"""Alerts to the on-call data engineer, sent through Airflow's notifiers.

Two channels, both Airflow providers from the registry:

* e-mail: ``SmtpNotifier`` (``apache-airflow-providers-smtp``; Airflow itself already depends on it);
* chat: ``SlackWebhookNotifier`` (``apache-airflow-providers-slack``): a Slack incoming webhook; the
  same JSON (``{"text": ...}``) is accepted by Mattermost and Rocket.Chat incoming webhooks.

Why these and not apprise: e-mail reaches everyone on call without a new service, the SMTP provider
costs no new dependency, and an incoming webhook is what chat tools offer; apprise would add its own
URL syntax (and dependencies) in front of the same two protocols.

Configuration, from the environment only (nothing configured = one log line per alert, nothing sent):

``AIRFLOW_CONN_NOVA_ALERTS_SMTP``   the SMTP server, as an Airflow connection in URI or JSON form,
                                    e.g. ``smtp://user:password@smtp.example.com:587?from_email=airflow%40example.com``
``NOVA_ALERT_EMAIL_TO``             comma-separated recipients (needed with the SMTP connection)
``AIRFLOW_CONN_NOVA_ALERTS_SLACK``  the incoming webhook: ``{"conn_type": "slackwebhook", "password": "https://hooks.slack.com/services/T/B/X"}``
``NOVA_ALERT_DEADLINE``             ``HH:MM`` (America/Bahia) by which the daily run must have succeeded;
                                    default ``07:30``; ``off`` disables the deadline alert

The messages are built by small pure functions (``task_failed``, ``gate_rejected``,
``deadline_missed``, ``critical_stock``); ``deliver`` sends one to every configured channel.
"""

from __future__ import annotations

import asyncio
import html
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

log = logging.getLogger(__name__)

SMTP_CONN_ID = "nova_alerts_smtp"
SLACK_CONN_ID = "nova_alerts_slack"
EMAIL_TO_VARIABLE = "NOVA_ALERT_EMAIL_TO"
DEADLINE_VARIABLE = "NOVA_ALERT_DEADLINE"
DEFAULT_DEADLINE = "07:30"
DEADLINE_TIMEZONE = "America/Bahia"
SUBJECT_PREFIX = "[Nova Corrente]"

AlertKind = Literal["task_failed", "gate_rejected", "deadline_missed", "critical_stock"]


def _conn_variable(conn_id: str) -> str:
    return f"AIRFLOW_CONN_{conn_id.upper()}"


class AlertDeliveryError(RuntimeError):
    """At least one configured channel could not deliver the alert (the others were still tried)."""


@dataclass(frozen=True)
class Alert:
    """What happened (title), the facts (lines) and where to look (url)."""

    kind: AlertKind
    title: str
    lines: tuple[str, ...]
    url: str | None = None

    @property
    def subject(self) -> str:
        return f"{SUBJECT_PREFIX} {self.title}"

    def text(self) -> str:
        """Plain text (Slack mrkdwn-safe): title, facts, link."""
        body = [f"*{self.subject}*", *self.lines]
        if self.url:
            body.append(f"Open: {self.url}")
        return "\n".join(body)

    def html(self) -> str:
        """The e-mail body."""
        items = "".join(f"<li>{html.escape(line)}</li>" for line in self.lines)
        link = f'<p><a href="{html.escape(self.url, quote=True)}">Open in Airflow</a></p>' if self.url else ""
        return f"<h3>{html.escape(self.title)}</h3><ul>{items}</ul>{link}"


# --------------------------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Channels:
    """Which channels the environment configures, and what is half-configured."""

    email_to: tuple[str, ...]
    slack: bool
    problems: tuple[str, ...] = ()

    @property
    def email(self) -> bool:
        return bool(self.email_to)

    @property
    def any(self) -> bool:
        return self.email or self.slack

    def describe(self) -> str:
        names = ([f"e-mail to {', '.join(self.email_to)}"] if self.email else []) + (["Slack webhook"] if self.slack else [])
        return ", ".join(names) or "none"


def configured_channels(env: Mapping[str, str] | None = None) -> Channels:
    """Read the channels from the environment (see the module docstring)."""
    env = os.environ if env is None else env
    recipients = tuple(a.strip() for a in env.get(EMAIL_TO_VARIABLE, "").split(",") if a.strip())
    has_smtp = bool(env.get(_conn_variable(SMTP_CONN_ID), "").strip())
    problems = []
    if recipients and not has_smtp:
        problems.append(f"{EMAIL_TO_VARIABLE} is set but {_conn_variable(SMTP_CONN_ID)} is not: no e-mail sent")
    if has_smtp and not recipients:
        problems.append(f"{_conn_variable(SMTP_CONN_ID)} is set but {EMAIL_TO_VARIABLE} is not: no e-mail sent")
    return Channels(
        email_to=recipients if has_smtp else (),
        slack=bool(env.get(_conn_variable(SLACK_CONN_ID), "").strip()),
        problems=tuple(problems),
    )


def deadline_time(env: Mapping[str, str] | None = None) -> time | None:
    """``NOVA_ALERT_DEADLINE`` as a time of day in Bahia (default 07:30); None when ``off``."""
    raw = (os.environ if env is None else env).get(DEADLINE_VARIABLE, DEFAULT_DEADLINE).strip()
    if raw.lower() in {"off", "none", ""}:
        return None
    try:
        hours, minutes = (int(part) for part in raw.split(":"))
        return time(hours, minutes)
    except ValueError:
        raise ValueError(f"{DEADLINE_VARIABLE}={raw!r}: expected HH:MM (America/Bahia) or 'off'") from None


def deadline_after_logical_date(schedule: time, deadline: time, interval: timedelta = timedelta(days=1)) -> timedelta:
    """How long after a scheduled run's logical date its deadline falls.

    A daily run's logical date is the start of its data interval (yesterday at ``schedule``); it
    starts at the interval's end (today at ``schedule``). The deadline is the first ``deadline`` at
    or after that start: e.g. schedule 06:00, deadline 07:30 -> 1 day 1 h 30 min.
    """
    delta = (datetime.combine(date.min, deadline) - datetime.combine(date.min, schedule)) % timedelta(days=1)
    return interval + delta


# --------------------------------------------------------------------------------------------
# messages (pure)
# --------------------------------------------------------------------------------------------


def ui_url(path: str, env: Mapping[str, str] | None = None) -> str | None:
    """A link into the Airflow UI (``AIRFLOW__API__BASE_URL``), or None when it is not known."""
    base = (os.environ if env is None else env).get("AIRFLOW__API__BASE_URL", "").rstrip("/")
    return f"{base}/{path.lstrip('/')}" if base else None


def run_path(dag_id: str, run_id: str) -> str:
    return f"dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"


def task_failed(dag_id: str, task_id: str, run_id: str, tries: int, error: str, url: str | None = None) -> Alert:
    """A task failed for good (after its retries)."""
    first_lines = [line for line in error.strip().splitlines() if line.strip()][:6] or ["(no error message)"]
    return Alert(
        kind="task_failed",
        title=f"{dag_id}: task {task_id} failed after {_count(tries, 'try', 'tries')}",
        lines=(f"DAG run: {run_id}", *(f"Error: {line}" if i == 0 else f"  {line}" for i, line in enumerate(first_lines))),
        url=url,
    )


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n:,} {singular if n == 1 else plural or singular + 's'}"


def gate_rejected(dag_id: str, run_id: str, held_back: Sequence[Any], url: str | None = None,
                  quarantined: Sequence[Any] = ()) -> Alert:
    """The raw gate held batches back whole and/or quarantined rows: which rules failed, on what, what is held back.

    ``held_back``: ``quality_history.Batch`` records (status ``rejected``); ``quarantined``:
    ``quality_history.QuarantineGroup`` records of the run's batches.
    """
    lines = []
    for batch in held_back:
        lines.append(f"Held back: {batch.batch_id} ({_count(batch.row_count, 'row')})"
                     + (f": {batch.verdict}" if batch.verdict else ""))
        for failure in batch.failures:
            where = f"suite {failure.suite}: " if failure.suite else ""
            what = f"{failure.expectation}{failure.detail}" if failure.expectation else failure.detail
            sample = f"; sample bad values: {failure.sample}" if failure.sample else ""
            lines.append(f"  {where}{what}{sample}")
    held_ids = {batch.batch_id for batch in held_back}
    quarantine = [group for group in quarantined if group.batch_id not in held_ids]
    quarantined_rows = sum(group.rows for group in quarantine)
    for group in quarantine:
        column = f" ({group.column_name})" if group.column_name else ""
        lines.append(f"Quarantined: {_count(group.rows, 'row')} of {group.batch_id}, rule '{group.rule}'{column}; "
                     f"sample bad values: {', '.join(group.sample_values)}")
    if held_back:
        total_rows = sum(batch.row_count for batch in held_back)
        lines.append(f"Held back whole: {_count(len(held_back), 'batch', 'batches')}, {_count(total_rows, 'row')}; "
                     "the marts keep their previous content for those sources.")
    if quarantine:
        lines.append("Quarantined rows are in audit.quarantined_rows; the rest of their batches went on.")
    lines.append(f"DAG run: {run_id}. Fix the source; the next run picks the corrected rows up.")
    found = []
    if held_back:
        found.append(f"held back {_count(len(held_back), 'batch', 'batches')}")
    if quarantined_rows:
        found.append(f"quarantined {_count(quarantined_rows, 'row')}")
    return Alert(kind="gate_rejected", title=f"{dag_id}: raw quality gate {' and '.join(found) or 'found problems'}",
                 lines=tuple(lines), url=url)


def local_time(when: datetime | str) -> str:
    """``2026-03-02 07:30 America/Bahia`` for an aware datetime (or its ISO text); other text unchanged."""
    if isinstance(when, str):
        try:
            when = datetime.fromisoformat(when)
        except ValueError:
            return when
    if when.tzinfo is None:
        return when.isoformat(sep=" ", timespec="minutes")
    return f"{when.astimezone(ZoneInfo(DEADLINE_TIMEZONE)):%Y-%m-%d %H:%M} {DEADLINE_TIMEZONE}"


def deadline_missed(dag_id: str, run_id: str, state: str, deadline_at: datetime | str, url: str | None = None) -> Alert:
    """The daily run had not succeeded by its deadline."""
    when = local_time(deadline_at)
    return Alert(
        kind="deadline_missed",
        title=f"{dag_id}: run not successful by its deadline ({when})",
        lines=(f"DAG run: {run_id}", f"State at the deadline: {state}",
               "The reorder list of this morning is not ready: planners are looking at yesterday's."),
        url=url,
    )


@dataclass(frozen=True)
class CriticalStockAlert:
    """One row of ``marts.fct_stock_alerts`` with severity critical."""

    material_id: str
    material_name: str | None
    site_id: str
    city: str | None
    quantity_on_hand: float
    projected_stockout_date: date | None
    days_until_stockout: int | None
    suggested_order_quantity: float | None


def critical_stock(alerts: Sequence[CriticalStockAlert], url: str | None = None) -> Alert:
    """New critical stock alerts: material, site, projected stockout date."""
    lines = []
    for alert in alerts:
        material = f"{alert.material_id} ({alert.material_name})" if alert.material_name else alert.material_id
        site = f"{alert.site_id} ({alert.city})" if alert.city else alert.site_id
        if alert.quantity_on_hand <= 0:
            when = "out of stock now"
        elif alert.projected_stockout_date:
            days = f", in {alert.days_until_stockout} days" if alert.days_until_stockout is not None else ""
            when = f"projected stockout {alert.projected_stockout_date.isoformat()}{days}"
        else:
            when = "stockout within the lead time"
        order = (f", order {alert.suggested_order_quantity:g}" if alert.suggested_order_quantity else "")
        lines.append(f"{material} at site {site}: {when} (on hand {alert.quantity_on_hand:g}{order})")
    return Alert(kind="critical_stock",
                 title=f"{_count(len(alerts), 'new critical stock alert')}",
                 lines=tuple(lines), url=url)


# --------------------------------------------------------------------------------------------
# delivery
# --------------------------------------------------------------------------------------------


def _notifiers(alert: Alert, channels: Channels) -> list[tuple[str, Any]]:
    notifiers: list[tuple[str, Any]] = []
    if channels.email:
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        notifiers.append(("email", SmtpNotifier(to=list(channels.email_to), subject=alert.subject,
                                                html_content=alert.html(), smtp_conn_id=SMTP_CONN_ID)))
    if channels.slack:
        from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

        notifiers.append(("slack", SlackWebhookNotifier(slack_webhook_conn_id=SLACK_CONN_ID, text=alert.text(),
                                                        timeout=30)))
    return notifiers


def _skip(alert: Alert, channels: Channels) -> bool:
    for problem in channels.problems:
        log.warning("alerts: %s", problem)
    if not channels.any:
        log.warning("alert not sent (no channel configured; see nova_corrente/operations/alerts.py): %s | %s",
                    alert.subject, " | ".join(alert.lines))
        return True
    return False


def deliver(alert: Alert, context: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> list[str]:
    """Send ``alert`` to every configured channel; returns the channels that took it.

    ``notify`` is called directly (not the notifier's ``__call__``) so the message is sent as
    written: bad values such as ``{{`` in a sample are not rendered as Jinja templates.
    Raises ``AlertDeliveryError`` after trying every channel if one failed.
    """
    channels = configured_channels(env)
    if _skip(alert, channels):
        return []
    sent, errors = [], []
    for name, notifier in _notifiers(alert, channels):
        try:
            notifier.notify(dict(context or {}))
            sent.append(name)
        except Exception as exc:  # one broken channel must not silence the other
            log.exception("alert via %s failed: %s", name, alert.subject)
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
    log.info("alert sent via %s: %s", ", ".join(sent) or "nothing", alert.subject)
    if errors:
        raise AlertDeliveryError("; ".join(errors))
    return sent


async def deliver_async(alert: Alert, context: Mapping[str, Any] | None = None) -> list[str]:
    """``deliver`` for the triggerer's event loop (deadline callbacks): the blocking sends run in a thread."""
    return await asyncio.to_thread(deliver, alert, context)
