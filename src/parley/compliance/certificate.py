"""Clearance certificates: what the obligor signs, and what the beneficiary checks before believing it.

When every affected aircraft of an accepted ``vacate`` or ``hold_clear`` is out of the zone and its
buffer, the obligor appends an entry of kind ``certificate`` to the line, answering the request.
Its ``body`` (checked by :func:`check_certificate_body`, strictly: no other members, each of one
type)::

    {"request": "sha256:<hex>",                   # hash of the request entry answered
     "zone": {"buffer_h_m": 500, "buffer_v_m": 150},  # the buffers "clear" was judged with, metres
     "aircraft": [                                # one per affected aircraft, ascending id, 1..100
       {"id": "BLUE-1",                           # the obligor's own aircraft id
        "crossed_at": "2017-05-03T06:21:14.000000Z",  # = first_outside.t
        "last_inside": {"t", "lat", "lng", "alt_m"} | null,  # null: outside from its first sample
        "first_outside": {"t", "lat", "lng", "alt_m"},
        "samples": 812,                           # how many samples the commitment covers
        "commitment": "sha256:<hex>"},            # parley.compliance.samples.commitment
       ...],
     "clear_at": "2017-05-03T06:24:02.000000Z",   # the latest crossed_at: all were out from then
     "hold": {"until": "2017-05-03T12:00:00.000000Z"}}  # hold_clear only: held clear until then

**crossed_at** is the time of the aircraft's first sample outside the zone grown by its buffers
after its last sample inside (there is no interpolated instant: the samples are the evidence). The
shared samples of an aircraft run from the acceptance until ``clear_at``, only those near the zone
(:func:`parley.compliance.samples.near`), in strictly increasing time; ``last_inside`` and
``first_outside`` are two consecutive ones, and none after ``first_outside`` is inside.

The beneficiary checks with :func:`verify_certificate` (the samples hash to the commitment, the
crossing is real, before the deadline, no re-entry, exactly the affected aircraft), compares the
samples with its own surveillance with :func:`cross_check`, and records :func:`verdict`.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Any

import numpy as np
from pyproj import Geod

from parley.compliance.samples import MAX_SAMPLES, Sample, commitment
from parley.domain.errors import InvalidInput
from parley.line.canonical import DIGEST_PREFIX
from parley.line.errors import InvalidEntry
from parley.line.shapes import members, number
from parley.line.times import format_time, parse_time

#: The kind of the line entry whose body is a certificate.
CERTIFICATE_KIND = "certificate"
#: Most aircraft one certificate names (each takes some 400 bytes of the entry's 64 KiB).
MAX_AIRCRAFT = 100
#: Largest horizontal or vertical buffer, metres.
MAX_BUFFER_M = 100_000.0
#: An aircraft id: a letter or digit, then letters, digits, ``.``, ``_``, ``:``, ``/``, ``-``; at most 100.
AIRCRAFT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}")
DIGEST = re.compile(re.escape(DIGEST_PREFIX) + r"[0-9a-f]{64}")

#: Cross-check defaults: the largest time offset between a certificate sample and an own position
#: compared with it (s), the distance beyond which they do not match (m), the share of covered
#: samples that must match, the largest horizontal and vertical differences tolerated (m), and how
#: far an own position may lie for the sample to count as seen by the own surveillance at all (m).
MAX_DT_S = 2.0
MAX_DISTANCE_M = 1_000.0
MIN_MATCHED_FRACTION = 0.9
MAX_DIFFERENCE_M = 300.0
MAX_VERTICAL_DIFFERENCE_M = 500.0
COVERAGE_RADIUS_M = 50_000.0
#: Most reasons a verdict's body carries.
MAX_REASONS = 100
#: Consecutive samples of one track further apart than this (s) are not interpolated between.
INTERPOLATION_GAP_S = 10.0

_BODY = frozenset({"request", "zone", "aircraft", "clear_at"})
_AIRCRAFT = frozenset({"id", "crossed_at", "last_inside", "first_outside", "samples", "commitment"})


@dataclass(frozen=True, slots=True)
class Crossing:
    """How one aircraft left: its last sample inside the zone and buffer (``None``: none since the
    acceptance), its first sample outside after it, and the samples to share (near the zone, from
    the acceptance until the all-clear, strictly increasing in time; the two consecutive among them)."""

    aircraft_id: str
    last_inside: Sample | None
    first_outside: Sample
    samples: tuple[Sample, ...]

    @property
    def crossed_at(self) -> datetime:
        """The time of the first sample outside."""
        return self.first_outside.t


# -- the body -------------------------------------------------------------------------------------


def _digest(value: object, field: str) -> str:
    if type(value) is not str or not DIGEST.fullmatch(value):
        raise InvalidEntry(f"{field}: expected 'sha256:' and 64 lowercase hexadecimal digits")
    return value


def _sample(value: object, field: str) -> Sample:
    try:
        return Sample.from_json(value, field)
    except InvalidEntry:
        raise
    except InvalidInput as error:
        raise InvalidEntry(error.message) from error


def _buffer(value: object, field: str) -> float:
    buffer = number(value, field)
    if not 0.0 <= buffer <= MAX_BUFFER_M:
        raise InvalidEntry(f"{field}: must be within 0..{MAX_BUFFER_M:g} m")
    return buffer


def _aircraft(value: object, field: str) -> tuple[str, datetime, int]:
    record = members(value, field, _AIRCRAFT)
    ident = record["id"]
    if type(ident) is not str or not AIRCRAFT_ID.fullmatch(ident):
        raise InvalidEntry(
            f"{field}.id: not an aircraft id (letters, digits, '.', '_', ':', '/', '-'; at most 100)"
        )
    crossed_at = parse_time(record["crossed_at"], f"{field}.crossed_at")
    first = _sample(record["first_outside"], f"{field}.first_outside")
    last = None if record["last_inside"] is None else _sample(record["last_inside"], f"{field}.last_inside")
    if crossed_at != first.t:
        raise InvalidEntry(f"{field}.crossed_at: must be the time of first_outside")
    if last is not None and not last.t < first.t:
        raise InvalidEntry(f"{field}.last_inside: must be before first_outside")
    count = record["samples"]
    least = 1 if last is None else 2
    if type(count) is not int or not least <= count <= MAX_SAMPLES:
        raise InvalidEntry(f"{field}.samples: expected an integer within {least}..{MAX_SAMPLES}")
    _digest(record["commitment"], f"{field}.commitment")
    return ident, crossed_at, 1 if last is None else 2


def check_certificate_body(body: object) -> int:
    """Check the body of a ``certificate`` entry (see the module); returns the number of positions
    it carries (two per aircraft, one where ``last_inside`` is null), which count towards the
    entry's limit. :class:`~parley.line.errors.InvalidEntry` naming the member otherwise."""
    body = members(body, "body", _BODY, {"hold"})
    _digest(body["request"], "body.request")
    zone = members(body["zone"], "body.zone", {"buffer_h_m", "buffer_v_m"})
    _buffer(zone["buffer_h_m"], "body.zone.buffer_h_m")
    _buffer(zone["buffer_v_m"], "body.zone.buffer_v_m")
    aircraft = body["aircraft"]
    if type(aircraft) is not list or not 1 <= len(aircraft) <= MAX_AIRCRAFT:
        raise InvalidEntry(f"body.aircraft: expected an array of 1 to {MAX_AIRCRAFT} aircraft")
    positions = 0
    latest: datetime | None = None
    previous: str | None = None
    for i, record in enumerate(aircraft):
        ident, crossed_at, count = _aircraft(record, f"body.aircraft[{i}]")
        if previous is not None and not previous < ident:
            raise InvalidEntry(f"body.aircraft[{i}].id: aircraft must be in strictly ascending id order")
        previous = ident
        latest = crossed_at if latest is None or crossed_at > latest else latest
        positions += count
    if parse_time(body["clear_at"], "body.clear_at") != latest:
        raise InvalidEntry("body.clear_at: must be the latest crossed_at")
    if "hold" in body:
        hold = members(body["hold"], "body.hold", {"until"})
        parse_time(hold["until"], "body.hold.until")
    return positions


