"""The WGS84 ellipsoid: geodetic <-> Earth-centred Earth-fixed (ECEF) coordinates, and geodesics.

Every footprint lies on the ellipsoid's surface (F3548 footprints are extruded vertically, so the
footprint at any altitude is the one given by its latitudes and longitudes). Working in ECEF keeps
the antimeridian and the poles ordinary places: no longitude wraps, no singular latitude.

Geodesics (F3548 polygon edges are "the shortest paths between connected vertices", and a circle
is the set of points at a given geodesic distance from its centre) come from PROJ's implementation
of Karney's algorithms through :func:`geod` (accurate to nanometres).

>>> xyz = geodetic_to_ecef(np.array([45.0]), np.array([7.0]))
>>> lat, lng = ecef_to_geodetic(xyz)
>>> round(float(lat[0]), 12), round(float(lng[0]), 12)
(45.0, 7.0)
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.typing import NDArray
from pyproj import Geod

F64 = NDArray[np.float64]

#: WGS84 semi-major axis, metres.
A_M = 6_378_137.0
#: WGS84 flattening.
FLATTENING = 1.0 / 298.257223563
#: Semi-minor axis, metres.
B_M = A_M * (1.0 - FLATTENING)
#: First eccentricity squared.
E2 = FLATTENING * (2.0 - FLATTENING)
#: Second eccentricity squared.
EP2 = E2 / (1.0 - E2)


@cache
def geod() -> Geod:
    """The WGS84 geodesic solver (built on first use, then shared; it holds no state)."""
    return Geod(ellps="WGS84")


def radii_m(lat_deg: F64) -> tuple[F64, F64]:
    """Meridional (M) and prime-vertical (N) radii of curvature at geodetic latitudes, metres."""
    s2 = np.sin(np.radians(lat_deg)) ** 2
    w = np.sqrt(1.0 - E2 * s2)
    return A_M * (1.0 - E2) / w**3, A_M / w


def geodetic_to_ecef(lat_deg: F64, lng_deg: F64) -> F64:
    """Points on the ellipsoid's surface (height 0) as ECEF metres, shape ``(n, 3)``."""
    phi = np.radians(lat_deg)
    lam = np.radians(lng_deg)
    sp, cp = np.sin(phi), np.cos(phi)
    n = A_M / np.sqrt(1.0 - E2 * sp * sp)
    return np.stack([n * cp * np.cos(lam), n * cp * np.sin(lam), n * (1.0 - E2) * sp], axis=-1)


def ecef_to_geodetic(xyz: F64) -> tuple[F64, F64]:
    """Geodetic latitude and longitude, degrees, of ECEF points near the surface.

    Bowring's starting value, then three fixed-point steps of
    ``tan(phi) = (z + e^2 N(phi) sin(phi)) / p``, each dividing the error by ~1/e^2 = 150: exact to
    the last bits for points within kilometres of the surface. Longitudes are in ``(-180, 180]``.
    """
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    p = np.hypot(x, y)
    theta = np.arctan2(z * A_M, p * B_M)
    phi = np.arctan2(z + EP2 * B_M * np.sin(theta) ** 3, p - E2 * A_M * np.cos(theta) ** 3)
    for _ in range(3):
        sp = np.sin(phi)
        n = A_M / np.sqrt(1.0 - E2 * sp * sp)
        phi = np.arctan2(z + E2 * n * sp, p)
    return np.degrees(phi), np.degrees(np.arctan2(y, x))
