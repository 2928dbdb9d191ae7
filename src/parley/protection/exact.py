"""The exact phase: distances and conflict times between a subject's volumes and protected entries.

Each volume gets the gnomonic frame centred on its footprint (:class:`parley.strategic.frame.Frames`),
in which geodesics are straight lines, a polygon footprint is a shapely polygon and a circle a
Euclidean circle of radius ``rho``. Entries (:mod:`parley.protection.tables`) are projected into the
frame of each volume they are paired with.

**Scale.** The gnomonic projection enlarges: at ``d`` from the centre its scale is between 1 and
``k(d) = 1 / cos^2(d / R)`` (R = the least radius of curvature), so a distance measured in the frame
is never below the true geodesic distance, and at most ``k`` times it when both points lie within
``d`` of the centre. The check therefore flags a pair when the frame distance is at most
``k * keep_away`` with ``d = footprint radius + keep_away + 1 km``: every true conflict is found,
and a flagged pair is at most ``(k - 1) * keep_away`` beyond the keep-away (``k - 1`` is 1e-6 for a
5 km footprint and a 1 km radius, 1.3e-3 in the extreme: a 125 km footprint and a 100 km radius).
Reported distances are frame distances divided by ``k``: never above the truth, within the same
factor of it.

**Movements.** For a piece of a movement (a sub-route, scheduled linearly in time from ``(u_a, s_a)``
to ``(u_b, s_b)``) and a footprint ``F``, the set of route distances ``s`` whose point lies within
``w`` of ``F`` is computed exactly, edge by edge of the sub-route: for a circle, the edge meets the
disc of radius ``rho + w`` (a quadratic); for a polygon, the edge meets the *capsule* of each edge of
``F`` (the edge widened by ``w``: a rectangle and two discs; slabs and quadratics), and the parts of
the edge inside ``F`` are added (from the edge's crossings with the boundary of ``F`` and the
parity of those behind it on its line). Each interval of ``s`` maps back to scheduled times through the piece's linear schedule
(a stop: the whole piece), so the result is the set of scheduled times at which the convoy's
scheduled position is protected against ``F``. Position along an edge is taken linear in the frame;
on edges of at most 10 km this is within 0.1 m of the geodesic parameterisation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray

from parley.protection.tables import RING, Entries, Track, boxes, ragged, sub_routes
from parley.strategic.earth import ecef_to_geodetic
from parley.strategic.frame import Frames
from parley.strategic.prepared import PreparedOperation

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
Bool = NDArray[np.bool_]
Geoms = NDArray[np.object_]

#: Least radius of curvature of WGS84, metres (the scale bound uses it).
_R_MIN_M = 6_335_439.0
#: Added to the reach of the scale bound, metres.
_SCALE_REACH_SLACK_M = 1_000.0
#: Added to every frame keep-away, metres (the frames' own error is below a millimetre).
ABS_SLACK_M = 1e-3
#: Route vertices farther than this beyond a footprint's bound plus the keep-away are left out of
#: the least-distance computation (they cannot be the closest: route edges are at most 10 km).
_NEAR_SLACK_M = 20_000.0
_ORIGIN = shapely.points(0.0, 0.0)


def scale_bound(reach_m: F64) -> F64:
    """``k(d) = 1 / cos^2(d / R_min)`` at ``d = reach_m`` plus 1 km (see the module)."""
    return np.asarray(1.0 / np.cos((reach_m + _SCALE_REACH_SLACK_M) / _R_MIN_M) ** 2, dtype=np.float64)


@dataclass(frozen=True, slots=True, eq=False)
class Footprints:
    """A prepared operation's volumes, each in its own frame.

    ``rho``: a circle's radius in its frame (0 for polygons); ``reach``: radius about the frame's
    origin holding the footprint; ``shapes``: each polygon in its frame (``None`` for circles);
    ``edge_p``/``edge_q``: polygon edges, volume ``i``'s at ``edge_off[i]:edge_off[i + 1]``;
    ``box``: geographic boxes as :func:`parley.protection.tables.boxes`.
    """

    prepared: PreparedOperation
    frames: Frames
    is_circle: Bool
    rho: F64
    reach: F64
    shapes: Geoms
    edge_off: I64
    edge_p: F64
    edge_q: F64
    box: F64

    @classmethod
    def of(cls, prep: PreparedOperation) -> Footprints:
        n = len(prep)
        frames = Frames.at(prep.centre_lat, prep.centre_lng)
        counts = np.diff(prep.vert_off)
        owner = np.repeat(np.arange(n), counts)
        xy = frames.forward(prep.vert_xyz, owner)
        starts, _, pos = ragged(counts)
        last = pos == counts[owner] - 1
        nxt = np.arange(1, xy.shape[0] + 1)
        nxt[last] = starts[owner[last]]
        rho = np.where(prep.is_circle, frames.radius_of(prep.radius_m, np.arange(n)), 0.0)
        reach = rho.copy()
        shapes = np.full(n, None, dtype=object)
        poly = np.flatnonzero(~prep.is_circle)
        if poly.size:
            reach[poly] = np.maximum.reduceat(np.hypot(xy[:, 0], xy[:, 1]), starts[poly])
            _, ring_of = np.unique(owner, return_inverse=True)
            shapes[poly] = shapely.polygons(shapely.linearrings(xy, indices=ring_of))
        lat, lng = ecef_to_geodetic(prep.vert_xyz)
        # one point per circle (its centre, padded by the radius), the vertices of each polygon
        box_counts = np.where(prep.is_circle, 1, counts)
        _, b_owner, _ = ragged(box_counts)
        circle_rows = prep.is_circle[b_owner]
        b_lat, b_lng = np.empty(b_owner.shape[0]), np.empty(b_owner.shape[0])
        b_lat[circle_rows], b_lng[circle_rows] = (
            prep.centre_lat[prep.is_circle],
            prep.centre_lng[prep.is_circle],
        )
        b_lat[~circle_rows], b_lng[~circle_rows] = lat, lng
        return cls(
            prepared=prep,
            frames=frames,
            is_circle=prep.is_circle,
            rho=rho,
            reach=reach,
            shapes=shapes,
            edge_off=prep.vert_off,
            edge_p=xy,
            edge_q=xy[nxt],
            box=boxes(b_lat, b_lng, box_counts, np.where(prep.is_circle, prep.radius_m, 0.0)),
        )

    def distance(self, v: I64, geoms: Geoms) -> F64:
        """Frame distance between footprint ``v[i]`` and ``geoms[i]`` (0 where they meet)."""
        d = np.empty(v.shape[0])
        circle = self.is_circle[v]
        d[circle] = shapely.distance(_ORIGIN, geoms[circle]) - self.rho[v[circle]]
        d[~circle] = shapely.distance(self.shapes[v[~circle]], geoms[~circle])
        return np.maximum(d, 0.0)


def site_distances(fp: Footprints, ent: Entries, v: I64, e: I64) -> F64:
    """Frame distance between footprint ``v[i]`` and the outline of site entry ``e[i]``."""
    if v.size == 0:
        return np.zeros(0)
    counts = ent.off[e + 1] - ent.off[e]
    starts, row, k = ragged(counts)
    xy = fp.frames.forward(ent.xyz[ent.off[e][row] + k], v[row])
    geoms = np.empty(v.shape[0], dtype=object)
    ring = ent.kind[e] == RING
    geoms[~ring] = shapely.points(xy[starts[~ring]])
    if ring.any():
        sel = ring[row]
        _, ring_row = np.unique(row[sel], return_inverse=True)
        geoms[ring] = shapely.polygons(shapely.linearrings(xy[sel], indices=ring_row))
    return fp.distance(v, geoms)


def _dot(a: F64, b: F64) -> F64:
    return np.asarray(a[:, 0] * b[:, 0] + a[:, 1] * b[:, 1], dtype=np.float64)


def _empty_as_inf(lo: F64, hi: F64) -> tuple[F64, F64]:
    empty = ~(lo <= hi)
    return np.where(empty, np.inf, lo), np.where(empty, -np.inf, hi)


def _slab(alpha: F64, beta: F64, lo: F64 | float, hi: F64 | float) -> tuple[F64, F64]:
    """The ``t`` with ``lo <= alpha + beta t <= hi`` (an interval, maybe empty or unbounded)."""
    flat = beta == 0.0
    safe = np.where(flat, 1.0, beta)
    a, b = (lo - alpha) / safe, (hi - alpha) / safe
    inside = (alpha >= lo) & (alpha <= hi)
    l_out = np.where(flat, np.where(inside, -np.inf, np.inf), np.minimum(a, b))
    h_out = np.where(flat, np.where(inside, np.inf, -np.inf), np.maximum(a, b))
    return l_out, h_out


def _disc(a_pt: F64, d: F64, centre: F64, r: F64) -> tuple[F64, F64]:
    """The ``t`` with ``|a + t d - centre| <= r`` (an interval, maybe empty or unbounded)."""
    p = a_pt - centre
    qa = _dot(d, d)
    qb = 2.0 * _dot(p, d)
    qc = _dot(p, p) - r * r
    disc = qb * qb - 4.0 * qa * qc
    moving = qa > 0.0
    ok = moving & (disc >= 0.0)
    sq = np.sqrt(np.maximum(disc, 0.0))
    two_a = np.where(moving, 2.0 * qa, 1.0)
    lo = np.where(ok, (-qb - sq) / two_a, np.where(~moving & (qc <= 0.0), -np.inf, np.inf))
    hi = np.where(ok, (-qb + sq) / two_a, np.where(~moving & (qc <= 0.0), np.inf, -np.inf))
    return lo, hi


def _capsule(a_pt: F64, d: F64, p: F64, q: F64, w: F64) -> tuple[F64, F64]:
    """The ``t`` with ``a + t d`` within ``w`` of segment ``pq``: the union of the rectangle's
    and the two end discs' intervals (one interval, the capsule being convex)."""
    e = q - p
    length = np.hypot(e[:, 0], e[:, 1])
    safe = np.where(length > 0.0, length, 1.0)
    u = e / safe[:, None]
    n = np.stack([-u[:, 1], u[:, 0]], axis=-1)
    ap = a_pt - p
    l1, h1 = _slab(_dot(ap, u), _dot(d, u), 0.0, length)
    l2, h2 = _slab(_dot(ap, n), _dot(d, n), -w, w)
    rect = _empty_as_inf(np.maximum(l1, l2), np.minimum(h1, h2))
    at_p = _empty_as_inf(*_disc(a_pt, d, p, w))
    at_q = _empty_as_inf(*_disc(a_pt, d, q, w))
    lo = np.minimum(np.minimum(rect[0], at_p[0]), at_q[0])
    hi = np.maximum(np.maximum(rect[1], at_p[1]), at_q[1])
    return lo, hi


