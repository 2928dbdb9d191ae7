"""Track samples: the position reports a clearance certificate commits to, and the commitment.

A :class:`Sample` is one position report of one aircraft: a time, WGS84 latitude and longitude in
degrees and an altitude in metres above the WGS84 ellipsoid (F3548's ``W84``). Written as JSON it is
``{"t": "YYYY-MM-DDTHH:MM:SS.ffffffZ", "lat": deg, "lng": deg, "alt_m": m}``.

The **commitment** to an aircraft's samples is what the obligor signs into its certificate instead of
the samples themselves (they go to the requester beside the certificate, not into the log)::

    commitment = "sha256:" + hex(SHA-256(canonical([sample_1, sample_2, ..., sample_n])))

where ``canonical`` is RFC 8785 (JCS): the JSON array of the samples' objects in time order, each
object's members sorted (``alt_m``, ``lat``, ``lng``, ``t``), no white space, numbers as ECMAScript
prints them (``35`` not ``35.0``, ``1e-7`` not ``1e-07``). By hand, for one sample:

>>> from datetime import UTC, datetime
>>> import hashlib
>>> s = Sample(datetime(2017, 5, 3, 6, 30, tzinfo=UTC), 35.05, 40.25, 3000.0)
>>> text = '[{"alt_m":3000,"lat":35.05,"lng":40.25,"t":"2017-05-03T06:30:00.000000Z"}]'
>>> commitment([s]) == "sha256:" + hashlib.sha256(text.encode()).hexdigest()
True

Samples must be in strictly increasing time (one position per instant and aircraft); anything else
is refused, so one set of samples has exactly one commitment.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from parley.domain.errors import InvalidInput
from parley.line.canonical import DIGEST_PREFIX
from parley.line.entry import canonical_body
from parley.line.shapes import ALT_RANGE_M
from parley.line.times import format_time, parse_time

#: Most samples shared (and committed to) per aircraft and certificate: 5 h 33 min at 1 Hz.
MAX_SAMPLES = 20_000
#: How far beyond the zone and its buffer a sample still counts as "near" and is shared, metres.
NEAR_MARGIN_M = 5_000.0

_MEMBERS = frozenset({"t", "lat", "lng", "alt_m"})


@dataclass(frozen=True, slots=True)
class Sample:
    """One position report: ``t`` (aware, UTC on the line, microseconds), ``lat``/``lng`` (WGS84
    degrees), ``alt_m`` (metres above the WGS84 ellipsoid)."""

    t: datetime
    lat: float
    lng: float
    alt_m: float

    def to_json(self) -> dict[str, Any]:
        """``{"t", "lat", "lng", "alt_m"}``, the time in the line's one spelling."""
        return {"t": format_time(self.t), "lat": self.lat, "lng": self.lng, "alt_m": self.alt_m}

    @classmethod
    def from_json(cls, obj: object, where: str = "sample") -> Sample:
        """The sample written ``obj``, checked strictly (exactly the four members, finite numbers
        within WGS84 ranges, the line's time spelling); :class:`InvalidInput` naming the field."""
        if type(obj) is not dict:
            raise InvalidInput(f"{where}: expected an object")
        if obj.keys() != _MEMBERS:
            keys = set(obj)
            if missing := sorted(_MEMBERS - keys):
                raise InvalidInput(f"{where}: missing {', '.join(missing)}")
            raise InvalidInput(f"{where}: unknown member {', '.join(sorted(keys - _MEMBERS))}")
        sample = cls(
            parse_time(obj["t"], f"{where}.t"),
            _number(obj["lat"], f"{where}.lat"),
            _number(obj["lng"], f"{where}.lng"),
            _number(obj["alt_m"], f"{where}.alt_m"),
        )
        validate_sample(sample, where)
        return sample


