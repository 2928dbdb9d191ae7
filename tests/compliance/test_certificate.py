"""Clearance certificates: the body, building, verification and the cross-check
(``parley.compliance.certificate``).

The zone of these tests is a circle of 5 km around (35 N, 40 E) with a 500 m buffer, measured in a
flat local frame (what ``inside`` is does not matter to the certificate, only that both sides use
the same): aircraft A leaves east at 97 m/s, B north at 60 m/s from 2 km out, reporting at 1 Hz.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from parley.compliance.certificate import (
    MAX_AIRCRAFT,
    Crossing,
    VerdictClass,
    build_certificate,
    check_certificate_body,
    cross_check,
    verdict,
    verify_certificate,
)
from parley.compliance.samples import Sample, commitment, near
from parley.domain.errors import InvalidInput
from parley.line.errors import InvalidEntry
from parley.line.times import format_time

T0 = datetime(2017, 5, 3, 6, 0, tzinfo=UTC)
REQUEST = "sha256:" + "ab" * 32
DEADLINE = T0 + timedelta(minutes=30)
HOLD_UNTIL = T0 + timedelta(hours=6)
LAT0, LNG0 = 35.0, 40.0
M_PER_DEG = 111_000.0
ZONE_M, BUFFER_H_M, BUFFER_V_M, NEAR_MARGIN_M = 5_000.0, 500.0, 150.0, 5_000.0
TOP_M = 6_000.0


def position(east_m: float, north_m: float) -> tuple[float, float]:
    return LAT0 + north_m / M_PER_DEG, LNG0 + east_m / (M_PER_DEG * math.cos(math.radians(LAT0)))


def offset_m(s: Sample) -> float:
    north = (s.lat - LAT0) * M_PER_DEG
    east = (s.lng - LNG0) * M_PER_DEG * math.cos(math.radians(LAT0))
    return math.hypot(east, north)


def inside(s: Sample) -> bool:
    return offset_m(s) <= ZONE_M + BUFFER_H_M and s.alt_m <= TOP_M + BUFFER_V_M


def is_near(s: Sample) -> bool:
    return offset_m(s) <= ZONE_M + BUFFER_H_M + NEAR_MARGIN_M


def path(heading_deg: float, start_m: float, speed_mps: float, t0: datetime) -> Callable[[float], Sample]:
    """Where an aircraft flying straight out is ``t_s`` seconds after ``t0``."""
    h = math.radians(heading_deg)

    def at(t_s: float) -> Sample:
        r = start_m + speed_mps * t_s
        lat, lng = position(r * math.sin(h), r * math.cos(h))
        return Sample(t0 + timedelta(seconds=t_s), lat, lng, 3_000.0)

    return at


PATHS = {"A": path(90.0, 0.0, 97.0, T0), "B": path(0.0, 2_000.0, 60.0, T0 + timedelta(seconds=0.5))}


def track(ident: str, n: int = 150) -> list[Sample]:
    return [PATHS[ident](float(i)) for i in range(n)]


def crossing_of(ident: str, samples: list[Sample], until: datetime) -> Crossing:
    """The honest crossing: the first sample outside, the one before it, the near samples until ``until``."""
    k = next(i for i, s in enumerate(samples) if not inside(s))
    last, first = (samples[k - 1] if k else None), samples[k]
    keep = [first] if last is None else [last, first]
    shared = near([s for s in samples if s.t <= until], is_near, keep=keep)
    return Crossing(ident, last, first, tuple(shared))


def honest(hold_until: datetime | None = None) -> tuple[dict[str, Any], dict[str, tuple[Sample, ...]]]:
    tracks = {ident: track(ident) for ident in PATHS}
    firsts = [next(s for s in t if not inside(s)) for t in tracks.values()]
    clear_at = max(s.t for s in firsts)
    crossings = [crossing_of(ident, t, clear_at) for ident, t in tracks.items()]
    body = build_certificate(REQUEST, crossings, BUFFER_H_M, BUFFER_V_M, hold_until=hold_until)
    return body, {c.aircraft_id: c.samples for c in crossings}


BODY, SHARED = honest()


def verify(
    body: Any = BODY,
    shared: dict[str, tuple[Sample, ...]] | None = None,
    *,
    deadline: datetime = DEADLINE,
    hold_until: datetime | None = None,
    affected: Any = ("A", "B"),
) -> Any:
    return verify_certificate(
        body,
        samples=SHARED if shared is None else shared,
        inside=inside,
        deadline=deadline,
        hold_until=hold_until,
        affected=affected,
    )


# -- the body ---------------------------------------------------------------------------------------


def test_the_honest_body() -> None:
    assert check_certificate_body(BODY) == 4
    assert [a["id"] for a in BODY["aircraft"]] == ["A", "B"]
    a, b = BODY["aircraft"]
    assert a["crossed_at"] == "2017-05-03T06:00:57.000000Z"  # 97 m/s * 57 s = 5,529 m > 5,500 m
    assert b["crossed_at"] == "2017-05-03T06:00:59.500000Z"  # 2,000 + 60 m/s * 59 s = 5,540 m
    assert BODY["clear_at"] == b["crossed_at"]
    assert a["commitment"] == commitment(SHARED["A"]) and a["samples"] == len(SHARED["A"])
    k = [s.to_json() for s in SHARED["A"]].index(a["first_outside"])
    assert a["last_inside"] == SHARED["A"][k - 1].to_json()  # consecutive; later samples until clear_at
    assert SHARED["A"][-1].t <= T0 + timedelta(seconds=59.5) < SHARED["A"][-1].t + timedelta(seconds=1)
    assert set(BODY) == {"request", "zone", "aircraft", "clear_at"}
    assert BODY["zone"] == {"buffer_h_m": 500.0, "buffer_v_m": 150.0}
    held, _ = honest(HOLD_UNTIL)
    assert held["hold"] == {"until": "2017-05-03T12:00:00.000000Z"}
    assert check_certificate_body(held) == 4


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        target: Any = body
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is _DELETE:
            del target[last]
        else:
            target[int(last) if last.isdigit() else last] = value

    return change


_DELETE = object()
SAMPLE = {"t": "2017-05-03T06:00:57.000000Z", "lat": 35.0, "lng": 40.0, "alt_m": 3000}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set("request", _DELETE), "body: missing request"),
        (_set("extra", 1), "body: unknown member extra"),
        (_set("request", "sha256:AB"), "body.request: expected 'sha256:'"),
        (_set("zone/buffer_h_m", -1), r"body.zone.buffer_h_m: must be within 0..100000 m"),
        (_set("zone/buffer_v_m", "150"), "body.zone.buffer_v_m: expected a finite number"),
        (_set("zone/other", 1), "body.zone: unknown member other"),
        (_set("aircraft", []), "body.aircraft: expected an array of 1 to 100"),
        (_set("aircraft", {}), "body.aircraft: expected an array"),
        (
            _set("aircraft/0/id", "B"),
            r"body.aircraft\[1\].id: aircraft must be in strictly ascending id order",
        ),
        (_set("aircraft/0/id", " A"), r"body.aircraft\[0\].id: not an aircraft id"),
        (_set("aircraft/0/id", 7), r"body.aircraft\[0\].id: not an aircraft id"),
        (_set("aircraft/0/id", "A" * 101), r"body.aircraft\[0\].id: not an aircraft id"),
        (
            _set("aircraft/0/crossed_at", "2017-05-03T06:00:58.000000Z"),
            r"aircraft\[0\].crossed_at: must be the time",
        ),
        (_set("aircraft/0/crossed_at", "2017-05-03T06:00:57Z"), r"aircraft\[0\].crossed_at: not a UTC time"),
        (_set("aircraft/0/samples", 0), r"aircraft\[0\].samples: expected an integer within 2..20000"),
        (_set("aircraft/0/samples", True), r"aircraft\[0\].samples: expected an integer"),
        (_set("aircraft/0/samples", 61.0), r"aircraft\[0\].samples: expected an integer"),
        (_set("aircraft/0/samples", 20_001), r"aircraft\[0\].samples: expected an integer"),
        (_set("aircraft/0/commitment", None), r"aircraft\[0\].commitment: expected 'sha256:'"),
        (_set("aircraft/0/last_inside", SAMPLE), r"aircraft\[0\].last_inside: must be before first_outside"),
        (_set("aircraft/0/last_inside/lat", 91), r"aircraft\[0\].last_inside.lat: 91.0 is outside"),
        (_set("aircraft/0/first_outside/t", 5), r"aircraft\[0\].first_outside.t: not a UTC time"),
        (_set("aircraft/0/first_outside/speed", 5), r"aircraft\[0\].first_outside: unknown member speed"),
        (_set("aircraft/0/first_outside", None), r"aircraft\[0\].first_outside: expected an object"),
        (_set("aircraft/1/unknown", 1), r"aircraft\[1\]: unknown member unknown"),
        (_set("clear_at", "2017-05-03T06:00:57.000000Z"), "body.clear_at: must be the latest crossed_at"),
        (_set("hold", {"until": "2017-05-03T12:00:00.000000Z", "from": 1}), "body.hold: unknown member from"),
        (_set("hold", {"until": "noon"}), "body.hold.until: not a UTC time"),
    ],
)
def test_the_body_is_checked_strictly(change: Callable[[dict[str, Any]], None], message: str) -> None:
    body = copy.deepcopy(BODY)
    change(body)
    with pytest.raises(InvalidEntry, match=message):
        check_certificate_body(body)
    check = verify(body)
    assert not check.ok and check.reasons[0].startswith("certificate: body")


def test_a_body_that_is_not_an_object() -> None:
    with pytest.raises(InvalidEntry, match="body: expected an object"):
        check_certificate_body([BODY])


def test_never_inside_is_written_null() -> None:
    """An affected aircraft outside from its first sample since the acceptance has no last_inside."""
    out = [PATHS["A"](float(i)) for i in range(60, 70)]
    body = build_certificate(REQUEST, [Crossing("A", None, out[0], tuple(out))], BUFFER_H_M, BUFFER_V_M)
    assert body["aircraft"][0]["last_inside"] is None
    assert check_certificate_body(body) == 1
    assert verify(body, {"A": tuple(out)}, affected=["A"]).ok
    body["aircraft"][0]["samples"] = 1
    body["aircraft"][0]["commitment"] = commitment(out[:1])
    assert verify(body, {"A": tuple(out[:1])}, affected=["A"]).ok
    forged = build_certificate(REQUEST, [Crossing("A", None, out[1], tuple(out[1:]))], BUFFER_H_M, BUFFER_V_M)
    check = verify(forged, {"A": tuple(out)}, affected=["A"])
    assert "aircraft A: no last_inside, yet first_outside is not the first sample shared" in check.reasons


def test_build_refuses_a_certificate_that_could_not_verify() -> None:
    samples = SHARED["A"]
    k = next(i for i, s in enumerate(samples) if not inside(s))
    with pytest.raises(
        InvalidInput, match="crossing A: last_inside is not the sample just before first_outside"
    ):
        build_certificate(REQUEST, [Crossing("A", samples[k - 2], samples[k], samples)], 500.0, 150.0)
    with pytest.raises(InvalidInput, match="crossing A: first_outside is not among its samples"):
        build_certificate(REQUEST, [Crossing("A", samples[k - 1], samples[k], samples[:k])], 500.0, 150.0)
    with pytest.raises(InvalidInput, match="at least one aircraft"):
        build_certificate(REQUEST, [], 500.0, 150.0)
    with pytest.raises(InvalidEntry, match="buffer_h_m"):
        build_certificate(REQUEST, [Crossing("A", samples[k - 1], samples[k], samples)], -5.0, 150.0)
    twice = Crossing("A", samples[k - 1], samples[k], samples)
    with pytest.raises(InvalidEntry, match="strictly ascending"):
        build_certificate(REQUEST, [twice, twice], 500.0, 150.0)
    assert MAX_AIRCRAFT == 100


# -- verification ------------------------------------------------------------------------------------


def test_an_honest_certificate_verifies() -> None:
    check = verify()
    assert check.ok, check.reasons
    assert check.reasons == ()
    assert [a.aircraft_id for a in check.aircraft] == ["A", "B"]
    assert all(a.ok for a in check.aircraft)
    assert check.clear_at == T0 + timedelta(seconds=59.5)
    assert check.aircraft[0].crossed_at == T0 + timedelta(seconds=57)
    assert verify(affected=None).ok
    held, shared = honest(HOLD_UNTIL)
    assert verify(held, shared, hold_until=HOLD_UNTIL).ok


def test_the_hold_must_be_the_requests() -> None:
    held, shared = honest(HOLD_UNTIL)
    assert verify(held, shared).reasons == (
        "certificate: carries a hold, but the request is not a hold_clear",
    )
    assert verify(BODY, hold_until=HOLD_UNTIL).reasons == (
        "certificate: no hold, but the request holds the zone until 2017-05-03T12:00:00.000000Z",
    )
    assert verify(held, shared, hold_until=HOLD_UNTIL + timedelta(hours=1)).reasons == (
        "certificate: holds until 2017-05-03T12:00:00.000000Z, but the request holds until 2017-05-03T13:00:00.000000Z",
    )


def _replace(
    shared: dict[str, tuple[Sample, ...]], ident: str, samples: list[Sample]
) -> dict[str, tuple[Sample, ...]]:
    return {**shared, ident: tuple(samples)}


def _fails_for(check: Any, ident: str) -> None:
    assert not check.ok
    assert any(reason.startswith(f"aircraft {ident}:") for reason in check.reasons), check.reasons
    assert not next(a for a in check.aircraft if a.aircraft_id == ident).ok


idents = st.sampled_from(["A", "B"])


def with_value(sample: Sample, field: str, value: float) -> Sample:
    """``sample`` with its ``lat``, ``lng`` or ``alt_m`` set to ``value``."""
    values = {"lat": sample.lat, "lng": sample.lng, "alt_m": sample.alt_m, field: value}
    return Sample(sample.t, values["lat"], values["lng"], values["alt_m"])


@st.composite
def changed_samples(draw: st.DrawFn) -> tuple[str, list[Sample]]:
    """One sample of one aircraft changed in one of its four values, by a little or a lot."""
    ident = draw(idents)
    samples = list(SHARED[ident])
    i = draw(st.integers(0, len(samples) - 1))
    field = draw(st.sampled_from(["t", "lat", "lng", "alt_m"]))
    old = samples[i]
    sign = draw(st.sampled_from([-1.0, 1.0]))
    if field == "t":
        us = draw(st.one_of(st.just(1), st.integers(1, 10_000_000)))
        samples[i] = dataclasses.replace(old, t=old.t + timedelta(microseconds=sign * us))
    else:
        value = getattr(old, field)
        if draw(st.booleans()):
            new = math.nextafter(value, sign * math.inf)
        else:
            new = value + sign * draw(
                st.floats(min_value=1e-6, max_value=1.0 if field != "alt_m" else 1_000.0)
            )
        samples[i] = with_value(old, field, new)
    return ident, samples


@settings(max_examples=150)
@given(changed_samples())
def test_any_changed_sample_fails(case: tuple[str, list[Sample]]) -> None:
    ident, samples = case
    _fails_for(verify(shared=_replace(SHARED, ident, samples)), ident)


@given(idents, st.data())
def test_a_dropped_sample_fails(ident: str, data: st.DataObject) -> None:
    samples = list(SHARED[ident])
    del samples[data.draw(st.integers(0, len(samples) - 1))]
    _fails_for(verify(shared=_replace(SHARED, ident, samples)), ident)


@given(idents, st.data())
def test_an_added_sample_fails(ident: str, data: st.DataObject) -> None:
    samples = list(SHARED[ident])
    i = data.draw(st.integers(0, len(samples)))
    before = samples[i - 1].t if i else samples[0].t - timedelta(seconds=1)
    after = samples[i].t if i < len(samples) else samples[-1].t + timedelta(seconds=1)
    extra = dataclasses.replace(samples[min(i, len(samples) - 1)], t=before + (after - before) / 2)
    samples.insert(i, extra)
    _fails_for(verify(shared=_replace(SHARED, ident, samples)), ident)


@given(idents, st.data())
def test_a_reordered_sample_fails(ident: str, data: st.DataObject) -> None:
    samples = list(SHARED[ident])
    i = data.draw(st.integers(0, len(samples) - 2))
    j = data.draw(st.integers(i + 1, len(samples) - 1))
    samples[i], samples[j] = samples[j], samples[i]
    check = verify(shared=_replace(SHARED, ident, samples))
    _fails_for(check, ident)
    assert any("not after the sample before it" in reason for reason in check.reasons)


def test_a_missing_or_extra_set_of_samples_fails() -> None:
    check = verify(shared={"B": SHARED["B"]})
    assert "aircraft A: no samples shared" in check.reasons
    check = verify(shared={**SHARED, "C": SHARED["A"]})
    assert check.reasons == ("aircraft C: samples shared for an aircraft the certificate does not name",)


@given(idents, st.integers(1, 10**8))
def test_a_crossing_after_the_deadline_fails(ident: str, early_us: int) -> None:
    crossed_at = T0 + timedelta(seconds=57 if ident == "A" else 59.5)
    check = verify(deadline=crossed_at - timedelta(microseconds=early_us))
    _fails_for(check, ident)
    deadline = format_time(crossed_at - timedelta(microseconds=early_us))
    wanted = f"aircraft {ident}: crossed out at {format_time(crossed_at)}, after the deadline {deadline}"
    assert wanted in check.reasons
    assert all("after the deadline" in reason for reason in check.reasons)
    assert verify(deadline=T0 + timedelta(seconds=59.5)).ok  # at the deadline is in time


@given(idents, st.integers(1, 5))
def test_a_first_outside_that_is_inside_fails(ident: str, back: int) -> None:
    """A crossing claimed ``back`` samples too early: its "first outside" is still inside."""
    samples = list(SHARED[ident])
    k = next(i for i, s in enumerate(samples) if not inside(s)) - back
    forged = Crossing(ident, samples[k - 1], samples[k], tuple(samples[: k + 1]))
    other = "B" if ident == "A" else "A"
    honest_other = crossing_of(other, track(other), T0 + timedelta(seconds=59.5))
    body = build_certificate(REQUEST, [forged, honest_other], BUFFER_H_M, BUFFER_V_M)
    check = verify(body, {ident: forged.samples, other: SHARED[other]})
    _fails_for(check, ident)
    assert (
        f"aircraft {ident}: first_outside ({format_time(samples[k].t)}) is inside the zone and its buffer"
        in (check.reasons)
    )


def test_a_last_inside_that_is_outside_fails() -> None:
    """A requester whose zone (or buffer) is smaller than the certificate's sees it already outside."""

    def small(s: Sample) -> bool:
        return offset_m(s) <= 5_000.0

    check = verify_certificate(BODY, samples=SHARED, inside=small, deadline=DEADLINE, hold_until=None)
    assert any("last_inside" in r and "is not inside the zone" in r for r in check.reasons)


