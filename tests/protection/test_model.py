"""Sites and movements as values: validation on construction, and where a schedule puts a convoy."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from parley.domain.errors import InvalidInput
from parley.domain.geo import LatLng, Polygon
from parley.protection import PROTECTED_HEIGHT_M, ProtectedMovement, Waypoint
from parley.strategic.earth import geod
from tests.protection import ROAD, T0, at, convoy, offset, road, site, square

ROUTE = road(60_000.0, 4)
#: 10 m/s east for an hour, a one-hour stop at 36 km, then back west to 10 km by 12:00.
CONVOY = convoy(ROUTE, [(120, 0.0), (180, 36_000.0), (240, 36_000.0), (360, 10_000.0)], margin_s=600.0)


def _metres(a: LatLng, b: LatLng) -> float:
    return float(geod().inv(a.lng, a.lat, b.lng, b.lat)[2])


def test_position_follows_the_schedule_along_the_geodesic_route() -> None:
    assert CONVOY.length_m == pytest.approx(60_000.0, abs=1e-6)
    assert CONVOY.distance_at(at(150)) == pytest.approx(18_000.0)
    assert _metres(CONVOY.position_at(at(150)), offset(ROAD, 18_000.0, 0.0)) < 0.01
    assert CONVOY.distance_at(at(210)) == 36_000.0  # stopped
    assert CONVOY.distance_at(at(300)) == pytest.approx(23_000.0)  # turned back
    with pytest.raises(ValueError, match="outside the schedule"):
        CONVOY.position_at(at(119))
    assert (CONVOY.start, CONVOY.end) == (at(120), at(360))


def test_the_margin_widens_where_the_convoy_may_be() -> None:
    assert CONVOY.distance_range(at(150)) == pytest.approx((12_000.0, 24_000.0))
    assert CONVOY.distance_range(at(185)) == pytest.approx((33_000.0, 36_000.0))  # arriving at the stop
    assert CONVOY.distance_range(at(238)) == pytest.approx((34_266.67, 36_000.0), abs=0.01)  # leaving it
    assert CONVOY.distance_range(at(115)) == pytest.approx((0.0, 3_000.0))  # may be early
    assert CONVOY.distance_range(at(365)) == pytest.approx((10_000.0, 11_083.33), abs=0.01)  # may be late
    assert CONVOY.distance_range(at(109)) is None
    positions = CONVOY.possible_positions(at(150))
    assert _metres(positions[0], offset(ROAD, 12_000.0, 0.0)) < 0.01
    assert _metres(positions[-1], offset(ROAD, 24_000.0, 0.0)) < 0.01
    assert positions[1:-1] == (ROUTE[1],)  # the vertex at 20 km between
    assert CONVOY.possible_positions(at(100)) == ()


def test_a_stop_is_one_position_without_margin() -> None:
    still = dataclasses.replace(CONVOY, time_margin_s=0.0)
    assert still.possible_positions(at(200)) == (still.point_at(36_000.0),)


def test_sites_and_movements_protect_up_to_their_ceiling() -> None:
    assert site(ROAD, 100.0).top_m() == float("inf")
    assert site(ROAD, 100.0, ground_m=300.0).top_m() == 300.0 + PROTECTED_HEIGHT_M
    assert site(ROAD, 100.0, ground_m=300.0).top_m(200.0) == 500.0
    assert site(ROAD, 100.0, ground_m=300.0, ceiling_m=2_000.0).top_m() == 2_000.0
    assert dataclasses.replace(CONVOY, ground_m=250.0).top_m() == 750.0


BOWTIE = Polygon((offset(ROAD, 0, 0), offset(ROAD, 100, 100), offset(ROAD, 100, 0), offset(ROAD, 0, 100)))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"radius_m": -1.0}, r"site 'site-1'.radius_m: must be within \(0, 100000\], got -1"),
        ({"radius_m": float("nan")}, r"radius_m: expected a finite number"),
        ({"radius_m": 0.0}, r"radius_m: must be within \(0, 100000\]"),  # a point needs a radius
        ({"outline": LatLng(91.0, 40.0)}, r"outline: \(91.0, 40.0\) is outside"),
        ({"outline": BOWTIE}, r"outline: the polygon's edges cross or touch \(Self-intersection"),
        ({"outline": Polygon(BOWTIE.vertices[:2])}, r"outline: a polygon needs 3"),
        ({"outline": Polygon((*BOWTIE.vertices[:2], BOWTIE.vertices[1]))}, r"vertices\[2\]: repeats"),
        ({"outline": square(ROAD, 120_000.0)}, r"outline: a vertex lies 170 km from the polygon's centre"),
        ({"end": T0}, r"site 'site-1': start .* is not before end"),
        ({"end": T0 - timedelta(hours=1)}, r"is not before end"),
        ({"start": T0.replace(tzinfo=None)}, r"start: expected a timezone-aware datetime"),
        ({"name": " "}, r"name: must not be empty"),
        ({"category": "clinic"}, r"category: expected one of hospital, shelter"),
        ({"ceiling_m": 800.0}, r"ceiling_m: a ceiling needs the ground"),
        ({"ground_m": 900.0, "ceiling_m": 800.0}, r"ceiling_m: must be above ground_m"),
        ({"ground_m": -5_000.0}, r"ground_m: must be within \[-1000, 100000\]"),
    ],
)
def test_invalid_sites_are_refused_naming_the_field(change: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        dataclasses.replace(site(ROAD, 300.0), **change)


def _schedule(*pairs: tuple[float, float]) -> tuple[Waypoint, ...]:
    return tuple(Waypoint(at(m), d) for m, d in pairs)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"route": ()}, r"movement 'convoy-1'.route: a route needs 2 to 10000 points, got 0"),
        ({"route": ROUTE[:1]}, r"route: a route needs 2 to 10000 points, got 1"),
        ({"route": (ROUTE[0], ROUTE[0], ROUTE[1])}, r"route\[1\]: repeats the previous point"),
        ({"route": (ROUTE[0], LatLng(0.0, 200.0))}, r"route\[1\]: \(0.0, 200.0\) is outside"),
        ({"route": (ROUTE[0], LatLng(-35.0, -140.0))}, r"route\[1\]: .* km from the previous point"),
        ({"half_width_m": 0.0}, r"half_width_m: must be within \(0, 100000\]"),
        ({"half_width_m": -10.0}, r"half_width_m: must be within"),
        ({"schedule": _schedule((0, 0.0))}, r"schedule: a schedule needs at least 2 waypoints"),
        ({"schedule": _schedule((0, 0.0), (0, 10.0))}, r"schedule\[1\].t: not after .*schedule\[0\].t"),
        ({"schedule": _schedule((10, 0.0), (5, 10.0))}, r"schedule\[1\].t: not after"),
        ({"schedule": _schedule((0, 0.0), (60, 60_002.0))}, r"schedule\[1\].distance_m: 60002.0 m is beyond"),
        (
            {"schedule": _schedule((0, -1.0), (60, 10.0))},
            r"schedule\[0\].distance_m: must be within \[0, inf\]",
        ),
        ({"time_margin_s": -1.0}, r"time_margin_s: must be within \[0, 86400\]"),
        ({"vehicles": 0}, r"vehicles: expected a positive integer"),
        ({"vehicles": True}, r"vehicles: expected a positive integer"),
        ({"name": ""}, r"name: must not be empty"),
    ],
)
def test_invalid_movements_are_refused_naming_the_field(change: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        dataclasses.replace(CONVOY, **change)


def test_a_schedule_may_end_a_metre_beyond_the_route() -> None:
    m = dataclasses.replace(CONVOY, schedule=_schedule((0, 0.0), (60, 60_000.9)))
    assert m.distance_at(at(60)) == pytest.approx(60_000.0)
    assert isinstance(m, ProtectedMovement)
