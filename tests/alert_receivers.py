"""Real local receivers for the alerts: an SMTP server (aiosmtpd) and an HTTP webhook server.

Both listen on 127.0.0.1 on a free port and keep what arrived; ``env()`` gives the environment that
points the platform's alert channels at them (the way a user configures real ones).
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(items: list, predicate: Callable[[Any], bool], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for item in list(items):
            if predicate(item):
                return item
        time.sleep(0.2)
    raise AssertionError(f"no {what} matching arrived within {timeout:.0f}s; got: {items!r}"[:4000])


class _SmtpHandler:
    def __init__(self, store: list) -> None:
        self.store = store

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = message.get_body(preferencelist=("html", "plain"))
        self.store.append({
            "from": envelope.mail_from, "to": list(envelope.rcpt_tos), "subject": str(message["subject"]),
            "body": body.get_content() if body else "",
        })
        return "250 OK"


class SmtpReceiver:
    """``with SmtpReceiver() as smtp: ... smtp.messages``."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.port = free_port()
        self._controller = Controller(_SmtpHandler(self.messages), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpReceiver:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()

    def connection(self) -> str:
        return json.dumps({
            "conn_type": "smtp", "host": "127.0.0.1", "port": self.port,
            "extra": {"from_email": "airflow@nova-corrente.test", "disable_ssl": True, "disable_tls": True,
                      "retry_limit": 0, "timeout": 10},
        })

    def wait_for(self, predicate: Callable[[dict], bool], timeout: float = 60) -> dict:
        return _wait(self.messages, predicate, timeout, "e-mail")


class WebhookReceiver:
    """An HTTP server recording every POST (path, JSON body); answers ``ok`` like Slack."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        posts = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's hook name
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length).decode()
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw
                posts.append({"path": self.path, "body": body})
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):  # keep test output quiet
                pass

        self.port = free_port()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/services/T000/B000/nova"

    def connection(self) -> str:
        return json.dumps({"conn_type": "slackwebhook", "password": self.url})

    def texts(self) -> list[str]:
        return [post["body"].get("text", "") if isinstance(post["body"], dict) else str(post["body"]) for post in self.posts]

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 60) -> str:
        texts = self.texts
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for text in texts():
                if predicate(text):
                    return text
            time.sleep(0.2)
        raise AssertionError(f"no webhook post matching arrived within {timeout:.0f}s; got: {texts()!r}"[:4000])


def alert_env(smtp: SmtpReceiver, webhook: WebhookReceiver, to: str = "oncall@nova-corrente.test") -> dict[str, str]:
    """The environment that sends the platform's alerts to these receivers."""
    return {
        "AIRFLOW_CONN_NOVA_ALERTS_SMTP": smtp.connection(),
        "NOVA_ALERT_EMAIL_TO": to,
        "AIRFLOW_CONN_NOVA_ALERTS_SLACK": webhook.connection(),
    }
