"""Regions computed in a local frame, written as RFC 7946 GeoJSON.

Vertices are mapped back to WGS84 longitude and latitude (exact inverse of the frame). Exterior
rings run counterclockwise, holes clockwise, as RFC 7946 asks. A region that crosses the
antimeridian is cut there into a ``MultiPolygon`` (RFC 7946 section 3.1.9), and one that contains
a pole gets a ring that runs along the antimeridian up to the pole and back, so that every
consumer that draws longitude and latitude linearly draws the right area.

>>> import shapely
>>> frames = Frames.at(np.array([0.0]), np.array([180.0]))
>>> square = shapely.box(-1000.0, -1000.0, 1000.0, 1000.0)
>>> shape = to_geojson(square, frames, 0)
>>> shape["type"], len(shape["coordinates"])
('MultiPolygon', 2)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely
import shapely.affinity
from numpy.typing import NDArray
from shapely.geometry.polygon import orient

from parley.strategic.frame import Frames

F64 = NDArray[np.float64]
GeoJson = dict[str, Any]
Ring = list[list[float]]
PolygonCoords = list[Ring]

_WORLD = shapely.box(-180.0, -90.0, 180.0, 90.0)


def _polygons(geometry: shapely.Geometry) -> list[shapely.Polygon]:
    """Polygonal parts with area (lines and points where footprints only touch are dropped)."""
    parts = shapely.get_parts(geometry)
    out: list[shapely.Polygon] = []
    for part in parts:
        if isinstance(part, shapely.Polygon) and part.area > 0.0:
            out.append(part)
        elif isinstance(part, shapely.MultiPolygon | shapely.GeometryCollection):
            out.extend(_polygons(part))
    return out


def _unwrap(lng: F64) -> F64:
    """Longitudes made continuous along a ring (steps taken the short way round)."""
    steps = (np.diff(lng) + 180.0) % 360.0 - 180.0
    return np.concatenate([[lng[0]], lng[0] + np.cumsum(steps)])


def _ring_lnglat(ring: shapely.LinearRing, frames: Frames, frame: int) -> tuple[F64, F64]:
    xy = np.asarray(ring.coords)[:-1]
    lat, lng = frames.inverse(xy, np.full(xy.shape[0], frame, dtype=np.intp))
    return _unwrap(lng), lat


def _around_pole(lng: F64, lat: F64) -> shapely.Polygon | None:
    """For a ring that winds once around a pole, the lng/lat polygon between it and that pole."""
    end = lng[-1] + (lng[0] - lng[-1] + 180.0) % 360.0 - 180.0  # the first vertex, reached again
    if abs(end - lng[0]) < 180.0:
        return None
    pole = 90.0 if float(np.mean(lat)) > 0.0 else -90.0
    coords = [*zip(lng.tolist(), lat.tolist(), strict=True)]
    coords += [(float(end), float(lat[0])), (float(end), pole), (float(lng[0]), pole)]
    return shapely.Polygon(coords)


def _wrap_into_world(poly: shapely.Geometry) -> list[shapely.Polygon]:
    """Cut an unwrapped lng/lat polygon at the antimeridian and shift the pieces into range."""
    out: list[shapely.Polygon] = []
    west, _, east, _ = poly.bounds
    for k in range(int(np.floor((west + 180.0) / 360.0)), int(np.floor((east + 180.0) / 360.0)) + 1):
        shifted = shapely.affinity.translate(poly, xoff=-360.0 * k) if k else poly
        out.extend(_polygons(shapely.intersection(shifted, _WORLD)))
    return out


def _slow(part: shapely.Polygon, frames: Frames, frame: int) -> list[shapely.Polygon]:
    """One polygon that crosses the antimeridian or contains a pole, as lng/lat pieces."""
    lng, lat = _ring_lnglat(part.exterior, frames, frame)
    shell = _around_pole(lng, lat)
    if shell is None:
        shell = shapely.Polygon(np.stack([lng, lat], axis=-1))
    shape: shapely.Geometry = shell
    for ring in part.interiors:
        shape = shapely.difference(
            shape, shapely.Polygon(np.stack(_ring_lnglat(ring, frames, frame), axis=-1))
        )
    return [orient(p, sign=1.0) for p in _wrap_into_world(shape)]


def _shape(polygons: list[PolygonCoords]) -> GeoJson:
    if len(polygons) == 1:
        return {"type": "Polygon", "coordinates": polygons[0]}
    return {"type": "MultiPolygon", "coordinates": polygons}


def _coords(p: shapely.Polygon) -> PolygonCoords:
    return [np.asarray(r.coords).tolist() for r in (p.exterior, *p.interiors)]


def to_geojson_batch(
    regions: Sequence[shapely.Geometry | None], frames: Frames, frame_of: NDArray[np.int64]
) -> list[GeoJson]:
    """:func:`to_geojson` for many regions at once (one inverse projection for all vertices)."""
    n = len(regions)
    geoms = np.empty(n, dtype=object)
    geoms[:] = [shapely.Polygon() if g is None else g for g in regions]
    parts, owner = shapely.get_parts(geoms, return_index=True)
    nested = shapely.get_type_id(parts) >= 4  # multi-part or collection inside a collection
    while nested.any():
        sub, sub_owner = shapely.get_parts(parts[nested], return_index=True)
        parts = np.concatenate([parts[~nested], sub])
        owner = np.concatenate([owner[~nested], owner[nested][sub_owner]])
        nested = shapely.get_type_id(parts) >= 4
    keep = (shapely.get_type_id(parts) == 3) & (shapely.area(parts) > 0.0)
    parts, owner = parts[keep], owner[keep]
    out_rings: list[list[PolygonCoords]] = [[] for _ in range(n)]
    if parts.size == 0:
        return [_shape(r) for r in out_rings]
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    xy, ring_of = shapely.get_coordinates(rings, return_index=True)
    lat, lng = frames.inverse(xy, frame_of[owner[ring_part[ring_of]]].astype(np.intp))
    # continuous longitudes along each ring (closing vertex included, it repeats the first)
    starts = np.flatnonzero(np.r_[True, ring_of[1:] != ring_of[:-1]])
    step = (np.diff(lng, prepend=lng[0]) + 180.0) % 360.0 - 180.0
    step[starts] = 0.0
    run = np.cumsum(step)
    lng_u = (
        np.repeat(lng[starts], np.diff(np.r_[starts, lng.shape[0]]))
        + run
        - np.repeat(run[starts], np.diff(np.r_[starts, lng.shape[0]]))
    )
    ends = np.r_[starts[1:], lng.shape[0]] - 1
    closes = np.abs(lng_u[ends] - lng_u[starts]) < 1e-9  # a ring that winds round a pole does not
    inside = (lng_u >= -180.0) & (lng_u <= 180.0)
    ring_ok = closes & np.logical_and.reduceat(inside, starts)
    part_ok = np.ones(parts.size, dtype=bool)
    np.logical_and.at(part_ok, ring_part, ring_ok)
    # orientation: shoelace on lng/lat relative to each ring's first vertex; exteriors (the first
    # ring of a part) counterclockwise, holes clockwise
    x = lng_u - np.repeat(lng_u[starts], np.diff(np.r_[starts, lng.shape[0]]))
    y = lat - np.repeat(lat[starts], np.diff(np.r_[starts, lng.shape[0]]))
    cross = np.r_[x[:-1] * y[1:] - x[1:] * y[:-1], 0.0]
    cross[ends] = 0.0
    area2 = np.add.reduceat(cross, starts)
    first = np.r_[True, ring_part[1:] != ring_part[:-1]]
    flip = np.where(first, area2 < 0.0, area2 > 0.0)
    coords = np.stack([lng_u, lat], axis=-1)
    by_part: dict[int, PolygonCoords] = {}
    for r, (a, b) in enumerate(zip(starts, ends + 1, strict=True)):
        k = int(ring_part[r])
        if not part_ok[k]:
            continue
        ring = coords[a:b][::-1] if flip[r] else coords[a:b]
        by_part.setdefault(k, []).append(ring.tolist())
    for k in range(parts.size):
        f = int(owner[k])
        if part_ok[k]:
            out_rings[f].append(by_part[k])
        else:
            out_rings[f].extend(_coords(p) for p in _slow(parts[k], frames, int(frame_of[f])))
    return [_shape(r) for r in out_rings]


def to_geojson(geometry: shapely.Geometry, frames: Frames, frame: int) -> GeoJson:
    """GeoJSON ``Polygon`` or ``MultiPolygon`` of the areal parts of ``geometry`` (frame coords).

    An empty region (footprints that only touch) gives an empty ``MultiPolygon``.
    """
    return to_geojson_batch([geometry], frames, np.array([frame], dtype=np.int64))[0]
