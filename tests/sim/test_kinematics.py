"""Where simulated aircraft and convoys are: orbits close on themselves at the flight's speed,
waypoint flights end, exit-route diversions are followed, convoys keep their schedules."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.sim.kinematics import GEOD, AircraftTrack, ConvoyTrack, Path, Radar
from parley.sim.scenario import Aircraft, Feed, Flight, Movement, Racetrack, ScheduleStep, Waypoint


def _distance(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(GEOD.inv(a[1], a[0], b[1], b[0])[2])


@settings(max_examples=40, deadline=None)
@given(
    st.floats(-60, 60), st.floats(-179, 179), st.floats(1_000, 50_000), st.floats(500, 10_000),
    st.floats(0, 359.9), st.floats(20, 250),
)  # fmt: skip
def test_an_orbit_flies_at_its_speed_and_comes_back_to_its_start(
    lat: float, lng: float, length: float, width: float, heading: float, speed: float
) -> None:
    flight = Flight(
        racetrack=Racetrack(center=(lng, lat), length_m=length, width_m=width, heading_deg=heading),
        altitude_m=3000,
        speed_mps=speed,
    )
    path = Path(flight)
    perimeter = 2 * length + math.pi * width
    lap_s = perimeter / speed
    a, b = path.at(0.0), path.at(lap_s)
    assert a is not None and b is not None
    assert _distance((a.lat, a.lng), (b.lat, b.lng)) < 1.0
    # one second apart: the distance flown is the speed (chords of turns a little shorter)
    for k in range(8):
        t = lap_s * k / 8
        p, q = path.at(t), path.at(t + 1.0)
        assert p is not None and q is not None
        # a second flown in a turn of radius r is a chord 2 r sin(v / 2r) long, not v
        r = width / 2
        chord = 2 * r * math.sin(min(speed / (2 * r), math.pi / 2))
        assert min(speed, chord) * 0.995 < _distance((p.lat, p.lng), (q.lat, q.lng)) < speed * 1.01
        # never farther from the centre than half its length plus its width
        assert _distance((p.lat, p.lng), (lat, lng)) <= length / 2 + width / 2 + 1.0


def test_the_first_leg_flies_along_the_heading() -> None:
    flight = Flight(
        racetrack=Racetrack(center=(40.0, 35.0), length_m=10_000, width_m=2_000, heading_deg=90),
        altitude_m=3000,
        speed_mps=50,
    )
    state = Path(flight).at(10.0)
    assert state is not None and abs(state.track_deg - 90.0) < 0.5
    assert state.lat > 35.0  # the first leg is on the left of the heading: north of the centre


def test_a_waypoint_flight_climbs_and_ends() -> None:
    flight = Flight(
        waypoints=[Waypoint(position=(40.0, 35.0), alt_m=0), Waypoint(position=(40.1, 35.0), alt_m=1000)],
        altitude_m=1000, speed_mps=50, climb_mps=10,
    )  # fmt: skip
    path = Path(flight)
    assert path.duration_s == pytest.approx(_distance((35.0, 40.0), (35.0, 40.1)) / 50, rel=1e-9)
    mid = path.at(50.0)
    assert mid is not None and mid.alt_m == pytest.approx(500.0) and mid.vertical_mps == 10.0
    top = path.at(150.0)
    assert top is not None and top.alt_m == 1000.0 and top.vertical_mps == 0.0
    assert path.at(path.duration_s + 1) is None


def test_an_aircraft_exists_between_its_start_and_end_and_follows_a_diversion() -> None:
    flight = Flight(
        racetrack=Racetrack(center=(40.0, 35.0), length_m=10_000, width_m=2_000),
        altitude_m=3000,
        speed_mps=50,
    )
    track = AircraftTrack(
        Aircraft(id="a", party="p", flight=flight, start=timedelta(minutes=1), end=timedelta(minutes=10))
    )
    assert track.at(59.0) is None and track.at(601.0) is None and track.at(60.0) is not None
    track.divert(120.0, [(0.0, 35.0, 40.0, 3000.0), (100.0, 35.0, 40.05, 3100.0)])
    half = track.at(170.0)
    assert (
        half is not None
        and half.lng == pytest.approx(40.025, abs=1e-6)
        and half.alt_m == pytest.approx(3050.0)
    )
    end = track.at(400.0)
    assert end is not None and (end.lat, end.lng, end.alt_m) == (35.0, 40.05, 3100.0)


def test_a_convoy_keeps_its_schedule_stops_and_turns_back() -> None:
    convoy = ConvoyTrack(
        Movement(
            id="c", name="convoy", route=[(40.0, 35.0), (40.2, 35.0)],
            schedule=[ScheduleStep(at=timedelta(0), distance_m=0), ScheduleStep(at=timedelta(minutes=10), distance_m=10_000),
                      ScheduleStep(at=timedelta(minutes=20), distance_m=10_000), ScheduleStep(at=timedelta(minutes=30), distance_m=0)],
        )
    )  # fmt: skip
    start = (35.0, 40.0)
    assert _distance(convoy.at(300.0), start) == pytest.approx(5_000.0, abs=1.0)
    assert _distance(convoy.at(900.0), start) == pytest.approx(10_000.0, abs=1.0)
    assert _distance(convoy.at(1_500.0), start) == pytest.approx(5_000.0, abs=1.0)
    assert _distance(convoy.at(-60.0), start) < 1e-6
    t0 = datetime(2017, 5, 3, 6, tzinfo=UTC)
    assert convoy.schedule(t0)[1] == (t0 + timedelta(minutes=10), 10_000.0)


def test_radar_noise_is_seeded_and_about_its_size() -> None:
    flight = Flight(
        racetrack=Racetrack(center=(40.0, 35.0), length_m=10_000, width_m=2_000),
        altitude_m=3000,
        speed_mps=50,
    )
    state = Path(flight).at(0.0)
    assert state is not None
    feed = Feed(party="red", source="radar", noise_m=30)
    first = [Radar(feed, 7).observe(state) for _ in range(1)]
    again = [Radar(feed, 7).observe(state) for _ in range(1)]
    assert first == again
    radar = Radar(feed, 7)
    errors = [_distance(radar.observe(state)[:2], (state.lat, state.lng)) for _ in range(500)]
    assert 25.0 < sum(errors) / len(errors) < 50.0  # Rayleigh mean: 30 * 1.25
    assert Radar(Feed(party="red", source="r", noise_m=0), 1).observe(state) == (
        state.lat,
        state.lng,
        state.alt_m,
    )
