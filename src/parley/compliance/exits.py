"""Exit routes: the quickest way out of a zone for one aircraft, as a proposal for the duty officer.

Given an aircraft's state (position, altitude, track) inside a :class:`~parley.compliance.zone.Zone`
and its :class:`Performance`, :func:`exit_route` returns the flyable route that takes it out of the
buffered zone soonest, at constant ground speed ``v = speed_mps`` (no wind), within its turn rate
``omega`` (turn radius ``r = v / omega``) and climb and descent rates:

- **horizontal** exits, at constant altitude: an arc of radius ``r`` (left or right) from the current
  track, then a straight line (the shortest path of that kind from a pose to a point,
  :func:`turn_then_straight`), towards candidate targets on the outline of the buffered footprint
  pushed ``clear_margin_m`` further out: the first crossing of that outline along every degree of
  bearing from the aircraft, points every ~50 m along the outline (at most 720), the nearest
  outline point and the point straight ahead. Each path counts until it first leaves that outline:
  the route ends there (plus half a metre), so it may end before the target;
- **vertical** exits: straight ahead on the current track while climbing at ``max_climb_mps`` to
  ``clear_margin_m`` above the buffered ceiling (if that is at most ``max_alt_m``), or descending at
  ``max_descent_mps`` to ``clear_margin_m`` below the buffered floor (if that is at least
  ``min_alt_m``).

The route with the earliest time out wins, among those that cross none of the ``avoid`` zones (their
buffered footprints, at altitudes within their buffered bands, when their windows overlap the flight);
if every route crosses one, the fastest is returned with what it crosses. An aircraft outside the zone
gets an empty route, clear now.

Limits: no wind, no terrain (``min_alt_m`` is all the ground there is), no other traffic; the turn is
entered and speeds and rates are reached instantly; a horizontal route holds altitude and a vertical one
holds track; the route ends at the first point outside and does not say where to go next (a
fixed-wing aircraft needs room to turn: the notch of a concave zone may be too narrow to stay in).
Without a track (``track_deg`` is ``None``: a rotorcraft hovering, or unknown) the aircraft is taken
to fly straight towards any target.

>>> from datetime import UTC, datetime, timedelta
>>> from parley.domain.geo import Circle, LatLng, Volume3D, Volume4D
>>> t0 = datetime(2017, 5, 3, 6, tzinfo=UTC)
>>> zone = Zone.from_volume4d(Volume4D(Volume3D(Circle(LatLng(35.0, 36.0), 5_000.0), 0.0, 3_000.0),
...                                    t0, t0 + timedelta(hours=6)))
>>> here = AircraftState("blue-1", t0, 35.0, 36.01, 1_500.0, 40.0, 90.0, 0.0)  # 900 m east, heading east
>>> route = exit_route(zone, here, Performance(), deadline=t0 + timedelta(minutes=30))
>>> route.kind.value, round(route.length_m), route.clear_by_deadline, len(route.waypoints)
('horizontal', 4639, True, 2)
>>> route.eta == route.waypoints[-1].t == t0 + timedelta(seconds=route.length_m / 40.0)
True
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from parley.compliance.affected import AircraftState
from parley.compliance.zone import Zone
from parley.domain.errors import InvalidInput
from parley.line.times import format_time
from parley.strategic.earth import geod

F64 = NDArray[np.float64]

#: How far past the first point outside a route ends, metres (so that it is strictly outside).
NUDGE_M = 0.5
#: Candidate targets: one per this many degrees of bearing from the aircraft.
BEARING_STEP_DEG = 1.0
#: Candidate targets along the outline: about this far apart, metres ...
OUTLINE_STEP_M = 50.0
#: ... and at most this many.
MAX_OUTLINE_TARGETS = 720
#: Arcs are drawn with chords this close to them when paths are compared, metres.
ARC_SAG_M = 1.0
#: The outline exits are sought across is simplified outward to at most this many vertices.
MAX_REGION_VERTICES = 2_000
#: A route's arcs are drawn with a waypoint at least every this many seconds of flight ...
WAYPOINT_MAX_S = 10.0
#: ... and every this many degrees of turn.
WAYPOINT_MAX_TURN_DEG = 5.0
_TWO_PI = 2.0 * math.pi


@dataclass(frozen=True, slots=True)
class Performance:
    """What the aircraft can do on the way out (defaults: a medium-altitude uncrewed aircraft or a
    light crewed one).

    - ``speed_mps``: ground speed flown on the route (40 m/s, about 78 kt);
    - ``max_turn_rate_dps``: turn rate (3 deg/s, the standard rate turn: a full circle in 2 minutes);
    - ``max_climb_mps`` / ``max_descent_mps``: vertical rates (5 m/s, about 1,000 ft/min; 7.5 m/s,
      about 1,500 ft/min);
    - ``min_alt_m`` / ``max_alt_m``: the altitudes it may use, metres above the WGS84 ellipsoid
      (0 m: set it to the terrain plus a safety height where that matters; 7,600 m, about FL250, a
      typical service ceiling of medium-altitude drones).
    """

    speed_mps: float = 40.0
    max_turn_rate_dps: float = 3.0
    max_climb_mps: float = 5.0
    max_descent_mps: float = 7.5
    min_alt_m: float = 0.0
    max_alt_m: float = 7_600.0

    def __post_init__(self) -> None:
        for name in ("speed_mps", "max_turn_rate_dps"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0.0):
                raise InvalidInput(f"performance.{name}: must be a positive number, got {value}")
        for name in ("max_climb_mps", "max_descent_mps"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0.0):
                raise InvalidInput(f"performance.{name}: must be a non-negative number, got {value}")
        if not (math.isfinite(self.min_alt_m) and math.isfinite(self.max_alt_m)):
            raise InvalidInput("performance: min_alt_m and max_alt_m must be finite numbers")
        if self.min_alt_m > self.max_alt_m:
            raise InvalidInput(
                f"performance: min_alt_m ({self.min_alt_m} m) is above max_alt_m ({self.max_alt_m} m)"
            )

    @property
    def turn_radius_m(self) -> float:
        """``r = v / omega``, metres (764 m with the defaults)."""
        return self.speed_mps / math.radians(self.max_turn_rate_dps)


class ExitKind(StrEnum):
    """How a route leaves the zone."""

    HORIZONTAL = "horizontal"
    CLIMB = "climb"
    DESCEND = "descend"
    ALREADY_OUTSIDE = "already_outside"


@dataclass(frozen=True, slots=True)
class Waypoint:
    """A point of a route: WGS84 degrees, metres above the ellipsoid, and when it is reached."""

    lat: float
    lng: float
    alt_m: float
    t: datetime


@dataclass(frozen=True, slots=True)
class ExitRoute:
    """A proposed way out of a zone for one aircraft.

    ``waypoints`` run from the aircraft's position at its state's time to the first point outside
    the buffered zone (arcs drawn every 10 s of flight or 5 degrees of turn at most; straight legs by
    their ends); ``eta``: when it is outside (the last waypoint's time; the state's time when it is
    already outside); ``length_m``: ground distance flown; ``clear_by_deadline``: ``eta <= deadline``;
    ``crosses``: the avoid zones the route crosses (names, or ``avoid[i]``), empty unless no route
    avoids them all.
    """

    operation_id: str
    kind: ExitKind
    waypoints: tuple[Waypoint, ...]
    eta: datetime
    length_m: float
    clear_by_deadline: bool
    crosses: tuple[str, ...] = ()

    def to_geojson(self) -> dict[str, Any]:
        """A GeoJSON ``Feature``: a ``LineString`` of ``[lng, lat, alt_m]`` (``null`` geometry for an
        empty route) with properties ``operation_id``, ``kind``, ``eta``, ``clear_by_deadline``,
        ``length_m``, ``crosses`` and ``times`` (each waypoint's time); times as the line writes them."""
        geometry = (
            {"type": "LineString", "coordinates": [[w.lng, w.lat, w.alt_m] for w in self.waypoints]}
            if self.waypoints
            else None
        )
        return {
            "type": "Feature",
            "geometry": geometry,
            "properties": {
                "operation_id": self.operation_id,
                "kind": self.kind.value,
                "eta": format_time(self.eta),
                "clear_by_deadline": self.clear_by_deadline,
                "length_m": self.length_m,
                "crosses": list(self.crosses),
                "times": [format_time(w.t) for w in self.waypoints],
            },
        }


# -- the geometry of turn-then-straight paths (frame metres, headings radians clockwise from +y) -----
def _right(h: F64 | float) -> tuple[Any, Any]:
    """Unit vector to the right of heading ``h``: ``(cos h, -sin h)``."""
    return np.cos(h), -np.sin(h)


def turn_then_straight(
    x_m: float, y_m: float, heading_rad: float, r_m: float, qx_m: F64, qy_m: F64, direction: int
) -> tuple[F64, F64, NDArray[np.bool_]]:
    """The path from pose ``(x, y, heading)`` to each point ``q`` that turns ``direction`` (+1 right,
    -1 left) on a circle of radius ``r`` through an angle ``phi`` in ``[0, 2 pi)``, then flies
    straight for ``L``: returns ``(phi, L, feasible)``.

    With the turn centre ``c = p + direction r (cos h, -sin h)``, ``w = q - c`` and ``|w| >= r`` (a
    ``q`` inside that circle cannot be reached this way: ``feasible`` is False; it then lies outside
    the other direction's circle, which touches this one at ``p``), the tangent leg has length
    ``L = sqrt(|w|^2 - r^2)`` and heading ``psi = bearing(w) + direction atan2(r, L)``, and
    ``phi = direction (psi - h) mod 2 pi``. Its length is ``r phi + L``; the shorter of the two
    directions is the shortest turn-then-straight path to ``q``.

    >>> phi, length, ok = turn_then_straight(0.0, 0.0, 0.0, 100.0, np.array([100.0]), np.array([100.0]), 1)
    >>> round(math.degrees(float(phi[0])), 6), round(float(length[0]), 6), bool(ok[0])
    (90.0, 0.0, True)
    """
    rx, ry = _right(heading_rad)
    cx, cy = x_m + direction * r_m * rx, y_m + direction * r_m * ry
    wx, wy = qx_m - cx, qy_m - cy
    dist = np.hypot(wx, wy)
    feasible = dist >= r_m * (1.0 - 1e-12)
    length = np.sqrt(np.maximum(dist * dist - r_m * r_m, 0.0))
    psi = np.arctan2(wx, wy) + direction * np.arctan2(r_m, length)
    phi = np.mod(direction * (psi - heading_rad), _TWO_PI)
    phi = np.where(phi > _TWO_PI - 1e-9, 0.0, phi)
    return phi, length, feasible


def pose_along(
    x_m: float, y_m: float, heading_rad: F64 | float, r_m: float, direction: F64, phi: F64, s_m: F64
) -> tuple[F64, F64, F64]:
    """Position and heading at ground distance ``s`` along turn-then-straight paths (arrays broadcast
    together): on the arc (``s <= r phi``) ``c - d r R(h + d s / r)`` with ``R(h) = (cos h, -sin h)``,
    then straight on at heading ``h + d phi``."""
    rx, ry = _right(heading_rad)
    cx, cy = x_m + direction * r_m * rx, y_m + direction * r_m * ry
    arc = r_m * phi
    a = np.minimum(s_m, arc) / r_m if r_m > 0.0 else np.zeros_like(s_m * phi)
    h = heading_rad + direction * a
    hx, hy = _right(h)
    px, py = cx - direction * r_m * hx, cy - direction * r_m * hy
    rest = np.maximum(s_m - arc, 0.0)
    return px + rest * np.sin(h), py + rest * np.cos(h), h


# -- candidates -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Candidate:
    kind: ExitKind
    time_s: float
    heading_rad: float  # the heading the path starts with (for a straight path without track: its own)
    direction: float
    phi: float
    length_m: float  # ground distance to the exit
    alt_end_m: float


def _edges(region: shapely.Geometry) -> F64:
    """The outline of ``region`` as segments, shape ``(m, 4)``: ``x0, y0, x1, y1``."""
    rings = shapely.get_rings(shapely.get_parts(region))
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    same = ring[1:] == ring[:-1]
    return np.concatenate([xy[:-1][same], xy[1:][same]], axis=1)


def _segment_hits(ax: F64, ay: F64, bx: F64, by: F64, edges: F64) -> F64:
    """For each segment ``a -> b``, the smallest ``t`` in ``[0, 1]`` at which ``a + t (b - a)`` meets
    an edge (``inf`` where none does). Rows are processed in chunks of about two million pairs."""
    out = np.full(ax.size, np.inf)
    ex, ey = edges[:, 0][None, :], edges[:, 1][None, :]
    sx, sy = (edges[:, 2] - edges[:, 0])[None, :], (edges[:, 3] - edges[:, 1])[None, :]
    chunk = max(1, 2_000_000 // max(edges.shape[0], 1))
    for i in range(0, ax.size, chunk):
        rows = slice(i, i + chunk)
        px, py = ax[rows, None], ay[rows, None]
        rx, ry = (bx[rows] - ax[rows])[:, None], (by[rows] - ay[rows])[:, None]
        denom = rx * sy - ry * sx
        qx, qy = ex - px, ey - py
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (qx * sy - qy * sx) / denom
            u = (qx * ry - qy * rx) / denom
        hit = (denom != 0.0) & (t >= 0.0) & (t <= 1.0) & (u >= 0.0) & (u <= 1.0)
        out[rows] = np.where(hit, t, np.inf).min(axis=1, initial=np.inf)
    return out


def _targets(region: shapely.Geometry, edges: F64, x0: float, y0: float, far: float) -> tuple[F64, F64]:
    """Candidate points on the outline of ``region`` (which contains ``(x0, y0)``)."""
    bearings = np.radians(np.arange(0.0, 360.0, BEARING_STEP_DEG))
    bx, by = x0 + far * np.sin(bearings), y0 + far * np.cos(bearings)
    t = _segment_hits(np.full(bx.size, x0), np.full(bx.size, y0), bx, by, edges)
    ok = np.isfinite(t)
    tx, ty = x0 + t[ok] * (bx[ok] - x0), y0 + t[ok] * (by[ok] - y0)
    boundary = region.boundary
    count = int(min(MAX_OUTLINE_TARGETS, max(8, math.ceil(boundary.length / OUTLINE_STEP_M))))
    rings = shapely.get_parts(boundary)
    lengths = shapely.length(rings)
    along = np.linspace(0.0, float(lengths.sum()), count, endpoint=False)
    ring_of = np.searchsorted(np.cumsum(lengths), along, side="right").clip(0, rings.size - 1)
    offset = along - np.concatenate([[0.0], np.cumsum(lengths)[:-1]])[ring_of]
    samples = shapely.get_coordinates(shapely.line_interpolate_point(rings[ring_of], offset))
    nearest = shapely.get_coordinates(shapely.shortest_line(shapely.Point(x0, y0), boundary))[-1]
    return (
        np.concatenate([tx, samples[:, 0], [nearest[0]]]),
        np.concatenate([ty, samples[:, 1], [nearest[1]]]),
    )


def _first_exits(
    region: shapely.Geometry,
    edges: F64,
    x0: float,
    y0: float,
    h: F64,
    r: float,
    d: F64,
    phi: F64,
    length: F64,
) -> F64:
    """Ground distance along each turn-then-straight path (arc ``phi``, then ``length`` straight) to
    where it first leaves ``region`` (``inf`` if it does not).

    The arc is drawn with chords within :data:`ARC_SAG_M` of it; the first chord whose end is outside
    (prepared point test) is intersected with the outline; a path whose arc stays inside is followed
    along its straight leg to the first edge it meets.
    """
    step = 2.0 * math.acos(1.0 - min(ARC_SAG_M / r, 1.0)) if r > 0.0 else _TWO_PI
    n = np.ceil(phi / step - 1e-9).astype(np.intp).clip(0) + 1  # arc points 0..n-1 (n >= 1)
    owner = np.repeat(np.arange(phi.size), n)
    first = np.concatenate([[0], np.cumsum(n)[:-1]])
    j = np.arange(owner.size) - first[owner]
    s = r * phi[owner] * j / np.maximum(n[owner] - 1, 1)
    px, py, _ = pose_along(x0, y0, h[owner], r, d[owner], phi[owner], s)
    out_pt = ~shapely.contains_xy(region, px, py)
    big = np.iinfo(np.intp).max
    k = np.minimum.reduceat(np.where(out_pt, j, big), first)  # first arc point outside, per path
    exit_s = np.full(phi.size, np.inf)
    on_arc = np.flatnonzero(k < big)
    if on_arc.size:  # k >= 1: the start is inside
        i1 = first[on_arc] + k[on_arc]
        t = _segment_hits(px[i1 - 1], py[i1 - 1], px[i1], py[i1], edges)
        t = np.where(np.isfinite(t), t, 1.0)
        exit_s[on_arc] = s[i1 - 1] + t * (s[i1] - s[i1 - 1])
    straight = np.flatnonzero(k == big)
    if straight.size:
        last = first[straight] + n[straight] - 1
        ax, ay, hh = px[last], py[last], h[straight] + d[straight] * phi[straight]
        reach = length[straight] + 20.0  # a little past the target
        t = _segment_hits(ax, ay, ax + reach * np.sin(hh), ay + reach * np.cos(hh), edges)
        exit_s[straight] = r * phi[straight] + t * reach
    return exit_s


def _horizontal(
    zone: Zone, region: shapely.Geometry, x0: float, y0: float, heading: float | None, r: float, v: float
) -> list[_Candidate]:
    edges = _edges(region)
    far = float(np.max(np.hypot(edges[:, 0] - x0, edges[:, 1] - y0))) + 100.0
    tx, ty = _targets(region, edges, x0, y0, far)
    rho = math.hypot(x0, y0)
    if zone.radius_m is not None and rho > 0.0:  # a circle's nearest way out: straight away from its centre
        tx, ty = np.append(tx, x0 / rho * far), np.append(ty, y0 / rho * far)
    if heading is None:  # free heading: straight at each target
        h = np.arctan2(tx - x0, ty - y0)
        d = np.zeros_like(tx)
        phi, length = np.zeros_like(tx), np.hypot(tx - x0, ty - y0)
        r = 0.0
    else:
        p_r, l_r, ok_r = turn_then_straight(x0, y0, heading, r, tx, ty, 1)
        p_l, l_l, ok_l = turn_then_straight(x0, y0, heading, r, tx, ty, -1)
        ok = np.concatenate([ok_r, ok_l, [True]])
        phi = np.concatenate([p_r, p_l, [0.0]])[ok]
        length = np.concatenate([l_r, l_l, [far]])[ok]  # the last: straight ahead
        d = np.concatenate([np.ones_like(p_r), -np.ones_like(p_l), [1.0]])[ok]
        h = np.full(phi.size, heading)
    exit_s = _first_exits(region, edges, x0, y0, h, r, d, phi, length) + NUDGE_M
    keep = np.flatnonzero(np.isfinite(exit_s))
    order = keep[np.argsort(exit_s[keep], kind="stable")]
    return [
        _Candidate(ExitKind.HORIZONTAL, e / v, hk, dk, pk, e, math.nan)
        for e, hk, dk, pk in zip(
            exit_s[order].tolist(), h[order].tolist(), d[order].tolist(), phi[order].tolist(), strict=True
        )
    ]


def _vertical(
    zone: Zone, state: AircraftState, perf: Performance, heading: float, clear_m: float
) -> list[_Candidate]:
    out = []
    v = perf.speed_mps
    top = zone.ceiling_m + clear_m + NUDGE_M
    if math.isfinite(top) and top <= perf.max_alt_m and perf.max_climb_mps > 0.0:
        t = (top - state.alt_m) / perf.max_climb_mps
        out.append(_Candidate(ExitKind.CLIMB, t, heading, 1.0, 0.0, v * t, top))
    bottom = zone.floor_m - clear_m - NUDGE_M
    if math.isfinite(bottom) and bottom >= perf.min_alt_m and perf.max_descent_mps > 0.0:
        t = (state.alt_m - bottom) / perf.max_descent_mps
        out.append(_Candidate(ExitKind.DESCEND, t, heading, 1.0, 0.0, v * t, bottom))
    return out


# -- the avoid zones ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Obstacle:
    label: str
    zone: Zone
    shape: shapely.Geometry  # its buffered footprint, in the exit zone's frame


@lru_cache(maxsize=64)
def _moved(zone: Zone, other: Zone) -> shapely.Geometry:
    """``other``'s buffered footprint in ``zone``'s frame (its outline split every kilometre first,
    so that it stays within millimetres of the true one), prepared. Memoised: zones are immutable."""
    dense = shapely.segmentize(other.buffered, 1_000.0)

    def move(xy: F64) -> F64:
        lat, lng = other.frame.inverse(xy[:, 0], xy[:, 1])
        return np.stack(zone.frame.forward(lat, lng), axis=-1)

    shape = shapely.transform(dense, move)
    if not shape.is_valid:
        shape = shapely.make_valid(shape)
    shapely.prepare(shape)
    shapely.intersects(shape, shapely.Point(0.0, 0.0))  # build the lazy indexes now, not in a race
    return shape


@lru_cache(maxsize=64)
def _region(zone: Zone, clear_margin_m: float) -> shapely.Geometry:
    """The zone's buffered footprint widened by ``clear_margin_m`` (see :meth:`Zone.expanded`),
    simplified outward to :data:`MAX_REGION_VERTICES`, prepared. Memoised: one zone, many aircraft."""
    region = zone.expanded(clear_margin_m, max_vertices=MAX_REGION_VERTICES)
    shapely.prepare(region)
    shapely.contains_xy(region, 0.0, 0.0)  # build the lazy indexes now, not in a race
    return region


def _obstacles(zone: Zone, avoid: Sequence[Zone]) -> list[_Obstacle]:
    return [
        _Obstacle(other.name or f"avoid[{i}]", other, _moved(zone, other)) for i, other in enumerate(avoid)
    ]


def _crossed(
    obstacles: Sequence[_Obstacle], xy: F64, alt: F64, t0: datetime, t1: datetime
) -> tuple[str, ...]:
    """Labels of the obstacles a polyline (frame ``xy``, altitudes ``alt`` varying linearly between
    its points) enters while they are in force during ``[t0, t1]``."""
    hit = []
    for ob in obstacles:
        z = ob.zone
        if not (z.start <= t1 and z.end > t0):
            continue
        lo, hi = z.floor_m, z.ceiling_m
        pieces = []
        for k in range(xy.shape[0] - 1):
            a0, a1 = float(alt[k]), float(alt[k + 1])
            if a0 == a1:
                if lo <= a0 <= hi:
                    pieces.append((xy[k], xy[k + 1]))
                continue
            u0, u1 = sorted(((lo - a0) / (a1 - a0), (hi - a0) / (a1 - a0)))
            u0, u1 = max(u0, 0.0), min(u1, 1.0)
            if u0 <= u1:
                pieces.append((xy[k] + u0 * (xy[k + 1] - xy[k]), xy[k] + u1 * (xy[k + 1] - xy[k])))
        if pieces and bool(
            np.any(shapely.intersects(ob.shape, shapely.linestrings(np.array(pieces, dtype=np.float64))))
        ):
            hit.append(ob.label)
    return tuple(hit)


# -- the route ----------------------------------------------------------------------------------------
def _frame_heading(zone: Zone, state: AircraftState, x0: float, y0: float) -> float | None:
    """The state's track as a heading in the zone's frame (meridians converge off the centre)."""
    if state.track_deg is None or not math.isfinite(state.track_deg):
        return None
    lng, lat, _ = geod().fwd(state.lng, state.lat, state.track_deg, 1.0)
    x1, y1 = zone.frame.forward(lat, lng)
    return float(math.atan2(float(x1[0]) - x0, float(y1[0]) - y0))


def _settled(zone: Zone, c: _Candidate, x0: float, y0: float, r: float, v: float) -> _Candidate | None:
    """``c`` with its end moved on along the exact path until it is outside the zone (the chords it
    was found with stray up to :data:`ARC_SAG_M` from the arcs); ``None`` if 64 m do not do."""
    one = np.ones(1)
    for extra in (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0):
        s = c.length_m + extra
        px, py, _ = pose_along(x0, y0, c.heading_rad, r, one * c.direction, one * c.phi, one * s)
        if zone.margin_h_xy(px, py)[0] > 0.0:
            return c if extra == 0.0 else dataclasses.replace(c, time_s=s / v, length_m=s)
    return None


def _altitudes(c: _Candidate, alt_m: float, s: F64) -> F64:
    """Altitudes at ground distances ``s``: level for a horizontal exit, else a steady climb or
    descent to ``alt_end_m`` at ``length_m``."""
    if c.kind is ExitKind.HORIZONTAL:
        return np.full(s.size, alt_m)
    return np.asarray(alt_m + (c.alt_end_m - alt_m) * s / max(c.length_m, 1e-12), dtype=np.float64)


def _samples(c: _Candidate, r: float, v: float, *, max_sag_m: float | None = None) -> F64:
    """Ground distances of a route's waypoints: the arc every 10 s or 5 degrees (or with chords
    within ``max_sag_m`` of it), then the end."""
    arc = min(r * c.phi, c.length_m)
    step = min(WAYPOINT_MAX_S * v, math.radians(WAYPOINT_MAX_TURN_DEG) * r) if r > 0.0 else arc
    if max_sag_m is not None and r > 0.0:
        step = min(step, 2.0 * r * math.acos(1.0 - min(max_sag_m / r, 1.0)))
    n = max(1, math.ceil(arc / step - 1e-9)) if arc > 0.0 else 0
    s = np.linspace(0.0, arc, n + 1) if n else np.array([0.0])
    return s if c.length_m <= arc + 1e-9 else np.append(s, c.length_m)


def exit_route(
    zone: Zone,
    state: AircraftState,
    perf: Performance,
    *,
    deadline: datetime,
    avoid: Sequence[Zone] = (),
    clear_margin_m: float = 50.0,
) -> ExitRoute:
    """The quickest proposed route out of ``zone`` (see the module) from ``state``.

    ``clear_margin_m``: how far beyond the buffered zone (horizontally, or above or below it) the
    route ends, metres; ``avoid``: zones to stay out of on the way.
    """
    if not (math.isfinite(clear_margin_m) and clear_margin_m >= 0.0):
        raise InvalidInput(f"clear_margin_m: must be a non-negative number of metres, got {clear_margin_m}")
    x, y = zone.frame.forward(state.lat, state.lng)
    x0, y0 = float(x[0]), float(y[0])
    inside_h = bool(zone.margin_h_xy(x0, y0)[0] <= 0.0)
    if not (inside_h and zone.margin_v(state.alt_m)[0] <= 0.0):
        return ExitRoute(state.operation_id, ExitKind.ALREADY_OUTSIDE, (), state.t, 0.0, True)
    v, r = perf.speed_mps, perf.turn_radius_m
    heading = _frame_heading(zone, state, x0, y0)
    region = _region(zone, clear_margin_m)
    candidates = _horizontal(zone, region, x0, y0, heading, r, v)
    if heading is None:
        ahead = candidates[0].heading_rad if candidates else 0.0
        vertical = _vertical(zone, state, perf, ahead, clear_margin_m)
    else:
        vertical = _vertical(zone, state, perf, heading, clear_margin_m)
    # the earliest out; within a metre's flight, the smaller turn
    candidates = sorted(candidates + vertical, key=lambda c: (math.floor(c.time_s * v), c.phi))
    obstacles = _obstacles(zone, avoid)
    fallback: tuple[_Candidate, F64, F64, F64, tuple[str, ...]] | None = None
    chosen: tuple[_Candidate, F64, F64, F64, tuple[str, ...]] | None = None
    for candidate in candidates:
        horizontal = candidate.kind is ExitKind.HORIZONTAL
        turn = r if heading is not None and horizontal else 0.0
        c = _settled(zone, candidate, x0, y0, turn, v) if horizontal else candidate
        if c is None:
            continue
        s = _samples(c, turn, v)
        px, py, _ = pose_along(
            x0, y0, c.heading_rad, turn, np.full(s.size, c.direction), np.full(s.size, c.phi), s
        )
        crosses: tuple[str, ...] = ()
        if obstacles:
            fine = _samples(c, turn, v, max_sag_m=ARC_SAG_M)
            fx, fy, _ = pose_along(
                x0, y0, c.heading_rad, turn, np.full(fine.size, c.direction), np.full(fine.size, c.phi), fine
            )
            alt = _altitudes(c, state.alt_m, fine)
            t_exit = state.t + timedelta(seconds=c.time_s)
            crosses = _crossed(obstacles, np.stack([fx, fy], axis=-1), alt, state.t, t_exit)
        if fallback is None:
            fallback = (c, s, px, py, crosses)
        if not crosses:
            chosen = (c, s, px, py, crosses)
            break
    if chosen is None:
        chosen = fallback
    if chosen is None:  # pragma: no cover - the straight-ahead path always leaves a bounded zone
        raise InvalidInput("no exit route found")
    c, s, px, py, crosses = chosen
    lat, lng = zone.frame.inverse(px, py)
    alts = _altitudes(c, state.alt_m, s)
    # flown at ground speed v; a vertical exit reaches its altitude at time_s = length_m / v
    times = [state.t + timedelta(seconds=c.time_s * float(d) / max(c.length_m, 1e-12)) for d in s]
    times[-1] = state.t + timedelta(seconds=c.time_s)
    waypoints = tuple(
        Waypoint(float(a), float(b), float(h), t)
        for a, b, h, t in zip(lat.tolist(), lng.tolist(), alts.tolist(), times, strict=True)
    )
    eta = waypoints[-1].t
    return ExitRoute(
        operation_id=state.operation_id,
        kind=c.kind,
        waypoints=waypoints,
        eta=eta,
        length_m=float(c.length_m),
        clear_by_deadline=eta <= deadline,
        crosses=crosses,
    )
