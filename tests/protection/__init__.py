"""Tests of protected sites and movements; builders shared by them.

Places are drawn in metres east and north of a point along geodesics (:func:`offset`), so the
tests do not depend on the check's own frames.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from parley.domain.geo import Circle, LatLng, Polygon, Volume3D, Volume4D
from parley.protection import Category, ProtectedMovement, ProtectedSite, Waypoint
from parley.strategic import Operation
from parley.strategic.earth import geod

T0 = datetime(2017, 5, 3, 6, 0, tzinfo=UTC)
#: The demo's desert road runs east from here.
ROAD = LatLng(35.0, 40.0)


def at(minutes: float) -> datetime:
    """``T0`` plus some minutes."""
    return T0 + timedelta(minutes=minutes)


def offset(origin: LatLng, east_m: float, north_m: float) -> LatLng:
    """The point reached from ``origin`` along the geodesic of azimuth atan2(east, north), hypot long."""
    az = math.degrees(math.atan2(east_m, north_m))
    lng, lat, _ = geod().fwd(origin.lng, origin.lat, az, math.hypot(east_m, north_m))
    return LatLng(float(lat), float((lng + 180.0) % 360.0 - 180.0))


def ring(centre: LatLng, radii_m: Sequence[float], start_deg: float = 0.0) -> Polygon:
    """A star-shaped polygon: vertices at the given distances from ``centre``, at equal azimuth steps."""
    n = len(radii_m)
    points = []
    for i, r in enumerate(radii_m):
        lng, lat, _ = geod().fwd(centre.lng, centre.lat, start_deg + 360.0 * i / n, r)
        points.append(LatLng(float(lat), float((lng + 180.0) % 360.0 - 180.0)))
    return Polygon(tuple(points))


def square(centre: LatLng, half_m: float) -> Polygon:
    """A square of side ``2 half_m`` about ``centre`` (corners north-east, south-east, ...)."""
    return ring(centre, [half_m * math.sqrt(2.0)] * 4, 45.0)


def volume(
    outline: Circle | Polygon,
    start: datetime | None = T0,
    end: datetime | None = None,
    lower_m: float | None = 0.0,
    upper_m: float | None = 1_000.0,
) -> Volume4D:
    return Volume4D(Volume3D(outline, lower_m, upper_m), start, at(360) if end is None else end)


def operation(*volumes: Volume4D, off_nominal: Sequence[Volume4D] = ()) -> Operation:
    return Operation("op-1", tuple(volumes), off_nominal_volumes=tuple(off_nominal))


def site(
    outline: LatLng | Polygon,
    radius_m: float,
    start: datetime = T0,
    end: datetime | None = None,
    *,
    id: str = "site-1",
    ground_m: float | None = None,
    ceiling_m: float | None = None,
    category: Category = Category.HOSPITAL,
) -> ProtectedSite:
    return ProtectedSite(
        id,
        category,
        outline,
        radius_m,
        start,
        at(24 * 60) if end is None else end,
        "a hospital",
        ground_m=ground_m,
        ceiling_m=ceiling_m,
    )


def convoy(
    route: Sequence[LatLng],
    schedule: Sequence[tuple[float, float]],
    *,
    half_width_m: float = 100.0,
    margin_s: float = 600.0,
    id: str = "convoy-1",
) -> ProtectedMovement:
    """A movement whose schedule is given as (minutes after T0, metres along the route)."""
    return ProtectedMovement(
        id,
        tuple(route),
        half_width_m,
        tuple(Waypoint(at(m), d) for m, d in schedule),
        vehicles=17,
        markings="white trucks, blue flag",
        name="food and water",
        time_margin_s=margin_s,
    )


def road(length_m: float = 60_000.0, points: int = 4) -> tuple[LatLng, ...]:
    """The demo's road: due east from :data:`ROAD`, ``points`` points."""
    return tuple(offset(ROAD, length_m * i / (points - 1), 0.0) for i in range(points))
