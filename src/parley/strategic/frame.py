"""Local planar frames in which F3548 footprints become ordinary shapely polygons and circles.

A footprint's edges are geodesics; a circle is a geodesic circle. The projection that maps
geodesics to straight lines is the *gnomonic* one (Karney 2013, section 8, "ellipsoidal gnomonic
projection": ``rho = m12 / M12`` along the geodesic's azimuth at the centre). PROJ computes it
with one inverse geodesic per point (about 1.3 us here, too slow for tens of thousands of vertices
per check), so a :class:`Frames` evaluates a closed form that agrees with it to well under a
micrometre near the centre:

1. central projection of the ECEF point onto the tangent plane at the centre ``C``, from the
   point ``Q = C - R up`` where ``R = sqrt(M N)`` is the Gaussian radius of curvature at ``C``
   (on a sphere of radius ``R`` this *is* the gnomonic projection);
2. a radial correction for the ellipsoid's curvature differing by azimuth ``a`` (Euler's
   ``1/R_a = cos^2 a / M + sin^2 a / N``): ``rho *= 1 + (R_a / R - 1) rho^2 / (6 R^2)``;
3. an azimuth correction for the angle between the normal section (what step 1 follows) and the
   geodesic: ``a -= e'^2 cos^2(lat0) rho^2 sin(2a) / (12 N^2)``.

Measured against PROJ's ellipsoidal gnomonic (``tests/strategic/test_frame.py`` asserts these at
latitudes 0 to 89.9 degrees): positions agree within 0.001 mm up to 20 km from the centre, 0.02 mm up
to 50 km and 0.3 mm up to 100 km. Geodesic edges up to 10 km long (the engine splits longer edges,
see :mod:`parley.strategic.prepared`) stay within 0.001 mm of their chord up to 50 km from the
centre, 0.003 mm up to 100 km, 0.02 mm up to 250 km and 0.05 mm up to 400 km. A geodesic circle
about the centre is a Euclidean circle of radius ``R tan(r / R)`` within 0.0001 mm for r = 1 km,
0.001 mm for 20 km, 0.02 mm for 50 km and 0.35 mm for 100 km. Scale is 1 at the centre and
``1 + O((d / R)^2)`` at distance d (1.004 at 400 km), which moves the 1 cm precision threshold by
0.02 mm at most.

Each point is projected in the frame named by its index, so one call projects many pairs of
volumes, each in its own frame.

>>> frames = Frames.at(np.array([46.5]), np.array([6.6]))
>>> from parley.strategic.earth import geodetic_to_ecef
>>> xy = frames.forward(geodetic_to_ecef(np.array([46.5]), np.array([6.6])), np.array([0]))
>>> bool(np.all(np.abs(xy) < 1e-9))
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from parley.strategic.earth import A_M, B_M, EP2, ecef_to_geodetic, geodetic_to_ecef, radii_m

F64 = NDArray[np.float64]
Index = NDArray[np.intp]


def _rows_dot(a: F64, b: F64) -> F64:
    return np.asarray(np.einsum("ij,ij->i", a, b), dtype=np.float64)


@dataclass(frozen=True, slots=True, eq=False)
class Frames:
    """F local frames, one per centre; arrays of shape ``(F,)`` or ``(F, 3)``.

    ``x`` points east and ``y`` north at the centre; units are metres on the ellipsoid near it.
    """

    lat_deg: F64
    lng_deg: F64
    centre: F64
    up: F64
    east: F64
    north: F64
    origin: F64
    r_m: F64
    m_m: F64
    n_m: F64
    k_az: F64

    @classmethod
    def at(cls, lat_deg: F64, lng_deg: F64) -> Frames:
        """Frames centred on the given geodetic points (any latitude, poles included)."""
        lat = np.asarray(lat_deg, dtype=np.float64).reshape(-1)
        lng = np.asarray(lng_deg, dtype=np.float64).reshape(-1)
        phi, lam = np.radians(lat), np.radians(lng)
        up = np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)], axis=-1)
        east = np.stack([-np.sin(lam), np.cos(lam), np.zeros_like(lam)], axis=-1)
        north = np.cross(up, east)
        m, n = radii_m(lat)
        r = np.sqrt(m * n)
        centre = geodetic_to_ecef(lat, lng)
        return cls(
            lat_deg=lat,
            lng_deg=lng,
            centre=centre,
            up=up,
            east=east,
            north=north,
            origin=centre - r[:, None] * up,
            r_m=r,
            m_m=m,
            n_m=n,
            k_az=EP2 * np.cos(phi) ** 2 / (12.0 * n * n),
        )

    def __len__(self) -> int:
        return int(self.lat_deg.shape[0])

    def _corrections(self, x: F64, y: F64, f: Index | int) -> tuple[F64, F64]:
        """Radial scale factor and azimuth shift (radians) at central-projection coordinates."""
        r, m, n, k = self.r_m[f], self.m_m[f], self.n_m[f], self.k_az[f]
        rho2 = x * x + y * y
        w = y * y / m + x * x / n  # rho^2 / R_a
        ratio = np.divide(rho2, r * w, out=np.ones_like(rho2), where=w > 0.0)  # R_a / R
        scale = 1.0 + (ratio - 1.0) * rho2 / (6.0 * r * r)
        shift = -k * 2.0 * x * y  # -k rho^2 sin(2a), a measured from north
        return scale, shift

    def _forward(self, xyz: F64, f: Index | int) -> F64:
        def col(a: F64, c: int) -> F64 | np.float64:
            return a[f, c] if isinstance(f, int) else np.take(a[:, c], f)

        px, py, pz = (xyz[:, c] - col(self.origin, c) for c in range(3))
        u = px * col(self.up, 0) + py * col(self.up, 1) + pz * col(self.up, 2)
        if np.any(u <= 0.0):
            raise ValueError("a point lies a quarter of the Earth or more from its frame's centre")
        k = (self.r_m[f] if isinstance(f, int) else np.take(self.r_m, f)) / u
        x = k * (px * col(self.east, 0) + py * col(self.east, 1) + pz * col(self.east, 2))
        y = k * (px * col(self.north, 0) + py * col(self.north, 1) + pz * col(self.north, 2))
        scale, shift = self._corrections(x, y, f)
        # |shift| < 1e-5 rad within the envelope: cos and sin to 1e-16 from their series
        c, s = 1.0 - shift * shift / 2.0, shift
        return np.stack([scale * (x * c + y * s), scale * (y * c - x * s)], axis=-1)

    def forward(self, xyz: F64, frame: Index) -> F64:
        """Project ECEF surface points, each in the frame ``frame[i]``; returns ``(n, 2)`` metres."""
        f = np.asarray(frame, dtype=np.intp)
        if f.size == 0:
            return np.zeros((0, 2))
        used = np.unique(f)
        if used.size == 1:
            return self._forward(xyz, int(used[0]))
        if used.size > 16:
            return self._forward(xyz, f)
        out = np.empty((f.shape[0], 2))
        for g in used:
            rows = np.flatnonzero(f == g)
            out[rows] = self._forward(xyz[rows], int(g))
        return out

    def inverse(self, xy: F64, frame: Index) -> tuple[F64, F64]:
        """Geodetic latitude and longitude (degrees) of frame coordinates ``(n, 2)``."""
        f = np.asarray(frame, dtype=np.intp)
        xt, yt = xy[:, 0], xy[:, 1]
        x, y = xt.copy(), yt.copy()
        for _ in range(3):  # undo the corrections (each < 1e-5 relative): fixed point
            scale, shift = self._corrections(x, y, f)
            c, s = 1.0 - shift * shift / 2.0, shift
            x = (xt * c - yt * s) / scale
            y = (yt * c + xt * s) / scale
        q = self.origin[f]
        d = self.centre[f] + x[:, None] * self.east[f] + y[:, None] * self.north[f] - q
        w = np.array([1.0 / A_M**2, 1.0 / A_M**2, 1.0 / B_M**2])
        qa = _rows_dot(d * w, d)
        qb = 2.0 * _rows_dot(q * w, d)
        qc = _rows_dot(q * w, q) - 1.0  # < 0: the origin is inside the ellipsoid
        root = np.sqrt(qb * qb - 4.0 * qa * qc)
        t = np.where(qb > 0.0, -2.0 * qc / (qb + root), (root - qb) / (2.0 * qa))
        return ecef_to_geodetic(q + t[:, None] * d)

    def radius_of(self, radius_m: F64, frame: Index) -> F64:
        """Radius in frame ``frame[i]`` of a geodesic circle of ``radius_m[i]`` about its centre.

        ``R tan(r / R)``, the gnomonic image of a circle on the sphere of Gaussian curvature at the
        centre; the ellipsoid's departures vary with azimuth and average out (see module notes).
        """
        r = self.r_m[np.asarray(frame, dtype=np.intp)]
        return np.asarray(r * np.tan(radius_m / r), dtype=np.float64)
