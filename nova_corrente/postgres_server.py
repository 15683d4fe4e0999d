"""The platform's own PostgreSQL server, run from the ``pgserver`` wheel's binaries.

``ensure_running`` is idempotent: it initialises the data directory once (initdb), starts the
server if it is not running (pg_ctl), creates the ``erp``/``warehouse``/``airflow`` databases
that are missing and applies the roles and grants (``db_roles.provision``). With an external
server configured (``NOVA_PG_HOST``) it only checks the connection and, given an administrator
login, creates missing databases: its roles are a DBA's job (``nova db roles``).

initdb and postgres refuse to run as root; as root the server runs as the unprivileged system user
``pgserver`` (created by the pgserver package's own helper).
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg2
from psycopg2 import sql

from nova_corrente.settings import PostgresSettings, component_env_prefix, postgres_settings

log = logging.getLogger(__name__)

SYSTEM_USER = "pgserver"
SERVER_CONF = {
    # sized for a 2-core / small machine: Airflow tasks + dbt threads
    "max_connections": "150",
    "shared_buffers": "256MB",
    "work_mem": "32MB",
    "maintenance_work_mem": "128MB",
    # on: what a stage reports done (a batch, a verdict, a mart) survives a crash of the server
    "synchronous_commit": "on",
    "unix_socket_directories": "''",
    "listen_addresses": "'127.0.0.1'",
    "log_min_messages": "warning",
    "timezone": "'UTC'",
}


class DatabaseUnavailable(RuntimeError):
    """The configured PostgreSQL cannot be reached; the message says which and how to fix it."""


def _bin(name: str) -> str:
    from pgserver._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


def _run_as_server_user() -> str | None:
    """Name of the system user to run PostgreSQL as (None when we are not root)."""
    if os.geteuid() != 0:
        return None
    import stat

    from pgserver._commands import POSTGRES_BIN_PATH
    from pgserver.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

    ensure_user_exists(SYSTEM_USER)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    read_perm = stat.S_IRGRP | stat.S_IROTH
    ensure_folder_permissions(POSTGRES_BIN_PATH, read_perm | stat.S_IXGRP | stat.S_IXOTH)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", read_perm)
    return SYSTEM_USER


def _run(cmd: list[str], user: str | None, timeout: float = 120) -> str:
    result = subprocess.run(cmd, user=user, capture_output=True, text=True, timeout=timeout, cwd="/")
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:2])} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout


def _chown_tree(path: Path, user: str) -> None:
    import pwd

    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


def write_private_file(folder: Path, name: str, content: str, owner: str | None = None) -> Path:
    """Write ``folder/name`` readable by its owner only, from the first byte on.

    The file is created 0600 with O_EXCL (never world-readable, not even for a moment) and, when
    ``owner`` is given (root running the server as another system user), handed to that user with
    fchown *before* the secret is written.
    """
    path = folder / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        if owner:
            import pwd

            entry = pwd.getpwnam(owner)
            os.fchown(fd, entry.pw_uid, entry.pw_gid)
        os.write(fd, content.encode())
    finally:
        os.close(fd)
    return path


def _initdb(pg: PostgresSettings, user: str | None) -> None:
    data_dir = pg.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    if user:
        from pgserver.utils import ensure_prefix_permissions

        ensure_prefix_permissions(data_dir)
        _chown_tree(data_dir, user)
    # initdb reads the superuser's password from a file: a private folder (0700, owned by whoever
    # runs initdb) holding a 0600 file, removed right after
    with tempfile.TemporaryDirectory(prefix="nova-initdb-") as private:
        if user:
            import pwd

            entry = pwd.getpwnam(user)
            os.chown(private, entry.pw_uid, entry.pw_gid)
        pwfile = write_private_file(Path(private), "pwfile", pg.password + "\n", owner=user)
        log.info("initdb %s (superuser %s)", data_dir, pg.user)
        _run(
            [_bin("initdb"), "-D", str(data_dir), "-U", pg.user, f"--pwfile={pwfile}",
             "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "--encoding=UTF8", "--locale=C"],
            user,
        )
    conf = data_dir / "postgresql.auto.conf"
    with conf.open("a") as handle:
        for key, value in SERVER_CONF.items():
            handle.write(f"{key} = {value}\n")


def _is_running(pg: PostgresSettings) -> bool:
    pidfile = pg.data_dir / "postmaster.pid"
    if not pidfile.exists():
        return False
    try:
        pid = int(pidfile.read_text().splitlines()[0])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def _start(pg: PostgresSettings, user: str | None) -> None:
    logfile = pg.data_dir / "server.log"
    log.info("starting PostgreSQL on 127.0.0.1:%s (data %s)", pg.port, pg.data_dir)
    try:
        _run([_bin("pg_ctl"), "-D", str(pg.data_dir), "-l", str(logfile), "-w", "-t", "60",
              "-o", f"-p {pg.port}", "start"], user)
    except RuntimeError as exc:
        tail = logfile.read_text()[-2000:] if logfile.exists() else ""
        raise DatabaseUnavailable(
            f"the embedded PostgreSQL did not start on port {pg.port}: {exc}\nserver log ({logfile}):\n{tail}\n"
            "If the port is taken, set NOVA_PG_PORT to a free one."
        ) from exc


def wait_until_ready(pg: PostgresSettings, timeout_s: float = 30.0, database: str = "postgres") -> None:
    """Connect to ``database`` (the maintenance one) until it answers, or raise DatabaseUnavailable."""
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            psycopg2.connect(pg.dsn(database)).close()
            return
        except psycopg2.OperationalError as exc:
            last = exc
            time.sleep(0.5)
    login = "NOVA_PG_USER/NOVA_PG_PASSWORD" if pg.component is None else \
        f"{component_env_prefix(pg.component)}_USER/_PASSWORD"
    raise DatabaseUnavailable(
        f"cannot connect to {pg.describe()}: {str(last).strip()}. "
        + ("Run `make db` to start the embedded server." if pg.embedded
           else f"Check NOVA_PG_HOST/NOVA_PG_PORT/{login}.")
    )


def ensure_databases(pg: PostgresSettings, names: tuple[str, ...] | None = None) -> list[str]:
    """Create the platform's databases that do not exist yet; return the ones created."""
    created = []
    conn = psycopg2.connect(pg.dsn("postgres"))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for name in names or pg.databases:
                cur.execute("select 1 from pg_database where datname = %s", (name,))
                if cur.fetchone() is None:
                    cur.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
                    created.append(name)
    finally:
        conn.close()
    if created:
        log.info("created databases: %s", ", ".join(created))
    return created


