"""Publish and withdraw airspace reservations as F3548 constraints (constraint-management role).

A constraint needs no key (the DSS takes it over whatever intents are there, which are told of it
through their subscriptions); its details are served to peers at ``/uss/v1/constraints/{id}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from parley.clients.utm import CallFailed
from parley.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from parley.domain.operations import OpKind, OpState, OwnOperation
from parley.services.party.node import PartyNode, upstream
from parley.services.party.planning import notify_subscribers
from parley.strategic.f3548 import constraint_from_details
from parley.strategic.model import validate_operation

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ConstraintRequest:
    """Publish or change reservation ``constraint_id`` with F3548 ``ConstraintDetails`` JSON
    (``volumes``, optional ``type`` and ``geozone``)."""

    constraint_id: str
    details: Json
    meta: Json = field(default_factory=dict)


async def publish(node: PartyNode, request: ConstraintRequest) -> OwnOperation:
    if not node.has_role("constraint_management"):
        raise PermissionDenied(f"party {node.party!r} does not have the constraint management role")
    volumes = request.details.get("volumes")
    if not isinstance(volumes, list) or not volumes:
        raise InvalidInput("a reservation needs at least one volume")
    details: Json = {"volumes": volumes, "type": str(request.details.get("type") or "reservation")}
    if request.details.get("geozone") is not None:
        details["geozone"] = request.details["geozone"]
    try:
        validate_operation(constraint_from_details(request.constraint_id, details, manager=node.manager))
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidInput(f"malformed volume: {error!r}") from error
    async with node.lock(request.constraint_id):
        current = node.repo.get_operation(node.party, request.constraint_id)
        if current is not None and current.kind is not OpKind.CONSTRAINT:
            raise Conflict(f"{request.constraint_id!r} is an operation, not a reservation")
        if current is not None and current.state is OpState.ENDED:
            raise Conflict(f"reservation {request.constraint_id!r} was withdrawn; publish a new one")
        params = {"extents": volumes, "uss_base_url": node.base_url}
        try:
            change = await node.dss.put_constraint(
                request.constraint_id, current.ovn if current is not None else None, params
            )
        except CallFailed as error:
            if error.status in (400, 403):
                raise InvalidInput(f"the DSS refused the reservation: {error.message}") from error
            raise upstream(error, "writing the reservation to the DSS") from error
        reference = dict(change["constraint_reference"])
        now = node.now()
        if current is None:
            saved = node.repo.save_operation(
                OwnOperation(
                    party=node.party,
                    id=request.constraint_id,
                    kind=OpKind.CONSTRAINT,
                    state=OpState.PUBLISHED,
                    details=details,
                    reference=reference,
                    meta=dict(request.meta),
                    created_at=now,
                    updated_at=now,
                ),
                expected_revision=None,
            )
        else:
            saved = node.repo.save_operation(
                current.with_(
                    details=details,
                    reference=reference,
                    meta={**current.meta, **request.meta},
                    updated_at=now,
                ),
                expected_revision=current.revision,
            )
    await notify_subscribers(node, saved, change.get("subscribers", []))
    return saved


async def withdraw(node: PartyNode, constraint_id: str) -> OwnOperation:
    from parley.services.party.planning import end

    current = node.repo.get_operation(node.party, constraint_id)
    if current is None or current.kind is not OpKind.CONSTRAINT:
        raise NotFound(f"no reservation {constraint_id!r}")
    return await end(node, constraint_id)
