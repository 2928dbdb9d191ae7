"""Operations turned into flat arrays, once, so that checks run vectorised.

:func:`prepare` validates an :class:`~parley.strategic.model.Operation` and computes, for each of
its volumes (nominal first, then off-nominal, numbered as :meth:`Operation.refs`):

- its time window as float microseconds since the Unix epoch (integers below 2^53, so exact;
  ``-inf``/``+inf`` for an open end) and its altitude band (``-inf``/``+inf`` likewise);
- its footprint on the ellipsoid in ECEF metres: a polygon's vertices, with every edge longer
  than :data:`MAX_EDGE_M` split at points of the true geodesic (so that edges are straight in
  any local frame to micrometres, see :mod:`parley.strategic.frame`); a circle's centre and
  geodesic radius;
- a bounding centre and radius, and an axis-aligned ECEF box that contains the whole footprint
  surface (the vertices' box widened by the cap's bulge), for the broad phase.

A party node can prepare the operations it learns from peers once and reuse them across checks.

>>> from datetime import UTC, datetime
>>> from parley.domain.geo import LatLng, Polygon, Volume3D, Volume4D
>>> sq = Polygon((LatLng(0, 0), LatLng(0, 0.01), LatLng(0.01, 0.01), LatLng(0.01, 0)))
>>> t0, t1 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
>>> p = prepare(Operation("a", (Volume4D(Volume3D(sq, None, 120.0), t0, t1),)))
>>> len(p), float(p.alt_lo[0]), float(p.alt_hi[0])
(1, -inf, 120.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import shapely
from numpy.typing import NDArray

from parley.domain.geo import Circle
from parley.strategic.earth import ecef_to_geodetic, geod, geodetic_to_ecef
from parley.strategic.errors import InvalidOperation
from parley.strategic.frame import Frames
from parley.strategic.model import (
    MAX_FOOTPRINT_RADIUS_M,
    Operation,
    VolumeRef,
    validate_operations,
    vertex_arrays,
)

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
Bool = NDArray[np.bool_]

#: Polygon edges longer than this (chord, metres) are split at geodesic points.
MAX_EDGE_M = 10_000.0
#: Smallest radius of curvature of WGS84 (meridional, at the equator), metres.
_R_MIN_M = 6_335_439.0
#: Slack added to every bounding box, metres (covers rounding and the edges' own sagitta).
_BOX_SLACK_M = 10.0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def time_us(t: datetime | None, open_end: float) -> float:
    """Microseconds since the epoch, exactly (as a float holding an integer); ``open_end`` if None."""
    return open_end if t is None else float((t - _EPOCH) // _US)


def datetime_of(us: float) -> datetime | None:
    """Inverse of :func:`time_us` (``None`` for an open end)."""
    return None if math.isinf(us) else _EPOCH + timedelta(microseconds=int(us))


@dataclass(frozen=True, slots=True, eq=False)
class PreparedOperation:
    """An operation and the arrays the engine works on; one row per volume."""

    operation: Operation
    refs: tuple[VolumeRef, ...]
    is_circle: Bool
    t_start_us: F64
    t_end_us: F64
    alt_lo: F64
    alt_hi: F64
    box_lo: F64
    box_hi: F64
    centre_xyz: F64
    centre_lat: F64
    centre_lng: F64
    bound_m: F64
    radius_m: F64
    vert_xyz: F64
    vert_off: I64
    simple_checked: bool

    def __len__(self) -> int:
        return len(self.refs)

    def vertices(self, k: int) -> F64:
        """ECEF vertices of polygon volume ``k`` (edges split), shape ``(n, 3)``."""
        return self.vert_xyz[self.vert_off[k] : self.vert_off[k + 1]]


def _split_long_edges(lat: F64, lng: F64, counts: I64) -> tuple[F64, I64]:
    """Insert geodesic points into every edge whose chord exceeds MAX_EDGE_M (rings given as
    flat arrays with ``counts`` vertices each); returns the vertices' ECEF and the new counts."""
    xyz = geodetic_to_ecef(lat, lng)
    first = np.repeat(np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    last = np.repeat(np.cumsum(counts) - 1, counts)
    idx = np.arange(lat.shape[0])
    nxt = np.where(idx == last, first, idx + 1)
    chord = np.linalg.norm(xyz[nxt] - xyz, axis=1)
    long_edges = np.flatnonzero(chord > MAX_EDGE_M)
    if long_edges.size == 0:
        return xyz, counts
    owner = np.repeat(np.arange(counts.shape[0]), counts)
    extra = np.zeros(counts.shape[0], dtype=np.int64)
    inserts: dict[int, list[tuple[float, float]]] = {}
    for e in long_edges:
        pieces = math.ceil(chord[e] / MAX_EDGE_M)
        j = nxt[e]
        inserts[int(e)] = [
            (p_lat, p_lng) for p_lng, p_lat in geod().npts(lng[e], lat[e], lng[j], lat[j], pieces - 1)
        ]
        extra[owner[e]] += pieces - 1
    out_lat: list[float] = []
    out_lng: list[float] = []
    for i in range(lat.shape[0]):
        out_lat.append(float(lat[i]))
        out_lng.append(float(lng[i]))
        for p_lat, p_lng in inserts.get(i, ()):
            out_lat.append(p_lat)
            out_lng.append(p_lng)
    return geodetic_to_ecef(np.array(out_lat), np.array(out_lng)), counts + extra


def polygon_rings(frames: Frames, xyz: F64, off: I64, frame_of_ring: I64) -> NDArray[np.object_]:
    """Shapely polygons from ECEF rings ``xyz[off[k]:off[k+1]]`` projected in ``frame_of_ring[k]``."""
    counts = np.diff(off)
    xy = frames.forward(xyz, np.repeat(frame_of_ring, counts))
    ring_index = np.repeat(np.arange(counts.shape[0]), counts)
    rings = shapely.linearrings(xy, indices=ring_index)
    return np.asarray(shapely.polygons(rings), dtype=object)


def invalid_polygons(polys: NDArray[np.object_]) -> list[tuple[int, str]]:
    """Indices of polygons that are not simple (crossing or touching edges), with GEOS's reason."""
    bad = np.flatnonzero(~shapely.is_valid(polys))
    return [(int(i), str(shapely.is_valid_reason(polys[i]))) for i in bad]


def prepare(op: Operation, *, check_simple: bool = True) -> PreparedOperation:
    """Validate ``op`` and compute its arrays.

    ``check_simple`` also refuses polygons whose edges cross (F3548: "edges may not cross"); the
    engine checks the others' polygons lazily, only those that reach exact geometry.
    """
    return prepare_all([op], check_simple=check_simple)[0]


def prepare_all(ops: Sequence[Operation], *, check_simple: bool = True) -> list[PreparedOperation]:
    """:func:`prepare` for many operations at once (one vectorised pass over all their volumes)."""
    if not ops:
        return []
    arrays = vertex_arrays(ops)
    validate_operations(ops, arrays, all_duplicates=check_simple)
    refs_of = [op.refs() for op in ops]
    volumes = [v for op in ops for v in op.all_volumes()]
    op_of = np.repeat(np.arange(len(ops)), [len(r) for r in refs_of])
    refs = [r for rs in refs_of for r in rs]
    nv = len(volumes)
    is_circle = np.zeros(nv, dtype=bool)
    t0, t1, lo, hi = np.empty(nv), np.empty(nv), np.empty(nv), np.empty(nv)
    radius, c_lat, c_lng = np.zeros(nv), np.zeros(nv), np.zeros(nv)
    rows = [
        (
            time_us(v.time_start, -math.inf),
            time_us(v.time_end, math.inf),
            -math.inf if v.volume.altitude_lower_m is None else v.volume.altitude_lower_m,
            math.inf if v.volume.altitude_upper_m is None else v.volume.altitude_upper_m,
        )
        for v in volumes
    ]
    t0[:], t1[:], lo[:], hi[:] = np.array(rows, dtype=np.float64).reshape(nv, 4).T
    for k, v in enumerate(volumes):
        outline = v.volume.outline
        if isinstance(outline, Circle):
            is_circle[k] = True
            radius[k] = outline.radius_m
            c_lat[k], c_lng[k] = outline.center.lat, outline.center.lng
    vert, counts = _split_long_edges(*arrays)
    off = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    centre = np.zeros((nv, 3))
    bound = radius.copy()
    box_lo = np.zeros((nv, 3))
    box_hi = np.zeros((nv, 3))
    poly_idx = np.flatnonzero(~is_circle)

    def where(k: int) -> str:
        return f"operation {ops[int(op_of[k])].id!r} {refs[k]}"

    if poly_idx.size:
        mean = np.add.reduceat(vert, off[poly_idx], axis=0) / counts[poly_idx, None]
        p_lat, p_lng = ecef_to_geodetic(mean)
        c_lat[poly_idx], c_lng[poly_idx] = p_lat, p_lng
        centre[poly_idx] = geodetic_to_ecef(p_lat, p_lng)
        owner = np.repeat(np.arange(nv), counts)
        far = np.zeros(nv)
        far[poly_idx] = np.maximum.reduceat(np.linalg.norm(vert - centre[owner], axis=1), off[poly_idx])
        bound[poly_idx] = far[poly_idx]
        too_big = poly_idx[far[poly_idx] > MAX_FOOTPRINT_RADIUS_M]
        if too_big.size:
            k = int(too_big[0])
            raise InvalidOperation(
                f"{where(k)}: a vertex lies {far[k] / 1000:.0f} km from the footprint's centre, beyond the "
                f"{MAX_FOOTPRINT_RADIUS_M / 1000:g} km the exact check supports; split the volume into smaller ones"
            )
        bulge = far[poly_idx] ** 2 / (2.0 * _R_MIN_M) + _BOX_SLACK_M
        box_lo[poly_idx] = np.minimum.reduceat(vert, off[poly_idx], axis=0) - bulge[:, None]
        box_hi[poly_idx] = np.maximum.reduceat(vert, off[poly_idx], axis=0) + bulge[:, None]
        if check_simple:
            frames = Frames.at(c_lat[poly_idx], c_lng[poly_idx])
            sub_off = np.concatenate([[0], np.cumsum(counts[poly_idx])]).astype(np.int64)
            polys = polygon_rings(frames, vert, sub_off, np.arange(poly_idx.size, dtype=np.int64))
            for i, reason in invalid_polygons(polys):
                raise InvalidOperation(f"{where(int(poly_idx[i]))}: polygon edges cross or touch ({reason})")
    circ_idx = np.flatnonzero(is_circle)
    if circ_idx.size:
        centre[circ_idx] = geodetic_to_ecef(c_lat[circ_idx], c_lng[circ_idx])
        reach = radius[circ_idx] + _BOX_SLACK_M
        box_lo[circ_idx] = centre[circ_idx] - reach[:, None]
        box_hi[circ_idx] = centre[circ_idx] + reach[:, None]
    out = []
    first = 0
    for op, op_refs in zip(ops, refs_of, strict=True):
        n = len(op_refs)
        sl = slice(first, first + n)
        v0, v1 = int(off[first]), int(off[first + n])
        out.append(
            PreparedOperation(
                operation=op,
                refs=op_refs,
                is_circle=is_circle[sl],
                t_start_us=t0[sl],
                t_end_us=t1[sl],
                alt_lo=lo[sl],
                alt_hi=hi[sl],
                box_lo=box_lo[sl],
                box_hi=box_hi[sl],
                centre_xyz=centre[sl],
                centre_lat=c_lat[sl],
                centre_lng=c_lng[sl],
                bound_m=bound[sl],
                radius_m=radius[sl],
                vert_xyz=vert[v0:v1],
                vert_off=off[first : first + n + 1] - v0,
                simple_checked=check_simple,
            )
        )
        first += n
    return out
