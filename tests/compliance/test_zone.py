"""Zones: buffered containment measured along the ellipsoid, circles, multipolygons and holes, the
altitude band, the signed margin, the window, the outline handed to the strategic engine, and the
refusals."""

from __future__ import annotations

import doctest
import importlib
import math
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from parley.compliance.zone import DEFAULT_BUFFER_H_M, DEFAULT_BUFFER_V_M, MAX_REACH_M, AeqdFrame, Zone
from parley.domain.errors import InvalidInput
from parley.domain.geo import Circle, LatLng, Polygon, Volume3D, Volume4D
from parley.strategic import Operation, OperationKind, prepare
from parley.strategic.earth import geod
from tests.compliance import (
    T0,
    T1,
    circle_feature,
    convex_rings,
    distance_m,
    feature,
    in_volume,
    offset,
    places,
    polygon_feature,
    ring,
    square,
    zones,
)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", ["zone", "affected", "exits"])
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"parley.compliance.{name}")
    assert doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed == 0


# -- the frame ---------------------------------------------------------------------------------------
@SETTINGS
@given(places, st.floats(0.0, 360.0), st.floats(0.0, 400_000.0))
def test_frame_keeps_distance_and_azimuth_from_its_centre(
    place: tuple[float, float], azimuth: float, d: float
) -> None:
    frame = AeqdFrame(*place)
    lat, lng = offset(*place, azimuth, d)
    x, y = frame.forward([lat], [lng])
    assert math.hypot(x[0], y[0]) == pytest.approx(d, abs=1e-6)
    back_lat, back_lng = frame.inverse(x, y)
    assert distance_m(lat, lng, float(back_lat[0]), float(back_lng[0])) < 1e-6


# -- buffered containment, measured along the ellipsoid ----------------------------------------------
def _margin_h(zone: Zone, lat: float, lng: float) -> float:
    x, y = zone.frame.forward([lat], [lng])
    return float(zone.margin_h_xy(x, y)[0])


def _edge_normal_point(
    r: list[list[float]], edge: int, frac: float, d: float, outward: bool, zone: Zone
) -> tuple[float, float]:
    """The point ``d`` metres from a point of a polygon edge, along the geodesic perpendicular to it."""
    (lng1, lat1), (lng2, lat2) = r[edge], r[edge + 1]
    az12, _, length = geod().inv(lng1, lat1, lng2, lat2)
    lng_f, lat_f, az_f = geod().fwd(lng1, lat1, az12, frac * length)
    candidates = [offset(lat_f, lng_f, az_f + 90.0, d), offset(lat_f, lng_f, az_f - 90.0, d)]
    far = max if outward else min
    return far(candidates, key=lambda p: zone.margin_m(p[0], p[1], 1_500.0))


@SETTINGS
@given(convex_rings(), st.data(), st.floats(0.0, 2_000.0))
def test_a_point_within_the_buffer_of_an_edge_is_inside_and_beyond_it_outside(
    shape: tuple[float, float, list[list[float]]], data: st.DataObject, buffer_h: float
) -> None:
    _, _, r = shape
    zone = Zone.from_volume(polygon_feature([r]), buffer_h_m=buffer_h)
    edge = data.draw(st.integers(0, len(r) - 2))
    frac = data.draw(st.floats(0.2, 0.8))
    d = data.draw(st.floats(0.0, 5_000.0))
    assume(abs(d - buffer_h) > 0.05)
    lat, lng = _edge_normal_point(r, edge, frac, d, True, zone)
    # measured along the ellipsoid: the margin is the distance beyond the buffer to a few centimetres
    assert _margin_h(zone, lat, lng) == pytest.approx(d - buffer_h, abs=0.02 + 1e-5 * d)
    assert zone.contains(lat, lng, 1_500.0) is (d < buffer_h)  # 1,500 m: well inside the band
    inner_lat, inner_lng = _edge_normal_point(r, edge, frac, min(d, 50.0), False, zone)
    assert zone.contains(inner_lat, inner_lng, 1_500.0)


