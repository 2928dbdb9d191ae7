"""DSS use cases for operational intent references (ASTM F3548-21, /dss/v1/operational_intent_references).

Creating or updating an operational intent in a state that must be deconflicted (Accepted,
Activated) requires a key holding the OVN of every relevant entity in its extents
(astm.f3548.v21.DSS0210): every other operational intent whose extent may intersect it, and every
constraint there when its subscription asks to be told of constraints. Otherwise the change is
refused with :class:`MissingOvns`, listing what is missing. Every change returns the subscribers
to notify, with their incremented notification indices (DSS0220).
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass

from parley.domain.entities import (
    EntityId,
    Manager,
    OperationalIntentReference,
    OperationalIntentState,
    Ovn,
    SubscriberToNotify,
    Subscription,
    UssAvailabilityState,
    subscribers_to_notify,
)
from parley.domain.errors import (
    InvalidInput,
    MissingOvns,
    NotFound,
    PermissionDenied,
    UssDown,
    VersionMismatch,
)
from parley.domain.extent import Extent4D, union
from parley.domain.footprint import FootprintRules, extents_footprint, volume_extent
from parley.domain.geo import Volume4D
from parley.domain.limits import (
    MAX_AREA_KM2,
    MAX_EXTENTS,
    MAX_KEY_LENGTH,
    OI_MAX_PLAN_HORIZON,
    OI_MAX_VERTICES,
)
from parley.domain.ovn import mint_ovn, ovn_from_suffix
from parley.ports.repositories import DssRepository
from parley.services.context import DssContext
from parley.services.transact import transact
from parley.services.views import OirView, Scopes, availabilities_of, availability_of, oir_views_of

#: Scope needed for the off-nominal states (astm.f3548.v21.SCD0100).
CMSA_SCOPE = "utm.conformance_monitoring_sa"

OIR_RULES = FootprintRules(
    max_vertices=OI_MAX_VERTICES, max_area_km2=MAX_AREA_KM2, max_start_ahead=OI_MAX_PLAN_HORIZON
)
QUERY_RULES = FootprintRules(
    max_vertices=OI_MAX_VERTICES,
    max_area_km2=MAX_AREA_KM2,
    require_times=False,
    require_altitudes=False,
    forbid_past_end=False,
    allow_instant=True,
)


@dataclass(frozen=True, slots=True)
class ImplicitSubscriptionRequest:
    """``new_subscription``: have the DSS create a subscription serving this operational intent."""

    uss_base_url: str
    notify_for_constraints: bool = False


@dataclass(frozen=True, slots=True)
class PutOperationalIntent:
    """A create (``ovn`` None) or update request for an operational intent reference."""

    entity_id: EntityId
    ovn: Ovn | None
    extents: tuple[Volume4D, ...]
    key: tuple[str, ...]
    state: OperationalIntentState
    uss_base_url: str
    subscription_id: EntityId | None = None
    new_subscription: ImplicitSubscriptionRequest | None = None
    requested_ovn_suffix: str | None = None


@dataclass(frozen=True, slots=True)
class OirChange:
    """Result of a create, update or delete."""

    operational_intent: OirView
    subscribers: tuple[SubscriberToNotify, ...]


def get_operational_intent(ctx: DssContext, *, requester: Manager, entity_id: EntityId) -> OirView:
    """The reference with this id (astm.f3548.v21.DSS0005)."""

    def work(repo: DssRepository) -> OirView:
        oir = repo.get_operational_intent(entity_id)
        if oir is None:
            raise NotFound(f"Operational intent {entity_id} not found")
        return OirView(oir, availability_of(repo, oir.manager)).for_requester(requester)

    return transact(ctx.uow_factory, work, retries=ctx.max_retries, readonly=True)


def query_operational_intents(ctx: DssContext, *, requester: Manager, area: Volume4D) -> list[OirView]:
    """References that may intersect ``area`` (astm.f3548.v21.DSS0005)."""
    now = ctx.clock.now()
    extent = volume_extent(area, QUERY_RULES, now, "area_of_interest")

    def work(repo: DssRepository) -> list[OirView]:
        # One statement (the intents and their managers' availability): a snapshot without a transaction.
        found, availability = repo.search_operational_intents_with_availability(extent)
        return oir_views_of(found, availability, requester)

    return transact(ctx.uow_factory, work, retries=ctx.max_retries, readonly=True)


def put_operational_intent(
    ctx: DssContext, *, requester: Manager, scopes: Scopes, request: PutOperationalIntent
) -> OirChange:
    """Create or update an operational intent reference (astm.f3548.v21.DSS0005, DSS0210)."""
    now = ctx.clock.now()
    ctx.validate_base_url(request.uss_base_url)
    if request.new_subscription is not None:
        if request.subscription_id is not None:
            raise InvalidInput("Cannot provide both a subscription_id and a new_subscription")
        ctx.validate_base_url(request.new_subscription.uss_base_url, "new_subscription.uss_base_url")
    if request.ovn is None and request.state is not OperationalIntentState.ACCEPTED:
        raise InvalidInput(f"Invalid state for initial version: `{request.state}` (must be Accepted)")
    if (
        request.state.requires_subscription
        and request.subscription_id is None
        and request.new_subscription is None
    ):
        raise InvalidInput(
            f"State `{request.state}` requires either a subscription_id or new_subscription parameters"
        )
    if request.state.requires_cmsa and CMSA_SCOPE not in scopes:
        raise PermissionDenied(
            f"Transition to {request.state} requires the `{CMSA_SCOPE}` scope (astm.f3548.v21.SCD0100)"
        )
    if len(request.key) > MAX_KEY_LENGTH:
        raise InvalidInput(f"key may hold at most {MAX_KEY_LENGTH} OVNs, got {len(request.key)}")
    extent = extents_footprint(request.extents, OIR_RULES, now, max_volumes=MAX_EXTENTS)
    new_ovn_requested = (
        ovn_from_suffix(request.entity_id, request.requested_ovn_suffix, now)
        if request.requested_ovn_suffix is not None
        else None
    )
    key = frozenset(request.key)
    salt = ctx.random_bytes(16)
    implicit_id = EntityId(str(uuid.UUID(bytes=ctx.random_bytes(16), version=4)))

    def work(repo: DssRepository) -> OirChange:
        old, availability = repo.get_operational_intent_and_availability(request.entity_id, requester)
        if old is not None:
            if old.manager != requester:
                raise PermissionDenied(f"Operational intent {request.entity_id} is managed by another USS")
            if request.ovn != old.ovn:
                if request.ovn is None:
                    raise VersionMismatch(
                        f"Operational intent {request.entity_id} already exists; update it with its current OVN"
                    )
                raise VersionMismatch(f"OVN {request.ovn} is not the current OVN of {request.entity_id}")
        elif request.ovn is not None:
            raise NotFound(
                f"Operational intent {request.entity_id} does not exist, so it has no OVN {request.ovn}"
            )

        if availability is UssAvailabilityState.DOWN and request.state.requires_key:
            raise UssDown(
                f"USS {requester} is marked Down and may not plan {request.state} operational intents"
            )

        previous_sub = repo.get_subscription(old.subscription_id) if old and old.subscription_id else None
        replacing = previous_sub is not None and request.subscription_id != previous_sub.id
        remove_previous = (
            replacing
            and previous_sub is not None
            and previous_sub.implicit
            and repo.dependent_operational_intents(previous_sub.id) == [request.entity_id]
        )

        attached: Subscription | None
        if request.subscription_id is None:
            if request.new_subscription is not None:
                attached = Subscription(
                    id=implicit_id,
                    manager=requester,
                    version=mint_ovn(implicit_id, 1, now, salt),
                    notification_index=0,
                    extent=extent,
                    uss_base_url=request.new_subscription.uss_base_url,
                    notify_for_operational_intents=True,
                    notify_for_constraints=request.new_subscription.notify_for_constraints,
                    implicit=True,
                )
                repo.upsert_subscription(attached)
            else:
                attached = None
        else:
            attached = previous_sub if previous_sub is not None and not replacing else None
            if attached is None:
                attached = repo.get_subscription(request.subscription_id)
                if attached is None:
                    raise InvalidInput(f"Specified subscription {request.subscription_id} does not exist")
            if attached.manager != requester:
                raise PermissionDenied("Specified subscription is managed by another USS")
            attached = _ensure_covers(repo, attached, extent)

        if request.state.requires_key:
            _check_key(repo, requester, request.entity_id, extent, key, attached)

        version = 1 if old is None else old.version + 1
        oir = OperationalIntentReference(
            id=request.entity_id,
            manager=requester,
            version=version,
            state=request.state,
            ovn=new_ovn_requested or mint_ovn(request.entity_id, version, now, salt),
            extent=extent,
            uss_base_url=request.uss_base_url,
            subscription_id=attached.id if attached is not None else None,
        )
        if remove_previous and previous_sub is not None:
            repo.delete_subscription(previous_sub.id)
        notify_area = extent if old is None else union([extent, old.extent])
        notified = repo.upsert_operational_intent_and_notify(oir, notify_area)
        return OirChange(OirView(oir, availability), subscribers_to_notify(notified))

    return transact(ctx.uow_factory, work, retries=ctx.max_retries)


def delete_operational_intent(
    ctx: DssContext, *, requester: Manager, entity_id: EntityId, ovn: Ovn
) -> OirChange:
    """Remove an operational intent reference (its implicit subscription goes with it)."""

    def work(repo: DssRepository) -> OirChange:
        old = repo.get_operational_intent(entity_id)
        if old is None:
            raise NotFound(f"Operational intent {entity_id} not found")
        if old.manager != requester:
            raise PermissionDenied(f"Operational intent {entity_id} is managed by another USS")
        if old.ovn != ovn:
            raise VersionMismatch(f"OVN {ovn} is not the current OVN of {entity_id}")
        availability = availability_of(repo, requester)
        if availability is UssAvailabilityState.DOWN:
            raise UssDown(f"USS {requester} is marked Down and may not delete operational intents")
        sub = repo.get_subscription(old.subscription_id) if old.subscription_id else None
        remove_sub = (
            sub is not None and sub.implicit and repo.dependent_operational_intents(sub.id) == [entity_id]
        )
        notified = repo.notify_subscriptions(old.extent, for_operational_intents=True, for_constraints=False)
        repo.delete_operational_intent(entity_id)
        if remove_sub and sub is not None:
            repo.delete_subscription(sub.id)
        return OirChange(OirView(old, availability), subscribers_to_notify(notified))

    return transact(ctx.uow_factory, work, retries=ctx.max_retries)


def _ensure_covers(repo: DssRepository, sub: Subscription, extent: Extent4D) -> Subscription:
    """An explicit subscription must cover the extent; an implicit one is grown to cover it."""
    if sub.extent.covers(extent):
        return sub
    if not sub.implicit:
        problems = []
        if not extent.cells <= sub.extent.cells:
            problems.append("does not cover the entire area")
        if (sub.extent.time_start and extent.time_start and extent.time_start < sub.extent.time_start) or (
            sub.extent.time_end and extent.time_end and extent.time_end > sub.extent.time_end
        ):
            problems.append("does not cover the entire time window")
        if not problems:
            problems.append("does not cover the altitude band")
        raise InvalidInput(f"Subscription {sub.id} {' and '.join(problems)} of the operational intent")
    grown = union([sub.extent, extent])
    updated = dataclasses.replace(sub, extent=grown)
    repo.upsert_subscription(updated)
    return updated


def _check_key(
    repo: DssRepository,
    requester: Manager,
    entity_id: EntityId,
    extent: Extent4D,
    key: frozenset[str],
    attached: Subscription | None,
) -> None:
    """Raise :class:`MissingOvns` unless ``key`` proves knowledge of every relevant entity."""
    candidates = [
        o
        for o in repo.search_operational_intents(extent)
        if o.id != entity_id and o.state.requires_key and o.ovn not in key
    ]
    # Accepted (not yet flying) intents of a USS marked Down are not deconflicted against
    candidate_availability = availabilities_of(repo, (o.manager for o in candidates))
    down = {m for m, state in candidate_availability.items() if state is UssAvailabilityState.DOWN}
    missing_ops = [
        o for o in candidates if not (o.manager in down and o.state is OperationalIntentState.ACCEPTED)
    ]
    missing_constraints = []
    if attached is not None and attached.notify_for_constraints:
        missing_constraints = [c for c in repo.search_constraints(extent) if c.ovn not in key]
    if missing_ops or missing_constraints:
        managers = {o.manager for o in missing_ops} | {c.manager for c in missing_constraints}
        raise MissingOvns(
            "Current OVNs not provided for one or more operational intents or constraints",
            operational_intents=missing_ops,
            constraints=missing_constraints,
            requester=requester,
            availability=availabilities_of(repo, managers),
        )


__all__ = [
    "ImplicitSubscriptionRequest",
    "OirChange",
    "OirView",
    "PutOperationalIntent",
    "delete_operational_intent",
    "get_operational_intent",
    "put_operational_intent",
    "query_operational_intents",
]
