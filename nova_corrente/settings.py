"""Platform configuration, read from the environment only.

Which PostgreSQL the platform uses is decided here and nowhere else:

* ``NOVA_PG_HOST`` unset  -> the platform's own embedded server (binaries from the ``pgserver``
  wheel) on 127.0.0.1:``NOVA_PG_PORT`` (default 54329), data under ``$NOVA_HOME/pgdata``, user
  ``nova`` with a random password generated once and kept in ``$NOVA_HOME/pg/password`` (0600).
* ``NOVA_PG_HOST`` set    -> an external server; ``NOVA_PG_PORT`` (5432), ``NOVA_PG_USER`` and
  ``NOVA_PG_PASSWORD`` come from the environment (or an Airflow connection rendered into it).

Database names default to ``erp``, ``warehouse`` and ``airflow``; ``NOVA_PG_DB_PREFIX`` prepends a
prefix to all three (the test suite uses ``test_`` so it never touches demo data).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

REPO_ROOT = Path(__file__).resolve().parent.parent
EMBEDDED_DEFAULT_PORT = 54329
EMBEDDED_USER = "nova"


def nova_home() -> Path:
    """Folder for local state (embedded database, Airflow home, landing files); git-ignored."""
    return Path(os.environ.get("NOVA_HOME", REPO_ROOT / ".nova")).resolve()


def _embedded_password(home: Path) -> str:
    """Return the embedded server's password, creating it (0600) on first use."""
    path = home / "pg" / "password"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(password + "\n")
    return password


@dataclass(frozen=True)
class PostgresSettings:
    """Where the platform's databases live and how to reach them."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)  # never in logs or tracebacks
    embedded: bool
    erp_db: str
    warehouse_db: str
    airflow_db: str
    data_dir: Path

    @property
    def databases(self) -> tuple[str, str, str]:
        return (self.erp_db, self.warehouse_db, self.airflow_db)

    def dsn(self, database: str) -> str:
        """libpq key/value connection string (psycopg2.connect, psql)."""
        return (
            f"host={self.host} port={self.port} dbname={database} "
            f"user={self.user} password={self.password} connect_timeout=10"
        )

    def url(self, database: str, driver: str = "postgresql+psycopg2") -> str:
        """SQLAlchemy URL (Airflow metadata, GX datasources)."""
        return (
            f"{driver}://{quote(self.user, safe='')}:{quote(self.password, safe='')}"
            f"@{self.host}:{self.port}/{database}"
        )

    def describe(self) -> str:
        """One line for logs: never includes the password."""
        kind = "embedded" if self.embedded else "external"
        return f"{kind} PostgreSQL {self.user}@{self.host}:{self.port}"


def postgres_settings() -> PostgresSettings:
    """Read the PostgreSQL settings from the environment (see module docstring)."""
    env = os.environ
    prefix = env.get("NOVA_PG_DB_PREFIX", "")
    home = nova_home()
    external_host = env.get("NOVA_PG_HOST", "").strip()
    if external_host:
        missing = [name for name in ("NOVA_PG_USER", "NOVA_PG_PASSWORD") if not env.get(name)]
        if missing:
            raise RuntimeError(
                f"NOVA_PG_HOST={external_host} selects an external PostgreSQL, but {', '.join(missing)} "
                "is not set; export it (secrets come from the environment, never the repository)."
            )
        host, port = external_host, int(env.get("NOVA_PG_PORT", "5432"))
        user, password, embedded = env["NOVA_PG_USER"], env["NOVA_PG_PASSWORD"], False
    else:
        host, port = "127.0.0.1", int(env.get("NOVA_PG_PORT", str(EMBEDDED_DEFAULT_PORT)))
        user, password, embedded = EMBEDDED_USER, _embedded_password(home), True
    return PostgresSettings(
        host=host,
        port=port,
        user=user,
        password=password,
        embedded=embedded,
        erp_db=prefix + env.get("NOVA_PG_ERP_DB", "erp"),
        warehouse_db=prefix + env.get("NOVA_PG_WAREHOUSE_DB", "warehouse"),
        airflow_db=prefix + env.get("NOVA_PG_AIRFLOW_DB", "airflow"),
        data_dir=home / "pgdata",
    )


def forecast_shards() -> int:
    """How many shards the daily forecast is split into (``$NOVA_FORECAST_SHARDS``, default 2): one per
    worker slot you want it to use; at most one per demand class is useful (nova_forecast.shards)."""
    value = os.environ.get("NOVA_FORECAST_SHARDS", "2")
    if not value.isdigit() or int(value) < 1:
        raise RuntimeError(f"NOVA_FORECAST_SHARDS={value!r}: expected a whole number of shards, at least 1")
    return int(value)


def dbt_env(pg: PostgresSettings) -> dict[str, str]:
    """Environment variables read by dbt_project/profiles.yml (and GX / the forecast task)."""
    return {
        "NOVA_DBT_HOST": pg.host,
        "NOVA_DBT_PORT": str(pg.port),
        "NOVA_DBT_USER": pg.user,
        "NOVA_DBT_PASSWORD": pg.password,
        "NOVA_DBT_DBNAME": pg.warehouse_db,
        "DBT_PROFILES_DIR": str(REPO_ROOT / "dbt_project"),
    }
