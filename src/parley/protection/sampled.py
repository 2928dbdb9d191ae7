"""A brute-force, sampled reference for :func:`parley.protection.check`, for tests only.

Slow and simple, and independent of the check's frames, tables and interval arithmetic: it samples
times every ``step_s`` seconds and, at each, the positions a convoy may occupy every ``step_m``
metres along its route (the ends of :meth:`ProtectedMovement.distance_range` and the points of a
fixed grid of route distances between them, placed along the geodesic edges with PROJ) or a site polygon's boundary every ``step_m`` metres,
and measures each sample's distance to the footprint:

- to a circle: the geodesic distance to its centre less its radius (PROJ, Karney);
- to a polygon: 0 inside; else the geodesic distance to the nearest point of the polygon found in
  PROJ's own ellipsoidal gnomonic projection about its first vertex (where its geodesic edges are
  straight), which is a point of the footprint, so the distance is never below the true one.

A site polygon is also at distance 0 when a sample of the footprint's boundary lies inside it.
Sampled distances are true distances of sampled points: never below the exact least distance, and
above it by at most about ``step_m / 2`` (plus what sampling time misses).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cache

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import Proj

from parley.domain.geo import Circle, LatLng, Polygon, Volume4D
from parley.protection.check import ProtectionConflict
from parley.protection.model import PROTECTED_HEIGHT_M, ProtectedMovement, ProtectedSite
from parley.strategic.earth import geod
from parley.strategic.model import Operation

F64 = NDArray[np.float64]


@cache
def _plane(lat: float, lng: float) -> Proj:
    return Proj(f"+proj=gnom +lat_0={lat} +lon_0={lng} +ellps=WGS84")


class _Footprint:
    """Distances from points to one volume's footprint (see the module)."""

    def __init__(self, outline: Circle | Polygon, step_m: float) -> None:
        self.outline = outline
        if isinstance(outline, Circle):
            c = outline.center
            az = np.linspace(
                0.0, 360.0, max(16, math.ceil(2 * math.pi * outline.radius_m / step_m)), endpoint=False
            )
            lng, lat, _ = geod().fwd(
                np.full(az.size, c.lng), np.full(az.size, c.lat), az, np.full(az.size, outline.radius_m)
            )
            self.boundary = (np.asarray(lat), np.asarray(lng))
        else:
            first = outline.vertices[0]
            self.proj = _plane(first.lat, first.lng)
            x, y = self.proj([v.lng for v in outline.vertices], [v.lat for v in outline.vertices])
            self.shape = shapely.Polygon(np.stack([np.asarray(x), np.asarray(y)], axis=-1))
            self.boundary = _ring_samples(outline.vertices, step_m)

    def distances(self, lat: F64, lng: F64) -> F64:
        """Distance (metres) from each point to the footprint; 0 inside."""
        if lat.size == 0:
            return np.zeros(0)
        if isinstance(self.outline, Circle):
            c = self.outline.center
            _, _, d = geod().inv(np.full(lat.size, c.lng), np.full(lat.size, c.lat), lng, lat)
            return np.maximum(np.asarray(d) - self.outline.radius_m, 0.0)
        x, y = self.proj(lng, lat)
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        inside = shapely.intersects_xy(self.shape, x, y)
        nearest = shapely.get_coordinates(shapely.shortest_line(self.shape.exterior, shapely.points(x, y)))[
            ::2
        ]
        n_lng, n_lat = self.proj(nearest[:, 0], nearest[:, 1], inverse=True)
        _, _, d = geod().inv(np.asarray(n_lng), np.asarray(n_lat), lng, lat)
        return np.where(inside, 0.0, np.asarray(d))


def _ring_samples(vertices: Sequence[LatLng], step_m: float, *, closed: bool = True) -> tuple[F64, F64]:
    """Vertices and points every ``step_m`` or less along the geodesic edges."""
    lat: list[float] = []
    lng: list[float] = []
    n = len(vertices)
    for i in range(n if closed else n - 1):
        a, b = vertices[i], vertices[(i + 1) % n]
        _, _, d = geod().inv(a.lng, a.lat, b.lng, b.lat)
        lat.append(a.lat)
        lng.append(a.lng)
        for p_lng, p_lat in geod().npts(a.lng, a.lat, b.lng, b.lat, max(0, math.ceil(d / step_m) - 1)):
            lat.append(p_lat)
            lng.append(p_lng)
    if not closed:
        lat.append(vertices[-1].lat)
        lng.append(vertices[-1].lng)
    return np.array(lat), np.array(lng)


def _inside_site(site: Polygon, lat: F64, lng: F64) -> bool:
    first = site.vertices[0]
    proj = _plane(first.lat, first.lng)
    x, y = proj([v.lng for v in site.vertices], [v.lat for v in site.vertices])
    shape = shapely.Polygon(np.stack([np.asarray(x), np.asarray(y)], axis=-1))
    px, py = proj(lng, lat)
    return bool(np.any(shapely.intersects_xy(shape, np.asarray(px), np.asarray(py))))


