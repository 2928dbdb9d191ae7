"""Protected items as flat arrays of *entries*, the unit the 4D check works on.

An entry is a piece of a protected item with one time window and one small geometry:

- a **site** is one entry: its point, or its polygon's ring (edges longer than
  :data:`~parley.strategic.prepared.MAX_EDGE_M` split at geodesic points), over ``[start, end)``;
- a **movement** is cut into **pieces**: each schedule leg (from one waypoint to the next, along
  which distance is linear in time) is split into pieces covering at most :data:`PIECE_M` of route
  each. A piece scheduled over ``[u_a, u_b]`` between route distances ``s_a`` and ``s_b`` holds the
  sub-route between them (a single point for a stop) and is live over
  ``[u_a - margin, u_b + margin]``: whenever the convoy may be on that sub-route.

The union of a movement's pieces is exactly the movement's protected zone in 4D: at time ``t`` the
convoy may be at scheduled times ``u`` in ``[t - margin, t + margin]``, each ``u`` lies in some piece,
and the piece's sub-route holds ``s(u)``. So a check may look at pieces alone, and drop pieces whose
window or box misses a volume's, with no false negatives.

Every entry has an ECEF bounding sphere and a geographic box (degrees; see :func:`boxes`) that
contains every point within the entry's keep-away distance of its geometry.

Times are float microseconds since the Unix epoch, as :func:`parley.strategic.prepared.time_us`.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from parley.domain.geo import LatLng
from parley.protection.model import ProtectedMovement, ProtectedSite
from parley.strategic.earth import A_M, ecef_to_geodetic, geod, geodetic_to_ecef
from parley.strategic.prepared import MAX_EDGE_M, time_us

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
Bool = NDArray[np.bool_]

#: Most route distance one piece of a movement covers, metres.
PIECE_M = 10_000.0
#: Smallest meridional radius of curvature of WGS84 (at the equator), metres.
R_MIN_M = 6_335_439.0
#: Added to every box's padding, metres: covers the latitude bulge of geodesic edges of up to
#: MAX_EDGE_M (d^2 tan(lat) / 8R: 22 m at 85 degrees) and rounding.
BOX_SLACK_M = 100.0
#: Boxes reaching this latitude (degrees) span all longitudes.
POLAR_LAT = 85.0
#: Added to bounding spheres, metres (sagitta of MAX_EDGE_M edges, rounding).
BOUND_SLACK_M = 10.0

#: Geometry kinds of an entry.
POINT, RING, LINE = 0, 1, 2


def ragged(counts: I64) -> tuple[I64, I64, I64]:
    """For groups of ``counts`` consecutive elements: each group's start, and each element's group
    and position in its group."""
    counts = np.asarray(counts, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    group = np.repeat(np.arange(counts.shape[0], dtype=np.int64), counts)
    return starts, group, np.arange(group.shape[0], dtype=np.int64) - starts[group]


def densify(lat: F64, lng: F64, counts: I64, *, closed: bool) -> tuple[F64, F64, I64]:
    """Rings (``closed``) or polylines given as flat arrays of ``counts`` vertices each, with every
    edge longer than :data:`MAX_EDGE_M` split into equal parts at points of the geodesic."""
    starts, group, pos = ragged(counts)
    n = lat.shape[0]
    last = pos == counts[group] - 1
    nxt = np.arange(1, n + 1)
    nxt[last] = starts[group[last]] if closed else np.flatnonzero(last)
    az, _, dist = geod().inv(lng, lat, lng[nxt], lat[nxt])
    az, dist = np.asarray(az, dtype=np.float64), np.asarray(dist, dtype=np.float64)
    extra = np.maximum(np.ceil(dist / MAX_EDGE_M).astype(np.int64) - 1, 0)
    if not extra.any():
        return lat, lng, np.asarray(counts, dtype=np.int64)
    out_start = np.cumsum(1 + extra) - (1 + extra)
    total = int(np.sum(1 + extra))
    out_lat, out_lng = np.empty(total), np.empty(total)
    out_lat[out_start], out_lng[out_start] = lat, lng
    _, owner, k = ragged(extra)
    frac = (k + 1) / (extra[owner] + 1)
    p_lng, p_lat, _ = geod().fwd(lng[owner], lat[owner], az[owner], dist[owner] * frac)
    out_lat[out_start[owner] + k + 1] = p_lat
    out_lng[out_start[owner] + k + 1] = p_lng
    return out_lat, out_lng, np.bincount(group, weights=1 + extra, minlength=counts.shape[0]).astype(np.int64)


@dataclass(frozen=True, slots=True, eq=False)
class Track:
    """A movement's route (long edges split) and schedule as arrays.

    ``s_m[i]``: geodesic distance along the route to vertex ``i``; ``az[i]``: azimuth of edge ``i``
    at its start; ``u_us``/``d_m``: the schedule's times and distances (clamped to the length);
    ``*_list``: the same as Python lists, for scalar look-ups.
    """

    lat: F64
    lng: F64
    xyz: F64
    s_m: F64
    az: F64
    u_us: F64
    d_m: F64
    margin_us: float
    s_list: list[float]
    u_list: list[float]
    d_list: list[float]

    @classmethod
    def of(cls, m: ProtectedMovement) -> Track:
        lat0 = np.array([p.lat for p in m.route])
        lng0 = np.array([p.lng for p in m.route])
        lat, lng, _ = densify(lat0, lng0, np.array([lat0.shape[0]]), closed=False)
        az, _, edge = geod().inv(lng[:-1], lat[:-1], lng[1:], lat[1:])
        s = np.concatenate([[0.0], np.cumsum(edge)])
        u = np.array([time_us(w.t, math.nan) for w in m.schedule])
        d = np.minimum(np.array([w.distance_m for w in m.schedule]), s[-1])
        return cls(
            lat=lat,
            lng=lng,
            xyz=geodetic_to_ecef(lat, lng),
            s_m=s,
            az=np.asarray(az, dtype=np.float64),
            u_us=u,
            d_m=d,
            margin_us=float(round(m.time_margin_s * 1e6)),
            s_list=s.tolist(),
            u_list=u.tolist(),
            d_list=d.tolist(),
        )

    def points_at(self, d: F64) -> tuple[F64, F64]:
        """Latitudes and longitudes of the route's points at distances ``d`` (metres)."""
        j = np.clip(np.searchsorted(self.s_m, d, side="right") - 1, 0, self.s_m.shape[0] - 2)
        lng, lat, _ = geod().fwd(self.lng[j], self.lat[j], self.az[j], d - self.s_m[j])
        return np.asarray(lat, dtype=np.float64), np.asarray(lng, dtype=np.float64)

    def reach(self, lo_us: float, hi_us: float) -> tuple[float, float] | None:
        """Least and greatest scheduled distance over ``[lo_us, hi_us]`` within the schedule
        (``None`` when that interval misses the schedule)."""
        u, d = self.u_list, self.d_list
        lo, hi = max(lo_us, u[0]), min(hi_us, u[-1])
        if lo > hi:
            return None

        def at(t: float) -> float:
            i = min(bisect.bisect_right(u, t) - 1, len(u) - 2)
            return d[i] + (t - u[i]) / (u[i + 1] - u[i]) * (d[i + 1] - d[i])

        i0, i1 = bisect.bisect_right(u, lo), bisect.bisect_left(u, hi)
        both = (at(lo), at(hi), *d[i0:i1])
        return min(both), max(both)

    def pieces(self) -> tuple[F64, F64, F64, F64, F64, F64, F64, I64]:
        """The movement's pieces: scheduled times ``u_a, u_b`` and distances ``s_a, s_b`` of each,
        then their sub-routes' vertices as flat arrays (latitudes, longitudes, route distances) and
        the number of vertices of each (1 for a stop)."""
        u, d = self.u_us, self.d_m
        ds = np.diff(d)
        nsub = np.maximum(np.ceil(np.abs(ds) / PIECE_M).astype(np.int64), 1)
        _, seg, k = ragged(nsub)
        f0, f1 = k / nsub[seg], (k + 1) / nsub[seg]
        du = np.diff(u)[seg]
        ua, ub = u[seg] + f0 * du, np.where(k + 1 == nsub[seg], u[seg + 1], u[seg] + f1 * du)
        sa, sb = d[seg] + f0 * ds[seg], np.where(k + 1 == nsub[seg], d[seg + 1], d[seg] + f1 * ds[seg])
        lo, hi = np.minimum(sa, sb), np.maximum(sa, sb)
        moving = hi > lo
        j0 = np.searchsorted(self.s_m, lo, side="right")
        n_in = np.where(moving, np.maximum(np.searchsorted(self.s_m, hi, side="left") - j0, 0), 0)
        counts = 1 + n_in + moving
        starts, _, _ = ragged(counts)
        total = int(counts.sum())
        lat, lng, s = np.empty(total), np.empty(total), np.empty(total)
        end_d = np.concatenate([lo, hi[moving]])
        end_lat, end_lng = self.points_at(end_d)
        at = np.concatenate([starts, (starts + counts - 1)[moving]])
        lat[at], lng[at], s[at] = end_lat, end_lng, end_d
        _, owner, k_in = ragged(n_in)
        src, dst = j0[owner] + k_in, starts[owner] + 1 + k_in
        lat[dst], lng[dst], s[dst] = self.lat[src], self.lng[src], self.s_m[src]
        return ua, ub, sa, sb, lat, lng, s, counts


