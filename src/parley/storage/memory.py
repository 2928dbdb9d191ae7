"""In-memory storage: the fake for unit tests and the fast backend for simulation.

One process-wide lock serializes units of work (so they are trivially serializable); an undo log
rolls back a unit of work that is not committed. Cell indexes (cell -> ids) make searches touch
only the cells asked for, as the SQL adapters do.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Collection
from datetime import datetime
from types import TracebackType
from typing import Generic, Protocol, Self, TypeVar

from parley.domain.entities import (
    ConstraintReference,
    DssReport,
    EntityId,
    Manager,
    OperationalIntentReference,
    Subscription,
    UssAvailability,
    UssAvailabilityState,
)
from parley.domain.extent import Extent4D


class _HasExtent(Protocol):
    @property
    def id(self) -> EntityId: ...

    @property
    def extent(self) -> Extent4D: ...


E = TypeVar("E", bound=_HasExtent)


class _Table(Generic[E]):
    """Rows by id plus an index from cell to ids."""

    def __init__(self) -> None:
        self.rows: dict[EntityId, E] = {}
        self.by_cell: dict[int, set[EntityId]] = {}

    def put(self, row: E) -> None:
        self.remove(row.id)
        self.rows[row.id] = row
        for cell in row.extent.cells:
            self.by_cell.setdefault(cell, set()).add(row.id)

    def remove(self, entity_id: EntityId) -> None:
        old = self.rows.pop(entity_id, None)
        if old is None:
            return
        for cell in old.extent.cells:
            ids = self.by_cell.get(cell)
            if ids is not None:
                ids.discard(entity_id)
                if not ids:
                    del self.by_cell[cell]

    def search(self, area: Extent4D) -> list[E]:
        candidates: set[EntityId] = set()
        for cell in area.cells:
            candidates.update(self.by_cell.get(cell, ()))
        found = [self.rows[i] for i in candidates if self.rows[i].extent.may_intersect(area)]
        found.sort(key=lambda r: r.id)
        return found


class MemoryStore:
    """The shared state behind every :class:`MemoryUnitOfWork` of one store."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.operational_intents: _Table[OperationalIntentReference] = _Table()
        self.constraints: _Table[ConstraintReference] = _Table()
        self.subscriptions: _Table[Subscription] = _Table()
        self.availability: dict[Manager, UssAvailability] = {}
        self.reports: dict[EntityId, DssReport] = {}

    def unit_of_work(self, *, readonly: bool = False) -> MemoryUnitOfWork:
        """A new unit of work (``readonly`` changes nothing here: every one holds the store's lock)."""
        return MemoryUnitOfWork(self)


