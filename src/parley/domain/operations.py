"""A party's own operations and reservations, as its node holds them (pure, no I/O).

The node keeps the F3548 *details* of what it manages (volumes, off-nominal volumes, priority) as
the standard's JSON, because that is exactly what it serves to peers and what the strategic engine
reads (:mod:`parley.strategic.f3548`). The DSS holds only the reference (extents, state, OVN);
the node keeps the last reference the DSS returned, so that the OVN it serves is the DSS's.

States follow F3548 ``OperationalIntentState`` plus the node's terminal ``Ended`` (the reference
was deleted from the DSS). Allowed transitions (astm.f3548.v21.SCD0020 and the state diagram of
F3548 section 4.4):

=================  ==============================================================
from               to
=================  ==============================================================
(new)              Accepted (a DSS takes a first version only Accepted; the planner
                   activates it right after when asked for Activated)
Accepted           Accepted (modify), Activated, Ended
Activated          Activated (modify), Nonconforming, Contingent, Ended
Nonconforming      Nonconforming, Activated (conforming again), Contingent, Ended
Contingent         Contingent, Ended
Ended              (nothing)
=================  ==============================================================

>>> allowed(OpState.ACCEPTED, OpState.ACTIVATED), allowed(OpState.CONTINGENT, OpState.ACTIVATED)
(True, False)
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from parley.domain.errors import Conflict

Json = dict[str, Any]


class OpKind(StrEnum):
    """What a party published: an operational intent, or a constraint (an airspace reservation)."""

    OPERATIONAL_INTENT = "operational_intent"
    CONSTRAINT = "constraint"


class OpState(StrEnum):
    """F3548 operational intent states, plus ``Ended`` (removed from the DSS) and, for a
    constraint, ``Published``."""

    ACCEPTED = "Accepted"
    ACTIVATED = "Activated"
    NONCONFORMING = "Nonconforming"
    CONTINGENT = "Contingent"
    PUBLISHED = "Published"
    ENDED = "Ended"

    @property
    def nominal(self) -> bool:
        return self in (OpState.ACCEPTED, OpState.ACTIVATED)

    @property
    def off_nominal(self) -> bool:
        return self in (OpState.NONCONFORMING, OpState.CONTINGENT)


_TRANSITIONS: dict[OpState | None, frozenset[OpState]] = {
    None: frozenset({OpState.ACCEPTED}),
    OpState.ACCEPTED: frozenset({OpState.ACCEPTED, OpState.ACTIVATED, OpState.ENDED}),
    OpState.ACTIVATED: frozenset(
        {OpState.ACTIVATED, OpState.NONCONFORMING, OpState.CONTINGENT, OpState.ENDED}
    ),
    OpState.NONCONFORMING: frozenset(
        {OpState.NONCONFORMING, OpState.ACTIVATED, OpState.CONTINGENT, OpState.ENDED}
    ),
    OpState.CONTINGENT: frozenset({OpState.CONTINGENT, OpState.ENDED}),
    OpState.PUBLISHED: frozenset({OpState.PUBLISHED, OpState.ENDED}),
    OpState.ENDED: frozenset(),
}


def allowed(current: OpState | None, target: OpState) -> bool:
    """Whether an operational intent in ``current`` (None: new) may move to ``target``."""
    return target in _TRANSITIONS[current]


def check_transition(op_id: str, current: OpState | None, target: OpState) -> None:
    """Raise :class:`InvalidTransition` unless ``current`` -> ``target`` is allowed."""
    if not allowed(current, target):
        was = "a new operation" if current is None else f"operation {op_id!r} is {current.value}"
        raise InvalidTransition(f"cannot make it {target.value}: {was}")


class InvalidTransition(Conflict):
    """The operation's state does not allow the change asked for (HTTP 409)."""


@dataclass(frozen=True, slots=True)
class OwnOperation:
    """An operational intent or constraint the party manages.

    ``details`` is the F3548 ``OperationalIntentDetails`` (``volumes``, ``off_nominal_volumes``,
    ``priority``) or ``ConstraintDetails`` (``volumes``, ``type``, ``geozone``) JSON. ``reference``
    is the last reference the DSS returned (None before the first write succeeded). ``meta`` holds
    the party's own labels (``name``, ``flight_plan_id`` of the test interface, ...).
    """

    party: str
    id: str
    kind: OpKind
    state: OpState
    details: Json
    reference: Json | None = None
    subscription_id: str | None = None
    meta: Json = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    nonconforming_since: datetime | None = None
    revision: int = 0

    @property
    def ovn(self) -> str | None:
        return None if self.reference is None else self.reference.get("ovn")

    @property
    def priority(self) -> int:
        return int(self.details.get("priority", 0))

    @property
    def name(self) -> str:
        return str(self.meta.get("name", ""))

    def with_(self, **changes: Any) -> OwnOperation:
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class PeerEntity:
    """Another USS's operational intent or constraint as this node last learnt it (from a
    notification or a details fetch): its reference and details JSON."""

    party: str
    id: str
    kind: OpKind
    reference: Json
    details: Json | None
    updated_at: datetime

    @property
    def ovn(self) -> str | None:
        return self.reference.get("ovn")

    @property
    def manager(self) -> str:
        return str(self.reference.get("manager", ""))


@dataclass(frozen=True, slots=True)
class TelemetrySample:
    """One position report of one of the party's aircraft (WGS84; altitude metres above the
    ellipsoid (W84); speed m/s; track degrees clockwise from true north)."""

    operation_id: str
    t: datetime
    lat: float
    lng: float
    alt_m: float
    speed_mps: float | None = None
    track_deg: float | None = None
    vertical_speed_mps: float | None = None
    accuracy_h_m: float | None = None
    accuracy_v_m: float | None = None


@dataclass(frozen=True, slots=True)
class UserNotification:
    """Something the party's operators must be told (a new conflict, a state change...)."""

    party: str
    at: datetime
    kind: str
    message: str
    operation_id: str | None = None
    body: Json = field(default_factory=dict)
    seq: int = 0
