"""Protected sites and movements: what an aid organisation notifies, as immutable values.

A :class:`ProtectedSite` is a place to keep away from (a hospital, a shelter, a water point...): a
point or a polygon, a protection radius around it, over a time window ``[start, end)``. The protected
area is every point within ``radius_m`` (geodesic distance, metres) of the outline, the polygon's
interior included: a point with a radius is a disc, a polygon with a radius is the polygon buffered by
it (a polygon with radius 0 is the polygon itself).

A :class:`ProtectedMovement` is a convoy on a road: a ``route`` (a polyline whose edges are
geodesics), a corridor ``half_width_m`` either side of it, and a ``schedule`` saying how far along
the route the convoy is expected at given times. Between waypoints the convoy moves at constant speed
along the route (distance is piecewise linear in time); two waypoints at the same distance are a stop;
a distance smaller than the one before is a turn back. The convoy may run early or late by up to
``time_margin_s``: at time ``t`` it may be anywhere the schedule puts it between ``t - margin`` and
``t + margin`` (within the schedule's own span), that is on the part of the route between the least
and the greatest scheduled distance over that interval (:meth:`ProtectedMovement.distance_range`),
widened by the half-width. It is protected where its schedule puts it, not along its whole route
for all time; its window is ``[start - margin, end + margin]``.

**Altitudes.** Sites and movements are on the ground. They are protected from the ground up to a
ceiling: ``ceiling_m`` when the notifier gives one, else ``ground_m`` plus the check's protected
height (default :data:`PROTECTED_HEIGHT_M`, 500 m). A volume whose lower altitude is at or above the
ceiling does not conflict. Both are metres above the WGS84 ellipsoid (F3548's ``W84``, like every
altitude in Parley); ``ground_m`` is the altitude of the ground at the site (for a movement, of the
highest ground along its route). When the ground is not given (``None``) the item is protected at
every altitude, since without the ground no volume can be said to be above it. Volumes below the
ground are not excused: an altitude in the wrong datum is more likely than a tunnel.

Values validate themselves when built (:class:`parley.domain.errors.InvalidInput`, naming the item
and the field): an invalid site or movement cannot exist. The notice body that carries them on the
line is in :mod:`parley.protection.notice`.

>>> from datetime import UTC, datetime
>>> t0 = datetime(2017, 5, 3, 6, tzinfo=UTC)
>>> m = ProtectedMovement(
...     "aid-7", (LatLng(35.0, 40.0), LatLng(35.0, 40.2)), 50.0,
...     (Waypoint(t0, 0.0), Waypoint(t0.replace(hour=7), 18_000.0)),
...     vehicles=12, markings="white trucks", name="food convoy", time_margin_s=0.0)
>>> round(m.length_m)
18258
>>> m.distance_at(t0.replace(minute=30))
9000.0
>>> p = m.position_at(t0.replace(minute=30))
>>> round(p.lat, 4), round(p.lng, 4)
(35.0, 40.0986)
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

import numpy as np
import shapely

from parley.domain.errors import InvalidInput
from parley.domain.geo import LatLng, Polygon
from parley.line.shapes import ALT_RANGE_M
from parley.strategic.earth import ecef_to_geodetic, geod, geodetic_to_ecef
from parley.strategic.frame import Frames

#: Default protected height above the ground, metres.
PROTECTED_HEIGHT_M = 500.0
#: Default time margin of a movement's schedule, seconds.
DEFAULT_TIME_MARGIN_S = 600.0
#: Largest time margin, seconds (a day).
MAX_TIME_MARGIN_S = 86_400.0
#: Largest protection radius or corridor half-width, metres.
MAX_KEEP_AWAY_M = 100_000.0
#: Farthest a site polygon's vertex may lie from the polygon's centre, metres.
MAX_SITE_EXTENT_M = 100_000.0
#: Most vertices of a site polygon or a route.
MAX_VERTICES = 10_000
#: Longest route edge, metres (longer ones are ambiguous near the antipode; add points).
MAX_ROUTE_EDGE_M = 1_000_000.0
#: A schedule distance may exceed the route's geodesic length by this much (metres; a notifier may
#: measure the route differently); it is then taken as the route's end.
ROUTE_LENGTH_TOLERANCE_M = 1.0
#: Longest name, characters.
MAX_NAME = 200
#: Longest markings text, characters.
MAX_MARKINGS = 4_000


class Category(StrEnum):
    """What a protected site is."""

    HOSPITAL = "hospital"
    SHELTER = "shelter"
    SCHOOL = "school"
    WATER = "water"
    AID_STORE = "aid_store"
    MEDICAL_POST = "medical_post"
    CAMP = "camp"
    OTHER = "other"


class ProtectedKind(StrEnum):
    """A site (a place) or a movement (a convoy on a schedule)."""

    SITE = "site"
    MOVEMENT = "movement"


@dataclass(frozen=True, slots=True)
class Waypoint:
    """Where along its route (``distance_m``, metres from the route's first point) a movement is
    scheduled to be at time ``t``."""

    t: datetime
    distance_m: float


# -- checks shared by the values and the notice parser ---------------------------------------------
# Each takes ``where``, the name of the field for the message: "site 'h1'.radius_m" when a value is
# built, "body.protected.radius_m" when a notice is read.


def check_text(value: object, where: str, limit: int, *, empty: bool = False) -> str:
    """A string of at most ``limit`` characters, not blank unless ``empty``."""
    if not isinstance(value, str):
        raise InvalidInput(f"{where}: expected a string")
    if not empty and not value.strip():
        raise InvalidInput(f"{where}: must not be empty")
    if len(value) > limit:
        raise InvalidInput(f"{where}: longer than {limit} characters")
    return value


def check_number(value: object, where: str, lo: float, hi: float, *, lo_open: bool = False) -> float:
    """A finite number in ``[lo, hi]`` (``(lo, hi]`` when ``lo_open``), not a boolean."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{where}: expected a finite number")
    if value < lo or value > hi or (lo_open and value == lo):
        raise InvalidInput(f"{where}: must be within {'(' if lo_open else '['}{lo:g}, {hi:g}], got {value:g}")
    return float(value)


