"""Verified compliance as users run it, over real HTTP: the deployment of tests/e2e/test_line_http.py
(two ``parley serve`` processes: the shared service with RED and AID, BLUE alone; on SQLite and on
PostgreSQL). RED asks BLUE to vacate; BLUE's node shows the two affected aircraft and their exit
routes, BLUE accepts, the aircraft fly their routes out (1 Hz telemetry), BLUE's node certifies and
RED's node verifies the certificate, cross-checked against RED's own noisy radar picture. A
hold_clear broken by a re-entry; an aircraft still inside at the deadline. Every party's log verifies
offline, certificates included."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pyproj import Geod

from parley.line.times import format_time, parse_time
from parley.line.transcript import verify_transcript
from tests.e2e.test_line_http import Line, _eventually, _thread
from tests.e2e.test_line_http import line as line  # the fixture

pytestmark = pytest.mark.slow

GEOD = Geod(ellps="WGS84")
#: The zone: 40.00-40.05 E, 35.00-35.05 N, 0-2,000 m, buffers 500 m and 150 m.
ZONE = (40.0, 35.0, 0.05)
#: Where blue's aircraft are when asked: inside the buffer, a few hundred metres from its edge,
#: heading out (lat, lng, alt, track).
START = {"A": (35.025, 40.052, 1_000.0, 90.0), "B": (35.0525, 40.03, 1_800.0, 0.0)}


def _when(seconds: float) -> str:
    return format_time(datetime.now(UTC) + timedelta(seconds=seconds))


def _zone(hours: float = 6) -> dict[str, Any]:
    lng, lat, size = ZONE
    ring = [[lng, lat], [lng + size, lat], [lng + size, lat + size], [lng, lat + size], [lng, lat]]
    return {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {"alt_lower_m": 0, "alt_upper_m": 2_000, "start": _when(0), "end": _when(hours * 3600)},
    }


class Blue:
    """Blue's operator and its two aircraft."""

    def __init__(self, line: Line) -> None:
        self.line = line
        self.client = line.ops("blue")
        self.base = line.urls["blue"]
        self.ops: dict[str, str] = {}

    def fly(self, *names: str) -> None:
        start = datetime.now(UTC)
        for name in names:
            lower, upper = (0.0, 1_500.0) if START[name][2] < 1_500 else (1_500.0, 3_000.0)
            ring = [[39.9, 34.9], [40.2, 34.9], [40.2, 35.2], [39.9, 35.2], [39.9, 34.9]]
            body = {
                "name": name, "priority": 0, "state": "Activated", "altitude_lower_m": lower, "altitude_upper_m": upper,
                "time_start": format_time(start), "time_end": format_time(start + timedelta(hours=2)),
                "volumes": {"type": "FeatureCollection", "features": [
                    {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}, "properties": {}}
                ]},
            }  # fmt: skip
            r = self.client.post(f"{self.base}/ops/v1/operations", json=body)
            assert r.status_code == 201, r.text
            self.ops[name] = r.json()["operation"]["id"]

    def report(
        self, name: str, lat: float, lng: float, alt: float, t: datetime, track: float | None = None
    ) -> None:
        sample: dict[str, Any] = {
            "time": format_time(t),
            "lat": lat,
            "lng": lng,
            "alt_m": alt,
            "speed_mps": 40.0,
        }
        if track is not None:
            sample["track_deg"] = track
        r = self.client.post(
            f"{self.base}/ops/v1/operations/{self.ops[name]}/telemetry", json={"samples": [sample]}
        )
        assert r.status_code == 200, r.text


def _along(route: dict[str, Any], seconds: float) -> tuple[float, float, float]:
    """Where an aircraft flying ``route`` (an exit route's GeoJSON) is ``seconds`` after its start."""
    coords = route["geometry"]["coordinates"]
    times = [parse_time(t, "t") for t in route["properties"]["times"]]
    at = times[0] + timedelta(seconds=seconds)
    if at >= times[-1]:
        lng, lat, alt = coords[-1]
        return lat, lng, alt
    i = next(k for k in range(1, len(times)) if times[k] >= at)
    f = (at - times[i - 1]) / (times[i] - times[i - 1]) if times[i] > times[i - 1] else 1.0
    (lng0, lat0, alt0), (lng1, lat1, alt1) = coords[i - 1], coords[i]
    return lat0 + f * (lat1 - lat0), lng0 + f * (lng1 - lng0), alt0 + f * (alt1 - alt0)


def _request(line: Line, kind: str, deadline_s: float) -> tuple[httpx.Client, str]:
    red = line.ops("red")
    r = red.post("/requests", json={
        "to": ["blue"], "type": kind, "subject": "Clear the assault area", "reason": "Ground operation",
        "deadline": _when(deadline_s), "volume": _zone(), "buffer": {"h_m": 500, "v_m": 150},
    })  # fmt: skip
    assert r.status_code == 201, r.text
    return red, r.json()["id"]


def _entries(client: httpx.Client, tid: str, kind: str) -> list[dict[str, Any]]:
    return [e for e in _thread(client, tid).get("entries", []) if e["kind"] == kind]


def _verify(line: Line, party: str) -> Any:
    transcript = line.ops(party).get("/export").json()
    report = verify_transcript(transcript)
    assert report.ok, "\n".join(report.lines())
    return report


@pytest.fixture
def blue(line: Line) -> Iterator[Blue]:
    b = Blue(line)
    yield b
    for op in b.ops.values():  # end them: the next test flies its own
        b.client.post(f"{b.base}/ops/v1/operations/{op}/end")


