"""Exit routes: they start at the aircraft, end outside the buffered zone, respect the turn radius,
the speed and the vertical rates, go round zones to avoid when they can, and climb or descend when
that is quicker."""

from __future__ import annotations

import itertools
import math
from datetime import timedelta

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from parley.compliance.affected import AircraftState
from parley.compliance.exits import (
    ExitKind,
    ExitRoute,
    Performance,
    exit_route,
    pose_along,
    turn_then_straight,
)
from parley.compliance.zone import Zone
from parley.domain.errors import InvalidInput
from parley.strategic.earth import geod
from tests.compliance import T0, circle_feature, distance_m, offset, polygon_feature, square, zones

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _state(
    zone: Zone, x: float, y: float, alt: float, track: float | None, speed: float = 40.0
) -> AircraftState:
    lat, lng = zone.frame.inverse([x], [y])
    return AircraftState("op-1", T0, float(lat[0]), float(lng[0]), alt, speed, track, 0.0)


def _segments(route: ExitRoute) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each leg's initial azimuth, final azimuth (degrees) and length (metres)."""
    w = route.waypoints
    lat = np.array([p.lat for p in w])
    lng = np.array([p.lng for p in w])
    az12, az21, d = geod().inv(lng[:-1], lat[:-1], lng[1:], lat[1:])
    return np.asarray(az12), (np.asarray(az21) + 180.0) % 360.0, np.asarray(d)


def _turn(a: float, b: float) -> float:
    """Absolute heading change from ``a`` to ``b``, radians."""
    return abs(math.radians((b - a + 180.0) % 360.0 - 180.0))


def _check_flyable(route: ExitRoute, state: AircraftState, perf: Performance) -> None:
    """Starts at the aircraft; speed, vertical rates and turn radius respected."""
    w = route.waypoints
    assert len(w) >= 2
    assert (w[0].lat, w[0].lng, w[0].alt_m) == pytest.approx((state.lat, state.lng, state.alt_m))
    assert w[0].t == state.t
    assert route.eta == w[-1].t
    start, end, length = _segments(route)
    dt = np.array([(b.t - a.t).total_seconds() for a, b in itertools.pairwise(w)])
    assert (dt > 0).all()
    assert (length <= perf.speed_mps * dt * (1 + 1e-4) + 1e-3).all()  # within the speed
    dz = np.diff([p.alt_m for p in w])
    assert (dz <= perf.max_climb_mps * dt + 1e-5).all() and (-dz <= perf.max_descent_mps * dt + 1e-5).all()
    assert sum(length) == pytest.approx(route.length_m, rel=1e-3, abs=0.5)  # chords of the arcs
    if state.track_deg is None:
        return
    r = perf.turn_radius_m
    # heading changes: from the track to the first leg (over half of it), then between legs (over the
    # half legs either side): at most 1/r per metre (chords of arcs of up to 5 degrees: +0.1 %)
    assert _turn(state.track_deg, float(start[0])) <= (length[0] / 2) / r * 1.002 + 1e-6
    for k in range(len(length) - 1):
        assert _turn(float(end[k]), float(start[k + 1])) <= (length[k] + length[k + 1]) / 2 / r * 1.002 + 1e-6


# -- the geometry of turn-then-straight paths ---------------------------------------------------------
@SETTINGS
@given(
    st.floats(0.0, 2 * math.pi),
    st.floats(10.0, 5_000.0),
    st.floats(-20_000.0, 20_000.0),
    st.floats(-20_000.0, 20_000.0),
)
def test_turn_then_straight_reaches_the_point_and_one_direction_always_can(
    heading: float, r: float, qx: float, qy: float
) -> None:
    assume(math.hypot(qx, qy) > 1e-3)
    q = (np.array([qx]), np.array([qy]))
    feasible = []
    for d in (1, -1):
        phi, length, ok = turn_then_straight(0.0, 0.0, heading, r, *q, d)
        if not ok[0]:
            continue
        feasible.append(r * phi[0] + length[0])
        s = np.array([r * phi[0] + length[0]])
        x, y, _ = pose_along(0.0, 0.0, heading, r, np.array([float(d)]), phi, s)
        assert math.hypot(x[0] - qx, y[0] - qy) < 1e-6 * (1.0 + r + math.hypot(qx, qy))
        assert 0.0 <= phi[0] < 2 * math.pi
        if length[0] > 1e-3:  # the straight leg, from the arc's end, heads at the point
            tx, ty, th = pose_along(0.0, 0.0, heading, r, np.array([float(d)]), phi, r * phi)
            assert _turn(math.degrees(th[0]), math.degrees(math.atan2(qx - tx[0], qy - ty[0]))) < 1e-6
    assert feasible
    assert min(feasible) >= math.hypot(qx, qy) - 1e-6


