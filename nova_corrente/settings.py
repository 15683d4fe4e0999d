"""Platform configuration, read from the environment only.

Which PostgreSQL the platform uses is decided here and nowhere else:

* ``NOVA_PG_HOST`` unset  -> the platform's own embedded server (binaries from the ``pgserver``
  wheel) on 127.0.0.1:``NOVA_PG_PORT`` (default 54329), data under ``$NOVA_HOME/pgdata``, superuser
  ``nova`` (setup only) with a random password generated once and kept in ``$NOVA_HOME/pg/password``;
  each component role's password in ``$NOVA_HOME/pg/<role>.password`` (all 0600, folder 0700).
* ``NOVA_PG_HOST`` set    -> an external server; ``NOVA_PG_PORT`` (5432) and each component's
  ``NOVA_PG_<COMPONENT>_PASSWORD`` (and optionally ``NOVA_PG_<COMPONENT>_USER``) come from the
  environment (or an Airflow connection rendered into it); ``NOVA_PG_USER``/``NOVA_PG_PASSWORD``
  (an administrator) only for setup commands (``nova db roles --apply``, creating databases).

Every component connects as its own role (``COMPONENT_ROLES``, granted by nova_corrente/db_roles.py):
``postgres_settings()`` returns the administrator's login, ``PostgresSettings.as_role("loader")`` the
same settings with a component's login.

Database names default to ``erp``, ``warehouse`` and ``airflow``; ``NOVA_PG_DB_PREFIX`` prepends a
prefix to all three (the test suite uses ``test_`` so it never touches demo data).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import quote

REPO_ROOT = Path(__file__).resolve().parent.parent
#: the dbt project the platform builds (its profiles.yml reads the logins from the environment)
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
EMBEDDED_DEFAULT_PORT = 54329
EMBEDDED_USER = "nova"
#: dbt's flags for the platform's own runs (the daily DAG, ``nova dbt``, the benches), as dbt's
#: environment variables; a value already in the environment wins (``DBT_EXCLUDE_RESOURCE_TYPES=``
#: runs everything, ``DBT_LOG_LEVEL_FILE=debug`` logs every statement again):
#: * unit tests run in CI (``make test``), not in every build of the warehouse: their inputs are
#:   fixed, so a production run re-proves nothing (dbt's own advice); 21 of them were 14 s of the
#:   demo's 93 s of build node time;
#: * the file log (``logs/dbt.log``) at info: at debug it held every statement dbt ran, and writing
#:   it cost about a tenth of dbt's own CPU in a build. The console log (Airflow's task log) is info.
DBT_RUN_FLAGS: dict[str, str] = {"DBT_EXCLUDE_RESOURCE_TYPES": "unit_test", "DBT_LOG_LEVEL_FILE": "info"}

#: component -> the PostgreSQL role it logs in as (what each may do: nova_corrente/db_roles.py, README)
COMPONENT_ROLES: dict[str, str] = {
    "erp_reader": "nova_erp_reader",    # the extract's reads of the ERP
    "loader": "nova_loader",            # the extract's writes into raw/audit; the raw gate; alerts sent
    "transformer": "nova_transformer",  # dbt; the marts gate; operations' reads of audit
    "forecaster": "nova_forecaster",    # the forecast task
    "bi_reader": "nova_bi_reader",      # BI tools; the demo summary; the reorder extract
    "airflow": "nova_airflow",          # Airflow's metadata database
}


def positive_int_setting(name: str, default: int, unit: str, env: dict[str, str] | None = None) -> int:
    """A whole number >= 1 from the environment (``default`` when unset); a clear error naming the
    variable for anything else. ``unit`` names what is counted, singular (``day``, ``shard``)."""
    raw = (env if env is not None else os.environ).get(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number of {unit}s") from None
    if value < 1:
        raise ValueError(f"{name}={raw!r}: keep at least 1 {unit}")
    return value


def nova_home() -> Path:
    """Folder for local state (embedded database, Airflow home, landing files); git-ignored."""
    return Path(os.environ.get("NOVA_HOME", REPO_ROOT / ".nova")).resolve()


def secrets_dir(home: Path) -> Path:
    """``$NOVA_HOME/pg``: the embedded server's generated passwords (folder 0700, files 0600)."""
    return home / "pg"


def share_secrets(source: Path, home: Path) -> None:
    """Give another ``$NOVA_HOME`` (tests and benchmarks keep their reports, docs and plots apart) the
    embedded server's passwords kept under ``source`` (a ``secrets_dir``), so its components log in to
    the same server as the same roles; modes are kept (folder 0700, files 0600)."""
    import shutil

    target = secrets_dir(home)
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    target.chmod(0o700)  # a folder that existed already: copy2 writes each file before it sets its mode
    for secret in [source / "password", *source.glob("*.password")]:
        shutil.copy2(secret, target / secret.name)


def _generated_password(path: Path) -> str:
    """The password kept in ``path``, generated on first use; never readable by anyone else,
    not even for a moment (folder created 0700, file created 0600 with O_EXCL before it is written)."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    password = secrets.token_urlsafe(24)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(password + "\n")
    return password


def _embedded_password(home: Path) -> str:
    """Return the embedded server's superuser password, creating it (0600) on first use."""
    return _generated_password(secrets_dir(home) / "password")