def build_certificate(
    request_hash: str,
    crossings: Sequence[Crossing],
    buffer_h_m: float,
    buffer_v_m: float,
    *,
    hold_until: datetime | None = None,
) -> dict[str, Any]:
    """The body of the certificate answering ``request_hash`` (see the module): one record per
    crossing, in ascending aircraft id, each committing to the crossing's samples.

    Refuses (:class:`InvalidInput`) crossings whose ``last_inside`` and ``first_outside`` are not
    consecutive among their samples (a certificate that could not verify), two crossings of one
    aircraft, and whatever :func:`check_certificate_body` refuses.
    """
    records = []
    for crossing in sorted(crossings, key=lambda c: c.aircraft_id):
        where = f"crossing {crossing.aircraft_id}"
        samples = crossing.samples
        try:
            index = samples.index(crossing.first_outside)
        except ValueError:
            raise InvalidInput(f"{where}: first_outside is not among its samples") from None
        expected = None if index == 0 else samples[index - 1]
        if expected != crossing.last_inside:
            raise InvalidInput(f"{where}: last_inside is not the sample just before first_outside")
        records.append(
            {
                "id": crossing.aircraft_id,
                "crossed_at": format_time(crossing.crossed_at),
                "last_inside": None if crossing.last_inside is None else crossing.last_inside.to_json(),
                "first_outside": crossing.first_outside.to_json(),
                "samples": len(samples),
                "commitment": commitment(samples),
            }
        )
    if not records:
        raise InvalidInput("a certificate needs at least one aircraft")
    body: dict[str, Any] = {
        "request": request_hash,
        "zone": {"buffer_h_m": buffer_h_m, "buffer_v_m": buffer_v_m},
        "aircraft": records,
        "clear_at": format_time(max(c.crossed_at for c in crossings)),
    }
    if hold_until is not None:
        body["hold"] = {"until": format_time(hold_until)}
    check_certificate_body(body)
    return body