def _number(value: object, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{field}: expected a finite number")
    return float(value)


def validate_sample(sample: Sample, where: str = "sample") -> None:
    """Refuse (:class:`InvalidInput`, naming the field) a sample the line cannot carry: a naive
    time, a latitude outside [-90, 90], a longitude outside [-180, 180], an altitude outside
    [-1,000, 100,000] m, or a number that is not finite."""
    if sample.t.tzinfo is None or sample.t.utcoffset() is None:
        raise InvalidInput(f"{where}.t: a time must be timezone-aware (UTC)")
    for name, value, low, high in (
        ("lat", sample.lat, -90.0, 90.0),
        ("lng", sample.lng, -180.0, 180.0),
        ("alt_m", sample.alt_m, *ALT_RANGE_M),
    ):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise InvalidInput(f"{where}.{name}: expected a finite number")
        if not low <= value <= high:
            raise InvalidInput(f"{where}.{name}: {value!r} is outside {low:g}..{high:g}")


def check_order(samples: Sequence[Sample], where: str = "samples") -> None:
    """Refuse samples not in strictly increasing time, or more than :data:`MAX_SAMPLES`."""
    if len(samples) > MAX_SAMPLES:
        raise InvalidInput(f"{where}: more than {MAX_SAMPLES} samples")
    for i in range(1, len(samples)):
        if not samples[i - 1].t < samples[i].t:
            raise InvalidInput(f"{where}[{i}]: not after the sample before it (times must strictly increase)")


def samples_to_json(samples: Sequence[Sample]) -> list[dict[str, Any]]:
    """The JSON array of the samples, in their order (what the commitment hashes)."""
    return [s.to_json() for s in samples]


def samples_from_json(obj: object, where: str = "samples") -> tuple[Sample, ...]:
    """Samples shared beside a certificate, checked strictly: an array of at most
    :data:`MAX_SAMPLES` samples in strictly increasing time."""
    if type(obj) is not list:
        raise InvalidInput(f"{where}: expected an array")
    if len(obj) > MAX_SAMPLES:
        raise InvalidInput(f"{where}: more than {MAX_SAMPLES} samples")
    samples = tuple(Sample.from_json(item, f"{where}[{i}]") for i, item in enumerate(obj))
    check_order(samples, where)
    return samples


def commitment(samples: Sequence[Sample]) -> str:
    """``sha256:`` + hex SHA-256 of the RFC 8785 canonical JSON array of ``samples`` (see the
    module). Samples must be valid and in strictly increasing time; :class:`InvalidInput` otherwise."""
    check_order(samples)
    for i, sample in enumerate(samples):
        validate_sample(sample, f"samples[{i}]")
    return DIGEST_PREFIX + hashlib.sha256(canonical_array(samples_to_json(samples))).hexdigest()


_WRAP = b'{"s":'


def canonical_array(values: list[Any]) -> bytes:
    """``canonical(values)`` (RFC 8785) of a JSON array, through the line's fast canonical encoder
    (some 50 times faster than the reference on samples): the canonical form of ``{"s": values}`` is
    ``{"s":`` + the array's canonical form + ``}``."""
    text = canonical_body({"s": values})
    return text[len(_WRAP) : -1]


def near(
    samples: Sequence[Sample],
    contains_with_margin: Callable[[Sample], bool],
    *,
    keep: Collection[Sample] = (),
) -> list[Sample]:
    """The samples to share: those of ``samples`` (one aircraft's track from acceptance until clear,
    in time order) for which ``contains_with_margin`` holds (the sample lies within the zone grown
    by its buffer and :data:`NEAR_MARGIN_M`), in their order, plus those in ``keep``.

    Pass the crossing's last sample inside and first sample outside in ``keep``: with sparse reports
    the first sample outside may lie beyond the margin, and the certificate needs the two of them
    consecutive among the shared samples.

    >>> from datetime import UTC, datetime, timedelta
    >>> t0 = datetime(2017, 5, 3, 6, tzinfo=UTC)
    >>> track = [Sample(t0 + timedelta(seconds=i), 35.0 + 0.1 * i, 40.0, 3000.0) for i in range(5)]
    >>> [s.lat for s in near(track, lambda s: s.lat < 35.15, keep=[track[3]])]
    [35.0, 35.1, 35.3]
    """
    kept = set(keep)
    return [s for s in samples if s in kept or contains_with_margin(s)]