@given(st.sets(st.sampled_from(["A", "B", "C", "D"])))
def test_exactly_the_affected_aircraft(affected: set[str]) -> None:
    check = verify(affected=affected)
    for ident in {"A", "B"} - affected:
        assert f"aircraft {ident}: certificate for an aircraft that was not affected" in check.reasons
    for ident in affected - {"A", "B"}:
        assert f"aircraft {ident}: affected, but missing from the certificate" in check.reasons
    assert check.ok == (affected == {"A", "B"})


def _reentering() -> tuple[list[Crossing], dict[str, tuple[Sample, ...]], datetime]:
    """A crosses at 57 s, then turns back in at 58 s (while B is still inside): a forged crossing."""
    samples = list(SHARED["A"])
    k = next(i for i, s in enumerate(samples) if not inside(s))
    back = dataclasses.replace(samples[k - 3], t=samples[k].t + timedelta(seconds=1))
    after = [s for s in samples if s.t > back.t]
    forged = [*samples[: k + 1], back, *after]
    crossing = Crossing("A", samples[k - 1], samples[k], tuple(forged))
    b = crossing_of("B", track("B"), T0 + timedelta(seconds=59.5))
    return [crossing, b], {"A": tuple(forged), "B": b.samples}, back.t


def test_a_reentry_after_the_crossing_fails() -> None:
    crossings, shared, back_t = _reentering()
    body = build_certificate(REQUEST, crossings, BUFFER_H_M, BUFFER_V_M)
    check = verify(body, shared)
    assert check.reasons == (
        f"aircraft A: re-entry: inside again at {format_time(back_t)} after crossing out",
    )
    held = build_certificate(REQUEST, crossings, BUFFER_H_M, BUFFER_V_M, hold_until=HOLD_UNTIL)
    check = verify(held, shared, hold_until=HOLD_UNTIL)
    assert check.reasons == (
        f"aircraft A: violation of the hold: inside again at {format_time(back_t)} after crossing out",
    )
    early = back_t - timedelta(microseconds=1)
    held = build_certificate(REQUEST, crossings, BUFFER_H_M, BUFFER_V_M, hold_until=early)
    assert verify(held, shared, hold_until=early).ok  # the hold was over when it came back


