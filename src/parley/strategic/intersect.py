"""Exact 4D intersection of volumes, in batches: a broad phase, then exact geometry.

The rule (docs/strategic.md, "When two volumes conflict"), with ``p`` the precision
(F3548 ``IntersectionMinimumPrecisionCm`` = 1 cm) and ``h = p / 2``:

- **time**: the windows are half-open, ``[start, end)``; they overlap when
  ``max(start) < min(end)``. Windows that only share an instant do not conflict. Exact, to the
  microsecond.
- **altitude**: the bands overlap by more than ``p``: ``min(upper) - max(lower) > p``. Bands that
  only touch, or overlap by less than 1 cm, do not conflict.
- **footprint**: the two footprints' intersection contains a disc of diameter ``p``; that is,
  the footprints shrunk by ``h`` still meet. Footprints that touch, or overlap by less than 1 cm
  measured across the overlap, do not conflict.

Together: the two volumes conflict when their overlap in space contains a ball of 1 cm diameter
during a common instant.

The broad phase rejects pairs on time, altitude and ECEF boxes (vectorised over all pairs). The
exact phase works in local frames (:mod:`parley.strategic.frame`):

- polygon-polygon: shapely ``intersects``; a pair that meets is accepted at once when a *probe*
  (the centre of the overlap of the two bounding boxes, either centroid, points between the
  centroids) lies more than ``h`` inside both polygons: a disc of radius ``h`` fits there. Else
  the intersection ``I`` is computed and accepted when ``area(I) > h * perimeter(I)`` (each part
  of ``I`` is simply connected, and for such a region the inradius is at least area / perimeter),
  else when ``I`` shrunk by ``h`` is not empty, else refused;
- circle-polygon, in the frame centred on the circle, where the circle is a Euclidean circle of
  radius ``rho``: refused when the polygon lies ``rho - h`` or more from the centre; accepted when
  a probe (the centre first) lies within ``rho - h`` of the centre and more than ``h`` inside the
  polygon, or when the polygon's overlap with a polygon inscribed in the circle passes the area
  test; else decided by the distance from the centre to the polygon shrunk by ``h``
  (``< rho - h``);
- circle-circle: the geodesic distance between the centres (Karney, through PROJ) is below
  ``r1 + r2 - 2 h``, and both radii exceed ``h``.

The quick tests only ever accept what the exact test accepts (``tests/strategic`` checks both
paths give the same verdicts). The overlap drawn for a report (:meth:`Exact.regions`) is computed
only when asked for.

Shrinking (a negative shapely buffer) replaces the arcs at reflex corners by chords of 16
segments per quadrant, an error below 0.01 mm.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray

from parley.strategic.earth import ecef_to_geodetic, geod, geodetic_to_ecef
from parley.strategic.errors import InvalidOperation
from parley.strategic.frame import Frames
from parley.strategic.prepared import PreparedOperation, invalid_polygons, polygon_rings

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
Bool = NDArray[np.bool_]
Geoms = NDArray[np.object_]

#: A pair is computed in the check's shared frame when both footprints lie within this distance
#: of its centre (metres); otherwise in a frame of its own.
SHARED_FRAME_REACH_M = 250_000.0
#: Segments per quadrant of the arcs that a negative buffer draws.
_QUAD_SEGS = 16
#: Vertices of the polygon inscribed in a circle for the quick acceptance test.
_QUICK_CIRCLE_VERTICES = 64
#: Bounds on the vertices of a circle drawn for a reported region.
_REPORT_CIRCLE_VERTICES = (32, 4096)


@dataclass(frozen=True, slots=True, eq=False)
class Table:
    """Volumes of several prepared operations, stacked; ``owner[k]`` is the operation's index."""

    ops: tuple[PreparedOperation, ...]
    owner: I64
    local: I64
    is_circle: NDArray[np.bool_]
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

    def __len__(self) -> int:
        return int(self.owner.shape[0])