def component_env_prefix(component: str) -> str:
    """``NOVA_PG_LOADER`` for ``loader``: ``<prefix>_PASSWORD`` / ``<prefix>_USER`` (external server)."""
    return f"NOVA_PG_{component.upper()}"


@dataclass(frozen=True)
class PostgresSettings:
    """Where the platform's databases live and how to reach them."""

    host: str
    port: int
    user: str  # whose login this is: the administrator's (setup), or a component's (as_role)
    password: str = field(repr=False)  # never in logs or tracebacks
    embedded: bool
    erp_db: str
    warehouse_db: str
    airflow_db: str
    data_dir: Path
    secrets_dir: Path = field(repr=False)  # embedded: where the generated passwords live
    #: the component whose login this is (a key of COMPONENT_ROLES); None for the administrator
    component: str | None = None

    @property
    def databases(self) -> tuple[str, str, str]:
        return (self.erp_db, self.warehouse_db, self.airflow_db)

    def as_role(self, component: str) -> PostgresSettings:
        """These settings with ``component``'s own login (see COMPONENT_ROLES).

        Embedded server: the role named in COMPONENT_ROLES, password generated once in
        ``$NOVA_HOME/pg/<role>.password`` (``nova db start`` gives the role that password).
        External server: ``NOVA_PG_<COMPONENT>_USER`` (default: the role name) and
        ``NOVA_PG_<COMPONENT>_PASSWORD`` from the environment; a clear error when it is missing.
        """
        if component not in COMPONENT_ROLES:
            raise ValueError(f"unknown component {component!r}; known: {', '.join(COMPONENT_ROLES)}")
        role = COMPONENT_ROLES[component]
        if self.embedded:
            user, password = role, _generated_password(self.secrets_dir / f"{role}.password")
        else:
            prefix = component_env_prefix(component)
            user = os.environ.get(f"{prefix}_USER") or role
            password = os.environ.get(f"{prefix}_PASSWORD", "")
            if not password:
                raise RuntimeError(
                    f"{prefix}_PASSWORD is not set: on the external PostgreSQL {self.host}:{self.port} the "
                    f"{component} connects as its own role {user} (README, 'Database roles'); export it."
                )
        return replace(self, user=user, password=password, component=component)

    def component_or(self, default: str) -> PostgresSettings:
        """These settings if they are a component's login, else ``default``'s login (never the admin's)."""
        return self if self.component else self.as_role(default)

    def _require_login(self) -> None:
        if not self.user:
            raise RuntimeError(
                f"no administrator login for the external PostgreSQL {self.host}:{self.port}: setup commands "
                "(creating databases, `nova db roles --apply`) need NOVA_PG_USER and NOVA_PG_PASSWORD; "
                "the components use their own roles (PostgresSettings.as_role)."
            )

    def dsn(self, database: str) -> str:
        """libpq key/value connection string (psycopg2.connect, psql)."""
        self._require_login()
        return (
            f"host={self.host} port={self.port} dbname={database} "
            f"user={self.user} password={self.password} connect_timeout=10"
        )

    def url(self, database: str, driver: str = "postgresql+psycopg2") -> str:
        """SQLAlchemy URL (Airflow metadata, GX datasources)."""
        self._require_login()
        return (
            f"{driver}://{quote(self.user, safe='')}:{quote(self.password, safe='')}"
            f"@{self.host}:{self.port}/{database}"
        )

    def describe(self) -> str:
        """One line for logs: never includes the password."""
        kind = "embedded" if self.embedded else "external"
        return f"{kind} PostgreSQL {self.user or '(no administrator login)'}@{self.host}:{self.port}"


def postgres_settings() -> PostgresSettings:
    """Read the PostgreSQL settings from the environment (see module docstring)."""
    env = os.environ
    prefix = env.get("NOVA_PG_DB_PREFIX", "")
    home = nova_home()
    external_host = env.get("NOVA_PG_HOST", "").strip()
    if external_host:
        # the administrator's login is optional: only setup commands use it (components use as_role)
        host, port = external_host, int(env.get("NOVA_PG_PORT", "5432"))
        user, password, embedded = env.get("NOVA_PG_USER", ""), env.get("NOVA_PG_PASSWORD", ""), False
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
        secrets_dir=secrets_dir(home),
    )


def dbt_env(pg: PostgresSettings) -> dict[str, str]:
    """Environment variables for dbt: dbt_project/profiles.yml's (dbt logs in as the transformer)
    and the platform's run flags (``DBT_RUN_FLAGS``, unless the environment sets them)."""
    transformer = pg.as_role("transformer")
    return {
        **{name: os.environ.get(name, default) for name, default in DBT_RUN_FLAGS.items()},
        "NOVA_DBT_HOST": pg.host,
        "NOVA_DBT_PORT": str(pg.port),
        "NOVA_DBT_USER": transformer.user,
        "NOVA_DBT_PASSWORD": transformer.password,
        "NOVA_DBT_DBNAME": pg.warehouse_db,
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
    }
