"""Opening the GX file context under ``expectations/``, quietly, with the connection given at run time.

The committed ``expectations/gx/great_expectations.yml`` names the warehouse only as
``${NOVA_GX_WAREHOUSE_URL}``. The gates pass the URL of the database they were given
(``PostgresSettings.url(pg.warehouse_db)``) as a GX *runtime environment* variable, which GX
substitutes before its process environment; so tests, the demo and Airflow each point the same
committed config at their own database and no connection string is ever written to disk. Anyone
using the context by hand can export ``NOVA_GX_WAREHOUSE_URL`` instead.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nova_corrente.settings import REPO_ROOT, PostgresSettings

if TYPE_CHECKING:
    from great_expectations.data_context import FileDataContext

#: the GX project root: ``gx.get_context(mode="file", project_root_dir=...)`` keeps its files in ``gx/``
PROJECT_ROOT = REPO_ROOT / "expectations"
#: the variable the committed data sources reference as ``${NOVA_GX_WAREHOUSE_URL}``
CONNECTION_VARIABLE = "NOVA_GX_WAREHOUSE_URL"

_NOISY_LOGGERS = ("great_expectations", "tqdm")


def quiet_gx() -> None:
    """Analytics off (before GX is imported) and GX's own INFO chatter out of task logs."""
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def warehouse_url(pg: PostgresSettings) -> str:
    """SQLAlchemy URL of the warehouse database of ``pg`` (contains the password: never log it).

    The login is ``pg``'s component's, or the loader's for the administrator's settings (as the
    gates' other connections: ``extract.connections.login``).
    """
    return pg.component_or("loader").url(pg.warehouse_db)


def open_context(project_root: Path = PROJECT_ROOT, pg: PostgresSettings | None = None) -> FileDataContext:
    """The file context at ``project_root``; with ``pg``, its data sources connect to that warehouse.

    Without ``pg`` the context can be built and inspected but not validated against (unless
    ``NOVA_GX_WAREHOUSE_URL`` is exported).
    """
    quiet_gx()
    import great_expectations as gx

    runtime_environment: dict[str, Any] | None = {CONNECTION_VARIABLE: warehouse_url(pg)} if pg else None
    return gx.get_context(mode="file", project_root_dir=str(project_root), runtime_environment=runtime_environment)


def close_connections(context: FileDataContext) -> None:
    """Dispose the SQLAlchemy engines GX opened, so no pooled connection outlives a gate run.

    GX keeps one engine per data source and one per execution engine and offers no public call to
    release them; the attributes read here are those of GX 1.24 (pinned in requirements.txt).
    """
    for datasource in context.data_sources.all().values():
        execution_engine = getattr(datasource, "_execution_engine", None)
        if execution_engine is not None:
            execution_engine.close()
            datasource._execution_engine = None
        engine = getattr(datasource, "_engine", None)
        if engine is not None:
            engine.dispose()