def stack(ops: Sequence[PreparedOperation]) -> Table:
    """One table of all volumes of ``ops``, in order."""
    if not ops:
        z = np.zeros(0)
        z3 = np.zeros((0, 3))
        zi = np.zeros(0, dtype=np.int64)
        return Table(
            (), zi, zi, np.zeros(0, dtype=bool), z, z, z, z, z3, z3, z3, z, z, z, z, z3, np.zeros(1, np.int64)
        )
    vert_shift = np.cumsum([0] + [p.vert_xyz.shape[0] for p in ops[:-1]])
    return Table(
        ops=tuple(ops),
        owner=np.repeat(np.arange(len(ops), dtype=np.int64), [len(p) for p in ops]),
        local=np.concatenate([np.arange(len(p), dtype=np.int64) for p in ops]),
        is_circle=np.concatenate([p.is_circle for p in ops]),
        t_start_us=np.concatenate([p.t_start_us for p in ops]),
        t_end_us=np.concatenate([p.t_end_us for p in ops]),
        alt_lo=np.concatenate([p.alt_lo for p in ops]),
        alt_hi=np.concatenate([p.alt_hi for p in ops]),
        box_lo=np.concatenate([p.box_lo for p in ops]),
        box_hi=np.concatenate([p.box_hi for p in ops]),
        centre_xyz=np.concatenate([p.centre_xyz for p in ops]),
        centre_lat=np.concatenate([p.centre_lat for p in ops]),
        centre_lng=np.concatenate([p.centre_lng for p in ops]),
        bound_m=np.concatenate([p.bound_m for p in ops]),
        radius_m=np.concatenate([p.radius_m for p in ops]),
        vert_xyz=np.concatenate([p.vert_xyz for p in ops]),
        vert_off=np.concatenate(
            [p.vert_off[:-1] + s for p, s in zip(ops, vert_shift, strict=True)]
            + [np.array([sum(p.vert_xyz.shape[0] for p in ops)])]
        ).astype(np.int64),
    )


def broad_phase(t: Table, split: int, precision_m: float) -> tuple[I64, I64]:
    """Pairs ``(i, j)``, ``i < split <= j``, of volumes of ``t`` that may conflict: their time
    windows overlap, their altitude bands overlap by more than ``precision_m``, their boxes meet."""
    a, b = slice(0, split), slice(split, len(t))
    if split == 0 or split == len(t):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    ok = (t.t_start_us[a, None] < t.t_end_us[None, b]) & (t.t_start_us[None, b] < t.t_end_us[a, None])
    ok &= (
        np.minimum(t.alt_hi[a, None], t.alt_hi[None, b]) - np.maximum(t.alt_lo[a, None], t.alt_lo[None, b])
        > precision_m
    )
    for axis in range(3):
        ok &= (t.box_lo[a, None, axis] <= t.box_hi[None, b, axis]) & (
            t.box_lo[None, b, axis] <= t.box_hi[a, None, axis]
        )
    i, j = np.nonzero(ok)
    return i.astype(np.int64), (j + split).astype(np.int64)


def _is_none(a: Geoms) -> Bool:
    return np.array([g is None for g in a], dtype=bool)


class Exact:
    """Verdicts for pairs ``(i, j)``; :meth:`regions` gives the footprint overlap of conflicting
    pairs as shapely geometries in frame ``frame_of[k]`` of ``frames``, computed on first demand
    (most conflicts are decided without computing the overlap itself)."""

    def __init__(self, n: int, frames: Frames, frame_of: I64, table: Table, i: I64, j: I64, h: float) -> None:
        self.conflict = np.zeros(n, dtype=bool)
        self.frames = frames
        self.frame_of = frame_of
        self._table, self._i, self._j, self._h = table, i, j, h
        self._region: Geoms = np.full(n, None, dtype=object)
        self._a: Geoms = np.full(n, None, dtype=object)  # polygon (first of two, or the one beside a circle)
        self._b: Geoms = np.full(n, None, dtype=object)  # second polygon of a polygon pair
        self._rho = np.zeros(n)  # radius in its frame of the circle of a circle-polygon pair

    def regions(self, ks: I64) -> Geoms:
        """Overlap geometries of pairs ``ks`` (which must conflict)."""
        ks = np.asarray(ks, dtype=np.int64)
        todo = ks[_is_none(self._region[ks])]
        if todo.size:
            two = todo[~_is_none(self._b[todo])]
            if two.size:
                self._region[two] = shapely.intersection(self._a[two], self._b[two])
            one = todo[_is_none(self._b[todo]) & ~_is_none(self._a[todo])]
            if one.size:
                discs = np.empty(one.size, dtype=object)
                discs[:] = [
                    circle_polygon(float(r), report_vertices(float(r), self._h)) for r in self._rho[one]
                ]
                self._region[one] = shapely.intersection(self._a[one], discs)
            lens = todo[_is_none(self._a[todo])]
            if lens.size:
                self._region[lens] = _circle_lenses(
                    self.frames, self.frame_of[lens], self._table, self._i[lens], self._j[lens], self._h
                )
        return np.asarray(self._region[ks], dtype=object)