class MemoryRepository:
    """:class:`parley.ports.repositories.DssRepository` over a :class:`MemoryStore`."""

    def __init__(self, store: MemoryStore, undo: list[Callable[[], None]]) -> None:
        self._s = store
        self._undo = undo

    def _put(self, table: _Table[E], row: E) -> None:
        old = table.rows.get(row.id)
        table.put(row)
        self._undo.append((lambda: table.put(old)) if old is not None else (lambda: table.remove(row.id)))

    def _remove(self, table: _Table[E], entity_id: EntityId) -> None:
        old = table.rows.get(entity_id)
        if old is None:
            return
        table.remove(entity_id)
        self._undo.append(lambda: table.put(old))

    # operational intents
    def get_operational_intent(self, entity_id: EntityId) -> OperationalIntentReference | None:
        return self._s.operational_intents.rows.get(entity_id)

    def search_operational_intents(self, area: Extent4D) -> list[OperationalIntentReference]:
        return self._s.operational_intents.search(area)

    def upsert_operational_intent(self, oir: OperationalIntentReference) -> None:
        self._put(self._s.operational_intents, oir)

    def search_operational_intents_with_availability(
        self, area: Extent4D
    ) -> tuple[list[OperationalIntentReference], dict[Manager, UssAvailabilityState]]:
        found = self.search_operational_intents(area)
        return found, {o.manager: self._availability(o.manager) for o in found}

    def upsert_operational_intent_and_notify(
        self, oir: OperationalIntentReference, area: Extent4D
    ) -> list[Subscription]:
        self.upsert_operational_intent(oir)
        return self.notify_subscriptions(area, for_operational_intents=True, for_constraints=False)

    def get_operational_intent_and_availability(
        self, entity_id: EntityId, uss: Manager
    ) -> tuple[OperationalIntentReference | None, UssAvailabilityState]:
        return self.get_operational_intent(entity_id), self._availability(uss)

    def _availability(self, uss: Manager) -> UssAvailabilityState:
        record = self._s.availability.get(uss)
        return UssAvailabilityState.UNKNOWN if record is None else record.availability

    def delete_operational_intent(self, entity_id: EntityId) -> None:
        self._remove(self._s.operational_intents, entity_id)

    def dependent_operational_intents(self, subscription_id: EntityId) -> list[EntityId]:
        return sorted(
            oir.id
            for oir in self._s.operational_intents.rows.values()
            if oir.subscription_id == subscription_id
        )

    # constraints
    def get_constraint(self, entity_id: EntityId) -> ConstraintReference | None:
        return self._s.constraints.rows.get(entity_id)

    def search_constraints(self, area: Extent4D) -> list[ConstraintReference]:
        return self._s.constraints.search(area)

    def upsert_constraint(self, constraint: ConstraintReference) -> None:
        self._put(self._s.constraints, constraint)

    def delete_constraint(self, entity_id: EntityId) -> None:
        self._remove(self._s.constraints, entity_id)

    # subscriptions
    def get_subscription(self, subscription_id: EntityId) -> Subscription | None:
        return self._s.subscriptions.rows.get(subscription_id)

    def search_subscriptions(self, area: Extent4D, manager: Manager | None = None) -> list[Subscription]:
        found = self._s.subscriptions.search(area)
        return found if manager is None else [s for s in found if s.manager == manager]

    def upsert_subscription(self, subscription: Subscription) -> None:
        self._put(self._s.subscriptions, subscription)

    def delete_subscription(self, subscription_id: EntityId) -> None:
        self._remove(self._s.subscriptions, subscription_id)

    def notify_subscriptions(
        self, area: Extent4D, *, for_operational_intents: bool, for_constraints: bool
    ) -> list[Subscription]:
        notified: list[Subscription] = []
        for sub in self._s.subscriptions.search(area):
            wanted = (for_operational_intents and sub.notify_for_operational_intents) or (
                for_constraints and sub.notify_for_constraints
            )
            if not wanted:
                continue
            bumped = dataclasses.replace(sub, notification_index=sub.notification_index + 1)
            self._put(self._s.subscriptions, bumped)
            notified.append(bumped)
        return notified

    # availability and reports
    def get_uss_availability(self, uss: Manager) -> UssAvailability | None:
        return self._s.availability.get(uss)

    def get_uss_availabilities(self, usses: Collection[Manager]) -> dict[Manager, UssAvailability]:
        found = (self._s.availability.get(uss) for uss in usses)
        return {record.uss: record for record in found if record is not None}

    def set_uss_availability(self, availability: UssAvailability) -> None:
        table = self._s.availability
        old = table.get(availability.uss)
        table[availability.uss] = availability

        def undo() -> None:
            if old is None:
                table.pop(availability.uss, None)
            else:
                table[availability.uss] = old

        self._undo.append(undo)

    def add_report(self, report: DssReport) -> None:
        reports = self._s.reports
        reports[report.report_id] = report

        def undo() -> None:
            reports.pop(report.report_id, None)

        self._undo.append(undo)

    # housekeeping
    def _remove_ended(self, table: _Table[E], before: datetime) -> int:
        ended = [
            r.id for r in table.rows.values() if r.extent.time_end is not None and r.extent.time_end < before
        ]
        for entity_id in ended:
            self._remove(table, entity_id)
        return len(ended)

    def delete_expired(self, before: datetime) -> int:
        expiring = {
            o.subscription_id
            for o in self._s.operational_intents.rows.values()
            if o.extent.time_end is not None and o.extent.time_end < before
        }
        removed = self._remove_ended(self._s.operational_intents, before)
        removed += self._remove_ended(self._s.constraints, before)
        dependents = {o.subscription_id for o in self._s.operational_intents.rows.values()}
        for sub in list(self._s.subscriptions.rows.values()):
            expired = sub.extent.time_end is not None and sub.extent.time_end < before
            orphan = sub.implicit and sub.id in expiring and sub.id not in dependents
            if (expired and sub.id not in dependents) or orphan:
                self._remove(self._s.subscriptions, sub.id)
                removed += 1
        return removed


class MemoryUnitOfWork:
    """A serializable transaction over a :class:`MemoryStore` (holds the store's lock)."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._undo: list[Callable[[], None]] = []
        self.repo = MemoryRepository(store, self._undo)

    def __enter__(self) -> Self:
        self._store.lock.acquire()
        self._undo.clear()
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
            self._store.lock.release()

    def commit(self) -> None:
        self._undo.clear()

    def rollback(self) -> None:
        while self._undo:
            self._undo.pop()()