# -- cross-check with own surveillance ---------------------------------------------------------------

GEOD = Geod(ellps="WGS84")


def own_track(
    ident: str, rng: random.Random, *, sigma_m: float = 30.0, shift_m: float = 0.0, offset_s: float = 0.4
) -> list[Sample]:
    """The requester's own surveillance of an aircraft: 1 Hz, ``offset_s`` after the aircraft's own
    reports, each position off by gaussian noise of ``sigma_m`` north and east (and up), all moved
    ``shift_m`` east."""
    out = []
    for i in range(150):
        s = PATHS[ident](i + offset_s)
        n, e = rng.gauss(0.0, sigma_m), rng.gauss(0.0, sigma_m) + shift_m
        lng, lat, _ = GEOD.fwd(s.lng, s.lat, math.degrees(math.atan2(e, n)), math.hypot(n, e))
        out.append(Sample(s.t, lat, lng, s.alt_m + rng.gauss(0.0, sigma_m)))
    return out


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**32 - 1), st.booleans())
def test_noisy_own_surveillance_agrees(seed: int, labelled: bool) -> None:
    rng = random.Random(seed)
    own_a, own_b = own_track("A", rng), own_track("B", rng)
    stranger = own_track("A", rng, shift_m=20_000.0)  # another aircraft, 20 km away
    own: Any = (
        {"trk-7": own_a, "trk-9": own_b, "trk-1": stranger} if labelled else [*own_a, *own_b, *stranger]
    )
    agreement = cross_check(SHARED, own)
    assert agreement.agrees is True, agreement.reasons
    assert agreement.matched == agreement.covered == agreement.total == len(SHARED["A"]) + len(SHARED["B"])
    assert agreement.max_difference_m is not None and agreement.max_difference_m < 200.0
    assert agreement.unmatched == ()
    if labelled:
        assert [a.own_track for a in agreement.aircraft] == ["trk-7", "trk-9"]
    result = verdict(verify(), agreement)
    assert result.verdict is VerdictClass.VERIFIED_WITH_OWN_SURVEILLANCE
    body = result.to_json()
    assert body["outcome"] == "verified_with_own_surveillance" and "reasons" not in body
    assert body["agreement"]["matched"] == body["agreement"]["total"] == agreement.total
    assert body["agreement"]["max_difference_m"] == round(agreement.max_difference_m, 2)


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**32 - 1), st.booleans(), idents)
def test_a_displaced_track_fails(seed: int, labelled: bool, displaced: str) -> None:
    """The certificate's samples of one aircraft lie 2 km from where the own surveillance sees it."""
    rng = random.Random(seed)
    own = {ident: own_track(ident, rng, shift_m=2_000.0 if ident == displaced else 0.0) for ident in PATHS}
    agreement = cross_check(SHARED, own if labelled else [s for t in own.values() for s in t])
    assert agreement.agrees is False
    bad = next(a for a in agreement.aircraft if a.aircraft_id == displaced)
    assert bad.agrees is False and bad.matched == 0 and bad.covered == bad.total
    assert len(bad.unmatched) == bad.total
    assert agreement.reasons[0].startswith(f"aircraft {displaced}: only 0 of {bad.total} samples seen")
    result = verdict(verify(), agreement)
    assert result.verdict is VerdictClass.FAILED
    assert result.reasons == agreement.reasons


