"""Alembic migrations: up, down and up again on SQLite and PostgreSQL, ending with exactly the
schema of ``tables.py``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from parley.domain.entities import Manager
from parley.domain.extent import Extent4D
from parley.storage.sql import migrate, tables
from parley.storage.sql.engine import make_engine
from parley.storage.sql.uow import SqlStore

SCHEMA_TABLES = {t.name for t in tables.ALL_TABLES}


def _table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _schema_differences(url: str) -> list[Any]:
    """What autogenerate would change to bring the database to ``tables.metadata`` (nothing, we hope)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff: list[Any] = compare_metadata(context, tables.metadata)
            connection.rollback()
            return diff
    finally:
        engine.dispose()


def _sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'nested' / 'dir' / 'parley.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty database (never migrated) of each dialect."""
    if request.param == "sqlite":
        return _sqlite(tmp_path)
    server = request.getfixturevalue("postgres_server")
    create: Callable[[str], str] = server.create_database
    return create("parley_migrations")


def test_upgrade_downgrade_upgrade(empty_database: str) -> None:
    url = empty_database
    assert migrate.head_revision() == "0004"
    migrate.upgrade(url)
    assert migrate.current_revision(url) == "0004"
    assert _table_names(url) == SCHEMA_TABLES | {"alembic_version"}
    assert _schema_differences(url) == []

    migrate.downgrade(url, "base")
    assert migrate.current_revision(url) is None
    assert _table_names(url) - {"alembic_version"} == set()

    migrate.upgrade(url)
    assert migrate.current_revision(url) == "0004"
    assert _schema_differences(url) == []
    migrate.upgrade(url)  # already at head: a no-op
    assert migrate.current_revision(url) == "0004"


def test_migrated_database_is_usable(empty_database: str) -> None:
    migrate.upgrade(empty_database)
    store = SqlStore(empty_database)
    try:
        with store.unit_of_work() as uow:
            assert uow.repo.get_uss_availability(Manager("nobody")) is None
            assert uow.repo.search_operational_intents(Extent4D(frozenset({1}), None, None, None, None)) == []
    finally:
        store.dispose()


def test_create_all_matches_the_migrations(tmp_path: Path) -> None:
    url = _sqlite(tmp_path)
    store = SqlStore(url)
    try:
        store.create_all()
    finally:
        store.dispose()
    assert _table_names(url) == SCHEMA_TABLES
    assert _schema_differences(url) == []


def test_unmigrated_database_differs(tmp_path: Path) -> None:
    """The schema comparison above can fail: an empty database is reported as missing every table."""
    url = _sqlite(tmp_path)
    added = {d[1].name for d in _schema_differences(url) if d[0] == "add_table"}
    assert added == SCHEMA_TABLES


@pytest.mark.postgres
def test_line_entries_are_append_only_on_postgresql(postgres_server: Any) -> None:
    url = postgres_server.create_database("parley_append_only")
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                tables.line_entries.insert().values(
                    holder="red", hash="sha256:" + "0" * 64, author="red", seq=1, kind="key",
                    thread=None, at_us=0, entry="{}", received_us=0,
                )
            )  # fmt: skip
        for statement in (
            tables.line_entries.update().values(entry='{"forged":true}'),
            tables.line_entries.delete(),
        ):
            with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as connection:
                connection.execute(statement)
        with engine.connect() as connection:
            assert connection.execute(sa.select(tables.line_entries.c.entry)).scalar_one() == "{}"
    finally:
        engine.dispose()
