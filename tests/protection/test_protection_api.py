"""Protected items end to end in process (the world of tests/party: the shared service and red,
blue, green in one app, every call through the app, JWT-checked): green notifies a convoy exact to
blue and check-only to red; both acknowledge; their reservations are checked against it (blue's on
its node, red's at the shared service), warned where the convoy is, not where it has gone; a
planner goes on with a reason (a signed waiver, in a transcript that verifies); the disclosure log;
and what is refused."""

from __future__ import annotations

import time
from typing import Any

from parley.line.transcript import verify_transcript
from tests.party.conftest import World
from tests.party.conftest import world as world  # the fixture
from tests.protection.scenario import convoy, notify_body, now_plus, reservation

LINE = "parley.line"


def _eventually(probe: Any, what: str, timeout_s: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        assert time.monotonic() < deadline, f"not within {timeout_s} s: {what}"
        time.sleep(0.05)


def _started(world: World, *parties: str) -> None:
    for party in parties:
        _eventually(
            lambda p=party: (
                world.client.get("/line/v1/registry/" + p, headers=world.token(p, LINE)).status_code == 200
            ),
            f"{party} registered",
        )


def _protect(party: str, path: str) -> str:
    return f"/parties/{party}/protect/v1{path}"


def _items(world: World, party: str) -> list[dict[str, Any]]:
    answer = world.client.get(_protect(party, "/items"), headers=world.operator(party))
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def _notified(world: World) -> dict[str, Any]:
    _started(world, "red", "blue", "green")
    answer = world.client.post(
        _protect("green", "/notify"), json=notify_body(["blue"], ["red"]), headers=world.operator("green")
    )
    assert answer.status_code == 201, answer.text
    done = dict(answer.json())
    for party in ("red", "blue"):
        _eventually(lambda p=party: _items(world, p), f"{party} holds the notice")
    return done


def test_a_convoy_exact_to_one_check_only_to_another_acknowledged_and_checked(world: World) -> None:
    done = _notified(world)
    pid = done["id"]
    # What each recipient holds: blue the geometry, red existence, window and coarse area only.
    (blue_item,) = _items(world, "blue")
    (red_item,) = _items(world, "red")
    assert blue_item["id"] == red_item["id"] == pid
    assert blue_item["held"] == "exact" and blue_item["geojson"]["route"]["geometry"]["type"] == "LineString"
    assert red_item["held"] == "check_only" and "geojson" not in red_item and "name" not in red_item
    assert red_item["coarse_area"]["geometry"]["type"] == "MultiPolygon"
    red_thread = red_item["notices"][0]["thread"]
    red_request = world.client.get(
        f"/parties/red/line/v1/threads/{red_thread}", headers=world.operator("red")
    )
    assert "route" not in red_request.json()["request"]["body"]
    assert set(red_request.json()["request"]["body"]["protected"]) == {"kind", "id", "check_only"}
    # Green's side: both unacknowledged until they accept.
    (green_item,) = _items(world, "green")
    assert {n["form"] for n in green_item["notices"]} == {"exact", "check_only"}
    assert sorted(r for n in green_item["notices"] for r in n["unacknowledged"]) == ["blue", "red"]
    for party in ("blue", "red"):
        thread = next(i for i in _items(world, party))["notices"][0]["thread"]
        answer = world.client.post(
            f"/parties/{party}/line/v1/threads/{thread}/accept", json={}, headers=world.operator(party)
        )
        assert answer.status_code == 200, answer.text
    _eventually(
        lambda: all(not n["unacknowledged"] for n in _items(world, "green")[0]["notices"]),
        "both acknowledged",
    )

    # Blue (exact; it plans operations, it has no reservations): warned where the convoy passes, with the least distance; not three hours later.
    passing = reservation(40.14, start_min=95)
    answer = world.client.post(
        world.ops_url("blue", "/operations"), json=passing, headers=world.operator("blue")
    )
    assert answer.status_code == 409, answer.text
    (conflict,) = answer.json()["protection_conflicts"]
    assert conflict["protected"] == pid and conflict["disclosure"] == "exact"
    assert 0 < conflict["least_distance_m"] < 500 and conflict["keep_away_m"] == 500.0
    later = reservation(40.14, start_min=200)
    blue_ops = world.operator("blue")
    answer = world.client.post(world.ops_url("blue", "/operations"), json=later, headers=blue_ops)
    assert answer.status_code == 201, answer.text

    # Red (check-only): warned through the shared service, without a distance.
    answer = world.client.post(
        world.ops_url("red", "/reservations"), json=passing, headers=world.operator("red")
    )
    assert answer.status_code == 409, answer.text
    (conflict,) = answer.json()["protection_conflicts"]
    assert conflict["protected"] == pid and conflict["disclosure"] == "check_only"
    assert conflict["least_distance_m"] is None and conflict["keep_away_m"] == 500.0
    answer = world.client.post(
        world.ops_url("red", "/reservations"), json=later, headers=world.operator("red")
    )
    assert answer.status_code == 201, answer.text

    # Red goes on with a reason: a waiver on its own chain, and its transcript verifies.
    answer = world.client.post(
        world.ops_url("red", "/reservations"),
        params={"protection_reason": "medevac, coordinated by phone with the convoy"},
        json=passing,
        headers=world.operator("red"),
    )
    assert answer.status_code == 201, answer.text
    transcript = world.client.get("/parties/red/line/v1/export", headers=world.operator("red")).json()
    waivers = [e for e in transcript["entries"] if e["kind"] == "waiver"]
    assert len(waivers) == 1 and waivers[0]["body"]["conflicts"][0]["protected"] == pid
    assert waivers[0]["body"]["ref"]["kind"] == "constraint" and waivers[0]["thread"] is None
    report = verify_transcript(transcript)
    assert report.ok, "\n".join(report.lines())
    assert any("waiver" in line for line in report.timeline)

    # The disclosure log: green's alone; who learned what, every check.
    log = world.client.get(_protect("green", f"/items/{pid}/disclosures"), headers=world.operator("green"))
    assert log.status_code == 200, log.text
    kinds = [(d["party"], d["kind"]) for d in log.json()["disclosures"]]
    assert ("blue", "exact") in kinds and ("red", "check_only") in kinds
    # Red's two checks of the passing reservation; the later one's window misses the convoy's, so
    # red's node did not ask.
    assert kinds.count(("red", "check")) == 2
    assert not any(p == "blue" and k == "check" for p, k in kinds)
    assert (
        world.client.get(
            _protect("red", f"/items/{pid}/disclosures"), headers=world.operator("red")
        ).status_code
        == 403
    )


def test_a_drafted_vacate_is_checked_and_a_party_without_a_disclosure_cannot_check(world: World) -> None:
    done = _notified(world)
    members = convoy()
    volume = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [40.15, 35.001]},
        "properties": {
            "radius_m": 1000,
            "alt_lower_m": 0,
            "alt_upper_m": 500,
            "start": now_plus(95),
            "end": now_plus(115),
        },
    }
    request = {
        "to": ["green"],
        "type": "vacate",
        "subject": "Clear",
        "reason": "ops",
        "deadline": now_plus(30),
        "volume": volume,
    }
    answer = world.client.post("/parties/blue/line/v1/requests", json=request, headers=world.operator("blue"))
    assert answer.status_code == 409, answer.text
    assert answer.json()["protection_conflicts"][0]["protected"] == done["id"]
    answer = world.client.post(
        "/parties/blue/line/v1/requests",
        json={**request, "protection_reason": "the convoy asked for it"},
        headers=world.operator("blue"),
    )
    assert answer.status_code == 201, answer.text
    # Blue was notified exact, not check-only: the shared service does not answer it.
    answer = world.client.post(
        "/line/v1/protected/check",
        json={"ids": [done["id"]], "volumes": [volume]},
        headers=world.token("blue", LINE),
    )
    assert answer.status_code == 403 and "nothing was disclosed" in answer.json()["message"], answer.text
    # Bad input: nothing is sent.
    threads_before = len(
        world.client.get("/parties/green/line/v1/threads", headers=world.operator("green")).json()["threads"]
    )
    bad_route = {
        **members,
        "route": {**members["route"], "properties": {**members["route"]["properties"], "half_width_m": 0}},
    }
    reversed_window = convoy()
    reversed_window["protected"]["schedule"].reverse()
    for bad in (bad_route, reversed_window, convoy(start_min=60 * 24 * 60)):
        answer = world.client.post(
            _protect("green", "/notify"),
            json=notify_body(["blue"], ["red"], **bad),
            headers=world.operator("green"),
        )
        assert answer.status_code == 400, answer.text
    threads_after = len(
        world.client.get("/parties/green/line/v1/threads", headers=world.operator("green")).json()["threads"]
    )
    assert threads_after == threads_before


