"""A requested volume plus a safety buffer, in a local frame where containment and distances are exact.

A :class:`Zone` is what a party must get its aircraft out of (VACATE) or keep them out of (HOLD_CLEAR):
the requested 4D volume (polygon, multipolygon or circle footprint on the WGS84 ellipsoid; altitude
band in metres above the ellipsoid, F3548 ``W84``; time window ``[start, end)``) widened by a
horizontal buffer ``buffer_h_m`` and a vertical buffer ``buffer_v_m``. A point is *in the zone* when

    d_h(p) <= buffer_h_m   and   alt_lower_m - buffer_v_m <= alt_m <= alt_upper_m + buffer_v_m

where ``d_h(p)`` is the distance along the ellipsoid from the point's ground position to the
footprint (0 inside it). The zone is closed: its boundary belongs to it.

The frame
---------
Geometry lives in an azimuthal equidistant (AEQD) frame on the WGS84 ellipsoid, centred on the
footprint (:class:`AeqdFrame`): ``x`` east, ``y`` north, metres, ``(x, y) = s (sin a, cos a)`` for
the geodesic distance ``s`` and azimuth ``a`` from the centre (Karney's geodesics through PROJ, so
the projection is exact, not a series). AEQD rather than the strategic engine's gnomonic frames
(:mod:`parley.strategic.frame`) because a zone is mostly about *distances* (buffers, margins, exit
route lengths): AEQD keeps distances from the centre exact and scales distances across by
``(s/R) / sin(s/R) ~ 1 + s^2 / (6 R^2)``, i.e. 1.6e-4 at 200 km, so a 500 m buffer is measured to
8 cm there (the gnomonic frame stretches radial distances by ``1 + s^2 / R^2``, six times as much).
The price: geodesic polygon edges are not straight in AEQD. Edges are therefore split along the true
geodesic every :data:`DENSIFY_M` (1 km) before projection, which keeps the projected outline within
1 mm of the true one up to :data:`MAX_REACH_M` (500 km) from the centre (the chord of a geodesic of
length ``L`` at distance ``d`` from the centre departs from its image by about ``d L^2 / (12 R^2)``).
Zones reaching further than :data:`MAX_REACH_M` are refused; split them.

Buffers
-------
:data:`DEFAULT_BUFFER_H_M` = 500 m and :data:`DEFAULT_BUFFER_V_M` = 150 m (about 500 ft) are a
sensible separation margin between crewed and uncrewed aircraft at the low and medium altitudes
such requests concern: they are the horizontal and vertical extents of the "well clear" volume used
for uncrewed aircraft around crewed ones (RTCA DO-365's 4,000 ft / 450 ft well-clear thresholds sit
above them; ICAO's 5 NM / 1,000 ft radar separation far above), and they cover a position error of a
few hundred metres from degraded navigation or telemetry latency. They are defaults; a request may
name its own.

>>> from datetime import UTC, datetime
>>> square = [[[36.0, 35.0], [36.1, 35.0], [36.1, 35.1], [36.0, 35.1], [36.0, 35.0]]]
>>> zone = Zone.from_volume({"type": "Feature",
...     "geometry": {"type": "Polygon", "coordinates": square},
...     "properties": {"alt_lower_m": 0, "alt_upper_m": 3000,
...                    "start": "2017-05-03T06:00:00.000000Z", "end": "2017-05-03T12:00:00.000000Z"}})
>>> zone.contains(35.05, 36.05, 1000.0), zone.contains(35.05, 36.05, 3200.0)
(True, False)
>>> zone.contains(35.05, 36.104, 1000.0)  # 365 m east of the east edge: in the 500 m buffer
True
>>> round(zone.margin_m(35.05, 36.2, 1000.0))  # 9.1 km east of the edge, less the buffer
8623
>>> zone.active(datetime(2017, 5, 3, 12, tzinfo=UTC))
False
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from parley.domain.errors import InvalidInput
from parley.domain.geo import (
    MAX_ALTITUDE_M,
    MIN_ALTITUDE_M,
    Circle,
    LatLng,
    Polygon,
    Volume3D,
    Volume4D,
    validate_altitudes,
    validate_outline,
    validate_time_window,
)
from parley.line.shapes import check_volume
from parley.line.times import parse_time
from parley.strategic.earth import geod

F64 = NDArray[np.float64]
Bools = NDArray[np.bool_]

#: Default horizontal buffer, metres (see the module notes for why).
DEFAULT_BUFFER_H_M = 500.0
#: Default vertical buffer, metres (about 500 ft).
DEFAULT_BUFFER_V_M = 150.0
#: Largest buffer accepted, metres.
MAX_BUFFER_M = 100_000.0
#: Farthest the buffered footprint may reach from the frame's centre, metres.
MAX_REACH_M = 500_000.0
#: Geodesic polygon edges are split into pieces at most this long before projection, metres.
DENSIFY_M = 1_000.0
#: Vertices a footprint may have (F3548 ``OiMaxVertices``).
MAX_VERTICES = 10_000
#: Segments per quarter circle of buffered outlines (GEOS ``quad_segs``).
QUAD_SEGS = 16
#: Segments of a circle footprint drawn as a polygon.
CIRCLE_SEGMENTS = 256
#: Vertices of :meth:`Zone.to_volume4d`'s outline, at most, by default.
OUTLINE_MAX_VERTICES = 256
#: Pieces of :meth:`Zone.to_volumes4d` reach at most this far from their vertices' mean, metres
#: (the strategic engine checks polygons reaching up to 125 km exactly).
PIECE_REACH_M = 100_000.0
#: Largest circle radius the strategic engine checks exactly, metres.
ENGINE_MAX_CIRCLE_M = 100_000.0
#: Smallest radius of curvature of WGS84, metres (for the geodesic-edge sag bound).
_R_MIN_M = 6_335_439.0


def _f64(value: ArrayLike) -> F64:
    return np.atleast_1d(np.asarray(value, dtype=np.float64))


@dataclass(frozen=True, slots=True)
class AeqdFrame:
    """Azimuthal equidistant projection of the WGS84 ellipsoid centred on ``(lat_deg, lng_deg)``.

    ``forward`` maps a point at geodesic distance ``s`` and azimuth ``a`` (clockwise from north) from
    the centre to ``(x, y) = (s sin a, s cos a)`` metres; ``inverse`` undoes it exactly (one direct
    geodesic per point). Vectorised over numpy arrays; about 1 us per point.

    >>> f = AeqdFrame(45.0, 7.0)
    >>> x, y = f.forward([45.0], [7.01])
    >>> round(float(x[0]), 3), round(float(y[0]), 6)
    (788.468, 0.048654)
    >>> lat, lng = f.inverse(x, y)
    >>> round(float(lat[0]), 12), round(float(lng[0]), 12)
    (45.0, 7.01)
    """

    lat_deg: float
    lng_deg: float

    def forward(self, lat_deg: ArrayLike, lng_deg: ArrayLike) -> tuple[F64, F64]:
        """Frame coordinates ``(x, y)``, metres, of geodetic points (degrees)."""
        lat, lng = np.broadcast_arrays(_f64(lat_deg), _f64(lng_deg))
        shape = lat.shape
        lat, lng = lat.ravel(), lng.ravel()
        if lat.size == 0:
            return np.zeros(shape), np.zeros(shape)
        az, _, s = geod().inv(np.full(lat.size, self.lng_deg), np.full(lat.size, self.lat_deg), lng, lat)
        a = np.radians(np.asarray(az, dtype=np.float64))
        s = np.asarray(s, dtype=np.float64)
        return (s * np.sin(a)).reshape(shape), (s * np.cos(a)).reshape(shape)

    def inverse(self, x_m: ArrayLike, y_m: ArrayLike) -> tuple[F64, F64]:
        """Geodetic latitude and longitude (degrees; longitude in ``(-180, 180]``) of frame points."""
        x, y = np.broadcast_arrays(_f64(x_m), _f64(y_m))
        shape = x.shape
        x, y = x.ravel(), y.ravel()
        if x.size == 0:
            return np.zeros(shape), np.zeros(shape)
        lng, lat, _ = geod().fwd(
            np.full(x.size, self.lng_deg),
            np.full(x.size, self.lat_deg),
            np.degrees(np.arctan2(x, y)),
            np.hypot(x, y),
        )
        return (
            np.asarray(lat, dtype=np.float64).reshape(shape),
            np.asarray(lng, dtype=np.float64).reshape(shape),
        )


def _densify(lat: F64, lng: F64, max_edge_m: float = DENSIFY_M) -> tuple[F64, F64]:
    """A ring (open: the last vertex is not a repeat of the first) with every geodesic edge longer
    than ``max_edge_m`` split at points of the true geodesic."""
    lat2, lng2 = np.roll(lat, -1), np.roll(lng, -1)
    _, _, s = geod().inv(lng, lat, lng2, lat2)
    pieces = np.ceil(np.asarray(s, dtype=np.float64) / max_edge_m).astype(np.int64)
    if int(pieces.max(initial=1)) <= 1:
        return lat, lng
    out_lat: list[float] = []
    out_lng: list[float] = []
    for i in range(lat.size):
        out_lat.append(float(lat[i]))
        out_lng.append(float(lng[i]))
        if pieces[i] > 1:
            for p_lng, p_lat in geod().npts(
                float(lng[i]), float(lat[i]), float(lng2[i]), float(lat2[i]), int(pieces[i]) - 1
            ):
                out_lat.append(p_lat)
                out_lng.append(p_lng)
    return np.array(out_lat), np.array(out_lng)


def _check_buffer(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{name}: expected a finite number of metres, got {value!r}")
    if not 0.0 <= value <= MAX_BUFFER_M:
        raise InvalidInput(f"{name}: must be within [0, {MAX_BUFFER_M:g}] m, got {value:g}")
    return float(value)


def _polygonal_parts(geometry: shapely.Geometry) -> list[shapely.Polygon]:
    parts = [p for p in shapely.get_parts(geometry) if isinstance(p, shapely.Polygon) and p.area > 0.0]
    return sorted(parts, key=lambda p: -float(p.area))


def _plain(value: Any) -> Any:
    """A JSON-like value with every mapping a ``dict`` and every sequence a ``list``."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _sag_m(reach_m: float, edge_m: float) -> float:
    """Bound on how far a geodesic of length ``edge_m`` within ``reach_m`` of the frame's centre
    departs from its chord in the frame (measured: ``d L^2 / (12 R^2)``; twice that here)."""
    return reach_m * edge_m * edge_m / (6.0 * _R_MIN_M * _R_MIN_M)


