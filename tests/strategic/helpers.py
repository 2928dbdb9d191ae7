"""Building volumes for the strategic tests, and an independent oracle to place them.

Configurations are drawn in metres in PROJ's *ellipsoidal gnomonic* projection centred where the
test happens (:class:`Plane`): geodesics are straight lines there (to 0.03 mm within 100 km), so a
polygon drawn with straight edges in the plane is the F3548 polygon with the converted vertices,
and distances near the centre are true to 1e-8 relative. None of this uses the engine's own frame.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
from pyproj import Proj

from parley.domain.geo import Circle, LatLng, Polygon, Volume3D, Volume4D
from parley.strategic import CheckPolicy, Operation, check
from parley.strategic.earth import geod

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


class Plane:
    """PROJ's ellipsoidal gnomonic projection about ``(lat, lng)``: metres <-> WGS84."""

    def __init__(self, lat: float, lng: float) -> None:
        self.lat, self.lng = lat, lng
        self._proj = Proj(f"+proj=gnom +lat_0={lat} +lon_0={lng} +ellps=WGS84")

    def latlng(self, xy: Iterable[tuple[float, float]]) -> tuple[LatLng, ...]:
        pts = np.array(list(xy), dtype=float).reshape(-1, 2)
        lng, lat = self._proj(pts[:, 0], pts[:, 1], inverse=True)
        lng = (np.asarray(lng) + 180.0) % 360.0 - 180.0
        return tuple(LatLng(float(a), float(o)) for a, o in zip(np.asarray(lat), lng, strict=True))

    def xy(self, points: Sequence[LatLng]) -> np.ndarray:
        x, y = self._proj([p.lng for p in points], [p.lat for p in points])
        return np.stack([np.asarray(x), np.asarray(y)], axis=-1)

    def polygon(self, xy: Iterable[tuple[float, float]]) -> Polygon:
        return Polygon(self.latlng(xy))

    def radius_in_plane(self, radius_m: float) -> float:
        """Mean radius in this plane of the geodesic circle of ``radius_m`` about the centre."""
        az = np.linspace(0.0, 360.0, 16, endpoint=False)
        lng, lat, _ = geod().fwd(np.full(16, self.lng), np.full(16, self.lat), az, np.full(16, radius_m))
        x, y = self._proj(lng, lat)
        return float(np.mean(np.hypot(x, y)))


def rotate(xy: Iterable[tuple[float, float]], angle: float) -> list[tuple[float, float]]:
    c, s = math.cos(angle), math.sin(angle)
    return [(x * c - y * s, x * s + y * c) for x, y in xy]


def rect(x0: float, y0: float, x1: float, y1: float) -> list[tuple[float, float]]:
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def circle_at(lat: float, lng: float, radius_m: float) -> Circle:
    return Circle(LatLng(lat, lng), radius_m)


def vol(
    outline: Circle | Polygon,
    lo: float | None = 0.0,
    hi: float | None = 120.0,
    start: datetime | None = T0,
    end: datetime | None = T0 + HOUR,
) -> Volume4D:
    return Volume4D(Volume3D(outline, lo, hi), start, end)


def op(op_id: str, *volumes: Volume4D, priority: int = 0, **kwargs: object) -> Operation:
    return Operation(op_id, tuple(volumes), priority=priority, **kwargs)  # type: ignore[arg-type]


def conflicts(a: Volume4D, b: Volume4D, policy: CheckPolicy | None = None) -> bool:
    """Whether the engine finds volume ``a`` in conflict with volume ``b``."""
    return bool(check(op("a", a), [op("b", b)], policy).conflicts)