@SETTINGS
@given(places, st.floats(1.0, 100_000.0), st.floats(0.0, 5_000.0), st.floats(0.0, 360.0), st.floats(0.0, 1.5))
def test_circles_contain_what_lies_within_radius_plus_buffer(
    place: tuple[float, float], radius: float, buffer_h: float, azimuth: float, k: float
) -> None:
    zone = Zone.from_volume(circle_feature(*place, radius), buffer_h_m=buffer_h)
    rho = k * (radius + buffer_h)
    lat, lng = offset(*place, azimuth, rho)
    assert _margin_h(zone, lat, lng) == pytest.approx(rho - radius - buffer_h, abs=1e-6)
    assume(abs(rho - radius - buffer_h) > 1e-6)
    assert zone.contains(lat, lng, 1_500.0) is (rho < radius + buffer_h)


def test_the_defaults_are_500_m_and_150_m() -> None:
    zone = Zone.from_volume(circle_feature(45.0, 7.0, 1_000.0))
    assert (zone.buffer_h_m, zone.buffer_v_m) == (DEFAULT_BUFFER_H_M, DEFAULT_BUFFER_V_M) == (500.0, 150.0)
    assert zone.contains(*offset(45.0, 7.0, 33.0, 1_499.0), 3_149.0)
    assert not zone.contains(*offset(45.0, 7.0, 33.0, 1_501.0), 3_000.0)
    assert not zone.contains(45.0, 7.0, 3_151.0)
    assert zone.contains(45.0, 7.0, -149.0)
    assert not zone.contains(45.0, 7.0, -151.0)


@pytest.mark.parametrize("lat", [0.0, 45.0, 70.0])
def test_multipolygon_parts_each_count_and_the_gap_between_them_does_not(lat: float) -> None:
    west, east = square(lat, 10.0, 2_000.0), square(*offset(lat, 10.0, 90.0, 10_000.0), 2_000.0)
    zone = Zone.from_volume(feature({"type": "MultiPolygon", "coordinates": [[west], [east]]}))
    assert zone.contains(lat, 10.0, 100.0)
    assert zone.contains(*offset(lat, 10.0, 90.0, 10_000.0), 100.0)
    gap = offset(lat, 10.0, 90.0, 5_000.0)  # 3 km from both squares
    assert not zone.contains(*gap, 100.0)
    assert zone.margin_m(*gap, 100.0) == pytest.approx(3_000.0 - 500.0, abs=1.0)
    # overlapping parts are merged
    both = feature({"type": "MultiPolygon", "coordinates": [[west], [square(lat, 10.01, 2_000.0)]]})
    assert Zone.from_volume(both).contains(lat, 10.005, 10.0)


def test_holes_are_outside_when_wider_than_twice_the_buffer() -> None:
    outer, hole = square(45.0, 7.0, 10_000.0), square(45.0, 7.0, 3_000.0)
    zone = Zone.from_volume(polygon_feature([outer, hole[::-1]]))
    assert not zone.contains(45.0, 7.0, 10.0)
    assert zone.margin_m(45.0, 7.0, 10.0) == pytest.approx(3_000.0 - 500.0, abs=1.0)
    assert zone.contains(*offset(45.0, 7.0, 90.0, 2_600.0), 10.0)


def test_the_altitude_band_and_its_buffer() -> None:
    zone = Zone.from_volume(circle_feature(70.0, 20.0, 5_000.0, alt_lower_m=1_000.0, alt_upper_m=2_000.0))
    for alt, inside, margin in [
        (849.0, False, 1.0),
        (851.0, True, -1.0),
        (1_500.0, True, -650.0),
        (2_149.0, True, -1.0),
        (2_151.0, False, 1.0),
    ]:
        assert zone.contains(70.0, 20.0, alt) is inside
        assert zone.margin_m(70.0, 20.0, alt) == pytest.approx(margin)
    # off a corner, the larger of the two signed distances
    corner = offset(70.0, 20.0, 0.0, 5_500.0 + 30.0)
    assert zone.margin_m(*corner, 2_150.0 + 20.0) == pytest.approx(30.0, abs=1e-3)
    # unbounded bands from a Volume4D without altitudes
    v = Volume4D(Volume3D(Circle(LatLng(70.0, 20.0), 500.0), None, None), T0, T1)
    open_zone = Zone.from_volume4d(v)
    assert open_zone.contains(70.0, 20.0, 99_000.0) and open_zone.contains(70.0, 20.0, -5_000.0)
    assert open_zone.to_volume4d().volume.altitude_upper_m is None