def check_window(start: datetime, end: datetime, where: str) -> None:
    """Both times timezone-aware and ``start < end``."""
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise InvalidInput(f"{where}.{name}: expected a timezone-aware datetime")
    if not start < end:
        raise InvalidInput(f"{where}: start ({start.isoformat()}) is not before end ({end.isoformat()})")


def check_point(p: object, where: str) -> LatLng:
    """A :class:`LatLng` with finite coordinates within WGS84 ranges."""
    if not isinstance(p, LatLng):
        raise InvalidInput(f"{where}: expected a LatLng")
    if not (math.isfinite(p.lat) and math.isfinite(p.lng)):
        raise InvalidInput(f"{where}: latitude and longitude must be finite numbers")
    if not (-90.0 <= p.lat <= 90.0 and -180.0 <= p.lng <= 180.0):
        raise InvalidInput(f"{where}: ({p.lat}, {p.lng}) is outside WGS84 latitude/longitude ranges")
    return p


def check_band(ground_m: float | None, ceiling_m: float | None, where: str) -> None:
    """``ground_m`` and ``ceiling_m`` (W84 metres, or ``None``) within the line's altitude range, a
    ceiling only above a given ground."""
    lo, hi = ALT_RANGE_M
    if ground_m is not None:
        check_number(ground_m, f"{where}.ground_m", lo, hi)
    if ceiling_m is not None:
        check_number(ceiling_m, f"{where}.ceiling_m", lo, hi)
        if ground_m is None:
            raise InvalidInput(f"{where}.ceiling_m: a ceiling needs the ground (ground_m)")
        if not ceiling_m > ground_m:
            raise InvalidInput(f"{where}.ceiling_m: must be above ground_m")


def band_top_m(ground_m: float | None, ceiling_m: float | None, protected_height_m: float) -> float:
    """Top of the protected band, metres W84: the ceiling, else the ground plus the protected
    height, else (ground unknown) ``inf``."""
    if ceiling_m is not None:
        return ceiling_m
    return math.inf if ground_m is None else ground_m + protected_height_m


