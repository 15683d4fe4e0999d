"""Operating the platform: alerts, run reports, the data-quality page, dbt docs, extracts.

Small modules the Airflow DAGs and the UI plugin call; each takes its inputs as arguments and reads
configuration from the environment only where it says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from psycopg2.extensions import connection as Connection

    from nova_corrente.settings import PostgresSettings

#: which login each operations job reads or writes the warehouse with (settings.COMPONENT_ROLES;
#: README, 'Database roles'). The dbt docs refresh runs dbt, hence as the transformer (settings.dbt_env).
ROLES: dict[str, str] = {
    # audit's registers (batches, quarantine, reconciliation): BI may not read them, the loader could write them
    "quality_history": "transformer",
    "run_report": "transformer",  # audit, the marts and the forecast tables
    "stock_alerts": "bi_reader",  # the published marts, as BI sees them
    "stock_alerts_notified": "loader",  # remembers what was sent, in audit (the loader's schema)
    "reorder_extract": "bi_reader",  # the published marts, as any BI tool
}


def connect_warehouse(pg: PostgresSettings, job: str, *, read_only: bool = True) -> Connection:
    """A warehouse connection with ``job``'s login (``ROLES``); read-only sessions unless it records something."""
    from nova_corrente.extract.connections import connect

    conn = connect(pg.as_role(ROLES[job]), "warehouse")
    if read_only:
        conn.rollback()  # the login check's transaction: session characteristics are set outside one
        conn.set_session(readonly=True)
    return conn
