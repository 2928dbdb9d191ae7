"""DSS use cases for constraint references (ASTM F3548-21, /dss/v1/constraint_references).

A constraint (an airspace reservation, a geozone) is published by a USS with the constraint
management role. No key is needed to publish one; every change tells the subscribers that asked
for constraints (astm.f3548.v21.DSS0005, DSS0220).
"""

from __future__ import annotations

from dataclasses import dataclass

from parley.domain.entities import (
    ConstraintReference,
    EntityId,
    Manager,
    Ovn,
    SubscriberToNotify,
    subscribers_to_notify,
)
from parley.domain.errors import NotFound, PermissionDenied, VersionMismatch
from parley.domain.extent import union
from parley.domain.footprint import FootprintRules, extents_footprint, volume_extent
from parley.domain.geo import Volume4D
from parley.domain.limits import (
    CSTR_MAX_AREA_KM2,
    CSTR_MAX_DURATION,
    CSTR_MAX_PLAN_HORIZON,
    CSTR_MAX_VERTICES,
    MAX_EXTENTS,
)
from parley.domain.ovn import mint_ovn
from parley.ports.repositories import DssRepository
from parley.services.context import DssContext
from parley.services.transact import transact
from parley.services.views import ConstraintView, availability_of, constraint_views

CONSTRAINT_RULES = FootprintRules(
    max_vertices=CSTR_MAX_VERTICES,
    max_area_km2=CSTR_MAX_AREA_KM2,
    require_altitudes=False,
    max_start_ahead=CSTR_MAX_PLAN_HORIZON,
    max_duration=CSTR_MAX_DURATION,
)
CONSTRAINT_QUERY_RULES = FootprintRules(
    max_vertices=CSTR_MAX_VERTICES,
    max_area_km2=CSTR_MAX_AREA_KM2,
    require_times=False,
    require_altitudes=False,
    forbid_past_end=False,
    allow_instant=True,
)


@dataclass(frozen=True, slots=True)
class PutConstraint:
    """A create (``ovn`` None) or update of a constraint reference."""

    entity_id: EntityId
    ovn: Ovn | None
    extents: tuple[Volume4D, ...]
    uss_base_url: str


@dataclass(frozen=True, slots=True)
class ConstraintChange:
    """Result of a create, update or delete."""

    constraint: ConstraintView
    subscribers: tuple[SubscriberToNotify, ...]


def get_constraint(ctx: DssContext, *, requester: Manager, entity_id: EntityId) -> ConstraintView:
    """The constraint reference with this id."""

    def work(repo: DssRepository) -> ConstraintView:
        constraint = repo.get_constraint(entity_id)
        if constraint is None:
            raise NotFound(f"Constraint {entity_id} not found")
        return constraint_views(repo, [constraint], requester)[0]

    return transact(ctx.uow_factory, work, retries=ctx.max_retries, readonly=True)


def query_constraints(ctx: DssContext, *, requester: Manager, area: Volume4D) -> list[ConstraintView]:
    """Constraint references that may intersect ``area``."""
    extent = volume_extent(area, CONSTRAINT_QUERY_RULES, ctx.clock.now(), "area_of_interest")

    def work(repo: DssRepository) -> list[ConstraintView]:
        return constraint_views(repo, repo.search_constraints(extent), requester)

    return transact(ctx.uow_factory, work, retries=ctx.max_retries, readonly=True)


def put_constraint(ctx: DssContext, *, requester: Manager, request: PutConstraint) -> ConstraintChange:
    """Create or update a constraint reference."""
    now = ctx.clock.now()
    ctx.validate_base_url(request.uss_base_url)
    extent = extents_footprint(request.extents, CONSTRAINT_RULES, now, max_volumes=MAX_EXTENTS)
    salt = ctx.random_bytes(16)

    def work(repo: DssRepository) -> ConstraintChange:
        old = repo.get_constraint(request.entity_id)
        if old is not None:
            if old.manager != requester:
                raise PermissionDenied(f"Constraint {request.entity_id} is managed by another USS")
            if request.ovn != old.ovn:
                if request.ovn is None:
                    raise VersionMismatch(
                        f"Constraint {request.entity_id} already exists; update it with its current OVN"
                    )
                raise VersionMismatch(f"OVN {request.ovn} is not the current OVN of {request.entity_id}")
        elif request.ovn is not None:
            raise NotFound(f"Constraint {request.entity_id} does not exist, so it has no OVN {request.ovn}")
        version = 1 if old is None else old.version + 1
        constraint = ConstraintReference(
            id=request.entity_id,
            manager=requester,
            version=version,
            ovn=mint_ovn(request.entity_id, version, now, salt),
            extent=extent,
            uss_base_url=request.uss_base_url,
        )
        repo.upsert_constraint(constraint)
        area = extent if old is None else union([extent, old.extent])
        notified = repo.notify_subscriptions(area, for_operational_intents=False, for_constraints=True)
        view = ConstraintView(constraint, availability_of(repo, requester))
        return ConstraintChange(view, subscribers_to_notify(notified))

    return transact(ctx.uow_factory, work, retries=ctx.max_retries)


def delete_constraint(
    ctx: DssContext, *, requester: Manager, entity_id: EntityId, ovn: Ovn
) -> ConstraintChange:
    """Remove a constraint reference."""

    def work(repo: DssRepository) -> ConstraintChange:
        old = repo.get_constraint(entity_id)
        if old is None:
            raise NotFound(f"Constraint {entity_id} not found")
        if old.manager != requester:
            raise PermissionDenied(f"Constraint {entity_id} is managed by another USS")
        if old.ovn != ovn:
            raise VersionMismatch(f"OVN {ovn} is not the current OVN of {entity_id}")
        repo.delete_constraint(entity_id)
        notified = repo.notify_subscriptions(old.extent, for_operational_intents=False, for_constraints=True)
        view = ConstraintView(old, availability_of(repo, requester))
        return ConstraintChange(view, subscribers_to_notify(notified))

    return transact(ctx.uow_factory, work, retries=ctx.max_retries)
