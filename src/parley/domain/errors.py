"""The closed hierarchy of domain errors.

Every error a service can raise on purpose is one of these; the HTTP adapter maps each class to a
status code in exactly one place (``parley.api.errors``)::

    ParleyError
    ├── InvalidInput              400  malformed or out-of-limits input
    │   └── AreaTooLarge          400  a footprint or query area beyond the DSS's limit
    ├── PermissionDenied          403  authenticated, but not allowed (scope or ownership)
    ├── NotFound                  404  no such entity
    ├── Conflict                  409
    │   ├── VersionMismatch       409  the OVN/version given is not the current one
    │   ├── AlreadyExists         409  create of an id that exists
    │   ├── MissingOvns           409  the key does not prove knowledge of all relevant entities
    │   └── ContentionExhausted   409  concurrent changes kept winning; retry later
    ├── UssDown                   412  the USS is marked Down by availability arbitration
    ├── NoTelemetry               412  an off-nominal operation has no telemetry to give yet
    └── UpstreamFailure           502  a DSS or peer USS this call depends on failed or refused
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from parley.domain.entities import (
        ConstraintReference,
        Manager,
        OperationalIntentReference,
        UssAvailabilityState,
    )


class ParleyError(Exception):
    """Base class of every error Parley raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(ParleyError):
    """The request is malformed or outside the standard's limits (HTTP 400)."""


class AreaTooLarge(InvalidInput):
    """An area is larger than the DSS accepts (HTTP 400, as the reference DSS and its test suites)."""


class PermissionDenied(ParleyError):
    """The caller may not do this (HTTP 403)."""


class NotFound(ParleyError):
    """The entity does not exist (HTTP 404)."""


class Conflict(ParleyError):
    """The request conflicts with the current state (HTTP 409)."""


class VersionMismatch(Conflict):
    """The OVN or version supplied is not the current one."""


class AlreadyExists(Conflict):
    """An entity with this id already exists."""


class ContentionExhausted(Conflict):
    """Concurrent writers kept conflicting with this transaction; the client may retry."""


class MissingOvns(Conflict):
    """The key does not contain the OVNs of every relevant entity (astm.f3548.v21.DSS0210)."""

    def __init__(
        self,
        message: str,
        *,
        operational_intents: Sequence[OperationalIntentReference] = (),
        constraints: Sequence[ConstraintReference] = (),
        requester: Manager,
        availability: Mapping[Manager, UssAvailabilityState],
    ) -> None:
        super().__init__(message)
        #: The entities whose OVNs are missing (real OVNs: hide those the requester does not manage).
        self.operational_intents = tuple(operational_intents)
        self.constraints = tuple(constraints)
        self.requester = requester
        self.availability = dict(availability)


class UssDown(ParleyError):
    """The USS is marked Down and may not make this change (HTTP 412)."""


class UpstreamFailure(ParleyError):
    """A service this request depends on (the DSS, a peer USS, a token endpoint) could not be
    reached or refused the call (HTTP 502); ``status`` is what it answered, if it answered."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class NoTelemetry(ParleyError):
    """No telemetry is available for the operation (HTTP 412, F3548 getOperationalIntentTelemetry)."""
