"""What clients see of DSS entities: references with their manager's availability, OVNs hidden
from USSs that do not manage the entity (they must obtain it from the manager, astm.f3548.v21.DSS0005)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from parley.domain.entities import (
    NO_OVN_PHRASE,
    ConstraintReference,
    Manager,
    OperationalIntentReference,
    UssAvailabilityState,
)
from parley.ports.repositories import DssRepository

Scopes = frozenset[str]
"""The OAuth scopes the caller's access token grants."""


@dataclass(frozen=True, slots=True)
class OirView:
    """An operational intent reference with its manager's availability."""

    reference: OperationalIntentReference
    uss_availability: UssAvailabilityState

    def for_requester(self, requester: Manager) -> OirView:
        """The view ``requester`` may see: the OVN only if it manages the entity."""
        if self.reference.manager == requester:
            return self
        return OirView(dataclasses.replace(self.reference, ovn=NO_OVN_PHRASE), self.uss_availability)


@dataclass(frozen=True, slots=True)
class ConstraintView:
    """A constraint reference with its manager's availability."""

    reference: ConstraintReference
    uss_availability: UssAvailabilityState

    def for_requester(self, requester: Manager) -> ConstraintView:
        """The view ``requester`` may see: the OVN only if it manages the entity."""
        if self.reference.manager == requester:
            return self
        return ConstraintView(dataclasses.replace(self.reference, ovn=NO_OVN_PHRASE), self.uss_availability)


def availability_of(repo: DssRepository, uss: Manager) -> UssAvailabilityState:
    """A USS's availability; Unknown until an arbitrator sets it."""
    record = repo.get_uss_availability(uss)
    return UssAvailabilityState.UNKNOWN if record is None else record.availability


def availabilities_of(repo: DssRepository, usses: Iterable[Manager]) -> dict[Manager, UssAvailabilityState]:
    """The availability of each of ``usses`` (Unknown where none was set), in one lookup."""
    wanted = set(usses)
    records = repo.get_uss_availabilities(wanted) if wanted else {}
    unknown = UssAvailabilityState.UNKNOWN
    return {uss: records[uss].availability if uss in records else unknown for uss in wanted}


def oir_views(
    repo: DssRepository, oirs: Sequence[OperationalIntentReference], requester: Manager
) -> list[OirView]:
    """``requester``'s views of references (one availability lookup for all their managers)."""
    known = availabilities_of(repo, (o.manager for o in oirs))
    return [OirView(o, known[o.manager]).for_requester(requester) for o in oirs]


def constraint_views(
    repo: DssRepository, constraints: Sequence[ConstraintReference], requester: Manager
) -> list[ConstraintView]:
    """``requester``'s views of constraint references."""
    known = availabilities_of(repo, (c.manager for c in constraints))
    return [ConstraintView(c, known[c.manager]).for_requester(requester) for c in constraints]


def oir_views_of(
    oirs: Sequence[OperationalIntentReference],
    availability: Mapping[Manager, UssAvailabilityState],
    requester: Manager,
) -> list[OirView]:
    """Views from already-known availabilities (missing managers are Unknown)."""
    unknown = UssAvailabilityState.UNKNOWN
    return [OirView(o, availability.get(o.manager, unknown)).for_requester(requester) for o in oirs]


def constraint_views_of(
    constraints: Sequence[ConstraintReference],
    availability: Mapping[Manager, UssAvailabilityState],
    requester: Manager,
) -> list[ConstraintView]:
    """Views from already-known availabilities (missing managers are Unknown)."""
    unknown = UssAvailabilityState.UNKNOWN
    return [
        ConstraintView(c, availability.get(c.manager, unknown)).for_requester(requester) for c in constraints
    ]
