"""Protected sites and movements in a line ``notice`` request body: the ``protected`` member.

A notice request (``docs/line.md``) carries ``what`` and a ``volume`` and/or a ``route``
(:mod:`parley.line.shapes`). A notice of a protected site or movement adds one member, ``protected``,
and gives the geometry in exactly one of ``volume`` (a site) or ``route`` (a movement). Every member
listed is required; no other member is allowed; times are the line's ``YYYY-MM-DDTHH:MM:SS.ffffffZ``.

**A site** — ``protected`` is::

    {"kind": "site", "category": C, "radius_m": R, "name": N}

- ``category``: one of ``hospital``, ``shelter``, ``school``, ``water``, ``aid_store``,
  ``medical_post``, ``camp``, ``other``; ``name``: 1 to 200 characters;
- the outline is the ``volume`` Feature's geometry: a ``Point`` (then its ``properties.radius_m``
  is the site's circle and must equal ``R``, > 0) or a ``Polygon`` of one ring, simple (edges that
  neither cross nor touch), vertices within 100 km of its centre, buffered by ``R`` (metres,
  0 to 100,000; 0 is the polygon itself). Positions are ``[longitude, latitude]`` (no altitude);
  ``MultiPolygon`` is refused (notify each part as a site);
- ``properties.start`` / ``end``: the window ``[start, end)``;
- ``properties.alt_lower_m``: the ground's altitude at the site, ``alt_upper_m``: the ceiling of the
  protected band (metres above the WGS84 ellipsoid, lower < upper). A notifier who does not know the
  ground writes the line's whole range, ``-1000`` and ``100000``: protected at every altitude.

**A movement** — ``protected`` is::

    {"kind": "movement", "schedule": [{"t": T, "distance_m": D}, ...], "time_margin_s": M,
     "vehicles": V, "markings": K, "name": N}

- the route is the ``route`` Feature's ``LineString`` (positions ``[longitude, latitude]``, at least
  2, none repeating the one before, edges of at most 1,000 km), ``properties.half_width_m`` the
  corridor's half-width (0 < w <= 100,000 m);
- ``schedule``: 2 or more waypoints, ``t`` strictly increasing, ``distance_m`` the geodesic
  distance along the route from its first position (0 to the route's length, 1 m of tolerance), any
  order: equal distances are a stop, a smaller one a turn back; the route's ``properties.start``
  and ``end`` must equal the first and last ``t``;
- ``time_margin_s``: how early or late the convoy may be (0 to 86,400 s); ``vehicles``: a positive
  integer; ``markings``: up to 4,000 characters (may be empty); ``name``: 1 to 200 characters;
- ``properties.alt_lower_m`` / ``alt_upper_m``, optional (both or neither): ground and ceiling as for
  a site; absent, the movement is protected at every altitude.

Errors are :class:`parley.domain.errors.InvalidInput` (structural ones the line's
:class:`parley.line.errors.InvalidEntry`, a subclass) naming the field, e.g.
``body.protected.schedule[2].t: not after body.protected.schedule[1].t (times must increase)``.

:func:`notice_members` writes a site or movement back as the ``volume``/``route`` and ``protected``
members; ``notice_members(protected_from_notice(body, id=i))`` gives back the body's own members.

>>> body = {"type": "notice", "what": "hospital",
...         "volume": {"type": "Feature", "geometry": {"type": "Point", "coordinates": [40.14, 35.33]},
...                    "properties": {"radius_m": 300, "alt_lower_m": 210, "alt_upper_m": 710,
...                                   "start": "2017-05-03T00:00:00.000000Z",
...                                   "end": "2017-06-03T00:00:00.000000Z"}},
...         "protected": {"kind": "site", "category": "hospital", "radius_m": 300, "name": "Al-Noor"}}
>>> site = protected_from_notice(body, id="aid-1")
>>> site.category, site.radius_m, site.ground_m, site.top_m()
(<Category.HOSPITAL: 'hospital'>, 300.0, 210.0, 710.0)
>>> notice_members(site) == {k: body[k] for k in ("volume", "protected")}
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from parley.domain.errors import InvalidInput
from parley.domain.geo import LatLng, Polygon
from parley.line.shapes import ALT_RANGE_M, check_route, check_volume, members
from parley.line.times import format_time, parse_time
from parley.protection.model import (
    MAX_KEEP_AWAY_M,
    MAX_MARKINGS,
    MAX_NAME,
    MAX_TIME_MARGIN_S,
    PROTECTED_HEIGHT_M,
    Category,
    ProtectedKind,
    ProtectedMovement,
    ProtectedSite,
    Waypoint,
    check_number,
    check_schedule,
    check_site_polygon,
    check_text,
    check_vehicles,
    route_cumulative_m,
)

_SITE = frozenset({"kind", "category", "radius_m", "name"})
#: Members of ``protected`` besides a form's own: the protection's id (a lowercase UUID; absent, the
#: notice's thread id), and the check-only form's ``check_only``.
_ID = frozenset({"id"})
_MOVEMENT = frozenset({"kind", "schedule", "time_margin_s", "vehicles", "markings", "name"})
_WAYPOINT = frozenset({"t", "distance_m"})


def _point(position: list[Any], where: str) -> LatLng:
    if len(position) != 2:
        raise InvalidInput(f"{where}: a protected outline's or route's positions are [longitude, latitude]")
    return LatLng(float(position[1]), float(position[0]))


def _band(props: Mapping[str, Any], where: str) -> tuple[float | None, float | None]:
    if "alt_lower_m" not in props:
        return None, None
    ground, ceiling = float(props["alt_lower_m"]), float(props["alt_upper_m"])
    if not ceiling > ground:
        raise InvalidInput(
            f"{where}.alt_upper_m: must be above alt_lower_m (the protected band runs from the ground, "
            "alt_lower_m, up to alt_upper_m)"
        )
    return ground, ceiling


def _site(body: Mapping[str, Any], protected: dict[str, Any], id: str) -> ProtectedSite:
    members(protected, "body.protected", _SITE, _ID)
    if "route" in body:
        raise InvalidInput("body.route: a protected site is notified with a volume, not a route")
    if "volume" not in body:
        raise InvalidInput("body.volume: missing (the protected site's outline)")
    check_volume(body["volume"], "body.volume")
    geometry, props = body["volume"]["geometry"], body["volume"]["properties"]
    where = "body.volume.geometry"
    try:
        category = Category(protected["category"])
    except ValueError:
        raise InvalidInput(f"body.protected.category: expected one of {', '.join(Category)}") from None
    outline: LatLng | Polygon
    if geometry["type"] == "Point":
        outline = _point(geometry["coordinates"], f"{where}.coordinates")
        radius = check_number(
            protected["radius_m"], "body.protected.radius_m", 0.0, MAX_KEEP_AWAY_M, lo_open=True
        )
        if radius != props["radius_m"]:
            raise InvalidInput(
                "body.protected.radius_m: must equal body.volume.properties.radius_m (the point site's circle)"
            )
    elif geometry["type"] == "Polygon":
        rings = geometry["coordinates"]
        if len(rings) != 1:
            raise InvalidInput(f"{where}.coordinates: a protected site's polygon has one ring (no holes)")
        ring = rings[0][:-1]
        vertex = f"{where}.coordinates[0][{{}}]".format
        outline = Polygon(tuple(_point(p, vertex(i)) for i, p in enumerate(ring)))
        check_site_polygon(outline, f"{where}.coordinates[0]", vertex)
        radius = check_number(protected["radius_m"], "body.protected.radius_m", 0.0, MAX_KEEP_AWAY_M)
    else:
        raise InvalidInput(
            f"{where}.type: a protected site is a Point or a Polygon (notify each part of a MultiPolygon "
            "as its own site)"
        )
    ground, ceiling = _band(props, "body.volume.properties")
    return ProtectedSite(
        id=id,
        category=category,
        outline=outline,
        radius_m=radius,
        start=parse_time(props["start"], "body.volume.properties.start"),
        end=parse_time(props["end"], "body.volume.properties.end"),
        name=check_text(protected["name"], "body.protected.name", MAX_NAME),
        ground_m=ground,
        ceiling_m=ceiling,
    )


def _movement(body: Mapping[str, Any], protected: dict[str, Any], id: str) -> ProtectedMovement:
    members(protected, "body.protected", _MOVEMENT, _ID)
    if "volume" in body:
        raise InvalidInput("body.volume: a protected movement is notified with a route, not a volume")
    if "route" not in body:
        raise InvalidInput("body.route: missing (the protected movement's route)")
    check_route(body["route"], "body.route")
    coords, props = body["route"]["geometry"]["coordinates"], body["route"]["properties"]
    vertex = "body.route.geometry.coordinates[{}]".format
    route = tuple(_point(p, vertex(i)) for i, p in enumerate(coords))
    length = route_cumulative_m(route, "body.route.geometry.coordinates", vertex)[-1]
    half_width = check_number(
        props["half_width_m"], "body.route.properties.half_width_m", 0.0, MAX_KEEP_AWAY_M, lo_open=True
    )
    entries = protected["schedule"]
    if not isinstance(entries, list):
        raise InvalidInput("body.protected.schedule: expected a list of waypoints")
    schedule: list[Waypoint] = []
    for i, entry in enumerate(entries):
        at = f"body.protected.schedule[{i}]"
        members(entry, at, _WAYPOINT)
        distance = check_number(entry["distance_m"], f"{at}.distance_m", 0.0, float("inf"))
        schedule.append(Waypoint(parse_time(entry["t"], f"{at}.t"), distance))
    check_schedule(schedule, length, "body.protected.schedule")
    for name, waypoint in (("start", schedule[0]), ("end", schedule[-1])):
        if parse_time(props[name], f"body.route.properties.{name}") != waypoint.t:
            which = 0 if name == "start" else len(schedule) - 1
            raise InvalidInput(f"body.route.properties.{name}: must equal body.protected.schedule[{which}].t")
    ground, ceiling = _band(props, "body.route.properties")
    return ProtectedMovement(
        id=id,
        route=route,
        half_width_m=half_width,
        schedule=tuple(schedule),
        vehicles=check_vehicles(protected["vehicles"], "body.protected.vehicles"),
        markings=check_text(protected["markings"], "body.protected.markings", MAX_MARKINGS, empty=True),
        name=check_text(protected["name"], "body.protected.name", MAX_NAME),
        time_margin_s=check_number(
            protected["time_margin_s"], "body.protected.time_margin_s", 0.0, MAX_TIME_MARGIN_S
        ),
        ground_m=ground,
        ceiling_m=ceiling,
    )


def protected_from_notice(body: Mapping[str, Any], *, id: str) -> ProtectedSite | ProtectedMovement:
    """The protected site or movement a notice request body describes (see the module); ``id`` is
    the identity the caller gives it (the notice's thread id, say).

    Raises :class:`InvalidInput` naming the field when the body is not a valid notice of one.
    """
    if "type" in body and body["type"] != "notice":
        raise InvalidInput("body.type: protected sites and movements are notified in a notice")
    if "protected" not in body:
        raise InvalidInput("body.protected: missing")
    protected = members(
        body["protected"], "body.protected", {"kind"}, _SITE | _MOVEMENT | _ID | {"check_only"}
    )
    if "check_only" in protected:
        raise InvalidInput("body.protected.check_only: a check-only notice carries no geometry to read")
    kind = protected["kind"]
    if kind == ProtectedKind.SITE.value:
        return _site(body, protected, id)
    if kind == ProtectedKind.MOVEMENT.value:
        return _movement(body, protected, id)
    raise InvalidInput("body.protected.kind: expected site or movement")


def _band_props(ground: float | None, ceiling: float | None) -> dict[str, float]:
    if ground is None:
        return {}
    return {"alt_lower_m": ground, "alt_upper_m": ground + PROTECTED_HEIGHT_M if ceiling is None else ceiling}


def notice_members(p: ProtectedSite | ProtectedMovement) -> dict[str, Any]:
    """The ``volume`` (a site) or ``route`` (a movement) and ``protected`` members of a notice.

    A site whose ground is unknown is written with the line's whole altitude range (protected at
    every altitude, as it is); one with a ground and no ceiling with the ceiling
    ``ground + PROTECTED_HEIGHT_M``. Reading the members back gives an item that protects the same.
    """
    if isinstance(p, ProtectedSite):
        geometry: dict[str, Any]
        props: dict[str, Any] = {}
        if isinstance(p.outline, LatLng):
            geometry = {"type": "Point", "coordinates": [p.outline.lng, p.outline.lat]}
            props["radius_m"] = p.radius_m
        else:
            ring = [[v.lng, v.lat] for v in p.outline.vertices]
            geometry = {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
        band = _band_props(p.ground_m, p.ceiling_m)
        lo, hi = ALT_RANGE_M
        props.update(band or {"alt_lower_m": lo, "alt_upper_m": hi})
        props.update(start=format_time(p.start), end=format_time(p.end))
        return {
            "volume": {"type": "Feature", "geometry": geometry, "properties": props},
            "protected": {
                "kind": "site",
                "category": p.category.value,
                "radius_m": p.radius_m,
                "name": p.name,
            },
        }
    route_props: dict[str, Any] = {
        "half_width_m": p.half_width_m,
        "start": format_time(p.start),
        "end": format_time(p.end),
        **_band_props(p.ground_m, p.ceiling_m),
    }
    return {
        "route": {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": [[v.lng, v.lat] for v in p.route]},
            "properties": route_props,
        },
        "protected": {
            "kind": "movement",
            "schedule": [{"t": format_time(w.t), "distance_m": w.distance_m} for w in p.schedule],
            "time_margin_s": p.time_margin_s,
            "vehicles": p.vehicles,
            "markings": p.markings,
            "name": p.name,
        },
    }
