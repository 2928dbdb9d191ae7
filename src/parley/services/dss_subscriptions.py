"""DSS use cases for subscriptions (ASTM F3548-21, /dss/v1/subscriptions).

A subscription asks the DSS to tell a USS (through the ``subscribers`` of every change response)
when operational intents and/or constraints change in an area (astm.f3548.v21.DSS0005, DSS0220).
Windows are at most :data:`SUBSCRIPTION_MAX_DURATION` long; a missing start is "now", a missing
end is start + that maximum. Implicit subscriptions are created by the DSS for operational intents.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from parley.domain.entities import EntityId, Manager, Subscription
from parley.domain.errors import AlreadyExists, InvalidInput, NotFound, PermissionDenied, VersionMismatch
from parley.domain.extent import Extent4D
from parley.domain.footprint import FootprintRules, volume_extent
from parley.domain.geo import Volume4D
from parley.domain.limits import MAX_AREA_KM2, MAX_CLOCK_SKEW, OI_MAX_VERTICES, SUBSCRIPTION_MAX_DURATION
from parley.domain.ovn import mint_ovn
from parley.ports.repositories import DssRepository
from parley.services.context import DssContext
from parley.services.transact import transact
from parley.services.views import ConstraintView, OirView, constraint_views, oir_views

SUBSCRIPTION_RULES = FootprintRules(
    max_vertices=OI_MAX_VERTICES,
    max_area_km2=MAX_AREA_KM2,
    require_outline=False,
    require_times=False,
    require_altitudes=False,
    forbid_past_end=True,
)
QUERY_RULES = dataclasses.replace(
    SUBSCRIPTION_RULES, require_outline=True, forbid_past_end=False, allow_instant=True
)


@dataclass(frozen=True, slots=True)
class PutSubscription:
    """A create (``version`` None) or update of a subscription."""

    subscription_id: EntityId
    version: str | None
    extents: Volume4D
    uss_base_url: str
    notify_for_operational_intents: bool = False
    notify_for_constraints: bool = False


@dataclass(frozen=True, slots=True)
class SubscriptionView:
    """A subscription with the operational intents that depend on it."""

    subscription: Subscription
    dependent_operational_intents: tuple[EntityId, ...]


@dataclass(frozen=True, slots=True)
class SubscriptionPut:
    """Result of a create or update: the subscription and what already lies in its area."""

    subscription: SubscriptionView
    operational_intents: tuple[OirView, ...] | None
    constraints: tuple[ConstraintView, ...] | None


def _view(repo: DssRepository, sub: Subscription) -> SubscriptionView:
    return SubscriptionView(sub, tuple(repo.dependent_operational_intents(sub.id)))


def get_subscription(ctx: DssContext, *, requester: Manager, subscription_id: EntityId) -> SubscriptionView:
    """One of the requester's subscriptions."""

    def work(repo: DssRepository) -> SubscriptionView:
        sub = repo.get_subscription(subscription_id)
        if sub is None:
            raise NotFound(f"Subscription {subscription_id} not found")
        if sub.manager != requester:
            raise PermissionDenied("Subscription is managed by another USS")
        return _view(repo, sub)

    return transact(ctx.uow_factory, work, retries=ctx.max_retries, readonly=True)


def query_subscriptions(ctx: DssContext, *, requester: Manager, area: Volume4D) -> list[SubscriptionView]:
    """The requester's unexpired subscriptions that may intersect ``area``."""
    now = ctx.clock.now()
    extent = volume_extent(area, QUERY_RULES, now, "area_of_interest")

    def work(repo: DssRepository) -> list[SubscriptionView]:
        found = repo.search_subscriptions(extent, manager=requester)
        return [_view(repo, s) for s in found if s.time_end >= now]

    return transact(ctx.uow_factory, work, retries=ctx.max_retries, readonly=True)


def _window(requested: Volume4D, old: Subscription | None, now: datetime) -> tuple[datetime, datetime]:
    start = requested.time_start
    if start is None:
        start = now if old is None else old.time_start
    elif now - start > MAX_CLOCK_SKEW:
        raise InvalidInput("Subscription time_start must not be in the past")
    end = requested.time_end
    if end is None:
        end = start + SUBSCRIPTION_MAX_DURATION if old is None else old.time_end
    if end <= start:
        raise InvalidInput("Subscription time_end must be after time_start")
    if end - start > SUBSCRIPTION_MAX_DURATION:
        raise InvalidInput(
            f"Subscription window exceeds {SUBSCRIPTION_MAX_DURATION.total_seconds() / 3600:g} hours"
        )
    return start, end


