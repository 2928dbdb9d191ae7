"""The SQL storage adapter: :class:`SqlRepository` and :class:`SqlUnitOfWork` over SQLite or
PostgreSQL, built from a :class:`SqlStore`.

Plain DB-API statements on one borrowed pooled connection per unit of work (as the line's store,
ADR 0009; here ADR 0011): a DSS transaction is a handful of short indexed statements, and
SQLAlchemy's execution machinery cost more CPU than the statements themselves. SQLAlchemy still
owns the engines (pools, SQLite's pragmas, PostgreSQL's isolation levels) and the schema
(``tables.py``, Alembic). The SQL is fixed text per dialect (``?`` placeholders on SQLite, ``%s`` on
PostgreSQL); rows are read as tuples in a fixed column order.

A search is one indexed lookup of the area's cells in the entity's ``*_cells`` table, filtered by
the closed altitude and time bounds of the area (``NULL`` and ``None`` meaning unbounded, exactly as
:meth:`parley.domain.extent.Extent4D.may_intersect`). The area's cells travel as ONE bound value
whatever their number (a ``bigint[]`` for ``= ANY`` on PostgreSQL, a JSON array read by
``json_each`` on SQLite), so no statement ever approaches a driver's limit on bound variables.
On PostgreSQL an entity and its cells are written by one statement (the row's upsert, the removal
of the cells it left and the insertion of its new ones), so a write costs one round trip.

Results are sorted by id in Python (code-point order, as the in-memory adapter), whatever the
database's collation.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self, TypeVar

import msgspec
import psycopg
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine, RootTransaction

from parley.domain.entities import (
    ConstraintReference,
    DssReport,
    EntityId,
    Manager,
    OperationalIntentReference,
    OperationalIntentState,
    Ovn,
    Subscription,
    UssAvailability,
    UssAvailabilityState,
)
from parley.domain.extent import Extent4D
from parley.ports.repositories import DssRepository, TransientConflict
from parley.storage.sql import mapping
from parley.storage.sql.engine import READONLY_OPTION, SQLITE_BUSY_TIMEOUT_S, make_engine

T = TypeVar("T")

#: PostgreSQL SQLSTATEs of transactions aborted because of concurrent ones: retrying may succeed.
_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected


def is_transient(error: sa_exc.DBAPIError) -> bool:
    """True when ``error`` reports a transaction that lost a race (worth retrying)."""
    return _raw_transient(error.orig)


def _raw_transient(orig: BaseException | None) -> bool:
    """True when a DB-API error reports a transaction that lost a race."""
    if getattr(orig, "sqlstate", None) in _TRANSIENT_SQLSTATES:
        return True
    if isinstance(orig, sqlite3.OperationalError):
        name = str(getattr(orig, "sqlite_errorname", ""))
        return name.startswith("SQLITE_BUSY") or "database is locked" in str(orig)
    return False


def _lost_connection(error: BaseException) -> bool:
    """A PostgreSQL connection that broke: its connection closed, or the server's word that it is
    going (SQLSTATE class 08, connection exception; 57P, operator intervention: a terminated
    backend, a shutdown)."""
    if not isinstance(error, psycopg.OperationalError):
        return False
    sqlstate = str(getattr(error, "sqlstate", None) or "")
    connection = getattr(getattr(error, "cursor", None), "connection", None)
    return sqlstate.startswith(("08", "57P")) or bool(getattr(connection, "closed", False))


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


def _wrapped(error: Exception) -> sa_exc.DBAPIError:
    """A DB-API error wrapped as SQLAlchemy would have (``.orig`` the driver's error): the cause
    of the :class:`TransientConflict` raised for it."""
    return sa_exc.DBAPIError(None, None, error)


# -- rows -----------------------------------------------------------------------------------------
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_cells_decoder = msgspec.json.Decoder(list[int])

_EXTENT = "cells, altitude_lower_m, altitude_upper_m, time_start_us, time_end_us"
_OIR_COLUMNS = f"id, manager, version, state, ovn, uss_base_url, subscription_id, {_EXTENT}"
_OIR_COLUMNS_O = ", ".join(f"o.{c.strip()}" for c in _OIR_COLUMNS.split(","))
_CONSTRAINT_COLUMNS = f"id, manager, version, ovn, uss_base_url, {_EXTENT}"
_SUBSCRIPTION_COLUMNS = (
    "id, manager, version, notification_index, uss_base_url, notify_for_operational_intents, "
    f"notify_for_constraints, implicit, {_EXTENT}"
)


def _time(us: int | None) -> datetime | None:
    return None if us is None else _EPOCH + timedelta(microseconds=us)


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)


def _extent(cells: str, lower: Any, upper: Any, start: Any, end: Any) -> Extent4D:
    return Extent4D(
        frozenset(_cells_decoder.decode(cells)), _float(lower), _float(upper), _time(start), _time(end)
    )


def _oir(row: Sequence[Any]) -> OperationalIntentReference:
    id_, manager, version, state, ovn, url, sub, cells, lower, upper, start, end = row
    return OperationalIntentReference(
        id=EntityId(id_), manager=Manager(manager), version=int(version),
        state=OperationalIntentState(state), ovn=Ovn(ovn), extent=_extent(cells, lower, upper, start, end),
        uss_base_url=url, subscription_id=None if sub is None else EntityId(sub),
    )  # fmt: skip


def _constraint(row: Sequence[Any]) -> ConstraintReference:
    id_, manager, version, ovn, url, cells, lower, upper, start, end = row
    return ConstraintReference(
        id=EntityId(id_), manager=Manager(manager), version=int(version), ovn=Ovn(ovn),
        extent=_extent(cells, lower, upper, start, end), uss_base_url=url,
    )  # fmt: skip


def _subscription(row: Sequence[Any]) -> Subscription:
    id_, manager, version, index, url, for_ops, for_cons, implicit, cells, lower, upper, start, end = row
    return Subscription(
        id=EntityId(id_), manager=Manager(manager), version=version, notification_index=int(index),
        extent=_extent(cells, lower, upper, start, end), uss_base_url=url,
        notify_for_operational_intents=bool(for_ops), notify_for_constraints=bool(for_cons),
        implicit=bool(implicit),
    )  # fmt: skip


def _extent_values(extent: Extent4D) -> tuple[Any, ...]:
    c = mapping.extent_columns(extent)
    return c["cells"], c["altitude_lower_m"], c["altitude_upper_m"], c["time_start_us"], c["time_end_us"]


class _Kind:
    """An entity type with an extent: its table, its cells table, its columns and row builder."""

    __slots__ = ("cells", "columns", "from_row", "table")

    def __init__(self, table: str, columns: str, from_row: Callable[[Sequence[Any]], Any]) -> None:
        self.table = table
        self.cells = table.removesuffix("s") + "_cells"
        self.columns = columns
        self.from_row = from_row


_OPERATIONAL_INTENTS = _Kind("operational_intents", _OIR_COLUMNS, _oir)
_CONSTRAINTS = _Kind("constraints", _CONSTRAINT_COLUMNS, _constraint)
_SUBSCRIPTIONS = _Kind("subscriptions", _SUBSCRIPTION_COLUMNS, _subscription)


def _upsert_sql(table: str, columns: str, key: str) -> str:
    """INSERT ... ON CONFLICT (key) DO UPDATE of every other column (no DELETE: no cascade); the
    same SQL on SQLite and PostgreSQL, ``?`` placeholders."""
    names = [c.strip() for c in columns.split(",")]
    updates = ", ".join(f"{name} = excluded.{name}" for name in names if name != key)
    return (
        f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' for _ in names)}) "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
    )


def _sql(postgres: bool) -> dict[str, str]:
    """The repository's fixed statements for one dialect."""
    statements: dict[str, str] = {
        "availability": "SELECT uss, availability, version FROM uss_availability WHERE uss = ?",
        "availabilities": "SELECT uss, availability, version FROM uss_availability WHERE uss IN_LIST",
        "set_availability": _upsert_sql("uss_availability", "uss, availability, version", "uss"),
        "add_report": _upsert_sql("dss_reports", "report_id, reporter, received_at_us, payload", "report_id"),
        "dependents": "SELECT id FROM operational_intents WHERE subscription_id = ?",
        # Exactly one row: the intent's columns (NULL when there is none) and the USS's availability.
        "oir_and_availability": (
            f"SELECT {_OIR_COLUMNS_O}, a.availability FROM (SELECT 1 AS one) AS single "
            "LEFT JOIN operational_intents o ON o.id = ? LEFT JOIN uss_availability a ON a.uss = ?"
        ),
        "expiring_subscriptions": (
            "SELECT DISTINCT subscription_id FROM operational_intents "
            "WHERE time_end_us < ? AND subscription_id IS NOT NULL"
        ),
        "stale_subscriptions": (
            "(time_end_us < ? OR (implicit = ? AND id IN_LIST)) AND NOT EXISTS "
            "(SELECT 1 FROM operational_intents o WHERE o.subscription_id = subscriptions.id)"
        ),
    }
    for kind in (_OPERATIONAL_INTENTS, _CONSTRAINTS, _SUBSCRIPTIONS):
        t, cells = kind.table, kind.cells
        statements[f"{t}.get"] = f"SELECT {kind.columns} FROM {t} WHERE id = ?"
        statements[f"{t}.upsert"] = _upsert_sql(t, kind.columns, "id")
        statements[f"{t}.delete_cells"] = f"DELETE FROM {cells} WHERE entity_id = ?"
        statements[f"{t}.insert_cell"] = f"INSERT INTO {cells} (entity_id, cell_id) VALUES (?, ?)"
        statements[f"{t}.delete"] = f"DELETE FROM {t} WHERE id = ?"
        if postgres:
            # The row, the cells it no longer has and its new ones, in one statement (one round trip).
            # The two sets of cells are disjoint, so the order in which PostgreSQL runs the parts
            # does not matter; the foreign key is checked at the end of the statement.
            ctes = (
                f"upserted AS ({statements[f'{t}.upsert']} RETURNING id), "
                f"gone AS (DELETE FROM {cells} WHERE entity_id = ? AND cell_id <> ALL(?::bigint[]))"
            )
            insert_cells = (
                f"INSERT INTO {cells} (entity_id, cell_id) SELECT ?, c FROM unnest(?::bigint[]) AS c "
                "ON CONFLICT DO NOTHING"
            )
            statements[f"{t}.upsert_with_cells"] = f"WITH {ctes} {insert_cells}"
            # The same write, to go before a statement that does not read this table (see _run).
            statements[f"{t}.upsert_with_cells_before"] = (
                f"WITH {ctes}, added AS ({insert_cells} RETURNING 1)"
            )
            # The cells go with the row (ON DELETE CASCADE).
            statements[f"{t}.delete_with_cells"] = f"DELETE FROM {t} WHERE id = ?"
    if postgres:
        return {
            name: sql.replace("IN_LIST", "= ANY(?)").replace("?", "%s") for name, sql in statements.items()
        }
    return {
        name: sql.replace("IN_LIST", "IN (SELECT value FROM json_each(?))")
        for name, sql in statements.items()
    }


_SQL = {False: _sql(False), True: _sql(True)}


class SqlRepository:
    """:class:`parley.ports.repositories.DssRepository` on the DB-API cursor of a unit of work.

    ``cursor(standalone)`` returns the unit of work's cursor, inside a transaction; for a
    ``standalone`` statement (one that reads everything its unit of work needs) it may instead
    return it outside any, in autocommit mode (see :class:`SqlUnitOfWork`).
    """

    __slots__ = ("_cursor", "_pending", "_postgres", "_sql")

    def __init__(self, cursor: Callable[..., Any], *, postgres: bool) -> None:
        self._cursor = cursor
        self._postgres = postgres
        self._sql = _SQL[postgres]
        #: PostgreSQL: a subscription's write not sent yet (its statement as a CTE prefix, its
        #: parameters), sent with the next statement that reads no subscription, else before it.
        self._pending: tuple[str, tuple[Any, ...]] | None = None

    def flush(self) -> None:
        """Send the deferred write, if any (before a commit)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            sql, params = pending
            self._run(sql.replace(", added AS (", " ", 1).removesuffix(" RETURNING 1)"), params)

    def discard(self) -> None:
        """Forget the deferred write (the transaction is rolled back)."""
        self._pending = None

    # -- plumbing ------------------------------------------------------------------------------
    def _run(self, sql: str, params: Sequence[Any], *, standalone: bool = False, merge: bool = False) -> Any:
        """Execute ``sql``; ``standalone``: a statement that reads all the unit of work needs;
        ``merge``: a plain SELECT that reads no subscription, so a deferred subscription write may
        go before it in the same statement (one round trip; the SELECT need not see the write)."""
        if self._pending is not None:
            if merge:
                before, before_params = self._pending
                self._pending = None
                sql, params = f"{before} {sql}", (*before_params, *params)
            else:
                self.flush()
        cursor = self._cursor(standalone)
        try:
            cursor.execute(sql, params)
        except Exception as error:
            if _raw_transient(error):
                raise TransientConflict(str(error)) from _wrapped(error)
            if _lost_connection(error):  # the pool replaces it (see _rollback_quietly)
                raise TransientConflict(f"database connection lost: {error}") from _wrapped(error)
            raise
        return cursor

    def _list(self, values: Sequence[Any]) -> Any:
        """A list bound as one value (``IN_LIST``, ``= ANY``)."""
        return list(values) if self._postgres else json.dumps(list(values))

    def _area_where(self, area: Extent4D) -> tuple[str, list[Any]]:
        """SQL condition on an entity table (unqualified columns) selecting the entities that may
        intersect ``area``, its parameters and the cells table to look in (``{cells}``).

        Bounds are closed: [s1, e1] and [s2, e2] overlap unless e2 < s1 or e1 < s2; NULL is
        unbounded.
        """
        ordered = sorted(area.cells)
        if self._postgres:
            parts = ["id IN (SELECT entity_id FROM {cells} WHERE cell_id = ANY(%s::bigint[]))"]
            params: list[Any] = [_pg_array(ordered)]
            mark = "%s"
        else:
            parts = [
                "id IN (SELECT entity_id FROM {cells} WHERE cell_id IN (SELECT value FROM json_each(?)))"
            ]
            params = [json.dumps(ordered)]
            mark = "?"
        if area.time_start is not None:
            parts.append(f"(time_end_us IS NULL OR time_end_us >= {mark})")
            params.append(mapping.to_us(area.time_start))
        if area.time_end is not None:
            parts.append(f"(time_start_us IS NULL OR time_start_us <= {mark})")
            params.append(mapping.to_us(area.time_end))
        if area.altitude_lower_m is not None:
            parts.append(f"(altitude_upper_m IS NULL OR altitude_upper_m >= {mark})")
            params.append(float(area.altitude_lower_m))
        if area.altitude_upper_m is not None:
            parts.append(f"(altitude_lower_m IS NULL OR altitude_lower_m <= {mark})")
            params.append(float(area.altitude_upper_m))
        return " AND ".join(parts), params

    def _get(self, kind: _Kind, entity_id: EntityId) -> Any:
        row = self._run(self._sql[f"{kind.table}.get"], (entity_id,)).fetchone()
        return None if row is None else kind.from_row(row)

    def _search(self, kind: _Kind, area: Extent4D, manager: Manager | None = None) -> list[Any]:
        if not area.cells:
            return []
        where, params = self._area_where(area)
        if manager is not None:
            where += " AND manager = " + ("%s" if self._postgres else "?")
            params.append(manager)
        sql = f"SELECT {kind.columns} FROM {kind.table} WHERE {where.format(cells=kind.cells)}"
        rows = self._run(sql, params, merge=kind is not _SUBSCRIPTIONS).fetchall()
        built = [kind.from_row(row) for row in rows]
        built.sort(key=_entity_id)
        return built

    def _upsert(self, kind: _Kind, values: tuple[Any, ...], extent: Extent4D) -> None:
        t = kind.table
        entity_id = values[0]
        if self._postgres:
            cells = _pg_array(sorted(extent.cells))
            params = (*values, entity_id, cells, entity_id, cells)
            if kind is _SUBSCRIPTIONS:  # deferred: a PUT's implicit subscription goes with its key search
                self.flush()
                self._pending = (self._sql[f"{t}.upsert_with_cells_before"], params)
                return
            self._run(self._sql[f"{t}.upsert_with_cells"], params)
            return
        self._run(self._sql[f"{t}.upsert"], values)
        self._run(self._sql[f"{t}.delete_cells"], (entity_id,))
        if extent.cells:
            cursor = self._cursor()
            try:
                cursor.executemany(
                    self._sql[f"{t}.insert_cell"], [(entity_id, c) for c in sorted(extent.cells)]
                )
            except Exception as error:
                if _raw_transient(error):
                    raise TransientConflict(str(error)) from _wrapped(error)
                raise

    def _delete(self, kind: _Kind, entity_id: EntityId) -> None:
        if self._postgres:
            self._run(self._sql[f"{kind.table}.delete_with_cells"], (entity_id,))
            return
        self._run(self._sql[f"{kind.table}.delete_cells"], (entity_id,))
        self._run(self._sql[f"{kind.table}.delete"], (entity_id,))

    def _delete_where(self, kind: _Kind, condition: str, params: Sequence[Any]) -> int:
        """Delete the entities matching ``condition`` (on ``kind.table``) and their cells."""
        self._run(
            f"DELETE FROM {kind.cells} WHERE entity_id IN (SELECT id FROM {kind.table} WHERE {condition})",
            params,
        )
        return int(self._run(f"DELETE FROM {kind.table} WHERE {condition}", params).rowcount)

    # -- operational intent references ---------------------------------------------------------
    def get_operational_intent(self, entity_id: EntityId) -> OperationalIntentReference | None:
        found: OperationalIntentReference | None = self._get(_OPERATIONAL_INTENTS, entity_id)
        return found

    def search_operational_intents(self, area: Extent4D) -> list[OperationalIntentReference]:
        return self._search(_OPERATIONAL_INTENTS, area)

    def upsert_operational_intent(self, oir: OperationalIntentReference) -> None:
        self._upsert(_OPERATIONAL_INTENTS, self._oir_values(oir), oir.extent)

    @staticmethod
    def _oir_values(oir: OperationalIntentReference) -> tuple[Any, ...]:
        return (
            oir.id, oir.manager, oir.version, oir.state.value, oir.ovn, oir.uss_base_url, oir.subscription_id,
            *_extent_values(oir.extent),
        )  # fmt: skip

    def delete_operational_intent(self, entity_id: EntityId) -> None:
        self._delete(_OPERATIONAL_INTENTS, entity_id)

    def search_operational_intents_with_availability(
        self, area: Extent4D
    ) -> tuple[list[OperationalIntentReference], dict[Manager, UssAvailabilityState]]:
        if not area.cells:
            return [], {}
        where, params = self._area_where(area)
        sql = (
            f"SELECT {_OIR_COLUMNS_O}, a.availability FROM operational_intents o "
            f"LEFT JOIN uss_availability a ON a.uss = o.manager WHERE {where.format(cells=_OPERATIONAL_INTENTS.cells)}"
        )
        rows = self._run(sql, params, standalone=True, merge=True).fetchall()
        found = [_oir(row[:-1]) for row in rows]
        found.sort(key=_entity_id)
        known = {Manager(row[1]): _availability_state(row[-1]) for row in rows}
        return found, known

    def upsert_operational_intent_and_notify(
        self, oir: OperationalIntentReference, area: Extent4D
    ) -> list[Subscription]:
        if not self._postgres or not area.cells:
            self.upsert_operational_intent(oir)
            return self.notify_subscriptions(area, for_operational_intents=True, for_constraints=False)
        # One statement: the notification reads no operational intent, so it need not see the upsert.
        cells = _pg_array(sorted(oir.extent.cells))
        where, params = self._area_where(area)
        sql = (
            self._sql["operational_intents.upsert_with_cells"].replace(
                ") INSERT INTO operational_intent_cells",
                "), cells_added AS (INSERT INTO operational_intent_cells",
                1,
            )
            + " RETURNING 1) UPDATE subscriptions SET notification_index = notification_index + 1 "
            f"WHERE {where.format(cells=_SUBSCRIPTIONS.cells)} AND (notify_for_operational_intents = %s) "
            f"RETURNING {_SUBSCRIPTION_COLUMNS}"
        )
        values = (*self._oir_values(oir), oir.id, cells, oir.id, cells, *params, True)
        built = [_subscription(row) for row in self._run(sql, values).fetchall()]
        built.sort(key=_entity_id)
        return built

    def get_operational_intent_and_availability(
        self, entity_id: EntityId, uss: Manager
    ) -> tuple[OperationalIntentReference | None, UssAvailabilityState]:
        row = self._run(self._sql["oir_and_availability"], (entity_id, uss), standalone=True).fetchone()
        oir = None if row[0] is None else _oir(row[:-1])
        return oir, _availability_state(row[-1])

    def dependent_operational_intents(self, subscription_id: EntityId) -> list[EntityId]:
        rows = self._run(self._sql["dependents"], (subscription_id,)).fetchall()
        return sorted(EntityId(row[0]) for row in rows)

    # -- constraint references -----------------------------------------------------------------
    def get_constraint(self, entity_id: EntityId) -> ConstraintReference | None:
        found: ConstraintReference | None = self._get(_CONSTRAINTS, entity_id)
        return found

    def search_constraints(self, area: Extent4D) -> list[ConstraintReference]:
        return self._search(_CONSTRAINTS, area)

    def upsert_constraint(self, constraint: ConstraintReference) -> None:
        c = constraint
        values = (c.id, c.manager, c.version, c.ovn, c.uss_base_url, *_extent_values(c.extent))
        self._upsert(_CONSTRAINTS, values, c.extent)

    def delete_constraint(self, entity_id: EntityId) -> None:
        self._delete(_CONSTRAINTS, entity_id)

    # -- subscriptions -------------------------------------------------------------------------
    def get_subscription(self, subscription_id: EntityId) -> Subscription | None:
        found: Subscription | None = self._get(_SUBSCRIPTIONS, subscription_id)
        return found

    def search_subscriptions(self, area: Extent4D, manager: Manager | None = None) -> list[Subscription]:
        return self._search(_SUBSCRIPTIONS, area, manager)

    def upsert_subscription(self, subscription: Subscription) -> None:
        s = subscription
        values = (
            s.id, s.manager, s.version, s.notification_index, s.uss_base_url, s.notify_for_operational_intents,
            s.notify_for_constraints, s.implicit, *_extent_values(s.extent),
        )  # fmt: skip
        self._upsert(_SUBSCRIPTIONS, values, s.extent)

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
        where, params = self._area_where(area)
        mark = "%s" if self._postgres else "?"
        flags = " OR ".join(f"{flag} = {mark}" for flag in wanted)
        params += [True] * len(wanted)
        # One statement: the increment is atomic whatever else runs concurrently.
        sql = (
            "UPDATE subscriptions SET notification_index = notification_index + 1 "
            f"WHERE {where.format(cells=_SUBSCRIPTIONS.cells)} AND ({flags}) RETURNING {_SUBSCRIPTION_COLUMNS}"
        )
        built = [_subscription(row) for row in self._run(sql, params).fetchall()]
        built.sort(key=_entity_id)
        return built

    # -- USS availability and reports ------------------------------------------------------------
    def get_uss_availability(self, uss: Manager) -> UssAvailability | None:
        row = self._run(self._sql["availability"], (uss,)).fetchone()
        return None if row is None else _availability(row)

    def get_uss_availabilities(self, usses: Collection[Manager]) -> dict[Manager, UssAvailability]:
        if not usses:
            return {}
        rows = self._run(self._sql["availabilities"], (self._list(sorted(usses)),)).fetchall()
        records = (_availability(row) for row in rows)
        return {record.uss: record for record in records}

    def set_uss_availability(self, availability: UssAvailability) -> None:
        a = availability
        self._run(self._sql["set_availability"], (a.uss, a.availability.value, a.version))

    def add_report(self, report: DssReport) -> None:
        row = mapping.report_row(report)
        values = (row["report_id"], row["reporter"], row["received_at_us"], row["payload"])
        self._run(self._sql["add_report"], values)

    # -- housekeeping ----------------------------------------------------------------------------
    def delete_expired(self, before: datetime) -> int:
        cutoff = mapping.to_us(before)
        mark = "%s" if self._postgres else "?"
        # The subscriptions of the intents about to expire (by the time_end index, not a scan).
        expiring = self._run(self._sql["expiring_subscriptions"], (cutoff,)).fetchall()
        orphan_candidates = sorted(str(row[0]) for row in expiring)
        removed = self._delete_where(_OPERATIONAL_INTENTS, f"time_end_us < {mark}", (cutoff,))
        removed += self._delete_where(_CONSTRAINTS, f"time_end_us < {mark}", (cutoff,))
        # After the expired operational intents are gone: a subscription still depended on stays.
        params = (cutoff, True, self._list(orphan_candidates))
        removed += self._delete_where(_SUBSCRIPTIONS, self._sql["stale_subscriptions"], params)
        return removed


def _pg_array(values: list[int]) -> str:
    """A PostgreSQL array literal of integers, cast to ``bigint[]`` by the statement (cheaper for
    the driver than adapting a list).

    >>> _pg_array([-3, 5])
    '{-3,5}'
    """
    return "{" + ",".join(str(int(v)) for v in values) + "}"


def _entity_id(entity: Any) -> str:
    return str(entity.id)


def _availability_state(value: str | None) -> UssAvailabilityState:
    return UssAvailabilityState.UNKNOWN if value is None else UssAvailabilityState(value)


def _availability(row: Sequence[Any]) -> UssAvailability:
    uss, availability, version = row
    return UssAvailability(uss=Manager(uss), availability=UssAvailabilityState(availability), version=version)


class SqlUnitOfWork:
    """One serializable transaction on a pooled DB-API connection of ``engine``.

    The transaction begins on ``__enter__`` (on SQLite ``BEGIN IMMEDIATE``, which takes the write
    lock, waiting up to the busy timeout; ``BEGIN DEFERRED`` for a read-only one; on PostgreSQL
    with the first statement, at the engine's isolation level); leaving without :meth:`commit`
    rolls back. After :meth:`commit` or :meth:`rollback` the next statement begins a new
    transaction. Serialization failures, on any statement or on commit, raise
    :class:`TransientConflict`.
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
        self._postgres = engine.dialect.name == "postgresql"
        self._lock_timeout_s = lock_timeout_s
        self._readonly = readonly
        self._write_lock = None if readonly else write_lock
        self._locked = False
        self._connection: Any = None
        self._cursor: Any = None
        self._open = False  # a transaction is open (SQLite: we began it)
        # PostgreSQL, read-only: nothing sent yet and the connection in autocommit mode, so that a
        # standalone read runs alone (one statement is one snapshot: no BEGIN, no COMMIT).
        self._deferred = False
        self._alone = False  # a standalone read ran outside any transaction
        self._repo = SqlRepository(self._cursor_for, postgres=self._postgres)
        self.repo: DssRepository = self._repo

    def _cursor_for(self, standalone: bool = False) -> Any:
        """The cursor, inside a transaction (begun now when none is); for a ``standalone`` read
        first in a read-only PostgreSQL unit of work, outside any (it must then be the only
        statement until the next commit or rollback)."""
        cursor = self._cursor
        if cursor is None:
            raise RuntimeError("unit of work used outside its `with` block")
        if self._alone:
            raise RuntimeError("a standalone read must be the only statement of its transaction")
        if self._deferred:
            if standalone:
                self._alone = True
                return cursor
            self._connection.dbapi_connection.autocommit = False
            self._deferred = False
        if not self._open:
            self._begin(cursor)
        return cursor

    def _begin(self, cursor: Any) -> None:
        if not self._postgres:  # PostgreSQL: psycopg begins with the next statement
            try:
                cursor.execute("BEGIN DEFERRED" if self._readonly else "BEGIN IMMEDIATE")
            except Exception as error:
                if _raw_transient(error):
                    raise TransientConflict(str(error)) from _wrapped(error)
                raise
        self._open = True

    def __enter__(self) -> Self:
        if self._cursor is not None:
            raise RuntimeError("unit of work entered twice")
        if self._write_lock is not None:
            # Writers of this process queue here rather than in SQLite's sleeping busy handler.
            if not self._write_lock.acquire(timeout=self._lock_timeout_s):
                raise TransientConflict("database is locked (by another writer of this process)")
            self._locked = True
        try:
            try:
                self._connection = self._engine.raw_connection()
            except sa_exc.DBAPIError as error:
                raise TransientConflict(f"no database connection: {error.orig}") from error
            self._cursor = self._connection.cursor()
            if self._postgres and self._readonly:
                self._connection.dbapi_connection.autocommit = True
                self._deferred = True
            else:
                self._begin(self._cursor)
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
        connection, cursor = self._connection, self._cursor
        self._connection = self._cursor = None
        self._open = self._alone = False
        if connection is not None and self._postgres and self._readonly:
            # Back to the pool as it came: the other stores on this engine expect transactions.
            self._deferred = False
            with contextlib.suppress(Exception):  # a broken connection: the pool discards it
                connection.dbapi_connection.autocommit = False
        try:
            if cursor is not None:
                with contextlib.suppress(Exception):  # a broken connection: closed below
                    cursor.close()
            if connection is not None:
                connection.close()  # back to the pool (which rolls back what is left)
        finally:
            if self._locked and self._write_lock is not None:
                self._locked = False
                self._write_lock.release()

    def commit(self) -> None:
        """Commit what this unit of work did; raises :class:`TransientConflict` on a lost race."""
        self._alone = False
        self._repo.flush()  # the deferred write, if any (it begins the transaction if none is open)
        if not self._open:
            return
        self._open = False
        try:
            if self._postgres:
                self._connection.commit()
            else:
                self._cursor.execute("COMMIT")
        except Exception as error:
            # Not retried when the commit fails otherwise: whether it took effect is unknown.
            if _raw_transient(error):
                self._rollback_quietly()
                raise TransientConflict(str(error)) from _wrapped(error)
            raise

    def rollback(self) -> None:
        """Discard what this unit of work did since it began or last committed."""
        self._alone = False
        self._repo.discard()
        if not self._open:
            return
        self._open = False
        self._rollback_quietly()

    def _rollback_quietly(self) -> None:
        connection = self._connection
        if connection is None:
            return
        try:
            if self._postgres:
                connection.rollback()
            elif connection.dbapi_connection.in_transaction:
                self._cursor.execute("ROLLBACK")
        except Exception:  # the connection is gone: the pool replaces it
            connection.invalidate()


class ConnectionUnitOfWork:
    """One transaction on a SQLAlchemy :class:`~sqlalchemy.engine.Connection` of ``engine``, for
    the stores written with SQLAlchemy (:func:`parley.storage.sql.retry.run`): the same
    transactions as :class:`SqlUnitOfWork` (``BEGIN IMMEDIATE`` / ``DEFERRED`` on SQLite, the
    engine's isolation level on PostgreSQL)."""

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

    @property
    def connection(self) -> Connection:
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
        if self._write_lock is not None:
            if not self._write_lock.acquire(timeout=self._lock_timeout_s):
                raise TransientConflict("database is locked (by another writer of this process)")
            self._locked = True
        try:
            with translate_errors():
                connection = self._engine.connect()
                if self._readonly and self._engine.dialect.name == "sqlite":
                    connection.execution_options(**{READONLY_OPTION: True})
                self._connection = connection
            _ = self.connection
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
        """Commit; raises :class:`TransientConflict` on a lost race."""
        transaction, self._transaction = self._transaction, None
        if transaction is not None:
            with translate_errors(retry_disconnects=False):
                transaction.commit()

    def rollback(self) -> None:
        """Discard what was done since the transaction began."""
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

    def connection_unit_of_work(self, *, readonly: bool = False) -> ConnectionUnitOfWork:
        """A transaction on a SQLAlchemy connection (see :class:`ConnectionUnitOfWork`)."""
        return ConnectionUnitOfWork(
            self._read_engine if readonly else self.engine,
            readonly=readonly,
            write_lock=self._write_lock,
            lock_timeout_s=self._lock_timeout_s,
        )

    def create_all(self) -> None:
        """Create the tables directly (tests only: production databases are migrated with Alembic)."""
        from parley.storage.sql import tables

        tables.metadata.create_all(self.engine)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
        if self._read_engine is not self.engine:
            self._read_engine.dispose()
