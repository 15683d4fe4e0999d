"""New critical stock alerts: what ``marts.fct_stock_alerts`` flags critical that nobody was told yet.

``audit.critical_stock_alerts_notified`` remembers the material-sites already notified while they
stay critical. Each run: critical now and not remembered -> new (notify, remember); remembered but
no longer critical -> forgotten (a later relapse is news again). The bookkeeping is committed only
after the notification went out, so a failed send is retried with the task, never lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from nova_corrente.operations.alerts import CriticalStockAlert
from nova_corrente.settings import PostgresSettings

log = logging.getLogger(__name__)

NOTIFIED_DDL = """
create table if not exists audit.critical_stock_alerts_notified (
    material_id              text not null,
    site_id                  text not null,
    projected_stockout_date  date,
    notified_at              timestamptz not null default now(),
    dag_run_id               text,
    primary key (material_id, site_id)
)
"""

_CRITICAL_NOW = """
select alerts.material_id, items.material_name, alerts.site_id, sites.city,
       alerts.quantity_on_hand::float8, alerts.projected_stockout_date, alerts.days_until_stockout,
       alerts.suggested_order_quantity::float8
from marts.fct_stock_alerts as alerts
left join marts.dim_item as items on items.material_id = alerts.material_id
left join marts.dim_site as sites on sites.site_id = alerts.site_id
where alerts.alert_severity = 'critical'
order by alerts.projected_stockout_date nulls first, alerts.material_id, alerts.site_id
"""


def notify_new_critical_alerts(
    pg: PostgresSettings, send: Callable[[Sequence[CriticalStockAlert]], object], dag_run_id: str | None = None
) -> list[CriticalStockAlert]:
    """Find the new critical alerts, ``send`` them (when there are any), then remember them.

    Returns the new alerts. ``send`` raising leaves the bookkeeping untouched.
    """
    from nova_corrente.extract.connections import close_quietly
    from nova_corrente.operations import connect_warehouse

    # the bookkeeping as the loader (audit is its schema), locked until the notification went out; the
    # alerts read as BI reads them (the published marts)
    record = marts = None
    try:
        record = connect_warehouse(pg, "stock_alerts_notified", read_only=False)
        with record.cursor() as cur:
            cur.execute(NOTIFIED_DDL)
            cur.execute("lock table audit.critical_stock_alerts_notified in exclusive mode")
            cur.execute("select material_id, site_id from audit.critical_stock_alerts_notified")
            known = set(cur.fetchall())
        marts = connect_warehouse(pg, "stock_alerts")
        with marts.cursor() as cur:
            cur.execute(_CRITICAL_NOW)
            critical = [CriticalStockAlert(*row) for row in cur.fetchall()]
        close_quietly(marts)
        now_keys = {(alert.material_id, alert.site_id) for alert in critical}
        new = [alert for alert in critical if (alert.material_id, alert.site_id) not in known]
        resolved = known - now_keys
        with record.cursor() as cur:
            if resolved:
                cur.execute(
                    "delete from audit.critical_stock_alerts_notified where (material_id, site_id) in "
                    "(select * from unnest(%s::text[], %s::text[]))",
                    ([key[0] for key in resolved], [key[1] for key in resolved]),
                )
            for alert in new:
                cur.execute(
                    "insert into audit.critical_stock_alerts_notified "
                    "(material_id, site_id, projected_stockout_date, dag_run_id) values (%s, %s, %s, %s)",
                    (alert.material_id, alert.site_id, alert.projected_stockout_date, dag_run_id),
                )
        if new:
            send(new)
        record.commit()
    finally:
        close_quietly(marts)
        close_quietly(record)
    log.info("stock alerts: %d critical now, %d new (notified), %d no longer critical",
             len(critical), len(new), len(resolved))
    return new
