"""Samples, their JSON form and the commitment to them (``parley.compliance.samples``)."""

from __future__ import annotations

import contextlib
import dataclasses
import doctest
import hashlib
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.compliance import certificate, samples, watch
from parley.compliance.samples import (
    MAX_SAMPLES,
    Sample,
    canonical_array,
    commitment,
    near,
    samples_from_json,
    samples_to_json,
    validate_sample,
)
from parley.domain.errors import InvalidInput
from parley.line.canonical import canonical, digest

T0 = datetime(2017, 5, 3, 6, 0, tzinfo=UTC)

times = st.integers(min_value=0, max_value=10**12).map(lambda us: T0 + timedelta(microseconds=us))
lats = st.floats(min_value=-90.0, max_value=90.0, allow_nan=False)
lngs = st.floats(min_value=-180.0, max_value=180.0, allow_nan=False)
alts = st.floats(min_value=-1_000.0, max_value=100_000.0, allow_nan=False)
sample_values = st.builds(Sample, times, lats, lngs, alts)


@st.composite
def tracks(draw: st.DrawFn, min_size: int = 1, max_size: int = 40) -> list[Sample]:
    """Samples in strictly increasing time (gaps of 1 µs to 10 s)."""
    gaps = draw(st.lists(st.integers(1, 10_000_000), min_size=min_size, max_size=max_size))
    t, out = T0, []
    for gap in gaps:
        t += timedelta(microseconds=gap)
        out.append(Sample(t, draw(lats), draw(lngs), draw(alts)))
    return out


def at(seconds: float, lat: float = 35.0, lng: float = 40.0, alt_m: float = 3000.0) -> Sample:
    return Sample(T0 + timedelta(seconds=seconds), lat, lng, alt_m)


@pytest.mark.parametrize("module", [samples, certificate, watch], ids=lambda m: m.__name__)
def test_docstring_examples(module: Any) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


@given(sample_values)
def test_json_round_trip(sample: Sample) -> None:
    assert Sample.from_json(sample.to_json()) == sample
    assert Sample.from_json(sample.to_json()).to_json() == sample.to_json()


def test_json_form() -> None:
    assert at(0.5, 35.25, 40.5, 1234.5).to_json() == {
        "t": "2017-05-03T06:00:00.500000Z",
        "lat": 35.25,
        "lng": 40.5,
        "alt_m": 1234.5,
    }


GOOD = {"t": "2017-05-03T06:00:00.000000Z", "lat": 35.0, "lng": 40.0, "alt_m": 3000}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"t": None}, "s.t: not a UTC time"),
        ({"t": "2017-05-03T06:00:00Z"}, "s.t: not a UTC time"),
        ({"lat": 90.5}, "s.lat: 90.5 is outside -90..90"),
        ({"lng": -180.01}, "s.lng: -180.01 is outside -180..180"),
        ({"alt_m": 200_000}, "s.alt_m: 200000.0 is outside -1000..100000"),
        ({"lat": "35"}, "s.lat: expected a finite number"),
        ({"lng": True}, "s.lng: expected a finite number"),
        ({"alt_m": math.nan}, "s.alt_m: expected a finite number"),
        ({"lat": math.inf}, "s.lat: expected a finite number"),
        ({"extra": 1}, "s: unknown member extra"),
    ],
)
def test_from_json_is_strict(change: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace(".", r"\.")):
        Sample.from_json({**GOOD, **change}, "s")


def test_from_json_names_missing_members() -> None:
    with pytest.raises(InvalidInput, match="s: missing alt_m, t"):
        Sample.from_json({"lat": 1.0, "lng": 2.0}, "s")
    with pytest.raises(InvalidInput, match="s: expected an object"):
        Sample.from_json([1, 2], "s")


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"sample\.t: a time must be timezone-aware"):
        validate_sample(Sample(datetime(2017, 5, 3), 35.0, 40.0, 0.0))