def test_a_point_inside_the_turning_circle_is_reached_by_turning_the_other_way() -> None:
    r = 1_000.0
    # heading north, a point 500 m to the right: inside the right turn's circle
    phi, _, ok = turn_then_straight(0.0, 0.0, 0.0, r, np.array([500.0]), np.array([0.0]), 1)
    assert not ok[0]
    phi, length, ok = turn_then_straight(0.0, 0.0, 0.0, r, np.array([500.0]), np.array([0.0]), -1)
    assert ok[0] and phi[0] > math.pi  # round to the left
    x, y, _ = pose_along(0.0, 0.0, 0.0, r, np.array([-1.0]), phi, r * phi + length)
    assert math.hypot(x[0] - 500.0, y[0]) < 1e-6


# -- routes ------------------------------------------------------------------------------------------
@st.composite
def situations(draw: st.DrawFn) -> tuple[Zone, AircraftState, Performance]:
    zone = draw(zones(max_radius_m=15_000.0))
    x0, y0, x1, y1 = zone.buffered.bounds
    u, v = draw(st.floats(0.0, 1.0)), draw(st.floats(0.0, 1.0))
    x, y = x0 + u * (x1 - x0), y0 + v * (y1 - y0)
    assume(bool(zone.contains_h_xy(x, y)[0]))
    alt = draw(st.floats(max(zone.floor_m, 0.0), zone.ceiling_m))
    track = draw(st.one_of(st.none(), st.floats(0.0, 359.99)))
    speed = draw(st.floats(5.0, 120.0))
    perf = Performance(speed_mps=speed, max_turn_rate_dps=draw(st.floats(1.0, 10.0)), max_alt_m=12_000.0)
    return zone, _state(zone, x, y, alt, track, speed), perf


@SETTINGS
@given(situations(), st.floats(0.0, 200.0))
def test_routes_start_at_the_aircraft_end_outside_and_are_flyable(
    situation: tuple[Zone, AircraftState, Performance], clear: float
) -> None:
    zone, state, perf = situation
    deadline = T0 + timedelta(minutes=5)
    route = exit_route(zone, state, perf, deadline=deadline, clear_margin_m=clear)
    assert route.kind is not ExitKind.ALREADY_OUTSIDE
    last = route.waypoints[-1]
    assert not zone.contains(last.lat, last.lng, last.alt_m)
    assert zone.margin_m(last.lat, last.lng, last.alt_m) >= clear - 1.0
    # ... and it was inside just before: the route ends at the first point outside (within a few metres)
    assert route.clear_by_deadline is (route.eta <= deadline)
    assert route.crosses == ()
    _check_flyable(route, state, perf)
    geojson = route.to_geojson()
    assert geojson["geometry"]["type"] == "LineString"
    assert geojson["geometry"]["coordinates"][0] == pytest.approx([state.lng, state.lat, state.alt_m])
    assert geojson["properties"]["kind"] == route.kind.value


@pytest.mark.parametrize("lat", [0.0, 45.0, 70.0])
def test_without_a_track_the_route_is_straight_to_the_nearest_way_out(lat: float) -> None:
    zone = Zone.from_volume(circle_feature(lat, 20.0, 5_000.0, alt_lower_m=0.0, alt_upper_m=10_000.0))
    state = AircraftState("op-1", T0, *offset(lat, 20.0, 30.0, 2_000.0), 1_000.0, None, None, None)
    route = exit_route(zone, state, Performance(), deadline=T0 + timedelta(minutes=2), clear_margin_m=50.0)
    assert route.kind is ExitKind.HORIZONTAL and len(route.waypoints) == 2
    assert route.length_m == pytest.approx(5_500.0 + 50.0 - 2_000.0, abs=2.0)
    assert route.eta == T0 + timedelta(seconds=route.length_m / 40.0)
    assert route.clear_by_deadline  # 89 s
    end = route.waypoints[-1]
    # straight away from the centre (give or take the 256-gon the circle's outline is drawn with)
    assert geod().inv(20.0, lat, end.lng, end.lat)[0] == pytest.approx(30.0, abs=0.75)


