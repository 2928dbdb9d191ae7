"""Hypothesis strategies shared by the property tests."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from parley.domain.extent import Extent4D
from parley.domain.geo import Circle, LatLng, Polygon

T0 = datetime(2026, 1, 1, tzinfo=UTC)

latitudes = st.floats(min_value=-80.0, max_value=80.0, allow_nan=False)
longitudes = st.floats(min_value=-179.0, max_value=179.0, allow_nan=False)
points = st.builds(LatLng, latitudes, longitudes)
radii_m = st.floats(min_value=1.0, max_value=20_000.0, allow_nan=False)
circles = st.builds(Circle, points, radii_m)


@st.composite
def convex_polygons(draw: st.DrawFn, max_radius_m: float = 20_000.0) -> Polygon:
    """A convex polygon: 3-12 vertices on a circle around a centre, jittered around a regular one."""
    center = draw(points)
    n = draw(st.integers(min_value=3, max_value=12))
    radius_m = draw(st.floats(min_value=50.0, max_value=max_radius_m))
    rotation = draw(st.floats(0.0, 2 * math.pi))
    jitter = draw(st.lists(st.floats(-0.4, 0.4), min_size=n, max_size=n))
    deg_lat = radius_m / 111_320.0
    deg_lng = deg_lat / max(math.cos(math.radians(center.lat)), 1e-6)
    angles = [rotation + (2 * math.pi / n) * (i + j) for i, j in enumerate(jitter)]
    return Polygon(
        tuple(LatLng(center.lat + deg_lat * math.sin(a), center.lng + deg_lng * math.cos(a)) for a in angles)
    )


def times(max_hours: int = 48) -> st.SearchStrategy[datetime]:
    return st.integers(min_value=0, max_value=max_hours * 60).map(lambda m: T0 + timedelta(minutes=m))


@st.composite
def extents(draw: st.DrawFn, *, open_bounds: bool = True) -> Extent4D:
    """Small random extents over a handful of cells, with optional open bounds."""
    cells = frozenset(draw(st.sets(st.integers(min_value=-5, max_value=5), min_size=1, max_size=4)))
    lo = draw(st.floats(min_value=0.0, max_value=500.0))
    hi = lo + draw(st.floats(min_value=0.0, max_value=500.0))
    start = draw(times())
    end = start + timedelta(minutes=draw(st.integers(min_value=0, max_value=600)))
    maybe = (lambda v: draw(st.sampled_from([v, None]))) if open_bounds else (lambda v: v)
    return Extent4D(cells, maybe(lo), maybe(hi), maybe(start), maybe(end))