# -- verification ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AircraftCheck:
    """What the beneficiary found for one aircraft of a certificate: ``reasons`` is empty when it
    holds; ``samples`` is how many were shared for it."""

    aircraft_id: str
    ok: bool
    crossed_at: datetime
    samples: int
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CertificateCheck:
    """The result of :func:`verify_certificate`: ``ok`` when there is nothing in ``reasons`` (each
    naming the aircraft, or ``certificate:`` for the whole); ``aircraft`` in the certificate's order."""

    ok: bool
    reasons: tuple[str, ...]
    aircraft: tuple[AircraftCheck, ...]
    clear_at: datetime | None


def _index(samples: Sequence[Sample], sample: Sample) -> int | None:
    for i, candidate in enumerate(samples):
        if candidate == sample:
            return i
    return None


def _check_aircraft(
    record: Mapping[str, Any],
    given: Sequence[Sample] | None,
    inside: Callable[[Sample], bool],
    deadline: datetime,
    hold_until: datetime | None,
) -> AircraftCheck:
    ident: str = record["id"]
    first = Sample.from_json(record["first_outside"])
    last = None if record["last_inside"] is None else Sample.from_json(record["last_inside"])
    reasons: list[str] = []
    name = f"aircraft {ident}"
    if last is not None and not inside(last):
        reasons.append(f"{name}: last_inside ({format_time(last.t)}) is not inside the zone and its buffer")
    if inside(first):
        reasons.append(f"{name}: first_outside ({format_time(first.t)}) is inside the zone and its buffer")
    if first.t > deadline:
        reasons.append(
            f"{name}: crossed out at {format_time(first.t)}, after the deadline {format_time(deadline)}"
        )
    if given is None:
        reasons.append(f"{name}: no samples shared")
        return AircraftCheck(ident, False, first.t, 0, tuple(reasons))
    shared = tuple(given)
    if len(shared) != record["samples"]:
        reasons.append(
            f"{name}: {len(shared)} samples shared, the certificate commits to {record['samples']}"
        )
    try:
        if commitment(shared) != record["commitment"]:
            reasons.append(f"{name}: the samples shared do not hash to the commitment")
    except InvalidInput as error:
        reasons.append(f"{name}: samples refused: {error.message}")
    index = _index(shared, first)
    if index is None:
        reasons.append(f"{name}: first_outside is not among the samples shared")
    elif last is None and index != 0:
        reasons.append(f"{name}: no last_inside, yet first_outside is not the first sample shared")
    elif last is not None and (index == 0 or shared[index - 1] != last):
        reasons.append(f"{name}: last_inside and first_outside are not consecutive samples")
    for sample in shared:
        if sample.t <= first.t:
            continue
        if hold_until is not None and sample.t >= hold_until:
            break
        if inside(sample):
            what = "violation of the hold" if hold_until is not None else "re-entry"
            reasons.append(f"{name}: {what}: inside again at {format_time(sample.t)} after crossing out")
            break
    return AircraftCheck(ident, not reasons, first.t, len(shared), tuple(reasons))