@SETTINGS
@given(
    zones(),
    st.lists(
        st.tuples(st.floats(-1.5, 1.5), st.floats(-1.5, 1.5), st.floats(-1_000, 9_000)),
        min_size=1,
        max_size=30,
    ),
)
def test_the_margin_sign_agrees_with_contains_and_vectorised_equals_scalar(
    zone: Zone, offsets: list[tuple[float, float, float]]
) -> None:
    x0, y0, x1, y1 = zone.buffered.bounds
    cx, cy, hx, hy = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
    xs = np.array([cx + u * hx for u, _, _ in offsets])
    ys = np.array([cy + v * hy for _, v, _ in offsets])
    alts = np.array([a for _, _, a in offsets])
    lat, lng = zone.frame.inverse(xs, ys)
    many = zone.contains_many(lat, lng, alts)
    margins = zone.margin_many(lat, lng, alts)
    for i in range(len(offsets)):
        one = zone.contains(float(lat[i]), float(lng[i]), float(alts[i]))
        assert many[i] == one
        assert margins[i] == zone.margin_m(float(lat[i]), float(lng[i]), float(alts[i]))
        assert one is bool(margins[i] <= 0.0)


def test_active_is_start_inclusive_end_exclusive() -> None:
    zone = Zone.from_volume(circle_feature(0.0, 0.0, 100.0))
    assert zone.start == T0 and zone.end == T1
    assert zone.active(T0) and zone.active(T1 - timedelta(microseconds=1))
    assert not zone.active(T0 - timedelta(microseconds=1)) and not zone.active(T1)