def check_site_polygon(outline: Polygon, where: str, vertex: Callable[[int], str]) -> None:
    """A simple polygon (3 to :data:`MAX_VERTICES` vertices, none repeating its neighbour, edges
    that neither cross nor touch), all vertices within :data:`MAX_SITE_EXTENT_M` of its centre.

    ``vertex(i)`` names vertex ``i`` for messages. Crossing is decided in the gnomonic frame at the
    vertices' mean, where the geodesic edges are straight (:mod:`parley.strategic.frame`).
    """
    n = len(outline.vertices)
    if not 3 <= n <= MAX_VERTICES:
        raise InvalidInput(f"{where}: a polygon needs 3 to {MAX_VERTICES} vertices, got {n}")
    for i, v in enumerate(outline.vertices):
        check_point(v, vertex(i))
    for i, v in enumerate(outline.vertices):
        if v == outline.vertices[i - 1]:
            raise InvalidInput(f"{vertex(i)}: repeats the previous vertex")
    lat = np.array([v.lat for v in outline.vertices])
    lng = np.array([v.lng for v in outline.vertices])
    xyz = geodetic_to_ecef(lat, lng)
    c_lat, c_lng = ecef_to_geodetic(xyz.mean(axis=0, keepdims=True))
    far = float(np.max(np.linalg.norm(xyz - geodetic_to_ecef(c_lat, c_lng), axis=1)))
    if far > MAX_SITE_EXTENT_M:
        raise InvalidInput(
            f"{where}: a vertex lies {far / 1000:.0f} km from the polygon's centre, beyond "
            f"{MAX_SITE_EXTENT_M / 1000:g} km; notify a large area as several sites"
        )
    frames = Frames.at(c_lat, c_lng)
    ring = shapely.Polygon(frames.forward(xyz, np.zeros(n, dtype=np.intp)))
    if not shapely.is_valid(ring):
        reason = str(shapely.is_valid_reason(ring)).split("[")[0]
        raise InvalidInput(f"{where}: the polygon's edges cross or touch ({reason})")


def route_cumulative_m(
    route: Sequence[LatLng], where: str, vertex: Callable[[int], str]
) -> tuple[float, ...]:
    """Geodesic distance (metres) from the first point to each point of a valid route.

    A route has 2 to :data:`MAX_VERTICES` points, none repeating the one before, edges of at most
    :data:`MAX_ROUTE_EDGE_M`.
    """
    n = len(route)
    if not 2 <= n <= MAX_VERTICES:
        raise InvalidInput(f"{where}: a route needs 2 to {MAX_VERTICES} points, got {n}")
    for i, p in enumerate(route):
        check_point(p, vertex(i))
        if i and p == route[i - 1]:
            raise InvalidInput(f"{vertex(i)}: repeats the previous point")
    lat = np.array([p.lat for p in route])
    lng = np.array([p.lng for p in route])
    _, _, edge = geod().inv(lng[:-1], lat[:-1], lng[1:], lat[1:])
    edge = np.asarray(edge, dtype=np.float64)
    if (long_edges := np.flatnonzero(edge > MAX_ROUTE_EDGE_M)).size:
        i = int(long_edges[0])
        raise InvalidInput(
            f"{vertex(i + 1)}: {edge[i] / 1000:.0f} km from the previous point, beyond "
            f"{MAX_ROUTE_EDGE_M / 1000:g} km; add intermediate points"
        )
    return (0.0, *(float(x) for x in np.cumsum(edge)))


def check_schedule(schedule: Sequence[Waypoint], length_m: float, where: str) -> None:
    """At least two waypoints, times timezone-aware and strictly increasing, distances within
    ``[0, length_m]`` (plus :data:`ROUTE_LENGTH_TOLERANCE_M`)."""
    if len(schedule) < 2:
        raise InvalidInput(f"{where}: a schedule needs at least 2 waypoints, got {len(schedule)}")
    for i, w in enumerate(schedule):
        if not isinstance(w, Waypoint):
            raise InvalidInput(f"{where}[{i}]: expected a Waypoint")
        if not isinstance(w.t, datetime) or w.t.tzinfo is None:
            raise InvalidInput(f"{where}[{i}].t: expected a timezone-aware datetime")
        if i and not w.t > schedule[i - 1].t:
            raise InvalidInput(f"{where}[{i}].t: not after {where}[{i - 1}].t (times must increase)")
        d = check_number(w.distance_m, f"{where}[{i}].distance_m", 0.0, math.inf)
        if d > length_m + ROUTE_LENGTH_TOLERANCE_M:
            raise InvalidInput(
                f"{where}[{i}].distance_m: {d:.1f} m is beyond the route's length ({length_m:.1f} m)"
            )


