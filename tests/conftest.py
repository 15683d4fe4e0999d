"""Shared fixtures: a real PostgreSQL server and throw-away databases on it.

Tests never mock PostgreSQL. The session starts the platform's embedded server (or uses the
external one configured with NOVA_PG_HOST) and every test that needs databases gets its own,
named ``t<pid>_<n>_{erp,warehouse,airflow}``, dropped afterwards, so tests never touch demo data
and can run next to a running demo. The databases get the platform's roles and grants
(``db_roles.provision``), as ``nova db start`` gives the demo's: the code under test connects as
its components' roles; fixtures set data up as the administrator and call ``provision`` again when
they created tables (it gives them to their schema's owner, as for a warehouse from before the roles).
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from nova_corrente import db_roles, postgres_server
from nova_corrente.settings import PostgresSettings, postgres_settings

_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> PostgresSettings:
    """The running server (embedded by default); database names are not to be used as is."""
    return postgres_server.ensure_running(postgres_settings())


def fresh_settings(server: PostgresSettings, label: str = "") -> PostgresSettings:
    """Settings pointing at three new, empty databases on ``server``."""
    prefix = f"t{os.getpid()}_{next(_counter)}{label}_"
    pg = dataclasses.replace(
        server, erp_db=prefix + "erp", warehouse_db=prefix + "warehouse", airflow_db=prefix + "airflow"
    )
    postgres_server.drop_databases(pg, pg.databases)
    postgres_server.ensure_databases(pg)
    db_roles.provision(pg)
    return pg


@pytest.fixture
def pg(pg_server: PostgresSettings) -> Iterator[PostgresSettings]:
    """Function-scoped: empty erp/warehouse/airflow databases for this test only."""
    settings = fresh_settings(pg_server)
    yield settings
    postgres_server.drop_databases(settings, settings.databases)


@pytest.fixture(scope="module")
def pg_module(pg_server: PostgresSettings) -> Iterator[PostgresSettings]:
    """Module-scoped variant, for tests that share one expensive setup (a pipeline run)."""
    settings = fresh_settings(pg_server, "m")
    yield settings
    postgres_server.drop_databases(settings, settings.databases)


@pytest.fixture(scope="session")
def gx_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the committed GX project, so validation results land in a temporary folder."""
    from nova_corrente.quality.context import PROJECT_ROOT

    root = tmp_path_factory.mktemp("gx_project")
    shutil.copytree(PROJECT_ROOT / "gx", root / "gx", ignore=shutil.ignore_patterns("uncommitted"))
    return root
