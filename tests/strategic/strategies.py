"""Hypothesis strategies for the strategic engine's property tests: places anywhere on Earth (the
poles and the antimeridian included), shapes drawn in metres in a local plane, 4D volumes."""

from __future__ import annotations

import math
from datetime import timedelta

from hypothesis import strategies as st

from parley.domain.geo import Circle, LatLng, Polygon, Volume4D
from tests.strategic.helpers import T0, Plane, vol

latitudes = st.floats(min_value=-90.0, max_value=90.0, allow_nan=False)
longitudes = st.floats(min_value=-180.0, max_value=180.0, allow_nan=False)
angles = st.floats(min_value=0.0, max_value=2.0 * math.pi, allow_nan=False)
#: Penetrations around the 1 cm threshold, kept 0.1 mm clear of it (the engine's error is far below).
depths = st.one_of(
    st.floats(min_value=-0.05, max_value=0.0099),
    st.floats(min_value=0.0101, max_value=0.05),
    st.floats(min_value=-50.0, max_value=50.0).filter(lambda d: abs(d - 0.01) > 1e-4),
)


@st.composite
def places(draw: st.DrawFn) -> tuple[float, float]:
    """Anywhere, with extra weight on the poles and the antimeridian."""
    lat = draw(st.one_of(latitudes, st.sampled_from([89.99, -89.99, 90.0, -90.0]), st.floats(-1.0, 1.0)))
    lng = draw(st.one_of(longitudes, st.floats(179.9, 180.0), st.floats(-180.0, -179.9)))
    return lat, lng


@st.composite
def convex_xy(draw: st.DrawFn, *, max_radius_m: float = 2_000.0) -> list[tuple[float, float]]:
    """A convex polygon in plane metres: 3-12 vertices on a circle about a random centre."""
    cx = draw(st.floats(-max_radius_m, max_radius_m))
    cy = draw(st.floats(-max_radius_m, max_radius_m))
    n = draw(st.integers(3, 12))
    radius = draw(st.floats(1.0, max_radius_m))
    turn = draw(angles)
    gaps = draw(st.lists(st.floats(0.3, 1.0), min_size=n, max_size=n))
    total = sum(gaps)
    out, acc = [], turn
    for g in gaps:
        acc += 2.0 * math.pi * g / total
        out.append((cx + radius * math.cos(acc), cy + radius * math.sin(acc)))
    return out


@st.composite
def bands(draw: st.DrawFn) -> tuple[float | None, float | None]:
    lo = draw(st.one_of(st.none(), st.floats(0.0, 200.0)))
    span = draw(st.floats(0.0, 200.0))
    hi = draw(st.one_of(st.none(), st.just((lo or 0.0) + span + 1.0)))
    return lo, hi


@st.composite
def windows(draw: st.DrawFn) -> tuple[object, object]:
    start = T0 + timedelta(minutes=draw(st.integers(0, 120)))
    end = start + timedelta(minutes=draw(st.integers(1, 120)))
    return draw(st.one_of(st.just(start), st.none())), draw(st.one_of(st.just(end), st.none()))


@st.composite
def volumes_near(draw: st.DrawFn, plane: Plane) -> Volume4D:
    """A polygon or circle volume within a few kilometres of ``plane``'s centre."""
    if draw(st.booleans()):
        outline: Circle | Polygon = plane.polygon(draw(convex_xy()))
    else:
        (centre,) = plane.latlng([(draw(st.floats(-2000, 2000)), draw(st.floats(-2000, 2000)))])
        outline = Circle(LatLng(centre.lat, centre.lng), draw(st.floats(0.5, 2000.0)))
    lo, hi = draw(bands())
    start, end = draw(windows())
    return vol(outline, lo, hi, start, end)  # type: ignore[arg-type]