def test_differences_are_geodesic_to_the_centimetre() -> None:
    """Own positions exactly 200 m (north-east) from the certificate's, at the same instants."""

    def moved_one(s: Sample) -> Sample:
        lng, lat, _ = GEOD.fwd(s.lng, s.lat, 45.0, 200.0)
        return Sample(s.t, lat, lng, s.alt_m + 40.0)

    moved = {ident: [moved_one(s) for s in samples] for ident, samples in SHARED.items()}
    for own in (moved, [s for t in moved.values() for s in t]):
        agreement = cross_check(SHARED, own)
        assert agreement.max_difference_m == pytest.approx(200.0, abs=0.01)
        assert agreement.max_vertical_difference_m == pytest.approx(40.0, abs=1e-6)
        assert agreement.agrees is True
    tight = cross_check(SHARED, moved, max_difference_m=150.0)
    assert tight.agrees is False
    assert tight.reasons[0] == "aircraft A: largest horizontal difference 200.0 m exceeds 150 m"
    assert cross_check(SHARED, moved, max_vertical_difference_m=30.0).agrees is False
    assert cross_check(SHARED, moved, max_distance_m=100.0).matched == 0


def test_interpolation_in_time() -> None:
    """Own reports at 0.5 s offsets of a noiseless track: interpolated, they agree to the centimetre
    (the nearest report alone would be 48 m off at 97 m/s)."""
    own = {ident: own_track(ident, random.Random(0), sigma_m=0.0, offset_s=0.5) for ident in PATHS}
    for tracks in (own, [s for t in own.values() for s in t]):
        agreement = cross_check(SHARED, tracks)
        assert agreement.max_difference_m is not None and agreement.max_difference_m < 0.05


