"""S2 cell coverings of outlines: the DSS's spatial index (as the reference DSS, level 13).

A covering is a set of S2 cell ids at :data:`CELL_LEVEL` (about 1.3 km² each) that contains the
outline. Two outlines that intersect always share at least one cell of their coverings (both are
computed by the same spherical model, and circles are covered with a small outward margin so that the
spherical cap contains the ellipsoidal circle), so a search by shared cells never misses an
intersecting entity; it may return a few that only share a cell (false positives are allowed).

Cell ids are S2's unsigned 64-bit ids, stored as *signed* 64-bit integers (two's complement) so
that every SQL dialect can index them.

>>> from parley.domain.geo import Circle, LatLng
>>> cells = cover_outline(Circle(LatLng(46.0, 7.0), 300.0), max_area_km2=2500.0)
>>> 1 <= len(cells) <= 8
True
"""

from __future__ import annotations

import math

import s2geometry as s2

from parley.domain.errors import AreaTooLarge, InvalidInput
from parley.domain.geo import Circle, LatLng, Outline

#: S2 level of the index cells (the reference DSS uses 13: ~1.27 km² average cell area).
CELL_LEVEL = 13
#: Mean Earth radius used to turn metres into angles on the S2 sphere, metres.
EARTH_RADIUS_M = 6371008.8
#: Relative outward margin on circle radii: bounds the sphere/ellipsoid difference (< 0.34 %).
CIRCLE_MARGIN = 0.005
_EARTH_AREA_KM2 = 4.0 * math.pi * (EARTH_RADIUS_M / 1000.0) ** 2
_TWO_63 = 1 << 63
_TWO_64 = 1 << 64


def _coverer() -> s2.S2RegionCoverer:
    coverer = s2.S2RegionCoverer()
    coverer.set_min_level(CELL_LEVEL)
    coverer.set_max_level(CELL_LEVEL)
    coverer.set_max_cells(1 << 30)
    return coverer


def to_signed(cell_id: int) -> int:
    """S2's unsigned 64-bit id as a signed 64-bit integer.

    >>> to_signed(2**63) == -(2**63)
    True
    """
    return cell_id - _TWO_64 if cell_id >= _TWO_63 else cell_id


def to_unsigned(cell_id: int) -> int:
    """Inverse of :func:`to_signed`.

    >>> to_unsigned(to_signed(2**64 - 5)) == 2**64 - 5
    True
    """
    return cell_id + _TWO_64 if cell_id < 0 else cell_id


def _point(p: LatLng) -> s2.S2Point:
    return s2.S2LatLng.FromDegrees(p.lat, p.lng).ToPoint()


def outline_area_km2(outline: Outline) -> float:
    """Area of an outline on the sphere, km² (polygons take the smaller of the two sides)."""
    if isinstance(outline, Circle):
        r_km = outline.radius_m / 1000.0
        return math.pi * r_km * r_km
    steradians: float = _loop(outline.vertices).GetArea()
    return steradians * _EARTH_AREA_KM2 / (4.0 * math.pi)


def _loop(vertices: tuple[LatLng, ...]) -> s2.S2Loop:
    loop = s2.S2Loop([_point(v) for v in vertices])
    # S2's validation finds repeated vertices and crossing edges in O(n log n).
    if not loop.IsValid():
        raise InvalidInput(
            "polygon is not simple: it has repeated vertices, a zero-length edge or crossing edges"
        )
    # F3548: the winding order is the one that produces the smaller area.
    loop.Normalize()
    if loop.GetArea() <= 0.0:
        raise InvalidInput("polygon has zero area (its vertices are collinear)")
    return loop


def cover_outline(outline: Outline, *, max_area_km2: float) -> frozenset[int]:
    """Cells (signed ids) at :data:`CELL_LEVEL` covering ``outline``.

    Raises :class:`AreaTooLarge` when the outline's area exceeds ``max_area_km2`` and
    :class:`InvalidInput` when a polygon is not simple.
    """
    region: s2.S2Loop | s2.S2Cap
    if isinstance(outline, Circle):
        area = outline_area_km2(outline)
    else:
        region = _loop(outline.vertices)  # built once: its area, then its covering
        area = region.GetArea() * _EARTH_AREA_KM2 / (4.0 * math.pi)
    if area > max_area_km2:
        raise AreaTooLarge(f"area of {area:.1f} km² exceeds the limit of {max_area_km2:g} km²")
    if isinstance(outline, Circle):
        angle = outline.radius_m * (1.0 + CIRCLE_MARGIN) / EARTH_RADIUS_M + 1e-9
        region = s2.S2Cap(_point(outline.center), s2.S1ChordAngle(s2.S1Angle.Radians(angle)))
    return frozenset(to_signed(c.id()) for c in _coverer().GetCovering(region))


def contains_all(container: frozenset[int], cells: frozenset[int]) -> bool:
    """True when every cell of ``cells`` is in ``container`` (coverings share one level)."""
    return cells <= container