def sub_routes(tracks: Sequence[Track], spans: Sequence[tuple[float, float]]) -> tuple[F64, I64]:
    """The parts of ``tracks[i]`` between the route distances ``spans[i]`` (``lo <= hi``): their end
    points and the vertices between, in order, as ECEF points, with the index ``i`` of each."""
    e_lng: list[float] = []
    e_lat: list[float] = []
    e_az: list[float] = []
    e_d: list[float] = []
    mids: list[F64] = []
    counts: list[int] = []
    for track, (lo, hi) in zip(tracks, spans, strict=True):
        s, last = track.s_list, len(track.s_list) - 2
        for x in (lo, hi) if hi > lo else (lo,):
            j = min(max(bisect.bisect_right(s, x) - 1, 0), last)
            e_lng.append(track.lng[j])
            e_lat.append(track.lat[j])
            e_az.append(track.az[j])
            e_d.append(x - s[j])
        mid = track.xyz[bisect.bisect_right(s, lo) : bisect.bisect_left(s, hi)] if hi > lo else track.xyz[:0]
        mids.append(mid)
        counts.append(mid.shape[0] + (2 if hi > lo else 1))
    if not counts:
        return np.zeros((0, 3)), np.zeros(0, dtype=np.int64)
    lng, lat, _ = geod().fwd(e_lng, e_lat, e_az, e_d)
    ends = geodetic_to_ecef(np.asarray(lat, dtype=np.float64), np.asarray(lng, dtype=np.float64))
    n = np.array(counts, dtype=np.int64)
    starts, owner, _ = ragged(n)
    two = np.array([m.shape[0] + 2 == c for m, c in zip(mids, counts, strict=True)])
    at_end = np.concatenate([starts, (starts + n - 1)[two]])
    order = np.argsort(np.concatenate([np.arange(n.size) * 2, np.flatnonzero(two) * 2 + 1]), kind="stable")
    xyz = np.empty((int(n.sum()), 3))
    xyz[at_end[order]] = ends
    inner = np.ones(xyz.shape[0], dtype=bool)
    inner[at_end] = False
    xyz[inner] = np.concatenate(mids)
    return xyz, owner


