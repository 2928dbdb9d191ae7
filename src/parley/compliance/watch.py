"""The watch of one obligation: a pure state machine fed telemetry and the time, emitting events.

When a party accepts a ``vacate`` or ``hold_clear``, its node opens a :class:`Watch` over the
affected aircraft and feeds it every position report (:meth:`Watch.observe`) and the time
(:meth:`Watch.tick`); the watch reads no clock and does no I/O. ``inside`` says whether a sample lies
inside the zone grown by its buffers (space only: the times that matter are the watch's own);
``near``, when given, whether it lies within the zone, its buffers and the near margin (the samples
kept to share; without it every sample is kept).

Per aircraft the watch knows its :class:`Presence` (``unknown`` until its first sample since the
acceptance, then ``inside`` or ``outside``), its last sample inside and first sample outside, and the
samples to share. It moves through three :class:`Phase`\\ s:

``clearing``
    until every affected aircraft is outside. An aircraft's first sample outside after being inside
    (or its first sample at all, when outside) emits :class:`Crossed`; a sample inside again emits
    :class:`Reentered` and withdraws its crossing. When the last one crosses: :class:`AllClear`,
    ``clear_at`` the latest crossing time (``late`` when after the deadline): the certificate is
    issued from its crossings (:func:`parley.compliance.certificate.build_certificate`). Once the
    deadline has passed (a :meth:`~Watch.tick` later than it) with some aircraft inside or never
    seen: one :class:`Overdue`, naming them; the watch goes on, a late all-clear may still come.
``holding``
    ``hold_clear`` only, from the all-clear until the hold window's end: an aircraft inside again is
    a :class:`Violation` with the samples before it (one per re-entry: it must leave again first).
``done``
    a ``vacate`` at its all-clear; a ``hold_clear`` at the window's end. Nothing more is emitted.

Telemetry that stops is never a crossing: an aircraft not yet out that sends nothing for
:data:`SILENT_AFTER_S` emits :class:`Silent` (once per silence) and stays inside or unknown, so the
obligation stays open and is overdue at the deadline. While holding, silence of any aircraft is
reported the same way (a hold nobody can see is not verified). Samples must arrive in time order per
aircraft: one not later than the aircraft's previous one, or earlier than the acceptance, is ignored
(counted in :attr:`Watch.ignored`), as are samples of aircraft that are not affected.

The state round-trips through JSON (:meth:`Watch.to_json`, :meth:`Watch.from_json`), so a restarted
node resumes the watch where it stopped.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from parley.compliance.certificate import AIRCRAFT_ID, DIGEST, MAX_AIRCRAFT, Crossing
from parley.compliance.samples import MAX_SAMPLES, Sample, commitment, samples_from_json, validate_sample
from parley.domain.errors import InvalidInput
from parley.line.times import format_time, parse_time

#: An aircraft not yet out that sends nothing for this long (seconds) is reported silent.
SILENT_AFTER_S = 10.0
#: How many samples before a re-entry (the re-entry included) a violation carries as evidence.
VIOLATION_CONTEXT = 10
#: Version of the stored state's format.
STATE_VERSION = 1

E = TypeVar("E", bound=StrEnum)


class ObligationKind(StrEnum):
    """What was accepted: leave the zone by the deadline, or also stay out until the window's end."""

    VACATE = "vacate"
    HOLD_CLEAR = "hold_clear"


class Presence(StrEnum):
    """Where an aircraft was at its latest sample: no sample yet, inside or outside the zone+buffer."""

    UNKNOWN = "unknown"
    INSIDE = "inside"
    OUTSIDE = "outside"


class Phase(StrEnum):
    """Where the watch stands (see the module)."""

    CLEARING = "clearing"
    HOLDING = "holding"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class Crossed:
    """``aircraft_id`` is out: its crossing so far (samples through its first outside, and later)."""

    aircraft_id: str
    crossing: Crossing


@dataclass(frozen=True, slots=True)
class Reentered:
    """``aircraft_id``, outside, is inside again before the all-clear (``sample``): its crossing is
    withdrawn and it must leave again. Not a violation: the obligation is still being met."""

    aircraft_id: str
    sample: Sample