def sampled_distances(
    volume: Volume4D,
    item: ProtectedSite | ProtectedMovement,
    times: Sequence[datetime],
    *,
    step_m: float = 25.0,
) -> F64:
    """Least sampled distance (metres) between the volume's footprint and what the item protects at
    each of ``times`` (``inf`` where the item is not live then: a site outside ``[start, end]``, a
    convoy that cannot be on the road). The volume's own window and altitudes are not looked at."""
    outline = volume.volume.outline
    if outline is None:
        raise ValueError("a volume without a footprint")
    fp = _Footprint(outline, step_m)
    out = np.full(len(times), math.inf)
    if isinstance(item, ProtectedSite):
        if isinstance(item.outline, LatLng):
            d = float(fp.distances(np.array([item.outline.lat]), np.array([item.outline.lng]))[0])
        else:
            lat, lng = _ring_samples(item.outline.vertices, step_m)
            d = 0.0 if _inside_site(item.outline, *fp.boundary) else float(fp.distances(lat, lng).min())
        for i, t in enumerate(times):
            if item.start <= t <= item.end:
                out[i] = d
        return out
    grid = np.arange(0.0, item.length_m, step_m)
    grid_d = fp.distances(*_route_points(item, grid))
    reaches = [(i, item.distance_range(t)) for i, t in enumerate(times)]
    live = [(i, r) for i, r in reaches if r is not None]
    if not live:
        return out
    lo = np.array([r[0] for _, r in live])
    hi = np.array([r[1] for _, r in live])
    end_d = fp.distances(*_route_points(item, np.concatenate([lo, hi]))).reshape(2, -1).min(axis=0)
    for k, (i, _) in enumerate(live):
        between = grid_d[(grid > lo[k]) & (grid < hi[k])]
        out[i] = min(float(end_d[k]), float(between.min()) if between.size else math.inf)
    return out


def _route_points(item: ProtectedMovement, distances: F64) -> tuple[F64, F64]:
    """Latitudes and longitudes of the route's points at ``distances`` (metres) along its geodesic
    edges."""
    lat = np.array([p.lat for p in item.route])
    lng = np.array([p.lng for p in item.route])
    az, _, _ = geod().inv(lng[:-1], lat[:-1], lng[1:], lat[1:])
    cumulative = np.array(item.cumulative_m)
    d = np.clip(distances, 0.0, cumulative[-1])
    j = np.clip(np.searchsorted(cumulative, d, side="right") - 1, 0, lat.size - 2)
    p_lng, p_lat, _ = geod().fwd(lng[j], lat[j], np.asarray(az)[j], d - cumulative[j])
    return np.asarray(p_lat, dtype=np.float64), np.asarray(p_lng, dtype=np.float64)


def check_sampled(
    operation: Operation,
    protected: Sequence[ProtectedSite | ProtectedMovement],
    *,
    step_s: float = 30.0,
    step_m: float = 25.0,
    protected_height_m: float = PROTECTED_HEIGHT_M,
) -> list[ProtectionConflict]:
    """Conflicts found by sampling (see the module): for each volume and item that meet in
    altitude, times every ``step_s`` over the overlap of their windows (both ends included), and
    one conflict per run of consecutive times at which the sampled distance is within the item's
    keep-away distance (``start``/``end``: the run's first and last sample)."""
    out: list[ProtectionConflict] = []
    for ref in operation.refs():
        volume = operation.volume(ref)
        lower = volume.volume.altitude_lower_m
        for item in protected:
            if lower is not None and lower >= item.top_m(protected_height_m):
                continue
            margin = item.margin if isinstance(item, ProtectedMovement) else timedelta(0)
            lo, hi = item.start - margin, item.end + margin
            if volume.time_start is not None:
                lo = max(lo, volume.time_start)
            if volume.time_end is not None:
                hi = min(hi, volume.time_end)
            if not lo < hi:
                continue
            n = math.ceil((hi - lo).total_seconds() / step_s)
            times = [lo + (hi - lo) * (i / n) for i in range(n + 1)]
            d = sampled_distances(volume, item, times, step_m=step_m)
            hit = d <= item.keep_away_m
            i = 0
            while i < len(times):
                if not hit[i]:
                    i += 1
                    continue
                j = i
                while j + 1 < len(times) and hit[j + 1]:
                    j += 1
                out.append(
                    ProtectionConflict(
                        volume=ref,
                        protected_id=item.id,
                        kind=item.kind,
                        category=item.category if isinstance(item, ProtectedSite) else None,
                        name=item.name,
                        start=times[i],
                        end=times[j],
                        least_distance_m=float(d[i : j + 1].min()),
                        keep_away_m=item.keep_away_m,
                    )
                )
                i = j + 1
    out.sort(key=lambda c: (c.volume, c.start, c.protected_id))
    return out
