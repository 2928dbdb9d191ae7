"""The life cycle of a request, per recipient: a pure state machine.

Each recipient of a request has a :class:`Leg`; entries of the thread are :class:`Event`\\ s that
move it. Times are the signing times of the entries; the request's deadline decides expiry and
lateness.

=========== ======================================================================================
status      meaning
=========== ======================================================================================
sent        signed by the sender, no receipt yet
delivered   the recipient's node signed the receipt
read        the duty officer opened it
accepted    answered: yes (optionally with conditions)        \\
declined    answered: no, with a reason                          } ``late`` when signed after the deadline
countered   answered: a modified volume or window             /
withdrawn   the sender withdrew it before any answer
expired     the deadline passed with no answer (still answerable: the answer is then marked late)
=========== ======================================================================================

Transitions (anything else raises :class:`~parley.line.errors.TransitionRefused` and changes nothing):

- ``deliver`` (recipient): sent -> delivered; in expired, records a late delivery.
- ``read`` (recipient): delivered -> read; in expired, records a late reading (once delivered).
- ``accept | decline | counter`` (recipient): delivered, read or expired -> accepted | declined |
  countered. The event's ``late`` must say whether it is after the deadline.
- ``withdraw`` (sender): sent, delivered or read -> withdrawn. Never after an answer or an expiry.
- ``expire`` (either side, each once, not before the deadline): sent, delivered, read -> expired;
  in expired, the other side's record. The sender may also record it after an answer that was
  still in transit (the answer stands); the recipient only for a request it received and did not
  answer.

Accepted, declined, countered and withdrawn are final; expired is final unless a late answer comes.

An accepted ``vacate`` or ``hold_clear`` is an obligation, and its leg takes three more steps:

- ``certify`` (recipient, a ``certificate`` entry): the clearance certificate; once, or again after a
  failed verdict;
- ``judge`` (sender, a ``verdict`` entry naming the recipient and the certificate): verified, verified
  with the requester's own surveillance, or failed (with reasons); once per certificate;
- ``alarm`` (either side, an ``alarm`` entry naming the recipient): overdue at the deadline, or a
  re-entry during a hold; any number of times.

>>> from datetime import datetime, timedelta, timezone
>>> deadline = datetime(2017, 5, 3, 6, 30, tzinfo=timezone.utc)
>>> leg = Leg("BLUE", deadline)
>>> leg = step(leg, Event(Step.DELIVER, deadline - timedelta(minutes=29), Role.RECIPIENT))
>>> leg = step(leg, Event(Step.EXPIRE, deadline, Role.SENDER))
>>> leg = step(leg, Event(Step.ACCEPT, deadline + timedelta(minutes=5), Role.RECIPIENT, late=True))
>>> leg.status, leg.late
(<Status.ACCEPTED: 'accepted'>, True)
>>> step(leg, Event(Step.WITHDRAW, deadline, Role.SENDER))
Traceback (most recent call last):
...
parley.line.errors.TransitionRefused: BLUE: withdraw: not allowed when accepted
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from parley.line.bodies import OBLIGATING, RequestType
from parley.line.entry import Entry, Kind
from parley.line.errors import TransitionRefused
from parley.line.times import parse_time
from parley.line.values import hot_value


class Status(StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    COUNTERED = "countered"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


class Step(StrEnum):
    DELIVER = "deliver"
    READ = "read"
    ACCEPT = "accept"
    DECLINE = "decline"
    COUNTER = "counter"
    WITHDRAW = "withdraw"
    EXPIRE = "expire"
    CERTIFY = "certify"
    JUDGE = "judge"
    ALARM = "alarm"


class Role(StrEnum):
    SENDER = "sender"
    RECIPIENT = "recipient"


OPEN = frozenset({Status.SENT, Status.DELIVERED, Status.READ})
ANSWERED = frozenset({Status.ACCEPTED, Status.DECLINED, Status.COUNTERED})
#: States no event leaves (expired is not among them: a late answer may still come).
FINAL = ANSWERED | {Status.WITHDRAWN}
ANSWER_STEPS = {Step.ACCEPT: Status.ACCEPTED, Step.DECLINE: Status.DECLINED, Step.COUNTER: Status.COUNTERED}
STEP_OF_KIND = {
    Kind.DELIVERED: Step.DELIVER,
    Kind.READ: Step.READ,
    Kind.ACCEPT: Step.ACCEPT,
    Kind.DECLINE: Step.DECLINE,
    Kind.COUNTER: Step.COUNTER,
    Kind.WITHDRAW: Step.WITHDRAW,
    Kind.EXPIRED: Step.EXPIRE,
    Kind.CERTIFICATE: Step.CERTIFY,
    Kind.VERDICT: Step.JUDGE,
    Kind.ALARM: Step.ALARM,
}
#: Steps of an accepted obligation (vacate, hold_clear) only.
OBLIGATION_STEPS = frozenset({Step.CERTIFY, Step.JUDGE, Step.ALARM})


@hot_value()
class Event:
    """One step taken at ``at`` by the sender or the recipient; ``late`` is an answer's own mark;
    ``entry`` the hash of the entry recording it, if any."""

    step: Step
    at: datetime
    by: Role
    late: bool = False
    entry: str | None = None
    #: An acceptance's conditions.
    conditions: str | None = None
    #: A verdict's certificate (its hash) and outcome.
    certificate: str | None = None
    outcome: str | None = None


@hot_value()
class Leg:
    """A request as it stands for one recipient."""

    recipient: str
    deadline: datetime
    status: Status = Status.SENT
    #: The answer was signed after the deadline.
    late: bool = False
    delivered: bool = False
    read: bool = False
    #: Hash of the answer entry (accept, decline or counter), once answered.
    answer: str | None = None
    #: Who recorded the expiry (each side at most once).
    expired_by: frozenset[Role] = frozenset()
    #: An acceptance's conditions.
    conditions: str | None = None
    #: An accepted obligation's latest clearance certificate (its hash), the requester's verdict
    #: on it (verified, verified_with_own_surveillance, failed), and the alarms raised (hashes).
    certificate: str | None = None
    verdict: str | None = None
    alarms: tuple[str, ...] = ()

    @property
    def final(self) -> bool:
        return self.status in FINAL


def _moved(
    leg: Leg,
    *,
    status: Status | None = None,
    late: bool | None = None,
    delivered: bool | None = None,
    read: bool | None = None,
    answer: str | None = None,
    expired_by: frozenset[Role] | None = None,
    conditions: str | None = None,
) -> Leg:
    """``leg`` with the given fields changed (``dataclasses.replace`` without its generic cost: the
    transcript verifier moves tens of thousands of legs). A certificate, verdict or alarm moves
    the leg with :func:`_obligation_step`."""
    return Leg(
        leg.recipient,
        leg.deadline,
        leg.status if status is None else status,
        leg.late if late is None else late,
        leg.delivered if delivered is None else delivered,
        leg.read if read is None else read,
        leg.answer if answer is None else answer,
        leg.expired_by if expired_by is None else expired_by,
        leg.conditions if conditions is None else conditions,
        leg.certificate,
        leg.verdict,
        leg.alarms,
    )


def _refuse(leg: Leg, event: Event, why: str) -> TransitionRefused:
    return TransitionRefused(f"{leg.recipient}: {event.step.value}: {why}")


#: Steps only a request's recipient takes.
_RECIPIENT_STEPS = frozenset({Step.DELIVER, Step.READ, *ANSWER_STEPS})


def step(leg: Leg, event: Event) -> Leg:
    """The leg after ``event``; :class:`TransitionRefused` (the leg unchanged) when not allowed."""
    kind, status = event.step, leg.status
    if kind in OBLIGATION_STEPS:
        return _obligation_step(leg, event)
    recipient_step = kind in _RECIPIENT_STEPS
    if recipient_step and event.by is not Role.RECIPIENT:
        raise _refuse(leg, event, "only the recipient may take this step")
    if kind is Step.WITHDRAW and event.by is not Role.SENDER:
        raise _refuse(leg, event, "only the sender may withdraw")
    if kind is Step.DELIVER:
        if status is Status.SENT:
            return _moved(leg, status=Status.DELIVERED, delivered=True)
        if status is Status.EXPIRED and not leg.delivered:
            return _moved(leg, delivered=True)
        raise _refuse(leg, event, f"not allowed when {status.value}{' (already delivered)' * leg.delivered}")
    if kind is Step.READ:
        if status is Status.DELIVERED:
            return _moved(leg, status=Status.READ, read=True)
        if status is Status.EXPIRED and leg.delivered and not leg.read:
            return _moved(leg, read=True)
        raise _refuse(leg, event, f"not allowed when {status.value}")
    if kind in ANSWER_STEPS:
        if status not in (Status.DELIVERED, Status.READ, Status.EXPIRED) or not leg.delivered:
            raise _refuse(leg, event, f"not allowed when {status.value}")
        late = event.at > leg.deadline
        if event.late != late:
            which = "after the deadline must" if late else "before the deadline must not"
            raise _refuse(leg, event, f"an answer {which} be marked late")
        return Leg(
            leg.recipient,
            leg.deadline,
            ANSWER_STEPS[kind],
            late,
            leg.delivered,
            leg.read,
            event.entry,
            leg.expired_by,
            event.conditions,
            leg.certificate,
            leg.verdict,
            leg.alarms,
        )
    if kind is Step.WITHDRAW:
        if status in OPEN:
            return _moved(leg, status=Status.WITHDRAWN)
        raise _refuse(leg, event, f"not allowed when {status.value}")
    # Step.EXPIRE
    if event.at < leg.deadline:
        raise _refuse(leg, event, "recorded before the deadline")
    if event.by in leg.expired_by:
        raise _refuse(leg, event, f"already recorded by the {event.by.value}")
    expired_by = leg.expired_by | {event.by}
    if event.by is Role.RECIPIENT and not leg.delivered:
        raise _refuse(leg, event, "the recipient has not received the request")
    if status in OPEN or status is Status.EXPIRED:
        return _moved(leg, status=Status.EXPIRED, expired_by=expired_by)
    if status in ANSWERED and event.by is Role.SENDER:
        return _moved(leg, expired_by=expired_by)
    raise _refuse(leg, event, f"not allowed when {status.value}")


def _obligation_step(leg: Leg, event: Event) -> Leg:
    """A certificate (the recipient), a verdict (the sender) or an alarm (either) on an accepted
    obligation. A certificate is given once, or again after a failed verdict; a verdict judges the
    latest certificate, once; alarms may be raised any number of times."""
    kind = event.step
    if leg.status is not Status.ACCEPTED:
        raise _refuse(leg, event, f"not allowed when {leg.status.value} (only on an accepted obligation)")
    if kind is Step.CERTIFY:
        if event.by is not Role.RECIPIENT:
            raise _refuse(leg, event, "only the obligor certifies")
        if leg.certificate is not None and leg.verdict != "failed":
            raise _refuse(leg, event, "certified already (again only after a failed verdict)")
        return Leg(
            leg.recipient, leg.deadline, leg.status, leg.late, leg.delivered, leg.read, leg.answer,
            leg.expired_by, leg.conditions, event.entry, None, leg.alarms,
        )  # fmt: skip
    if kind is Step.JUDGE:
        if event.by is not Role.SENDER:
            raise _refuse(leg, event, "only the requester judges a certificate")
        if leg.certificate is None or event.certificate != leg.certificate:
            raise _refuse(leg, event, "judges no certificate of this leg (or not its latest)")
        if leg.verdict is not None:
            raise _refuse(leg, event, "the certificate is judged already")
        return Leg(
            leg.recipient, leg.deadline, leg.status, leg.late, leg.delivered, leg.read, leg.answer,
            leg.expired_by, leg.conditions, leg.certificate, event.outcome, leg.alarms,
        )  # fmt: skip
    return Leg(
        leg.recipient, leg.deadline, leg.status, leg.late, leg.delivered, leg.read, leg.answer,
        leg.expired_by, leg.conditions, leg.certificate, leg.verdict, (*leg.alarms, event.entry or ""),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Obligation:
    """An accepted ``vacate`` or ``hold_clear``: ``obligor`` undertook to keep its aircraft out of
    ``volume`` for ``beneficiary``. Verified from tracks elsewhere; this is the signed link."""

    thread: str
    type: RequestType
    beneficiary: str
    obligor: str
    request: str
    acceptance: str
    volume: Mapping[str, Any]
    conditions: str | None
    late: bool
    #: The latest clearance certificate (hash), the requester's verdict on it, the alarms raised.
    certificate: str | None = None
    verdict: str | None = None
    alarms: tuple[str, ...] = ()


@hot_value()
class Thread:
    """A request and its legs, one per recipient, moved by the entries of its thread."""

    id: str
    sender: str
    type: RequestType
    request: Entry
    deadline: datetime
    legs: Mapping[str, Leg]
    #: Hash of the last entry applied (the request at first).
    last: str

    @classmethod
    def open(cls, request: Entry) -> Thread:
        if request.kind is not Kind.REQUEST or request.thread is None:
            raise TransitionRefused(f"{request.short}: kind: a thread opens with a request")
        deadline = parse_time(request.body["deadline"], "body.deadline")
        return cls(
            id=request.thread,
            sender=request.party,
            type=RequestType(request.body["type"]),
            request=request,
            deadline=deadline,
            legs={r: Leg(r, deadline) for r in request.to},
            last=request.hash,
        )

    @property
    def open_legs(self) -> tuple[str, ...]:
        """Recipients whose answer is still awaited (not final and not expired)."""
        return tuple(r for r, leg in self.legs.items() if leg.status in OPEN)

    def event_of(self, entry: Entry) -> tuple[str, Event]:
        """The recipient whose leg ``entry`` moves (the first open one for a withdrawal), and the event."""
        if entry.thread != self.id or entry.answers != self.request.hash:
            raise TransitionRefused(
                f"{entry.short}: answers: not the request {self.request.short} of thread {self.id}"
            )
        kind = STEP_OF_KIND.get(entry.kind)
        if kind is None:
            raise TransitionRefused(f"{entry.short}: kind: {entry.kind.value} has no place in a thread")
        if entry.party == self.sender:
            role = Role.SENDER
        elif entry.party in self.legs:
            role = Role.RECIPIENT
        else:
            raise TransitionRefused(f"{entry.short}: party: {entry.party} is not a party to thread {self.id}")
        if kind in OBLIGATION_STEPS and self.type not in OBLIGATING:
            raise TransitionRefused(
                f"{entry.short}: kind: a {self.type.value} request makes no obligation to {entry.kind.value}"
            )
        if kind is Step.EXPIRE or kind is Step.JUDGE or kind is Step.ALARM:
            recipient = entry.body["recipient"]
            if recipient not in self.legs or (role is Role.RECIPIENT and recipient != entry.party):
                raise TransitionRefused(
                    f"{entry.short}: body.recipient: {recipient} cannot be named by {entry.party} here"
                )
        elif role is Role.RECIPIENT:
            recipient = entry.party
        else:
            recipient = next(iter(self.open_legs), next(iter(self.legs)))
        return recipient, Event(
            kind,
            entry.time,
            role,
            late=entry.late,
            entry=entry.hash,
            conditions=entry.body.get("conditions"),
            certificate=entry.body.get("certificate") if kind is Step.JUDGE else None,
            outcome=entry.body.get("outcome") if kind is Step.JUDGE else None,
        )

    def apply(self, entry: Entry) -> Thread:
        """The thread after ``entry`` (refused with :class:`TransitionRefused`, nothing changed)."""
        try:
            recipient, event = self.event_of(entry)
            legs = dict(self.legs)
            if event.step is Step.WITHDRAW and event.by is Role.SENDER:
                targets = self.open_legs or (recipient,)
            else:
                targets = (recipient,)
            for target in targets:
                legs[target] = step(legs[target], event)
        except TransitionRefused as error:
            if error.message.startswith(entry.short):
                raise
            raise TransitionRefused(f"{entry.short}: {error.message}") from None
        return Thread(self.id, self.sender, self.type, self.request, self.deadline, legs, entry.hash)

    def obligations(self) -> tuple[Obligation, ...]:
        """One per recipient that accepted, for a vacate or hold_clear request."""
        return tuple(o for r in self.legs if (o := obligation(self, r)) is not None)


def obligation(thread: Thread, recipient: str) -> Obligation | None:
    """What ``recipient``'s acceptance of ``thread`` binds it to, if it is a vacate or hold_clear
    it accepted; ``None`` otherwise."""
    leg = thread.legs.get(recipient)
    if (
        thread.type not in OBLIGATING
        or leg is None
        or leg.status is not Status.ACCEPTED
        or leg.answer is None
    ):
        return None
    body = thread.request.body
    return Obligation(
        thread=thread.id,
        type=thread.type,
        beneficiary=thread.sender,
        obligor=recipient,
        request=thread.request.hash,
        acceptance=leg.answer,
        volume=body["volume"],
        conditions=leg.conditions,
        late=leg.late,
        certificate=leg.certificate,
        verdict=leg.verdict,
        alarms=leg.alarms,
    )