@dataclass(frozen=True, slots=True)
class AllClear:
    """Every affected aircraft is out since ``clear_at`` (the latest crossing): the crossings to
    certify, by aircraft id; ``late`` when ``clear_at`` is after the deadline."""

    clear_at: datetime
    crossings: tuple[Crossing, ...]
    late: bool


@dataclass(frozen=True, slots=True)
class Overdue:
    """The deadline passed with ``aircraft_ids`` (sorted) not out: inside, or never seen since the
    acceptance (``unseen``, among them); ``observed_at`` is the time the watch was told (its tick)."""

    deadline: datetime
    aircraft_ids: tuple[str, ...]
    observed_at: datetime
    unseen: tuple[str, ...] = ()

    def alarm(self) -> dict[str, Any]:
        """The members of the ``alarm`` entry's body it raises (the caller adds ``recipient``)."""
        reason = f"not out of the zone and its buffer by the deadline {format_time(self.deadline)}"
        if self.unseen:
            reason += f"; never seen since the acceptance: {', '.join(self.unseen)}"
        return {
            "type": "overdue",
            "aircraft": list(self.aircraft_ids),
            "observed_at": format_time(self.observed_at),
            "reason": reason,
        }


@dataclass(frozen=True, slots=True)
class Violation:
    """``aircraft_id`` came back inside during the hold: ``sample`` is its first sample inside,
    ``samples`` the last ones before it, ending with it (at most :data:`VIOLATION_CONTEXT`)."""

    aircraft_id: str
    sample: Sample
    samples: tuple[Sample, ...]

    def alarm(self) -> dict[str, Any]:
        """The members of the ``alarm`` entry's body it raises (the caller adds ``recipient``): the
        evidence is the commitment to ``samples`` (shared beside the alarm, as a certificate's)."""
        return {
            "type": "violation",
            "aircraft": [self.aircraft_id],
            "observed_at": format_time(self.sample.t),
            "reason": f"inside the zone and its buffer again during the hold, at {format_time(self.sample.t)}",
            "evidence": {"commitment": commitment(self.samples), "samples": len(self.samples)},
        }


@dataclass(frozen=True, slots=True)
class Silent:
    """No telemetry of ``aircraft_id`` since ``since`` (its last sample, or the acceptance) for
    :data:`SILENT_AFTER_S` while it must still be seen: not clear, or holding."""

    aircraft_id: str
    since: datetime


WatchEvent = Crossed | Reentered | AllClear | Overdue | Violation | Silent


class _Aircraft:
    """The watch's record of one aircraft (mutable, private)."""

    __slots__ = ("first_outside", "last", "last_inside", "presence", "recent", "samples", "silent")

    def __init__(self) -> None:
        self.presence = Presence.UNKNOWN
        self.last: Sample | None = None
        self.last_inside: Sample | None = None
        self.first_outside: Sample | None = None
        self.samples: list[Sample] = []
        self.recent: deque[Sample] = deque(maxlen=VIOLATION_CONTEXT)
        self.silent = False

    def crossing(self, aircraft_id: str, until: datetime | None) -> Crossing | None:
        if self.first_outside is None:
            return None
        samples = self.samples if until is None else [s for s in self.samples if s.t <= until]
        return Crossing(aircraft_id, self.last_inside, self.first_outside, tuple(samples))


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{name}: a time must be timezone-aware (UTC)")
    return value