def _crosses(x: F64, p: F64, q: F64) -> Bool:
    """Whether the ray from ``x`` towards +x crosses edge ``pq`` (half-open rule)."""
    straddle = (p[:, 1] > x[:, 1]) != (q[:, 1] > x[:, 1])
    dy = np.where(straddle, q[:, 1] - p[:, 1], 1.0)
    x_cross = p[:, 0] + (x[:, 1] - p[:, 1]) * (q[:, 0] - p[:, 0]) / dy
    return np.asarray(straddle & (x[:, 0] < x_cross), dtype=np.bool_)


def _cross(a: F64, b: F64) -> F64:
    return np.asarray(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0], dtype=np.float64)


def _polygon_intervals(fp: Footprints, v: I64, a_pt: F64, b_pt: F64, w: F64) -> tuple[I64, F64, F64]:
    """Rows ``(i, t1, t2)``: parameters along segment ``i`` (``a + t (b - a)``, ``0 <= t <= 1``)
    within ``w[i]`` of polygon footprint ``v[i]``, as a union of intervals (see the module).

    The parts inside the polygon come from the segment's crossings with the polygon's edges (an
    edge is crossed where its ends lie on different sides of the segment's line, half-open): the
    parity of the crossings behind ``a`` on that line says whether ``a`` is inside, and each
    crossing flips it. The capsules cover the boundary, so a crossing placed a little off at a
    vertex changes nothing."""
    n_f = fp.edge_off[v + 1] - fp.edge_off[v]
    starts, r, k = ragged(n_f)
    fi = fp.edge_off[v][r] + k
    p, q = fp.edge_p[fi], fp.edge_q[fi]
    a_r, b_r = a_pt[r], b_pt[r]
    d = b_r - a_r
    lo, hi = _capsule(a_r, d, p, q, w[r])
    lo, hi = np.maximum(lo, 0.0), np.minimum(hi, 1.0)
    hit = lo <= hi
    side_p, side_q = _cross(d, p - a_r) > 0.0, _cross(d, q - a_r) > 0.0
    moving = _dot(d, d) > 0.0
    straddle = (side_p != side_q) & moving
    denom = _cross(d, q - p)
    t = np.where(straddle, _cross(p - a_r, q - p) / np.where(straddle, denom, 1.0), np.nan)
    behind = straddle & (t < 0.0)
    in_a = np.bincount(r[behind], minlength=v.shape[0]) % 2 == 1
    # a segment of length 0: inside by the ray along +x
    still = np.flatnonzero(~moving[starts])
    if still.size:
        crosses = _crosses(a_r, p, q).astype(np.int64)
        in_a[still] = np.add.reduceat(crosses, starts)[still] % 2 == 1
    on = np.flatnonzero(straddle & (t >= 0.0) & (t <= 1.0))
    c_row, c_t = r[on], t[on]
    order = np.lexsort((c_t, c_row))
    c_row, c_t = c_row[order], c_t[order]
    first = np.concatenate([[True], c_row[1:] != c_row[:-1]]) if c_row.size else np.zeros(0, dtype=bool)
    group_start = np.maximum.accumulate(np.where(first, np.arange(c_row.size), 0)) if c_row.size else c_row
    rank = np.arange(c_row.size) - group_start
    inside_after = in_a[c_row] != (rank % 2 == 0)
    last_of_group = np.concatenate([c_row[1:] != c_row[:-1], [True]]) if c_row.size else first
    nxt_t = np.where(last_of_group, 1.0, np.concatenate([c_t[1:], [1.0]]) if c_row.size else c_t)
    enter = np.flatnonzero(inside_after)
    # inside from a up to the first crossing (or b)
    ia = np.flatnonzero(in_a)
    first_t = np.ones(v.shape[0])
    if c_row.size:
        first_t[c_row[first]] = c_t[first]
    rows = np.concatenate([r[hit], c_row[enter], ia])
    t1 = np.concatenate([lo[hit], c_t[enter], np.zeros(ia.size)])
    t2 = np.concatenate([hi[hit], nxt_t[enter], first_t[ia]])
    return rows, t1, t2


