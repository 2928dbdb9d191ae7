"""The watch of an obligation (``parley.compliance.watch``): crossings, all-clear, overdue, silence,
violations of a hold, and a state that survives a restart.

Same zone and aircraft as ``test_certificate``: a 5 km circle with a 500 m buffer; A leaves east
at 97 m/s (out at 57 s), B north at 60 m/s from 2 km (out at 59.5 s).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.compliance import watch as watch_module
from parley.compliance.certificate import build_certificate, verify_certificate
from parley.compliance.samples import Sample, commitment
from parley.compliance.watch import (
    SILENT_AFTER_S,
    VIOLATION_CONTEXT,
    AllClear,
    Crossed,
    ObligationKind,
    Overdue,
    Phase,
    Presence,
    Reentered,
    Silent,
    Violation,
    Watch,
    WatchEvent,
)
from parley.domain.errors import InvalidInput
from tests.compliance.test_certificate import (
    BODY,
    BUFFER_H_M,
    BUFFER_V_M,
    DEADLINE,
    PATHS,
    REQUEST,
    SHARED,
    T0,
    inside,
    is_near,
    position,
)

S = timedelta(seconds=1)
HOLD = (T0 + timedelta(minutes=1), T0 + timedelta(minutes=10))

Step = tuple[str, Sample] | datetime


def new_watch(
    kind: ObligationKind = ObligationKind.VACATE,
    affected: Sequence[str] = ("A", "B"),
    *,
    deadline: datetime = DEADLINE,
    hold: tuple[datetime, datetime] | None = None,
) -> Watch:
    if kind is ObligationKind.HOLD_CLEAR and hold is None:
        hold = HOLD
    return Watch(
        REQUEST,
        kind,
        accepted_at=T0,
        deadline=deadline,
        hold=hold,
        affected=affected,
        inside=inside,
        near=is_near,
    )


def at_range(t_s: float, range_m: float, bearing_deg: float = 90.0) -> Sample:
    b = math.radians(bearing_deg)
    lat, lng = position(range_m * math.sin(b), range_m * math.cos(b))
    return Sample(T0 + timedelta(seconds=t_s), lat, lng, 3_000.0)


def exits(seconds: Iterable[float] = range(150), idents: Sequence[str] = ("A", "B")) -> list[Step]:
    """Both aircraft's reports in time order, a tick after each second."""
    steps: list[Step] = []
    for i in seconds:
        for ident in idents:
            steps.append((ident, PATHS[ident](float(i))))
        steps.append(T0 + (i + 1) * S)
    return steps


def run(watch: Watch, steps: Iterable[Step]) -> list[WatchEvent]:
    events: list[WatchEvent] = []
    for step in steps:
        events.extend(watch.tick(step) if isinstance(step, datetime) else watch.observe(*step))
    return events


def test_straight_exit_crossed_then_all_clear() -> None:
    watch = new_watch()
    events = run(watch, exits())
    assert [type(e) for e in events] == [Crossed, Crossed, AllClear]
    a, b, clear = events
    assert isinstance(a, Crossed) and isinstance(b, Crossed) and isinstance(clear, AllClear)
    assert (a.aircraft_id, a.crossing.crossed_at) == ("A", T0 + 57 * S)
    assert (b.aircraft_id, b.crossing.crossed_at) == ("B", T0 + 59.5 * S)
    assert a.crossing.last_inside == PATHS["A"](56.0) and a.crossing.first_outside == PATHS["A"](57.0)
    assert a.crossing.samples[-1] == PATHS["A"](57.0)  # the crossing so far
    assert clear.clear_at == T0 + 59.5 * S and not clear.late
    assert watch.done and watch.phase is Phase.DONE and watch.clear_at == clear.clear_at
    # The certificate from the watch's crossings is the honest one, and it verifies.
    body = build_certificate(REQUEST, clear.crossings, BUFFER_H_M, BUFFER_V_M)
    assert body == BODY
    shared = {c.aircraft_id: c.samples for c in clear.crossings}
    assert shared == SHARED
    check = verify_certificate(
        body, samples=shared, inside=inside, deadline=DEADLINE, hold_until=None, affected=watch.affected
    )
    assert check.ok, check.reasons
    assert watch.crossings() == clear.crossings
    assert run(watch, [("A", at_range(200, 0.0)), T0 + timedelta(hours=1)]) == []  # done: nothing more


