"""Engine configuration and durability of the SQL adapter: SQLite pragmas and write lock,
PostgreSQL isolation, committed writes surviving a restart."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from parley.domain.entities import EntityId, Manager, UssAvailability, UssAvailabilityState
from parley.domain.extent import Extent4D
from parley.ports.repositories import TransientConflict
from parley.services.transact import transact
from parley.storage.sql import migrate
from parley.storage.sql.engine import make_engine, normalise_url
from parley.storage.sql.uow import SqlStore, SqlUnitOfWork
from parley.testing.postgres import PostgresServer

AVAILABILITY = UssAvailability(Manager("uss1"), UssAvailabilityState.DOWN, "v7")


@pytest.mark.parametrize(
    "url",
    [
        "postgres://u:p@db:5433/parley",
        "postgresql://u:p@db:5433/parley",
        "postgresql+psycopg://u:p@db:5433/parley",
    ],
)
def test_postgres_urls_use_psycopg3(url: str) -> None:
    assert normalise_url(url).render_as_string(False) == "postgresql+psycopg://u:p@db:5433/parley"


@pytest.mark.parametrize("url", ["mysql://u@h/db", "postgresql+psycopg2://u@h/db", "oracle://h"])
def test_other_databases_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="unsupported database URL"):
        normalise_url(url)


def test_sqlite_connections_are_configured(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "parley.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            pragma = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
            connection.rollback()
    finally:
        engine.dispose()
    assert path.parent.is_dir()  # the parent directory was created
    assert pragma == {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1, "busy_timeout": 30000}


def test_sqlite_transactions_hold_the_write_lock(sqlite_url: str) -> None:
    """Every unit of work that may write begins with BEGIN IMMEDIATE: no other writer can start
    until it ends, and one that waits past the busy timeout gets TransientConflict. Read-only
    units of work read the last committed snapshot meanwhile."""
    store = SqlStore(sqlite_url, sqlite_busy_timeout_s=0.2)
    path = sqlite_url.removeprefix("sqlite:///")
    try:
        with store.unit_of_work() as holder:
            assert holder.repo.get_uss_availability(Manager("uss1")) is None
            other = sqlite3.connect(path, timeout=0, isolation_level=None)
            try:
                with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                    other.execute("BEGIN IMMEDIATE")
            finally:
                other.close()
            started = time.monotonic()
            with pytest.raises(TransientConflict, match="database is locked"), store.unit_of_work():
                pass
            assert 0.15 <= time.monotonic() - started < 10.0  # it waited for the busy timeout
            holder.repo.set_uss_availability(AVAILABILITY)
            with store.unit_of_work(readonly=True) as reader:  # not blocked; sees no uncommitted write
                assert reader.repo.get_uss_availability(Manager("uss1")) is None
            holder.commit()
        with store.unit_of_work() as uow:  # the lock is free again
            assert uow.repo.get_uss_availability(Manager("uss1")) == AVAILABILITY
    finally:
        store.dispose()


def test_committed_write_survives_reopening(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'var' / 'parley.db'}"
    migrate.upgrade(url)
    store = SqlStore(url)
    with store.unit_of_work() as uow:
        uow.repo.set_uss_availability(AVAILABILITY)
        uow.commit()
    with store.unit_of_work() as uow:
        uow.repo.set_uss_availability(UssAvailability(Manager("uss2"), UssAvailabilityState.NORMAL, "x"))
        # never committed
    store.dispose()

    reopened = SqlStore(url)
    try:
        with reopened.unit_of_work() as uow:
            assert uow.repo.get_uss_availability(Manager("uss1")) == AVAILABILITY
            assert uow.repo.get_uss_availability(Manager("uss2")) is None
    finally:
        reopened.dispose()
    # An independent reader (no SQLAlchemy) sees the same.
    raw = sqlite3.connect(tmp_path / "var" / "parley.db")
    try:
        assert raw.execute("SELECT uss, availability, version FROM uss_availability").fetchall() == [
            ("uss1", "Down", "v7")
        ]
    finally:
        raw.close()


def test_unit_of_work_outside_its_block_is_refused(sqlite_store: SqlStore) -> None:
    uow = sqlite_store.unit_of_work()
    with pytest.raises(RuntimeError, match="outside"):
        uow.repo.get_uss_availability(Manager("uss1"))


def test_naive_datetimes_are_refused(sqlite_store: SqlStore) -> None:
    with sqlite_store.unit_of_work() as uow, pytest.raises(ValueError, match="naive"):
        uow.repo.delete_expired(datetime(2026, 1, 1))
    with sqlite_store.unit_of_work() as uow:
        assert uow.repo.delete_expired(datetime(2026, 1, 1, tzinfo=UTC)) == 0
        assert uow.repo.dependent_operational_intents(EntityId("x")) == []


@pytest.mark.postgres
def test_postgres_transactions_are_serializable(postgres_store: SqlStore) -> None:
    with postgres_store.engine.connect() as connection:
        level = connection.exec_driver_sql("SHOW transaction_isolation").scalar()
        connection.rollback()
    assert level == "serializable"
    assert postgres_store.engine.dialect.driver == "psycopg"


@pytest.mark.postgres
def test_postgres_committed_write_survives_a_new_store(postgres_url: str, postgres_store: SqlStore) -> None:
    with postgres_store.unit_of_work() as uow:
        uow.repo.set_uss_availability(AVAILABILITY)
        uow.commit()
    other = SqlStore(postgres_url.replace("postgresql+psycopg://", "postgres://"))
    try:
        with other.unit_of_work() as uow:
            assert uow.repo.get_uss_availability(Manager("uss1")) == AVAILABILITY
    finally:
        other.dispose()


def test_sqlite_writers_of_two_stores_exclude_each_other(sqlite_url: str) -> None:
    """Two stores on one file (two server processes): the second writer waits for SQLite's lock."""
    first = SqlStore(sqlite_url, sqlite_busy_timeout_s=0.2)
    second = SqlStore(sqlite_url, sqlite_busy_timeout_s=0.2)
    try:
        with first.unit_of_work() as holder:
            holder.repo.set_uss_availability(AVAILABILITY)
            with pytest.raises(TransientConflict, match="database is locked"), second.unit_of_work():
                pass
            with second.unit_of_work(readonly=True) as reader:
                assert reader.repo.get_uss_availability(Manager("uss1")) is None
            holder.commit()
        with second.unit_of_work(readonly=True) as reader:
            assert reader.repo.get_uss_availability(Manager("uss1")) == AVAILABILITY
    finally:
        first.dispose()
        second.dispose()