@pytest.mark.parametrize("lat", [0.0, 45.0, 70.0])
def test_a_turn_back_follows_the_turn_radius(lat: float) -> None:
    # heading into a 20 km circle, 1 km inside its buffered edge: turning back is quicker than crossing
    zone = Zone.from_volume(circle_feature(lat, 20.0, 20_000.0, alt_lower_m=0.0, alt_upper_m=10_000.0))
    where = offset(lat, 20.0, 90.0, 19_500.0)
    state = AircraftState("op-1", T0, *where, 1_000.0, 40.0, 270.0, 0.0)
    perf = Performance()
    route = exit_route(zone, state, perf, deadline=T0 + timedelta(minutes=1))
    assert route.kind is ExitKind.HORIZONTAL
    assert len(route.waypoints) > 10  # an arc drawn every 5 degrees
    assert not route.clear_by_deadline
    _check_flyable(route, state, perf)
    # a half turn (pi r) then about 1 km back out, give or take the geometry of the turn
    assert math.pi * perf.turn_radius_m < route.length_m < math.pi * perf.turn_radius_m + 2_000.0


def test_an_aircraft_already_outside_gets_an_empty_route_clear_now() -> None:
    zone = Zone.from_volume(circle_feature(45.0, 7.0, 1_000.0))
    beside = AircraftState("op-1", T0, *offset(45.0, 7.0, 0.0, 1_600.0), 500.0, 40.0, 180.0, 0.0)
    above = AircraftState("op-2", T0, 45.0, 7.0, 3_200.0, 40.0, 180.0, 0.0)
    for state in (beside, above):
        route = exit_route(zone, state, Performance(), deadline=T0)
        assert route.kind is ExitKind.ALREADY_OUTSIDE
        assert route.waypoints == () and route.length_m == 0.0
        assert route.eta == state.t and route.clear_by_deadline
        assert route.to_geojson()["geometry"] is None


def test_the_vertical_exit_wins_when_the_band_is_thin_and_the_footprint_large() -> None:
    zone = Zone.from_volume(
        polygon_feature([square(45.0, 7.0, 20_000.0)], alt_lower_m=1_000.0, alt_upper_m=1_100.0)
    )
    state = AircraftState("op-1", T0, 45.0, 7.0, 1_050.0, 40.0, 10.0, 0.0)
    perf = Performance()
    route = exit_route(zone, state, perf, deadline=T0 + timedelta(minutes=2))
    assert route.kind is ExitKind.DESCEND  # 250.5 m down at 7.5 m/s: 33 s; up at 5 m/s: 50 s
    assert route.waypoints[-1].alt_m == pytest.approx(1_000.0 - 150.0 - 50.0 - 0.5)
    assert (route.eta - T0).total_seconds() == pytest.approx((1_050.0 - 799.5) / 7.5, abs=1e-6)
    _check_flyable(route, state, perf)
    # with a floor too high to descend, it climbs; with neither, it flies out
    high_floor = Performance(min_alt_m=900.0)
    up = exit_route(zone, state, high_floor, deadline=T0 + timedelta(minutes=2))
    assert up.kind is ExitKind.CLIMB
    assert up.waypoints[-1].alt_m == pytest.approx(1_100.0 + 150.0 + 50.0 + 0.5)
    assert (up.eta - T0).total_seconds() == pytest.approx((1_300.5 - 1_050.0) / 5.0, abs=1e-6)
    _check_flyable(up, state, high_floor)
    boxed = Performance(max_alt_m=1_200.0, min_alt_m=900.0)
    assert exit_route(zone, state, boxed, deadline=T0).kind is ExitKind.HORIZONTAL


def _crosses(route: ExitRoute, other: Zone) -> bool:
    lat = np.array([w.lat for w in route.waypoints])
    lng = np.array([w.lng for w in route.waypoints])
    x, y = other.frame.forward(lat, lng)
    line = shapely.segmentize(shapely.LineString(np.stack([x, y], axis=-1)), 10.0)
    return bool(shapely.intersects(line, other.buffered))