@dataclass(frozen=True, slots=True, eq=False)
class Entries:
    """All entries of a list of protected items, one row each (see the module).

    ``item``: index of the item; ``kind``: :data:`POINT`, :data:`RING` or :data:`LINE`;
    ``t_lo_us``/``t_hi_us``: live window; ``ground_m``/``ceiling_m``: the item's band (NaN: not
    given); ``keep_m``: radius or half-width; ``centre_xyz``/``bound_m``: bounding sphere (chord
    metres); ``off``: vertex ranges into ``lat``/``lng``/``xyz``/``s_m`` (route distance, 0 for
    sites); ``u_a``..``s_b``: a piece's schedule leg (NaN for sites); ``box``: ``(lng_lo, lat_lo,
    lng_hi, lat_hi)`` degrees, longitudes possibly beyond +-180 (see :func:`split_boxes`).
    """

    item: I64
    is_site: Bool
    kind: I64
    t_lo_us: F64
    t_hi_us: F64
    ground_m: F64
    ceiling_m: F64
    keep_m: F64
    centre_xyz: F64
    bound_m: F64
    off: I64
    lat: F64
    lng: F64
    xyz: F64
    s_m: F64
    u_a: F64
    u_b: F64
    s_a: F64
    s_b: F64
    box: F64
    tracks: tuple[Track | None, ...]

    def __len__(self) -> int:
        return int(self.item.shape[0])

    def tops(self, e: I64, protected_height_m: float) -> F64:
        """Top of entries ``e``'s protected band, metres W84 (``inf`` when the ground is unknown)."""
        ground, ceiling = self.ground_m[e], self.ceiling_m[e]
        return np.where(
            np.isnan(ceiling), np.where(np.isnan(ground), np.inf, ground + protected_height_m), ceiling
        )