def _scalar(uow: SqlUnitOfWork, sql: str) -> Any:
    """The one value ``sql`` selects, in the unit of work's transaction (on its DB-API cursor)."""
    cursor = uow.repo._cursor()  # type: ignore[attr-defined]
    cursor.execute(sql)
    return cursor.fetchone()[0]


@pytest.mark.postgres
def test_postgres_readonly_units_of_work_refuse_writes(postgres_store: SqlStore) -> None:
    """A read-only unit of work is a READ ONLY snapshot; its pooled connection is writable again
    for the next unit of work."""
    with postgres_store.unit_of_work(readonly=True) as reader:
        assert reader.repo.get_uss_availability(Manager("uss1")) is None
        with pytest.raises(Exception, match="read-only transaction"):
            reader.repo.set_uss_availability(AVAILABILITY)
    for _ in range(3):  # whichever pooled connection comes next
        with postgres_store.unit_of_work() as uow:
            level = _scalar(uow, "SHOW transaction_isolation")
            assert level == "serializable"
            uow.repo.set_uss_availability(AVAILABILITY)
            uow.commit()


@pytest.mark.postgres
@pytest.mark.parametrize("readonly", [False, True])
def test_postgres_lost_connections_are_retried(
    postgres_server: PostgresServer, postgres_url: str, postgres_store: SqlStore, readonly: bool
) -> None:
    """Pooled connections killed by the server (a restart, a failover) are found dead by the next
    transaction's first statement: it is retried on a fresh connection and succeeds."""
    store = SqlStore(postgres_url)  # its own pools: the session's store is left alone
    try:
        pids = []
        for ro in (False, True):
            with store.unit_of_work(readonly=ro) as uow:
                if not ro:
                    uow.repo.set_uss_availability(AVAILABILITY)
                pids.append(_scalar(uow, "SELECT pg_backend_pid()"))
                uow.commit()
        admin = sa.create_engine(postgres_server.url("postgres"), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                for pid in pids:
                    assert connection.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})").scalar()
        finally:
            admin.dispose()
        with (
            pytest.raises(TransientConflict, match="connection lost"),
            store.unit_of_work(readonly=readonly) as uow,
        ):
            uow.repo.get_uss_availability(Manager("uss1"))
        found = transact(
            store.unit_of_work,
            lambda repo: repo.get_uss_availability(Manager("uss1")),
            retries=3,
            readonly=readonly,
        )
        assert found == AVAILABILITY
    finally:
        store.dispose()


@pytest.mark.postgres
def test_postgres_standalone_read_runs_alone_without_a_transaction(postgres_store: SqlStore) -> None:
    """A read-only unit of work whose first statement reads all it needs sends it alone, in
    autocommit mode (no BEGIN, no COMMIT: one statement is one snapshot); nothing may follow it.
    Any other read-only work gets its snapshot transaction, on connections given back to the pool
    as they came."""
    everywhere = Extent4D(frozenset({1, 2}), None, None, None, None)
    idle, in_transaction = psycopg.pq.TransactionStatus.IDLE, psycopg.pq.TransactionStatus.INTRANS
    for _ in range(3):
        with postgres_store.unit_of_work(readonly=True) as uow:
            assert uow.repo.search_operational_intents_with_availability(everywhere) == ([], {})
            assert uow._connection.dbapi_connection.info.transaction_status == idle  # type: ignore[attr-defined]
            with pytest.raises(RuntimeError, match="only statement"):
                uow.repo.get_uss_availability(Manager("uss1"))
        with postgres_store.unit_of_work(readonly=True) as uow:
            assert uow.repo.get_uss_availability(Manager("uss1")) is None
            assert uow._connection.dbapi_connection.info.transaction_status == in_transaction  # type: ignore[attr-defined]
            assert uow.repo.search_operational_intents_with_availability(everywhere) == ([], {})