def test_a_route_goes_round_a_zone_to_avoid_when_there_is_a_way() -> None:
    zone = Zone.from_volume(circle_feature(45.0, 7.0, 3_000.0), name="vacate")
    state = AircraftState("op-1", T0, *offset(45.0, 7.0, 90.0, 2_000.0), 1_000.0, 40.0, 90.0, 0.0)
    perf = Performance()
    direct = exit_route(zone, state, perf, deadline=T0 + timedelta(minutes=10))
    assert direct.kind is ExitKind.HORIZONTAL and len(direct.waypoints) == 2  # straight on, east
    # a protected site just east of the zone, 4 km wide
    site = Zone.from_volume(
        polygon_feature([square(*offset(45.0, 7.0, 90.0, 5_500.0), 2_000.0)]),
        buffer_h_m=200.0,
        name="hospital",
    )
    assert _crosses(direct, site)
    around = exit_route(zone, state, perf, deadline=T0 + timedelta(minutes=10), avoid=[site])
    assert around.crosses == ()
    assert not _crosses(around, site)
    assert around.eta > direct.eta
    _check_flyable(around, state, perf)
    last = around.waypoints[-1]
    assert not zone.contains(last.lat, last.lng, last.alt_m)
    # an avoid zone at other altitudes, or at other times, is no obstacle
    high = Zone.from_volume(
        polygon_feature(
            [square(*offset(45.0, 7.0, 90.0, 5_500.0), 2_000.0)], alt_lower_m=5_000.0, alt_upper_m=6_000.0
        )
    )
    later = Zone.from_volume(
        polygon_feature(
            [square(*offset(45.0, 7.0, 90.0, 5_500.0), 2_000.0)],
            start=T0 + timedelta(hours=1),
            end=T0 + timedelta(hours=2),
        )
    )
    for harmless in (high, later):
        assert exit_route(zone, state, perf, deadline=T0, avoid=[harmless]).eta == direct.eta


def test_when_every_way_crosses_an_avoid_zone_the_fastest_is_returned_with_what_it_crosses() -> None:
    zone = Zone.from_volume(circle_feature(45.0, 7.0, 3_000.0))
    state = AircraftState("op-1", T0, *offset(45.0, 7.0, 90.0, 2_000.0), 1_000.0, 40.0, 90.0, 0.0)
    # a ring round the zone: its hole (3.2 km half-side, less the buffer) holds the aircraft but no exit
    ring_zone = Zone.from_volume(
        polygon_feature([square(45.0, 7.0, 10_000.0), square(45.0, 7.0, 3_200.0)[::-1]]), name="ring"
    )
    perf = Performance(max_alt_m=3_000.0)  # no room to climb or descend
    direct = exit_route(zone, state, perf, deadline=T0)
    route = exit_route(zone, state, perf, deadline=T0, avoid=[ring_zone])
    assert route.crosses == ("ring",)
    assert route.eta == direct.eta
    unnamed = Zone.from_volume(
        polygon_feature([square(45.0, 7.0, 10_000.0), square(45.0, 7.0, 3_200.0)[::-1]])
    )
    assert exit_route(zone, state, perf, deadline=T0, avoid=[unnamed]).crosses == ("avoid[0]",)


def test_performance_and_margins_are_validated() -> None:
    with pytest.raises(InvalidInput, match="speed_mps"):
        Performance(speed_mps=0.0)
    with pytest.raises(InvalidInput, match="max_turn_rate_dps"):
        Performance(max_turn_rate_dps=math.nan)
    with pytest.raises(InvalidInput, match="max_climb_mps"):
        Performance(max_climb_mps=-1.0)
    with pytest.raises(InvalidInput, match="min_alt_m"):
        Performance(min_alt_m=100.0, max_alt_m=50.0)
    assert Performance().turn_radius_m == pytest.approx(40.0 / math.radians(3.0))
    zone = Zone.from_volume(circle_feature(45.0, 7.0, 1_000.0))
    with pytest.raises(InvalidInput, match="clear_margin_m"):
        exit_route(
            zone, AircraftState("a", T0, 45.0, 7.0, 10.0), Performance(), deadline=T0, clear_margin_m=-1.0
        )


def test_the_geojson_of_a_route() -> None:
    zone = Zone.from_volume(circle_feature(45.0, 7.0, 1_000.0))
    state = AircraftState("op-1", T0, 45.0, 7.0, 500.0, 40.0, 0.0, 0.0)
    route = exit_route(zone, state, Performance(), deadline=T0 + timedelta(minutes=1))
    g = route.to_geojson()
    assert g["type"] == "Feature"
    assert g["properties"]["eta"].endswith("Z") and len(g["properties"]["eta"]) == 27
    assert g["properties"]["clear_by_deadline"] is True
    assert len(g["properties"]["times"]) == len(g["geometry"]["coordinates"]) == len(route.waypoints)
    assert (
        distance_m(45.0, 7.0, g["geometry"]["coordinates"][-1][1], g["geometry"]["coordinates"][-1][0])
        > 1_500.0
    )