class Watch:
    """The watch of one accepted obligation (see the module).

    ``request_hash`` names the request entry; ``accepted_at`` is when the acceptance was signed
    (earlier samples are ignored; silence is counted from it); ``deadline`` when the aircraft must be
    out; ``hold`` the ``(start, end)`` window of a ``hold_clear`` (required for it, refused for a
    ``vacate``): a re-entry between the all-clear and ``end`` is a violation (before ``start`` too:
    the certificate already said the aircraft were out); ``affected`` the aircraft ids to watch
    (1 to :data:`~parley.compliance.certificate.MAX_AIRCRAFT`).
    """

    __slots__ = (
        "_aircraft",
        "_clear_at",
        "_ignored",
        "_overdue",
        "_phase",
        "accepted_at",
        "deadline",
        "hold",
        "inside",
        "kind",
        "near",
        "request_hash",
    )

    def __init__(
        self,
        request_hash: str,
        kind: ObligationKind,
        *,
        accepted_at: datetime,
        deadline: datetime,
        hold: tuple[datetime, datetime] | None = None,
        affected: Collection[str],
        inside: Callable[[Sample], bool],
        near: Callable[[Sample], bool] | None = None,
    ) -> None:
        if type(request_hash) is not str or not DIGEST.fullmatch(request_hash):
            raise InvalidInput("request_hash: expected 'sha256:' and 64 lowercase hexadecimal digits")
        self.request_hash = request_hash
        self.kind = ObligationKind(kind)
        self.accepted_at = _aware(accepted_at, "accepted_at")
        self.deadline = _aware(deadline, "deadline")
        if (hold is None) != (self.kind is ObligationKind.VACATE):
            raise InvalidInput("hold: a hold_clear needs its window (start, end); a vacate has none")
        if hold is not None:
            start, end = _aware(hold[0], "hold.start"), _aware(hold[1], "hold.end")
            if not start < end:
                raise InvalidInput("hold: start is not before end")
            hold = (start, end)
        self.hold = hold
        ids = sorted(set(affected))
        if not 1 <= len(ids) <= MAX_AIRCRAFT:
            raise InvalidInput(f"affected: expected 1 to {MAX_AIRCRAFT} aircraft")
        for ident in ids:
            if type(ident) is not str or not AIRCRAFT_ID.fullmatch(ident):
                raise InvalidInput(f"affected: {ident!r} is not an aircraft id")
        self.inside = inside
        self.near = near
        self._aircraft = {ident: _Aircraft() for ident in ids}
        self._phase = Phase.CLEARING
        self._clear_at: datetime | None = None
        self._overdue = False
        self._ignored = 0

    # -- what it knows --------------------------------------------------------------------------

    @property
    def phase(self) -> Phase:
        return self._phase

    @property
    def done(self) -> bool:
        """Nothing more to watch: a vacate all clear, or a hold past its end."""
        return self._phase is Phase.DONE

    @property
    def clear_at(self) -> datetime | None:
        """The all-clear time (the latest crossing), once every aircraft was out."""
        return self._clear_at

    @property
    def overdue(self) -> bool:
        """Whether the deadline passed before the all-clear (:class:`Overdue` was emitted)."""
        return self._overdue

    @property
    def ignored(self) -> int:
        """Samples ignored: out of time order, before the acceptance (affected aircraft only)."""
        return self._ignored

    @property
    def affected(self) -> tuple[str, ...]:
        return tuple(self._aircraft)

    def presence(self, aircraft_id: str) -> Presence:
        return self._aircraft[aircraft_id].presence

    def crossings(self) -> tuple[Crossing, ...]:
        """The crossings of the aircraft out now (after the all-clear: those it certified, samples
        until ``clear_at``), by aircraft id."""
        found = (rec.crossing(ident, self._clear_at) for ident, rec in self._aircraft.items())
        return tuple(c for c in found if c is not None)

    # -- what it is fed -------------------------------------------------------------------------

    def observe(self, aircraft_id: str, sample: Sample) -> list[WatchEvent]:
        """Feed one position report; returns the events it causes (see the module)."""
        rec = self._aircraft.get(aircraft_id)
        if rec is None or self._phase is Phase.DONE:
            return []
        if sample.t < self.accepted_at or (rec.last is not None and sample.t <= rec.last.t):
            self._ignored += 1
            return []
        validate_sample(sample)
        rec.last = sample
        rec.silent = False
        rec.recent.append(sample)
        inside = self.inside(sample)
        if self._phase is Phase.CLEARING:
            return self._clearing(aircraft_id, rec, sample, inside)
        assert self.hold is not None  # holding: a hold_clear
        if sample.t >= self.hold[1]:
            self._phase = Phase.DONE
            return []
        if not inside:
            rec.presence = Presence.OUTSIDE
            return []
        if rec.presence is Presence.INSIDE:
            return []  # still inside: the violation was reported when it came back
        rec.presence = Presence.INSIDE
        return [Violation(aircraft_id, sample, tuple(rec.recent))]

    def tick(self, now: datetime) -> list[WatchEvent]:
        """Tell the watch the time; returns the events it causes (silence, overdue, the hold's end)."""
        _aware(now, "now")
        if self._phase is Phase.DONE:
            return []
        if self._phase is Phase.HOLDING:
            assert self.hold is not None
            if now >= self.hold[1]:
                self._phase = Phase.DONE
                return []
        events: list[WatchEvent] = []
        silence = timedelta(seconds=SILENT_AFTER_S)
        for ident, rec in self._aircraft.items():
            watched = self._phase is Phase.HOLDING or rec.presence is not Presence.OUTSIDE
            since = self.accepted_at if rec.last is None else rec.last.t
            if watched and not rec.silent and now - since >= silence:
                rec.silent = True
                events.append(Silent(ident, since))
        if self._phase is Phase.CLEARING and not self._overdue and now > self.deadline:
            self._overdue = True
            late = tuple(
                ident
                for ident, rec in self._aircraft.items()
                if rec.presence is not Presence.OUTSIDE
                or (rec.first_outside is not None and rec.first_outside.t > self.deadline)
            )
            unseen = tuple(ident for ident in late if self._aircraft[ident].presence is Presence.UNKNOWN)
            events.append(Overdue(self.deadline, late, now, unseen))
        return events

    def _clearing(self, ident: str, rec: _Aircraft, sample: Sample, inside: bool) -> list[WatchEvent]:
        events: list[WatchEvent] = []
        if inside:
            if rec.presence is Presence.OUTSIDE:
                events.append(Reentered(ident, sample))
                rec.first_outside = None
            rec.presence = Presence.INSIDE
            rec.last_inside = sample
            self._keep(rec, sample)
            return events
        if rec.presence is Presence.OUTSIDE:
            if self.near is None or self.near(sample):
                self._keep(rec, sample)
            return events
        rec.presence = Presence.OUTSIDE
        rec.first_outside = sample
        self._keep(rec, sample)
        crossing = rec.crossing(ident, None)
        assert crossing is not None  # first_outside was just set
        events.append(Crossed(ident, crossing))
        if all(r.presence is Presence.OUTSIDE for r in self._aircraft.values()):
            events.append(self._all_clear())
        return events

    def _keep(self, rec: _Aircraft, sample: Sample) -> None:
        """Keep ``sample`` to share, at most :data:`MAX_SAMPLES`: beyond, the oldest goes, unless it
        is the crossing's evidence; then the newest (a sample outside after the crossing) goes."""
        rec.samples.append(sample)
        if len(rec.samples) <= MAX_SAMPLES:
            return
        if rec.presence is Presence.OUTSIDE:
            anchor = rec.last_inside or rec.first_outside
            if anchor is not None and rec.samples[0].t >= anchor.t:
                rec.samples.pop()
                return
        del rec.samples[0]

    def _all_clear(self) -> AllClear:
        clear_at = max(r.first_outside.t for r in self._aircraft.values() if r.first_outside is not None)
        self._clear_at = clear_at
        for rec in self._aircraft.values():
            rec.samples = [s for s in rec.samples if s.t <= clear_at]
        if self.hold is not None and clear_at < self.hold[1]:
            self._phase = Phase.HOLDING
        else:
            self._phase = Phase.DONE
        return AllClear(clear_at, self.crossings(), clear_at > self.deadline)

    # -- storage --------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The whole state as JSON (times in the line's spelling; see :meth:`from_json`)."""

        def opt(sample: Sample | None) -> dict[str, Any] | None:
            return None if sample is None else sample.to_json()

        return {
            "v": STATE_VERSION,
            "request": self.request_hash,
            "kind": self.kind.value,
            "accepted_at": format_time(self.accepted_at),
            "deadline": format_time(self.deadline),
            "hold": None
            if self.hold is None
            else {"start": format_time(self.hold[0]), "end": format_time(self.hold[1])},
            "phase": self._phase.value,
            "clear_at": None if self._clear_at is None else format_time(self._clear_at),
            "overdue": self._overdue,
            "ignored": self._ignored,
            "aircraft": {
                ident: {
                    "presence": rec.presence.value,
                    "last": opt(rec.last),
                    "last_inside": opt(rec.last_inside),
                    "first_outside": opt(rec.first_outside),
                    "samples": [s.to_json() for s in rec.samples],
                    "recent": [s.to_json() for s in rec.recent],
                    "silent": rec.silent,
                }
                for ident, rec in self._aircraft.items()
            },
        }

    @classmethod
    def from_json(
        cls,
        obj: object,
        *,
        inside: Callable[[Sample], bool],
        near: Callable[[Sample], bool] | None = None,
    ) -> Watch:
        """The watch stored as ``obj`` by :meth:`to_json`, with the same ``inside`` and ``near``
        (they are code, not state). :class:`InvalidInput` naming the field for anything malformed."""
        state = _members(obj, "watch", _STATE)
        if state["v"] != STATE_VERSION:
            raise InvalidInput(f"watch.v: expected {STATE_VERSION}")
        hold = None
        if state["hold"] is not None:
            window = _members(state["hold"], "watch.hold", {"start", "end"})
            hold = (
                parse_time(window["start"], "watch.hold.start"),
                parse_time(window["end"], "watch.hold.end"),
            )
        aircraft = state["aircraft"]
        if type(aircraft) is not dict:
            raise InvalidInput("watch.aircraft: expected an object")
        watch = cls(
            state["request"],
            _enum(ObligationKind, state["kind"], "watch.kind"),
            accepted_at=parse_time(state["accepted_at"], "watch.accepted_at"),
            deadline=parse_time(state["deadline"], "watch.deadline"),
            hold=hold,
            affected=list(aircraft),
            inside=inside,
            near=near,
        )
        watch._phase = _enum(Phase, state["phase"], "watch.phase")
        watch._clear_at = (
            None if state["clear_at"] is None else parse_time(state["clear_at"], "watch.clear_at")
        )
        watch._overdue = _flag(state["overdue"], "watch.overdue")
        ignored = state["ignored"]
        if type(ignored) is not int or ignored < 0:
            raise InvalidInput("watch.ignored: expected a non-negative integer")
        watch._ignored = ignored
        for ident, value in aircraft.items():
            where = f"watch.aircraft.{ident}"
            record = _members(value, where, _RECORD)
            rec = watch._aircraft[ident]
            rec.presence = _enum(Presence, record["presence"], f"{where}.presence")
            rec.last = _optional_sample(record["last"], f"{where}.last")
            rec.last_inside = _optional_sample(record["last_inside"], f"{where}.last_inside")
            rec.first_outside = _optional_sample(record["first_outside"], f"{where}.first_outside")
            rec.samples = list(samples_from_json(record["samples"], f"{where}.samples"))
            recent = samples_from_json(record["recent"], f"{where}.recent")
            if len(recent) > VIOLATION_CONTEXT:
                raise InvalidInput(f"{where}.recent: more than {VIOLATION_CONTEXT} samples")
            rec.recent.extend(recent)
            rec.silent = _flag(record["silent"], f"{where}.silent")
        return watch


