"""What a conflict report says: which volumes, the altitude band and time window of the overlap,
and the footprint overlap as RFC 7946 GeoJSON, also across the antimeridian and around a pole."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pytest

from parley.strategic import VolumeRef, check
from parley.strategic.earth import geod
from tests.strategic.helpers import HOUR, T0, Plane, circle_at, op, rect, vol


def _area_m2(shape: dict) -> float:  # type: ignore[type-arg]
    """Geodesic area of a GeoJSON Polygon or MultiPolygon (holes subtracted)."""
    polygons = [shape["coordinates"]] if shape["type"] == "Polygon" else shape["coordinates"]
    total = 0.0
    for rings in polygons:
        for k, ring in enumerate(rings):
            lng, lat = np.array(ring)[:-1].T
            area, _ = geod().polygon_area_perimeter(lng, lat)
            total += abs(area) * (1 if k == 0 else -1)
    return total


def _ccw(ring: list[list[float]]) -> bool:
    xy = np.array(ring)
    x, y = xy[:, 0] - xy[0, 0], xy[:, 1] - xy[0, 1]
    return float(np.sum(x[:-1] * y[1:] - x[1:] * y[:-1])) > 0.0


def _only_overlap(a: object, b: object):  # type: ignore[no-untyped-def]
    (conflict,) = check(op("a", a), [op("b", b)]).conflicts  # type: ignore[arg-type]
    (overlap,) = conflict.overlaps
    return overlap


def test_overlap_band_window_and_footprint() -> None:
    plane = Plane(47.0, 8.0)
    a = vol(plane.polygon(rect(0, 0, 100, 100)), 0.0, 120.0, T0, T0 + 2 * HOUR)
    b = vol(plane.polygon(rect(50, 0, 150, 100)), 60.0, 300.0, T0 + HOUR, T0 + 3 * HOUR)
    overlap = _only_overlap(a, b)
    assert (overlap.subject_volume, overlap.other_volume) == (VolumeRef(False, 0), VolumeRef(False, 0))
    assert (overlap.altitude_lower_m, overlap.altitude_upper_m) == (60.0, 120.0)
    assert (overlap.time_start, overlap.time_end) == (T0 + HOUR, T0 + 2 * HOUR)
    shape = overlap.footprint
    assert shape["type"] == "Polygon"
    ring = shape["coordinates"][0]
    assert ring[0] == ring[-1] and _ccw(ring)
    assert all(7.99 < lng < 8.01 and 46.99 < lat < 47.01 for lng, lat in ring)
    assert _area_m2(shape) == pytest.approx(5000.0, rel=1e-6)
    json.dumps(shape)  # plain JSON types


def test_open_bounds_are_reported_as_none() -> None:
    plane = Plane(47.0, 8.0)
    a = vol(plane.polygon(rect(0, 0, 100, 100)), None, None, None, None)
    overlap = _only_overlap(a, a)
    assert (overlap.altitude_lower_m, overlap.altitude_upper_m, overlap.time_start, overlap.time_end) == (
        None,
        None,
        None,
        None,
    )


def test_circle_overlaps_are_drawn_within_the_precision() -> None:
    circle = circle_at(10.0, 20.0, 200.0)
    plane = Plane(10.0, 20.0)
    half = plane.polygon(rect(0, -300, 300, 300))  # the eastern half of the disc
    area = _area_m2(_only_overlap(vol(circle), vol(half)).footprint)
    assert area == pytest.approx(np.pi * 200.0**2 / 2, rel=2e-4)
    lens = _only_overlap(vol(circle), vol(circle_at(10.0, 20.0, 100.0))).footprint
    assert _area_m2(lens) == pytest.approx(np.pi * 100.0**2, rel=2e-4)


def test_a_region_across_the_antimeridian_is_cut_there() -> None:
    plane = Plane(-16.5, 180.0)  # Fiji
    a = vol(plane.polygon(rect(-500, -500, 500, 500)))
    b = vol(plane.polygon(rect(-200, -200, 800, 800)))
    shape = _only_overlap(a, b).footprint
    assert shape["type"] == "MultiPolygon" and len(shape["coordinates"]) == 2
    for polygon in shape["coordinates"]:
        lngs = [lng for lng, _ in polygon[0]]
        assert all(-180.0 <= lng <= 180.0 for lng in lngs)
        assert max(lngs) - min(lngs) < 1.0 and _ccw(polygon[0])
    assert _area_m2(shape) == pytest.approx(700.0 * 700.0, rel=1e-6)


def test_a_region_around_a_pole_reaches_the_pole() -> None:
    plane = Plane(90.0, 0.0)
    a = vol(plane.polygon(rect(-1000, -1000, 1000, 1000)))
    b = vol(circle_at(90.0, 0.0, 800.0))
    shape = _only_overlap(a, b).footprint
    rings = [shape["coordinates"][0]] if shape["type"] == "Polygon" else [p[0] for p in shape["coordinates"]]
    assert any(lat == 90.0 for ring in rings for _, lat in ring)
    assert all(-180.0 <= lng <= 180.0 for ring in rings for lng, _ in ring)
    assert _area_m2(shape) == pytest.approx(np.pi * 800.0**2, rel=2e-4)


def test_footprints_are_drawn_once_for_all_overlaps_and_on_demand() -> None:
    plane = Plane(0.0, 0.0)
    subject = op("s", *(vol(plane.polygon(rect(200 * k, 0, 200 * k + 100, 100))) for k in range(5)))
    other = op("o", vol(plane.polygon(rect(-50, 50, 1000, 60))))
    (conflict,) = check(subject, [other]).conflicts
    assert len(conflict.overlaps) == 5
    areas = [_area_m2(o.footprint) for o in conflict.overlaps]
    assert areas == pytest.approx([1000.0] * 5, rel=1e-6)


def test_times_in_reports_are_the_volumes_own_instants() -> None:
    plane = Plane(0.0, 0.0)
    us = timedelta(microseconds=1)
    a = vol(plane.polygon(rect(0, 0, 10, 10)), start=T0 + us, end=T0 + HOUR - us)
    overlap = _only_overlap(a, vol(plane.polygon(rect(0, 0, 10, 10))))
    assert (overlap.time_start, overlap.time_end) == (T0 + us, T0 + HOUR - us)
