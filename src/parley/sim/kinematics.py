"""Where simulated things are: aircraft on their flights, convoys on their schedules, and what a
noisy surveillance feed reports of them. Pure and deterministic (no clock; noise from a seeded
generator), so a scenario plays the same for a given seed.

Positions are computed on the WGS84 ellipsoid with PROJ's geodesics: a leg between two waypoints is
the geodesic between them; a racetrack is laid out in a local azimuthal-equidistant plane about its
centre (straight legs and half circles there; the distortion over an orbit of tens of kilometres is
centimetres). Altitude changes at the flight's climb rate towards each waypoint's altitude.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

import numpy as np
from pyproj import Geod, Proj

from parley.sim.scenario import Aircraft, Feed, Flight, Movement, Racetrack

GEOD = Geod(ellps="WGS84")


@dataclass(frozen=True, slots=True)
class State:
    """An aircraft's state: WGS84 degrees, metres above the ellipsoid, ground speed m/s, track
    degrees clockwise from north, vertical speed m/s."""

    lat: float
    lng: float
    alt_m: float
    speed_mps: float
    track_deg: float
    vertical_mps: float = 0.0


class Path:
    """A flight as a function of the time since it began (seconds): :meth:`at`."""

    def __init__(self, flight: Flight) -> None:
        self.flight = flight
        if flight.racetrack is not None:
            self._racetrack: _Racetrack | None = _Racetrack(flight.racetrack)
            self._legs: _Legs | None = None
        else:
            self._racetrack = None
            assert flight.waypoints is not None
            self._legs = _Legs(flight)

    @property
    def duration_s(self) -> float:
        """How long the flight lasts (``inf`` for an orbit)."""
        return math.inf if self._legs is None else self._legs.total_s

    def at(self, seconds: float) -> State | None:
        """The state ``seconds`` into the flight; ``None`` once a waypoint flight has ended."""
        if seconds < 0:
            seconds = 0.0
        if self._racetrack is not None:
            lat, lng, track = self._racetrack.at(seconds * self.flight.speed_mps)
            return State(lat, lng, self.flight.altitude_m, self.flight.speed_mps, track)
        assert self._legs is not None
        return self._legs.at(seconds)

    def footprint(self, samples: int = 256) -> list[tuple[float, float]]:
        """Points of the path (``(lng, lat)``), for the operation's volume."""
        if self._racetrack is not None:
            return [
                (lng, lat)
                for lat, lng, _ in (
                    self._racetrack.at(d) for d in np.linspace(0.0, self._racetrack.perimeter, samples)
                )
            ]
        assert self.flight.waypoints is not None
        return [wp.position for wp in self.flight.waypoints]


class _Racetrack:
    def __init__(self, r: Racetrack) -> None:
        self.r = r
        lng, lat = r.center
        self.proj = Proj(f"+proj=aeqd +lat_0={lat} +lon_0={lng} +ellps=WGS84")
        self.radius = r.width_m / 2.0
        self.half = r.length_m / 2.0
        self.perimeter = 2.0 * r.length_m + 2.0 * math.pi * self.radius
        self.heading = math.radians(r.heading_deg)

    def at(self, distance_m: float) -> tuple[float, float, float]:
        """``(lat, lng, track)`` after ``distance_m`` along the orbit (clockwise, starting at the
        start of the first straight leg, flying along the heading)."""
        d = distance_m % self.perimeter
        r, half, length = self.radius, self.half, self.r.length_m
        # local frame: u along the heading, v to its left; first leg at v = +r from -half to +half
        if d < length:
            u, v, course = -half + d, r, 0.0
        elif d < length + math.pi * r:
            a = (d - length) / r  # turning right round (half, 0)
            u, v, course = half + r * math.sin(a), r * math.cos(a), a
        elif d < 2 * length + math.pi * r:
            s = d - length - math.pi * r
            u, v, course = half - s, -r, math.pi
        else:
            a = (d - 2 * length - math.pi * r) / r
            u, v, course = -half - r * math.sin(a), -r * math.cos(a), math.pi + a
        h = self.heading
        # east/north of the local axes: u along heading h (clockwise from north), v to its left
        east = u * math.sin(h) - v * math.cos(h)
        north = u * math.cos(h) + v * math.sin(h)
        lng, lat = self.proj(east, north, inverse=True)
        track = (math.degrees(h + course)) % 360.0
        return float(lat), float(lng), track


class _Legs:
    """A waypoint flight: geodesic legs flown at the flight's speed; altitude moving towards each
    waypoint's own (or the flight's) at the climb rate."""

    def __init__(self, flight: Flight) -> None:
        assert flight.waypoints is not None
        self.flight = flight
        pts = flight.waypoints
        self.lngs = [p.position[0] for p in pts]
        self.lats = [p.position[1] for p in pts]
        self.alts = [flight.altitude_m if p.alt_m is None else p.alt_m for p in pts]
        az, _, dist = GEOD.inv(self.lngs[:-1], self.lats[:-1], self.lngs[1:], self.lats[1:])
        self.azimuths = [float(a) for a in np.atleast_1d(az)]
        self.lengths = [float(d) for d in np.atleast_1d(dist)]
        self.starts = np.concatenate([[0.0], np.cumsum(self.lengths)]).tolist()
        self.total_s = self.starts[-1] / flight.speed_mps

    def at(self, seconds: float) -> State | None:
        if seconds > self.total_s:
            return None
        flight = self.flight
        d = seconds * flight.speed_mps
        i = min(max(bisect_right(self.starts, d) - 1, 0), len(self.lengths) - 1)
        along = d - self.starts[i]
        lng, lat, back = GEOD.fwd(self.lngs[i], self.lats[i], self.azimuths[i], along)
        track = (float(back) + 180.0) % 360.0
        # altitude: from the leg's start altitude towards its end's at the climb rate
        a0, a1 = self.alts[i], self.alts[i + 1]
        t_leg = along / flight.speed_mps
        change = max(-abs(a1 - a0), min(abs(a1 - a0), flight.climb_mps * t_leg))
        alt = a0 + math.copysign(change, a1 - a0) if a1 != a0 else a0
        vertical = 0.0 if alt == a1 else math.copysign(flight.climb_mps, a1 - a0)
        return State(float(lat), float(lng), alt, flight.speed_mps, track, vertical)