# -- the outline for the strategic engine ------------------------------------------------------------
def _inside_samples(zone: Zone, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Points of the buffered footprint, many close to its edge."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = zone.buffered.bounds
    x, y = rng.uniform(x0, x1, 20 * n), rng.uniform(y0, y1, 20 * n)
    margin = zone.margin_h_xy(x, y)
    keep = np.flatnonzero(margin <= 0.0)
    near = keep[np.argsort(-margin[keep])][: n // 2]  # the closest to the edge
    pick = np.concatenate([near, keep[:n]])
    return zone.frame.inverse(x[pick], y[pick])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(zones(), st.integers(0, 2**32 - 1))
def test_to_volume4d_contains_every_point_the_zone_contains(zone: Zone, seed: int) -> None:
    v = zone.to_volume4d()
    outline = v.volume.outline
    assert isinstance(outline, Polygon) and len(outline.vertices) <= 256
    lat, lng = _inside_samples(zone, 400, seed)
    assert in_volume(zone, v, lat, lng).all()
    assert v.volume.altitude_lower_m == pytest.approx(max(zone.alt_lower_m - zone.buffer_v_m, -8000.0))
    assert v.volume.altitude_upper_m == pytest.approx(zone.alt_upper_m + zone.buffer_v_m)
    assert (v.time_start, v.time_end) == (zone.start, zone.end)
    prepare(Operation("z", (v,), kind=OperationKind.CONSTRAINT))  # the engine accepts it


def test_a_detailed_outline_is_reduced_to_256_vertices_and_still_contains_the_zone() -> None:
    # a star of 2,000 vertices, alternately 20 km and 16 km from the centre
    outer = ring(45.0, 7.0, 20_000.0, [i * 0.18 for i in range(0, 2_000, 2)])[:-1]
    inner = ring(45.0, 7.0, 16_000.0, [i * 0.18 for i in range(1, 2_000, 2)])[:-1]
    star = [p for pair in zip(outer, inner, strict=True) for p in pair]
    zone = Zone.from_volume(polygon_feature([[*star, star[0]]]), buffer_h_m=0.0)
    v = zone.to_volume4d()
    assert isinstance(v.volume.outline, Polygon) and len(v.volume.outline.vertices) <= 256
    lat, lng = _inside_samples(zone, 2_000, 1)
    assert in_volume(zone, v, lat, lng).all()
    assert zone.outline().area < 1.3 * zone.buffered.area  # and not much larger than the zone


def test_a_detailed_concave_outline_keeps_its_notch() -> None:
    # an L of 10 km arms, its edges split every 40 m and jittered by up to 8 m (a "coastline")
    rng = np.random.default_rng(3)
    corners = [
        (0.0, 0.0),
        (10_000.0, 0.0),
        (10_000.0, 3_000.0),
        (3_000.0, 3_000.0),
        (3_000.0, 10_000.0),
        (0.0, 10_000.0),
    ]
    frame = AeqdFrame(45.0, 7.0)
    xy = []
    for (ax, ay), (bx, by) in zip(corners, corners[1:] + corners[:1], strict=True):
        n = int(math.hypot(bx - ax, by - ay) // 40.0)
        for f in np.linspace(0.0, 1.0, n, endpoint=False):
            xy.append((ax + f * (bx - ax) + rng.uniform(-8, 8), ay + f * (by - ay) + rng.uniform(-8, 8)))
    lat, lng = frame.inverse([p[0] for p in xy], [p[1] for p in xy])
    coords = [[b, a] for a, b in zip(lat.tolist(), lng.tolist(), strict=True)]
    zone = Zone.from_volume(polygon_feature([[*coords, coords[0]]]))
    v = zone.to_volume4d()
    assert isinstance(v.volume.outline, Polygon) and len(v.volume.outline.vertices) <= 256
    in_lat, in_lng = _inside_samples(zone, 2_000, 4)
    assert in_volume(zone, v, in_lat, in_lng).all()
    notch_lat, notch_lng = frame.inverse([7_000.0], [7_000.0])  # 3.5 km from the zone, 3 km beyond its buffer
    assert not in_volume(zone, v, notch_lat, notch_lng)[0]
    assert zone.outline().area < 1.05 * zone.buffered.area


def test_multipart_zones_become_their_hull_in_one_volume_and_separate_volumes_for_the_engine() -> None:
    west, east = square(45.0, 7.0, 2_000.0), square(*offset(45.0, 7.0, 90.0, 20_000.0), 2_000.0)
    zone = Zone.from_volume(feature({"type": "MultiPolygon", "coordinates": [[west], [east]]}))
    gap = offset(45.0, 7.0, 90.0, 10_000.0)
    assert in_volume(zone, zone.to_volume4d(), np.array([gap[0]]), np.array([gap[1]]))[0]
    pieces = zone.to_volumes4d()
    assert len(pieces) == 2
    assert not any(in_volume(zone, p, np.array([gap[0]]), np.array([gap[1]]))[0] for p in pieces)


def test_large_zones_are_cut_into_pieces_the_engine_accepts() -> None:
    zone = Zone.from_volume(circle_feature(45.0, 7.0, 180_000.0))
    pieces = zone.to_volumes4d()
    assert len(pieces) > 4
    prepare(Operation("z", pieces, kind=OperationKind.CONSTRAINT))
    lat, lng = _inside_samples(zone, 2_000, 2)
    covered = np.zeros(lat.size, dtype=bool)
    for p in pieces:
        covered |= in_volume(zone, p, lat, lng)
    assert covered.all()
    small = Zone.from_volume(circle_feature(45.0, 7.0, 1_000.0))
    (only,) = small.to_volumes4d()
    assert only.volume.outline == Circle(LatLng(45.0, 7.0), 1_500.0)


# -- refusals ----------------------------------------------------------------------------------------
def test_a_self_intersecting_polygon_is_refused_naming_the_field() -> None:
    a, b = offset(45.0, 7.0, 45.0, 2_000.0), offset(45.0, 7.0, 225.0, 2_000.0)
    c, d = offset(45.0, 7.0, 135.0, 2_000.0), offset(45.0, 7.0, 315.0, 2_000.0)
    bowtie = [[a[1], a[0]], [b[1], b[0]], [c[1], c[0]], [d[1], d[0]], [a[1], a[0]]]
    with pytest.raises(InvalidInput, match=r"volume\.geometry\.coordinates: polygon edges cross"):
        Zone.from_volume(polygon_feature([bowtie]))
    multi = feature({"type": "MultiPolygon", "coordinates": [[square(45.0, 7.0, 1_000.0)], [bowtie]]})
    with pytest.raises(InvalidInput, match=r"volume\.geometry\.coordinates\[1\]: polygon edges cross"):
        Zone.from_volume(multi)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"buffer_h_m": -1.0}, "buffer_h_m"),
        ({"buffer_v_m": math.nan}, "buffer_v_m"),
        ({"buffer_h_m": math.inf}, "buffer_h_m"),
        ({"buffer_v_m": 1e9}, "buffer_v_m"),
    ],
)
def test_bad_buffers_are_refused(kw: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        Zone.from_volume(circle_feature(45.0, 7.0, 100.0), **kw)


def test_malformed_volumes_are_refused_naming_the_field() -> None:
    good = circle_feature(45.0, 7.0, 100.0)
    with pytest.raises(InvalidInput, match=r"volume\.properties\.radius_m"):
        Zone.from_volume({**good, "properties": {**good["properties"], "radius_m": -5}})
    with pytest.raises(InvalidInput, match=r"volume\.properties: alt_lower_m is above alt_upper_m"):
        Zone.from_volume(circle_feature(45.0, 7.0, 100.0, alt_lower_m=10.0, alt_upper_m=5.0))
    with pytest.raises(InvalidInput, match=r"volume\.properties"):
        Zone.from_volume(circle_feature(45.0, 7.0, 100.0, start=T1, end=T0))
    with pytest.raises(InvalidInput, match=r"volume\.geometry\.type"):
        Zone.from_volume(feature({"type": "LineString", "coordinates": [[7.0, 45.0], [7.1, 45.0]]}))
    flat = [[7.0, 45.0], [7.0, 45.1], [7.0, 45.2], [7.0, 45.0]]  # along a meridian: no area
    with pytest.raises(InvalidInput, match=r"volume\.geometry\.coordinates"):
        Zone.from_volume(polygon_feature([flat]))
    with pytest.raises(InvalidInput, match=r"request\.volume\.properties\.radius_m"):
        Zone.from_volume(circle_feature(45.0, 7.0, MAX_REACH_M), where="request.volume")


def test_volume4d_refusals() -> None:
    circle = Volume3D(Circle(LatLng(45.0, 7.0), 100.0), 0.0, 100.0)
    with pytest.raises(InvalidInput, match="time_start and time_end"):
        Zone.from_volume4d(Volume4D(circle, T0, None))
    with pytest.raises(InvalidInput, match="footprint"):
        Zone.from_volume4d(Volume4D(Volume3D(None, 0.0, 1.0), T0, T1))
    with pytest.raises(InvalidInput, match="radius"):
        Zone.from_volume4d(Volume4D(Volume3D(Circle(LatLng(45.0, 7.0), -1.0), 0.0, 1.0), T0, T1))
    sq = Polygon(tuple(LatLng(lat, lng) for lng, lat in square(45.0, 7.0, 1_000.0)[:-1]))
    zone = Zone.from_volume4d(Volume4D(Volume3D(sq, 0.0, 100.0), T0, T1), name="assault")
    assert zone.name == "assault" and zone.contains(45.0, 7.0, 50.0)


def test_mappings_other_than_dicts_are_accepted() -> None:
    from types import MappingProxyType

    f = circle_feature(45.0, 7.0, 100.0)
    frozen = MappingProxyType({**f, "properties": MappingProxyType(f["properties"])})
    assert Zone.from_volume(frozen).contains(45.0, 7.0, 10.0)