def _count(poly: shapely.Polygon) -> int:
    return len(poly.exterior.coords) - 1


def _grow_simplified(shell: shapely.Polygon, max_vertices: int) -> shapely.Polygon:
    """A polygon of at most ``max_vertices`` vertices containing ``shell`` (a polygon without holes).

    Douglas-Peucker with tolerance ``tol`` keeps every removed vertex (and so every removed piece of
    the outline) within ``tol`` of the simplified outline; widening that by ``tol`` (mitred corners,
    which contain round ones) therefore contains the original. ``tol`` is found by growing it by half
    until plain Douglas-Peucker keeps 90 % of ``max_vertices`` (cheap), then the topology-preserving
    version is widened, and ``tol`` grows again if the result has too many vertices.
    """
    if _count(shell) <= max_vertices:
        return shell
    tol = shell.length / _count(shell) / 10.0
    while _count(shapely.simplify(shell, tol, preserve_topology=False)) > 0.9 * max_vertices:
        tol *= 1.5
    for _ in range(60):
        simple = shapely.simplify(shell, tol, preserve_topology=True)
        grown = shapely.buffer(simple, tol, join_style="mitre", mitre_limit=4.0)
        parts = _polygonal_parts(grown)
        if len(parts) == 1:
            candidate = shapely.Polygon(parts[0].exterior)
            if _count(candidate) <= max_vertices and candidate.covers(shell):
                return candidate
        tol *= 1.5
    return shapely.Polygon(
        shapely.envelope(shell).buffer(1.0, join_style="mitre").exterior
    )  # pragma: no cover