def boxes(lat: F64, lng: F64, counts: I64, pad_m: F64) -> F64:
    """Geographic boxes ``(lng_lo, lat_lo, lng_hi, lat_hi)`` (degrees) of groups of points, each
    widened by ``pad_m`` plus :data:`BOX_SLACK_M` metres: every point within that distance of a
    group's points (or of geodesic edges between them, up to :data:`MAX_EDGE_M` long) is inside.

    Latitude padding uses the least meridional radius, longitude padding the parallel's radius at
    the box's most polar latitude (``a cos(lat)`` or more), so both are conservative. Longitudes are
    taken relative to each group's first point, so a box across the antimeridian has ``lng_lo <
    -180`` or ``lng_hi > 180``; a box reaching :data:`POLAR_LAT` spans all longitudes.
    """
    starts, group, _ = ragged(counts)
    pad = pad_m + BOX_SLACK_M
    dlat = np.degrees(pad / R_MIN_M)
    lat_lo = np.minimum.reduceat(lat, starts) - dlat
    lat_hi = np.maximum.reduceat(lat, starts) + dlat
    first = lng[starts]
    rel = (lng - first[group] + 180.0) % 360.0 - 180.0
    polar_lat = np.maximum(np.abs(lat_lo), np.abs(lat_hi))
    polar = polar_lat >= POLAR_LAT
    dlng = np.degrees(pad / (A_M * np.cos(np.radians(np.minimum(polar_lat, POLAR_LAT)))))
    lng_lo = np.where(polar, -180.0, first + np.minimum.reduceat(rel, starts) - dlng)
    lng_hi = np.where(polar, 180.0, first + np.maximum.reduceat(rel, starts) + dlng)
    return np.stack(
        [lng_lo, np.clip(lat_lo, -90.0, 90.0), lng_hi, np.clip(lat_hi, -90.0, 90.0)], axis=-1
    ).reshape(-1, 4)


def split_boxes(box: F64) -> tuple[F64, I64]:
    """Boxes cut at the antimeridian into parts within [-180, 180]; returns the parts and, for
    each, the index of the box it came from."""
    lo, hi = box[:, 0], box[:, 2]
    full = hi - lo >= 360.0
    west = ~full & (lo < -180.0)
    east = ~full & (hi > 180.0)
    main = box.copy()
    main[full, 0], main[full, 2] = -180.0, 180.0
    main[west, 0] = -180.0
    main[east, 2] = 180.0
    w, e = np.flatnonzero(west), np.flatnonzero(east)
    extra_w = box[w].copy()
    extra_w[:, 0], extra_w[:, 2] = box[w, 0] + 360.0, 180.0
    extra_e = box[e].copy()
    extra_e[:, 0], extra_e[:, 2] = -180.0, box[e, 2] - 360.0
    owner = np.concatenate([np.arange(box.shape[0]), w, e]).astype(np.int64)
    return np.concatenate([main, extra_w, extra_e]), owner


def bounding_spheres(xyz: F64, counts: I64) -> tuple[F64, F64]:
    """A centre on the ellipsoid (ECEF) and a radius (chord metres) holding each group's points
    and the geodesic edges between them."""
    starts, group, _ = ragged(counts)
    mean = np.add.reduceat(xyz, starts, axis=0) / counts[:, None]
    centre = geodetic_to_ecef(*ecef_to_geodetic(mean))
    far = np.maximum.reduceat(np.linalg.norm(xyz - centre[group], axis=1), starts)
    return centre, far + BOUND_SLACK_M