_STATE = frozenset(
    {
        "v",
        "request",
        "kind",
        "accepted_at",
        "deadline",
        "hold",
        "phase",
        "clear_at",
        "overdue",
        "ignored",
        "aircraft",
    }
)
_RECORD = frozenset({"presence", "last", "last_inside", "first_outside", "samples", "recent", "silent"})


def _members(value: object, where: str, required: Collection[str]) -> Mapping[str, Any]:
    if type(value) is not dict:
        raise InvalidInput(f"{where}: expected an object")
    keys = set(value)
    if missing := sorted(set(required) - keys):
        raise InvalidInput(f"{where}: missing {', '.join(missing)}")
    if unknown := sorted(keys - set(required)):
        raise InvalidInput(f"{where}: unknown member {', '.join(unknown)}")
    return value


def _enum(kind: type[E], value: object, where: str) -> E:
    for member in kind:
        if type(value) is str and member.value == value:
            return member
    raise InvalidInput(f"{where}: expected one of {', '.join(e.value for e in kind)}")


def _flag(value: object, where: str) -> bool:
    if type(value) is not bool:
        raise InvalidInput(f"{where}: expected true or false")
    return value


def _optional_sample(value: object, where: str) -> Sample | None:
    return None if value is None else Sample.from_json(value, where)
