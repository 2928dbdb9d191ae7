"""Which of a party's aircraft and operations a zone affects.

An operation is affected by a :class:`~parley.compliance.zone.Zone` when

(a) **inside now**: its aircraft's latest state is in the buffered zone
    (:meth:`Zone.contains`) and the zone is in force at some instant of ``[now, deadline]``
    (``start <= deadline`` and ``end > now``): the aircraft must leave; or
(b) **by plan**: one of its volumes (nominal or off-nominal) intersects the buffered zone in 4D during
    ``[max(start, now), end)``, as the strategic engine decides it (:func:`parley.strategic.check`,
    F3548's 1 cm precision) against :meth:`Zone.to_volumes4d` (polygons that contain the buffered
    zone, so a plan is never missed; it may be flagged when it passes within a metre or so of the
    buffer's edge): the plan must change.

Operations without telemetry can only be affected by plan; aircraft whose operation is unknown only
by position. The result is sorted by operation id.

>>> from datetime import UTC, datetime, timedelta
>>> from parley.domain.geo import Circle, LatLng, Volume3D, Volume4D
>>> t0 = datetime(2017, 5, 3, 6, tzinfo=UTC)
>>> zone = Zone.from_volume4d(Volume4D(Volume3D(Circle(LatLng(35.0, 36.0), 5_000.0), 0.0, 3_000.0),
...                                    t0, t0 + timedelta(hours=6)))
>>> here = AircraftState("blue-1", t0, 35.0, 36.01, 1_500.0, 40.0, 90.0, 0.0)
>>> [(a.operation_id, a.inside_now, a.planned) for a in affected(zone, [here], {}, now=t0,
...                                                                   deadline=t0 + timedelta(minutes=30))]
[('blue-1', True, ())]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from parley.compliance.zone import Zone
from parley.domain.operations import TelemetrySample
from parley.strategic import Operation, OperationKind, VolumeRef, check

#: The id under which the zone is handed to the strategic engine (operations with it are refused).
ZONE_OPERATION_ID = "parley.compliance.zone"


@dataclass(frozen=True, slots=True)
class AircraftState:
    """One aircraft's state at ``t``: WGS84 degrees, altitude metres above the ellipsoid (W84),
    ground speed m/s, track degrees clockwise from true north, vertical speed m/s (up positive);
    ``None`` where telemetry does not say. One aircraft per operation (``operation_id``)."""

    operation_id: str
    t: datetime
    lat: float
    lng: float
    alt_m: float
    speed_mps: float | None = None
    track_deg: float | None = None
    vertical_speed_mps: float | None = None

    @classmethod
    def from_sample(cls, sample: TelemetrySample) -> AircraftState:
        """The state a telemetry sample reports."""
        return cls(
            operation_id=sample.operation_id,
            t=sample.t,
            lat=sample.lat,
            lng=sample.lng,
            alt_m=sample.alt_m,
            speed_mps=sample.speed_mps,
            track_deg=sample.track_deg,
            vertical_speed_mps=sample.vertical_speed_mps,
        )


@dataclass(frozen=True, slots=True, order=True)
class PlannedOverlap:
    """One volume of an operation that meets the buffered zone: which volume, and when
    (``[time_start, time_end)``, the overlap of the volume's window with the zone's from now; ``None``
    where the volume's window is open), and the altitude band they share (metres; ``None`` where open)."""

    volume: VolumeRef
    time_start: datetime | None
    time_end: datetime | None
    altitude_lower_m: float | None
    altitude_upper_m: float | None


@dataclass(frozen=True, slots=True)
class Affected:
    """An operation the zone affects, and why.

    ``inside_now``: its aircraft is in the buffered zone now (case (a) of the module);
    ``planned``: its volumes that meet the zone (case (b)), in volume order; ``state``: the
    aircraft's latest state, if any telemetry was given.
    """

    operation_id: str
    inside_now: bool
    planned: tuple[PlannedOverlap, ...]
    state: AircraftState | None

    @property
    def by_plan(self) -> bool:
        """Whether some planned volume meets the zone."""
        return bool(self.planned)


def latest_states(states: Sequence[AircraftState]) -> dict[str, AircraftState]:
    """The latest state of each operation's aircraft (ties: the later in ``states``)."""
    latest: dict[str, AircraftState] = {}
    for s in states:
        held = latest.get(s.operation_id)
        if held is None or s.t >= held.t:
            latest[s.operation_id] = s
    return latest


def planned_overlaps(
    zone: Zone, operations: Mapping[str, Operation], *, now: datetime
) -> dict[str, tuple[PlannedOverlap, ...]]:
    """Case (b) of the module: for each operation (by its key in ``operations``) whose volumes meet
    the buffered zone during ``[max(zone.start, now), zone.end)``, those volumes and when.

    Raises :class:`~parley.strategic.InvalidOperation` for an operation the engine cannot check.
    """
    start = max(zone.start, now)
    if not start < zone.end or not operations:
        return {}
    volumes = tuple(dataclasses.replace(v, time_start=start) for v in zone.to_volumes4d())
    subject = Operation(ZONE_OPERATION_ID, volumes, kind=OperationKind.CONSTRAINT)
    keys = sorted(operations)
    others = [
        dataclasses.replace(operations[k], id=k) if operations[k].id != k else operations[k] for k in keys
    ]
    found: dict[str, dict[VolumeRef, PlannedOverlap]] = {}
    for conflict in check(subject, others).conflicts:
        per_volume = found.setdefault(conflict.other_id, {})
        for o in conflict.overlaps:
            held = per_volume.get(o.other_volume)
            lo, hi = o.altitude_lower_m, o.altitude_upper_m
            if held is not None:  # the same volume meets several pieces of the zone: one band
                lo = None if lo is None or held.altitude_lower_m is None else min(lo, held.altitude_lower_m)
                hi = None if hi is None or held.altitude_upper_m is None else max(hi, held.altitude_upper_m)
            per_volume[o.other_volume] = PlannedOverlap(o.other_volume, o.time_start, o.time_end, lo, hi)
    return {k: tuple(v[r] for r in sorted(v)) for k, v in found.items()}


def affected(
    zone: Zone,
    states: Sequence[AircraftState],
    operations: Mapping[str, Operation],
    *,
    now: datetime,
    deadline: datetime,
) -> list[Affected]:
    """The operations the zone affects (see the module), sorted by operation id.

    ``states``: recent aircraft states (the latest per operation is used); ``operations``: the
    party's operations with their volumes, by id (the key is the id reported); ``now``: the time of
    the assessment; ``deadline``: when the aircraft must be out.
    """
    latest = latest_states(states)
    in_force = zone.start <= deadline and zone.end > now
    inside = {k for k, s in latest.items() if in_force and zone.contains(s.lat, s.lng, s.alt_m)}
    planned = planned_overlaps(zone, operations, now=now)
    return [
        Affected(k, k in inside, planned.get(k, ()), latest.get(k)) for k in sorted(inside | planned.keys())
    ]
