"""What ``parley protect`` reads and builds: the exact notice members of a protected site (a GeoJSON
Point with a radius, or a Polygon) or a protected movement (a GeoJSON LineString, its corridor and
schedule), completed from the command's options and checked with the line's own rules
(:func:`parley.protection.notice.protected_from_notice`) before anything is sent.

Every problem is a :class:`Failure` (exit 2) naming the option, the file or the member.

>>> from datetime import UTC, datetime
>>> t0 = datetime(2030, 1, 1, tzinfo=UTC)
>>> waypoint("+1h=0", t0, "--at")
{'t': '2030-01-01T01:00:00.000000Z', 'distance_m': 0.0}
>>> waypoint("2030-01-01T02:00:00Z=12.5km", t0, "--at")
{'t': '2030-01-01T02:00:00.000000Z', 'distance_m': 12500.0}
>>> margin("10m"), margin("90")
(600.0, 90.0)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from parley.cli.line_input import Window, _complete, _one_feature, _read_json, band, line_time
from parley.cli.ops_client import Failure, Json
from parley.cli.ops_input import parse_duration
from parley.domain.errors import InvalidInput
from parley.line.shapes import ALT_RANGE_M
from parley.protection.model import DEFAULT_TIME_MARGIN_S, Category
from parley.protection.notice import protected_from_notice

_DISTANCE: Final = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(km|m)?\s*", re.I)
#: The id a notice is checked under before the node gives it one.
_PROBE_ID: Final = "00000000-0000-4000-8000-000000000000"


def waypoint(text: str, now: datetime, what: str) -> Json:
    """``TIME=DISTANCE``: when the convoy is expected how far along its route (metres, or ``km``)."""
    when, sep, distance = text.rpartition("=")
    if not sep or not when.strip():
        raise Failure(f"{what} {text!r}: write TIME=DISTANCE, e.g. +1h=0 or 2030-01-01T10:00:00Z=12500")
    match = _DISTANCE.fullmatch(distance)
    if match is None:
        raise Failure(f"{what} {text!r}: {distance!r} is not a distance in metres (or km)")
    metres = float(match[1]) * (1000.0 if (match[2] or "").lower() == "km" else 1.0)
    return {"t": line_time(when, now, what), "distance_m": metres}


def margin(text: str) -> float:
    """``--time-margin``: a duration (``10m``) or seconds."""
    try:
        seconds = float(text)
    except ValueError:
        return parse_duration(text, "--time-margin").total_seconds()
    if seconds < 0:
        raise Failure(f"--time-margin {text!r} must not be negative")
    return seconds


def _schedule_file(path: Path, now: datetime) -> list[Json]:
    data = _read_json(path, "schedule file")
    if isinstance(data, dict):
        data = data.get("schedule")
    if not isinstance(data, list):
        raise Failure(f'{path}: expected a list of {{"t", "distance_m"}} (or {{"schedule": [...]}})')
    out = []
    for i, item in enumerate(data):
        if not isinstance(item, dict) or set(item) != {"t", "distance_m"}:
            raise Failure(f'{path}: schedule[{i}]: expected {{"t": TIME, "distance_m": METRES}}')
        if not isinstance(item["t"], str):
            raise Failure(f"{path}: schedule[{i}].t: expected a time (RFC 3339, or +1h from now)")
        out.append(
            {"t": line_time(item["t"], now, f"{path}: schedule[{i}].t"), "distance_m": item["distance_m"]}
        )
    return out


@dataclass(frozen=True, slots=True)
class Site:
    """The options of a protected site."""

    path: Path
    category: str | None
    radius_m: float | None


@dataclass(frozen=True, slots=True)
class Movement:
    """The options of a protected movement."""

    path: Path
    half_width_m: float | None
    schedule_file: Path | None
    at: tuple[str, ...]
    vehicles: int
    markings: str
    time_margin: str | None


def site_members(site: Site, name: str, window: Window, now: datetime) -> Json:
    """The ``volume`` and ``protected`` members of a site's exact notice."""
    path = site.path
    feature = _one_feature(_read_json(path, "site file"), path, ("Point", "Polygon"))
    props = feature["properties"]
    point = feature["geometry"]["type"] == "Point"
    radius = site.radius_m if site.radius_m is not None else props.get("radius_m")
    if radius is None:
        if point:
            raise Failure(f"{path}: a Point site needs --radius METRES (the protected circle)")
        radius = 0.0
    if site.category is None:
        raise Failure("a site needs --category (" + ", ".join(c.value for c in Category) + ")")
    keep = ("alt_lower_m", "alt_upper_m", "start", "end")
    props = {k: v for k, v in props.items() if k in keep}
    _complete(props, window, now, path, alt_required=False)
    if "alt_lower_m" not in props:  # the ground unknown: protected at every altitude
        props["alt_lower_m"], props["alt_upper_m"] = ALT_RANGE_M
    if point:
        props["radius_m"] = radius
    feature["properties"] = props
    return checked(
        {
            "volume": feature,
            "protected": {"kind": "site", "category": site.category, "radius_m": radius, "name": name},
        }
    )


def movement_members(movement: Movement, name: str, alt: str | None, now: datetime) -> Json:
    """The ``route`` and ``protected`` members of a movement's exact notice."""
    path = movement.path
    feature = _one_feature(_read_json(path, "movement file"), path, ("LineString",))
    props = feature["properties"]
    half_width = movement.half_width_m if movement.half_width_m is not None else props.get("half_width_m")
    if half_width is None:
        raise Failure(f"{path} gives no corridor width: add --half-width METRES")
    if movement.schedule_file is not None and movement.at:
        raise Failure("give the schedule as --schedule FILE or as --at TIME=DISTANCE, not both")
    if movement.schedule_file is not None:
        schedule = _schedule_file(movement.schedule_file, now)
    else:
        schedule = [waypoint(text, now, "--at") for text in movement.at]
    if len(schedule) < 2:
        raise Failure(
            "a movement needs a schedule of 2 or more waypoints: --at TIME=DISTANCE_M (repeat), or --schedule FILE"
        )
    route_props: Json = {"half_width_m": half_width, "start": schedule[0]["t"], "end": schedule[-1]["t"]}
    if alt is not None:
        route_props["alt_lower_m"], route_props["alt_upper_m"] = band(alt)
    elif "alt_lower_m" in props and "alt_upper_m" in props:
        route_props["alt_lower_m"], route_props["alt_upper_m"] = props["alt_lower_m"], props["alt_upper_m"]
    feature["properties"] = route_props
    protected = {
        "kind": "movement",
        "schedule": schedule,
        "time_margin_s": DEFAULT_TIME_MARGIN_S
        if movement.time_margin is None
        else margin(movement.time_margin),
        "vehicles": movement.vehicles,
        "markings": movement.markings,
        "name": name,
    }
    return checked({"route": feature, "protected": protected})


def checked(members: Json) -> Json:
    """``members`` if they describe a valid site or movement; else a :class:`Failure` naming the member."""
    try:
        protected_from_notice(members, id=_PROBE_ID)
    except InvalidInput as error:
        raise Failure(f"not sent: {error.message}") from None
    return members


def describe(members: Any) -> str:
    """``hospital 'Al-Noor'`` or ``movement 'food convoy' (12 vehicles)``."""
    protected = members.get("protected") if isinstance(members, dict) else None
    if not isinstance(protected, dict):
        return "?"
    if protected.get("kind") == "site":
        return f"{protected.get('category')} {protected.get('name')!r}"
    return f"movement {protected.get('name')!r} ({protected.get('vehicles')} vehicles)"