def test_checks_over_the_rate_are_refused_and_a_cancellation_ends_the_protection(world: World) -> None:
    done = _notified(world)
    shared = world.server.app.state.protection_shared
    shared.checks_per_minute = 3
    volume = reservation(40.14, start_min=95)
    for i in range(4):
        answer = world.client.post(
            world.ops_url("red", "/reservations"), json=volume, headers=world.operator("red")
        )
        assert answer.status_code == (409 if i < 3 else 503), answer.text
    log = world.client.get(
        _protect("green", f"/items/{done['id']}/disclosures"), headers=world.operator("green")
    )
    assert [d["kind"] for d in log.json()["disclosures"]].count("refused") == 1
    shared.checks_per_minute = 60
    answer = world.client.post(
        _protect("green", f"/items/{done['id']}/cancel"),
        json={"reason": "convoy arrived", "deadline": now_plus(30)},
        headers=world.operator("green"),
    )
    assert answer.status_code == 201, answer.text
    _eventually(lambda: _items(world, "blue")[0]["held"] == "cancelled", "blue holds the cancellation")
    _eventually(lambda: _items(world, "red")[0]["held"] == "cancelled", "red holds the cancellation")
    for party, path in (("blue", "/operations"), ("red", "/reservations")):
        answer = world.client.post(world.ops_url(party, path), json=volume, headers=world.operator(party))
        assert answer.status_code == 201, answer.text


