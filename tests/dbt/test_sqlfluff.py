"""The dbt SQL passes sqlfluff with the project's configuration (dbt_project/.sqlfluff).

Runs the same command as `make lint` and the README (models plus the singular tests), offline: the
jinja templater renders with dbt builtins and the project's macros, so no database is needed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from nova_corrente.settings import REPO_ROOT


def test_sqlfluff_lint_passes():
    sqlfluff = Path(sys.executable).with_name("sqlfluff")
    result = subprocess.run(
        [str(sqlfluff), "lint", "dbt_project/models", "dbt_project/tests", "--processes", "0",
         "--disable-progress-bar"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, f"sqlfluff lint failed ({result.returncode}):\n{result.stdout[-6000:]}{result.stderr[-2000:]}"