def verify_certificate(
    body: object,
    *,
    samples: Mapping[str, Sequence[Sample]],
    inside: Callable[[Sample], bool],
    deadline: datetime,
    hold_until: datetime | None,
    affected: Collection[str] | None = None,
) -> CertificateCheck:
    """Check a certificate against the samples shared with it, without trusting either.

    ``inside`` says whether a sample lies inside the zone grown by the certificate's buffers (the
    beneficiary's own geometry, not the obligor's word); ``deadline`` is the request's; ``hold_until``
    the end of a ``hold_clear`` window (``None`` for a ``vacate``); ``affected`` the aircraft the
    beneficiary knows were affected, when it knows. For each aircraft: the shared samples hash to
    its commitment and are as many as it says; ``last_inside`` and ``first_outside`` are consecutive
    among them; the first is inside and the second is not; ``crossed_at`` is no later than the
    deadline; no later sample is inside (for a hold: none before ``hold_until``). And the certificate
    names exactly the affected aircraft, with a hold exactly when the request is one.
    A malformed body fails with the member named.
    """
    try:
        check_certificate_body(body)
    except InvalidEntry as error:
        return CertificateCheck(False, (f"certificate: {error.message}",), (), None)
    body = members(body, "body", _BODY, {"hold"})  # the object checked just above, typed
    reasons: list[str] = []
    hold = body.get("hold")
    if hold is not None and hold_until is None:
        reasons.append("certificate: carries a hold, but the request is not a hold_clear")
    elif hold is None and hold_until is not None:
        reasons.append(
            f"certificate: no hold, but the request holds the zone until {format_time(hold_until)}"
        )
    elif (
        hold is not None and hold_until is not None and parse_time(hold["until"], "hold.until") != hold_until
    ):
        reasons.append(
            f"certificate: holds until {hold['until']}, but the request holds until {format_time(hold_until)}"
        )
    checks = tuple(
        _check_aircraft(record, samples.get(record["id"]), inside, deadline, hold_until)
        for record in body["aircraft"]
    )
    for check in checks:
        reasons.extend(check.reasons)
    named = {check.aircraft_id for check in checks}
    if affected is not None:
        wanted = set(affected)
        reasons.extend(
            f"aircraft {ident}: certificate for an aircraft that was not affected"
            for ident in sorted(named - wanted)
        )
        reasons.extend(
            f"aircraft {ident}: affected, but missing from the certificate"
            for ident in sorted(wanted - named)
        )
    reasons.extend(
        f"aircraft {ident}: samples shared for an aircraft the certificate does not name"
        for ident in sorted(set(samples) - named)
    )
    clear_at = parse_time(body["clear_at"], "body.clear_at")
    return CertificateCheck(not reasons, tuple(reasons), checks, clear_at)


# -- cross-check with the beneficiary's own surveillance ------------------------------------------


