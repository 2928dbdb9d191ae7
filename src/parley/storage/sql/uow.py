"""The SQL storage adapter: :class:`SqlRepository` and :class:`SqlUnitOfWork` over SQLite or
PostgreSQL, built from a :class:`SqlStore`.

A search is one indexed lookup of the area's cells in the entity's ``*_cells`` table, filtered by
the closed altitude and time bounds of the area (``NULL`` and ``None`` meaning unbounded, exactly as
:meth:`parley.domain.extent.Extent4D.may_intersect`). The area's cells travel as ONE bound value
whatever their number (a ``bigint[]`` for ``= ANY`` on PostgreSQL, a JSON array read by
``json_each`` on SQLite), so no statement ever approaches a driver's limit on bound variables.

Results are sorted by id in Python (code-point order, as the in-memory adapter), whatever the
database's collation.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import Connection, Engine, RootTransaction

from parley.domain.entities import (
    ConstraintReference,
    DssReport,
    EntityId,
    Manager,
    OperationalIntentReference,
    Subscription,
    UssAvailability,
)
from parley.domain.extent import Extent4D
from parley.ports.repositories import DssRepository, TransientConflict
from parley.storage.sql import mapping, tables
from parley.storage.sql.engine import READONLY_OPTION, SQLITE_BUSY_TIMEOUT_S, make_engine

T = TypeVar("T")

#: Textual statements by dialect and SQL string (a bounded set: a few shapes per entity kind and dialect).
_TEXT_CACHE: dict[tuple[bool, str], sa.TextClause] = {}

#: The availability records of several USSs, in one statement (an expanding IN list).
_AVAILABILITIES = sa.select(tables.uss_availability).where(
    tables.uss_availability.c.uss.in_(sa.bindparam("usses", expanding=True))
)

#: PostgreSQL SQLSTATEs of transactions aborted because of concurrent ones: retrying may succeed.
_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected


def is_transient(error: sa_exc.DBAPIError) -> bool:
    """True when ``error`` reports a transaction that lost a race (worth retrying)."""
    orig = error.orig
    if getattr(orig, "sqlstate", None) in _TRANSIENT_SQLSTATES:
        return True
    if isinstance(orig, sqlite3.OperationalError):
        name = str(getattr(orig, "sqlite_errorname", ""))
        return name.startswith("SQLITE_BUSY") or "database is locked" in str(orig)
    return False


@contextmanager
def translate_errors(*, retry_disconnects: bool = True) -> Iterator[None]:
    """Re-raise the database's serialization failures as :class:`TransientConflict`, and a lost
    connection too when ``retry_disconnects`` (SQLAlchemy has then discarded the pool's stale
    connections, so a retry gets a fresh one). Not on commit: whether a commit whose connection
    dropped took effect is unknown, and running the use case again could answer wrongly."""
    try:
        yield
    except sa_exc.DBAPIError as error:
        if is_transient(error):
            raise TransientConflict(str(error.orig)) from error
        if retry_disconnects and error.connection_invalidated:
            raise TransientConflict(f"database connection lost: {error.orig}") from error
        raise


@dataclass(frozen=True, slots=True)
class _Kind(Generic[T]):
    """An entity type with an extent: its table, its cells table and how to build it from rows."""

    table: sa.Table
    cells: sa.Table
    from_row: Callable[[mapping.Row], T]
    entity_id: Callable[[T], EntityId]


_OPERATIONAL_INTENTS: _Kind[OperationalIntentReference] = _Kind(
    tables.operational_intents,
    tables.operational_intent_cells,
    mapping.operational_intent_from_row,
    lambda e: e.id,
)
_CONSTRAINTS: _Kind[ConstraintReference] = _Kind(
    tables.constraints, tables.constraint_cells, mapping.constraint_from_row, lambda e: e.id
)
_SUBSCRIPTIONS: _Kind[Subscription] = _Kind(
    tables.subscriptions, tables.subscription_cells, mapping.subscription_from_row, lambda e: e.id
)


class SqlRepository:
    """:class:`parley.ports.repositories.DssRepository` on the connection of a unit of work.

    ``connection`` returns the unit of work's connection, inside a transaction.
    """

    def __init__(self, connection: Callable[[], Connection], *, postgres: bool) -> None:
        self._connection = connection
        self._postgres = postgres

    # -- plumbing ------------------------------------------------------------------------------
    def _execute(
        self, statement: sa.Executable, params: dict[str, Any] | list[dict[str, Any]] | None = None
    ) -> sa.CursorResult[Any]:
        """Run ``statement`` (with one parameter set, or many) in the unit of work's transaction."""
        connection = self._connection()
        with translate_errors():
            return connection.execute(statement, params)

    def _execute_text(self, sql: str, params: dict[str, Any] | list[dict[str, Any]]) -> sa.CursorResult[Any]:
        return self._execute(self._text(sql), params)

    def _area_where(self, kind: _Kind[T], area: Extent4D) -> tuple[str, dict[str, Any]]:
        """SQL condition on ``kind.table`` (unqualified columns) selecting the entities that may
        intersect ``area``, and its parameters.

        Plain SQL, built from a handful of fixed fragments: this is the DSS's hottest statement,
        and building it as a SQLAlchemy expression cost more than running it. The area's cells
        travel as one bound value (``= ANY`` of a ``bigint[]`` on PostgreSQL, ``json_each`` on
        SQLite). Bounds are closed: [s1, e1] and [s2, e2] overlap unless e2 < s1 or e1 < s2;
        NULL is unbounded.
        """
        cells = kind.cells.name
        ordered = sorted(area.cells)
        if self._postgres:
            in_cells = f"id IN (SELECT entity_id FROM {cells} WHERE cell_id = ANY(:area_cells))"
            params: dict[str, Any] = {"area_cells": ordered}
        else:
            in_cells = f"id IN (SELECT entity_id FROM {cells} WHERE cell_id IN (SELECT value FROM json_each(:area_cells)))"
            params = {"area_cells": json.dumps(ordered)}
        parts = [in_cells]
        if area.time_start is not None:
            parts.append("(time_end_us IS NULL OR time_end_us >= :time_start)")
            params["time_start"] = mapping.to_us(area.time_start)
        if area.time_end is not None:
            parts.append("(time_start_us IS NULL OR time_start_us <= :time_end)")
            params["time_end"] = mapping.to_us(area.time_end)
        if area.altitude_lower_m is not None:
            parts.append("(altitude_upper_m IS NULL OR altitude_upper_m >= :altitude_lower)")
            params["altitude_lower"] = float(area.altitude_lower_m)
        if area.altitude_upper_m is not None:
            parts.append("(altitude_lower_m IS NULL OR altitude_lower_m <= :altitude_upper)")
            params["altitude_upper"] = float(area.altitude_upper_m)
        return " AND ".join(parts), params

    def _text(self, sql: str) -> sa.TextClause:
        """A textual statement, compiled once per distinct SQL string."""
        key = (self._postgres, sql)  # the same SQL may be bound differently per dialect
        statement = _TEXT_CACHE.get(key)
        if statement is None:
            statement = sa.text(sql)
            if self._postgres and ":area_cells" in sql:
                statement = statement.bindparams(sa.bindparam("area_cells", type_=pg.ARRAY(sa.BigInteger())))
            _TEXT_CACHE[key] = statement
        return statement

    def _build(self, kind: _Kind[T], rows: Iterable[mapping.Row]) -> list[T]:
        built = [kind.from_row(row) for row in rows]
        built.sort(key=kind.entity_id)
        return built

    def _get(self, kind: _Kind[T], entity_id: EntityId) -> T | None:
        sql = f"SELECT * FROM {kind.table.name} WHERE id = :id"
        row = self._execute_text(sql, {"id": entity_id}).mappings().first()
        return None if row is None else kind.from_row(row)

    def _search(self, kind: _Kind[T], area: Extent4D, manager: Manager | None = None) -> list[T]:
        if not area.cells:
            return []
        where, params = self._area_where(kind, area)
        if manager is not None:
            where += " AND manager = :manager"
            params["manager"] = manager
        sql = f"SELECT * FROM {kind.table.name} WHERE {where}"
        return self._build(kind, self._execute_text(sql, params).mappings())

    def _upsert_row(self, table: sa.Table, row: dict[str, Any], key: str) -> None:
        """INSERT ... ON CONFLICT (key) DO UPDATE of every other column (no DELETE: no cascade);
        the same SQL on SQLite and PostgreSQL."""
        columns = list(row)
        updates = ", ".join(f"{name} = excluded.{name}" for name in columns if name != key)
        sql = (
            f"INSERT INTO {table.name} ({', '.join(columns)}) "
            f"VALUES ({', '.join(':' + name for name in columns)}) "
            f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
        )
        self._execute_text(sql, row)

    def _upsert(self, kind: _Kind[T], row: dict[str, Any], extent: Extent4D) -> None:
        entity_id = EntityId(row["id"])
        self._upsert_row(kind.table, row, "id")
        cells = kind.cells.name
        self._execute_text(f"DELETE FROM {cells} WHERE entity_id = :id", {"id": entity_id})
        if extent.cells:
            insert = f"INSERT INTO {cells} (entity_id, cell_id) VALUES (:entity_id, :cell_id)"
            self._execute_text(insert, mapping.cell_rows(entity_id, extent.cells))

    def _delete(self, kind: _Kind[T], entity_id: EntityId) -> None:
        params = {"id": entity_id}
        self._execute_text(f"DELETE FROM {kind.cells.name} WHERE entity_id = :id", params)
        self._execute_text(f"DELETE FROM {kind.table.name} WHERE id = :id", params)

    def _delete_where(self, kind: _Kind[T], condition: sa.ColumnElement[bool]) -> int:
        """Delete the entities matching ``condition`` (a condition on ``kind.table``) and their cells."""
        doomed = sa.select(kind.table.c.id).where(condition)
        self._execute(sa.delete(kind.cells).where(kind.cells.c.entity_id.in_(doomed)))
        return int(self._execute(sa.delete(kind.table).where(condition)).rowcount)

    # -- operational intent references ---------------------------------------------------------
    def get_operational_intent(self, entity_id: EntityId) -> OperationalIntentReference | None:
        return self._get(_OPERATIONAL_INTENTS, entity_id)

    def search_operational_intents(self, area: Extent4D) -> list[OperationalIntentReference]:
        return self._search(_OPERATIONAL_INTENTS, area)

    def upsert_operational_intent(self, oir: OperationalIntentReference) -> None:
        self._upsert(_OPERATIONAL_INTENTS, mapping.operational_intent_row(oir), oir.extent)

    def delete_operational_intent(self, entity_id: EntityId) -> None:
        self._delete(_OPERATIONAL_INTENTS, entity_id)

    def dependent_operational_intents(self, subscription_id: EntityId) -> list[EntityId]:
        t = tables.operational_intents
        result = self._execute(sa.select(t.c.id).where(t.c.subscription_id == subscription_id))
        return sorted(EntityId(i) for i in result.scalars())

    # -- constraint references -----------------------------------------------------------------
    def get_constraint(self, entity_id: EntityId) -> ConstraintReference | None:
        return self._get(_CONSTRAINTS, entity_id)

    def search_constraints(self, area: Extent4D) -> list[ConstraintReference]:
        return self._search(_CONSTRAINTS, area)

    def upsert_constraint(self, constraint: ConstraintReference) -> None:
        self._upsert(_CONSTRAINTS, mapping.constraint_row(constraint), constraint.extent)

    def delete_constraint(self, entity_id: EntityId) -> None:
        self._delete(_CONSTRAINTS, entity_id)

    # -- subscriptions -------------------------------------------------------------------------
    def get_subscription(self, subscription_id: EntityId) -> Subscription | None:
        return self._get(_SUBSCRIPTIONS, subscription_id)

    def search_subscriptions(self, area: Extent4D, manager: Manager | None = None) -> list[Subscription]:
        return self._search(_SUBSCRIPTIONS, area, manager)

    def upsert_subscription(self, subscription: Subscription) -> None:
        self._upsert(_SUBSCRIPTIONS, mapping.subscription_row(subscription), subscription.extent)

    def delete_subscription(self, subscription_id: EntityId) -> None:
        self._delete(_SUBSCRIPTIONS, subscription_id)

    def notify_subscriptions(
        self, area: Extent4D, *, for_operational_intents: bool, for_constraints: bool
    ) -> list[Subscription]:
        wanted: list[str] = []
        if for_operational_intents:
            wanted.append("notify_for_operational_intents")
        if for_constraints:
            wanted.append("notify_for_constraints")
        if not wanted or not area.cells:
            return []
        where, params = self._area_where(_SUBSCRIPTIONS, area)
        flags = " OR ".join(f"{flag} = :true" for flag in wanted)
        params["true"] = True
        # One statement: the increment is atomic whatever else runs concurrently.
        sql = (
            f"UPDATE {tables.subscriptions.name} SET notification_index = notification_index + 1 "
            f"WHERE {where} AND ({flags}) RETURNING *"
        )
        return self._build(_SUBSCRIPTIONS, self._execute_text(sql, params).mappings())

    # -- USS availability and reports ------------------------------------------------------------
    def get_uss_availability(self, uss: Manager) -> UssAvailability | None:
        sql = f"SELECT * FROM {tables.uss_availability.name} WHERE uss = :uss"
        row = self._execute_text(sql, {"uss": uss}).mappings().first()
        return None if row is None else mapping.availability_from_row(row)

    def get_uss_availabilities(self, usses: Collection[Manager]) -> dict[Manager, UssAvailability]:
        if not usses:
            return {}
        result = self._execute(_AVAILABILITIES, {"usses": sorted(usses)})
        records = (mapping.availability_from_row(row) for row in result.mappings())
        return {record.uss: record for record in records}

    def set_uss_availability(self, availability: UssAvailability) -> None:
        row = mapping.availability_row(availability)
        self._upsert_row(tables.uss_availability, row, "uss")

    def add_report(self, report: DssReport) -> None:
        row = mapping.report_row(report)
        self._upsert_row(tables.dss_reports, row, "report_id")

    # -- housekeeping ----------------------------------------------------------------------------
    def delete_expired(self, before: datetime) -> int:
        cutoff = mapping.to_us(before)
        removed = 0
        oi, c = tables.operational_intents, tables.constraints
        # The subscriptions of the intents about to expire (by the time_end index, not a scan).
        expiring = self._execute(
            sa.select(oi.c.subscription_id)
            .where(oi.c.time_end_us < cutoff, oi.c.subscription_id.is_not(None))
            .distinct()
        )
        orphan_candidates = sorted(str(i) for i in expiring.scalars())
        removed += self._delete_where(_OPERATIONAL_INTENTS, oi.c.time_end_us < cutoff)
        removed += self._delete_where(_CONSTRAINTS, c.c.time_end_us < cutoff)
        s = tables.subscriptions
        # After the expired operational intents are gone: a subscription still depended on stays.
        depended_on = sa.exists().where(oi.c.subscription_id == s.c.id)
        orphaned = sa.and_(s.c.implicit.is_(True), s.c.id.in_(orphan_candidates))
        stale = sa.and_(sa.or_(s.c.time_end_us < cutoff, orphaned), ~depended_on)
        removed += self._delete_where(_SUBSCRIPTIONS, stale)
        return removed