def test_only_near_samples_are_kept() -> None:
    watch = new_watch(affected=["A"])
    run(watch, exits(range(150), ["A"]))
    (crossing,) = watch.crossings()
    assert all(is_near(s) for s in crossing.samples)
    assert crossing.samples[0] == PATHS["A"](0.0)


def test_silent_mid_exit_is_never_clear_and_overdue_at_the_deadline() -> None:
    watch = new_watch()
    steps = [s for s in exits(range(150)) if isinstance(s, datetime) or s[0] == "B" or s[1].t < T0 + 30 * S]
    events = run(watch, steps)
    assert [type(e) for e in events] == [Silent, Crossed]
    assert events[0] == Silent("A", T0 + 29 * S)
    crossed = events[1]
    assert isinstance(crossed, Crossed) and crossed.aircraft_id == "B"
    assert crossed.crossing.samples[-1] == crossed.crossing.first_outside == PATHS["B"](59.0)
    assert watch.presence("A") is Presence.INSIDE and watch.phase is Phase.CLEARING
    events = run(watch, [T0 + timedelta(minutes=m) for m in range(3, 31)])
    assert events == []  # the deadline itself is still in time
    events = run(watch, [DEADLINE + timedelta(microseconds=1), DEADLINE + timedelta(minutes=5)])
    assert events == [Overdue(DEADLINE, ("A",), DEADLINE + timedelta(microseconds=1))]
    overdue = events[0]
    assert isinstance(overdue, Overdue)
    assert overdue.alarm() == {
        "type": "overdue",
        "aircraft": ["A"],
        "observed_at": "2017-05-03T06:30:00.000001Z",
        "reason": "not out of the zone and its buffer by the deadline 2017-05-03T06:30:00.000000Z",
    }
    assert watch.overdue and watch.clear_at is None
    # telemetry comes back after the deadline: out, late
    events = run(watch, [("A", at_range(1900, 6_000.0))])
    assert [type(e) for e in events] == [Crossed, AllClear]
    clear = events[-1]
    assert isinstance(clear, AllClear) and clear.late and clear.clear_at == T0 + 1900 * S
    a = next(c for c in clear.crossings if c.aircraft_id == "A")
    assert a.last_inside == PATHS["A"](29.0)  # the last report inside, 31 minutes earlier
    body = build_certificate(REQUEST, clear.crossings, BUFFER_H_M, BUFFER_V_M)
    check = verify_certificate(
        body,
        samples={c.aircraft_id: c.samples for c in clear.crossings},
        inside=inside,
        deadline=DEADLINE,
        hold_until=None,
    )
    assert check.reasons == (
        "aircraft A: crossed out at 2017-05-03T06:31:40.000000Z, after the deadline 2017-05-03T06:30:00.000000Z",
    )


def test_an_aircraft_never_heard_of_is_silent_then_overdue() -> None:
    watch = new_watch(affected=["A", "C"])
    events = run(watch, exits(range(150), ["A"]))
    assert events[0] == Silent("C", T0)
    assert [type(e) for e in events] == [Silent, Crossed]
    assert events[0] == Silent("C", T0) and watch.presence("C") is Presence.UNKNOWN
    events = run(watch, [DEADLINE + S])
    assert events == [Overdue(DEADLINE, ("C",), DEADLINE + S, unseen=("C",))]
    overdue = events[0]
    assert isinstance(overdue, Overdue)
    assert overdue.alarm()["reason"].endswith("; never seen since the acceptance: C")
    assert run(watch, [DEADLINE + 2 * S]) == []  # once


def test_silence_is_reported_once_per_gap() -> None:
    watch = new_watch(affected=["A"])
    assert run(watch, [("A", at_range(0, 0.0)), T0 + 9.999 * S]) == []
    assert run(watch, [T0 + SILENT_AFTER_S * S, T0 + 20 * S]) == [Silent("A", T0)]
    assert run(watch, [("A", at_range(25, 100.0)), T0 + 34 * S]) == []
    assert run(watch, [T0 + 35 * S]) == [Silent("A", T0 + 25 * S)]


