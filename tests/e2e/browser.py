"""Debian's chromium driven by Playwright (from PyPI; no browser download), for the browser tests.

``launch()`` starts ``$NOVA_CHROMIUM`` (default ``/usr/bin/chromium``) headless with flags that stop
it from calling home; a missing chromium fails the test with how to install it (``make test``
installs it when it runs as root with apt). Every request the pages make is recorded, so a test can
assert that all of them stayed on 127.0.0.1. Screenshots go to ``test-artifacts/screenshots``
(git-ignored).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from nova_corrente.settings import REPO_ROOT

CHROMIUM = Path(os.environ.get("NOVA_CHROMIUM", "/usr/bin/chromium"))
LAUNCH_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync",
]
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
LOCAL_SCHEMES = {"data", "blob", "about", "chrome-error"}


def require_chromium() -> Path:
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"the browser tests need Debian's chromium at {CHROMIUM} and it is missing: run `make test` as root "
            "(it installs it with apt-get), or `sudo apt-get install -y chromium`, or set NOVA_CHROMIUM",
            pytrace=False,
        )
    return CHROMIUM


def foreign_requests(urls: list[str]) -> list[str]:
    """The requests that left 127.0.0.1."""
    foreign = []
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme in LOCAL_SCHEMES:
            continue
        if parts.hostname != "127.0.0.1":
            foreign.append(url)
    return foreign


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
