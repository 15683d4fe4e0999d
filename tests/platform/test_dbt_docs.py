"""`make docs`: the dbt docs site is one self-contained HTML file that works offline."""

import os
import re
import subprocess
import sys
from pathlib import Path

from nova_corrente.settings import REPO_ROOT, dbt_env


def test_static_docs_site_has_lineage_and_loads_nothing_from_outside(pg, tmp_path):
    env = {**os.environ, **dbt_env(pg)}
    dbt = str(Path(sys.executable).with_name("dbt"))
    result = subprocess.run([dbt, "docs", "generate", "--static", "--target-path", str(tmp_path)],
                            cwd=REPO_ROOT / "dbt_project", env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:]
    page = (tmp_path / "static_index.html").read_text()
    # the manifest (lineage) is embedded: mart nodes and their parents are in the page itself
    assert '"model.nova_corrente.fct_reorder_points"' in page
    assert '"model.nova_corrente.stg_erp__stock_movements"' in page
    external = re.findall(r'<(?:script|link)[^>]*(?:src|href)="(https?://[^"]+)"', page)
    assert external == []
