"""Each conflict rule on its own: half-open time windows, altitude bands, footprints at the 1 cm
precision (polygon-polygon, circle-polygon, circle-circle), off-nominal volumes, open bounds."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from parley.domain.geo import Polygon
from parley.strategic import CheckPolicy, VolumeRef, check
from parley.strategic.earth import geod
from tests.strategic.helpers import HOUR, T0, Plane, circle_at, conflicts, op, rect, vol

PLANE = Plane(47.0, 8.0)
SQUARE = PLANE.polygon(rect(0, 0, 100, 100))


def square(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    return PLANE.polygon(rect(x0, y0, x1, y1))


# -- time ---------------------------------------------------------------------------------------
def test_windows_that_share_only_an_instant_do_not_conflict() -> None:
    a = vol(SQUARE, start=T0, end=T0 + HOUR)
    assert not conflicts(a, vol(SQUARE, start=T0 + HOUR, end=T0 + 2 * HOUR))
    assert not conflicts(a, vol(SQUARE, start=T0 - HOUR, end=T0))


def test_windows_overlapping_by_a_microsecond_conflict() -> None:
    a = vol(SQUARE, start=T0, end=T0 + HOUR)
    us = timedelta(microseconds=1)
    assert conflicts(a, vol(SQUARE, start=T0 + HOUR - us, end=T0 + 2 * HOUR))
    assert conflicts(a, vol(SQUARE, start=T0 - HOUR, end=T0 + us))


def test_open_time_bounds_are_unbounded() -> None:
    a = vol(SQUARE, start=None, end=T0)
    assert conflicts(a, vol(SQUARE, start=T0 - timedelta(days=3650), end=T0 - HOUR))
    assert not conflicts(a, vol(SQUARE, start=T0, end=None))
    assert conflicts(vol(SQUARE, start=None, end=None), vol(SQUARE))


# -- altitude -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("lo", "hi", "expected"),
    [
        (120.0, 200.0, False),  # touches the top
        (-50.0, 0.0, False),  # touches the bottom
        (119.995, 200.0, False),  # 5 mm overlap: below the 1 cm precision
        (119.989, 200.0, True),  # 11 mm overlap
        (50.0, 60.0, True),
        (130.0, 200.0, False),
    ],
)
def test_altitude_bands(lo: float, hi: float, expected: bool) -> None:
    assert conflicts(vol(SQUARE, 0.0, 120.0), vol(SQUARE, lo, hi)) is expected


def test_open_altitude_bounds_are_unbounded() -> None:
    assert conflicts(vol(SQUARE, None, 10.0), vol(SQUARE, -5000.0, -4000.0))
    assert conflicts(vol(SQUARE, 100.0, None), vol(SQUARE, 50_000.0, 60_000.0))
    assert not conflicts(vol(SQUARE, None, 10.0), vol(SQUARE, 10.0, None))


# -- polygon footprints -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("overlap_m", "expected"),
    [(-0.005, False), (0.0, False), (0.0099, False), (0.0101, True), (0.05, True), (100.0, True)],
)
def test_polygon_strip_overlap_at_the_precision(overlap_m: float, expected: bool) -> None:
    """Two squares side by side overlapping in a strip ``overlap_m`` wide (negative: a gap)."""
    other = square(100 - overlap_m, 0, 200 - overlap_m, 100)
    assert conflicts(vol(SQUARE), vol(other)) is expected
    assert conflicts(vol(other), vol(SQUARE)) is expected


def test_polygons_sharing_an_edge_or_a_corner_do_not_conflict() -> None:
    a = PLANE.latlng(rect(0, 0, 100, 100))
    right = PLANE.latlng([(100, 0), (200, 0), (200, 100), (100, 100)])
    right = (a[1], right[1], right[2], a[2])  # the very same vertices: a shared geodesic edge
    corner = (a[2], *PLANE.latlng([(200, 100), (200, 200), (100, 200)]))
    assert not conflicts(vol(Polygon(a)), vol(Polygon(right)))
    assert not conflicts(vol(Polygon(a)), vol(Polygon(corner)))


def test_containment_and_identity_conflict() -> None:
    assert conflicts(vol(SQUARE), vol(SQUARE))
    assert conflicts(vol(SQUARE), vol(square(40, 40, 60, 60)))
    assert conflicts(vol(square(40, 40, 60, 60)), vol(SQUARE))


def test_a_thin_sliver_is_not_a_conflict_but_a_fat_one_is() -> None:
    """A spike 6 mm wide where it enters the square, reaching 60 m into it, leaves no room for a
    1 cm disc; 18 mm wide, it does."""
    spike = PLANE.polygon([(-50, 49.996), (60, 49.998), (60, 50.002), (-50, 50.004)])
    assert not conflicts(vol(SQUARE), vol(spike))
    wide = PLANE.polygon([(-50, 49.99), (60, 49.994), (60, 50.006), (-50, 50.01)])
    assert conflicts(vol(SQUARE), vol(wide))


# -- circles -----------------------------------------------------------------------------------
@pytest.mark.parametrize("radius_m", [1.0, 250.0, 30_000.0])
@pytest.mark.parametrize(
    ("depth_m", "expected"), [(-0.01, False), (0.0, False), (0.0099, False), (0.0101, True), (0.5, True)]
)
def test_circle_against_a_polygon_edge(radius_m: float, depth_m: float, expected: bool) -> None:
    """A square whose edge cuts the circle ``depth_m`` deep (the overlap's inscribed disc has that
    diameter)."""
    plane = Plane(-33.9, 151.2)
    rho = plane.radius_in_plane(radius_m)
    half = 3.0 * math.sqrt(2.0 * rho * max(depth_m, 0.01)) + 10.0
    poly = plane.polygon(rect(rho - depth_m, -half, rho - depth_m + 2 * half, half))
    circle = circle_at(-33.9, 151.2, radius_m)
    assert conflicts(vol(circle), vol(poly)) is expected
    assert conflicts(vol(poly), vol(circle)) is expected


def test_circle_inside_a_polygon_and_polygon_inside_a_circle() -> None:
    circle = circle_at(47.0, 8.0, 30.0)
    big = PLANE.polygon(rect(-100, -100, 100, 100))
    assert conflicts(vol(circle), vol(big))
    small = PLANE.polygon(rect(-1, -1, 1, 1))
    assert conflicts(vol(circle_at(47.0, 8.0, 500.0)), vol(small))


@pytest.mark.parametrize(("r1", "r2"), [(1.0, 1.0), (300.0, 50.0), (40_000.0, 25_000.0)])
@pytest.mark.parametrize(
    ("depth_m", "expected"), [(-0.01, False), (0.0, False), (0.0099, False), (0.0101, True), (1.0, True)]
)
def test_circle_against_circle(r1: float, r2: float, depth_m: float, expected: bool) -> None:
    lng, lat, _ = geod().fwd(8.0, 47.0, 63.0, r1 + r2 - depth_m)
    a, b = circle_at(47.0, 8.0, r1), circle_at(float(lat), float(lng), r2)
    assert conflicts(vol(a), vol(b)) is expected
    assert conflicts(vol(b), vol(a)) is expected


def test_concentric_circles_conflict_unless_one_is_under_half_a_centimetre() -> None:
    assert conflicts(vol(circle_at(47.0, 8.0, 100.0)), vol(circle_at(47.0, 8.0, 0.006)))
    assert not conflicts(vol(circle_at(47.0, 8.0, 100.0)), vol(circle_at(47.0, 8.0, 0.004)))


def test_precision_is_a_policy_parameter() -> None:
    other = square(100 - 0.05, 0, 200, 100)  # a 5 cm overlap
    assert conflicts(vol(SQUARE), vol(other))
    assert not conflicts(vol(SQUARE), vol(other), CheckPolicy(precision_m=0.1))
    with pytest.raises(ValueError, match="precision_m"):
        CheckPolicy(precision_m=0.0)


# -- which volumes ------------------------------------------------------------------------------
def test_off_nominal_volumes_are_checked_and_named() -> None:
    far = square(5000, 5000, 5100, 5100)
    subject = op("s", vol(far), vol(SQUARE))
    other = op("o", vol(far, start=T0 + 5 * HOUR, end=T0 + 6 * HOUR))
    other = type(other)("o", other.volumes, off_nominal_volumes=(vol(square(50, 50, 150, 150)),))
    result = check(subject, [other])
    (conflict,) = result.conflicts
    assert [(o.subject_volume, o.other_volume) for o in conflict.overlaps] == [
        (VolumeRef(False, 1), VolumeRef(True, 0))
    ]
    assert str(conflict.overlaps[0].other_volume) == "off_nominal_volumes[0]"


def test_every_conflicting_pair_of_volumes_is_listed() -> None:
    subject = op("s", vol(SQUARE), vol(square(1000, 0, 1100, 100)), vol(square(5000, 0, 5100, 100)))
    other = op(
        "o", vol(square(50, 0, 1050, 100)), vol(square(5050, 50, 5060, 60), start=T0 + 2 * HOUR, end=None)
    )
    (conflict,) = check(subject, [other]).conflicts
    assert [(o.subject_volume.index, o.other_volume.index) for o in conflict.overlaps] == [(0, 0), (1, 0)]


def test_no_others_no_conflicts() -> None:
    result = check(op("s", vol(SQUARE)), [])
    assert result.conflicts == () and result.clear