def drop_databases(pg: PostgresSettings, names: tuple[str, ...]) -> None:
    """Drop databases (used by tests to start from nothing); connections are terminated."""
    conn = psycopg2.connect(pg.dsn("postgres"))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for name in names:
                cur.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
    finally:
        conn.close()


def ensure_running(pg: PostgresSettings | None = None) -> PostgresSettings:
    """Make the configured server reachable, its databases present and (embedded) its roles and
    grants applied. Idempotent. Returns the administrator's settings."""
    pg = pg or postgres_settings()
    if pg.embedded:
        user = _run_as_server_user()
        if not (pg.data_dir / "PG_VERSION").exists():
            _initdb(pg, user)
        if not _is_running(pg):
            _start(pg, user)
    elif not pg.user:  # external, no administrator: the DBA set it up; check a component can connect
        wait_until_ready(pg.as_role("loader"), database=pg.warehouse_db)
        return pg
    wait_until_ready(pg)
    ensure_databases(pg)
    if pg.embedded:
        from nova_corrente.db_roles import provision

        provision(pg)
    return pg


def stop(pg: PostgresSettings | None = None, mode: str = "fast") -> bool:
    """Stop the embedded server; returns False when it was not running (or is external).

    ``mode`` is pg_ctl's shutdown mode: ``fast`` (the default) or ``immediate``, which stops like a
    crash (no checkpoint; the next start replays the write-ahead log).
    """
    if mode not in ("fast", "smart", "immediate"):
        raise ValueError(f"unknown shutdown mode {mode!r}")
    pg = pg or postgres_settings()
    if not pg.embedded or not _is_running(pg):
        return False
    user = _run_as_server_user()
    _run([_bin("pg_ctl"), "-D", str(pg.data_dir), "-m", mode, "-w", "stop"], user)
    return True


def status(pg: PostgresSettings | None = None) -> str:
    pg = pg or postgres_settings()
    if pg.embedded:
        state = "running" if _is_running(pg) else "stopped"
        return f"{pg.describe()} ({state}, data {pg.data_dir})"
    return pg.describe()