class VerdictClass(StrEnum):
    """What the beneficiary records: the certificate verified on its own, verified and confirmed by
    its own surveillance, or failed (the reasons say why)."""

    VERIFIED = "verified"
    VERIFIED_WITH_OWN_SURVEILLANCE = "verified_with_own_surveillance"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class AircraftAgreement:
    """How one aircraft's shared samples compare with the own surveillance.

    ``covered``: samples with an own position within ``max_dt_s`` and the coverage radius;
    ``matched``: covered samples with one within ``max_distance_m``; the largest horizontal
    (geodesic, metres) and vertical (metres) differences over the matched ones; ``own_track``: the
    own track associated with the aircraft (labelled tracks only); ``unmatched``: the covered
    samples that did not match. ``agrees`` is ``None`` when nothing was covered.
    """

    aircraft_id: str
    total: int
    covered: int
    matched: int
    max_difference_m: float | None
    max_vertical_difference_m: float | None
    own_track: str | None
    unmatched: tuple[Sample, ...]
    agrees: bool | None
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Agreement:
    """The result of :func:`cross_check`: totals over all aircraft, per-aircraft details, and
    ``agrees`` (``None``: the own surveillance covered none of the samples; ``False``: some covered
    aircraft disagrees, ``reasons`` say which and how)."""

    total: int
    covered: int
    matched: int
    max_difference_m: float | None
    max_vertical_difference_m: float | None
    unmatched: tuple[tuple[str, Sample], ...]
    aircraft: tuple[AircraftAgreement, ...]
    agrees: bool | None
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Track:
    samples: tuple[Sample, ...]
    t_s: tuple[float, ...]

    @classmethod
    def of(cls, samples: Sequence[Sample]) -> _Track:
        ordered = tuple(sorted(samples, key=lambda s: s.t))
        return cls(ordered, tuple(s.t.timestamp() for s in ordered))


@dataclass(frozen=True, slots=True)
class _Pair:
    """An own position and the certificate's position at the same instant."""

    own_lat: float
    own_lng: float
    own_alt_m: float
    cert_lat: float
    cert_lng: float
    cert_alt_m: float
    approx_m: float


@cache
def _geod() -> Geod:
    return Geod(ellps="WGS84")


_A_M = 6_378_137.0
_E2 = (1.0 / 298.257223563) * (2.0 - 1.0 / 298.257223563)


def _dlng(a: float, b: float) -> float:
    """``b - a`` in degrees of longitude, across the antimeridian the short way."""
    return (b - a + 540.0) % 360.0 - 180.0


def _approx_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Horizontal distance in a local tangent frame at the mean latitude (metres; within millimetres
    of the geodesic at a few kilometres: used to choose and gate, the geodesic is what is reported)."""
    phi = math.radians((lat1 + lat2) / 2.0)
    w = math.sqrt(1.0 - _E2 * math.sin(phi) ** 2)
    north = math.radians(lat2 - lat1) * _A_M * (1.0 - _E2) / w**3
    east = math.radians(_dlng(lng1, lng2)) * _A_M / w * math.cos(phi)
    return math.hypot(north, east)


def _at(track: _Track, t_s: float) -> tuple[float, float, float] | None:
    """The track's position at ``t_s`` by linear interpolation between the samples around it (no
    further apart than :data:`INTERPOLATION_GAP_S`), or ``None``."""
    k = bisect_right(track.t_s, t_s) - 1
    if k < 0:
        return None
    a = track.samples[k]
    if track.t_s[k] == t_s:
        return a.lat, a.lng, a.alt_m
    if k + 1 >= len(track.samples) or track.t_s[k + 1] - track.t_s[k] > INTERPOLATION_GAP_S:
        return None
    b = track.samples[k + 1]
    f = (t_s - track.t_s[k]) / (track.t_s[k + 1] - track.t_s[k])
    lng = a.lng + f * _dlng(a.lng, b.lng)
    lng = (lng + 540.0) % 360.0 - 180.0 if not -180.0 <= lng <= 180.0 else lng
    return a.lat + f * (b.lat - a.lat), lng, a.alt_m + f * (b.alt_m - a.alt_m)


def _pair(own: tuple[float, float, float], cert: tuple[float, float, float]) -> _Pair:
    return _Pair(*own, *cert, _approx_m(own[0], own[1], cert[0], cert[1]))


def _candidates(cert: _Track, i: int, own: _Track, max_dt_s: float) -> list[_Pair]:
    """Own positions within ``max_dt_s`` of certificate sample ``i``, each beside the certificate's
    position at the own position's time (interpolated; the sample itself where it cannot be)."""
    t = cert.t_s[i]
    lo, hi = bisect_left(own.t_s, t - max_dt_s), bisect_right(own.t_s, t + max_dt_s)
    sample = cert.samples[i]
    pairs = []
    for k in range(lo, hi):
        o = own.samples[k]
        at = _at(cert, own.t_s[k]) or (sample.lat, sample.lng, sample.alt_m)
        pairs.append(_pair((o.lat, o.lng, o.alt_m), at))
    return pairs