def test_two_aircraft_routed_out_certified_and_verified_against_own_radar(line: Line, blue: Blue) -> None:
    blue.fly("A", "B")
    now = datetime.now(UTC)
    for name, (lat, lng, alt, track) in START.items():
        blue.report(name, lat, lng, alt, now, track)
    red, tid = _request(line, "vacate", 120)
    _eventually(lambda: _thread(blue.client, tid), "blue holds the request")

    impact = blue.client.get(f"/threads/{tid}/impact")
    assert impact.status_code == 200, impact.text
    routes = {a["id"]: a["exit"] for a in impact.json()["aircraft"]}
    assert set(routes) == set(blue.ops.values())
    assert all(r["properties"]["clear_by_deadline"] for r in routes.values())
    r = blue.client.post(f"/threads/{tid}/accept", json={"conditions": "both exit on their present tracks"})
    assert r.status_code == 200, r.text

    # The aircraft fly their exit routes at 1 Hz; red's radar sees them (15 m of noise, its own
    # times), its feed reaching red's node as the aircraft report to blue's.
    noise = random.Random(7)
    radar_feed = line.ops("red")
    t0 = datetime.now(UTC)
    eta = max(
        (
            parse_time(x["properties"]["eta"], "eta") - parse_time(x["properties"]["times"][0], "t")
        ).total_seconds()
        for x in routes.values()
    )
    steps = int(eta) + 3
    for k in range(steps + 1):
        t = t0 + timedelta(seconds=k)
        while datetime.now(UTC) < t:
            time.sleep(0.02)
        radar = []
        for name, op in blue.ops.items():
            lat, lng, alt = _along(routes[op], k)
            az, dist = noise.uniform(0, 360), abs(noise.gauss(0, 15))
            r_lng, r_lat, _ = GEOD.fwd(lng, lat, az, dist)
            radar.append({"track_id": f"radar-{name}", "time": format_time(t - timedelta(milliseconds=300)),
                          "lat": r_lat, "lng": r_lng, "alt_m": alt + noise.gauss(0, 20)})  # fmt: skip
        posted = radar_feed.post(
            f"{line.urls['red']}/ops/v1/surveillance", json={"source": "radar", "tracks": radar}
        )
        assert posted.status_code == 201, posted.text
        for name, op in blue.ops.items():
            blue.report(name, *_along(routes[op], k), t)

    verdict = _eventually(lambda: _entries(red, tid, "verdict"), "red's verdict", 30)[0]["body"]
    assert verdict["outcome"] == "verified_with_own_surveillance", verdict
    agreement = verdict["agreement"]
    assert agreement["matched"] == agreement["total"] > 0 and agreement["max_difference_m"] < 100.0
    certificate = _entries(red, tid, "certificate")[0]["body"]
    assert [a["id"] for a in certificate["aircraft"]] == sorted(blue.ops.values())
    assert parse_time(certificate["clear_at"], "clear_at") <= t0 + timedelta(seconds=steps)
    _eventually(lambda: _thread(blue.client, tid)["legs"]["blue"]["verdict"], "blue holds the verdict")
    for party in ("red", "blue"):
        assert [c[1] for c in _verify(line, party).certificates] == ["verified"]


def test_a_hold_broken_by_a_reentry_is_logged_with_its_evidence(line: Line, blue: Blue) -> None:
    blue.fly("A")
    lat, lng, alt, track = START["A"]
    blue.report("A", lat, lng, alt, datetime.now(UTC), track)
    red, tid = _request(line, "hold_clear", 120)
    _eventually(lambda: _thread(blue.client, tid), "blue holds the request")
    assert blue.client.post(f"/threads/{tid}/accept", json={}).status_code == 200
    t0 = datetime.now(UTC)
    blue.report("A", lat, lng, alt, t0 + timedelta(seconds=1))
    blue.report("A", lat, 40.065, alt, t0 + timedelta(seconds=2))  # out: ~1.4 km east of the zone
    _eventually(lambda: _entries(red, tid, "verdict"), "verdict on the certificate", 30)
    blue.report("A", lat, 40.053, alt, t0 + timedelta(seconds=3))  # back into the buffer
    alarm = _eventually(lambda: _entries(red, tid, "alarm"), "violation", 30)[0]
    assert alarm["party"] == "blue" and alarm["body"]["type"] == "violation"
    assert alarm["body"]["aircraft"] == [blue.ops["A"]] and alarm["body"]["evidence"]["samples"] >= 2
    transcript = red.get("/export").json()
    leg = _thread(red, tid)["legs"]["blue"]
    assert [s["lng"] for s in transcript["evidence"][leg["alarms"][0]][blue.ops["A"]]][-1] == 40.053
    _verify(line, "red")
    _verify(line, "blue")


def test_an_aircraft_inside_at_the_deadline_is_overdue_on_both_sides(line: Line, blue: Blue) -> None:
    blue.fly("A")
    lat, lng, alt, _ = START["A"]
    blue.report("A", lat, lng, alt, datetime.now(UTC))
    red, tid = _request(line, "vacate", 6)
    _eventually(lambda: _thread(blue.client, tid), "blue holds the request")
    assert blue.client.post(f"/threads/{tid}/accept", json={}).status_code == 200
    blue.report("A", lat, lng, alt, datetime.now(UTC))  # still inside

    def both() -> list[dict[str, Any]] | None:
        alarms = _entries(red, tid, "alarm")
        return alarms if {a["party"] for a in alarms} == {"red", "blue"} else None

    alarms = _eventually(both, "overdue on both sides", 30)
    assert {a["body"]["type"] for a in alarms} == {"overdue"}
    assert _entries(red, tid, "certificate") == []
    _verify(line, "red")
    _verify(line, "blue")
