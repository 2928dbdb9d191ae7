"""The DSS's entities: operational intent references, constraint references, subscriptions,
USS availability and reports. References only; details live with the managing USS.

Names follow ASTM F3548-21 (``manager``, ``ovn``, ``uss_base_url``...); units are in field names.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import NewType

from parley.domain.errors import InvalidInput
from parley.domain.extent import Extent4D

EntityId = NewType("EntityId", str)
"""A UUID, lower-case canonical form."""
Ovn = NewType("Ovn", str)
"""Opaque version number minted by the DSS (16 to 128 characters)."""
Manager = NewType("Manager", str)
"""The managing USS's identity: the ``sub`` of its access token."""

#: OVN shown in place of the real one to USSs that do not manage the entity (as the reference DSS).
NO_OVN_PHRASE = Ovn("Available from USS")
#: Subscription id reported for an operational intent with no subscription (Accepted without one).
NULL_SUBSCRIPTION_ID = EntityId("00000000-0000-4000-8000-000000000000")


class OperationalIntentState(enum.StrEnum):
    """F3548 operational intent states the DSS stores (Ended means deleted)."""

    ACCEPTED = "Accepted"
    ACTIVATED = "Activated"
    NONCONFORMING = "Nonconforming"
    CONTINGENT = "Contingent"

    @property
    def requires_key(self) -> bool:
        """Accepted and Activated must be deconflicted: the key must hold every relevant OVN."""
        return self in (OperationalIntentState.ACCEPTED, OperationalIntentState.ACTIVATED)

    @property
    def requires_subscription(self) -> bool:
        """Every state but Accepted needs a subscription (explicit or implicit)."""
        return self is not OperationalIntentState.ACCEPTED

    @property
    def requires_cmsa(self) -> bool:
        """Off-nominal states need the conformance-monitoring scope (astm.f3548.v21.SCD0100)."""
        return self in (OperationalIntentState.NONCONFORMING, OperationalIntentState.CONTINGENT)


class UssAvailabilityState(enum.StrEnum):
    """Availability of a USS as set by availability arbitration."""

    UNKNOWN = "Unknown"
    NORMAL = "Normal"
    DOWN = "Down"


def parse_entity_id(value: str, what: str = "ID") -> EntityId:
    """Validate a UUID in canonical 8-4-4-4-12 form; return it lower-cased.

    >>> parse_entity_id("4A7B1E7C-0F6A-4E31-9B1D-3C5C2B7B9A10")
    '4a7b1e7c-0f6a-4e31-9b1d-3c5c2b7b9a10'
    """
    try:
        parsed = uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        raise InvalidInput(f"Invalid {what} format: `{value}` is not a UUID") from None
    if len(value) != 36 or str(parsed) != value.lower():
        raise InvalidInput(f"Invalid {what} format: `{value}` is not a UUID in 8-4-4-4-12 form")
    return EntityId(str(parsed))


@dataclass(frozen=True, slots=True)
class OperationalIntentReference:
    """The DSS's record of an operational intent."""

    id: EntityId
    manager: Manager
    version: int
    state: OperationalIntentState
    ovn: Ovn
    extent: Extent4D
    uss_base_url: str
    subscription_id: EntityId | None

    @property
    def time_start(self) -> datetime:
        assert self.extent.time_start is not None  # stored entities have bounded extents
        return self.extent.time_start

    @property
    def time_end(self) -> datetime:
        assert self.extent.time_end is not None
        return self.extent.time_end


@dataclass(frozen=True, slots=True)
class ConstraintReference:
    """The DSS's record of a constraint (an airspace reservation, a geozone...)."""

    id: EntityId
    manager: Manager
    version: int
    ovn: Ovn
    extent: Extent4D
    uss_base_url: str

    @property
    def time_start(self) -> datetime:
        assert self.extent.time_start is not None
        return self.extent.time_start

    @property
    def time_end(self) -> datetime:
        assert self.extent.time_end is not None
        return self.extent.time_end


@dataclass(frozen=True, slots=True)
class Subscription:
    """A USS's standing interest in an area: the DSS tells it of changes there.

    ``version`` is an opaque string that changes on every update; ``notification_index`` counts the
    notifications owed to the subscriber.
    """

    id: EntityId
    manager: Manager
    version: str
    notification_index: int
    extent: Extent4D
    uss_base_url: str
    notify_for_operational_intents: bool
    notify_for_constraints: bool
    implicit: bool

    @property
    def time_start(self) -> datetime:
        assert self.extent.time_start is not None
        return self.extent.time_start

    @property
    def time_end(self) -> datetime:
        assert self.extent.time_end is not None
        return self.extent.time_end


@dataclass(frozen=True, slots=True)
class SubscriberToNotify:
    """One USS to notify of a change, with each of its subscriptions' new notification index."""

    uss_base_url: str
    subscriptions: tuple[tuple[EntityId, int], ...]


@dataclass(frozen=True, slots=True)
class UssAvailability:
    """A USS's availability and the opaque version of that record."""

    uss: Manager
    availability: UssAvailabilityState
    version: str


@dataclass(frozen=True, slots=True)
class DssReport:
    """A report of a communication problem, filed with the DSS (kept for the DSS operator)."""

    report_id: EntityId
    reporter: Manager
    received_at: datetime
    payload: dict[str, object] = field(hash=False, compare=False)


def subscribers_to_notify(subscriptions: list[Subscription]) -> tuple[SubscriberToNotify, ...]:
    """Group subscriptions by ``uss_base_url`` (sorted, for stable responses)."""
    grouped: dict[str, list[tuple[EntityId, int]]] = {}
    for sub in subscriptions:
        grouped.setdefault(sub.uss_base_url, []).append((sub.id, sub.notification_index))
    return tuple(SubscriberToNotify(url, tuple(sorted(states))) for url, states in sorted(grouped.items()))
