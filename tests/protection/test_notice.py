"""The ``protected`` member of a notice: reading it, refusing what is wrong with the field named,
and writing it back (bodies round-trip)."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.domain.errors import InvalidInput
from parley.domain.geo import LatLng, Polygon
from parley.line.bodies import check_body
from parley.protection import (
    Category,
    ProtectedMovement,
    ProtectedSite,
    Waypoint,
    check,
    notice_members,
    protected_from_notice,
)
from parley.protection.model import PROTECTED_HEIGHT_M
from tests.protection import ROAD, T0, at, offset, operation, ring, road, volume

START, END = "2017-05-03T06:00:00.000000Z", "2017-06-03T06:00:00.000000Z"
SQUARE = [[40.0, 35.0], [40.01, 35.0], [40.01, 35.01], [40.0, 35.01], [40.0, 35.0]]


def site_body(geometry: dict[str, Any] | None = None, **protected: Any) -> dict[str, Any]:
    props: dict[str, Any] = {"alt_lower_m": 250.0, "alt_upper_m": 750.0, "start": START, "end": END}
    if geometry is None:
        geometry = {"type": "Point", "coordinates": [40.0, 35.0]}
    if geometry["type"] == "Point":
        props["radius_m"] = 300.0
    return {
        "type": "notice",
        "subject": "Al-Noor hospital",
        "reason": "protected under IHL",
        "deadline": "2017-05-03T12:00:00.000000Z",
        "what": "a hospital",
        "volume": {"type": "Feature", "geometry": geometry, "properties": props},
        "protected": {
            "kind": "site",
            "category": "hospital",
            "radius_m": 300.0,
            "name": "Al-Noor",
            **protected,
        },
    }


def movement_body() -> dict[str, Any]:
    coords = [[p.lng, p.lat] for p in road(60_000.0, 4)]
    return {
        "type": "notice",
        "subject": "food convoy",
        "reason": "humanitarian",
        "deadline": "2017-05-03T07:00:00.000000Z",
        "what": "12 trucks with food and water",
        "route": {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": coords},
            "properties": {
                "half_width_m": 150.0,
                "start": "2017-05-03T08:00:00.000000Z",
                "end": "2017-05-03T12:00:00.000000Z",
            },
        },
        "protected": {
            "kind": "movement",
            "schedule": [
                {"t": "2017-05-03T08:00:00.000000Z", "distance_m": 0.0},
                {"t": "2017-05-03T09:00:00.000000Z", "distance_m": 36000.0},
                {"t": "2017-05-03T11:00:00.000000Z", "distance_m": 36000.0},
                {"t": "2017-05-03T12:00:00.000000Z", "distance_m": 10000.0},
            ],
            "time_margin_s": 600.0,
            "vehicles": 12,
            "markings": "white trucks, blue flag",
            "name": "food and water",
        },
    }


def _members(body: dict[str, Any]) -> dict[str, Any]:
    return {k: body[k] for k in ("volume", "route", "protected") if k in body}


def test_a_point_site_is_read_and_written_back() -> None:
    body = site_body()
    s = protected_from_notice(body, id="aid-1")
    assert s == ProtectedSite(
        "aid-1",
        Category.HOSPITAL,
        LatLng(35.0, 40.0),
        300.0,
        T0,
        T0.replace(month=6),
        "Al-Noor",
        ground_m=250.0,
        ceiling_m=750.0,
    )
    assert notice_members(s) == _members(body)


def test_a_polygon_site_is_read_and_written_back() -> None:
    body = site_body({"type": "Polygon", "coordinates": [SQUARE]}, radius_m=0.0)
    s = protected_from_notice(body, id="aid-2")
    assert isinstance(s, ProtectedSite) and isinstance(s.outline, Polygon)
    assert s.outline.vertices[1] == LatLng(35.0, 40.01) and s.radius_m == 0.0
    assert notice_members(s) == _members(body)


def test_a_movement_is_read_and_written_back() -> None:
    body = movement_body()
    m = protected_from_notice(body, id="aid-3")
    assert isinstance(m, ProtectedMovement)
    assert m.schedule[2] == Waypoint(at(300), 36_000.0) and m.vehicles == 12 and m.ground_m is None
    assert m.distance_at(at(330)) == pytest.approx(23_000.0)
    assert notice_members(m) == _members(body)


def test_the_geometry_members_are_valid_line_shapes() -> None:
    for body in (site_body(), site_body({"type": "Polygon", "coordinates": [SQUARE]}), movement_body()):
        without = {k: v for k, v in body.items() if k != "protected"}
        check_body("request", {"type": "request", **without} | {"type": "notice"})


def test_a_site_of_unknown_ground_is_written_with_the_whole_range_and_protects_the_same() -> None:
    s = ProtectedSite("s", Category.SHELTER, ROAD, 200.0, T0, at(60), "shelter")
    props = notice_members(s)["volume"]["properties"]
    assert (props["alt_lower_m"], props["alt_upper_m"]) == (-1000.0, 100000.0)
    back = protected_from_notice(notice_members(s), id="s")
    high = operation(volume(ring(ROAD, [100.0] * 6), lower_m=90_000.0, upper_m=95_000.0))
    assert check(high, [s]) != [] and check(high, [back]) != []
    assert back.top_m() == 100000.0 and s.top_m() == math.inf


def test_a_ground_without_ceiling_is_written_with_the_default_height() -> None:
    s = ProtectedSite("s", Category.SCHOOL, ROAD, 200.0, T0, at(60), "school", ground_m=300.0)
    assert notice_members(s)["volume"]["properties"]["alt_upper_m"] == 300.0 + PROTECTED_HEIGHT_M


def _edit(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``body`` with the member at a dotted path set (``...`` deletes it)."""
    out = copy.deepcopy(body)
    *parents, last = path.split(".")
    node: Any = out
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is ...:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return out