def test_out_of_order_and_foreign_samples_are_ignored() -> None:
    watch = new_watch(affected=["A"])
    assert run(watch, [("A", at_range(10, 0.0))]) == []
    assert run(watch, [("A", at_range(10, 9_000.0)), ("A", at_range(9, 9_000.0))]) == []
    assert run(watch, [("A", at_range(-1, 9_000.0))]) == []  # before the acceptance
    assert watch.ignored == 3 and watch.presence("A") is Presence.INSIDE
    assert run(watch, [("Z", at_range(11, 9_000.0))]) == []  # not affected
    assert watch.ignored == 3
    assert [type(e) for e in run(watch, [("A", at_range(11, 9_000.0))])] == [Crossed, AllClear]


def test_reentry_before_all_clear_withdraws_the_crossing() -> None:
    """A leaves, turns back in, leaves again; B, slow, is the last out."""
    watch = new_watch()
    a_ranges = [5_000.0, 5_600.0, 5_700.0, 5_400.0, 5_000.0, 5_450.0, 5_800.0, 7_000.0]
    steps: list[Step] = []
    for i, r in enumerate(a_ranges):
        steps += [("A", at_range(i, r)), ("B", at_range(i + 0.5, 1_000.0 * i, 0.0))]
    events = run(watch, steps)
    assert [(type(e).__name__, getattr(e, "aircraft_id", None)) for e in events] == [
        ("Crossed", "A"),
        ("Reentered", "A"),
        ("Crossed", "A"),
        ("Crossed", "B"),
        ("AllClear", None),
    ]
    reentered = events[1]
    assert isinstance(reentered, Reentered) and reentered.sample == at_range(3, 5_400.0)
    clear = events[-1]
    assert isinstance(clear, AllClear)
    a = clear.crossings[0]
    assert (a.last_inside, a.first_outside) == (at_range(5, 5_450.0), at_range(6, 5_800.0))
    body = build_certificate(REQUEST, clear.crossings, BUFFER_H_M, BUFFER_V_M)
    check = verify_certificate(
        body,
        samples={c.aircraft_id: c.samples for c in clear.crossings},
        inside=inside,
        deadline=DEADLINE,
        hold_until=None,
        affected=["A", "B"],
    )
    assert check.ok, check.reasons


def test_hold_reentry_is_a_violation() -> None:
    watch = new_watch(ObligationKind.HOLD_CLEAR, deadline=HOLD[0])
    events = run(watch, exits(range(100)))
    assert [type(e) for e in events] == [Crossed, Crossed, AllClear]
    assert watch.phase is Phase.HOLDING and not watch.done
    clear = events[-1]
    assert isinstance(clear, AllClear)
    body = build_certificate(REQUEST, clear.crossings, BUFFER_H_M, BUFFER_V_M, hold_until=HOLD[1])
    samples = {c.aircraft_id: c.samples for c in clear.crossings}
    check = verify_certificate(body, samples=samples, inside=inside, deadline=HOLD[0], hold_until=HOLD[1])
    assert check.ok, check.reasons
    # A turns back: 7 km out at 100 s, closing at 50 m/s: inside the buffer from 131 s; then out and in again
    ranges = [7_025.0 - 50.0 * i for i in range(40)] + [5_600.0, 5_800.0, 5_450.0, 5_000.0]
    steps: list[Step] = []
    for i, r in enumerate(ranges):
        steps += [("A", at_range(100 + i, r)), ("B", PATHS["B"](100.0 + i)), T0 + (101 + i) * S]
    events = run(watch, steps)
    assert [type(e) for e in events] == [Violation, Violation]
    first, second = events
    assert isinstance(first, Violation) and isinstance(second, Violation)
    assert first.aircraft_id == "A" and first.sample == at_range(131, 5_475.0)
    assert len(first.samples) == VIOLATION_CONTEXT and first.samples[-1] == first.sample
    assert [s.t for s in first.samples] == [T0 + (122 + i) * S for i in range(10)]
    assert second.sample == at_range(142, 5_450.0)
    assert first.alarm() == {
        "type": "violation",
        "aircraft": ["A"],
        "observed_at": "2017-05-03T06:02:11.000000Z",
        "reason": "inside the zone and its buffer again during the hold, at 2017-05-03T06:02:11.000000Z",
        "evidence": {"commitment": commitment(first.samples), "samples": 10},
    }
    # the window ends: done, nothing more
    assert run(watch, [HOLD[1]]) == []
    assert watch.done
    assert run(watch, [("A", at_range(700, 0.0))]) == []


