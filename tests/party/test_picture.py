"""The tactical picture of a party node: its own aircraft and its surveillance feed's returns through
the tactical engine as reports arrive; a conflict involving an own aircraft is an alarm; a feed's
return of an own aircraft is not another aircraft."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.party.conftest import World, iso, make_world, operation_body, party_settings, square
from tests.party.conftest import world as world  # the fixture


def _eventually(probe: Any, what: str, timeout_s: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        assert time.monotonic() < deadline, f"not within {timeout_s} s: {what}"
        time.sleep(0.05)


def _fly(world: World, party: str, lower: float, upper: float) -> str:
    body = operation_body(
        square(7.9, 46.9, 0.4), lower=lower, upper=upper, start_min=0, minutes=60, state="Activated"
    )
    r = world.client.post(world.ops_url(party, "/operations"), json=body, headers=world.operator(party))
    assert r.status_code == 201, r.text
    return str(r.json()["operation"]["id"])


def _report(
    world: World, party: str, op: str, lat: float, lng: float, alt: float, trk: float, t: datetime
) -> None:
    sample = {"time": iso(t), "lat": lat, "lng": lng, "alt_m": alt, "speed_mps": 100.0, "track_deg": trk}
    r = world.client.post(
        world.ops_url(party, f"/operations/{op}/telemetry"),
        json={"samples": [sample]},
        headers=world.operator(party),
    )
    assert r.status_code == 200, r.text


def _picture(world: World, party: str) -> dict[str, Any]:
    r = world.client.get(world.ops_url(party, "/picture"), headers=world.operator(party))
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_two_own_aircraft_closing_are_an_alarm_and_the_radar_return_is_no_third(world: World) -> None:
    a, b = _fly(world, "blue", 0.0, 1_500.0), _fly(world, "blue", 1_500.0, 3_000.0)
    now = datetime.now(UTC)
    # 15 km apart, closing at 200 m/s, 200 m apart vertically: separation lost in about 30 s
    _report(world, "blue", a, 47.1, 8.0, 1_400.0, 90.0, now)
    _report(world, "blue", b, 47.1, 8.2, 1_600.0, 270.0, now)
    # blue's own radar sees both (its returns are its own aircraft) and a stranger far away
    radar = [
        {"track_id": "r1", "time": iso(now), "lat": 47.1001, "lng": 8.0, "alt_m": 1_420.0},
        {"track_id": "r2", "time": iso(now), "lat": 47.1, "lng": 8.2002, "alt_m": 1_590.0},
        {"track_id": "r3", "time": iso(now), "lat": 47.3, "lng": 8.1, "alt_m": 5_000.0},
    ]
    r = world.client.post(
        world.ops_url("blue", "/surveillance"),
        json={"source": "radar", "tracks": radar},
        headers=world.operator("blue"),
    )
    assert r.status_code == 201, r.text

    def conflict() -> dict[str, Any] | None:
        found = _picture(world, "blue")["conflicts"]
        return found[0] if found else None

    c = _eventually(conflict, "the conflict in blue's picture")
    assert sorted(c["aircraft"]) == sorted([f"own/{a}", f"own/{b}"]) and c["alarm"] is True
    assert 20.0 < c["t_in_s"] < 40.0 and c["cpa"] is not None and abs(c["cpa"]["lng"] - 8.1) < 0.01
    ids = {t["id"] for t in _picture(world, "blue")["tracks"]}
    assert ids == {f"own/{a}", f"own/{b}", "radar/r3"}  # r1, r2 are a and b seen by the radar
    told = world.client.get(world.ops_url("blue", "/notifications"), headers=world.operator("blue")).json()
    assert any(n["kind"] == "tactical_conflict" for n in told["notifications"])

    # They turn away: the conflict clears.
    later = now + timedelta(seconds=2)
    _report(world, "blue", a, 47.1, 8.0027, 1_400.0, 270.0, later)
    _report(world, "blue", b, 47.1, 8.1973, 1_600.0, 90.0, later)
    _eventually(lambda: _picture(world, "blue")["conflicts"] == [], "cleared")


def test_another_partys_aircraft_seen_by_radar_conflict_without_alarm(world: World) -> None:
    now = datetime.now(UTC)
    radar = [
        {
            "track_id": "x",
            "time": iso(now - timedelta(seconds=1)),
            "lat": 47.1,
            "lng": 7.9990,
            "alt_m": 1_400.0,
        },
        {
            "track_id": "y",
            "time": iso(now - timedelta(seconds=1)),
            "lat": 47.1,
            "lng": 8.2010,
            "alt_m": 1_500.0,
        },
        {"track_id": "x", "time": iso(now), "lat": 47.1, "lng": 8.0, "alt_m": 1_400.0},
        {"track_id": "y", "time": iso(now), "lat": 47.1, "lng": 8.2, "alt_m": 1_500.0},
    ]
    r = world.client.post(
        world.ops_url("red", "/surveillance"),
        json={"source": "radar", "tracks": radar},
        headers=world.operator("red"),
    )
    assert r.status_code == 201, r.text
    c = _eventually(lambda: _picture(world, "red")["conflicts"], "red's picture")[0]
    assert sorted(c["aircraft"]) == ["radar/x", "radar/y"] and c["alarm"] is False  # velocities estimated
    view = _picture(world, "red")
    speeds = {t["id"]: t["gs_mps"] for t in view["tracks"]}
    assert 60.0 < speeds["radar/x"] < 90.0  # 0.001 deg of longitude in a second at 47.1 N: about 76 m/s
    assert view["separation"]["rpz_m"] == 5 * 1852.0


@pytest.fixture
def sharing(tmp_path: Path) -> Iterator[World]:
    """Blue shares its tracks with red, which accepts them; nobody else shares or accepts."""
    yield from make_world(
        tmp_path, party_settings(blue={"share_tracks_with": ["red"]}, red={"accept_tracks_from": ["blue"]})
    )


def test_tracks_are_shared_only_between_parties_that_both_say_so(sharing: World) -> None:
    world = sharing
    op = _fly(world, "blue", 0.0, 1_500.0)
    _report(world, "blue", op, 47.1, 8.0, 1_400.0, 90.0, datetime.now(UTC))
    shared = _eventually(
        lambda: [t for t in _picture(world, "red")["tracks"] if t["id"] == f"blue/{op}"], "red sees it"
    )
    assert shared[0]["own"] is False and abs(shared[0]["lat"] - 47.1) < 1e-9 and shared[0]["gs_mps"] == 100.0
    # green shares nothing and red does not take green's; blue takes nobody's
    track = {"track_id": "g1", "time": iso(datetime.now(UTC)), "lat": 47.0, "lng": 8.0, "alt_m": 100.0}
    for sender, receiver in (("green", "red"), ("red", "blue")):
        r = world.client.post(
            f"/parties/{receiver}/line/v1/tracks",
            json={"tracks": [track]},
            headers=world.token(sender, "parley.line"),
        )
        assert r.status_code == 403 and "not accepted here" in r.json()["message"], r.text
    r = world.client.post(
        "/parties/red/line/v1/tracks",
        json={"tracks": [{**track, "lat": 95.0}]},
        headers=world.token("blue", "parley.line"),
    )
    assert r.status_code == 400
    r = world.client.post(
        "/parties/red/line/v1/tracks", json={"tracks": [track]}, headers=world.operator("blue")
    )
    assert r.status_code == 403  # an operator's token is not a peer's
    assert not any(t["id"].startswith("green/") for t in _picture(world, "red")["tracks"])