class AircraftTrack:
    """An aircraft of a scenario over scenario time: :meth:`at` ``None`` before its start, after
    its end or once its flight is over; :meth:`divert` replaces its flight from a time on (an exit
    route to fly, as waypoints with times)."""

    def __init__(self, aircraft: Aircraft) -> None:
        self.aircraft = aircraft
        self.path = Path(aircraft.flight)
        self.start_s = aircraft.start.total_seconds()
        self.end_s = math.inf if aircraft.end is None else aircraft.end.total_seconds()
        self._divert: tuple[float, list[tuple[float, float, float, float]]] | None = None

    def divert(self, from_s: float, route: Sequence[tuple[float, float, float, float]]) -> None:
        """From scenario time ``from_s``, fly ``route``: ``(seconds after from_s, lat, lng, alt)``
        points, straight between them (then hold the last point's position: reported until the end)."""
        self._divert = (from_s, list(route))

    def at(self, t_s: float) -> State | None:
        if t_s < self.start_s or t_s > self.end_s:
            return None
        if self._divert is not None and t_s >= self._divert[0]:
            return _along(self._divert[1], t_s - self._divert[0], self.aircraft.flight.speed_mps)
        return self.path.at(t_s - self.start_s)


def _along(route: list[tuple[float, float, float, float]], s: float, speed: float) -> State:
    if s >= route[-1][0]:
        _, lat, lng, alt = route[-1]
        return State(lat, lng, alt, 0.0, 0.0)
    k = max(1, bisect_right([p[0] for p in route], s))
    t0, lat0, lng0, alt0 = route[k - 1]
    t1, lat1, lng1, alt1 = route[k]
    f = 0.0 if t1 <= t0 else (s - t0) / (t1 - t0)
    az, _, dist = GEOD.inv(lng0, lat0, lng1, lat1)
    lng, lat, _ = GEOD.fwd(lng0, lat0, az, dist * f)
    vertical = 0.0 if t1 <= t0 else (alt1 - alt0) / (t1 - t0)
    return State(float(lat), float(lng), alt0 + f * (alt1 - alt0), speed, float(az) % 360.0, vertical)


class ConvoyTrack:
    """A movement over scenario time: its position from the schedule (linear in distance between
    steps along the geodesic route; before the first step at its first, after the last at its last)."""

    def __init__(self, movement: Movement) -> None:
        self.movement = movement
        lngs = [p[0] for p in movement.route]
        lats = [p[1] for p in movement.route]
        az, _, dist = GEOD.inv(lngs[:-1], lats[:-1], lngs[1:], lats[1:])
        self.lngs, self.lats = lngs, lats
        self.azimuths = [float(a) for a in np.atleast_1d(az)]
        self.lengths = [float(d) for d in np.atleast_1d(dist)]
        self.starts = np.concatenate([[0.0], np.cumsum(self.lengths)]).tolist()
        self.times = [s.at.total_seconds() for s in movement.schedule]
        self.distances = [s.distance_m for s in movement.schedule]

    @cached_property
    def length_m(self) -> float:
        return float(self.starts[-1])

    def distance_at(self, t_s: float) -> float:
        return float(np.interp(t_s, self.times, self.distances))

    def at(self, t_s: float) -> tuple[float, float]:
        """``(lat, lng)`` at scenario time ``t_s``."""
        d = min(max(self.distance_at(t_s), 0.0), self.length_m)
        i = min(max(bisect_right(self.starts, d) - 1, 0), len(self.lengths) - 1)
        lng, lat, _ = GEOD.fwd(self.lngs[i], self.lats[i], self.azimuths[i], d - self.starts[i])
        return float(lat), float(lng)

    def schedule(self, start: datetime) -> list[tuple[datetime, float]]:
        """The schedule in absolute times (for a protection notice)."""
        return [(start + timedelta(seconds=t), d) for t, d in zip(self.times, self.distances, strict=True)]


class Radar:
    """What a surveillance feed reports of a state: the position moved by Gaussian noise (``noise_m``
    horizontally, twice that vertically), from a generator seeded by the scenario and the feed."""

    def __init__(self, feed: Feed, seed: int) -> None:
        self.feed = feed
        self.rng = np.random.default_rng([seed, sum(map(ord, feed.source))])

    def observe(self, state: State) -> tuple[float, float, float]:
        sigma = self.feed.noise_m
        if sigma == 0:
            return state.lat, state.lng, state.alt_m
        dx, dy = (float(v) for v in self.rng.normal(0.0, sigma, 2))
        dz = float(self.rng.normal(0.0, 2 * sigma))
        az = math.degrees(math.atan2(dx, dy))
        lng, lat, _ = GEOD.fwd(state.lng, state.lat, az, math.hypot(dx, dy))
        return float(lat), float(lng), state.alt_m + dz