def _labelled_candidates(cert: _Track, i: int, own: _Track, max_dt_s: float) -> list[_Pair]:
    """For a labelled own track: its position interpolated to the sample's time when it has
    positions within ``max_dt_s`` on both sides (or at that time); otherwise as :func:`_candidates`."""
    t = cert.t_s[i]
    k = bisect_left(own.t_s, t)
    sample = cert.samples[i]
    here = (sample.lat, sample.lng, sample.alt_m)
    if k < len(own.t_s) and own.t_s[k] == t:
        o = own.samples[k]
        return [_pair((o.lat, o.lng, o.alt_m), here)]
    if 0 < k < len(own.t_s) and t - own.t_s[k - 1] <= max_dt_s and own.t_s[k] - t <= max_dt_s:
        a, b = own.samples[k - 1], own.samples[k]
        f = (t - own.t_s[k - 1]) / (own.t_s[k] - own.t_s[k - 1])
        lng = a.lng + f * _dlng(a.lng, b.lng)
        lng = (lng + 540.0) % 360.0 - 180.0 if not -180.0 <= lng <= 180.0 else lng
        return [_pair((a.lat + f * (b.lat - a.lat), lng, a.alt_m + f * (b.alt_m - a.alt_m)), here)]
    return _candidates(cert, i, own, max_dt_s)


@dataclass(frozen=True, slots=True)
class _Thresholds:
    max_dt_s: float
    max_distance_m: float
    min_matched_fraction: float
    max_difference_m: float
    max_vertical_difference_m: float
    coverage_radius_m: float


def _nearest(cert: _Track, own: _Track, labelled: bool, limits: _Thresholds) -> list[_Pair | None]:
    """Per certificate sample, the nearest own position compared with it (within the coverage
    radius), or ``None``."""
    if not own.samples or not cert.samples:
        return [None] * len(cert.samples)
    if own.t_s[-1] < cert.t_s[0] - limits.max_dt_s or own.t_s[0] > cert.t_s[-1] + limits.max_dt_s:
        return [None] * len(cert.samples)
    choose = _labelled_candidates if labelled else _candidates
    nearest: list[_Pair | None] = []
    for i in range(len(cert.samples)):
        pairs = [p for p in choose(cert, i, own, limits.max_dt_s) if p.approx_m <= limits.coverage_radius_m]
        nearest.append(
            min(pairs, key=lambda p: (p.approx_m, abs(p.own_alt_m - p.cert_alt_m))) if pairs else None
        )
    return nearest


def _geodesic_m(pairs: Sequence[_Pair | None]) -> list[float | None]:
    """The geodesic distance of each pair, metres (WGS84, Karney's algorithm through PROJ)."""
    present = [p for p in pairs if p is not None]
    if not present:
        return [None] * len(pairs)
    _, _, dist = _geod().inv(
        np.array([p.own_lng for p in present]),
        np.array([p.own_lat for p in present]),
        np.array([p.cert_lng for p in present]),
        np.array([p.cert_lat for p in present]),
    )
    values = iter(float(d) for d in np.atleast_1d(dist))
    return [None if p is None else next(values) for p in pairs]


def _matched(pairs: Sequence[_Pair | None], distances: Sequence[float | None], gate_m: float) -> int:
    return sum(
        1 for p, d in zip(pairs, distances, strict=True) if p is not None and d is not None and d <= gate_m
    )