def test_an_operation_of_the_party_is_checked_by_its_id_without_planning_anything(world: World) -> None:
    done = _notified(world)
    blue, red = world.operator("blue"), world.operator("red")
    later = world.client.post(
        world.ops_url("blue", "/operations"), json=reservation(40.14, start_min=200), headers=blue
    )
    passing = world.client.post(
        world.ops_url("blue", "/operations"),
        params={"protection_reason": "coordinated with the convoy"},
        json=reservation(40.14, start_min=95),
        headers=blue,
    )
    reserved = world.client.post(
        world.ops_url("red", "/reservations"),
        params={"protection_reason": "coordinated with the convoy"},
        json=reservation(40.14, start_min=95),
        headers=red,
    )
    assert {later.status_code, passing.status_code, reserved.status_code} == {201}, passing.text

    def check(party: str, body: dict[str, Any]) -> Any:
        return world.client.post(_protect(party, "/check"), json=body, headers=world.operator(party))

    answer = check("blue", {"operation": later.json()["operation"]["id"]})
    assert answer.status_code == 200 and answer.json()["conflicts"] == [], answer.text
    answer = check("blue", {"operation": passing.json()["operation"]["id"]})
    assert answer.status_code == 200, answer.text
    (conflict,) = answer.json()["conflicts"]
    assert conflict["protected"] == done["id"] and conflict["least_distance_m"] > 0
    # Red's reservation, checked at the shared service (check-only): no distance.
    answer = check("red", {"operation": reserved.json()["reservation"]["id"]})
    assert answer.status_code == 200, answer.text
    (conflict,) = answer.json()["conflicts"]
    assert conflict["disclosure"] == "check_only" and conflict["least_distance_m"] is None
    # Refused: another party's operation, an unknown one, an operation and volumes at once.
    assert check("red", {"operation": passing.json()["operation"]["id"]}).status_code == 404
    assert check("blue", {"operation": "9a0c9c8e-0000-4000-8000-000000000000"}).status_code == 404
    both = check("blue", {"operation": later.json()["operation"]["id"], "volumes": [convoy()["route"]]})
    assert both.status_code == 400 and "not both" in both.json()["message"], both.text
    assert check("blue", {"operation": "not-an-id"}).status_code == 400
