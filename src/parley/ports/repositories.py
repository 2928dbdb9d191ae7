"""The DSS's storage port: one repository per transaction, reached through a unit of work.

Every adapter (``storage.memory``, ``storage.sql`` on SQLite and PostgreSQL) implements these
Protocols and passes the one contract suite in ``tests/contract``.

Transactions are serializable: a unit of work either commits everything it did or nothing, and two
units of work that read and write overlapping airspace cannot both commit. An adapter that detects
a serialization failure raises :class:`TransientConflict`; the service layer retries the whole
use case (``parley.services.transact``).

Search semantics (all adapters): an entity is returned when its extent *may intersect* the area
(:meth:`parley.domain.extent.Extent4D.may_intersect`): a shared cell, overlapping altitude bands and
overlapping time windows, bounds closed, ``None`` meaning unbounded.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

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


class TransientConflict(Exception):
    """The storage aborted the transaction because of a concurrent one; retrying may succeed."""


class DssRepository(Protocol):
    """Reads and writes of DSS entities within one transaction."""

    # -- operational intent references -------------------------------------------------
    def get_operational_intent(self, entity_id: EntityId) -> OperationalIntentReference | None: ...

    def search_operational_intents(self, area: Extent4D) -> list[OperationalIntentReference]: ...

    def upsert_operational_intent(self, oir: OperationalIntentReference) -> None: ...

    def delete_operational_intent(self, entity_id: EntityId) -> None: ...

    def search_operational_intents_with_availability(
        self, area: Extent4D
    ) -> tuple[list[OperationalIntentReference], dict[Manager, UssAvailabilityState]]:
        """:meth:`search_operational_intents` and the availability of each of their managers
        (Unknown where none was set), in one statement where the store can: a read-only unit of
        work may then run it alone, without a transaction (one statement is one snapshot), and
        nothing else after it."""
        ...

    def upsert_operational_intent_and_notify(
        self, oir: OperationalIntentReference, area: Extent4D
    ) -> list[Subscription]:
        """:meth:`upsert_operational_intent`, then :meth:`notify_subscriptions` of ``area`` for
        operational intents, in one statement where the store can."""
        ...

    def get_operational_intent_and_availability(
        self, entity_id: EntityId, uss: Manager
    ) -> tuple[OperationalIntentReference | None, UssAvailabilityState]:
        """:meth:`get_operational_intent` and the availability of ``uss`` (Unknown where none was
        set), in one statement where the store can."""
        ...

    def dependent_operational_intents(self, subscription_id: EntityId) -> list[EntityId]:
        """Ids of the operational intents whose ``subscription_id`` is this subscription."""
        ...

    # -- constraint references ------------------------------------------------------------
    def get_constraint(self, entity_id: EntityId) -> ConstraintReference | None: ...

    def search_constraints(self, area: Extent4D) -> list[ConstraintReference]: ...

    def upsert_constraint(self, constraint: ConstraintReference) -> None: ...

    def delete_constraint(self, entity_id: EntityId) -> None: ...

    # -- subscriptions --------------------------------------------------------------------
    def get_subscription(self, subscription_id: EntityId) -> Subscription | None: ...

    def search_subscriptions(self, area: Extent4D, manager: Manager | None = None) -> list[Subscription]:
        """Subscriptions that may intersect ``area`` (only ``manager``'s when given)."""
        ...

    def upsert_subscription(self, subscription: Subscription) -> None: ...

    def delete_subscription(self, subscription_id: EntityId) -> None: ...

    def notify_subscriptions(
        self, area: Extent4D, *, for_operational_intents: bool, for_constraints: bool
    ) -> list[Subscription]:
        """Increment the notification index of every subscription that may intersect ``area`` and
        asks for the given kind of change; return them as updated, ordered by id.

        ``for_operational_intents`` selects subscriptions with ``notify_for_operational_intents``;
        ``for_constraints`` those with ``notify_for_constraints`` (either flag suffices when both
        are asked for).
        """
        ...

    # -- USS availability and reports --------------------------------------------------------
    def get_uss_availability(self, uss: Manager) -> UssAvailability | None: ...

    def get_uss_availabilities(self, usses: Collection[Manager]) -> dict[Manager, UssAvailability]:
        """The availability records of those of ``usses`` that have one (one lookup for many)."""
        ...

    def set_uss_availability(self, availability: UssAvailability) -> None: ...

    def add_report(self, report: DssReport) -> None: ...

    # -- housekeeping ----------------------------------------------------------------------------
    def delete_expired(self, before: datetime) -> int:
        """Delete every operational intent, constraint and subscription whose end time is before
        ``before`` (a subscription only once no operational intent depends on it), and the implicit
        subscriptions whose last dependent expires now; return how many.

        Implicit subscriptions lose their dependents only here: the services delete an implicit
        subscription with the last intent that is deleted or moved off it."""
        ...


class UnitOfWork(Protocol):
    """One serializable transaction. Use as a context manager; leaving it without ``commit()``
    rolls back. ``commit()`` may raise :class:`TransientConflict`."""

    repo: DssRepository

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    """Makes a new unit of work; each call is a new transaction.

    ``readonly=True`` promises that the work only reads: the store may then run it without taking
    write locks (a snapshot read), so that reads never queue behind writers.
    """

    def __call__(self, *, readonly: bool = False) -> UnitOfWork: ...


__all__ = [
    "DssRepository",
    "TransientConflict",
    "UnitOfWork",
    "UnitOfWorkFactory",
]
