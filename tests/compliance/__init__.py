"""Tests of verified compliance; shared builders and strategies below."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import shapely
from hypothesis import strategies as st

from parley.compliance.zone import Zone
from parley.domain.geo import Polygon, Volume4D
from parley.line.times import format_time
from parley.strategic.earth import geod

T0 = datetime(2026, 1, 1, 6, tzinfo=UTC)
T1 = T0 + timedelta(hours=6)


def offset(lat: float, lng: float, azimuth_deg: float, distance_m: float) -> tuple[float, float]:
    """The point ``distance_m`` from ``(lat, lng)`` along the geodesic of azimuth ``azimuth_deg``."""
    lng2, lat2, _ = geod().fwd(lng, lat, azimuth_deg, distance_m)
    return float(lat2), float(lng2)


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    return float(geod().inv(lng1, lat1, lng2, lat2)[2])


def ring(lat: float, lng: float, radius_m: float, azimuths: list[float]) -> list[list[float]]:
    """A closed GeoJSON ring (``[lng, lat]``) of points at ``radius_m`` from a centre."""
    points = [offset(lat, lng, a, radius_m) for a in azimuths]
    coords = [[p[1], p[0]] for p in points]
    return [*coords, coords[0]]


def square(lat: float, lng: float, half_m: float) -> list[list[float]]:
    """A closed ring of a square of side about ``2 half_m`` centred on a point, edges N/E/S/W."""
    n = offset(lat, lng, 0.0, half_m)[0]
    s = offset(lat, lng, 180.0, half_m)[0]
    e = offset(lat, lng, 90.0, half_m)[1]
    w = offset(lat, lng, 270.0, half_m)[1]
    return [[w, s], [e, s], [e, n], [w, n], [w, s]]


def feature(
    geometry: dict[str, Any],
    *,
    alt_lower_m: float = 0.0,
    alt_upper_m: float = 3_000.0,
    start: datetime = T0,
    end: datetime = T1,
    radius_m: float | None = None,
) -> dict[str, Any]:
    """A line volume (GeoJSON Feature) with the given geometry."""
    props: dict[str, Any] = {
        "alt_lower_m": alt_lower_m,
        "alt_upper_m": alt_upper_m,
        "start": format_time(start),
        "end": format_time(end),
    }
    if radius_m is not None:
        props["radius_m"] = radius_m
    return {"type": "Feature", "geometry": geometry, "properties": props}


def polygon_feature(rings: list[list[list[float]]], **kw: Any) -> dict[str, Any]:
    return feature({"type": "Polygon", "coordinates": rings}, **kw)


def circle_feature(lat: float, lng: float, radius_m: float, **kw: Any) -> dict[str, Any]:
    return feature({"type": "Point", "coordinates": [lng, lat]}, radius_m=radius_m, **kw)


def in_volume(zone: Zone, v: Volume4D, lat: np.ndarray, lng: np.ndarray) -> np.ndarray:
    """Whether points lie in a polygon volume's footprint (geodesic edges), tested in the zone's frame
    with the edges split every 100 m along the true geodesics."""
    outline = v.volume.outline
    assert isinstance(outline, Polygon)
    vs = outline.vertices
    xy: list[tuple[float, float]] = []
    for a, b in zip(vs, (*vs[1:], vs[0]), strict=True):
        d = distance_m(a.lat, a.lng, b.lat, b.lng)
        n = int(d // 100.0)
        pts = [(a.lng, a.lat), *(geod().npts(a.lng, a.lat, b.lng, b.lat, n) if n else [])]
        x, y = zone.frame.forward([p[1] for p in pts], [p[0] for p in pts])
        xy.extend(zip(x.tolist(), y.tolist(), strict=True))
    poly = shapely.Polygon(xy)
    x, y = zone.frame.forward(lat, lng)
    return np.asarray(shapely.contains_xy(poly, x, y))


# -- strategies ------------------------------------------------------------------------------------
#: Centres near the equator, mid and high latitudes, anywhere in longitude but away from the antimeridian.
places = st.tuples(
    st.sampled_from([0.0, 45.0, 70.0, -45.0]).flatmap(lambda lat: st.floats(lat - 1.0, lat + 1.0)),
    st.floats(-170.0, 170.0),
)


@st.composite
def convex_rings(draw: st.DrawFn, max_radius_m: float = 30_000.0) -> tuple[float, float, list[list[float]]]:
    """A convex polygon's ring: 3-10 vertices at one distance from a centre, at sorted azimuths."""
    lat, lng = draw(places)
    n = draw(st.integers(3, 10))
    radius = draw(st.floats(300.0, max_radius_m))
    rotation = draw(st.floats(0.0, 360.0))
    jitter = draw(st.lists(st.floats(-0.35, 0.35), min_size=n, max_size=n))
    azimuths = [rotation + 360.0 / n * (i + j) for i, j in enumerate(jitter)]
    return lat, lng, ring(lat, lng, radius, azimuths)


@st.composite
def zones(draw: st.DrawFn, max_radius_m: float = 30_000.0) -> Zone:
    """A circle or convex polygon zone with random buffers and band."""
    bh = draw(st.floats(0.0, 2_000.0))
    bv = draw(st.floats(0.0, 300.0))
    lower = draw(st.floats(0.0, 3_000.0))
    upper = lower + draw(st.floats(10.0, 5_000.0))
    if draw(st.booleans()):
        lat, lng = draw(places)
        radius = draw(st.floats(200.0, max_radius_m))
        f = circle_feature(lat, lng, radius, alt_lower_m=lower, alt_upper_m=upper)
    else:
        _, _, r = draw(convex_rings(max_radius_m))
        f = polygon_feature([r], alt_lower_m=lower, alt_upper_m=upper)
    return Zone.from_volume(f, buffer_h_m=bh, buffer_v_m=bv)
