"""Connections to the ERP and the warehouse, with errors that say which database failed.

Each side logs in as its own role (README, 'Database roles'): the ERP as ``nova_erp_reader``
(read-only), the warehouse as the component whose settings are given (``pg.as_role(...)``) or, for
the administrator's settings, as ``nova_loader``. A superuser login is refused (``db_roles``).

Both sides of an extract are opened with the same session settings (UTC, ISO dates, UTF-8,
shortest-exact floats) so that the text COPY stream written by one server is read back
unchanged by the other.
"""

from __future__ import annotations

from typing import Literal

import psycopg2
from psycopg2.extensions import connection as Connection

from nova_corrente.postgres_server import DatabaseUnavailable
from nova_corrente.settings import PostgresSettings

Role = Literal["erp", "warehouse"]

# synchronous_commit=on: a batch or verdict this code reports done survives a server crash, even on a
# server configured with synchronous_commit=off
SESSION_OPTIONS = (
    "-c timezone=UTC -c datestyle=ISO,YMD -c extra_float_digits=3 -c client_encoding=UTF8 -c synchronous_commit=on"
)


def database_name(pg: PostgresSettings, role: Role) -> str:
    """The database behind a role (``pg.erp_db`` or ``pg.warehouse_db``)."""
    return pg.erp_db if role == "erp" else pg.warehouse_db


def where(pg: PostgresSettings, role: Role) -> str:
    """Human description of a database for error messages, e.g. ``erp database 'erp' at host:port``."""
    return f"{role} database '{database_name(pg, role)}' at {pg.host}:{pg.port}"


def login(pg: PostgresSettings, role: Role) -> PostgresSettings:
    """Whose login opens ``role``'s database: the ERP reader for the ERP; for the warehouse ``pg``'s
    own component login, or the loader's when ``pg`` is the administrator's."""
    return pg.as_role("erp_reader") if role == "erp" else pg.component_or("loader")


def connect(pg: PostgresSettings, role: Role) -> Connection:
    """Open a connection (autocommit off, no transaction open) to the ERP or the warehouse.

    Raises ``DatabaseUnavailable`` naming the database, host:port and login when it cannot be
    reached, and ``db_roles.SuperuserLogin`` when the login is a superuser's.
    """
    from nova_corrente.db_roles import refuse_superuser

    settings = login(pg, role)
    try:
        conn = psycopg2.connect(
            settings.dsn(database_name(pg, role)),
            options=SESSION_OPTIONS,
            application_name=f"nova_extract_{role}",
        )
    except psycopg2.OperationalError as exc:
        raise DatabaseUnavailable(
            f"cannot connect to the {where(pg, role)} as {settings.user}: {str(exc).strip()}"
        ) from exc
    try:
        refuse_superuser(conn, f"the {settings.component} ({role} database)")
    except BaseException:
        conn.close()
        raise
    return conn


def is_connection_lost(exc: BaseException, conn: Connection | None) -> bool:
    """True when ``exc`` means the server went away (not a data, SQL or lock error)."""
    if conn is not None and conn.closed:
        return True
    if isinstance(exc, (psycopg2.InterfaceError, psycopg2.errors.AdminShutdown,
                        psycopg2.errors.CrashShutdown, psycopg2.errors.CannotConnectNow)):
        return True
    # a bare OperationalError without SQLSTATE is a network/libpq failure
    return isinstance(exc, psycopg2.OperationalError) and getattr(exc, "pgcode", None) is None


def close_quietly(conn: Connection | None, rollback: bool = True) -> None:
    """Roll back (unless ``rollback`` is False) and close, ignoring errors of a broken connection.

    Pass ``rollback=False`` for a read-only connection that may be stuck in the middle of a
    ``COPY TO``: rolling back would first drain the rest of the stream, closing just hangs up.
    """
    if conn is None or conn.closed:
        return
    try:
        if rollback:
            conn.rollback()
    except psycopg2.Error:
        pass
    finally:
        conn.close()
