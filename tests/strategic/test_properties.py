"""Properties of the exact check, anywhere on Earth (poles and antimeridian included):

- the 1 cm rule holds to 0.1 mm for strips, circle segments and lenses of every size, orientation
  and place;
- intersection is symmetric, and the batched check equals pair-by-pair checks;
- volumes that only touch (a shared edge, a boundary altitude, an instant) do not conflict;
- a circle and a polygon enclosing it within 1 cm give the same verdict against any volume that
  is not within the 1 cm band;
- moving a configuration along longitude or mirroring it across the equator (isometries of the
  ellipsoid) changes nothing;
- the quick acceptance tests agree with the exact erosion they stand in for.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from parley.domain.geo import Circle, LatLng, Polygon, Volume4D
from parley.strategic import check
from parley.strategic import intersect as engine
from parley.strategic.earth import geod
from tests.strategic.helpers import Plane, conflicts, op, rect, rotate, vol
from tests.strategic.strategies import angles, convex_xy, depths, longitudes, places, volumes_near

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _pairs(a: list[Volume4D], b: list[Volume4D]) -> set[tuple[int, int]]:
    result = check(op("a", *a), [op("b", *b)])
    return {(o.subject_volume.index, o.other_volume.index) for c in result.conflicts for o in c.overlaps}


# -- the precision rule, everywhere ---------------------------------------------------------------
@SETTINGS
@given(places(), angles, st.floats(1.0, 20_000.0), depths)
def test_strip_overlaps_conflict_beyond_one_centimetre(
    place: tuple[float, float], angle: float, width: float, depth: float
) -> None:
    overlap = min(0.0, width - depth) - max(-width, -depth)  # the strip's width
    assume(abs(overlap - 0.01) > 1e-4)
    plane = Plane(*place)
    a = plane.polygon(rotate(rect(-width, -width / 2, 0.0, width / 2), angle))
    b = plane.polygon(rotate(rect(-depth, -width / 2, width - depth, width / 2), angle))
    assert conflicts(vol(a), vol(b)) is (overlap > 0.01)
    assert conflicts(vol(b), vol(a)) is (overlap > 0.01)


@SETTINGS
@given(places(), angles, st.floats(1.0, 30_000.0), depths)
def test_circle_segments_conflict_beyond_one_centimetre(
    place: tuple[float, float], angle: float, radius: float, depth: float
) -> None:
    plane = Plane(*place)
    rho = plane.radius_in_plane(radius)
    half = 3.0 * math.sqrt(2.0 * rho * max(abs(depth), 0.01)) + 1.0
    edge = rho - depth
    square = plane.polygon(rotate(rect(edge, -half, edge + 2 * half, half), angle))
    circle = Circle(LatLng(*place), radius)
    expected = depth > 0.01 and radius > 0.005
    assert conflicts(vol(circle), vol(square)) is expected
    assert conflicts(vol(square), vol(circle)) is expected


@SETTINGS
@given(places(), st.floats(0.0, 360.0), st.floats(0.5, 50_000.0), st.floats(0.5, 50_000.0), depths)
def test_circle_lenses_conflict_beyond_one_centimetre(
    place: tuple[float, float], azimuth: float, r1: float, r2: float, depth: float
) -> None:
    assume(r1 + r2 - depth > 0.0)
    lng, lat, _ = geod().fwd(place[1], place[0], azimuth, r1 + r2 - depth)
    a, b = Circle(LatLng(*place), r1), Circle(LatLng(float(lat), float(lng)), r2)
    assert conflicts(vol(a), vol(b)) is (depth > 0.01)


# -- symmetry, batching --------------------------------------------------------------------------
@SETTINGS
@given(places(), st.data())
def test_intersection_is_symmetric_and_batching_changes_nothing(
    place: tuple[float, float], data: st.DataObject
) -> None:
    plane = Plane(*place)
    a = data.draw(st.lists(volumes_near(plane), min_size=1, max_size=4))
    b = data.draw(st.lists(volumes_near(plane), min_size=1, max_size=4))
    pairs = _pairs(a, b)
    assert {(j, i) for i, j in _pairs(b, a)} == pairs
    one_by_one = {(i, j) for i, va in enumerate(a) for j, vb in enumerate(b) if conflicts(va, vb)}
    assert one_by_one == pairs


# -- touching ------------------------------------------------------------------------------------
@SETTINGS
@given(places(), convex_xy(), st.data())
def test_polygons_sharing_an_edge_do_not_conflict(
    place: tuple[float, float], xy: list[tuple[float, float]], data: st.DataObject
) -> None:
    plane = Plane(*place)
    a = plane.latlng(xy)
    k = data.draw(st.integers(0, len(xy) - 1))
    (x0, y0), (x1, y1) = xy[k], xy[(k + 1) % len(xy)]
    dx, dy = x1 - x0, y1 - y0
    norm = dx * dx + dy * dy
    reflected = []
    for x, y in xy:  # mirror the polygon across the line of edge k
        t = ((x - x0) * dx + (y - y0) * dy) / norm
        px, py = x0 + t * dx, y0 + t * dy
        reflected.append((2 * px - x, 2 * py - y))
    b = list(plane.latlng(reflected))
    b[k], b[(k + 1) % len(xy)] = a[k], a[(k + 1) % len(xy)]  # the very same edge
    assume(len(set(b)) == len(b))
    assert not conflicts(vol(Polygon(a)), vol(Polygon(tuple(b))))


@SETTINGS
@given(places(), st.data())
def test_volumes_touching_at_an_altitude_or_an_instant_do_not_conflict(
    place: tuple[float, float], data: st.DataObject
) -> None:
    plane = Plane(*place)
    a = data.draw(volumes_near(plane))
    outline = a.volume.outline
    assert outline is not None
    lo, hi = a.volume.altitude_lower_m, a.volume.altitude_upper_m
    if hi is not None:
        assert not conflicts(a, vol(outline, hi, hi + 50.0, a.time_start, a.time_end))
    if lo is not None:
        assert not conflicts(a, vol(outline, lo - 50.0, lo, a.time_start, a.time_end))
    if a.time_end is not None:
        assert not conflicts(a, vol(outline, lo, hi, a.time_end, None))
    if a.time_start is not None:
        assert not conflicts(a, vol(outline, lo, hi, None, a.time_start))


# -- a circle and the polygon around it --------------------------------------------------------------
def _around(centre: LatLng, radius: float) -> Polygon:
    """A polygon whose edges touch the circle from outside, its corners within 1 cm of it."""
    n = math.ceil(math.pi / math.acos(1.0 / (1.0 + 0.0095 / radius)))
    az = np.linspace(0.0, 360.0, n, endpoint=False)
    lng, lat, _ = geod().fwd(
        np.full(n, centre.lng), np.full(n, centre.lat), az, np.full(n, radius / math.cos(math.pi / n))
    )
    return Polygon(tuple(LatLng(float(a), float(o)) for a, o in zip(lat, lng, strict=True)))


@SETTINGS
@given(
    places(),
    st.floats(5.0, 1000.0),
    convex_xy(max_radius_m=400.0),
    angles,
    st.one_of(st.floats(-0.03, 0.03), st.floats(-300.0, 300.0)),
)
def test_a_circle_and_its_enclosing_polygon_agree_away_from_the_band(
    place: tuple[float, float], radius: float, xy: list[tuple[float, float]], direction: float, offset: float
) -> None:
    plane = Plane(*place)
    circle = Circle(LatLng(*place), radius)
    rho = plane.radius_in_plane(radius)
    shape = shapely.Polygon(xy)
    # move the shape so that its nearest point to the centre lies at rho - offset along ``direction``
    ux, uy = math.cos(direction), math.sin(direction)
    support = min(x * ux + y * uy for x, y in xy)
    moved = [(x + (rho - offset - support) * ux, y + (rho - offset - support) * uy) for x, y in xy]
    other = vol(plane.polygon(moved))
    disc = shapely.Point(0.0, 0.0).buffer(rho, quad_segs=4096)  # within 0.001 mm of the circle
    region = shapely.intersection(disc, shapely.Polygon(moved))
    deep = not shapely.buffer(region, -0.0052, quad_segs=32).is_empty
    shallow = shapely.buffer(region, -0.0048, quad_segs=32).is_empty
    apart = shapely.distance(disc, shapely.Polygon(moved)) > 0.0105
    assume(shape.is_valid and (deep or shallow))
    verdict = conflicts(vol(circle), other)
    assert verdict is deep
    if deep or apart:
        assert conflicts(vol(_around(circle.center, radius)), other) is verdict


# -- isometries -------------------------------------------------------------------------------------
def _moved(v: Volume4D, dlng: float, mirror: bool) -> Volume4D:
    def point(p: LatLng) -> LatLng:
        lng = (p.lng + dlng + 180.0) % 360.0 - 180.0
        return LatLng(-p.lat if mirror else p.lat, lng)

    outline = v.volume.outline
    moved: Circle | Polygon
    if isinstance(outline, Circle):
        moved = Circle(point(outline.center), outline.radius_m)
    else:
        assert outline is not None
        moved = Polygon(tuple(point(p) for p in outline.vertices))
    return dataclasses.replace(v, volume=dataclasses.replace(v.volume, outline=moved))


@SETTINGS
@given(places(), longitudes, st.booleans(), st.data())
def test_moving_along_longitude_or_mirroring_changes_nothing(
    place: tuple[float, float], dlng: float, mirror: bool, data: st.DataObject
) -> None:
    plane = Plane(*place)
    a = data.draw(st.lists(volumes_near(plane), min_size=1, max_size=3))
    b = data.draw(st.lists(volumes_near(plane), min_size=1, max_size=3))
    moved_a = [_moved(v, dlng, mirror) for v in a]
    moved_b = [_moved(v, dlng, mirror) for v in b]
    assert _pairs(moved_a, moved_b) == _pairs(a, b)


# -- the quick tests stand for the exact one ----------------------------------------------------------
@SETTINGS
@given(places(), st.data())
def test_quick_acceptance_agrees_with_erosion(place: tuple[float, float], data: st.DataObject) -> None:
    plane = Plane(*place)
    a = data.draw(st.lists(volumes_near(plane), min_size=1, max_size=4))
    b = data.draw(st.lists(volumes_near(plane), min_size=1, max_size=4))
    quick = _pairs(a, b)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "_probes", lambda *args: [])
        assert _pairs(a, b) == quick


@SETTINGS
@given(convex_xy(max_radius_m=50.0), convex_xy(max_radius_m=50.0), st.floats(0.001, 0.05))
def test_area_over_perimeter_bounds_the_inradius(
    xy_a: list[tuple[float, float]], xy_b: list[tuple[float, float]], h: float
) -> None:
    """For a region whose parts are simply connected, inradius >= area / perimeter."""
    region = shapely.intersection(shapely.Polygon(xy_a), shapely.Polygon(xy_b))
    assume(region.area > 0.0)
    if region.area > h * region.length:
        assert not shapely.buffer(region, -h).is_empty
