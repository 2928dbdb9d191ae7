"""Volumes, routes and windows carried in request and counter bodies (RFC 7946 GeoJSON).

A **volume** is a GeoJSON ``Feature`` whose geometry is a ``Polygon``, a ``MultiPolygon`` or a
``Point`` (a circle, with ``radius_m``), and whose ``properties`` give the altitude band in metres
above the WGS84 ellipsoid (F3548's ``W84``) and the time window::

    {"type": "Feature",
     "geometry": {"type": "Polygon", "coordinates": [[[lng, lat], ...]]},
     "properties": {"alt_lower_m": 0, "alt_upper_m": 6000,
                    "start": "2017-05-03T06:00:00.000000Z", "end": "2017-05-03T12:00:00.000000Z"}}

A **route** is a ``Feature`` with a ``LineString`` geometry, ``half_width_m`` (the corridor's
half-width, metres), ``start``/``end`` and, optionally, ``alt_lower_m``/``alt_upper_m`` (a convoy on
the ground has none). A **window** is ``{"start": t, "end": t}``.

Checks are structural: members and types, finite coordinates within WGS84 ranges, closed rings of
at least four positions, lower <= upper, start < end, and the vertex count (returned, so that the
entry can hold all its shapes to one limit). Whether a polygon crosses itself is left to the
planning engine that uses it.

>>> square = [[[36.0, 35.0], [36.1, 35.0], [36.1, 35.1], [36.0, 35.0]]]
>>> vol = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": square},
...        "properties": {"alt_lower_m": 0, "alt_upper_m": 6000,
...                       "start": "2017-05-03T06:00:00.000000Z", "end": "2017-05-03T12:00:00.000000Z"}}
>>> check_volume(vol, "body.volume")
4
>>> check_volume({**vol, "properties": {**vol["properties"], "alt_upper_m": -1}}, "body.volume")
Traceback (most recent call last):
...
parley.line.errors.InvalidEntry: body.volume.properties: alt_lower_m is above alt_upper_m
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from parley.line.errors import InvalidEntry
from parley.line.times import parse_time

#: Altitudes outside this band (metres, W84) are refused as nonsense.
ALT_RANGE_M = (-1_000.0, 100_000.0)
#: Largest circle radius or corridor half-width (metres).
MAX_RADIUS_M = 1_000_000.0


def members(
    value: object, field: str, required: Collection[str], optional: Collection[str] = ()
) -> dict[str, Any]:
    """``value`` as a JSON object with exactly the ``required`` members and some ``optional`` ones."""
    if type(value) is not dict:
        raise InvalidEntry(f"{field}: expected an object")
    if value.keys() == required:
        return value  # the common case (exactly the required members), checked at once
    keys = set(value)
    if missing := sorted(set(required) - keys):
        raise InvalidEntry(f"{field}: missing {', '.join(missing)}")
    if unknown := sorted(keys - set(required) - set(optional)):
        raise InvalidEntry(f"{field}: unknown member {', '.join(unknown)}")
    return value


def number(value: object, field: str) -> float:
    """A finite JSON number (not a boolean)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidEntry(f"{field}: expected a finite number")
    return float(value)


def window(value: Mapping[str, Any], field: str) -> tuple[datetime, datetime]:
    """``start`` < ``end`` of an object holding both."""
    start = parse_time(value["start"], f"{field}.start")
    end = parse_time(value["end"], f"{field}.end")
    if not start < end:
        raise InvalidEntry(f"{field}: start is not before end")
    return start, end


def check_window(value: object, field: str) -> tuple[datetime, datetime]:
    """A ``{"start", "end"}`` window."""
    return window(members(value, field, {"start", "end"}), field)


def _altitudes(props: Mapping[str, Any], field: str) -> None:
    lower = number(props["alt_lower_m"], f"{field}.alt_lower_m")
    upper = number(props["alt_upper_m"], f"{field}.alt_upper_m")
    lo, hi = ALT_RANGE_M
    if not (lo <= lower <= hi and lo <= upper <= hi):
        raise InvalidEntry(f"{field}: altitudes must lie within {lo:g}..{hi:g} m")
    if lower > upper:
        raise InvalidEntry(f"{field}: alt_lower_m is above alt_upper_m")


def _position(value: object, field: str) -> None:
    if not isinstance(value, list) or len(value) not in (2, 3):
        raise InvalidEntry(f"{field}: a position is [longitude, latitude] (and an optional altitude)")
    lng, lat = number(value[0], field), number(value[1], field)
    if len(value) == 3:
        number(value[2], field)
    if not (-180.0 <= lng <= 180.0 and -90.0 <= lat <= 90.0):
        raise InvalidEntry(f"{field}: position {value!r} is outside WGS84 longitude/latitude ranges")