def _judge(
    ident: str,
    cert: _Track,
    covered: Sequence[bool],
    pairs: Sequence[_Pair | None],
    distances: Sequence[float | None],
    label: str | None,
    limits: _Thresholds,
) -> AircraftAgreement:
    horizontal: list[float] = []
    vertical: list[float] = []
    unmatched: list[Sample] = []
    for sample, seen, pair, distance in zip(cert.samples, covered, pairs, distances, strict=True):
        if pair is not None and distance is not None and distance <= limits.max_distance_m:
            horizontal.append(distance)
            vertical.append(abs(pair.own_alt_m - pair.cert_alt_m))
        elif seen:
            unmatched.append(sample)
    total, matched = len(cert.samples), len(horizontal)
    count = sum(1 for seen in covered if seen)
    max_h = max(horizontal) if horizontal else None
    max_v = max(vertical) if vertical else None
    reasons: list[str] = []
    agrees: bool | None = None
    name = f"aircraft {ident}"
    if count == 0:
        reasons.append(f"{name}: none of its {total} samples seen by the own surveillance")
    else:
        if matched < limits.min_matched_fraction * count:
            reasons.append(
                f"{name}: only {matched} of {count} samples seen by the own surveillance match it within "
                f"{limits.max_distance_m:g} m (at least {limits.min_matched_fraction:.0%} must)"
            )
        if max_h is not None and max_h > limits.max_difference_m:
            reasons.append(
                f"{name}: largest horizontal difference {max_h:.1f} m exceeds {limits.max_difference_m:g} m"
            )
        if max_v is not None and max_v > limits.max_vertical_difference_m:
            reasons.append(
                f"{name}: largest vertical difference {max_v:.1f} m exceeds {limits.max_vertical_difference_m:g} m"
            )
        agrees = not reasons
    return AircraftAgreement(
        ident,
        total,
        count,
        matched,
        max_h,
        max_v,
        label if matched else None,
        tuple(unmatched),
        agrees,
        tuple(reasons),
    )


def _compare(
    ident: str, cert: _Track, pool: _Track, tracks: Mapping[str, _Track] | None, limits: _Thresholds
) -> AircraftAgreement:
    """One aircraft against the own surveillance: coverage from every own position; matches from
    the whole pool (unlabelled) or from the own track matching most samples (labelled)."""
    near = _nearest(cert, pool, False, limits)
    covered = [p is not None for p in near]
    if tracks is None:
        return _judge(ident, cert, covered, near, _geodesic_m(near), None, limits)
    best: tuple[int, float, str] | None = None
    chosen: tuple[list[_Pair | None], list[float | None], str | None] = (
        [None] * len(cert.samples),
        [None] * len(cert.samples),
        None,
    )
    for label, track in tracks.items():
        pairs = _nearest(cert, track, True, limits)
        distances = _geodesic_m(pairs)
        matched = _matched(pairs, distances, limits.max_distance_m)
        if not matched:
            continue
        worst = max(
            d
            for p, d in zip(pairs, distances, strict=True)
            if p is not None and d is not None and d <= limits.max_distance_m
        )
        score = (-matched, worst, label)
        if best is None or score < best:
            best, chosen = score, (pairs, distances, label)
    return _judge(ident, cert, covered, chosen[0], chosen[1], chosen[2], limits)