def _reduce(poly: shapely.Polygon, max_vertices: int) -> shapely.Polygon:
    """A polygon without holes, of at most ``max_vertices`` vertices, that contains ``poly``: the
    smaller of the simplified-and-widened outline (:func:`_grow_simplified`) and the same made of the
    convex hull (better for outlines too intricate to follow with that many vertices)."""
    shell = shapely.Polygon(poly.exterior)
    if len(shell.exterior.coords) - 1 <= max_vertices:
        return shell
    own = _grow_simplified(shell, max_vertices)
    hull = _grow_simplified(shapely.convex_hull(shell), max_vertices)
    return own if own.area <= hull.area else hull


@dataclass(frozen=True, slots=True, eq=False)
class Zone:
    """A requested 4D volume plus a horizontal and a vertical buffer (see the module notes).

    Build one with :meth:`from_volume` (the line's GeoJSON volume) or :meth:`from_volume4d`.

    - ``frame``: the AEQD frame centred on the footprint; ``footprint``: the requested footprint in
      it (shapely ``Polygon``/``MultiPolygon``, metres; for a circle, an inscribed
      :data:`CIRCLE_SEGMENTS`-gon, drawing only: circles are tested exactly with ``radius_m``);
      ``radius_m``: the circle's radius, or ``None`` for a polygonal footprint.
    - ``buffered``: an outer approximation of the footprint widened by ``buffer_h_m``: it contains
      every point within ``buffer_h_m`` of the footprint and lies within about 1 m + 0.2 % of the
      buffer outside it (chords circumscribe the round corners). Prepared.
    - ``alt_lower_m``/``alt_upper_m``: the requested band (metres, W84; ``-inf``/``+inf`` when
      unbounded); ``start``/``end``: the window ``[start, end)``; ``name``: a label for reports.
    """

    frame: AeqdFrame
    footprint: shapely.Geometry = field(repr=False)
    radius_m: float | None
    alt_lower_m: float
    alt_upper_m: float
    start: datetime
    end: datetime
    buffer_h_m: float = DEFAULT_BUFFER_H_M
    buffer_v_m: float = DEFAULT_BUFFER_V_M
    name: str | None = None
    buffered: shapely.Geometry = field(init=False, repr=False)
    _edges: shapely.STRtree = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "buffered", self.expanded(0.0))
        xy, ring = shapely.get_coordinates(
            shapely.get_rings(shapely.get_parts(self.footprint)), return_index=True
        )
        same = ring[1:] == ring[:-1]
        segments = shapely.linestrings(np.stack([xy[:-1][same], xy[1:][same]], axis=1))
        object.__setattr__(self, "_edges", shapely.STRtree(segments))
        for g in (self.footprint, self.buffered):
            shapely.prepare(g)
            shapely.contains_xy(g, 0.0, 0.0)  # build the lazy point-in-area index now, not in a race

    # -- construction -----------------------------------------------------------------------------
    @classmethod
    def from_volume(
        cls,
        feature: Mapping[str, Any],
        *,
        buffer_h_m: float = DEFAULT_BUFFER_H_M,
        buffer_v_m: float = DEFAULT_BUFFER_V_M,
        name: str | None = None,
        where: str = "volume",
    ) -> Zone:
        """The zone of a line volume (GeoJSON ``Feature``: ``Polygon``, ``MultiPolygon``, or ``Point``
        with ``properties.radius_m``; see :mod:`parley.line.shapes`).

        Polygon edges are geodesics (as F3548's), holes are honoured, overlapping parts of a
        ``MultiPolygon`` are merged. Raises :class:`~parley.domain.errors.InvalidInput` naming the
        field (prefixed ``where``) for a malformed volume, crossing edges, a footprint without area,
        a buffer that is negative or not finite, or a zone reaching beyond :data:`MAX_REACH_M`.
        """
        bh = _check_buffer(buffer_h_m, "buffer_h_m")
        bv = _check_buffer(buffer_v_m, "buffer_v_m")
        plain = _plain(feature)
        check_volume(plain, where)
        geometry, props = plain["geometry"], plain["properties"]
        start = parse_time(props["start"], f"{where}.properties.start")
        end = parse_time(props["end"], f"{where}.properties.end")
        lower, upper = float(props["alt_lower_m"]), float(props["alt_upper_m"])
        coords = geometry["coordinates"]
        if geometry["type"] == "Point":
            return cls._circle(
                LatLng(float(coords[1]), float(coords[0])),
                float(props["radius_m"]),
                (lower, upper, start, end, bh, bv, name),
                f"{where}.properties.radius_m",
            )
        polygons = [coords] if geometry["type"] == "Polygon" else coords
        rings = [
            [
                (np.array([float(p[1]) for p in ring[:-1]]), np.array([float(p[0]) for p in ring[:-1]]))
                for ring in polygon
            ]
            for polygon in polygons
        ]
        n = sum(r[0].size for polygon in rings for r in polygon)
        if n > MAX_VERTICES:
            raise InvalidInput(f"{where}.geometry: at most {MAX_VERTICES} vertices, got {n}")
        where_coords = f"{where}.geometry.coordinates"
        labels = (
            [where_coords]
            if geometry["type"] == "Polygon"
            else [f"{where_coords}[{i}]" for i in range(len(rings))]
        )
        return cls._polygons(rings, labels, (lower, upper, start, end, bh, bv, name), f"{where}.geometry")

    @classmethod
    def from_volume4d(
        cls,
        v: Volume4D,
        *,
        buffer_h_m: float = DEFAULT_BUFFER_H_M,
        buffer_v_m: float = DEFAULT_BUFFER_V_M,
        name: str | None = None,
        where: str = "volume",
    ) -> Zone:
        """The zone of a domain :class:`~parley.domain.geo.Volume4D` (polygon or circle).

        A missing altitude bound is unbounded (``-inf``/``+inf``); both time bounds are required.
        """
        bh = _check_buffer(buffer_h_m, "buffer_h_m")
        bv = _check_buffer(buffer_v_m, "buffer_v_m")
        outline = v.volume.outline
        if outline is None:
            raise InvalidInput(f"{where}: a footprint (circle or polygon) is required")
        validate_outline(outline, max_vertices=MAX_VERTICES, where=f"{where}.outline")
        validate_altitudes(v.volume.altitude_lower_m, v.volume.altitude_upper_m, where=where)
        validate_time_window(v.time_start, v.time_end, where=where)
        if v.time_start is None or v.time_end is None:
            raise InvalidInput(f"{where}: a zone needs both time_start and time_end")
        lower = -math.inf if v.volume.altitude_lower_m is None else float(v.volume.altitude_lower_m)
        upper = math.inf if v.volume.altitude_upper_m is None else float(v.volume.altitude_upper_m)
        rest = (lower, upper, v.time_start, v.time_end, bh, bv, name)
        if isinstance(outline, Circle):
            return cls._circle(outline.center, outline.radius_m, rest, f"{where}.outline.radius")
        lat = np.array([p.lat for p in outline.vertices])
        lng = np.array([p.lng for p in outline.vertices])
        return cls._polygons([[(lat, lng)]], [f"{where}.outline"], rest, f"{where}.outline")

    @classmethod
    def _circle(
        cls,
        centre: LatLng,
        radius_m: float,
        rest: tuple[float, float, datetime, datetime, float, float, str | None],
        where: str,
    ) -> Zone:
        lower, upper, start, end, bh, bv, name = rest
        if not (math.isfinite(radius_m) and radius_m > 0.0):
            raise InvalidInput(f"{where}: must be a positive number of metres, got {radius_m}")
        if radius_m + bh > MAX_REACH_M:
            raise InvalidInput(
                f"{where}: the zone (radius plus buffer) reaches {(radius_m + bh) / 1000:.0f} km from its "
                f"centre, beyond the {MAX_REACH_M / 1000:g} km kept accurate; split the volume"
            )
        disc = shapely.Point(0.0, 0.0).buffer(radius_m, quad_segs=CIRCLE_SEGMENTS // 4)
        return cls(AeqdFrame(centre.lat, centre.lng), disc, radius_m, lower, upper, start, end, bh, bv, name)

    @classmethod
    def _polygons(
        cls,
        rings: Sequence[Sequence[tuple[F64, F64]]],
        labels: Sequence[str],
        rest: tuple[float, float, datetime, datetime, float, float, str | None],
        where: str,
    ) -> Zone:
        lower, upper, start, end, bh, bv, name = rest
        dense = [[_densify(lat, lng) for lat, lng in polygon] for polygon in rings]
        first = AeqdFrame(float(rings[0][0][0][0]), float(rings[0][0][1][0]))

        def project(frame: AeqdFrame) -> list[shapely.Polygon]:
            out = []
            for polygon in dense:
                xy = [np.stack(frame.forward(lat, lng), axis=-1) for lat, lng in polygon]
                out.append(shapely.Polygon(xy[0], xy[1:]))
            return out

        rough = project(first)
        x0, y0, x1, y1 = shapely.total_bounds(np.asarray(rough, dtype=object))
        lat_c, lng_c = first.inverse([(x0 + x1) / 2.0], [(y0 + y1) / 2.0])
        frame = AeqdFrame(float(lat_c[0]), float(lng_c[0]))
        polys = project(frame)
        for label, poly in zip(labels, polys, strict=True):
            if not poly.is_valid:
                raise InvalidInput(
                    f"{label}: polygon edges cross or touch, or a hole is not inside its shell "
                    f"({shapely.is_valid_reason(poly)})"
                )
            if not poly.area > 0.0:
                raise InvalidInput(f"{label}: the polygon has no area")
        footprint = polys[0] if len(polys) == 1 else shapely.union_all(polys)
        reach = float(np.max(np.hypot(*shapely.get_coordinates(footprint).T))) + bh
        if reach > MAX_REACH_M:
            raise InvalidInput(
                f"{where}: the zone (footprint plus buffer) reaches {reach / 1000:.0f} km from its centre, "
                f"beyond the {MAX_REACH_M / 1000:g} km kept accurate; split the volume"
            )
        return cls(frame, footprint, None, lower, upper, start, end, bh, bv, name)

    # -- geometry in the frame ----------------------------------------------------------------------
    @property
    def centre(self) -> LatLng:
        """The frame's centre (the footprint's bounding-box centre, or the circle's centre)."""
        return LatLng(self.frame.lat_deg, self.frame.lng_deg)

    @property
    def floor_m(self) -> float:
        """Lowest altitude of the buffered zone, metres (``alt_lower_m - buffer_v_m``)."""
        return self.alt_lower_m - self.buffer_v_m

    @property
    def ceiling_m(self) -> float:
        """Highest altitude of the buffered zone, metres (``alt_upper_m + buffer_v_m``)."""
        return self.alt_upper_m + self.buffer_v_m

    def expanded(self, extra_m: float, max_vertices: int | None = None) -> shapely.Geometry:
        """A polygon (frame metres) containing every point within ``buffer_h_m + extra_m`` of the
        footprint, and within about ``1 m + 0.2 %`` of that distance of them.

        Round corners are drawn with chords that circumscribe the true arcs (radius divided by
        ``cos(pi / (4 QUAD_SEGS))``), and a 0.5 m slack covers rounding. With ``max_vertices``, each
        part with more vertices is replaced by a simpler polygon that contains it (holes filled).
        """
        shape = self._expanded(extra_m)
        if max_vertices is None or len(shapely.get_coordinates(shape)) <= max_vertices:
            return shape
        return shapely.union_all([_reduce(p, max_vertices) for p in _polygonal_parts(shape)])

    def _expanded(self, extra_m: float) -> shapely.Geometry:
        d = self.buffer_h_m + extra_m
        if self.radius_m is not None:
            n = CIRCLE_SEGMENTS
            rho = (self.radius_m + d + 0.5) / math.cos(math.pi / n)
            a = np.linspace(0.0, 2.0 * math.pi, n, endpoint=False)
            return shapely.Polygon(np.stack([rho * np.sin(a), rho * np.cos(a)], axis=-1))
        grow = (d + 0.5) / math.cos(math.pi / (4 * QUAD_SEGS))
        return shapely.buffer(self.footprint, grow, quad_segs=QUAD_SEGS)

    def margin_h_xy(self, x_m: ArrayLike, y_m: ArrayLike) -> F64:
        """Signed horizontal distance of frame points to the buffered footprint, metres: the
        distance to the footprint's outline minus ``buffer_h_m``, negated inside the footprint
        (nearest outline segment from an R-tree of them: logarithmic in the vertex count)."""
        x, y = _f64(x_m), _f64(y_m)
        if self.radius_m is not None:
            return np.asarray(np.hypot(x, y) - self.radius_m - self.buffer_h_m, dtype=np.float64)
        which, dist = self._edges.query_nearest(shapely.points(x, y), return_distance=True, all_matches=False)
        d = np.empty(x.shape[0])
        d[which[0]] = dist
        inside = shapely.contains_xy(self.footprint, x, y)
        return np.where(inside, -d, d) - self.buffer_h_m

    def contains_h_xy(self, x_m: ArrayLike, y_m: ArrayLike) -> Bools:
        """Whether frame points lie within ``buffer_h_m`` of the footprint (``margin_h_xy <= 0``).

        Points inside the footprint, or outside :attr:`buffered`, are decided by prepared point
        tests; only those in between are measured.
        """
        x, y = _f64(x_m), _f64(y_m)
        if self.radius_m is not None:
            return np.asarray(self.margin_h_xy(x, y) <= 0.0)
        out = np.asarray(shapely.contains_xy(self.footprint, x, y), dtype=np.bool_)
        near = np.flatnonzero(~out & shapely.contains_xy(self.buffered, x, y))
        if near.size:
            out[near] = self.margin_h_xy(x[near], y[near]) <= 0.0
        return out

    def margin_v(self, alt_m: ArrayLike) -> F64:
        """Signed vertical distance to the buffered band, metres (negative inside):
        ``max(floor_m - alt_m, alt_m - ceiling_m)``."""
        alt = _f64(alt_m)
        with np.errstate(invalid="ignore"):
            return np.asarray(np.maximum(self.floor_m - alt, alt - self.ceiling_m), dtype=np.float64)

    # -- the public point tests ---------------------------------------------------------------------
    def contains_many(self, lat: ArrayLike, lng: ArrayLike, alt_m: ArrayLike) -> Bools:
        """:meth:`contains` for arrays of points (broadcast together)."""
        la, ln, al = np.broadcast_arrays(_f64(lat), _f64(lng), _f64(alt_m))
        out = self.margin_v(al.ravel()) <= 0.0
        idx = np.flatnonzero(out)
        if idx.size:
            x, y = self.frame.forward(la.ravel()[idx], ln.ravel()[idx])
            out[idx] = self.contains_h_xy(x, y)
        return out.reshape(la.shape)

    def contains(self, lat: float, lng: float, alt_m: float) -> bool:
        """Whether a point (degrees, metres W84) is in the buffered zone (at any time; see
        :meth:`active`): within ``buffer_h_m`` of the footprint and within
        ``[alt_lower_m - buffer_v_m, alt_upper_m + buffer_v_m]``. Equivalent to ``margin_m <= 0``."""
        return bool(self.contains_many(lat, lng, alt_m)[0])

    def margin_many(self, lat: ArrayLike, lng: ArrayLike, alt_m: ArrayLike) -> F64:
        """:meth:`margin_m` for arrays of points (broadcast together)."""
        la, ln, al = np.broadcast_arrays(_f64(lat), _f64(lng), _f64(alt_m))
        x, y = self.frame.forward(la.ravel(), ln.ravel())
        h = self.margin_h_xy(x, y)
        return np.asarray(np.maximum(h, self.margin_v(al.ravel())), dtype=np.float64).reshape(la.shape)

    def margin_m(self, lat: float, lng: float, alt_m: float) -> float:
        """Signed distance to the buffered zone's boundary, metres: ``max(h, v)`` where

        - ``h`` = horizontal distance from the point to the footprint's outline minus ``buffer_h_m``,
          negated when the point is inside the footprint;
        - ``v`` = ``max(floor_m - alt_m, alt_m - ceiling_m)``.

        Negative inside (then ``-margin`` is exactly the distance to the nearest face, side, top or
        bottom), positive outside (a lower bound of the 3D distance, exact when the point is beside,
        above or below the zone rather than off a corner), 0 on the boundary. ``contains`` is
        ``margin_m <= 0``.
        """
        return float(self.margin_many(lat, lng, alt_m)[0])

    def active(self, t: datetime) -> bool:
        """Whether the zone is in force at ``t``: ``start <= t < end``."""
        return self.start <= t < self.end

    # -- for the strategic engine -------------------------------------------------------------------
    def _to_latlng(self, poly: shapely.Polygon) -> Polygon:
        xy = np.asarray(poly.exterior.coords)[:-1]
        lat, lng = self.frame.inverse(xy[:, 0], xy[:, 1])
        return Polygon(tuple(LatLng(a, b) for a, b in zip(lat.tolist(), lng.tolist(), strict=True)))

    def _safe(self, poly: shapely.Polygon, max_vertices: int) -> shapely.Polygon:
        """``poly`` (no holes) reduced to ``max_vertices`` and widened by the bound on how far its
        edges, once geodesics, may stray inside it (:func:`_sag_m`), plus 0.5 m."""
        target = max_vertices
        while True:
            reduced = _reduce(poly, target)
            xy = np.asarray(reduced.exterior.coords)
            edge = float(np.max(np.hypot(*np.diff(xy, axis=0).T)))
            reach = float(np.max(np.hypot(xy[:, 0], xy[:, 1])))
            grown = shapely.buffer(reduced, 0.5 + _sag_m(reach, edge), join_style="mitre", mitre_limit=4.0)
            out = shapely.Polygon(_polygonal_parts(grown)[0].exterior)
            if len(out.exterior.coords) - 1 <= max_vertices or target <= 16:
                return out
            target -= 8

    def _volume(self, outline: Polygon | Circle) -> Volume4D:
        lo = None if math.isinf(self.floor_m) else max(self.floor_m, MIN_ALTITUDE_M)
        hi = None if math.isinf(self.ceiling_m) else min(self.ceiling_m, MAX_ALTITUDE_M)
        return Volume4D(Volume3D(outline, lo, hi), self.start, self.end)

    def outline(self, max_vertices: int = OUTLINE_MAX_VERTICES) -> shapely.Polygon:
        """The frame polygon (no holes, at most about ``max_vertices`` vertices) whose geodesic
        version :meth:`to_volume4d` returns: it contains the buffered footprint (several parts: their
        convex hull)."""
        outer = self._mitred()
        parts = _polygonal_parts(outer)
        shell = shapely.Polygon(parts[0].exterior) if len(parts) == 1 else shapely.convex_hull(outer)
        return self._safe(shell, max_vertices)

    def _mitred(self) -> shapely.Geometry:
        """The footprint widened by the buffer (plus 0.5 m) with mitred corners: it contains the
        buffered footprint without the many vertices of round corners (circles: :attr:`buffered`)."""
        if self.radius_m is not None:
            return self.buffered
        return shapely.buffer(self.footprint, self.buffer_h_m + 0.5, join_style="mitre", mitre_limit=2.0)

    def to_volume4d(self, max_vertices: int = OUTLINE_MAX_VERTICES) -> Volume4D:
        """The buffered zone as one F3548-style polygon volume that contains it.

        The outline (geodesic edges, at most about ``max_vertices`` vertices) contains every point
        within ``buffer_h_m`` of the footprint: holes are filled, a footprint in several parts
        becomes their convex hull, and the outline is simplified outward (see :func:`_reduce`) and
        widened by a bound on how far a geodesic edge strays from its chord in the frame. The band is
        ``[floor_m, ceiling_m]`` (clipped to F3548's altitude limits; ``None`` where unbounded), the
        window ``[start, end)``.
        """
        return self._volume(self._to_latlng(self.outline(max_vertices)))

    def to_volumes4d(self, max_vertices: int = OUTLINE_MAX_VERTICES) -> tuple[Volume4D, ...]:
        """Volumes that together contain the buffered zone, each within the strategic engine's
        envelope: a circle zone is one exact circle (radius ``radius_m + buffer_h_m``, when at most
        100 km); otherwise each part of the buffered footprint becomes a polygon as in
        :meth:`to_volume4d`, cut into pieces reaching at most :data:`PIECE_REACH_M` from their centre
        when it is larger (pieces overlap by a metre so that no sliver between them is missed)."""
        if self.radius_m is not None and self.radius_m + self.buffer_h_m <= ENGINE_MAX_CIRCLE_M:
            return (self._volume(Circle(self.centre, self.radius_m + self.buffer_h_m)),)
        out: list[Volume4D] = []
        for part in _polygonal_parts(self._mitred()):
            shell = self._safe(shapely.Polygon(part.exterior), max_vertices)
            xy = np.asarray(shell.exterior.coords)[:-1]
            if float(np.max(np.hypot(*(xy - xy.mean(axis=0)).T))) <= PIECE_REACH_M:
                out.append(self._volume(self._to_latlng(shell)))
                continue
            side = PIECE_REACH_M / math.sqrt(2.0) - 2_000.0
            x0, y0, x1, y1 = shell.bounds
            for gx in np.arange(x0, x1, side):
                for gy in np.arange(y0, y1, side):
                    cell = shapely.box(gx, gy, gx + side, gy + side)
                    for piece in _polygonal_parts(shapely.intersection(shell, cell)):
                        widened = shapely.buffer(piece, 1.0, join_style="mitre", mitre_limit=4.0)
                        dense = shapely.segmentize(shapely.Polygon(widened.exterior), 5_000.0)
                        out.append(self._volume(self._to_latlng(dense)))
        return tuple(out)
