"""GeoJSON (RFC 7946) in and out of the native API, as F3548 ``Volume4D`` JSON inside.

A volume is a GeoJSON ``Feature``: a ``Polygon`` footprint (exterior ring only, longitude then
latitude) or a ``Point`` with ``properties.radius_m`` (a true circle), and properties:

- ``altitude_lower_m`` / ``altitude_upper_m``: metres above the WGS84 ellipsoid (F3548 ``W84``); or
  ``altitude_lower`` / ``altitude_upper`` as F3548 ``Altitude`` objects (``{"value", "reference",
  "units"}``, units ``M`` or ``FT``; reference ``W84``: comparing altitudes in other references
  needs a geoid or terrain model, which the node does not have, so they are refused);
- ``time_start`` / ``time_end``: RFC 3339 times (with an offset or ``Z``).

A ``FeatureCollection`` is a list of volumes; F3548 ``Volume4D`` objects are accepted as they are.
Defaults for properties missing from every feature may be given beside the collection.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from parley.domain.errors import InvalidInput
from parley.services.party.areas import parse_wire_time, wire_time

Json = dict[str, Any]

FT_M = 0.3048
DEFAULT_KEYS = ("altitude_lower_m", "altitude_upper_m", "time_start", "time_end")


def _altitude(props: Json, side: str, where: str) -> Json | None:
    metres = props.get(f"altitude_{side}_m")
    obj = props.get(f"altitude_{side}")
    if metres is not None and obj is not None:
        raise InvalidInput(f"{where}: give altitude_{side}_m or altitude_{side}, not both")
    if obj is not None:
        if not isinstance(obj, dict) or "value" not in obj:
            raise InvalidInput(f"{where}.altitude_{side}: an object {{value, reference, units}} is expected")
        reference = str(obj.get("reference", "W84"))
        units = str(obj.get("units", "M"))
        if reference != "W84":
            raise InvalidInput(
                f"{where}.altitude_{side}: reference {reference!r} is not supported; give altitudes above "
                "the WGS84 ellipsoid ('W84'): comparing other references needs a geoid or terrain model"
            )
        if units not in ("M", "FT"):
            raise InvalidInput(f"{where}.altitude_{side}: units {units!r}; use 'M' or 'FT'")
        metres = _number(obj["value"], f"{where}.altitude_{side}.value") * (FT_M if units == "FT" else 1.0)
    if metres is None:
        return None
    return {"value": _number(metres, f"{where}.altitude_{side}_m"), "reference": "W84", "units": "M"}


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{where}: a number is expected, got {value!r}")
    return float(value)


def _time(value: Any, where: str) -> Json | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{where}: an RFC 3339 time string is expected")
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{where}: {value!r} is not an RFC 3339 time") from None
    if t.tzinfo is None:
        raise InvalidInput(f"{where}: {value!r} has no time zone offset")
    return wire_time(t)


def _position(p: Any, where: str) -> Json:
    if not isinstance(p, list | tuple) or len(p) < 2:
        raise InvalidInput(f"{where}: a position is [longitude, latitude]")
    lng, lat = _number(p[0], f"{where}[0]"), _number(p[1], f"{where}[1]")
    if not (-180.0 <= lng <= 180.0 and -90.0 <= lat <= 90.0):
        raise InvalidInput(f"{where}: [{lng}, {lat}] is not a longitude and latitude")
    return {"lat": lat, "lng": lng}


def feature_to_volume(feature: Any, where: str, defaults: Json | None = None) -> Json:
    """A GeoJSON volume feature as an F3548 ``Volume4D``."""
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise InvalidInput(f"{where}: a GeoJSON Feature is expected")
    properties, geometry = feature.get("properties") or {}, feature.get("geometry") or {}
    if not isinstance(properties, dict):
        raise InvalidInput(f"{where}.properties: an object is expected")
    if not isinstance(geometry, dict):
        raise InvalidInput(f"{where}.geometry: a GeoJSON geometry object is expected")
    props = {**(defaults or {}), **properties}
    for side in ("lower", "upper"):  # the feature's own altitude, in either form, over a default
        if f"altitude_{side}" in properties and f"altitude_{side}_m" not in properties:
            props.pop(f"altitude_{side}_m", None)
    kind = geometry.get("type")
    v3: Json
    if kind == "Polygon":
        rings = geometry.get("coordinates")
        if not isinstance(rings, list) or not rings or not all(isinstance(r, list) for r in rings):
            raise InvalidInput(f"{where}.geometry: a Polygon needs coordinates (a list of rings)")
        if len(rings) > 1:
            raise InvalidInput(
                f"{where}.geometry: polygons with holes are not supported (F3548 outlines have none)"
            )
        ring = [_position(p, f"{where}.geometry.coordinates[0][{i}]") for i, p in enumerate(rings[0])]
        if len(ring) > 1 and ring[0] == ring[-1]:
            ring = ring[:-1]
        if len(ring) < 3:
            raise InvalidInput(f"{where}.geometry: a polygon needs at least 3 distinct vertices")
        v3 = {"outline_polygon": {"vertices": ring}}
    elif kind == "Point":
        centre = _position(geometry.get("coordinates"), f"{where}.geometry.coordinates")
        radius = props.get("radius_m")
        if radius is None:
            raise InvalidInput(f"{where}: a Point volume needs properties.radius_m (a circle)")
        v3 = {
            "outline_circle": {
                "center": centre,
                "radius": {"value": _number(radius, f"{where}.radius_m"), "units": "M"},
            }
        }
    else:
        raise InvalidInput(f"{where}.geometry: a Polygon or a Point with radius_m is expected, not {kind!r}")
    lower, upper = _altitude(props, "lower", where), _altitude(props, "upper", where)
    if lower is None or upper is None:
        raise InvalidInput(f"{where}: altitude_lower_m and altitude_upper_m are required")
    v3["altitude_lower"], v3["altitude_upper"] = lower, upper
    start, end = (
        _time(props.get("time_start"), f"{where}.time_start"),
        _time(props.get("time_end"), f"{where}.time_end"),
    )
    if start is None or end is None:
        raise InvalidInput(f"{where}: time_start and time_end are required")
    return {"volume": v3, "time_start": start, "time_end": end}


def volumes_from_input(value: Any, where: str, defaults: Json | None = None) -> list[Json]:
    """A FeatureCollection, a list of Features, or a list of F3548 Volume4D objects."""
    if value is None:
        return []
    if isinstance(value, dict) and value.get("type") == "FeatureCollection":
        items = value.get("features")
        if not isinstance(items, list):
            raise InvalidInput(f"{where}.features: a list is expected")
        return [feature_to_volume(f, f"{where}.features[{i}]", defaults) for i, f in enumerate(items)]
    if isinstance(value, dict) and value.get("type") == "Feature":
        return [feature_to_volume(value, where, defaults)]
    if isinstance(value, list):
        out = []
        for i, item in enumerate(value):
            if isinstance(item, dict) and "volume" in item:
                out.append(_f3548_volume(item, f"{where}[{i}]"))
            else:
                out.append(feature_to_volume(item, f"{where}[{i}]", defaults))
        return out
    raise InvalidInput(f"{where}: a GeoJSON FeatureCollection or a list of volumes is expected")


def _f3548_volume(item: Json, where: str) -> Json:
    from parley.api.wire.f3548v21 import Volume4D

    try:
        parsed = Volume4D.model_validate(item)
    except ValueError as error:
        raise InvalidInput(f"{where}: not an F3548 Volume4D: {error}") from None
    out: Json = parsed.model_dump(mode="json", exclude_none=True)
    return out


def volume_to_feature(volume: Json, index: int, *, off_nominal: bool = False) -> Json:
    """An F3548 ``Volume4D`` as a GeoJSON Feature (see the module)."""
    v3 = volume["volume"]
    props: Json = {"index": index, "off_nominal": off_nominal}
    circle = v3.get("outline_circle")
    if circle is not None:
        geometry: Json = {"type": "Point", "coordinates": [circle["center"]["lng"], circle["center"]["lat"]]}
        props["radius_m"] = circle["radius"]["value"]
    else:
        ring = [[p["lng"], p["lat"]] for p in v3["outline_polygon"]["vertices"]]
        geometry = {"type": "Polygon", "coordinates": [ring + ring[:1]]}
    for side in ("lower", "upper"):
        alt = v3.get(f"altitude_{side}")
        props[f"altitude_{side}_m"] = None if alt is None else alt["value"]
    props["altitude_reference"] = "W84"
    for key in ("time_start", "time_end"):
        t = parse_wire_time(volume.get(key))
        props[key] = None if t is None else t.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return {"type": "Feature", "geometry": geometry, "properties": props}


def feature_collection(volumes: list[Json], *, off_nominal: bool = False) -> Json:
    return {
        "type": "FeatureCollection",
        "features": [volume_to_feature(v, i, off_nominal=off_nominal) for i, v in enumerate(volumes)],
    }