def put_subscription(ctx: DssContext, *, requester: Manager, request: PutSubscription) -> SubscriptionPut:
    """Create or update a subscription (astm.f3548.v21.DSS0005)."""
    now = ctx.clock.now()
    ctx.validate_base_url(request.uss_base_url)
    if not (request.notify_for_operational_intents or request.notify_for_constraints):
        raise InvalidInput("No notification triggers requested for Subscription")
    requested = volume_extent(request.extents, SUBSCRIPTION_RULES, now, "extents")
    salt = ctx.random_bytes(16)

    def work(repo: DssRepository) -> SubscriptionPut:
        old = repo.get_subscription(request.subscription_id)
        if old is None:
            if request.version is not None:
                raise NotFound(f"Subscription {request.subscription_id} not found")
            if not requested.cells:
                raise InvalidInput("extents: an outline_circle or outline_polygon is required")
        else:
            if request.version is None:
                raise AlreadyExists(f"Subscription {request.subscription_id} already exists")
            if old.manager != requester:
                raise PermissionDenied("Subscription is managed by another USS")
            if request.version != old.version:
                raise VersionMismatch(f"Subscription version {request.version} is not current")
        start, end = _window(request.extents, old, now)
        cells = requested.cells if requested.cells or old is None else old.extent.cells
        extent = Extent4D(cells, requested.altitude_lower_m, requested.altitude_upper_m, start, end)
        dependents: tuple[EntityId, ...] = ()
        if old is not None:
            dependents = tuple(repo.dependent_operational_intents(old.id))
            # the start may lag a dependent's by the clock-skew allowance: a subscription cannot
            # start in the past, while the operational intent may have begun long ago
            lenient = dataclasses.replace(extent, time_start=start - MAX_CLOCK_SKEW)
            for oir_id in dependents:
                oir = repo.get_operational_intent(oir_id)
                if oir is not None and not lenient.covers(oir.extent):
                    raise InvalidInput(
                        f"Subscription would no longer cover its dependent operational intent {oir_id}"
                    )
        sub = Subscription(
            id=request.subscription_id,
            manager=requester,
            version=mint_ovn(request.subscription_id, 0, now, salt),
            notification_index=0 if old is None else old.notification_index,
            extent=extent,
            uss_base_url=request.uss_base_url,
            notify_for_operational_intents=request.notify_for_operational_intents,
            notify_for_constraints=request.notify_for_constraints,
            implicit=False,  # a USS that PUTs a subscription manages it explicitly from then on
        )
        repo.upsert_subscription(sub)
        oirs = (
            tuple(oir_views(repo, repo.search_operational_intents(extent), requester))
            if sub.notify_for_operational_intents
            else None
        )
        constraints = (
            tuple(constraint_views(repo, repo.search_constraints(extent), requester))
            if sub.notify_for_constraints
            else None
        )
        return SubscriptionPut(SubscriptionView(sub, dependents), oirs, constraints)

    return transact(ctx.uow_factory, work, retries=ctx.max_retries)


def delete_subscription(
    ctx: DssContext, *, requester: Manager, subscription_id: EntityId, version: str
) -> SubscriptionView:
    """Remove a subscription that no operational intent depends on."""

    def work(repo: DssRepository) -> SubscriptionView:
        sub = repo.get_subscription(subscription_id)
        if sub is None:
            raise NotFound(f"Subscription {subscription_id} not found")
        if sub.manager != requester:
            raise PermissionDenied("Subscription is managed by another USS")
        if sub.version != version:
            raise VersionMismatch(f"Subscription version {version} is not current")
        dependents = tuple(repo.dependent_operational_intents(sub.id))
        if dependents:
            raise InvalidInput(
                f"Subscriptions with dependent operational intents may not be removed ({len(dependents)} depend on it)"
            )
        repo.delete_subscription(sub.id)
        return SubscriptionView(sub, ())

    return transact(ctx.uow_factory, work, retries=ctx.max_retries)