BOWTIE = [[40.0, 35.0], [40.01, 35.01], [40.01, 35.0], [40.0, 35.01], [40.0, 35.0]]
POLY = {"type": "Polygon", "coordinates": [SQUARE]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_edit(site_body(), "protected", ...), r"^body.protected: missing$"),
        (
            _edit(site_body(), "type", "vacate"),
            r"^body.type: protected sites and movements are notified in a notice",
        ),
        (_edit(site_body(), "protected", "hospital"), r"^body.protected: expected an object"),
        (_edit(site_body(), "protected.kind", "place"), r"^body.protected.kind: expected site or movement"),
        (_edit(site_body(), "protected.colour", "red"), r"^body.protected: unknown member colour"),
        (_edit(site_body(), "protected.category", ...), r"^body.protected: missing category"),
        (
            _edit(site_body(), "protected.category", "clinic"),
            r"^body.protected.category: expected one of hospital",
        ),
        (_edit(site_body(), "protected.name", ""), r"^body.protected.name: must not be empty"),
        (
            _edit(site_body(), "protected.radius_m", 250.0),
            r"^body.protected.radius_m: must equal body.volume.properties",
        ),
        (_edit(site_body(), "volume", ...), r"^body.volume: missing \(the protected site's outline\)"),
        (
            _edit(site_body(), "route", movement_body()["route"]),
            r"^body.route: a protected site is notified with a volume",
        ),
        (
            _edit(site_body(POLY), "volume.geometry", {"type": "MultiPolygon", "coordinates": [[SQUARE]]}),
            r"^body.volume.geometry.type: a protected site is a Point or a Polygon",
        ),
        (
            _edit(site_body(POLY), "volume.geometry.coordinates", [SQUARE, SQUARE]),
            r"coordinates: a protected site's polygon has one ring",
        ),
        (
            _edit(site_body(POLY), "volume.geometry.coordinates", [BOWTIE]),
            r"^body.volume.geometry.coordinates\[0\]: the polygon's edges cross",
        ),
        (
            _edit(site_body(POLY), "volume.geometry.coordinates.0.2", [40.01, 35.0]),
            r"^body.volume.geometry.coordinates\[0\]\[2\]: repeats the previous vertex",
        ),
        (
            _edit(site_body(POLY), "volume.geometry.coordinates.0.4", [40.0, 35.001]),
            r"^body.volume.geometry.coordinates\[0\]: a ring's last position must repeat its first",
        ),
        (
            _edit(site_body(POLY), "volume.geometry.coordinates.0.1", [40.01, 35.0, 300.0]),
            r"^body.volume.geometry.coordinates\[0\]\[1\]: a protected outline's or route's positions are \[longitude, latitude\]",
        ),
        (
            _edit(site_body(POLY, radius_m=-5.0), "protected.kind", "site"),
            r"^body.protected.radius_m: must be within \[0, 100000\]",
        ),
        (
            _edit(site_body(), "volume.properties.end", START),
            r"^body.volume.properties: start is not before end",
        ),
        (
            _edit(site_body(), "volume.properties.start", "2017-05-03T06:00Z"),
            r"^body.volume.properties.start: not a UTC time",
        ),
        (
            _edit(site_body(), "volume.properties.alt_upper_m", 250.0),
            r"^body.volume.properties.alt_upper_m: must be above alt_lower_m",
        ),
        (
            _edit(movement_body(), "volume", site_body()["volume"]),
            r"^body.volume: a protected movement is notified with a route",
        ),
        (_edit(movement_body(), "route", ...), r"^body.route: missing"),
        (
            _edit(movement_body(), "route.geometry.coordinates", []),
            r"^body.route.geometry.coordinates: expected at least 2 positions",
        ),
        (
            _edit(movement_body(), "route.geometry.coordinates", [[40.0, 35.0]]),
            r"coordinates: expected at least 2 positions",
        ),
        (
            _edit(
                movement_body(),
                "route.geometry.coordinates.1",
                movement_body()["route"]["geometry"]["coordinates"][0],
            ),
            r"^body.route.geometry.coordinates\[1\]: repeats the previous point",
        ),
        (
            _edit(movement_body(), "route.properties.half_width_m", 0.0),
            r"^body.route.properties.half_width_m: must be within \(0",
        ),
        (
            _edit(movement_body(), "route.properties.half_width_m", -3.0),
            r"^body.route.properties.half_width_m: must be within \(0",
        ),
        (
            _edit(movement_body(), "route.properties.half_width_m", 200_000.0),
            r"^body.route.properties.half_width_m: must be within \(0, 100000\]",
        ),
        (
            _edit(movement_body(), "route.properties.end", "2017-05-03T07:00:00.000000Z"),
            r"^body.route.properties: start is not before end",
        ),
        (
            _edit(movement_body(), "protected.schedule", "soon"),
            r"^body.protected.schedule: expected a list of waypoints",
        ),
        (
            _edit(movement_body(), "protected.schedule", movement_body()["protected"]["schedule"][:1]),
            r"^body.protected.schedule: a schedule needs at least 2",
        ),
        (
            _edit(movement_body(), "protected.schedule.2.t", "2017-05-03T08:30:00.000000Z"),
            r"^body.protected.schedule\[2\].t: not after body.protected.schedule\[1\].t \(times must increase\)",
        ),
        (
            _edit(movement_body(), "protected.schedule.2.distance_m", 70_000.0),
            r"^body.protected.schedule\[2\].distance_m: 70000.0 m is beyond the route's length \(60000.0 m\)",
        ),
        (
            _edit(movement_body(), "protected.schedule.1.distance_m", -1.0),
            r"^body.protected.schedule\[1\].distance_m: must be within \[0, inf\]",
        ),
        (
            _edit(movement_body(), "protected.schedule.1.speed", 3),
            r"^body.protected.schedule\[1\]: unknown member speed",
        ),
        (
            _edit(movement_body(), "route.properties.start", "2017-05-03T07:59:00.000000Z"),
            r"^body.route.properties.start: must equal body.protected.schedule\[0\].t",
        ),
        (
            _edit(movement_body(), "route.properties.end", "2017-05-03T12:30:00.000000Z"),
            r"^body.route.properties.end: must equal body.protected.schedule\[3\].t",
        ),
        (
            _edit(movement_body(), "protected.vehicles", 0),
            r"^body.protected.vehicles: expected a positive integer",
        ),
        (
            _edit(movement_body(), "protected.vehicles", "12"),
            r"^body.protected.vehicles: expected a positive integer",
        ),
        (
            _edit(movement_body(), "protected.time_margin_s", -60),
            r"^body.protected.time_margin_s: must be within \[0, 86400\]",
        ),
        (_edit(movement_body(), "protected.markings", ...), r"^body.protected: missing markings"),
        (
            _edit(movement_body(), "route.properties.alt_lower_m", 200.0),
            r"^body.route.properties: give both alt_lower_m and alt_upper_m",
        ),
    ],
)
def test_invalid_notices_are_refused_naming_the_field(body: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        protected_from_notice(body, id="x")


# -- round trips ------------------------------------------------------------------------------------
offsets = st.floats(-20_000.0, 20_000.0)
grounds = st.one_of(st.none(), st.floats(-500.0, 3_000.0))


@st.composite
def protected_items(draw: st.DrawFn) -> ProtectedSite | ProtectedMovement:
    place = LatLng(draw(st.floats(-80.0, 80.0)), draw(st.floats(-180.0, 180.0)))
    start = at(draw(st.integers(0, 600)))
    ground = draw(grounds)
    ceiling = (
        None if ground is None else draw(st.one_of(st.none(), st.floats(ground + 1.0, ground + 5_000.0)))
    )
    if draw(st.booleans()):
        n = draw(st.integers(3, 12))
        outline: LatLng | Polygon = (
            offset(place, draw(offsets), draw(offsets))
            if draw(st.booleans())
            else ring(
                place,
                draw(st.lists(st.floats(50.0, 5_000.0), min_size=n, max_size=n)),
                draw(st.floats(0, 360)),
            )
        )
        radius = draw(st.floats(0.0 if isinstance(outline, Polygon) else 1.0, 5_000.0))
        return ProtectedSite(
            "s",
            draw(st.sampled_from(Category)),
            outline,
            radius,
            start,
            start + (at(draw(st.integers(1, 10_000))) - T0),
            draw(st.text(min_size=1, max_size=20).filter(str.strip)),
            ground_m=ground,
            ceiling_m=ceiling,
        )
    route = [place]
    for _ in range(draw(st.integers(1, 6))):
        route.append(offset(route[-1], draw(st.floats(100.0, 20_000.0)), draw(offsets)))
    length = ProtectedMovement(
        "m", tuple(route), 1.0, (Waypoint(start, 0.0), Waypoint(at(10_000), 0.0)), 1, "", "m"
    ).length_m
    n = draw(st.integers(2, 8))
    gaps = draw(st.lists(st.integers(1, 240), min_size=n - 1, max_size=n - 1))
    times = [start]
    for g in gaps:
        times.append(times[-1] + (at(g) - T0))
    distances = draw(st.lists(st.floats(0.0, length), min_size=n, max_size=n))
    return ProtectedMovement(
        "m",
        tuple(route),
        draw(st.floats(1.0, 5_000.0)),
        tuple(Waypoint(t, d) for t, d in zip(times, distances, strict=True)),
        vehicles=draw(st.integers(1, 100)),
        markings=draw(st.text(max_size=20)),
        name="convoy",
        time_margin_s=draw(st.floats(0.0, 86_400.0)),
        ground_m=None if ceiling is None else ground,
        ceiling_m=ceiling,
    )


@settings(max_examples=60, deadline=None)
@given(protected_items())
def test_items_round_trip_through_notice_members(item: ProtectedSite | ProtectedMovement) -> None:
    members = notice_members(item)
    back = protected_from_notice(members, id=item.id)
    assert notice_members(back) == members  # bodies round-trip exactly
    if isinstance(item, ProtectedMovement) or (item.ground_m is not None and item.ceiling_m is not None):
        assert back == item
    else:
        assert back.top_m() == item.top_m() or back.top_m() == 100_000.0