def _ranges(starts: I64, counts: I64) -> I64:
    """Concatenated ``arange(starts[k], starts[k] + counts[k])``."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    shift = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    return np.asarray(np.arange(total, dtype=np.int64) + shift, dtype=np.int64)


def circle_polygon(radius: float, vertices: int) -> shapely.Polygon:
    """A regular polygon inscribed in the circle of ``radius`` about the origin."""
    t = np.linspace(0.0, 2.0 * math.pi, vertices, endpoint=False)
    return shapely.Polygon(np.stack([radius * np.sin(t), radius * np.cos(t)], axis=-1))


def report_vertices(radius: float, tolerance_m: float) -> int:
    """Vertices of a circle drawn for a report: chords within ``tolerance_m`` of the arc."""
    lo, hi = _REPORT_CIRCLE_VERTICES
    if radius <= tolerance_m:
        return lo
    return int(min(hi, max(lo, math.ceil(math.pi / math.acos(1.0 - tolerance_m / radius)))))


class _Frames:
    """Frame centres collected while assigning pairs, built into one :class:`Frames` at the end."""

    def __init__(self) -> None:
        self.lat: list[F64] = []
        self.lng: list[F64] = []
        self.count = 0

    def add(self, lat: F64, lng: F64) -> I64:
        ids = np.arange(self.count, self.count + lat.shape[0], dtype=np.int64)
        self.lat.append(np.asarray(lat, dtype=np.float64))
        self.lng.append(np.asarray(lng, dtype=np.float64))
        self.count += int(lat.shape[0])
        return ids

    def build(self) -> Frames:
        if not self.lat:
            return Frames.at(np.zeros(0), np.zeros(0))
        return Frames.at(np.concatenate(self.lat), np.concatenate(self.lng))


def _check_simple(t: Table, vols: I64, polys: Geoms) -> None:
    """Refuse crossing polygons among ``polys`` (instances of volumes ``vols``) not yet checked."""
    unchecked = np.array([not t.ops[int(t.owner[v])].simple_checked for v in vols], dtype=bool)
    if not unchecked.any():
        return
    idx = np.flatnonzero(unchecked)
    for k, reason in invalid_polygons(polys[idx]):
        v = int(vols[idx[k]])
        op = t.ops[int(t.owner[v])]
        raise InvalidOperation(
            f"operation {op.operation.id!r} {op.refs[int(t.local[v])]}: polygon edges cross or touch ({reason})"
        )


def exact_phase(t: Table, i: I64, j: I64, precision_m: float, shared: tuple[float, float]) -> Exact:
    """Exact verdicts for volume pairs ``(i[k], j[k])`` of table ``t``.

    ``shared`` is the latitude and longitude of the shared frame's centre (the subject's centre).
    """
    h = precision_m / 2.0
    n = i.shape[0]
    frame_of = np.zeros(n, dtype=np.int64)
    fb = _Frames()
    fb.add(np.array([shared[0]]), np.array([shared[1]]))
    shared_xyz = geodetic_to_ecef(np.array([shared[0]]), np.array([shared[1]]))[0]

    ci, cj = t.is_circle[i], t.is_circle[j]
    pp = np.flatnonzero(~ci & ~cj)
    cp = np.flatnonzero(ci ^ cj)
    cc = np.flatnonzero(ci & cj)

    # -- frames: polygon pairs in the shared frame when close enough, else their own;
    #    pairs with a circle in the frame centred on the circle.
    if pp.size:
        vi, vj = i[pp], j[pp]
        reach = np.maximum(
            np.linalg.norm(t.centre_xyz[vi] - shared_xyz, axis=1) + t.bound_m[vi],
            np.linalg.norm(t.centre_xyz[vj] - shared_xyz, axis=1) + t.bound_m[vj],
        )
        own = np.flatnonzero(reach > SHARED_FRAME_REACH_M)
        if own.size:
            mid_lat, mid_lng = ecef_to_geodetic((t.centre_xyz[vi[own]] + t.centre_xyz[vj[own]]) / 2.0)
            frame_of[pp[own]] = fb.add(mid_lat, mid_lng)
    circle_vol = np.where(ci, i, j)
    if cp.size or cc.size:
        with_circle = np.concatenate([cp, cc])
        uniq, inverse = np.unique(circle_vol[with_circle], return_inverse=True)
        ids = fb.add(t.centre_lat[uniq], t.centre_lng[uniq])
        frame_of[with_circle] = ids[inverse]
    frames = fb.build()
    out = Exact(n, frames, frame_of, t, i, j, h)

    # -- polygon instances: (volume, frame) combinations, each projected and built once.
    poly_a = np.where(ci, j, i)  # the polygon of a circle-polygon pair, or the first of two
    want_v = np.concatenate([i[pp], j[pp], poly_a[cp]])
    want_f = np.concatenate([frame_of[pp], frame_of[pp], frame_of[cp]])
    polys: Geoms = np.zeros(0, dtype=object)
    inst = np.zeros(0, dtype=np.int64)
    inst_v = np.zeros(0, dtype=np.int64)
    if want_v.size:
        nf = max(len(frames), 1)
        uniq_keys, inst = np.unique(want_v * nf + want_f, return_inverse=True)
        inst_v = (uniq_keys // nf).astype(np.int64)
        counts = t.vert_off[inst_v + 1] - t.vert_off[inst_v]
        xyz = t.vert_xyz[_ranges(t.vert_off[inst_v], counts)]
        off = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        polys = polygon_rings(frames, xyz, off, (uniq_keys % nf).astype(np.int64))
    if pp.size:
        _polygon_pairs(out, pp, polys, inst[: pp.size], inst[pp.size : 2 * pp.size], inst_v, h)
    if cp.size:
        inst_cp = inst[2 * pp.size :]
        rho = frames.radius_of(t.radius_m[circle_vol[cp]], frame_of[cp])
        _circle_polygon_pairs(out, cp, polys[inst_cp], rho, inst_v[inst_cp], h)
    if cc.size:
        vi, vj = i[cc], j[cc]
        _, _, dist = geod().inv(t.centre_lng[vi], t.centre_lat[vi], t.centre_lng[vj], t.centre_lat[vj])
        ri, rj = t.radius_m[vi], t.radius_m[vj]
        out.conflict[cc] = (np.asarray(dist) < ri + rj - 2.0 * h) & (np.minimum(ri, rj) > h)
    return out


def _deep_inside(polys: Geoms, edges: Geoms, xy: F64, h: float) -> Bool:
    """Whether each point ``xy[k]`` lies inside ``polys[k]`` more than ``h`` from its boundary
    ``edges[k]``."""
    inside = np.asarray(shapely.contains_xy(polys, xy[:, 0], xy[:, 1]), dtype=bool)
    k = np.flatnonzero(inside)
    if k.size:
        depth = shapely.distance(shapely.points(xy[k]), edges[k])
        inside[k] = np.asarray(depth, dtype=np.float64) > h
    return inside


def _probes(box_a: F64, box_b: F64, cen_a: F64, cen_b: F64) -> list[F64]:
    """Points likely to lie deep inside both shapes of a pair, most productive first: the centre
    of the overlap of their bounding boxes, each centroid, and points between the centroids."""
    lo = np.maximum(box_a[:, :2], box_b[:, :2])
    hi = np.minimum(box_a[:, 2:], box_b[:, 2:])
    return [(lo + hi) / 2.0, cen_a, cen_b] + [cen_a + f * (cen_b - cen_a) for f in (0.25, 0.5, 0.75)]


def _polygon_pairs(out: Exact, pp: I64, polys: Geoms, ia: I64, ib: I64, inst_v: I64, h: float) -> None:
    """Verdicts of polygon-polygon pairs ``pp`` (instances ``ia``, ``ib`` of ``polys``)."""
    a, b = polys[ia], polys[ib]
    hit = np.flatnonzero(np.asarray(shapely.intersects(a, b), dtype=bool))
    if not hit.size:
        return
    used = np.unique(np.concatenate([ia[hit], ib[hit]]))
    _check_simple(out._table, inst_v[used], polys[used])
    # quick acceptance: a probe point lies more than h inside both (a disc of radius h fits)
    edges = np.full(polys.shape[0], None, dtype=object)
    edges[used] = shapely.boundary(polys[used])
    box = np.zeros((polys.shape[0], 4))
    box[used] = shapely.bounds(polys[used])
    cen = np.zeros((polys.shape[0], 2))
    cen[used] = shapely.get_coordinates(shapely.centroid(polys[used]))
    ha, hb = ia[hit], ib[hit]
    verdict = np.zeros(hit.size, dtype=bool)
    pending = np.arange(hit.size)
    for probe in _probes(box[ha], box[hb], cen[ha], cen[hb]):
        pa, pb, xy = ha[pending], hb[pending], probe[pending]
        ok = _deep_inside(polys[pa], edges[pa], xy, h)
        k = np.flatnonzero(ok)
        ok[k] = _deep_inside(polys[pb[k]], edges[pb[k]], xy[k], h)
        verdict[pending[ok]] = True
        pending = pending[~ok]
        if not pending.size:
            break
    out._a[pp[hit]] = a[hit]
    out._b[pp[hit]] = b[hit]
    if pending.size:  # exact: the overlap itself, then its area / perimeter, then its shrunk form
        inter = np.asarray(shapely.intersection(a[hit[pending]], b[hit[pending]]), dtype=object)
        out._region[pp[hit[pending]]] = inter
        area = shapely.area(inter)
        ok = (area > 0.0) & (area > h * shapely.length(inter))
        slow = np.flatnonzero(~ok & (area > 0.0))
        if slow.size:
            shrunk = shapely.buffer(inter[slow], -h, quad_segs=_QUAD_SEGS)
            ok[slow] = ~np.asarray(shapely.is_empty(shrunk), dtype=bool)
        verdict[pending] = ok
    out.conflict[pp[hit]] = verdict


def _circle_polygon_pairs(out: Exact, cp: I64, poly: Geoms, rho: F64, vols: I64, h: float) -> None:
    """Verdicts of circle-polygon pairs ``cp``: ``poly`` in the frame centred on the circle of
    radius ``rho`` there."""
    origin = shapely.Point(0.0, 0.0)
    near = np.flatnonzero(np.asarray(shapely.distance(origin, poly), dtype=np.float64) < rho - h)
    if not near.size:
        return
    _check_simple(out._table, vols[near], poly[near])
    p, r = poly[near], rho[near]
    edges = shapely.boundary(p)
    disc_box = np.stack([-r, -r, r, r], axis=-1)
    centre = np.zeros((near.size, 2))
    verdict = np.zeros(near.size, dtype=bool)
    pending = np.arange(near.size)
    cen = shapely.get_coordinates(shapely.centroid(p))
    for probe in _probes(disc_box, shapely.bounds(p), centre, cen):
        xy = probe[pending]
        ok = np.hypot(xy[:, 0], xy[:, 1]) < r[pending] - h
        k = np.flatnonzero(ok)
        ok[k] = _deep_inside(p[pending[k]], edges[pending[k]], xy[k], h)
        verdict[pending[ok]] = True
        pending = pending[~ok]
        if not pending.size:
            break
    if pending.size:  # the overlap with an inscribed polygon (a subset), then exactly
        disc = np.empty(pending.size, dtype=object)
        disc[:] = [circle_polygon(float(x), _QUICK_CIRCLE_VERTICES) for x in r[pending]]
        inner = shapely.intersection(p[pending], disc)
        area = shapely.area(inner)
        ok = (area > 0.0) & (area > h * shapely.length(inner))
        verdict[pending[ok]] = True
        slow = pending[~ok]
        if slow.size:
            shrunk = shapely.buffer(p[slow], -h, quad_segs=_QUAD_SEGS)
            d = np.asarray(shapely.distance(origin, shrunk), dtype=np.float64)
            verdict[slow] = np.nan_to_num(d, nan=math.inf) < r[slow] - h
    out.conflict[cp[near]] = verdict
    out._a[cp[near]] = p
    out._rho[cp[near]] = r


def _circle_lenses(frames: Frames, f: I64, t: Table, a: I64, b: I64, tolerance_m: float) -> Geoms:
    """Overlaps of circles ``a[k]`` and ``b[k]`` in frames ``f[k]`` (centred on ``a[k]``): the first
    drawn about the origin, the second from points of the geodesic circle (not centred there)."""
    ra, rb = frames.radius_of(t.radius_m[a], f), frames.radius_of(t.radius_m[b], f)
    first = np.empty(a.size, dtype=object)
    first[:] = [circle_polygon(float(r), report_vertices(float(r), tolerance_m)) for r in ra]
    counts = np.array([report_vertices(float(r), tolerance_m) for r in rb], dtype=np.int64)
    owner = np.repeat(np.arange(a.size), counts)
    az = np.concatenate([np.linspace(0.0, 360.0, int(n), endpoint=False) for n in counts])
    lng, lat, _ = geod().fwd(t.centre_lng[b][owner], t.centre_lat[b][owner], az, t.radius_m[b][owner])
    xy = frames.forward(geodetic_to_ecef(np.asarray(lat), np.asarray(lng)), f[owner].astype(np.intp))
    second = shapely.polygons(shapely.linearrings(xy, indices=owner))
    return np.asarray(shapely.intersection(first, second), dtype=object)
