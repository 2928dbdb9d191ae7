"""Choices where the standard is silent (docs/requirements.md, "Choices"): an explicit PUT of an
implicit subscription, and how far a subscription's start may lag its dependent intents'."""

from __future__ import annotations

from datetime import timedelta

import pytest

from parley.domain.entities import EntityId, Manager, OperationalIntentState
from parley.domain.errors import InvalidInput
from parley.domain.geo import Volume4D
from parley.ports.clock import FixedClock
from parley.services import dss_operational_intents as oir_svc
from parley.services import dss_subscriptions as svc
from parley.services.context import DssContext
from tests.factories import T0, new_id, volume

USS1 = Manager("uss1")
SC = frozenset({"utm.strategic_coordination"})
START = T0 + timedelta(minutes=1)


def _intent(ctx: DssContext) -> oir_svc.OirChange:
    url = "https://uss1.example/utm"
    request = oir_svc.PutOperationalIntent(
        new_id(),
        None,
        (volume(START, 60),),
        (),
        OperationalIntentState.ACCEPTED,
        url,
        new_subscription=oir_svc.ImplicitSubscriptionRequest(url),
    )
    return oir_svc.put_operational_intent(ctx, requester=USS1, scopes=SC, request=request)


def _put_subscription(
    ctx: DssContext, sub_id: EntityId, version: str, extents: Volume4D
) -> svc.SubscriptionPut:
    return svc.put_subscription(
        ctx,
        requester=USS1,
        request=svc.PutSubscription(sub_id, version, extents, "https://uss1.example/utm", True, False),
    )


def test_an_explicit_put_of_an_implicit_subscription_makes_it_explicit(ctx: DssContext) -> None:
    ref = _intent(ctx).operational_intent.reference
    assert ref.subscription_id is not None
    implicit = svc.get_subscription(ctx, requester=USS1, subscription_id=ref.subscription_id).subscription
    assert implicit.implicit

    put = _put_subscription(ctx, implicit.id, implicit.version, volume(START, 90))
    assert not put.subscription.subscription.implicit
    assert put.subscription.dependent_operational_intents == (ref.id,)

    # an explicit subscription outlives its intents (an implicit one would go with the last)
    oir_svc.delete_operational_intent(ctx, requester=USS1, entity_id=ref.id, ovn=ref.ovn)
    kept = svc.get_subscription(ctx, requester=USS1, subscription_id=implicit.id)
    assert not kept.subscription.implicit and kept.dependent_operational_intents == ()


@pytest.mark.parametrize(("minutes_later", "accepted"), [(4, True), (6, True), (7, False), (30, False)])
def test_a_subscription_may_start_up_to_five_minutes_after_its_dependents(
    ctx: DssContext, clock: FixedClock, minutes_later: int, accepted: bool
) -> None:
    """The intent starts at START; the subscription, which cannot start in the past, is moved to
    start now, ``minutes_later`` minutes after T0 (START + 5 min is the last start accepted)."""
    ref = _intent(ctx).operational_intent.reference
    assert ref.subscription_id is not None
    sub = svc.get_subscription(ctx, requester=USS1, subscription_id=ref.subscription_id).subscription
    now = T0 + timedelta(minutes=minutes_later)
    clock.set(now)
    extents = volume(now, 60 - minutes_later + 1)  # ends after the intent: only the start is in question
    if accepted:
        moved = _put_subscription(ctx, sub.id, sub.version, extents).subscription.subscription
        assert moved.time_start == now
    else:
        with pytest.raises(InvalidInput, match="no longer cover its dependent operational intent"):
            _put_subscription(ctx, sub.id, sub.version, extents)
        unchanged = svc.get_subscription(ctx, requester=USS1, subscription_id=sub.id).subscription
        assert unchanged == sub
