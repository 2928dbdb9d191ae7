"""Whether a conflict blocks, as F3548 (and InterUSS's mock USS, which tests USSs against it) rules:
astm.f3548.v21.SCD0015/20/25 (lower may not conflict with higher), SCD0035/40/45 (equal priority
when the regulator forbids it), SCD0030 (modifying an Activated intent with a pre-existing
conflict), and no rule for off-nominal intents."""

from __future__ import annotations

import dataclasses

import pytest

from parley.strategic import (
    CheckPolicy,
    ConstraintPolicy,
    IntentState,
    OperationKind,
    Reason,
    SamePriorityPolicy,
    check,
)
from tests.strategic.helpers import Plane, op, rect, vol

PLANE = Plane(35.0, 139.0)
HERE = vol(PLANE.polygon(rect(0, 0, 100, 100)))
THERE = vol(PLANE.polygon(rect(50, 50, 150, 150)))
ELSEWHERE = vol(PLANE.polygon(rect(1000, 1000, 1100, 1100)))


def _one(subject_priority: int, other_priority: int, policy: CheckPolicy | None = None, **other: object):  # type: ignore[no-untyped-def]
    result = check(
        op("mine", HERE, priority=subject_priority),
        [op("theirs", THERE, priority=other_priority, **other)],
        policy,
    )
    (conflict,) = result.conflicts
    return result, conflict


def test_lower_priority_may_not_conflict_with_higher() -> None:  # SCD0015
    result, conflict = _one(0, 10)
    assert conflict.blocking and conflict.reason is Reason.HIGHER_PRIORITY
    assert not result.clear and result.blocking == (conflict,)
    assert "higher priority 10" in conflict.explanation


def test_higher_priority_may_conflict_with_lower_and_it_is_reported() -> None:
    result, conflict = _one(10, 0)
    assert not conflict.blocking and conflict.reason is Reason.LOWER_PRIORITY
    assert result.clear and conflict.overlaps


@pytest.mark.parametrize(
    ("policy", "blocking"),
    [(SamePriorityPolicy.BLOCKED, True), (SamePriorityPolicy.CONFLICTS_ALLOWED, False)],
)
def test_equal_priority_follows_the_policy(policy: SamePriorityPolicy, blocking: bool) -> None:  # SCD0035
    _, conflict = _one(5, 5, CheckPolicy(same_priority=policy))
    assert conflict.blocking is blocking and conflict.reason is Reason.SAME_PRIORITY


def test_equal_priority_is_blocked_by_default() -> None:
    _, conflict = _one(5, 5)
    assert conflict.blocking


@pytest.mark.parametrize(
    ("policy", "blocking"), [(ConstraintPolicy.BLOCKED, True), (ConstraintPolicy.REPORTED, False)]
)
def test_constraints_follow_their_policy(policy: ConstraintPolicy, blocking: bool) -> None:
    _, conflict = _one(100, 0, CheckPolicy(constraints=policy), kind=OperationKind.CONSTRAINT)
    assert conflict.blocking is blocking and conflict.reason is Reason.CONSTRAINT
    assert conflict.other_kind is OperationKind.CONSTRAINT


def test_a_constraint_being_published_is_not_blocked_by_intents() -> None:
    subject = op("reservation", HERE, kind=OperationKind.CONSTRAINT)
    (conflict,) = check(subject, [op("theirs", THERE, priority=100)]).conflicts
    assert not conflict.blocking and conflict.reason is Reason.SUBJECT_IS_CONSTRAINT


@pytest.mark.parametrize("state", [IntentState.NONCONFORMING, IntentState.CONTINGENT])
def test_off_nominal_subjects_are_not_blocked(state: IntentState) -> None:
    subject = op("mine", HERE, priority=0, state=state)
    (conflict,) = check(subject, [op("theirs", THERE, priority=100)]).conflicts
    assert not conflict.blocking and conflict.reason is Reason.OFF_NOMINAL


def test_pre_existing_conflict_of_an_activated_intent_does_not_block_its_modification() -> None:  # SCD0030
    theirs = op("theirs", THERE, priority=100, state=IntentState.ACTIVATED)
    before = op("mine", HERE, priority=0, state=IntentState.ACTIVATED)
    after = op("mine", vol(PLANE.polygon(rect(60, 60, 120, 120))), priority=0, state=IntentState.ACTIVATED)
    (conflict,) = check(after, [theirs], previous=before).conflicts
    assert not conflict.blocking and conflict.reason is Reason.PRE_EXISTING


def test_a_new_conflict_of_an_activated_intent_blocks_its_modification() -> None:  # SCD0030
    theirs = op("theirs", THERE, priority=100, state=IntentState.ACTIVATED)
    before = op("mine", ELSEWHERE, priority=0, state=IntentState.ACTIVATED)
    after = op("mine", HERE, priority=0, state=IntentState.ACTIVATED)
    (conflict,) = check(after, [theirs], previous=before).conflicts
    assert conflict.blocking and conflict.reason is Reason.HIGHER_PRIORITY


def test_an_activated_intent_may_shrink_inside_a_constraint_published_over_it() -> None:
    reservation = op("reservation", THERE, kind=OperationKind.CONSTRAINT)
    before = op("mine", HERE, priority=0, state=IntentState.ACTIVATED)
    after = op("mine", vol(PLANE.polygon(rect(60, 60, 120, 120))), priority=0, state=IntentState.ACTIVATED)
    (conflict,) = check(after, [reservation], previous=before).conflicts
    assert not conflict.blocking and conflict.reason is Reason.PRE_EXISTING
    # a new conflict with it still blocks; so does planning (not modifying an Activated version)
    (conflict,) = check(
        after, [reservation], previous=op("mine", ELSEWHERE, state=IntentState.ACTIVATED)
    ).conflicts
    assert conflict.blocking and conflict.reason is Reason.CONSTRAINT
    (conflict,) = check(
        dataclasses.replace(after, state=IntentState.ACCEPTED), [reservation], previous=before
    ).conflicts
    assert conflict.blocking


def test_pre_existing_only_applies_between_activated_intents() -> None:
    before = op("mine", HERE, priority=0, state=IntentState.ACTIVATED)
    after = dataclasses.replace(before, volumes=(THERE,))
    accepted = op("theirs", THERE, priority=100, state=IntentState.ACCEPTED)
    (conflict,) = check(after, [accepted], previous=before).conflicts
    assert conflict.blocking
    planned = dataclasses.replace(after, state=IntentState.ACCEPTED)
    activated = dataclasses.replace(accepted, state=IntentState.ACTIVATED)
    (conflict,) = check(planned, [activated], previous=before).conflicts
    assert conflict.blocking


def test_the_subjects_own_earlier_version_is_not_a_conflict() -> None:
    result = check(op("mine", HERE), [op("mine", THERE, priority=100)])
    assert result.conflicts == ()


def test_each_other_operation_is_decided_on_its_own() -> None:
    others = [op("high", THERE, priority=9), op("low", THERE, priority=1), op("away", ELSEWHERE, priority=9)]
    result = check(op("mine", HERE, priority=5), others)
    assert [(c.other_id, c.blocking) for c in result.conflicts] == [("high", True), ("low", False)]
    assert [c.other_id for c in result.blocking] == ["high"]
