"""Geographic value types: points, outlines, 3D and 4D volumes, with their validation.

All positions are WGS84 degrees, altitudes are metres above the WGS84 ellipsoid (F3548 ``W84``),
times are timezone-aware UTC datetimes. Values are immutable; constructors do not validate, the
``validate_*`` functions do, so that a caller decides which limits apply (an operational intent
admits more vertices than a constraint, for instance).

>>> square = Polygon((LatLng(0.0, 0.0), LatLng(0.0, 0.01), LatLng(0.01, 0.01), LatLng(0.01, 0.0)))
>>> validate_outline(square, max_vertices=10)
>>> Volume3D(square, 0.0, 120.0).altitude_lower_m
0.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from parley.domain.errors import InvalidInput

#: Altitude bounds admitted by F3548's ``Altitude`` schema, metres (W84).
MIN_ALTITUDE_M = -8000.0
MAX_ALTITUDE_M = 100000.0


@dataclass(frozen=True, slots=True)
class LatLng:
    """A point on the WGS84 ellipsoid, degrees."""

    lat: float
    lng: float


@dataclass(frozen=True, slots=True)
class Circle:
    """A circular outline: centre and radius along the ellipsoid, metres."""

    center: LatLng
    radius_m: float


@dataclass(frozen=True, slots=True)
class Polygon:
    """A simple polygon; edges are the shortest paths between consecutive vertices; not closed
    (the last vertex is not a repeat of the first)."""

    vertices: tuple[LatLng, ...]


Outline = Circle | Polygon


@dataclass(frozen=True, slots=True)
class Volume3D:
    """A vertically extruded outline. A missing outline or altitude means "unbounded" (queries only)."""

    outline: Outline | None
    altitude_lower_m: float | None
    altitude_upper_m: float | None


@dataclass(frozen=True, slots=True)
class Volume4D:
    """A 3D volume over a half-open time window [time_start, time_end); either end may be open."""

    volume: Volume3D
    time_start: datetime | None
    time_end: datetime | None


def validate_point(p: LatLng, where: str = "point") -> None:
    """Reject non-finite or out-of-range coordinates."""
    if not (math.isfinite(p.lat) and math.isfinite(p.lng)):
        raise InvalidInput(f"{where}: latitude and longitude must be finite numbers")
    if not -90.0 <= p.lat <= 90.0:
        raise InvalidInput(f"{where}: latitude {p.lat} is outside [-90, 90]")
    if not -180.0 <= p.lng <= 180.0:
        raise InvalidInput(f"{where}: longitude {p.lng} is outside [-180, 180]")


def validate_outline(outline: Outline, *, max_vertices: int, where: str = "outline") -> None:
    """Check an outline's own consistency (coordinates, radius, vertex count, duplicates).

    Self-intersection and area are checked where the outline is covered by cells
    (:mod:`parley.domain.cells`), which has the spherical geometry at hand.
    """
    if isinstance(outline, Circle):
        validate_point(outline.center, f"{where}.center")
        r = outline.radius_m
        if not math.isfinite(r) or r <= 0.0:
            raise InvalidInput(f"{where}.radius must be a positive number of metres, got {r}")
        return
    n = len(outline.vertices)
    if n < 3:
        raise InvalidInput(f"{where}: a polygon needs at least 3 vertices, got {n}")
    if n > max_vertices:
        raise InvalidInput(f"{where}: a polygon may have at most {max_vertices} vertices, got {n}")
    for i, v in enumerate(outline.vertices):
        validate_point(v, f"{where}.vertices[{i}]")
    seen: set[tuple[float, float]] = set()
    for i, v in enumerate(outline.vertices):
        key = (v.lat, v.lng)
        if key in seen:
            raise InvalidInput(
                f"{where}.vertices[{i}] duplicates an earlier vertex; vertices may not be repeated "
                "(the polygon is closed implicitly)"
            )
        seen.add(key)


def validate_altitudes(lower: float | None, upper: float | None, *, where: str = "volume") -> None:
    """Altitudes within F3548's bounds, lower strictly below upper when both are given."""
    for name, value in (("altitude_lower", lower), ("altitude_upper", upper)):
        if value is None:
            continue
        if not math.isfinite(value) or not MIN_ALTITUDE_M <= value <= MAX_ALTITUDE_M:
            raise InvalidInput(
                f"{where}.{name} must be within [{MIN_ALTITUDE_M:g}, {MAX_ALTITUDE_M:g}] m, got {value}"
            )
    if lower is not None and upper is not None and lower > upper:
        raise InvalidInput(f"{where}: altitude_lower ({lower} m) is above altitude_upper ({upper} m)")


def validate_time_window(
    start: datetime | None, end: datetime | None, *, where: str = "volume", allow_instant: bool = False
) -> None:
    """Both ends timezone-aware; start before end (or equal, for an instant, when allowed)."""
    for name, value in (("time_start", start), ("time_end", end)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(f"{where}.{name} must carry a time zone (RFC 3339, 'Z')")
    if start is not None and end is not None and (start > end or (start == end and not allow_instant)):
        raise InvalidInput(
            f"{where}: time_start ({start.isoformat()}) must be before time_end ({end.isoformat()})"
        )
