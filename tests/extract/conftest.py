"""Fixtures for the extract tests (data and helpers live in extract_testdata.py).

``pg`` is overridden here: the tests of a module share the module's throw-away databases
(``pg_module``) and each test starts from empty ones because the ERP and warehouse schemas are
dropped before it. Dropping schemas is instant, whereas dropping a database forces a server
checkpoint, which costs seconds per test on a busy machine.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from extract_testdata import SCHEMA_SQL, SEED_SQL, Database

from nova_corrente import db_roles
from nova_corrente.extract.warehouse_setup import WAREHOUSE_SCHEMAS
from nova_corrente.settings import PostgresSettings


@pytest.fixture
def pg(pg_module: PostgresSettings) -> PostgresSettings:
    """The module's databases, emptied: no erp schema, empty warehouse schemas as setup leaves them."""
    Database(pg_module, pg_module.erp_db).execute("drop schema if exists erp cascade")
    Database(pg_module, pg_module.warehouse_db).execute(
        "".join(f"drop schema if exists {schema} cascade;" for schema in WAREHOUSE_SCHEMAS)
    )
    db_roles.provision(pg_module)
    return pg_module


@pytest.fixture
def erp(pg: PostgresSettings) -> Iterator[Database]:
    """The test's ERP database with the contract schema and the hand-written day-1 rows."""
    database = Database(pg, pg.erp_db)
    database.execute(SCHEMA_SQL)
    database.execute(SEED_SQL)
    yield database


@pytest.fixture
def warehouse(pg: PostgresSettings) -> Database:
    """The test's (empty) warehouse database."""
    return Database(pg, pg.warehouse_db)