def _positions(value: object, field: str, minimum: int) -> int:
    if type(value) is not list or len(value) < minimum:
        raise InvalidEntry(f"{field}: expected at least {minimum} positions")
    for i, position in enumerate(value):
        # The common case inline (a transcript holds tens of thousands of positions); NaN and
        # infinities fail the range comparisons. Anything else: the checks that name the defect.
        if type(position) is list and len(position) == 2:
            lng, lat = position
            if (
                (type(lng) is float or type(lng) is int)
                and (type(lat) is float or type(lat) is int)
                and -180.0 <= lng <= 180.0
                and -90.0 <= lat <= 90.0
            ):
                continue
        _position(position, f"{field}[{i}]")
    return len(value)


def _polygon(value: object, field: str) -> int:
    if not isinstance(value, list) or not value:
        raise InvalidEntry(f"{field}: a polygon is a non-empty list of rings")
    count = 0
    for i, ring in enumerate(value):
        count += _positions(ring, f"{field}[{i}]", 4)
        if ring[0] != ring[-1]:
            raise InvalidEntry(f"{field}[{i}]: a ring's last position must repeat its first")
    return count


_GEOMETRY = frozenset({"type", "coordinates"})
_FEATURE = frozenset({"type", "geometry", "properties"})
_VOLUME = frozenset({"alt_lower_m", "alt_upper_m", "start", "end"})
_CIRCLE = frozenset({"radius_m", "alt_lower_m", "alt_upper_m", "start", "end"})


def _geometry(value: object, field: str, kinds: tuple[str, ...]) -> tuple[str, int]:
    geometry = members(value, field, _GEOMETRY)
    kind = geometry["type"]
    if kind not in kinds:
        raise InvalidEntry(f"{field}.type: expected one of {', '.join(kinds)}, not {kind!r}")
    coords = geometry["coordinates"]
    where = f"{field}.coordinates"
    if kind == "Polygon":
        return kind, _polygon(coords, where)
    if kind == "MultiPolygon":
        if not isinstance(coords, list) or not coords:
            raise InvalidEntry(f"{where}: a MultiPolygon is a non-empty list of polygons")
        return kind, sum(_polygon(p, f"{where}[{i}]") for i, p in enumerate(coords))
    if kind == "LineString":
        return kind, _positions(coords, where, 2)
    _position(coords, where)
    return kind, 1


def _feature(value: object, field: str) -> tuple[dict[str, Any], dict[str, Any]]:
    feature = members(value, field, _FEATURE)
    if feature["type"] != "Feature":
        raise InvalidEntry(f"{field}.type: expected 'Feature'")
    return feature["geometry"], feature["properties"]


def check_volume(value: object, field: str) -> int:
    """A 4D volume (see the module); returns its vertex count."""
    geometry, props = _feature(value, field)
    kind, count = _geometry(geometry, f"{field}.geometry", ("Polygon", "MultiPolygon", "Point"))
    where = f"{field}.properties"
    if kind == "Point":
        members(props, where, _CIRCLE)
        radius = number(props["radius_m"], f"{where}.radius_m")
        if not 0.0 < radius <= MAX_RADIUS_M:
            raise InvalidEntry(f"{where}.radius_m: must be within (0, {MAX_RADIUS_M:g}] m")
    else:
        members(props, where, _VOLUME)
    _altitudes(props, where)
    window(props, where)
    return count


def check_route(value: object, field: str) -> int:
    """A route corridor (see the module); returns its vertex count."""
    geometry, props = _feature(value, field)
    _, count = _geometry(geometry, f"{field}.geometry", ("LineString",))
    where = f"{field}.properties"
    members(props, where, {"half_width_m", "start", "end"}, {"alt_lower_m", "alt_upper_m"})
    half = number(props["half_width_m"], f"{where}.half_width_m")
    if not 0.0 < half <= MAX_RADIUS_M:
        raise InvalidEntry(f"{where}.half_width_m: must be within (0, {MAX_RADIUS_M:g}] m")
    if ("alt_lower_m" in props) != ("alt_upper_m" in props):
        raise InvalidEntry(f"{where}: give both alt_lower_m and alt_upper_m, or neither")
    if "alt_lower_m" in props:
        _altitudes(props, where)
    window(props, where)
    return count