class SqlUnitOfWork:
    """One serializable transaction on a connection of ``engine``.

    The transaction begins on ``__enter__`` (on SQLite that takes the write lock, waiting up to the
    busy timeout); leaving without :meth:`commit` rolls back. After :meth:`commit` or
    :meth:`rollback` the next statement begins a new transaction. Serialization failures, on any
    statement or on commit, raise :class:`TransientConflict`.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        readonly: bool = False,
        write_lock: threading.Lock | None = None,
        lock_timeout_s: float = SQLITE_BUSY_TIMEOUT_S,
    ) -> None:
        self._engine = engine
        self._lock_timeout_s = lock_timeout_s
        self._readonly = readonly
        self._write_lock = None if readonly else write_lock
        self._locked = False
        self._connection: Connection | None = None
        self._transaction: RootTransaction | None = None
        self.repo: DssRepository = SqlRepository(
            self._active_connection, postgres=engine.dialect.name == "postgresql"
        )

    def _active_connection(self) -> Connection:
        """The connection, inside a transaction (begun now when none is)."""
        connection = self._connection
        if connection is None:
            raise RuntimeError("unit of work used outside its `with` block")
        if self._transaction is None:
            with translate_errors():
                self._transaction = connection.begin()
        return connection

    @property
    def connection(self) -> Connection:
        """The transaction's connection, for adapters that keep other tables on the same database
        (the party nodes' store)."""
        return self._active_connection()

    def __enter__(self) -> Self:
        if self._connection is not None:
            raise RuntimeError("unit of work entered twice")
        if self._write_lock is not None:
            # Writers of this process queue here rather than in SQLite's sleeping busy handler.
            if not self._write_lock.acquire(timeout=self._lock_timeout_s):
                raise TransientConflict("database is locked (by another writer of this process)")
            self._locked = True
        try:
            with translate_errors():
                connection = self._engine.connect()
                if self._readonly and self._engine.dialect.name == "sqlite":
                    connection.execution_options(**{READONLY_OPTION: True})
                self._connection = connection
        except BaseException:
            self._close()
            raise
        try:
            self._active_connection()
        except BaseException:
            self._close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.rollback()
        finally:
            self._close()

    def _close(self) -> None:
        connection, self._connection, self._transaction = self._connection, None, None
        try:
            if connection is not None:
                connection.close()
        finally:
            if self._locked and self._write_lock is not None:
                self._locked = False
                self._write_lock.release()

    def commit(self) -> None:
        """Commit what this unit of work did; raises :class:`TransientConflict` on a lost race."""
        transaction, self._transaction = self._transaction, None
        if transaction is not None:
            with translate_errors(retry_disconnects=False):
                transaction.commit()

    def rollback(self) -> None:
        """Discard what this unit of work did since it began or last committed."""
        transaction, self._transaction = self._transaction, None
        if transaction is not None and transaction.is_active:
            transaction.rollback()


class SqlStore:
    """A database (SQLite or PostgreSQL URL) and the units of work on it.

    Creating a store connects to nothing; the first unit of work does. ``sqlite_busy_timeout_s``:
    how long a SQLite transaction waits for the write lock, seconds.
    """

    def __init__(self, url: str, *, sqlite_busy_timeout_s: float = SQLITE_BUSY_TIMEOUT_S) -> None:
        self.engine = make_engine(url, sqlite_busy_timeout_s=sqlite_busy_timeout_s)
        sqlite = self.engine.dialect.name == "sqlite"
        # PostgreSQL: read-only units of work use their own pool of read-only snapshot connections.
        self._read_engine = self.engine if sqlite else make_engine(url, readonly=True)
        self._write_lock = threading.Lock() if sqlite else None
        self._lock_timeout_s = sqlite_busy_timeout_s

    def unit_of_work(self, *, readonly: bool = False) -> SqlUnitOfWork:
        """A new unit of work (a transaction once entered); ``readonly``: a snapshot read that takes
        no write lock (SQLite) and no predicate locks (PostgreSQL)."""
        return SqlUnitOfWork(
            self._read_engine if readonly else self.engine,
            readonly=readonly,
            write_lock=self._write_lock,
            lock_timeout_s=self._lock_timeout_s,
        )

    def create_all(self) -> None:
        """Create the tables directly (tests only: production databases are migrated with Alembic)."""
        tables.metadata.create_all(self.engine)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
        if self._read_engine is not self.engine:
            self._read_engine.dispose()
