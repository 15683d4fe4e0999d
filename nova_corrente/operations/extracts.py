"""The reorder extract: the morning's reorder list as a CSV file for planners and BI tools.

Written by the ``nova_corrente_reorder_extract`` DAG each time the daily DAG publishes marts that
passed their quality gate (the ``nova_marts`` Asset): one row per material-site to order now, with
what the reorder point says and, when the material-site has a stock alert, its severity and
projected stockout date. Files: ``$NOVA_HOME/exports/<as_of_date>/reorder_list.csv`` and
``$NOVA_HOME/exports/reorder_list_latest.csv``; re-running a day rewrites that day's file.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from nova_corrente.operations.outputs import write_replacing
from nova_corrente.settings import PostgresSettings, nova_home

log = logging.getLogger(__name__)

COLUMNS = (
    "material_id", "material_name", "site_id", "city", "quantity_on_hand", "quantity_on_order", "reorder_point",
    "safety_stock", "suggested_order_quantity", "service_level", "alert_severity", "projected_stockout_date",
)

_EXTRACT_SQL = """
select rp.material_id, item.material_name, rp.site_id, site.city, rp.quantity_on_hand, rp.quantity_on_order,
       rp.reorder_point, rp.safety_stock, rp.suggested_order_quantity, rp.service_level,
       alerts.alert_severity, alerts.projected_stockout_date
from marts.fct_reorder_points as rp
join marts.dim_item as item on item.material_id = rp.material_id
join marts.dim_site as site on site.site_id = rp.site_id
left join marts.fct_stock_alerts as alerts on alerts.material_id = rp.material_id and alerts.site_id = rp.site_id
where rp.suggested_order_quantity > 0
order by case alerts.alert_severity when 'critical' then 0 when 'warning' then 1 when 'watch' then 2 else 3 end,
         alerts.projected_stockout_date nulls last, rp.material_id, rp.site_id
"""


def exports_dir() -> Path:
    """``$NOVA_HOME/exports``."""
    return nova_home() / "exports"


@dataclass(frozen=True)
class Extract:
    path: Path
    latest: Path
    as_of_date: date | None
    rows: int


def export_reorder_list(pg: PostgresSettings, directory: Path | None = None) -> Extract:
    """Write the reorder list CSV (see the module docstring); returns where and how many rows."""
    from nova_corrente.extract.connections import close_quietly
    from nova_corrente.operations import connect_warehouse

    directory = directory or exports_dir()
    buffer = io.StringIO()
    conn = connect_warehouse(pg, "reorder_extract")
    try:
        with conn.cursor() as cur:
            cur.execute("select max(demand_date) from marts.fct_demand_daily")
            as_of = cur.fetchone()[0]
            cur.copy_expert(f"copy ({_EXTRACT_SQL}) to stdout with (format csv, header true)", buffer)
    finally:
        close_quietly(conn)
    text = buffer.getvalue()
    rows = max(sum(1 for _ in csv.reader(io.StringIO(text))) - 1, 0)
    path = directory / (as_of.isoformat() if as_of else "undated") / "reorder_list.csv"
    latest = directory / "reorder_list_latest.csv"
    write_replacing(text, path, latest)
    log.info("reorder extract as of %s: %d material-sites to order -> %s", as_of, rows, path)
    return Extract(path=path, latest=latest, as_of_date=as_of, rows=rows)
