"""Each operations job logs in as its own role (``operations.ROLES``), read-only where it only reads."""

from __future__ import annotations

import psycopg2
import pytest

from nova_corrente.extract.connections import close_quietly
from nova_corrente.operations import ROLES, connect_warehouse
from nova_corrente.settings import COMPONENT_ROLES


@pytest.mark.parametrize("job", sorted(ROLES))
def test_a_job_logs_in_as_its_role_and_reads_only_when_it_only_reads(marts, job):
    read_only = job != "stock_alerts_notified"
    conn = connect_warehouse(marts, job, read_only=read_only)
    try:
        with conn.cursor() as cur:
            cur.execute("select current_user, current_setting('transaction_read_only'),"
                        " (select rolsuper from pg_roles where rolname = current_user)")
            assert cur.fetchone() == (COMPONENT_ROLES[ROLES[job]], "on" if read_only else "off", False)
            if read_only:
                with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction):
                    cur.execute("create temporary table scratch (x int)")
    finally:
        close_quietly(conn)


def test_bi_may_not_read_the_audit_registers_the_page_reads(marts):
    """Why the data-quality registers are read as the transformer and not as BI."""
    conn = connect_warehouse(marts, "reorder_extract")
    try:
        with conn.cursor() as cur, pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute("select count(*) from audit.load_batches")
    finally:
        close_quietly(conn)
