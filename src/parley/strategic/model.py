"""What the strategic engine checks: operations made of F3548 4D volumes, with a priority.

An :class:`Operation` is an operational intent (or a constraint) as the standard describes it: an
identity, a priority, its nominal ``volumes`` and its ``off_nominal_volumes``, each a
:class:`parley.domain.geo.Volume4D` (circle or polygon footprint on the WGS84 ellipsoid, altitude
band in metres above the ellipsoid (F3548 ``W84``), time window ``[time_start, time_end)``).
Off-nominal volumes are checked exactly like nominal ones; a report says which list a volume
index refers to with :class:`VolumeRef`.

A missing altitude or time bound means "unbounded" on that side (a constraint over all
altitudes, say). A missing outline is refused: an operation's volume always has a footprint.

>>> from datetime import UTC, datetime
>>> from parley.domain.geo import Circle, LatLng, Volume3D, Volume4D
>>> v = Volume4D(Volume3D(Circle(LatLng(47.0, 8.0), 300.0), 0.0, 120.0),
...              datetime(2026, 1, 1, 10, tzinfo=UTC), datetime(2026, 1, 1, 11, tzinfo=UTC))
>>> op = Operation("op-1", (v,), priority=10)
>>> validate_operation(op)
>>> str(op.refs()[0])
'volumes[0]'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from parley.domain.errors import InvalidInput
from parley.domain.geo import (
    MAX_ALTITUDE_M,
    MIN_ALTITUDE_M,
    Circle,
    Polygon,
    Volume4D,
    validate_altitudes,
    validate_outline,
    validate_time_window,
)
from parley.strategic.errors import InvalidOperation

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

#: Most vertices a footprint may have (F3548 ``OiMaxVertices``).
MAX_VERTICES = 10_000
#: Largest circle radius the engine checks exactly, metres (see docs/strategic.md, "Envelope").
MAX_CIRCLE_RADIUS_M = 100_000.0
#: Farthest a polygon vertex may lie from its footprint's centre, metres (same section).
MAX_FOOTPRINT_RADIUS_M = 125_000.0


class OperationKind(StrEnum):
    """What the other party published: an operational intent, or a constraint (a reservation)."""

    OPERATIONAL_INTENT = "operational_intent"
    CONSTRAINT = "constraint"


class IntentState(StrEnum):
    """F3548 ``OperationalIntentState`` values that matter to conflict rules."""

    ACCEPTED = "Accepted"
    ACTIVATED = "Activated"
    NONCONFORMING = "Nonconforming"
    CONTINGENT = "Contingent"

    @property
    def nominal(self) -> bool:
        """Accepted and Activated are nominal; the standard forbids conflicts only for those."""
        return self in (IntentState.ACCEPTED, IntentState.ACTIVATED)


@dataclass(frozen=True, slots=True, order=True)
class VolumeRef:
    """Which volume of an operation: ``volumes[index]`` or ``off_nominal_volumes[index]``."""

    off_nominal: bool
    index: int

    def __str__(self) -> str:
        return f"{'off_nominal_volumes' if self.off_nominal else 'volumes'}[{self.index}]"


@dataclass(frozen=True, slots=True)
class Operation:
    """An operational intent or a constraint, with everything the conflict rules need.

    ``priority`` is F3548's ordinal priority (greater = higher); constraints have none that
    matters. ``state`` is the intent's state (``None`` for a constraint or when unknown);
    ``manager`` names the party that owns it, for reports only.
    """

    id: str
    volumes: tuple[Volume4D, ...]
    priority: int = 0
    off_nominal_volumes: tuple[Volume4D, ...] = ()
    kind: OperationKind = OperationKind.OPERATIONAL_INTENT
    state: IntentState | None = None
    manager: str | None = None

    def refs(self) -> tuple[VolumeRef, ...]:
        """References of all volumes, nominal first, in the order the engine numbers them."""
        return tuple(VolumeRef(False, i) for i in range(len(self.volumes))) + tuple(
            VolumeRef(True, i) for i in range(len(self.off_nominal_volumes))
        )

    def all_volumes(self) -> tuple[Volume4D, ...]:
        """Nominal then off-nominal volumes, matching :meth:`refs`."""
        return self.volumes + self.off_nominal_volumes

    def volume(self, ref: VolumeRef) -> Volume4D:
        """The volume a reference points to."""
        return (self.off_nominal_volumes if ref.off_nominal else self.volumes)[ref.index]


def _where(op: Operation, ref: VolumeRef) -> str:
    return f"operation {op.id!r} {ref}"


def vertex_arrays(ops: Sequence[Operation]) -> tuple[F64, F64, I64]:
    """Latitudes and longitudes of all polygon vertices of the operations' volumes, in order
    (operation by operation, volumes as :meth:`Operation.refs`), and the number of vertices of
    each volume (0 for a circle or a missing outline)."""
    outlines = [v.volume.outline for op in ops for v in op.all_volumes()]
    counts = np.array([len(o.vertices) if isinstance(o, Polygon) else 0 for o in outlines], dtype=np.int64)
    points = [p for o in outlines if isinstance(o, Polygon) for p in o.vertices]
    lat = np.array([p.lat for p in points], dtype=np.float64)
    lng = np.array([p.lng for p in points], dtype=np.float64)
    return lat, lng, counts


def _check_vertices(ops: Sequence[Operation], lat: F64, lng: F64, counts: I64, all_duplicates: bool) -> None:
    owner = np.repeat(np.arange(counts.shape[0]), counts)

    def fail(at: int, why: str) -> None:
        k = int(owner[at])
        first = int(np.sum(counts[:k]))
        for op in ops:  # find the operation and volume of row k
            if k < len(op.refs()):
                raise InvalidOperation(f"{_where(op, op.refs()[k])}.vertices[{at - first}]: {why}")
            k -= len(op.refs())

    bad = np.flatnonzero(~(np.isfinite(lat) & np.isfinite(lng)))
    if bad.size:
        fail(int(bad[0]), "latitude and longitude must be finite numbers")
    bad = np.flatnonzero((lat < -90.0) | (lat > 90.0))
    if bad.size:
        fail(int(bad[0]), f"latitude {lat[bad[0]]} is outside [-90, 90]")
    bad = np.flatnonzero((lng < -180.0) | (lng > 180.0))
    if bad.size:
        fail(int(bad[0]), f"longitude {lng[bad[0]]} is outside [-180, 180]")
    if not all_duplicates:  # repeated neighbours only; the others make a ring that touches itself
        nxt = np.arange(1, lat.shape[0] + 1)
        ends = np.cumsum(counts)
        nxt[ends[counts > 0] - 1] = ends[counts > 0] - counts[counts > 0]
        if lat.size:
            same = (lat == lat[nxt]) & (lng == lng[nxt])
            if same.any():
                fail(int(np.flatnonzero(same)[0]), "repeats its neighbour; vertices may not be repeated")
        return
    lat0, lng0 = lat + 0.0, lng + 0.0  # -0.0 and 0.0 are one coordinate
    key = (
        (lat0.view(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
        ^ lng0.view(np.uint64)
        ^ owner.astype(np.uint64)
    )
    order = np.argsort(key, kind="stable")
    same = key[order][1:] == key[order][:-1]
    a, b = order[1:][same], order[:-1][same]
    real = (owner[a] == owner[b]) & (lat0[a] == lat0[b]) & (lng0[a] == lng0[b])
    if real.any():
        fail(
            int(np.maximum(a, b)[real][0]),
            "duplicates an earlier vertex; vertices may not be repeated (the polygon is closed implicitly)",
        )


def _check_volume(op: Operation, off_nominal: bool, index: int, v: Volume4D) -> None:
    outline = v.volume.outline
    lower, upper = v.volume.altitude_lower_m, v.volume.altitude_upper_m
    start, end = v.time_start, v.time_end
    if (
        isinstance(outline, Polygon)
        and 3 <= len(outline.vertices) <= MAX_VERTICES
        and (lower is None or MIN_ALTITUDE_M <= lower <= MAX_ALTITUDE_M)
        and (upper is None or MIN_ALTITUDE_M <= upper <= MAX_ALTITUDE_M)
        and (lower is None or upper is None or lower <= upper)
        and (start is None or start.tzinfo is not None)
        and (end is None or end.tzinfo is not None)
        and (start is None or end is None or start < end)
    ):
        return  # the common case, decided without building messages
    where = _where(op, VolumeRef(off_nominal, index))
    try:
        if outline is None:
            raise InvalidInput(f"{where}: a footprint (outline_circle or outline_polygon) is required")
        if isinstance(outline, Circle):
            validate_outline(outline, max_vertices=MAX_VERTICES, where=where)
            if outline.radius_m > MAX_CIRCLE_RADIUS_M:
                raise InvalidInput(
                    f"{where}: circle radius {outline.radius_m:g} m is beyond the {MAX_CIRCLE_RADIUS_M:g} m "
                    "the exact check supports; describe the area as a polygon or split it"
                )
        elif not 3 <= len(outline.vertices) <= MAX_VERTICES:
            raise InvalidInput(
                f"{where}: a polygon needs 3 to {MAX_VERTICES} vertices, got {len(outline.vertices)}"
            )
        validate_altitudes(lower, upper, where=where)
        validate_time_window(v.time_start, v.time_end, where=where)
    except InvalidInput as error:
        raise InvalidOperation(error.message) from error


def validate_operations(
    ops: Sequence[Operation], arrays: tuple[F64, F64, I64] | None = None, *, all_duplicates: bool = True
) -> None:
    """Refuse what the engine cannot check, naming the operation and the volume.

    Checks each volume's footprint (present; polygon vertices finite and in range, not repeated,
    at least 3 and at most :data:`MAX_VERTICES`; circle radius positive, at most
    :data:`MAX_CIRCLE_RADIUS_M`), altitudes (finite, within F3548's bounds, lower <= upper) and time
    window (timezone-aware, start < end). ``arrays`` are :func:`vertex_arrays` if already at hand.
    ``all_duplicates=False`` only looks for a vertex repeating its neighbour (a repeat further on
    makes the ring touch itself, which the simple-polygon check finds where it matters).
    Crossing edges and footprints too large are found by
    :func:`parley.strategic.prepared.prepare`, which has the geometry at hand.
    """
    for op in ops:
        if not isinstance(op.priority, int) or isinstance(op.priority, bool):
            raise InvalidOperation(f"operation {op.id!r}: priority must be an integer, got {op.priority!r}")
        if not op.volumes and not op.off_nominal_volumes:
            raise InvalidOperation(f"operation {op.id!r}: at least one volume is required")
        for index, v in enumerate(op.volumes):
            _check_volume(op, False, index, v)
        for index, v in enumerate(op.off_nominal_volumes):
            _check_volume(op, True, index, v)
    _check_vertices(ops, *(arrays if arrays is not None else vertex_arrays(ops)), all_duplicates)


def validate_operation(op: Operation) -> None:
    """:func:`validate_operations` for one operation."""
    validate_operations([op])
