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
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects import sqlite as sqlite_dialect
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
from parley.storage.sql.engine import SQLITE_BUSY_TIMEOUT_S, make_engine

T = TypeVar("T")

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
def translate_errors() -> Iterator[None]:
    """Re-raise the database's serialization failures as :class:`TransientConflict`."""
    try:
        yield
    except sa_exc.DBAPIError as error:
        if is_transient(error):
            raise TransientConflict(str(error.orig)) from error
        raise


@dataclass(frozen=True, slots=True)
class _Kind(Generic[T]):
    """An entity type with an extent: its table, its cells table and how to build it from rows."""

    table: sa.Table
    cells: sa.Table
    from_row: Callable[[mapping.Row, Iterable[int]], T]
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
        self, statement: sa.Executable, rows: list[dict[str, Any]] | None = None
    ) -> sa.CursorResult[Any]:
        connection = self._connection()
        with translate_errors():
            if rows is None:
                return connection.execute(statement)
            return connection.execute(statement, rows)

    def _in_cells(self, column: sa.ColumnElement[int], cells: frozenset[int]) -> sa.ColumnElement[bool]:
        """``column`` is one of ``cells``, as a single bound value."""
        ordered = sorted(cells)
        if self._postgres:
            array = sa.literal(ordered, pg.ARRAY(sa.BigInteger()))
            return column == sa.any_(array)
        values = sa.func.json_each(sa.literal(json.dumps(ordered), sa.Text())).table_valued("value")
        return column.in_(sa.select(values.c.value))

    def _area_conditions(self, kind: _Kind[T], area: Extent4D) -> list[sa.ColumnElement[bool]]:
        """Conditions on ``kind.table`` selecting the entities that may intersect ``area``."""
        t = kind.table
        in_area = sa.select(kind.cells.c.entity_id).where(self._in_cells(kind.cells.c.cell_id, area.cells))
        conditions: list[sa.ColumnElement[bool]] = [t.c.id.in_(in_area)]
        # Closed bounds: [s1, e1] and [s2, e2] overlap unless e2 < s1 or e1 < s2; NULL is unbounded.
        if area.time_start is not None:
            start = mapping.to_us(area.time_start)
            conditions.append(sa.or_(t.c.time_end_us.is_(None), t.c.time_end_us >= start))
        if area.time_end is not None:
            end = mapping.to_us(area.time_end)
            conditions.append(sa.or_(t.c.time_start_us.is_(None), t.c.time_start_us <= end))
        if area.altitude_lower_m is not None:
            lower = float(area.altitude_lower_m)
            conditions.append(sa.or_(t.c.altitude_upper_m.is_(None), t.c.altitude_upper_m >= lower))
        if area.altitude_upper_m is not None:
            upper = float(area.altitude_upper_m)
            conditions.append(sa.or_(t.c.altitude_lower_m.is_(None), t.c.altitude_lower_m <= upper))
        return conditions

    def _cells_of(self, kind: _Kind[T], ids: sa.Select[Any]) -> dict[EntityId, list[int]]:
        """The cells of the entities whose ids ``ids`` selects."""
        c = kind.cells
        found: dict[EntityId, list[int]] = {}
        result = self._execute(sa.select(c.c.entity_id, c.c.cell_id).where(c.c.entity_id.in_(ids)))
        for row in result.mappings():
            found.setdefault(EntityId(row["entity_id"]), []).append(int(row["cell_id"]))
        return found

    def _build(
        self, kind: _Kind[T], rows: Iterable[mapping.Row], cells: dict[EntityId, list[int]]
    ) -> list[T]:
        built = [kind.from_row(row, cells.get(EntityId(row["id"]), ())) for row in rows]
        built.sort(key=kind.entity_id)
        return built

    def _get(self, kind: _Kind[T], entity_id: EntityId) -> T | None:
        row = self._execute(sa.select(kind.table).where(kind.table.c.id == entity_id)).mappings().first()
        if row is None:
            return None
        cells = self._execute(sa.select(kind.cells.c.cell_id).where(kind.cells.c.entity_id == entity_id))
        return kind.from_row(row, cells.scalars())

    def _search(self, kind: _Kind[T], area: Extent4D, *extra: sa.ColumnElement[bool]) -> list[T]:
        if not area.cells:
            return []
        conditions = [*self._area_conditions(kind, area), *extra]
        rows = self._execute(sa.select(kind.table).where(*conditions)).mappings().all()
        if not rows:
            return []
        return self._build(kind, rows, self._cells_of(kind, sa.select(kind.table.c.id).where(*conditions)))

    def _upsert_statement(self, table: sa.Table, row: dict[str, Any], key: str) -> sa.Executable:
        """INSERT ... ON CONFLICT (key) DO UPDATE of every other column (no DELETE: no cascade)."""
        if self._postgres:
            pg_insert = pg.insert(table).values(row)
            return pg_insert.on_conflict_do_update(
                index_elements=[table.c[key]],
                set_={name: pg_insert.excluded[name] for name in row if name != key},
            )
        lite_insert = sqlite_dialect.insert(table).values(row)
        return lite_insert.on_conflict_do_update(
            index_elements=[table.c[key]],
            set_={name: lite_insert.excluded[name] for name in row if name != key},
        )

    def _upsert(self, kind: _Kind[T], row: dict[str, Any], extent: Extent4D) -> None:
        entity_id = EntityId(row["id"])
        self._execute(self._upsert_statement(kind.table, row, "id"))
        self._execute(sa.delete(kind.cells).where(kind.cells.c.entity_id == entity_id))
        if extent.cells:
            self._execute(sa.insert(kind.cells), mapping.cell_rows(entity_id, extent.cells))

    def _delete(self, kind: _Kind[T], entity_id: EntityId) -> None:
        self._execute(sa.delete(kind.cells).where(kind.cells.c.entity_id == entity_id))
        self._execute(sa.delete(kind.table).where(kind.table.c.id == entity_id))

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
        if manager is None:
            return self._search(_SUBSCRIPTIONS, area)
        return self._search(_SUBSCRIPTIONS, area, tables.subscriptions.c.manager == manager)

    def upsert_subscription(self, subscription: Subscription) -> None:
        self._upsert(_SUBSCRIPTIONS, mapping.subscription_row(subscription), subscription.extent)

    def delete_subscription(self, subscription_id: EntityId) -> None:
        self._delete(_SUBSCRIPTIONS, subscription_id)

    def notify_subscriptions(
        self, area: Extent4D, *, for_operational_intents: bool, for_constraints: bool
    ) -> list[Subscription]:
        s = tables.subscriptions
        wanted: list[sa.ColumnElement[bool]] = []
        if for_operational_intents:
            wanted.append(s.c.notify_for_operational_intents.is_(True))
        if for_constraints:
            wanted.append(s.c.notify_for_constraints.is_(True))
        if not wanted or not area.cells:
            return []
        conditions = [*self._area_conditions(_SUBSCRIPTIONS, area), sa.or_(*wanted)]
        # One statement: the increment is atomic whatever else runs concurrently.
        bump = (
            sa.update(s)
            .where(*conditions)
            .values(notification_index=s.c.notification_index + 1)
            .returning(*s.c)
        )
        rows = self._execute(bump).mappings().all()
        if not rows:
            return []
        cells = self._cells_of(_SUBSCRIPTIONS, sa.select(s.c.id).where(*conditions))
        return self._build(_SUBSCRIPTIONS, rows, cells)

    # -- USS availability and reports ------------------------------------------------------------
    def get_uss_availability(self, uss: Manager) -> UssAvailability | None:
        t = tables.uss_availability
        row = self._execute(sa.select(t).where(t.c.uss == uss)).mappings().first()
        return None if row is None else mapping.availability_from_row(row)

    def set_uss_availability(self, availability: UssAvailability) -> None:
        row = mapping.availability_row(availability)
        self._execute(self._upsert_statement(tables.uss_availability, row, "uss"))

    def add_report(self, report: DssReport) -> None:
        row = mapping.report_row(report)
        self._execute(self._upsert_statement(tables.dss_reports, row, "report_id"))

    # -- housekeeping ----------------------------------------------------------------------------
    def delete_expired(self, before: datetime) -> int:
        cutoff = mapping.to_us(before)
        removed = 0
        oi, c = tables.operational_intents, tables.constraints
        removed += self._delete_where(_OPERATIONAL_INTENTS, oi.c.time_end_us < cutoff)
        removed += self._delete_where(_CONSTRAINTS, c.c.time_end_us < cutoff)
        s = tables.subscriptions
        # After the expired operational intents are gone: a subscription still depended on stays.
        depended_on = sa.exists().where(oi.c.subscription_id == s.c.id)
        stale = sa.and_(~depended_on, sa.or_(s.c.time_end_us < cutoff, s.c.implicit.is_(True)))
        removed += self._delete_where(_SUBSCRIPTIONS, stale)
        return removed


class SqlUnitOfWork:
    """One serializable transaction on a connection of ``engine``.

    The transaction begins on ``__enter__`` (on SQLite that takes the write lock, waiting up to the
    busy timeout); leaving without :meth:`commit` rolls back. After :meth:`commit` or
    :meth:`rollback` the next statement begins a new transaction. Serialization failures, on any
    statement or on commit, raise :class:`TransientConflict`.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
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

    def __enter__(self) -> Self:
        if self._connection is not None:
            raise RuntimeError("unit of work entered twice")
        with translate_errors():
            self._connection = self._engine.connect()
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
        if connection is not None:
            connection.close()

    def commit(self) -> None:
        """Commit what this unit of work did; raises :class:`TransientConflict` on a lost race."""
        transaction, self._transaction = self._transaction, None
        if transaction is not None:
            with translate_errors():
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

    def unit_of_work(self) -> SqlUnitOfWork:
        """A new unit of work (a transaction once entered)."""
        return SqlUnitOfWork(self.engine)

    def create_all(self) -> None:
        """Create the tables directly (tests only: production databases are migrated with Alembic)."""
        tables.metadata.create_all(self.engine)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
