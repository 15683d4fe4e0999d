"""The Python passes ruff with the project's configuration (pyproject.toml: pycodestyle, pyflakes,
isort, bugbear, pyupgrade and Airflow's AIR rules) — the same command as `make lint`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from nova_corrente.settings import REPO_ROOT


def test_ruff_check_passes():
    ruff = Path(sys.executable).with_name("ruff")
    result = subprocess.run([str(ruff), "check", "--output-format", "concise", "."],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"ruff check failed ({result.returncode}):\n{result.stdout[-6000:]}{result.stderr[-2000:]}"


def test_ruff_selects_the_airflow_rules():
    """AIR must stay selected: it flags Airflow 2 APIs that Airflow 3 removed."""
    ruff = Path(sys.executable).with_name("ruff")
    result = subprocess.run([str(ruff), "check", "--show-settings", "dags/nova_corrente_daily.py"],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "airflow" in result.stdout.lower() and "AIR301" in result.stdout, result.stdout[-3000:]
