"""The environment every Airflow process of the platform runs with (CLI, UI, scheduler, tests).

Airflow is configured only through ``AIRFLOW__*`` environment variables computed here from the
platform settings, so ``make airflow``, ``make demo`` and the tests agree on one configuration and
no secret is written into the repository. ``AIRFLOW_HOME`` lives under ``$NOVA_HOME/airflow``.
"""

from __future__ import annotations

import os
from pathlib import Path

from nova_corrente.db_roles import ALLOW_SUPERUSER_ENV
from nova_corrente.settings import (
    COMPONENT_ROLES,
    REPO_ROOT,
    PostgresSettings,
    component_env_prefix,
    dbt_env,
    nova_home,
)

API_HOST = "127.0.0.1"
ADMIN_USER = "admin"


def api_port() -> int:
    """Port of the Airflow UI / API (``$NOVA_AIRFLOW_PORT``, default 8080)."""
    return int(os.environ.get("NOVA_AIRFLOW_PORT", "8080"))


def airflow_home() -> Path:
    """``$NOVA_AIRFLOW_HOME`` or ``$NOVA_HOME/airflow`` (tests point it at a temporary folder)."""
    configured = os.environ.get("NOVA_AIRFLOW_HOME")
    return Path(configured) if configured else nova_home() / "airflow"


def airflow_env(pg: PostgresSettings, *, home: Path | None = None) -> dict[str, str]:
    """Environment variables for Airflow processes (merged over os.environ by the caller)."""
    home = home or airflow_home()
    port = api_port()
    home.mkdir(parents=True, exist_ok=True)
    venv_bin = Path(os.environ.get("NOVA_VENV_BIN", REPO_ROOT / ".venv" / "bin"))
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": os.environ.get("NOVA_DAGS_FOLDER", str(REPO_ROOT / "dags")),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # the daily DAG is scheduled as soon as the scheduler sees it (every morning, 06:00 Bahia)
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        # LocalExecutor; CeleryExecutor spreads tasks (e.g. the forecast's shards) over
        # `airflow celery worker` processes, with Redis as the broker
        "AIRFLOW__CORE__EXECUTOR": os.environ.get("NOVA_AIRFLOW_EXECUTOR", "LocalExecutor"),
        "AIRFLOW__CELERY__BROKER_URL": os.environ.get("NOVA_CELERY_BROKER_URL", "redis://127.0.0.1:6379/0"),
        "AIRFLOW__CELERY__RESULT_BACKEND": pg.as_role("airflow").url(pg.airflow_db, driver="db+postgresql"),
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
        # 2 cores: a small pool of workers, one DAG run at a time
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "4",
        "AIRFLOW__CORE__MAX_ACTIVE_RUNS_PER_DAG": "1",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://{API_HOST}:{port}/execution/",
        # Airflow's metadata database is owned by, and only reachable for, its own role
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": pg.as_role("airflow").url(pg.airflow_db),
        "AIRFLOW__API__HOST": API_HOST,
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://{API_HOST}:{port}",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "simple_auth_manager_passwords.json"),
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__API_AUTH__JWT_SECRET": _local_secret(home / "jwt_secret"),
        "NOVA_HOME": str(nova_home()),
        "NOVA_DBT_EXECUTABLE": str(venv_bin / "dbt"),
        "NO_PROXY": "*",
        "no_proxy": "*",
        "GX_ANALYTICS_ENABLED": "False",
        "DO_NOT_TRACK": "1",
    }
    # The task processes read the same PostgreSQL settings as everything else: each task logs in as
    # its component's role (embedded: passwords under NOVA_HOME; external: NOVA_PG_<COMPONENT>_*).
    # The administrator's login (NOVA_PG_USER/NOVA_PG_PASSWORD) is for setup and never reaches them.
    passed = ["NOVA_PG_HOST", "NOVA_PG_PORT", "NOVA_LANDING_DIR", ALLOW_SUPERUSER_ENV]
    for component in COMPONENT_ROLES:
        passed += [f"{component_env_prefix(component)}_USER", f"{component_env_prefix(component)}_PASSWORD"]
    for name in passed:
        if name in os.environ:
            env[name] = os.environ[name]
    if pg.embedded:
        env["NOVA_PG_PORT"] = str(pg.port)
    env["NOVA_PG_ERP_DB"] = pg.erp_db
    env["NOVA_PG_WAREHOUSE_DB"] = pg.warehouse_db
    env["NOVA_PG_AIRFLOW_DB"] = pg.airflow_db
    env["NOVA_PG_DB_PREFIX"] = ""  # the database names above are final
    env.update(dbt_env(pg))
    return env


def _local_secret(path: Path) -> str:
    """A random secret kept in AIRFLOW_HOME (0600), stable across restarts."""
    if not path.exists():
        import secrets

        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
    return path.read_text().strip()