def test_commitment_by_hand() -> None:
    """The commitment a third party recomputes with nothing but SHA-256 and the RFC 8785 rules."""
    two = [at(0, 35.05, 40.25, 3000.0), at(1.25, 35.0501, 40.2501, 2999.5)]
    text = (
        '[{"alt_m":3000,"lat":35.05,"lng":40.25,"t":"2017-05-03T06:00:00.000000Z"},'
        '{"alt_m":2999.5,"lat":35.0501,"lng":40.2501,"t":"2017-05-03T06:00:01.250000Z"}]'
    )
    assert commitment(two) == "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    assert commitment(two) == digest(samples_to_json(two))


@settings(max_examples=200)
@given(tracks(min_size=0))
def test_commitment_is_the_digest_of_the_canonical_array(track: list[Sample]) -> None:
    values = samples_to_json(track)
    assert canonical_array(values) == canonical(values)
    assert commitment(track) == digest(values)


@given(tracks(), st.data())
def test_commitment_changes_with_any_change(track: list[Sample], data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(track) - 1))
    field = data.draw(st.sampled_from(["t", "lat", "lng", "alt_m"]))
    old = track[i]
    if field == "t":
        new = dataclasses.replace(old, t=old.t + timedelta(microseconds=data.draw(st.sampled_from([-1, 1]))))
    else:
        value = getattr(old, field)
        bumped = math.nextafter(value, math.inf if value < 0 else -math.inf)
        values = {"lat": old.lat, "lng": old.lng, "alt_m": old.alt_m, field: bumped}
        new = Sample(old.t, values["lat"], values["lng"], values["alt_m"])
    changed = [*track[:i], new, *track[i + 1 :]]
    with contextlib.suppress(InvalidInput):  # the change broke the time order: refused, a change too
        assert commitment(changed) != commitment(track)


def test_commitment_refuses_disorder_and_excess() -> None:
    with pytest.raises(InvalidInput, match=r"samples\[1\]: not after the sample before it"):
        commitment([at(1), at(1)])
    with pytest.raises(InvalidInput, match=r"samples\[2\]: not after"):
        commitment([at(1), at(2), at(1.5)])
    with pytest.raises(InvalidInput, match=f"more than {MAX_SAMPLES} samples"):
        commitment([at(0)] * (MAX_SAMPLES + 1))
    with pytest.raises(InvalidInput, match=r"samples\[0\].lat"):
        commitment([at(0, lat=95.0)])


@given(tracks(min_size=0))
def test_samples_json_round_trip(track: list[Sample]) -> None:
    assert samples_from_json(samples_to_json(track)) == tuple(track)


def test_samples_from_json_is_strict() -> None:
    with pytest.raises(InvalidInput, match="shared: expected an array"):
        samples_from_json({"t": 1}, "shared")
    with pytest.raises(InvalidInput, match=r"shared\[1\]: not after"):
        samples_from_json([GOOD, GOOD], "shared")
    with pytest.raises(InvalidInput, match=r"shared\[0\].lat"):
        samples_from_json([{**GOOD, "lat": -91}], "shared")
    with pytest.raises(InvalidInput, match=f"more than {MAX_SAMPLES}"):
        samples_from_json([GOOD] * (MAX_SAMPLES + 1), "shared")


def test_near_keeps_the_near_ones_and_the_crossing() -> None:
    track = [at(i, lat=35.0 + 0.01 * i) for i in range(10)]
    close = near(track, lambda s: s.lat < 35.035)
    assert close == track[:4]
    # sparse reports: the first sample outside lies beyond the margin, but it is the evidence
    assert near(track, lambda s: s.lat < 35.035, keep=[track[3], track[7]]) == [*track[:4], track[7]]
    # back near later: shared again, in order
    assert near(track, lambda s: s.lat < 35.015 or s.lat > 35.075) == [*track[:2], *track[8:]]