def cross_check(
    samples: Mapping[str, Sequence[Sample]],
    own_tracks: Sequence[Sample] | Mapping[str, Sequence[Sample]],
    *,
    max_dt_s: float = MAX_DT_S,
    max_distance_m: float = MAX_DISTANCE_M,
    min_matched_fraction: float = MIN_MATCHED_FRACTION,
    max_difference_m: float = MAX_DIFFERENCE_M,
    max_vertical_difference_m: float = MAX_VERTICAL_DIFFERENCE_M,
    coverage_radius_m: float = COVERAGE_RADIUS_M,
) -> Agreement:
    """Compare the samples shared with a certificate with the beneficiary's own surveillance.

    ``own_tracks`` is either unlabelled (positions over time, of any aircraft) or labelled by the
    feed's own track ids. Positions are compared at one instant: each certificate sample against
    the own positions within ``max_dt_s`` of it, the certificate's track interpolated linearly to
    each own position's time; a labelled own track is itself interpolated to the sample's time when
    it has positions within ``max_dt_s`` on both sides. A sample is *covered* when some own
    position lies within ``max_dt_s`` and ``coverage_radius_m`` of it (the own surveillance saw
    that place then); it *matches* when the nearest own position compared with it lies within
    ``max_distance_m`` (geodesic). With labelled tracks each aircraft is associated with the own
    track that matches most of its samples, and only that track's positions match it.

    An aircraft *agrees* when at least ``min_matched_fraction`` of its covered samples match, the
    largest horizontal difference is at most ``max_difference_m`` and the largest vertical one at
    most ``max_vertical_difference_m`` (surveillance altitudes are often barometric: the vertical
    tolerance is wider). An aircraft with nothing covered is not judged. The whole agrees when
    every judged aircraft agrees and at least one is judged.
    """
    limits = _Thresholds(
        max_dt_s,
        max_distance_m,
        min_matched_fraction,
        max_difference_m,
        max_vertical_difference_m,
        coverage_radius_m,
    )
    tracks: dict[str, _Track] | None = None
    if isinstance(own_tracks, Mapping):
        tracks = {label: _Track.of(track) for label, track in sorted(own_tracks.items())}
        pool = _Track.of([s for track in own_tracks.values() for s in track])
    else:
        pool = _Track.of(own_tracks)
    results = [_compare(ident, _Track.of(samples[ident]), pool, tracks, limits) for ident in sorted(samples)]
    judged = [r for r in results if r.agrees is not None]
    horizontal = [r.max_difference_m for r in results if r.max_difference_m is not None]
    vertical = [r.max_vertical_difference_m for r in results if r.max_vertical_difference_m is not None]
    return Agreement(
        total=sum(r.total for r in results),
        covered=sum(r.covered for r in results),
        matched=sum(r.matched for r in results),
        max_difference_m=max(horizontal) if horizontal else None,
        max_vertical_difference_m=max(vertical) if vertical else None,
        unmatched=tuple((r.aircraft_id, s) for r in results for s in r.unmatched),
        aircraft=tuple(results),
        agrees=None if not judged else all(r.agrees for r in judged),
        reasons=tuple(reason for r in results for reason in r.reasons),
    )


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the beneficiary records on its log about a certificate."""

    verdict: VerdictClass
    reasons: tuple[str, ...]
    agreement: Agreement | None

    def to_json(self) -> dict[str, Any]:
        """The members of a ``verdict`` entry's body that come from the checks (the caller adds
        ``recipient`` and ``certificate``): ``outcome``; ``reasons`` (the first
        :data:`MAX_REASONS`; absent when there are none); ``agreement`` {``matched``, ``total``,
        ``max_difference_m`` (metres, to the centimetre; absent when nothing matched)} when the own
        surveillance covered some sample."""
        body: dict[str, Any] = {"outcome": self.verdict.value}
        if self.reasons:
            body["reasons"] = list(self.reasons[:MAX_REASONS])
        agreement = self.agreement
        if agreement is not None and agreement.agrees is not None:
            body["agreement"] = {"matched": agreement.matched, "total": agreement.total}
            if agreement.max_difference_m is not None:
                body["agreement"]["max_difference_m"] = round(agreement.max_difference_m, 2)
        return body


def verdict(check: CertificateCheck, agreement: Agreement | None = None) -> Verdict:
    """``failed`` when the certificate does not verify or the own surveillance disagrees;
    ``verified_with_own_surveillance`` when it verifies and the own surveillance agrees;
    ``verified`` when it verifies and there is no own surveillance of it to compare with."""
    if not check.ok:
        return Verdict(VerdictClass.FAILED, check.reasons, agreement)
    if agreement is None or agreement.agrees is None:
        return Verdict(VerdictClass.VERIFIED, () if agreement is None else agreement.reasons, agreement)
    if not agreement.agrees:
        return Verdict(VerdictClass.FAILED, agreement.reasons, agreement)
    return Verdict(VerdictClass.VERIFIED_WITH_OWN_SURVEILLANCE, agreement.reasons, agreement)
