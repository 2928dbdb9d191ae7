"""What gets checked against protected items, as an :class:`~parley.strategic.Operation`: the line's
volumes and routes (a request being drafted; a check sent to the shared service), and back.

A line **volume** (:mod:`parley.line.shapes`) becomes one 4D volume per polygon (the outer ring; a
hole only makes the check more cautious) or a circle. A **route** corridor becomes, per edge, the
quadrilateral of the points ``half_width_m`` either side of its two ends (perpendicular geodesics),
and a circle of that radius at each point, which together hold the corridor (the points within the
half-width of the polyline); its altitudes are the route's, or every altitude when it gives none.

>>> feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [40.0, 35.0]},
...            "properties": {"radius_m": 300, "alt_lower_m": 0, "alt_upper_m": 120,
...                           "start": "2017-05-03T06:00:00.000000Z", "end": "2017-05-03T07:00:00.000000Z"}}
>>> op = operation_of([feature], id="draft")
>>> op.volumes[0].volume.outline
Circle(center=LatLng(lat=35.0, lng=40.0), radius_m=300.0)
>>> volume_features(op)[0] == feature | {"properties": {**feature["properties"], "radius_m": 300.0}}
True
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from parley.domain.geo import Circle, LatLng, Polygon, Volume3D, Volume4D
from parley.line.shapes import ALT_RANGE_M, check_route, check_volume
from parley.line.times import format_time, parse_time
from parley.strategic.earth import geod
from parley.strategic.model import Operation, OperationKind

Json = dict[str, Any]


def _ll(p: Sequence[float]) -> LatLng:
    return LatLng(float(p[1]), float(p[0]))


def volumes_of_feature(feature: Mapping[str, Any], where: str = "volume") -> list[Volume4D]:
    """The 4D volumes of a line volume Feature (checked first: ``InvalidEntry`` naming the field)."""
    check_volume(feature, where)
    geometry, props = feature["geometry"], feature["properties"]
    start = parse_time(props["start"], f"{where}.properties.start")
    end = parse_time(props["end"], f"{where}.properties.end")
    lo, hi = float(props["alt_lower_m"]), float(props["alt_upper_m"])
    outlines: list[Circle | Polygon]
    if geometry["type"] == "Point":
        outlines = [Circle(_ll(geometry["coordinates"]), float(props["radius_m"]))]
    else:
        polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        outlines = [Polygon(tuple(_ll(p) for p in rings[0][:-1])) for rings in polygons]
    return [Volume4D(Volume3D(o, lo, hi), start, end) for o in outlines]


def volumes_of_route(feature: Mapping[str, Any], where: str = "route") -> list[Volume4D]:
    """4D volumes holding a line route's corridor (see the module)."""
    check_route(feature, where)
    coords, props = feature["geometry"]["coordinates"], feature["properties"]
    start = parse_time(props["start"], f"{where}.properties.start")
    end = parse_time(props["end"], f"{where}.properties.end")
    lo, hi = (
        (float(props["alt_lower_m"]), float(props["alt_upper_m"])) if "alt_lower_m" in props else ALT_RANGE_M
    )
    w = float(props["half_width_m"])
    points = [_ll(p) for p in coords]
    outlines: list[Circle | Polygon] = [Circle(p, w) for p in points]
    g = geod()
    for a, b in itertools.pairwise(points):
        if a == b:
            continue
        az_ab, az_ba, _ = g.inv(a.lng, a.lat, b.lng, b.lat)
        corners = []
        for p, az, sides in ((a, az_ab, (90.0, -90.0)), (b, az_ba, (-90.0, 90.0))):
            for side in sides:
                lng, lat, _ = g.fwd(p.lng, p.lat, az + side, w)
                corners.append(LatLng(float(lat), float(lng)))
        outlines.append(Polygon(tuple(corners)))
    return [Volume4D(Volume3D(o, lo, hi), start, end) for o in outlines]


def operation_of(
    volumes: Sequence[Mapping[str, Any]] = (),
    routes: Sequence[Mapping[str, Any]] = (),
    *,
    id: str,
    kind: OperationKind = OperationKind.OPERATIONAL_INTENT,
) -> Operation:
    """An operation of the given line volumes and route corridors."""
    out: list[Volume4D] = []
    for i, v in enumerate(volumes):
        out += volumes_of_feature(v, f"volumes[{i}]")
    for i, r in enumerate(routes):
        out += volumes_of_route(r, f"routes[{i}]")
    return Operation(id=id, volumes=tuple(out), kind=kind)


def volume_features(operation: Operation) -> list[Json]:
    """Each of ``operation``'s volumes (nominal, then off-nominal) as a line volume Feature; open
    altitudes become the line's range."""
    out: list[Json] = []
    for v in operation.all_volumes():
        outline = v.volume.outline
        if v.time_start is None or v.time_end is None or outline is None:
            raise ValueError("a volume without a window or an outline cannot be checked")
        lo = ALT_RANGE_M[0] if v.volume.altitude_lower_m is None else v.volume.altitude_lower_m
        hi = ALT_RANGE_M[1] if v.volume.altitude_upper_m is None else v.volume.altitude_upper_m
        props: Json = {"alt_lower_m": lo, "alt_upper_m": hi}
        if isinstance(outline, Circle):
            geometry: Json = {"type": "Point", "coordinates": [outline.center.lng, outline.center.lat]}
            props["radius_m"] = outline.radius_m
        else:
            ring = [[p.lng, p.lat] for p in outline.vertices]
            geometry = {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
        props |= {"start": format_time(v.time_start), "end": format_time(v.time_end)}
        out.append({"type": "Feature", "geometry": geometry, "properties": props})
    return out
