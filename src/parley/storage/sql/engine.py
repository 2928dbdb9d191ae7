"""Engines for the two supported databases, configured for serializable, durable transactions.

SQLite (embedded, one host): WAL journal, ``synchronous=FULL`` (an acknowledged commit survives a
power loss), foreign keys enforced, and every transaction opened with ``BEGIN IMMEDIATE`` so that
transactions are serialized by SQLite's write lock; a transaction waits up to the busy timeout for
the lock, then fails with "database is locked" (reported as
:class:`~parley.ports.repositories.TransientConflict`).

PostgreSQL (shared, several DSS processes): psycopg 3, ``SERIALIZABLE`` isolation (conflicts
surface as SQLSTATE 40001, also reported as ``TransientConflict``); a pooled connection found dead
by a transaction's first statements is reported the same way, so the use case is retried.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine

#: How long a SQLite transaction waits for the write lock before giving up, seconds.
SQLITE_BUSY_TIMEOUT_S = 30.0
#: SQLite page cache per connection, KiB, and how much of the file is memory-mapped, bytes.
SQLITE_CACHE_KIB = 32 * 1024
SQLITE_MMAP_BYTES = 256 * 1024 * 1024
#: Connections kept open per PostgreSQL engine (and as many more on demand).
POSTGRES_POOL_SIZE = 10

#: Execution option marking a SQLite connection's transaction as read-only (see ``_on_begin``).
READONLY_OPTION = "parley_readonly"

_POSTGRES_DRIVERS = ("postgresql", "postgres", "postgresql+psycopg")


def normalise_url(url: str) -> URL:
    """Parse a database URL; PostgreSQL URLs get the psycopg 3 driver.

    >>> normalise_url("postgres://u@h/db").render_as_string()
    'postgresql+psycopg://u@h/db'
    >>> normalise_url("sqlite:///var/parley.db").drivername
    'sqlite'
    """
    # SQLAlchemy does not know the "postgres" scheme: rewrite it before parsing.
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    parsed = sa.make_url(url)
    if parsed.drivername in _POSTGRES_DRIVERS:
        return parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        return parsed
    raise ValueError(f"unsupported database URL scheme `{parsed.drivername}`: use sqlite:// or postgresql://")


def is_sqlite(url: URL) -> bool:
    """True for a SQLite URL."""
    return url.get_backend_name() == "sqlite"


def _sqlite_file(url: URL) -> Path | None:
    """The database file of a SQLite URL, or None for an in-memory database."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def make_engine(
    url: str,
    *,
    sqlite_busy_timeout_s: float = SQLITE_BUSY_TIMEOUT_S,
    pool_size: int = POSTGRES_POOL_SIZE,
    readonly: bool = False,
) -> Engine:
    """An engine for ``url`` (``sqlite:///PATH`` or ``postgresql://...``).

    For SQLite the parent directory of the database file is created. ``sqlite_busy_timeout_s`` is
    how long a transaction waits for SQLite's write lock, seconds; ``pool_size`` the number of
    pooled PostgreSQL connections. ``readonly`` (PostgreSQL): connections whose transactions are
    ``REPEATABLE READ READ ONLY`` snapshots, set once per connection (reads need no predicate
    locks, and switching a pooled connection per transaction would cost round trips).
    """
    parsed = normalise_url(url)
    if is_sqlite(parsed):
        return _sqlite_engine(parsed, sqlite_busy_timeout_s)
    return sa.create_engine(
        parsed,
        isolation_level="REPEATABLE READ" if readonly else "SERIALIZABLE",
        connect_args={"options": "-c default_transaction_read_only=on"} if readonly else {},
        # No ping before each use (a round trip per transaction): a connection found dead by its
        # first statement is reported as TransientConflict and the use case is retried on a new one.
        pool_pre_ping=False,
        pool_size=pool_size,
        max_overflow=pool_size,
    )


def _sqlite_engine(url: URL, busy_timeout_s: float) -> Engine:
    path = _sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": busy_timeout_s})
    busy_timeout_ms = round(busy_timeout_s * 1000)
    in_memory = path is None

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN (below) instead of the sqlite3 module's deferred, implicit one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms:d}")
            # A large index stays in memory: 32 MiB page cache per connection, reads memory-mapped.
            cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB:d}")
            cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES:d}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        if connection.get_execution_options().get(READONLY_OPTION):
            # A read-only transaction: a WAL snapshot, concurrent with the writer.
            connection.exec_driver_sql("BEGIN DEFERRED")
            return
        # Take the write lock now: transactions are serialized, and a read never has to be
        # upgraded to a write (which SQLite cannot wait for).
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