def movement_hits(fp: Footprints, ent: Entries, v: I64, e: I64, w: F64) -> tuple[I64, F64, F64]:
    """For pairs ``(v[i], e[i])`` of a footprint and a movement piece, and frame keep-aways
    ``w[i]``: rows ``(i, u1, u2)``, scheduled-time intervals (microseconds) during which the convoy's
    scheduled position is within ``w[i]`` of the footprint (frame distance). Several rows may
    cover one pair, overlapping."""
    none = np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0)
    if v.size == 0:
        return none
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        counts = ent.off[e + 1] - ent.off[e]
        v_start, v_row, k = ragged(counts)
        src = ent.off[e][v_row] + k
        xy = fp.frames.forward(ent.xyz[src], v[v_row])
        s = ent.s_m[src]
        _, pair, j = ragged(np.maximum(counts - 1, 1))
        ia = v_start[pair] + j
        ib = v_start[pair] + np.minimum(j + 1, counts[pair] - 1)
        a_pt, b_pt = xy[ia], xy[ib]
        d = b_pt - a_pt
        vv, ww = v[pair], w[pair]
        dd = _dot(d, d)
        t_near = np.clip(np.where(dd > 0.0, -_dot(a_pt, d) / np.where(dd > 0.0, dd, 1.0), 0.0), 0.0, 1.0)
        closest = a_pt + t_near[:, None] * d
        near = np.flatnonzero(np.hypot(closest[:, 0], closest[:, 1]) <= fp.reach[vv] + ww)
        circle = near[fp.is_circle[vv[near]]]
        polygon = near[~fp.is_circle[vv[near]]]
        c_lo, c_hi = _disc(
            a_pt[circle], d[circle], np.zeros((circle.size, 2)), fp.rho[vv[circle]] + ww[circle]
        )
        c_lo, c_hi = np.maximum(c_lo, 0.0), np.minimum(c_hi, 1.0)
        c_hit = c_lo <= c_hi
        p_rows, p_lo, p_hi = (
            _polygon_intervals(fp, vv[polygon], a_pt[polygon], b_pt[polygon], ww[polygon])
            if polygon.size
            else none
        )
        seg = np.concatenate([circle[c_hit], polygon[p_rows]])
        t1 = np.concatenate([c_lo[c_hit], p_lo])
        t2 = np.concatenate([c_hi[c_hit], p_hi])
        s1 = s[ia[seg]] + t1 * (s[ib[seg]] - s[ia[seg]])
        s2 = s[ia[seg]] + t2 * (s[ib[seg]] - s[ia[seg]])
        pe = e[pair[seg]]
        ua, ub, sa, sb = ent.u_a[pe], ent.u_b[pe], ent.s_a[pe], ent.s_b[pe]
        stop = sb == sa
        rate = (ub - ua) / np.where(stop, 1.0, sb - sa)
        x1, x2 = ua + (s1 - sa) * rate, ua + (s2 - sa) * rate
        u1 = np.where(stop, ua, np.clip(np.minimum(x1, x2), ua, ub))
        u2 = np.where(stop, ub, np.clip(np.maximum(x1, x2), ua, ub))
    return pair[seg], u1, u2