def test_without_own_surveillance_the_certificate_stands_alone() -> None:
    owns: list[list[Sample] | dict[str, list[Sample]]] = [
        [],
        {},
        {"far": own_track("A", random.Random(1), shift_m=100_000.0)},
    ]
    for own in owns:
        agreement = cross_check(SHARED, own)
        assert agreement.agrees is None and agreement.covered == 0
        result = verdict(verify(), agreement)
        assert result.verdict is VerdictClass.VERIFIED
        assert result.to_json() == {"outcome": "verified", "reasons": list(agreement.reasons)}
    assert verdict(verify()).verdict is VerdictClass.VERIFIED
    assert verdict(verify()).to_json() == {"outcome": "verified"}
    late = cross_check(
        SHARED, [dataclasses.replace(s, t=s.t + timedelta(hours=1)) for s in own_track("A", random.Random(2))]
    )
    assert late.agrees is None


def test_a_failed_certificate_fails_whatever_the_surveillance() -> None:
    rng = random.Random(3)
    agreement = cross_check(SHARED, {ident: own_track(ident, rng) for ident in PATHS})
    assert agreement.agrees is True
    result = verdict(verify(affected=["A"]), agreement)
    assert result.verdict is VerdictClass.FAILED
    assert result.reasons == ("aircraft B: certificate for an aircraft that was not affected",)
    assert result.to_json() == {
        "outcome": "failed",
        "reasons": ["aircraft B: certificate for an aircraft that was not affected"],
        "agreement": {
            "matched": agreement.matched,
            "total": agreement.total,
            "max_difference_m": round(agreement.max_difference_m or 0.0, 2),
        },
    }
