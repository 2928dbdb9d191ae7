"""Per-aircraft kinematics prepared once per batch: earth-centred positions, normals, velocities.

For each aircraft, with geodetic latitude phi, longitude lambda, ground speed ``gs`` and track ``trk``:

- unit normal (up) ``U = (cos phi cos lambda, cos phi sin lambda, sin phi)``;
- surface position ``P``: on the WGS84 ellipsoid ``(N cos phi cos lambda, N cos phi sin lambda,
  N (1 - e^2) sin phi)`` with ``N = a / sqrt(1 - e^2 sin^2 phi)``, or ``R * U`` on the sphere;
- local east ``E = (-sin lambda, cos lambda, 0)`` and north ``(-sin phi cos lambda, -sin phi sin lambda,
  cos phi)``; horizontal velocity ``V = gs sin(trk) E + gs cos(trk) north``, so ``|V| = gs``.

Altitude is kept apart (``alt_m``, ``vs_mps``): horizontal geometry uses the surface positions, as the
separation minima are a horizontal radius and a vertical half-height.

>>> import numpy as np
>>> from parley.tactical.tracks import TrackBatch
>>> b = TrackBatch.from_columns(["A"], lat_deg=[0.0], lon_deg=[0.0], alt_m=[0.0], gs_mps=[100.0],
...     trk_deg=[90.0], vs_mps=[0.0])
>>> k = prepare(b, Separation())
>>> float(k.px[0]), round(float(k.vy[0]), 9)
(6378137.0, 100.0)
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from parley.tactical.errors import InvalidTracks
from parley.tactical.params import Geometry, Separation
from parley.tactical.tracks import FloatArray, IntArray, TrackBatch

#: WGS84 semi-major axis, metres.
WGS84_A_M = 6378137.0
#: WGS84 flattening.
WGS84_F = 1.0 / 298.257223563
#: WGS84 first eccentricity squared.
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)
#: Radius of the sphere of ``Geometry.SPHERE`` and ``Geometry.FLAT`` (BlueSky's), metres.
SPHERE_R_M = 6371000.0


def min_curvature_radius_m(geometry: Geometry) -> float:
    """The smallest radius of curvature of the earth model (the ellipsoid's meridian one at the equator)."""
    if geometry is Geometry.WGS84:
        return WGS84_A_M * (1.0 - WGS84_E2)
    return SPHERE_R_M


@dataclass(frozen=True, slots=True, eq=False)
class Kinematics:
    """Structure of arrays for N aircraft, ready for pair evaluation (see the module docstring).

    ``rpz_m``, ``hpz_m`` and ``lookahead_s`` are per aircraft, defaults filled in; a pair uses the
    larger of its two values. ``uniform_time`` is true when every report has the same time (a snapshot),
    which lets the kernels skip dead reckoning (adding ``V * 0.0`` would not change a bit);
    ``uniform_minima`` when no aircraft overrides the minima (the kernels then use scalars).
    """

    geometry: Geometry
    t_s: FloatArray
    alt_m: FloatArray
    vs_mps: FloatArray
    gs_mps: FloatArray
    px: FloatArray
    py: FloatArray
    pz: FloatArray
    ux: FloatArray
    uy: FloatArray
    uz: FloatArray
    vx: FloatArray
    vy: FloatArray
    vz: FloatArray
    lat_rad: FloatArray
    lon_deg: FloatArray
    ve_mps: FloatArray
    vn_mps: FloatArray
    rpz_m: FloatArray
    hpz_m: FloatArray
    lookahead_s: FloatArray
    vertical_tolerance_m: float
    uniform_time: bool
    uniform_minima: bool

    @property
    def n(self) -> int:
        return int(self.t_s.shape[0])

    def take(self, rows: IntArray) -> Kinematics:
        """The same aircraft in the order ``rows`` (a row's values do not change)."""
        values = {
            f.name: getattr(self, f.name)[rows]
            if isinstance(getattr(self, f.name), np.ndarray)
            else getattr(self, f.name)
            for f in fields(self)
        }
        return Kinematics(**values)

    def locality_order(self, cell_m: float = 50_000.0) -> IntArray:
        """Rows sorted by a coarse earth-centred grid cell: neighbours in space become neighbours in
        memory, which makes the gathers of pair evaluation cache-friendly."""
        keys = np.zeros(self.n, dtype=np.int64)
        for c in (self.px, self.py, self.pz):
            q = np.floor(c / cell_m).astype(np.int64)
            keys = keys * (int(q.max() - q.min()) + 1) + (q - q.min())
        order: IntArray = np.argsort(keys, kind="stable")
        return order


def _resolve(values: FloatArray | None, default: float, n: int) -> FloatArray:
    return np.full(n, default) if values is None else values


def prepare(tracks: TrackBatch, separation: Separation, geometry: Geometry = Geometry.WGS84) -> Kinematics:
    """Compute the per-aircraft arrays of ``tracks`` (O(N), elementwise, so a row's values do not depend
    on the other rows)."""
    n = len(tracks)
    lat = np.radians(tracks.lat_deg)
    lon = np.radians(tracks.lon_deg)
    sin_lat, cos_lat = np.sin(lat), np.cos(lat)
    sin_lon, cos_lon = np.sin(lon), np.cos(lon)
    ux, uy, uz = cos_lat * cos_lon, cos_lat * sin_lon, sin_lat
    if geometry is Geometry.WGS84:
        big_n = WGS84_A_M / np.sqrt(1.0 - WGS84_E2 * sin_lat * sin_lat)
        px, py, pz = big_n * ux, big_n * uy, (big_n * (1.0 - WGS84_E2)) * uz
    else:
        px, py, pz = SPHERE_R_M * ux, SPHERE_R_M * uy, SPHERE_R_M * uz
    trk = np.radians(tracks.trk_deg)
    ve = tracks.gs_mps * np.sin(trk)
    vn = tracks.gs_mps * np.cos(trk)
    vx = ve * -sin_lon + vn * (-sin_lat * cos_lon)
    vy = ve * cos_lon + vn * (-sin_lat * sin_lon)
    vz = vn * cos_lat
    hpz = _resolve(tracks.hpz_m, separation.hpz_m, n)
    if n and float(hpz.min()) <= separation.vertical_tolerance_m:
        raise InvalidTracks(
            f"hpz_m {float(hpz.min())!r} must exceed the vertical tolerance {separation.vertical_tolerance_m!r}"
        )
    uniform = bool(n == 0 or np.all(tracks.t_s == tracks.t_s[0]))
    return Kinematics(
        geometry=geometry,
        t_s=tracks.t_s,
        alt_m=tracks.alt_m,
        vs_mps=tracks.vs_mps,
        gs_mps=tracks.gs_mps,
        px=px,
        py=py,
        pz=pz,
        ux=ux,
        uy=uy,
        uz=uz,
        vx=vx,
        vy=vy,
        vz=vz,
        lat_rad=lat,
        lon_deg=tracks.lon_deg,
        ve_mps=ve,
        vn_mps=vn,
        rpz_m=_resolve(tracks.rpz_m, separation.rpz_m, n),
        hpz_m=hpz,
        lookahead_s=_resolve(tracks.lookahead_s, separation.lookahead_s, n),
        vertical_tolerance_m=separation.vertical_tolerance_m,
        uniform_time=uniform,
        uniform_minima=tracks.rpz_m is None and tracks.hpz_m is None and tracks.lookahead_s is None,
    )