def check_vehicles(value: object, where: str) -> int:
    """A positive integer (not a boolean)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"{where}: expected a positive integer")
    return value


def check_id(value: object, where: str) -> str:
    """A non-empty id of at most 200 characters."""
    return check_text(value, where, MAX_NAME)


# -- the values --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProtectedSite:
    """A protected place: ``outline`` (a point or a polygon with geodesic edges, WGS84 degrees), the
    protection radius around it (metres; > 0 for a point, >= 0 for a polygon), the window
    ``[start, end)``, the ground's W84 altitude (``None``: unknown, protected at every altitude) and
    the ceiling of the protected band (W84; ``None``: the ground plus the check's protected height)."""

    id: str
    category: Category
    outline: Polygon | LatLng
    radius_m: float
    start: datetime
    end: datetime
    name: str
    ground_m: float | None = None
    ceiling_m: float | None = None

    def __post_init__(self) -> None:
        where = f"site {self.id!r}"
        check_id(self.id, f"{where}.id")
        if not isinstance(self.category, Category):
            raise InvalidInput(f"{where}.category: expected one of {', '.join(Category)}")
        if isinstance(self.outline, Polygon):
            check_site_polygon(self.outline, f"{where}.outline", lambda i: f"{where}.outline.vertices[{i}]")
        else:
            check_point(self.outline, f"{where}.outline")
        check_number(
            self.radius_m, f"{where}.radius_m", 0.0, MAX_KEEP_AWAY_M, lo_open=isinstance(self.outline, LatLng)
        )
        check_window(self.start, self.end, where)
        check_text(self.name, f"{where}.name", MAX_NAME)
        check_band(self.ground_m, self.ceiling_m, where)

    @property
    def kind(self) -> ProtectedKind:
        return ProtectedKind.SITE

    @property
    def keep_away_m(self) -> float:
        """The distance a planner must keep from the outline: the protection radius, metres."""
        return self.radius_m

    def top_m(self, protected_height_m: float = PROTECTED_HEIGHT_M) -> float:
        """Top of the protected band, metres W84 (see :func:`band_top_m`)."""
        return band_top_m(self.ground_m, self.ceiling_m, protected_height_m)


@dataclass(frozen=True, slots=True)
class ProtectedMovement:
    """A protected convoy: its ``route`` (2 or more points, geodesic edges), the corridor's
    half-width (metres, > 0), the ``schedule`` (times strictly increasing, distances anywhere in
    ``[0, length_m]``: stops and turns back allowed), the time margin (seconds, >= 0), what it is
    (vehicles, markings, name), and the ground and ceiling as for a site.

    ``cumulative_m[i]`` is the geodesic distance along the route to ``route[i]`` (computed).
    """

    id: str
    route: tuple[LatLng, ...]
    half_width_m: float
    schedule: tuple[Waypoint, ...]
    vehicles: int
    markings: str
    name: str
    time_margin_s: float = DEFAULT_TIME_MARGIN_S
    ground_m: float | None = None
    ceiling_m: float | None = None
    cumulative_m: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        where = f"movement {self.id!r}"
        check_id(self.id, f"{where}.id")
        if not isinstance(self.route, tuple) or not isinstance(self.schedule, tuple):
            raise InvalidInput(f"{where}: route and schedule must be tuples")
        cumulative = route_cumulative_m(self.route, f"{where}.route", lambda i: f"{where}.route[{i}]")
        check_number(self.half_width_m, f"{where}.half_width_m", 0.0, MAX_KEEP_AWAY_M, lo_open=True)
        check_schedule(self.schedule, cumulative[-1], f"{where}.schedule")
        check_number(self.time_margin_s, f"{where}.time_margin_s", 0.0, MAX_TIME_MARGIN_S)
        check_vehicles(self.vehicles, f"{where}.vehicles")
        check_text(self.markings, f"{where}.markings", MAX_MARKINGS, empty=True)
        check_text(self.name, f"{where}.name", MAX_NAME)
        check_band(self.ground_m, self.ceiling_m, where)
        object.__setattr__(self, "cumulative_m", cumulative)

    @property
    def kind(self) -> ProtectedKind:
        return ProtectedKind.MOVEMENT

    @property
    def keep_away_m(self) -> float:
        """The distance a planner must keep from the convoy's possible positions: the half-width."""
        return self.half_width_m

    def top_m(self, protected_height_m: float = PROTECTED_HEIGHT_M) -> float:
        """Top of the protected band, metres W84 (see :func:`band_top_m`)."""
        return band_top_m(self.ground_m, self.ceiling_m, protected_height_m)

    @property
    def start(self) -> datetime:
        """First scheduled time."""
        return self.schedule[0].t

    @property
    def end(self) -> datetime:
        """Last scheduled time."""
        return self.schedule[-1].t

    @property
    def margin(self) -> timedelta:
        """The time margin as a duration."""
        return timedelta(seconds=self.time_margin_s)

    @property
    def length_m(self) -> float:
        """The route's geodesic length, metres."""
        return self.cumulative_m[-1]

    def distance_at(self, t: datetime) -> float:
        """Scheduled distance along the route at ``t`` (metres; linear between waypoints, clamped to
        the route's length). ``ValueError`` outside ``[start, end]``."""
        times = [w.t for w in self.schedule]
        if not times[0] <= t <= times[-1]:
            raise ValueError(f"{t.isoformat()} is outside the schedule ({self.start} to {self.end})")
        i = min(bisect.bisect_right(times, t) - 1, len(times) - 2)
        a, b = self.schedule[i], self.schedule[i + 1]
        f = (t - a.t) / (b.t - a.t)
        return min(a.distance_m + f * (b.distance_m - a.distance_m), self.length_m)

    def distance_range(self, t: datetime) -> tuple[float, float] | None:
        """Least and greatest route distance (metres) the convoy may be at, at ``t``, when early or
        late by up to the margin: the scheduled distances over ``[t - margin, t + margin]`` within
        ``[start, end]``. ``None`` when that interval is empty (the convoy is not on the road)."""
        lo_t, hi_t = max(t - self.margin, self.start), min(t + self.margin, self.end)
        if lo_t > hi_t:
            return None
        ds = [self.distance_at(lo_t), self.distance_at(hi_t)]
        ds += [min(w.distance_m, self.length_m) for w in self.schedule if lo_t < w.t < hi_t]
        return min(ds), max(ds)

    def point_at(self, distance_m: float) -> LatLng:
        """The route's point ``distance_m`` metres from its start, along the geodesic edges."""
        d = min(max(distance_m, 0.0), self.length_m)
        i = min(bisect.bisect_right(self.cumulative_m, d) - 1, len(self.route) - 2)
        a, b = self.route[i], self.route[i + 1]
        az, _, _ = geod().inv(a.lng, a.lat, b.lng, b.lat)
        lng, lat, _ = geod().fwd(a.lng, a.lat, az, d - self.cumulative_m[i])
        return LatLng(float(lat), float(lng))

    def position_at(self, t: datetime) -> LatLng:
        """Where the schedule puts the convoy at ``t`` (``ValueError`` outside ``[start, end]``)."""
        return self.point_at(self.distance_at(t))

    def sub_route(self, lo_m: float, hi_m: float) -> tuple[LatLng, ...]:
        """The part of the route between two distances: its end points and the vertices between (a
        single point when ``lo_m == hi_m``)."""
        lo, hi = min(lo_m, hi_m), max(lo_m, hi_m)
        inner = [p for p, d in zip(self.route, self.cumulative_m, strict=True) if lo < d < hi]
        if lo == hi:
            return (self.point_at(lo),)
        return (self.point_at(lo), *inner, self.point_at(hi))

    def possible_positions(self, t: datetime) -> tuple[LatLng, ...]:
        """The positions the convoy may occupy at ``t`` within the time margin, as the sub-route
        they lie on (its centre line; the protected corridor is this widened by ``half_width_m``).
        Empty when the convoy is not on the road at ``t``."""
        reach = self.distance_range(t)
        return () if reach is None else self.sub_route(*reach)


Protected = ProtectedSite | ProtectedMovement
