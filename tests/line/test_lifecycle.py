"""The request life cycle: every transition, allowed or forbidden, and a stateful search."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from parley.line.entry import Kind
from parley.line.errors import TransitionRefused
from parley.line.lifecycle import (
    ANSWER_STEPS,
    ANSWERED,
    FINAL,
    OBLIGATION_STEPS,
    OPEN,
    Event,
    Leg,
    Role,
    Status,
    Step,
    Thread,
    obligation,
    step,
)
from parley.line.times import parse_time
from tests.line.helpers import Party, at, request_body

DEADLINE = parse_time(at(30), "deadline")
BEFORE, AFTER = DEADLINE - timedelta(minutes=1), DEADLINE + timedelta(minutes=1)
S, R = Role.SENDER, Role.RECIPIENT

LEGS = {
    "sent": Leg("BLUE", DEADLINE),
    "delivered": Leg("BLUE", DEADLINE, Status.DELIVERED, delivered=True),
    "read": Leg("BLUE", DEADLINE, Status.READ, delivered=True, read=True),
    "accepted": Leg("BLUE", DEADLINE, Status.ACCEPTED, delivered=True, answer="a"),
    "accepted, certified": Leg(
        "BLUE", DEADLINE, Status.ACCEPTED, delivered=True, answer="a", certificate="c"
    ),
    "accepted, certificate failed": Leg(
        "BLUE", DEADLINE, Status.ACCEPTED, delivered=True, answer="a", certificate="c", verdict="failed"
    ),
    "declined": Leg("BLUE", DEADLINE, Status.DECLINED, delivered=True, answer="a"),
    "countered": Leg("BLUE", DEADLINE, Status.COUNTERED, delivered=True, answer="a"),
    "withdrawn": Leg("BLUE", DEADLINE, Status.WITHDRAWN, delivered=True),
    "expired, not delivered": Leg("BLUE", DEADLINE, Status.EXPIRED, expired_by=frozenset({S})),
    "expired, delivered": Leg("BLUE", DEADLINE, Status.EXPIRED, delivered=True, expired_by=frozenset({S})),
}
ANSWERS = (Step.ACCEPT, Step.DECLINE, Step.COUNTER)
EITHER = ("before", "after")

# (state, step, role, timing) -> resulting status. Every combination not listed is refused.
ALLOWED: dict[tuple[str, Step, Role, str], Status] = {}
for when in EITHER:
    ALLOWED["sent", Step.DELIVER, R, when] = Status.DELIVERED
    for state in ("sent", "delivered", "read"):
        ALLOWED[state, Step.WITHDRAW, S, when] = Status.WITHDRAWN
    ALLOWED["delivered", Step.READ, R, when] = Status.READ
    for state, answer in itertools.product(("delivered", "read", "expired, delivered"), ANSWERS):
        ALLOWED[state, answer, R, when] = ANSWER_STEPS[answer]
    ALLOWED["expired, not delivered", Step.DELIVER, R, when] = Status.EXPIRED
    ALLOWED["expired, delivered", Step.READ, R, when] = Status.EXPIRED
for state in ("sent", "delivered", "read"):
    ALLOWED[state, Step.EXPIRE, S, "after"] = Status.EXPIRED
for state in ("delivered", "read", "expired, delivered"):
    ALLOWED[state, Step.EXPIRE, R, "after"] = Status.EXPIRED
for state in ("accepted", "declined", "countered"):
    ALLOWED[state, Step.EXPIRE, S, "after"] = Status(state)
ACCEPTED = ("accepted", "accepted, certified", "accepted, certificate failed")
for state in ACCEPTED:
    ALLOWED[state, Step.EXPIRE, S, "after"] = Status.ACCEPTED
for when in EITHER:  # an accepted obligation: certificate, verdict, alarms
    for state in ACCEPTED:
        ALLOWED[state, Step.ALARM, S, when] = ALLOWED[state, Step.ALARM, R, when] = Status.ACCEPTED
    for state in ("accepted", "accepted, certificate failed"):
        ALLOWED[state, Step.CERTIFY, R, when] = Status.ACCEPTED
    ALLOWED["accepted, certified", Step.JUDGE, S, when] = Status.ACCEPTED

CASES = list(itertools.product(LEGS, Step, Role, EITHER))


@pytest.mark.parametrize(("state", "kind", "role", "when"), CASES, ids=["-".join(map(str, c)) for c in CASES])
def test_every_transition(state: str, kind: Step, role: Role, when: str) -> None:
    leg = LEGS[state]
    time = BEFORE if when == "before" else AFTER
    event = Event(kind, time, role, late=time > DEADLINE, entry="h", certificate="c", outcome="verified")
    expected = ALLOWED.get((state, kind, role, when))
    if expected is None:
        with pytest.raises(TransitionRefused, match="BLUE: "):
            step(leg, event)
        return
    after = step(leg, event)
    assert after.status is expected
    if kind in ANSWERS:
        assert after.late is (when == "after") and after.answer == "h"
    if kind is Step.CERTIFY:
        assert (after.certificate, after.verdict) == ("h", None)
    if kind is Step.JUDGE:
        assert (after.certificate, after.verdict) == ("c", "verified")
    if kind is Step.ALARM:
        assert after.alarms == (*leg.alarms, "h")


def test_a_verdict_judges_the_latest_certificate_once() -> None:
    leg = step(LEGS["accepted"], Event(Step.CERTIFY, BEFORE, R, entry="c1"))
    with pytest.raises(TransitionRefused, match="not its latest"):
        step(leg, Event(Step.JUDGE, BEFORE, S, entry="v", certificate="c0", outcome="verified"))
    leg = step(leg, Event(Step.JUDGE, BEFORE, S, entry="v", certificate="c1", outcome="failed"))
    with pytest.raises(TransitionRefused, match="judged already"):
        step(leg, Event(Step.JUDGE, BEFORE, S, entry="v2", certificate="c1", outcome="verified"))
    leg = step(leg, Event(Step.CERTIFY, AFTER, R, entry="c2"))  # again, after the failed verdict
    assert (leg.certificate, leg.verdict) == ("c2", None)


@pytest.mark.parametrize("state", ["delivered", "read", "expired, delivered"])
def test_the_late_mark_must_tell_the_truth(state: str) -> None:
    with pytest.raises(TransitionRefused, match="after the deadline must be marked late"):
        step(LEGS[state], Event(Step.ACCEPT, AFTER, R, late=False))
    with pytest.raises(TransitionRefused, match="before the deadline must not be marked late"):
        step(LEGS[state], Event(Step.DECLINE, BEFORE, R, late=True))


def test_each_side_records_an_expiry_once_and_the_other_side_may_follow() -> None:
    leg = step(LEGS["read"], Event(Step.EXPIRE, DEADLINE, R))
    leg = step(leg, Event(Step.EXPIRE, AFTER, S))
    assert leg.status is Status.EXPIRED and leg.expired_by == {R, S}
    with pytest.raises(TransitionRefused, match="already recorded by the sender"):
        step(leg, Event(Step.EXPIRE, AFTER, S))


class LegMachine(RuleBasedStateMachine):
    """No sequence of steps reaches an undefined state: each either moves the leg to a defined state
    that keeps the rules or is refused with TransitionRefused, the leg unchanged."""

    def __init__(self) -> None:
        super().__init__()
        self.leg = Leg("BLUE", DEADLINE)

    @rule(
        kind=st.sampled_from(Step),
        role=st.sampled_from(Role),
        minutes=st.integers(-40, 40),
        honest=st.booleans(),
    )
    def take(self, kind: Step, role: Role, minutes: int, honest: bool) -> None:
        time = DEADLINE + timedelta(minutes=minutes)
        late = (time > DEADLINE) if honest else not (time > DEADLINE)
        before = self.leg
        try:
            after = step(before, Event(kind, time, role, late=late, entry=f"e{minutes}"))
        except TransitionRefused:
            assert self.leg == before
            return
        assert isinstance(after.status, Status)
        assert after.delivered >= before.delivered and after.read >= before.read
        assert after.expired_by >= before.expired_by
        if before.status in FINAL:
            assert after.status is before.status
            assert (kind is Step.EXPIRE and role is S) or kind in OBLIGATION_STEPS
        if kind in OBLIGATION_STEPS:
            assert before.status is Status.ACCEPTED and after.status is Status.ACCEPTED
        if after.status in ANSWERED and before.status not in ANSWERED:
            assert kind in ANSWERS and role is R and after.late == (time > DEADLINE) and after.delivered
        if after.status is Status.WITHDRAWN:
            assert before.status in OPEN and role is S
        if after.status is Status.EXPIRED and before.status is not Status.EXPIRED:
            assert kind is Step.EXPIRE and time >= DEADLINE
        self.leg = after

    @invariant()
    def defined(self) -> None:
        assert self.leg.status in Status
        assert (self.leg.answer is not None) == (self.leg.status in ANSWERED)
        assert not (self.leg.read and not self.leg.delivered)


TestLegMachine = LegMachine.TestCase
TestLegMachine.settings = settings(max_examples=300, stateful_step_count=30, deadline=None)


# Threads: entries move the legs of their recipients.


def test_a_vacate_accepted_becomes_an_obligation() -> None:
    red, blue, aid = Party("RED"), Party("BLUE"), Party("AID")
    req = red.request(0, ["BLUE", "AID"], request_body("vacate"))
    thread = Thread.open(req)
    for entry in (
        blue.answer(0.1, req, Kind.DELIVERED),
        aid.answer(0.2, req, Kind.DELIVERED),
        blue.answer(3, req, Kind.READ),
        blue.answer(10, req, Kind.ACCEPT, {"conditions": "exit to the west"}),
        aid.answer(11, req, Kind.DECLINE, {"reason": "no aircraft there"}),
    ):
        thread = thread.apply(entry)
    assert thread.legs["BLUE"].status is Status.ACCEPTED and thread.legs["AID"].status is Status.DECLINED
    (duty,) = thread.obligations()
    assert duty == obligation(thread, "BLUE")
    assert (duty.obligor, duty.beneficiary, duty.request) == ("BLUE", "RED", req.hash)
    assert duty.acceptance == blue.entries[-1].hash and duty.conditions == "exit to the west"
    assert duty.volume == req.body["volume"] and not duty.late
    assert obligation(thread, "AID") is None and obligation(thread, "NOBODY") is None


@pytest.mark.parametrize("kind", ["notice", "passage", "free_text"])
def test_other_acceptances_are_no_obligation(kind: str) -> None:
    red, blue = Party("RED"), Party("BLUE")
    req = red.request(0, ["BLUE"], request_body(kind))
    thread = (
        Thread.open(req).apply(blue.answer(1, req, Kind.DELIVERED)).apply(blue.answer(2, req, Kind.ACCEPT))
    )
    assert thread.obligations() == ()


def test_a_late_acceptance_is_recorded_as_late() -> None:
    red, blue = Party("RED"), Party("BLUE")
    req = red.request(0, ["BLUE"], request_body("hold_clear"))
    thread = Thread.open(req).apply(blue.answer(1, req, Kind.DELIVERED))
    thread = thread.apply(red.answer(30, req, Kind.EXPIRED, {"recipient": "BLUE"}))
    thread = thread.apply(blue.answer(45, req, Kind.ACCEPT, {"late": True}))
    assert thread.legs["BLUE"].status is Status.ACCEPTED and thread.obligations()[0].late


def test_threads_refuse_what_is_not_theirs() -> None:
    red, blue, aid = Party("RED"), Party("BLUE"), Party("AID")
    req = red.request(0, ["BLUE"], request_body())
    other = red.request(1, ["BLUE"], request_body())
    thread = Thread.open(req)
    with pytest.raises(TransitionRefused, match="a thread opens with a request"):
        Thread.open(blue.answer(1, req, Kind.DELIVERED))
    with pytest.raises(TransitionRefused, match=r"BLUE#\d .*answers: not the request"):
        thread.apply(blue.answer(1, other, Kind.DELIVERED))
    with pytest.raises(TransitionRefused, match="AID is not a party"):
        thread.apply(aid.answer(1, req, Kind.DELIVERED))
    with pytest.raises(TransitionRefused, match="only the sender may withdraw"):
        thread.apply(blue.answer(1, req, Kind.WITHDRAW))
    with pytest.raises(TransitionRefused, match="only the recipient"):
        thread.apply(red.answer(1, req, Kind.ACCEPT))
    with pytest.raises(TransitionRefused, match=r"body\.recipient"):
        thread.apply(red.answer(31, req, Kind.EXPIRED, {"recipient": "AID"}))
    with pytest.raises(TransitionRefused, match="before the deadline"):
        thread.apply(red.answer(29, req, Kind.EXPIRED, {"recipient": "BLUE"}))
    thread = thread.apply(blue.answer(1, req, Kind.DELIVERED)).apply(
        blue.answer(2, req, Kind.DECLINE, {"reason": "no"})
    )
    with pytest.raises(TransitionRefused, match="not allowed when declined"):
        thread.apply(red.answer(3, req, Kind.WITHDRAW))
    with pytest.raises(TransitionRefused, match="not allowed when declined"):
        thread.apply(blue.answer(4, req, Kind.ACCEPT))


def test_a_withdrawal_closes_every_open_leg() -> None:
    red, blue = Party("RED"), Party("BLUE")
    req = red.request(0, ["BLUE", "AID"], request_body("passage"))
    thread = Thread.open(req).apply(blue.answer(1, req, Kind.DELIVERED))
    thread = thread.apply(blue.answer(2, req, Kind.ACCEPT))
    withdrawal = red.answer(3, req, Kind.WITHDRAW, {"reason": "route changed"})
    thread = thread.apply(withdrawal)
    assert thread.legs["AID"].status is Status.WITHDRAWN and thread.legs["BLUE"].status is Status.ACCEPTED
    with pytest.raises(TransitionRefused, match="withdraw"):
        thread.apply(red.answer(4, req, Kind.WITHDRAW))
    assert thread.last == withdrawal.hash
