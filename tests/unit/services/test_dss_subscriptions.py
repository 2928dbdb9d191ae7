"""Subscription and constraint use cases over the in-memory store."""

from __future__ import annotations

from datetime import timedelta

import pytest

from parley.domain.entities import Manager, OperationalIntentState
from parley.domain.errors import AlreadyExists, InvalidInput, NotFound, PermissionDenied, VersionMismatch
from parley.domain.geo import Volume4D
from parley.services import dss_availability, dss_constraints
from parley.services import dss_operational_intents as oir_svc
from parley.services import dss_subscriptions as svc
from parley.services.context import DssContext
from tests.factories import T0, new_id, volume

USS1 = Manager("uss1")
USS2 = Manager("uss2")
START = T0 + timedelta(minutes=5)


def subscribe(
    ctx: DssContext,
    extents: Volume4D | None = None,
    *,
    requester: Manager = USS1,
    sub_id: str | None = None,
    version: str | None = None,
    ops: bool = True,
    constraints: bool = False,
) -> svc.SubscriptionPut:
    return svc.put_subscription(
        ctx,
        requester=requester,
        request=svc.PutSubscription(
            subscription_id=sub_id or new_id(),  # type: ignore[arg-type]
            version=version,
            extents=extents or volume(START, 60),
            uss_base_url=f"https://{requester}.example",
            notify_for_operational_intents=ops,
            notify_for_constraints=constraints,
        ),
    )


def test_create_defaults_and_limits(ctx: DssContext) -> None:
    open_ended = volume(START, 60)
    open_ended = Volume4D(open_ended.volume, None, None)
    sub = subscribe(ctx, open_ended).subscription.subscription
    assert sub.time_start == T0
    assert sub.time_end == T0 + timedelta(hours=24)
    assert sub.notification_index == 0 and not sub.implicit
    with pytest.raises(InvalidInput, match="exceeds 24 hours"):
        subscribe(ctx, volume(START, 24 * 60 + 1))
    with pytest.raises(InvalidInput, match="No notification triggers"):
        subscribe(ctx, ops=False)
    with pytest.raises(InvalidInput, match="in the past"):
        subscribe(ctx, volume(T0 - timedelta(minutes=30), 10 + 30))


def test_update_needs_current_version_and_keeps_index(ctx: DssContext) -> None:
    sub = subscribe(ctx).subscription.subscription
    with pytest.raises(AlreadyExists):
        subscribe(ctx, sub_id=sub.id)
    with pytest.raises(VersionMismatch):
        subscribe(ctx, sub_id=sub.id, version="stale-version-0000")
    with pytest.raises(PermissionDenied):
        subscribe(ctx, sub_id=sub.id, version=sub.version, requester=USS2)
    with pytest.raises(NotFound):
        subscribe(ctx, sub_id=new_id(), version=sub.version)
    updated = subscribe(ctx, volume(START, 120), sub_id=sub.id, version=sub.version).subscription.subscription
    assert updated.version != sub.version
    assert updated.time_end == START + timedelta(minutes=120)


def test_put_returns_what_is_already_in_the_area(ctx: DssContext) -> None:
    oir = oir_svc.put_operational_intent(
        ctx,
        requester=USS2,
        scopes=frozenset({"utm.strategic_coordination"}),
        request=oir_svc.PutOperationalIntent(
            new_id(), None, (volume(START),), (), OperationalIntentState.ACCEPTED, "https://uss2.example"
        ),
    ).operational_intent.reference
    result = subscribe(ctx, constraints=False)
    assert result.operational_intents is not None
    assert [v.reference.id for v in result.operational_intents] == [oir.id]
    assert result.constraints is None


def test_notifications_increment_indices(ctx: DssContext) -> None:
    sub = subscribe(ctx, constraints=True).subscription.subscription
    change = dss_constraints.put_constraint(
        ctx,
        requester=USS2,
        request=dss_constraints.PutConstraint(new_id(), None, (volume(START),), "https://uss2.example"),
    )
    assert [(s.uss_base_url, s.subscriptions) for s in change.subscribers] == [
        ("https://uss1.example", ((sub.id, 1),))
    ]
    ref = change.constraint.reference
    deleted = dss_constraints.delete_constraint(ctx, requester=USS2, entity_id=ref.id, ovn=ref.ovn)
    assert deleted.subscribers[0].subscriptions == ((sub.id, 2),)
    assert (
        svc.get_subscription(ctx, requester=USS1, subscription_id=sub.id).subscription.notification_index == 2
    )