def test_silence_while_holding_is_reported() -> None:
    watch = new_watch(ObligationKind.HOLD_CLEAR, deadline=HOLD[0])
    run(watch, exits(range(70)))
    assert watch.phase is Phase.HOLDING
    assert run(watch, [T0 + 78.9 * S]) == []
    assert run(watch, [T0 + 79.5 * S]) == [Silent("A", T0 + 69 * S), Silent("B", T0 + 69.5 * S)]


def test_a_hold_cleared_after_its_end_is_done() -> None:
    watch = new_watch(ObligationKind.HOLD_CLEAR, deadline=T0 + 10 * S, hold=(T0 + 10 * S, T0 + 20 * S))
    events = run(watch, exits(range(70)))
    assert [type(e) for e in events] == [Overdue, Crossed, Crossed, AllClear]
    assert watch.done


def test_the_sample_cap_keeps_the_crossing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watch_module, "MAX_SAMPLES", 6)
    watch = new_watch()  # B is never heard of: no all-clear, A's samples go on
    ranges = [1_000.0 + 10 * i for i in range(20)] + [6_000.0 + 10 * i for i in range(20)]
    events = run(watch, [("A", at_range(i, r)) for i, r in enumerate(ranges)])
    assert [type(e) for e in events] == [Crossed]
    (crossing,) = watch.crossings()
    assert crossing.crossed_at == T0 + 20 * S
    assert [s.t for s in crossing.samples] == [T0 + i * S for i in range(19, 25)]  # then the newest go
    assert crossing.samples[:2] == (crossing.last_inside, crossing.first_outside)
    watch = new_watch()  # A outside from its first report, the cap reached, then in and out again
    ranges = [6_000.0 + 10 * i for i in range(10)] + [1_000.0 + 10 * i for i in range(10)] + [7_000.0]
    run(watch, [("A", at_range(i, r)) for i, r in enumerate(ranges)])
    (crossing,) = watch.crossings()
    assert [s.t for s in crossing.samples] == [T0 + i * S for i in range(15, 21)]
    assert crossing.samples[-2:] == (crossing.last_inside, crossing.first_outside)


def test_the_watch_refuses_nonsense() -> None:
    def make(**change: Any) -> Watch:
        args: dict[str, Any] = {
            "request_hash": REQUEST,
            "kind": ObligationKind.VACATE,
            "accepted_at": T0,
            "deadline": DEADLINE,
            "hold": None,
            "affected": ["A"],
            "inside": inside,
        }
        args.update(change)
        return Watch(args.pop("request_hash"), args.pop("kind"), **args)

    make()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"request_hash": "sha256:x"}, "request_hash"),
        ({"hold": HOLD}, "hold: a hold_clear needs its window"),
        ({"kind": ObligationKind.HOLD_CLEAR}, "hold: a hold_clear needs its window"),
        ({"kind": ObligationKind.HOLD_CLEAR, "hold": (HOLD[1], HOLD[0])}, "hold: start is not before end"),
        ({"affected": []}, "affected: expected 1 to 100"),
        ({"affected": ["bad id"]}, "affected: 'bad id' is not an aircraft id"),
        ({"deadline": datetime(2017, 5, 3)}, "deadline: a time must be timezone-aware"),
    ]
    for change, message in cases:
        with pytest.raises(InvalidInput, match=message):
            make(**change)
    with pytest.raises(InvalidInput, match=r"sample\.lat"):
        make().observe("A", Sample(T0 + S, 95.0, 40.0, 0.0))


# -- storage -----------------------------------------------------------------------------------------


