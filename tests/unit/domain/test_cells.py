"""S2 coverings: intersecting outlines always share a cell (no false negatives), limits hold."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.domain.cells import CELL_LEVEL, cover_outline, outline_area_km2, to_signed, to_unsigned
from parley.domain.errors import AreaTooLarge, InvalidInput
from parley.domain.geo import Circle, LatLng, Polygon
from tests.strategies import circles, convex_polygons, points

BIG = 1e9


def _cell_of(p: LatLng) -> int:
    import s2geometry as s2

    return to_signed(s2.S2CellId(s2.S2LatLng.FromDegrees(p.lat, p.lng)).parent(CELL_LEVEL).id())


def _offset(p: LatLng, bearing_rad: float, distance_m: float) -> LatLng:
    """Point at ``distance_m`` along ``bearing_rad`` (spherical, adequate for these tests)."""
    r = 6371008.8
    lat1, lng1 = math.radians(p.lat), math.radians(p.lng)
    d = distance_m / r
    lat2 = math.asin(math.sin(lat1) * math.cos(d) + math.cos(lat1) * math.sin(d) * math.cos(bearing_rad))
    lng2 = lng1 + math.atan2(
        math.sin(bearing_rad) * math.sin(d) * math.cos(lat1), math.cos(d) - math.sin(lat1) * math.sin(lat2)
    )
    return LatLng(math.degrees(lat2), (math.degrees(lng2) + 540.0) % 360.0 - 180.0)


@given(circles)
def test_circle_covering_contains_its_centre_and_rim(circle: Circle) -> None:
    cells = cover_outline(circle, max_area_km2=BIG)
    assert _cell_of(circle.center) in cells
    for k in range(8):
        assert _cell_of(_offset(circle.center, k * math.pi / 4, circle.radius_m * 0.999)) in cells


@settings(max_examples=60)
@given(circles, st.floats(0.0, 2 * math.pi), st.floats(0.0, 0.999), st.floats(1.0, 20_000.0))
def test_intersecting_circles_share_a_cell(a: Circle, bearing: float, frac: float, rb: float) -> None:
    # b's centre lies strictly within a.radius + rb of a's centre: the discs overlap
    b = Circle(_offset(a.center, bearing, frac * (a.radius_m + rb)), rb)
    assert not cover_outline(a, max_area_km2=BIG).isdisjoint(cover_outline(b, max_area_km2=BIG))


@settings(max_examples=60)
@given(convex_polygons())
def test_polygon_covering_contains_vertices_and_centroid(polygon: Polygon) -> None:
    cells = cover_outline(polygon, max_area_km2=BIG)
    for v in polygon.vertices:
        assert _cell_of(v) in cells
    lat = sum(v.lat for v in polygon.vertices) / len(polygon.vertices)
    lng = sum(v.lng for v in polygon.vertices) / len(polygon.vertices)
    assert _cell_of(LatLng(lat, lng)) in cells


@given(points)
def test_signed_ids_round_trip(p: LatLng) -> None:
    cell = _cell_of(p)
    assert -(2**63) <= cell < 2**63
    assert to_signed(to_unsigned(cell)) == cell


def test_area_limit_and_simple_polygons() -> None:
    big = Circle(LatLng(0.0, 0.0), 30_000.0)  # ~2,827 km²
    assert outline_area_km2(big) == pytest.approx(math.pi * 900, rel=1e-9)
    with pytest.raises(AreaTooLarge):
        cover_outline(big, max_area_km2=2500.0)
    bowtie = Polygon((LatLng(0, 0), LatLng(0.1, 0.1), LatLng(0.1, 0), LatLng(0, 0.1)))
    with pytest.raises(InvalidInput, match="not simple"):
        cover_outline(bowtie, max_area_km2=BIG)
    # winding order does not matter: the smaller side is meant
    ccw = Polygon((LatLng(0, 0), LatLng(0, 0.1), LatLng(0.1, 0.1), LatLng(0.1, 0)))
    cw = Polygon(tuple(reversed(ccw.vertices)))
    assert cover_outline(ccw, max_area_km2=BIG) == cover_outline(cw, max_area_km2=BIG)