def build_entries(items: Sequence[ProtectedSite | ProtectedMovement]) -> Entries:
    """The entries of ``items`` (sites first, in order, then every movement's pieces)."""
    sites = [(i, p) for i, p in enumerate(items) if isinstance(p, ProtectedSite)]
    movements = [(i, p) for i, p in enumerate(items) if isinstance(p, ProtectedMovement)]
    outlines = [(p.outline,) if isinstance(p.outline, LatLng) else p.outline.vertices for _, p in sites]
    s_counts = np.array([len(o) for o in outlines], dtype=np.int64)
    s_lat = np.array([v.lat for o in outlines for v in o], dtype=np.float64)
    s_lng = np.array([v.lng for o in outlines for v in o], dtype=np.float64)
    s_lat, s_lng, s_counts = densify(s_lat, s_lng, s_counts, closed=True)
    rows: dict[str, list[F64]] = {name: [] for name in _ROW_FIELDS}

    def add(**cols: NDArray[np.generic]) -> None:
        for name, col in cols.items():
            rows[name].append(np.asarray(col, dtype=np.float64))

    ns = len(sites)
    nan = np.full(ns, np.nan)
    add(
        item=np.array([i for i, _ in sites], dtype=np.float64),
        is_site=np.ones(ns),
        kind=np.where(s_counts == 1, POINT, RING),
        t_lo_us=np.array([time_us(p.start, math.nan) for _, p in sites]),
        t_hi_us=np.array([time_us(p.end, math.nan) for _, p in sites]),
        ground_m=np.array([math.nan if p.ground_m is None else p.ground_m for _, p in sites]),
        ceiling_m=np.array([math.nan if p.ceiling_m is None else p.ceiling_m for _, p in sites]),
        keep_m=np.array([p.keep_away_m for _, p in sites]),
        u_a=nan,
        u_b=nan,
        s_a=nan,
        s_b=nan,
        count=s_counts,
    )
    v_lat, v_lng, v_s = [s_lat], [s_lng], [np.zeros(s_lat.shape[0])]
    tracks: list[Track | None] = [None] * len(items)
    for i, m in movements:
        track = Track.of(m)
        tracks[i] = track
        ua, ub, sa, sb, p_lat, p_lng, p_s, counts = track.pieces()
        n = ua.shape[0]
        add(
            item=np.full(n, i),
            is_site=np.zeros(n),
            kind=np.where(counts == 1, POINT, LINE),
            t_lo_us=ua - track.margin_us,
            t_hi_us=ub + track.margin_us,
            ground_m=np.full(n, math.nan if m.ground_m is None else m.ground_m),
            ceiling_m=np.full(n, math.nan if m.ceiling_m is None else m.ceiling_m),
            keep_m=np.full(n, m.keep_away_m),
            u_a=ua,
            u_b=ub,
            s_a=sa,
            s_b=sb,
            count=counts,
        )
        v_lat.append(p_lat)
        v_lng.append(p_lng)
        v_s.append(p_s)
    col = {name: np.concatenate(parts) if parts else np.zeros(0) for name, parts in rows.items()}
    counts = col["count"].astype(np.int64)
    lat, lng = np.concatenate(v_lat), np.concatenate(v_lng)
    xyz = geodetic_to_ecef(lat, lng)
    if counts.size:
        centre, bound = bounding_spheres(xyz, counts)
        box = boxes(lat, lng, counts, col["keep_m"])
    else:
        centre, bound, box = np.zeros((0, 3)), np.zeros(0), np.zeros((0, 4))
    return Entries(
        item=col["item"].astype(np.int64),
        is_site=col["is_site"].astype(bool),
        kind=col["kind"].astype(np.int64),
        t_lo_us=col["t_lo_us"],
        t_hi_us=col["t_hi_us"],
        ground_m=col["ground_m"],
        ceiling_m=col["ceiling_m"],
        keep_m=col["keep_m"],
        centre_xyz=centre,
        bound_m=bound,
        off=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        lat=lat,
        lng=lng,
        xyz=xyz,
        s_m=np.concatenate(v_s),
        u_a=col["u_a"],
        u_b=col["u_b"],
        s_a=col["s_a"],
        s_b=col["s_b"],
        box=box,
        tracks=tuple(tracks),
    )


_ROW_FIELDS = (
    "item",
    "is_site",
    "kind",
    "t_lo_us",
    "t_hi_us",
    "ground_m",
    "ceiling_m",
    "keep_m",
    "u_a",
    "u_b",
    "s_a",
    "s_b",
    "count",
)
