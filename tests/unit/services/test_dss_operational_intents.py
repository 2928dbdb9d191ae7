"""Operational intent use cases over the in-memory store (astm.f3548.v21.DSS0005, DSS0210, DSS0220)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from parley.domain.entities import NO_OVN_PHRASE, Manager, OperationalIntentState, UssAvailabilityState
from parley.domain.errors import (
    AreaTooLarge,
    InvalidInput,
    MissingOvns,
    NotFound,
    PermissionDenied,
    UssDown,
    VersionMismatch,
)
from parley.ports.clock import FixedClock
from parley.services import dss_availability, dss_subscriptions
from parley.services import dss_operational_intents as svc
from parley.services.context import DssContext
from tests.factories import T0, new_id, volume

USS1 = Manager("uss1")
USS2 = Manager("uss2")
SC = frozenset({"utm.strategic_coordination"})
CMSA = frozenset({"utm.conformance_monitoring_sa"})
START = T0 + timedelta(minutes=10)


def put(
    ctx: DssContext,
    *,
    requester: Manager = USS1,
    entity_id: str | None = None,
    ovn: str | None = None,
    key: tuple[str, ...] = (),
    state: OperationalIntentState = OperationalIntentState.ACCEPTED,
    scopes: frozenset[str] = SC,
    implicit: bool = True,
    notify_for_constraints: bool = False,
    subscription_id: str | None = None,
    start: datetime = START,
    **vol: object,
) -> svc.OirChange:
    request = svc.PutOperationalIntent(
        entity_id=entity_id or new_id(),  # type: ignore[arg-type]
        ovn=ovn,  # type: ignore[arg-type]
        extents=(volume(start, **vol),),  # type: ignore[arg-type]
        key=key,
        state=state,
        uss_base_url=f"https://{requester}.example/utm",
        subscription_id=subscription_id,  # type: ignore[arg-type]
        new_subscription=(
            svc.ImplicitSubscriptionRequest(f"https://{requester}.example/utm", notify_for_constraints)
            if implicit and subscription_id is None
            else None
        ),
    )
    return svc.put_operational_intent(ctx, requester=requester, scopes=scopes, request=request)


def test_create_mints_version_one_and_an_ovn(ctx: DssContext) -> None:
    change = put(ctx)
    ref = change.operational_intent.reference
    assert ref.version == 1
    assert 16 <= len(ref.ovn) <= 128
    assert ref.state is OperationalIntentState.ACCEPTED
    assert ref.time_start == START and ref.time_end == START + timedelta(minutes=60)
    assert change.operational_intent.uss_availability is UssAvailabilityState.UNKNOWN


def test_create_makes_an_implicit_subscription_that_is_notified(ctx: DssContext) -> None:
    change = put(ctx)
    sub_id = change.operational_intent.reference.subscription_id
    assert sub_id is not None
    view = dss_subscriptions.get_subscription(ctx, requester=USS1, subscription_id=sub_id)
    assert view.subscription.implicit
    assert view.subscription.notify_for_operational_intents
    assert view.dependent_operational_intents == (change.operational_intent.reference.id,)
    # its own creation notifies the new implicit subscription once
    assert [s for s in change.subscribers if s.uss_base_url == "https://uss1.example/utm"]


def test_second_intersecting_intent_needs_the_first_ovn(ctx: DssContext) -> None:
    first = put(ctx).operational_intent.reference
    with pytest.raises(MissingOvns) as info:
        put(ctx, requester=USS2)
    assert [o.id for o in info.value.operational_intents] == [first.id]
    change = put(ctx, requester=USS2, key=(first.ovn,))
    # uss1's implicit subscription is told of uss2's intent, with an incremented index
    urls = {s.uss_base_url: s.subscriptions for s in change.subscribers}
    assert urls["https://uss1.example/utm"][0][1] == 2


def test_disjoint_intents_need_no_key(ctx: DssContext) -> None:
    put(ctx)
    put(ctx, requester=USS2, lat=47.0)  # far away
    put(ctx, requester=USS2, alt=(500.0, 600.0))  # above
    put(ctx, requester=USS2, start=START + timedelta(minutes=61))  # after
    # the query band is 0-120 m: the one above is not returned
    assert len(svc.query_operational_intents(ctx, requester=USS2, area=volume(START, 240))) == 2


def test_update_requires_current_ovn_and_bumps_version(ctx: DssContext) -> None:
    ref = put(ctx).operational_intent.reference
    with pytest.raises(VersionMismatch):
        put(ctx, entity_id=ref.id, ovn="x" * 20)
    updated = put(ctx, entity_id=ref.id, ovn=ref.ovn, state=OperationalIntentState.ACTIVATED)
    new = updated.operational_intent.reference
    assert new.version == 2 and new.ovn != ref.ovn and new.state is OperationalIntentState.ACTIVATED


def test_create_of_existing_id_is_a_conflict_and_other_manager_is_denied(ctx: DssContext) -> None:
    ref = put(ctx).operational_intent.reference
    with pytest.raises(VersionMismatch):
        put(ctx, entity_id=ref.id)
    with pytest.raises(PermissionDenied):
        put(ctx, requester=USS2, entity_id=ref.id, ovn=ref.ovn)
    with pytest.raises(PermissionDenied):
        svc.delete_operational_intent(ctx, requester=USS2, entity_id=ref.id, ovn=ref.ovn)


def test_update_of_unknown_intent_is_not_found(ctx: DssContext) -> None:
    with pytest.raises(NotFound):
        put(ctx, entity_id=new_id(), ovn="y" * 20)


def test_first_version_must_be_accepted(ctx: DssContext) -> None:
    with pytest.raises(InvalidInput, match="initial version"):
        put(ctx, state=OperationalIntentState.ACTIVATED)


def test_off_nominal_states_need_cmsa_scope_and_no_key(ctx: DssContext) -> None:
    ref = put(ctx).operational_intent.reference
    other = put(ctx, requester=USS2, key=(ref.ovn,)).operational_intent.reference
    with pytest.raises(PermissionDenied, match="conformance_monitoring_sa"):
        put(ctx, entity_id=ref.id, ovn=ref.ovn, state=OperationalIntentState.NONCONFORMING)
    change = put(
        ctx, entity_id=ref.id, ovn=ref.ovn, state=OperationalIntentState.NONCONFORMING, scopes=SC | CMSA
    )
    assert change.operational_intent.reference.state is OperationalIntentState.NONCONFORMING
    # other's OVN was not in the key: allowed, off-nominal states are not deconflicted
    assert other.id != ref.id


def test_intents_in_off_nominal_states_are_not_required_in_keys(ctx: DssContext) -> None:
    ref = put(ctx).operational_intent.reference
    put(ctx, entity_id=ref.id, ovn=ref.ovn, state=OperationalIntentState.CONTINGENT, scopes=CMSA)
    put(ctx, requester=USS2)  # no key needed: the only neighbour is Contingent


def test_requester_sees_own_ovn_only(ctx: DssContext) -> None:
    ref = put(ctx).operational_intent.reference
    mine = svc.get_operational_intent(ctx, requester=USS1, entity_id=ref.id)
    theirs = svc.get_operational_intent(ctx, requester=USS2, entity_id=ref.id)
    assert mine.reference.ovn == ref.ovn
    assert theirs.reference.ovn == NO_OVN_PHRASE
    found = svc.query_operational_intents(ctx, requester=USS2, area=volume(START))
    assert [v.reference.ovn for v in found] == [NO_OVN_PHRASE]


def test_delete_removes_intent_and_its_implicit_subscription(ctx: DssContext) -> None:
    ref = put(ctx).operational_intent.reference
    assert ref.subscription_id is not None
    svc.delete_operational_intent(ctx, requester=USS1, entity_id=ref.id, ovn=ref.ovn)
    with pytest.raises(NotFound):
        svc.get_operational_intent(ctx, requester=USS1, entity_id=ref.id)
    with pytest.raises(NotFound):
        dss_subscriptions.get_subscription(ctx, requester=USS1, subscription_id=ref.subscription_id)


def test_delete_with_stale_ovn_changes_nothing(ctx: DssContext) -> None:
    ref = put(ctx).operational_intent.reference
    with pytest.raises(VersionMismatch):
        svc.delete_operational_intent(ctx, requester=USS1, entity_id=ref.id, ovn=ref.ovn + "x")  # type: ignore[arg-type]
    assert svc.get_operational_intent(ctx, requester=USS1, entity_id=ref.id).reference == ref


def test_explicit_subscription_must_cover_the_intent(ctx: DssContext) -> None:
    sub = dss_subscriptions.put_subscription(
        ctx,
        requester=USS1,
        request=dss_subscriptions.PutSubscription(
            subscription_id=new_id(),
            version=None,
            extents=volume(START - timedelta(minutes=1), 30),
            uss_base_url="https://uss1.example/utm",
            notify_for_operational_intents=True,
        ),
    ).subscription.subscription
    with pytest.raises(InvalidInput, match="does not cover"):
        put(ctx, subscription_id=sub.id, implicit=False)  # 60 min intent, 30 min subscription
    ref = put(ctx, subscription_id=sub.id, implicit=False, minutes=20).operational_intent.reference
    assert ref.subscription_id == sub.id


def test_constraints_are_in_the_key_only_when_subscribed_to(ctx: DssContext) -> None:
    from parley.services import dss_constraints

    constraint = dss_constraints.put_constraint(
        ctx,
        requester=USS2,
        request=dss_constraints.PutConstraint(new_id(), None, (volume(START),), "https://uss2.example/utm"),
    ).constraint.reference
    put(ctx)  # not subscribed to constraints: no key needed
    with pytest.raises(MissingOvns) as info:
        put(ctx, notify_for_constraints=True, lat=46.0)
    assert constraint.id in [c.id for c in info.value.constraints]


def test_down_uss_may_not_plan_or_delete(ctx: DssContext) -> None:
    ref = put(ctx).operational_intent.reference
    dss_availability.set_uss_availability(
        ctx, uss=USS1, old_version="", availability=UssAvailabilityState.DOWN
    )
    with pytest.raises(UssDown):
        put(ctx, lat=40.0)
    with pytest.raises(UssDown):
        svc.delete_operational_intent(ctx, requester=USS1, entity_id=ref.id, ovn=ref.ovn)
    seen = svc.get_operational_intent(ctx, requester=USS2, entity_id=ref.id)
    assert seen.uss_availability is UssAvailabilityState.DOWN


def test_limits_are_enforced(ctx: DssContext, clock: FixedClock) -> None:
    with pytest.raises(AreaTooLarge):
        put(ctx, half_deg=1.0)  # ~49,000 km²
    with pytest.raises(InvalidInput, match="in the past"):
        svc.put_operational_intent(
            ctx,
            requester=USS1,
            scopes=SC,
            request=svc.PutOperationalIntent(
                new_id(),
                None,
                (volume(T0 - timedelta(hours=2)),),
                (),
                OperationalIntentState.ACCEPTED,
                "https://uss1.example",
            ),
        )
    with pytest.raises(InvalidInput, match="planning horizon"):
        svc.put_operational_intent(
            ctx,
            requester=USS1,
            scopes=SC,
            request=svc.PutOperationalIntent(
                new_id(),
                None,
                (volume(T0 + timedelta(days=31)),),
                (),
                OperationalIntentState.ACCEPTED,
                "https://uss1.example",
            ),
        )