def test_query_returns_only_own_unexpired(ctx: DssContext) -> None:
    mine = subscribe(ctx).subscription.subscription
    subscribe(ctx, requester=USS2)
    found = svc.query_subscriptions(ctx, requester=USS1, area=volume(START))
    assert [v.subscription.id for v in found] == [mine.id]
    with pytest.raises(PermissionDenied):
        svc.get_subscription(ctx, requester=USS2, subscription_id=mine.id)


def test_delete_refuses_when_operational_intents_depend(ctx: DssContext) -> None:
    sub = subscribe(ctx, volume(START - timedelta(minutes=1), 180)).subscription.subscription
    oir = oir_svc.put_operational_intent(
        ctx,
        requester=USS1,
        scopes=frozenset({"utm.strategic_coordination"}),
        request=oir_svc.PutOperationalIntent(
            new_id(),
            None,
            (volume(START),),
            (),
            OperationalIntentState.ACCEPTED,
            "https://uss1.example",
            subscription_id=sub.id,
        ),
    ).operational_intent.reference
    with pytest.raises(InvalidInput, match="dependent"):
        svc.delete_subscription(ctx, requester=USS1, subscription_id=sub.id, version=sub.version)
    with pytest.raises(InvalidInput, match="no longer cover"):
        subscribe(ctx, volume(START, 10), sub_id=sub.id, version=sub.version)
    oir_svc.delete_operational_intent(ctx, requester=USS1, entity_id=oir.id, ovn=oir.ovn)
    deleted = svc.delete_subscription(ctx, requester=USS1, subscription_id=sub.id, version=sub.version)
    assert deleted.subscription.id == sub.id


def test_constraint_ownership_versions_and_duration(ctx: DssContext) -> None:
    put = dss_constraints.put_constraint
    ref = put(
        ctx,
        requester=USS1,
        request=dss_constraints.PutConstraint(new_id(), None, (volume(START),), "https://a.b"),
    ).constraint.reference
    with pytest.raises(PermissionDenied):
        put(
            ctx,
            requester=USS2,
            request=dss_constraints.PutConstraint(ref.id, ref.ovn, (volume(START),), "https://a.b"),
        )
    with pytest.raises(VersionMismatch):
        put(
            ctx,
            requester=USS1,
            request=dss_constraints.PutConstraint(ref.id, None, (volume(START),), "https://a.b"),
        )
    with pytest.raises(InvalidInput, match="more than the limit"):
        put(
            ctx,
            requester=USS1,
            request=dss_constraints.PutConstraint(new_id(), None, (volume(START, 25 * 60),), "https://a.b"),
        )
    v2 = put(
        ctx,
        requester=USS1,
        request=dss_constraints.PutConstraint(ref.id, ref.ovn, (volume(START),), "https://a.b"),
    ).constraint.reference
    assert v2.version == 2


def test_availability_versions(ctx: DssContext) -> None:
    from parley.domain.entities import UssAvailabilityState as S

    assert dss_availability.get_uss_availability(ctx, uss="uss9").availability is S.UNKNOWN
    first = dss_availability.set_uss_availability(ctx, uss="uss9", old_version="", availability=S.NORMAL)
    with pytest.raises(VersionMismatch):
        dss_availability.set_uss_availability(ctx, uss="uss9", old_version="", availability=S.DOWN)
    second = dss_availability.set_uss_availability(
        ctx, uss="uss9", old_version=first.version, availability=S.DOWN
    )
    assert dss_availability.get_uss_availability(ctx, uss="uss9") == second


def test_expired_entities_are_removed(ctx: DssContext, clock: object) -> None:
    from parley.ports.clock import FixedClock

    assert isinstance(clock, FixedClock)
    subscribe(ctx, volume(START, 30))
    clock.set(START + timedelta(hours=2))
    assert dss_availability.remove_expired(ctx) == 1
