"""Shared fixtures: a throwaway PostgreSQL server for the session, migrated SQLite databases, and
``uow_factory``, one unit-of-work factory per storage adapter (memory, SQLite, PostgreSQL), so that
one contract suite runs against every adapter.

The PostgreSQL server is real: ``initdb`` into a temporary directory, started with ``pg_ctl`` on a
free localhost port (as the ``postgres`` user when the tests run as root, since PostgreSQL refuses
to run as root), stopped and removed at the end of the session. Tests share one migrated database
whose tables are emptied before each test that uses it.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from parley.domain.entities import DssReport, EntityId
from parley.ports.repositories import UnitOfWork
from parley.storage.memory import MemoryStore
from parley.storage.sql import mapping, migrate, tables
from parley.storage.sql.uow import SqlStore
from parley.testing.postgres import PostgresServer, PostgresUnavailable, temporary_postgres


# -- PostgreSQL server --------------------------------------------------------------------------
@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for this test session (trust authentication on 127.0.0.1 only)."""
    try:
        with temporary_postgres() as server:
            yield server
    except PostgresUnavailable as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """URL of a migrated PostgreSQL database shared by the session (see ``postgres_store``)."""
    url = postgres_server.create_database("parley_test")
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def _postgres_session_store(postgres_url: str) -> Iterator[SqlStore]:
    store = SqlStore(postgres_url)
    yield store
    store.dispose()


def _truncate_all(store: SqlStore) -> None:
    names = ", ".join(f'"{t.name}"' for t in tables.ALL_TABLES)
    with store.engine.connect() as connection:
        connection.exec_driver_sql(f"TRUNCATE {names}")
        connection.commit()


@pytest.fixture
def postgres_store(_postgres_session_store: SqlStore) -> SqlStore:
    """The session's PostgreSQL store, every table emptied."""
    _truncate_all(_postgres_session_store)
    return _postgres_session_store


# -- SQLite -------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database file to copy (cheaper than migrating for every test)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "parley.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(_sqlite_template: Path, tmp_path: Path) -> str:
    """URL of a fresh, migrated SQLite database file for this test."""
    path = tmp_path / "db" / "parley.db"
    path.parent.mkdir()
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[SqlStore]:
    store = SqlStore(sqlite_url)
    yield store
    store.dispose()


# -- one factory per adapter --------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Backend:
    """A storage adapter under test: its units of work, and a peek at the stored reports (the port
    can only add them)."""

    name: str
    uow_factory: Callable[[], UnitOfWork]
    stored_reports: Callable[[], dict[EntityId, DssReport]]


def _sql_reports(store: SqlStore) -> Callable[[], dict[EntityId, DssReport]]:
    def read() -> dict[EntityId, DssReport]:
        with store.engine.connect() as connection:
            rows = connection.execute(sa.select(tables.dss_reports)).mappings().all()
            connection.rollback()
        reports = (mapping.report_from_row(row) for row in rows)
        return {r.report_id: r for r in reports}

    return read


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each storage adapter in turn, empty."""
    name: str = request.param
    if name == "memory":
        memory = MemoryStore()
        return Backend(name, memory.unit_of_work, lambda: dict(memory.reports))
    store: SqlStore = request.getfixturevalue(f"{name}_store")
    return Backend(name, store.unit_of_work, _sql_reports(store))


@pytest.fixture
def uow_factory(backend: Backend) -> Callable[[], UnitOfWork]:
    """Makes units of work on each storage adapter in turn (memory, SQLite, PostgreSQL)."""
    return backend.uow_factory