def test_state_round_trips_mid_watch() -> None:
    watch = new_watch(ObligationKind.HOLD_CLEAR, deadline=HOLD[0])
    steps = exits(range(120))
    run(watch, steps[:150])
    state = json.loads(json.dumps(watch.to_json()))
    restored = Watch.from_json(state, inside=inside, near=is_near)
    assert restored.to_json() == watch.to_json()
    assert run(restored, steps[150:]) == run(watch, steps[150:])
    assert restored.to_json() == watch.to_json()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.pop("phase"), "watch: missing phase"),
        (lambda s: s.update(extra=1), "watch: unknown member extra"),
        (lambda s: s.update(v=2), "watch.v: expected 1"),
        (lambda s: s.update(phase="waiting"), "watch.phase: expected one of clearing, holding, done"),
        (lambda s: s.update(kind=3), "watch.kind: expected one of vacate, hold_clear"),
        (lambda s: s.update(overdue="no"), "watch.overdue: expected true or false"),
        (lambda s: s.update(ignored=-1), "watch.ignored: expected a non-negative integer"),
        (lambda s: s.update(aircraft=[]), "watch.aircraft: expected an object"),
        (lambda s: s["aircraft"]["A"].update(presence="near"), "watch.aircraft.A.presence: expected one of"),
        (lambda s: s["aircraft"]["A"]["last"].update(lat=91), r"watch.aircraft.A.last.lat: 91.0 is outside"),
        (lambda s: s["aircraft"]["A"]["samples"].reverse(), r"watch.aircraft.A.samples\[1\]: not after"),
        (lambda s: s["aircraft"]["A"].pop("silent"), "watch.aircraft.A: missing silent"),
        (lambda s: s.update(deadline="soon"), "watch.deadline: not a UTC time"),
    ],
)
def test_stored_state_is_checked(change: Any, message: str) -> None:
    watch = new_watch()
    run(watch, exits(range(20)))
    state = json.loads(json.dumps(watch.to_json()))
    change(state)
    with pytest.raises(InvalidInput, match=message):
        Watch.from_json(state, inside=inside, near=is_near)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Watch, list[Step]]:
    """Two aircraft wandering in and out of the zone at random, with gaps (silences), repeated and
    late reports, ticks every 3 s; a vacate or a hold, the deadline somewhere in the middle."""
    n = draw(st.integers(20, 90))
    kind = draw(st.sampled_from(list(ObligationKind)))
    deadline = T0 + draw(st.integers(5, n)) * S
    hold = (deadline, deadline + draw(st.integers(1, n)) * S) if kind is ObligationKind.HOLD_CLEAR else None
    watch = new_watch(kind, deadline=deadline, hold=hold)
    where = {
        ident: draw(
            st.lists(
                st.sampled_from([0.0, 3_000.0, 5_450.0, 5_600.0, 8_000.0, 12_000.0]), min_size=n, max_size=n
            )
        )
        for ident in ("A", "B")
    }
    gone = {ident: draw(st.sets(st.integers(0, n - 1), max_size=n // 2)) for ident in ("A", "B")}
    steps: list[Step] = []
    for i in range(n):
        for ident, offset in (("A", 0.0), ("B", 0.25)):
            if i in gone[ident]:
                continue
            sample = at_range(i + offset, where[ident][i], 45.0 * i)
            steps.append((ident, sample))
            if draw(st.integers(0, 9)) == 0:
                steps.append((ident, sample))  # repeated: ignored
        if i % 3 == 0:
            steps.append(T0 + (i + 1) * S)
    return watch, steps


@settings(max_examples=60, deadline=None)
@given(scenarios(), st.data())
def test_a_restarted_watch_continues_identically(
    scenario: tuple[Watch, list[Step]], data: st.DataObject
) -> None:
    original, steps = scenario
    k = data.draw(st.integers(0, len(steps)))
    before = run(original, steps[:k])
    restored = Watch.from_json(json.loads(json.dumps(original.to_json())), inside=inside, near=is_near)
    assert restored.to_json() == original.to_json()
    after_restored = run(restored, steps[k:])
    after_original = run(original, steps[k:])
    assert after_restored == after_original
    assert restored.to_json() == original.to_json()
    # and the events make sense: crossings before an all-clear; an all-clear at most once; what it
    # certifies verifies
    events = before + after_original
    clears = [e for e in events if isinstance(e, AllClear)]
    assert len(clears) <= 1
    overdue = [e for e in events if isinstance(e, Overdue)]
    assert len(overdue) <= 1
    if clears:
        clear = clears[0]
        body = build_certificate(
            REQUEST, clear.crossings, BUFFER_H_M, BUFFER_V_M, hold_until=original.hold and original.hold[1]
        )
        check = verify_certificate(
            body,
            samples={c.aircraft_id: c.samples for c in clear.crossings},
            inside=inside,
            deadline=original.deadline if not clear.late else clear.clear_at,
            hold_until=original.hold and original.hold[1],
            affected=original.affected,
        )
        assert check.ok, check.reasons
        violations = [e for e in events if isinstance(e, Violation)]
        assert all(v.sample.t > clear.clear_at and inside(v.sample) for v in violations)
    else:
        assert not any(isinstance(e, Violation) for e in events)
