"""The local frame: it agrees with PROJ's ellipsoidal gnomonic projection, keeps geodesics straight
and geodesic circles round, inverts exactly, and works at the poles and across the antimeridian.

The bounds asserted here are the ones docs/strategic.md and parley.strategic.frame quote.
"""

from __future__ import annotations

import numpy as np
import pytest
from pyproj import Transformer

from parley.strategic.earth import ecef_to_geodetic, geod, geodetic_to_ecef
from parley.strategic.frame import Frames

LATITUDES = [0.0, 30.0, 45.0, 60.0, 80.0, 89.9]


def _frame(lat: float, lng: float) -> Frames:
    return Frames.at(np.array([lat]), np.array([lng]))


def _points_around(lat: float, lng: float, dist_m: float, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    az = rng.uniform(0.0, 360.0, n)
    s = dist_m * np.sqrt(rng.uniform(0.0, 1.0, n))
    lo, la, _ = geod().fwd(np.full(n, lng), np.full(n, lat), az, s)
    return np.asarray(la), np.asarray(lo)


def _project(frames: Frames, lat: np.ndarray, lng: np.ndarray) -> np.ndarray:
    return frames.forward(geodetic_to_ecef(lat, lng), np.zeros(lat.shape[0], dtype=np.intp))


@pytest.mark.parametrize("lat0", LATITUDES)
@pytest.mark.parametrize(("dist_m", "tol_m"), [(20e3, 1e-6), (50e3, 2e-5), (100e3, 3e-4)])
def test_agrees_with_the_ellipsoidal_gnomonic(lat0: float, dist_m: float, tol_m: float) -> None:
    lng0 = 10.0
    gnomonic = Transformer.from_crs(
        "EPSG:4326", f"+proj=gnom +lat_0={lat0} +lon_0={lng0} +ellps=WGS84", always_xy=True
    )
    lat, lng = _points_around(lat0, lng0, dist_m, 2000, seed=int(lat0 * 10 + dist_m))
    ex, ey = gnomonic.transform(lng, lat)
    xy = _project(_frame(lat0, lng0), lat, lng)
    assert np.max(np.hypot(xy[:, 0] - ex, xy[:, 1] - ey)) < tol_m


@pytest.mark.parametrize("lat0", LATITUDES)
@pytest.mark.parametrize(("dist_m", "tol_m"), [(50e3, 1e-6), (100e3, 3e-6), (250e3, 2e-5), (400e3, 5e-5)])
def test_ten_km_geodesics_are_straight(lat0: float, dist_m: float, tol_m: float) -> None:
    """Edges up to 10 km (longer ones are split) stay within micrometres of their chord."""
    frames = _frame(lat0, -170.0)
    rng = np.random.default_rng(int(lat0) + int(dist_m))
    worst = 0.0
    for _ in range(60):
        lat_a, lng_a = _points_around(lat0, -170.0, dist_m, 1, int(rng.integers(1 << 30)))
        lng_b, lat_b, _ = geod().fwd(lng_a, lat_a, rng.uniform(0, 360, 1), [10e3])
        mid = np.array(geod().npts(lng_a[0], lat_a[0], lng_b[0], lat_b[0], 20))
        a = _project(frames, lat_a, lng_a)[0]
        b = _project(frames, np.asarray(lat_b), np.asarray(lng_b))[0]
        p = _project(frames, mid[:, 1], mid[:, 0])
        d = b - a
        dev = np.abs((p[:, 0] - a[0]) * d[1] - (p[:, 1] - a[1]) * d[0]) / np.hypot(*d)
        worst = max(worst, float(dev.max()))
    assert worst < tol_m


@pytest.mark.parametrize("lat0", LATITUDES)
@pytest.mark.parametrize(("radius_m", "tol_m"), [(1e3, 1e-7), (20e3, 1e-6), (50e3, 2e-5), (100e3, 3.5e-4)])
def test_geodesic_circles_about_the_centre_are_round(lat0: float, radius_m: float, tol_m: float) -> None:
    frames = _frame(lat0, 33.0)
    az = np.linspace(0.0, 360.0, 1441)
    lo, la, _ = geod().fwd(np.full_like(az, 33.0), np.full_like(az, lat0), az, np.full_like(az, radius_m))
    rho = np.hypot(*_project(frames, np.asarray(la), np.asarray(lo)).T)
    expected = frames.radius_of(np.array([radius_m]), np.array([0]))[0]
    assert np.max(np.abs(rho - expected)) < tol_m


@pytest.mark.parametrize("lat0", [*LATITUDES, 90.0, -90.0, -45.0])
@pytest.mark.parametrize("lng0", [0.0, 179.99, -180.0])
def test_inverse_returns_the_points(lat0: float, lng0: float) -> None:
    lat, lng = _points_around(lat0, lng0, 200e3, 500, seed=7)
    frames = _frame(lat0, lng0)
    xy = _project(frames, lat, lng)
    back_lat, back_lng = frames.inverse(xy, np.zeros(lat.shape[0], dtype=np.intp))
    back = geodetic_to_ecef(back_lat, back_lng)
    assert np.max(np.linalg.norm(back - geodetic_to_ecef(lat, lng), axis=1)) < 1e-6


def test_antimeridian_and_pole_are_ordinary() -> None:
    """Points either side of the antimeridian, or around a pole, land where distances say."""
    frames = _frame(0.0, 180.0)
    xy = _project(frames, np.array([0.0, 0.0]), np.array([179.999, -179.999]))
    _, _, dist = geod().inv(179.999, 0.0, -179.999, 0.0)
    assert xy[0, 0] < 0.0 < xy[1, 0]
    assert abs(np.hypot(*(xy[1] - xy[0])) - dist) < 1e-3
    polar = _frame(90.0, 0.0)
    ring = _project(polar, np.full(4, 89.99), np.array([0.0, 90.0, 180.0, -90.0]))
    radii = np.hypot(ring[:, 0], ring[:, 1])
    assert np.ptp(radii) < 1e-6


def test_ecef_round_trip_everywhere() -> None:
    rng = np.random.default_rng(3)
    lat = rng.uniform(-90.0, 90.0, 10_000)
    lng = rng.uniform(-180.0, 180.0, 10_000)
    back_lat, back_lng = ecef_to_geodetic(geodetic_to_ecef(lat, lng))
    assert np.max(np.abs(back_lat - lat)) < 1e-12
    dl = (back_lng - lng + 180.0) % 360.0 - 180.0
    assert np.max(np.abs(dl * np.cos(np.radians(lat)))) < 1e-12


def test_points_beyond_a_quarter_of_the_earth_are_refused() -> None:
    with pytest.raises(ValueError, match="quarter of the Earth"):
        _project(_frame(0.0, 0.0), np.array([0.0]), np.array([120.0]))