def merge_intervals(group: I64, lo: I64, hi: I64) -> tuple[I64, I64, I64]:
    """Union of closed intervals ``[lo, hi]`` (integers) within each group: the maximal disjoint
    intervals, sorted by group then start (intervals that touch are merged).

    Vectorised: each group's times are shifted to a span of their own on one integer axis, so one
    running maximum over the sorted intervals finds where a new interval begins.
    """
    if group.size == 0:
        return group, lo, hi
    order = np.lexsort((lo, group))
    group, lo, hi = group[order], lo[order], hi[order]
    firsts = np.flatnonzero(np.concatenate([[True], group[1:] != group[:-1]]))
    g_lo = np.minimum.reduceat(lo, firsts)
    g_span = np.maximum.reduceat(hi, firsts) - g_lo + 1
    g_off = np.concatenate([[0], np.cumsum(g_span)[:-1]])
    rank = np.repeat(np.arange(firsts.size), np.diff(np.append(firsts, group.size)))
    ks, ke = g_off[rank] + lo - g_lo[rank], g_off[rank] + hi - g_lo[rank]
    run = np.maximum.accumulate(ke)
    begin = np.flatnonzero(np.concatenate([[True], ks[1:] > run[:-1]]))
    return group[begin], lo[begin], np.maximum.reduceat(ke, begin) - g_off[rank[begin]] + g_lo[rank[begin]]


def track_distances(
    fp: Footprints, v: I64, tracks: list[Track], spans: list[tuple[float, float]], keep_m: F64
) -> F64:
    """Frame distance between footprint ``v[i]`` and the part of ``tracks[i]`` between route
    distances ``spans[i]`` (edges whose both ends lie farther than the footprint's bound +
    ``keep_m[i]`` + 20 km from the footprint's centre cannot be nearest, and are left out; a
    sub-route with nothing left is at ``inf``)."""
    out = np.full(v.shape[0], math.inf)
    xyz, owner = sub_routes(tracks, spans)
    if owner.size == 0:
        return out
    prep = fp.prepared
    vo = v[owner]
    near = (
        np.linalg.norm(xyz - prep.centre_xyz[vo], axis=1) <= prep.bound_m[vo] + keep_m[owner] + _NEAR_SLACK_M
    )
    single = np.bincount(owner, minlength=v.shape[0])[owner] == 1
    nxt = np.minimum(np.arange(1, owner.size + 1), owner.size - 1)
    pair = (owner[nxt] == owner) & (nxt != np.arange(owner.size))
    a = np.flatnonzero((pair & (near | near[nxt])) | (single & near))
    b = np.where(single[a], a, nxt[a])
    if a.size == 0:
        return out
    seg_v = vo[a]
    xy = fp.frames.forward(np.concatenate([xyz[a], xyz[b]]), np.concatenate([seg_v, seg_v]))
    lines = shapely.linestrings(np.stack([xy[: a.size], xy[a.size :]], axis=1))
    np.minimum.at(out, owner[a], fp.distance(seg_v, np.asarray(lines, dtype=object)))
    return out
