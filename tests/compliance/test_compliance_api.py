"""Verified compliance between party nodes, in process (the world of tests/party: the shared service
and red, blue, green; every call through the app, JWT-checked): red asks blue to vacate, blue sees
what it costs, accepts, its aircraft leave, its node certifies, red's node verifies against its own
surveillance; an overdue obligation; a hold broken by a re-entry; both logs verify offline."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from pyproj import Geod

from parley.compliance.certificate import Crossing, build_certificate
from parley.compliance.samples import Sample, samples_to_json
from parley.line.entry import Kind
from parley.line.times import format_time
from parley.line.transcript import Report, verify_transcript
from parley.services.line import node as line_svc
from tests.party.conftest import World, iso, operation_body, square
from tests.party.conftest import world as world  # the fixture

LINE = "parley.line"
#: Blue's aircraft fly inside the zone here (the zone: 8.05-8.10 E, 47.05-47.10 N, 0-2000 m).
INSIDE = {"A": (47.075, 8.075, 1_000.0), "B": (47.08, 8.085, 1_800.0)}
#: ... and are out of the zone and its buffer here.
OUTSIDE = {"A": (47.075, 8.02, 1_000.0), "B": (47.13, 8.085, 1_800.0)}


def _url(party: str, path: str) -> str:
    return f"/parties/{party}/line/v1{path}"


def _eventually(probe: Any, what: str, timeout_s: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        assert time.monotonic() < deadline, f"not within {timeout_s} s: {what}"
        time.sleep(0.05)


def _when(seconds: float) -> str:
    return format_time(datetime.now(UTC) + timedelta(seconds=seconds))


def _started(world: World, *parties: str) -> None:
    for party in parties:
        _eventually(
            lambda p=party: (
                world.client.get("/line/v1/registry/" + p, headers=world.token(p, LINE)).status_code == 200
            ),
            f"{party} registered",
        )


def _zone(minutes: float = 60) -> dict[str, Any]:
    feature = square(
        8.05, 47.05, 0.05, alt_lower_m=0, alt_upper_m=2_000, start=_when(0), end=_when(minutes * 60)
    )
    return feature


def _thread(world: World, party: str, thread_id: str) -> dict[str, Any]:
    answer = world.client.get(_url(party, f"/threads/{thread_id}"), headers=world.operator(party))
    return dict(answer.json()) if answer.status_code == 200 else {}


def _fly(world: World) -> dict[str, str]:
    """Blue's two aircraft, each on an activated operation over the whole area (one below 1,500 m,
    one above)."""
    ids = {}
    for name, (lower, upper) in (("A", (0.0, 1_500.0)), ("B", (1_500.0, 3_000.0))):
        body = operation_body(
            square(7.95, 46.95, 0.25),
            lower=lower,
            upper=upper,
            start_min=0,
            minutes=120,
            state="Activated",
            name=name,
        )
        r = world.client.post(world.ops_url("blue", "/operations"), json=body, headers=world.operator("blue"))
        assert r.status_code == 201, r.text
        ids[name] = r.json()["operation"]["id"]
    return ids


def _report(world: World, op_id: str, where: tuple[float, float, float], t: datetime) -> None:
    lat, lng, alt = where
    sample = {"time": iso(t), "lat": lat, "lng": lng, "alt_m": alt, "speed_mps": 40.0, "track_deg": 270.0}
    r = world.client.post(
        world.ops_url("blue", f"/operations/{op_id}/telemetry"),
        json={"samples": [sample]},
        headers=world.operator("blue"),
    )
    assert r.status_code == 200, r.text


def _vacate(world: World, kind: str = "vacate", deadline_s: float = 120) -> str:
    r = world.client.post(
        _url("red", "/requests"),
        json={
            "to": ["blue"], "type": kind, "subject": "Clear the assault area", "reason": "Operation",
            "deadline": _when(deadline_s), "volume": _zone(), "buffer": {"h_m": 500, "v_m": 150},
        },
        headers=world.operator("red"),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    tid: str = r.json()["id"]
    _eventually(lambda: _thread(world, "blue", tid), "blue holds the request")
    return tid


def _accept(world: World, tid: str) -> dict[str, Any]:
    r = world.client.post(_url("blue", f"/threads/{tid}/accept"), json={}, headers=world.operator("blue"))
    assert r.status_code == 200, r.text
    return dict(r.json())


def _entries(world: World, party: str, tid: str, kind: str) -> list[dict[str, Any]]:
    return [e for e in _thread(world, party, tid).get("entries", []) if e["kind"] == kind]


def _verify(world: World, party: str) -> Report:
    service = world.client.get("/line/v1/service").json()["witness_key"]
    transcript = world.client.get(_url(party, "/export"), headers=world.operator(party)).json()
    report = verify_transcript(transcript, trusted_witness_keys=[service])
    assert report.ok, "\n".join(report.lines())
    return report


def test_a_vacate_is_assessed_accepted_certified_and_verified_against_own_surveillance(world: World) -> None:
    _started(world, "red", "blue")
    ops = _fly(world)
    now = datetime.now(UTC)
    for name, op in ops.items():
        _report(world, op, INSIDE[name], now)
    tid = _vacate(world)

    impact = world.client.get(_url("blue", f"/threads/{tid}/impact"), headers=world.operator("blue"))
    assert impact.status_code == 200, impact.text
    seen = {a["id"]: a for a in impact.json()["aircraft"]}
    assert set(seen) == set(ops.values())
    for a in seen.values():
        assert a["inside_now"] and a["watched"]
        assert a["exit"]["properties"]["clear_by_deadline"] is True, a["exit"]["properties"]
    assert sorted(impact.json()["replan"]) == sorted(ops.values())

    accepted = _accept(world, tid)
    accept = next(e for e in accepted["entries"] if e["kind"] == "accept")
    assert accept["body"]["affected"] == sorted(ops.values())

    # The operations are re-planned out of the zone (from the deadline on).
    def replanned() -> bool:
        listed = world.client.get(world.ops_url("blue", "/operations"), headers=world.operator("blue")).json()
        return all(len(o["volumes"]["features"]) > 1 for o in listed["operations"])

    _eventually(replanned, "operations re-planned")

    # Red's own radar sees the same aircraft (a few tens of metres off).
    t1, t2 = datetime.now(UTC) + timedelta(seconds=1), datetime.now(UTC) + timedelta(seconds=2)
    tracks = []
    for k, name in enumerate(("A", "B")):
        for t, where in ((t1, INSIDE[name]), (t2, OUTSIDE[name])):
            tracks.append(
                {
                    "track_id": f"r{k}",
                    "time": iso(t),
                    "lat": where[0] + 0.0002,
                    "lng": where[1],
                    "alt_m": where[2] + 30,
                }
            )
    r = world.client.post(
        world.ops_url("red", "/surveillance"),
        json={"source": "radar-1", "tracks": tracks},
        headers=world.operator("red"),
    )
    assert r.status_code == 201, r.text

    for name, op in ops.items():
        _report(world, op, INSIDE[name], t1)
    watching = world.client.get(_url("blue", "/obligations"), headers=world.operator("blue")).json()[
        "obligations"
    ]
    assert [w["thread"] for w in watching] == [tid]
    for name, op in ops.items():
        _report(world, op, OUTSIDE[name], t2)

    verdicts = _eventually(lambda: _entries(world, "red", tid, "verdict"), "red's verdict")
    assert verdicts[0]["body"]["outcome"] == "verified_with_own_surveillance", verdicts[0]["body"]
    assert verdicts[0]["body"]["agreement"]["matched"] == verdicts[0]["body"]["agreement"]["total"] == 4
    red_leg = _thread(world, "red", tid)["legs"]["blue"]
    assert red_leg["status"] == "accepted" and red_leg["verdict"] == "verified_with_own_surveillance"
    cert = _entries(world, "red", tid, "certificate")[0]
    assert [a["id"] for a in cert["body"]["aircraft"]] == sorted(ops.values())
    assert cert["body"]["clear_at"] == format_time(t2)
    _eventually(lambda: _entries(world, "blue", tid, "verdict"), "blue holds the verdict")
    assert (
        world.client.get(_url("blue", "/obligations"), headers=world.operator("blue")).json()["obligations"]
        == []
    )
    for party in ("red", "blue"):
        _verify(world, party)


def test_an_aircraft_still_inside_at_the_deadline_is_overdue_on_both_sides(world: World) -> None:
    _started(world, "red", "blue")
    ops = _fly(world)
    for name, op in ops.items():
        _report(world, op, INSIDE[name], datetime.now(UTC))
    tid = _vacate(world, deadline_s=4)
    _accept(world, tid)
    _report(world, ops["A"], OUTSIDE["A"], datetime.now(UTC))  # A leaves, B stays
    _report(world, ops["B"], INSIDE["B"], datetime.now(UTC))

    def both() -> list[dict[str, Any]] | None:
        alarms = _entries(world, "red", tid, "alarm")
        return alarms if {a["party"] for a in alarms} == {"red", "blue"} else None

    alarms = _eventually(both, "overdue alarms of both sides", 20)
    by = {a["party"]: a["body"] for a in alarms}
    assert by["blue"]["type"] == by["red"]["type"] == "overdue"
    assert by["blue"]["aircraft"] == [ops["B"]]
    assert by["red"]["recipient"] == "blue" and "no clearance certificate" in by["red"]["reason"]
    assert _entries(world, "red", tid, "certificate") == []
    for party in ("red", "blue"):
        _verify(world, party)


def test_a_reentry_during_a_hold_is_a_violation_with_its_evidence(world: World) -> None:
    _started(world, "red", "blue")
    ops = _fly(world)
    only = {"A": ops["A"]}
    world.client.post(world.ops_url("blue", f"/operations/{ops['B']}/end"), headers=world.operator("blue"))
    _report(world, only["A"], INSIDE["A"], datetime.now(UTC))
    tid = _vacate(world, kind="hold_clear")
    assert _accept(world, tid)["impact"]["aircraft"][0]["id"] == ops["A"]
    t0 = datetime.now(UTC)
    _report(world, ops["A"], INSIDE["A"], t0 + timedelta(seconds=1))
    _report(world, ops["A"], OUTSIDE["A"], t0 + timedelta(seconds=2))
    verdict = _eventually(lambda: _entries(world, "red", tid, "verdict"), "verdict")[0]["body"]
    assert verdict["outcome"] == "verified", verdict
    _report(world, ops["A"], INSIDE["A"], t0 + timedelta(seconds=3))
    alarm = _eventually(lambda: _entries(world, "red", tid, "alarm"), "violation")[0]
    assert alarm["party"] == "blue" and alarm["body"]["type"] == "violation"
    assert alarm["body"]["evidence"]["samples"] >= 2
    leg = _thread(world, "red", tid)["legs"]["blue"]
    assert leg["verdict"] == "verified" and len(leg["alarms"]) == 1
    transcript = world.client.get(_url("red", "/export"), headers=world.operator("red")).json()
    assert list(transcript["evidence"][leg["alarms"][0]]) == [ops["A"]]
    for party in ("red", "blue"):
        _verify(world, party)


def _forge(world: World, tid: str, aircraft: str, samples: list[Sample], shared: list[Sample]) -> None:
    """Blue's node signs a certificate of its own making (not from its watch): ``samples`` committed
    to, ``shared`` given as the evidence."""
    thread = line_svc.thread_of(world.server.lines["blue"], tid)
    crossing = Crossing(aircraft, samples[-2], samples[-1], tuple(samples))
    body = build_certificate(thread.request.hash, [crossing], 500.0, 150.0)
    evidence = json.dumps({aircraft: samples_to_json(shared)})
    world.client.portal.call(  # type: ignore[union-attr]
        lambda: line_svc.record(world.server.lines["blue"], tid, Kind.CERTIFICATE, body, evidence=evidence)
    )


def test_certificates_that_do_not_hold_fail_with_why_and_may_be_given_again(world: World) -> None:
    _started(world, "red", "blue")
    ops = _fly(world)
    _report(world, ops["A"], INSIDE["A"], datetime.now(UTC))
    tid = _vacate(world)
    _accept(world, tid)
    t0 = datetime.now(UTC)
    inside, outside = Sample(t0, *INSIDE["A"]), Sample(t0 + timedelta(seconds=1), *OUTSIDE["A"])

    # An aircraft that was not affected (the acceptance named A only).
    _forge(world, tid, "ghost-1", [inside, outside], [inside, outside])
    first = _eventually(lambda: _entries(world, "red", tid, "verdict"), "verdict")[0]["body"]
    assert first["outcome"] == "failed"
    assert any("ghost-1: certificate for an aircraft that was not affected" in r for r in first["reasons"])
    assert any(f"{ops['A']}: affected, but missing" in r for r in first["reasons"])

    # After a failed verdict the obligor may certify again: samples that do not match their commitment.
    moved = Sample(inside.t, inside.lat + 0.001, inside.lng, inside.alt_m)
    _forge(world, tid, ops["A"], [inside, outside], [moved, outside])
    second = _eventually(
        lambda: (v := _entries(world, "red", tid, "verdict")) and len(v) == 2 and v, "second"
    )[1]
    assert second["body"]["outcome"] == "failed"
    assert any("do not hash to the commitment" in r for r in second["body"]["reasons"])

    # A crossing "out" that is still inside the zone and its buffer (400 m east of its edge).
    _eventually(lambda: _thread(world, "blue", tid)["legs"]["blue"]["verdict"] == "failed", "blue holds it")
    near = Sample(t0 + timedelta(seconds=1), 47.075, 8.1053, 1_000.0)
    _forge(world, tid, ops["A"], [inside, near], [inside, near])
    third = _eventually(lambda: (v := _entries(world, "red", tid, "verdict")) and len(v) == 3 and v, "third")[
        2
    ]
    assert third["body"]["outcome"] == "failed"
    assert any("first_outside" in r and "inside the zone" in r for r in third["body"]["reasons"])
    for party in ("red", "blue"):
        outcomes = [c[1] for c in _verify(world, party).certificates]
        assert outcomes == ["failed"] * 3  # failed offline too, as the verdicts recorded


def test_a_watch_resumes_from_storage_after_a_restart(world: World) -> None:
    _started(world, "red", "blue")
    ops = _fly(world)
    _report(world, ops["A"], INSIDE["A"], datetime.now(UTC))
    tid = _vacate(world)
    _accept(world, tid)
    # The process forgets everything it held in memory, as a restarted one would.
    service = world.server.compliance["blue"]
    service._watches.clear()
    service._loaded = False
    t0 = datetime.now(UTC)
    _report(world, ops["A"], INSIDE["A"], t0 + timedelta(seconds=1))
    _report(world, ops["A"], OUTSIDE["A"], t0 + timedelta(seconds=2))
    verdict = _eventually(lambda: _entries(world, "red", tid, "verdict"), "verdict")[0]["body"]
    assert verdict["outcome"] == "verified", verdict


def test_exit_routes_go_round_a_protected_site_the_party_holds(world: World) -> None:
    _started(world, "red", "blue", "green")
    ops = _fly(world)
    lat, lng, alt = INSIDE["A"]
    sample = {
        "time": iso(datetime.now(UTC)),
        "lat": lat,
        "lng": lng,
        "alt_m": alt,
        "speed_mps": 40.0,
        "track_deg": 270.0,
    }
    r = world.client.post(
        world.ops_url("blue", f"/operations/{ops['A']}/telemetry"),
        json={"samples": [sample]},
        headers=world.operator("blue"),
    )
    assert r.status_code == 200, r.text
    tid = _vacate(world)

    def exit_of_a() -> dict[str, Any]:
        found = world.client.get(
            _url("blue", f"/threads/{tid}/impact"), headers=world.operator("blue")
        ).json()
        route: dict[str, Any] = next(a for a in found["aircraft"] if a["id"] == ops["A"])["exit"]
        return route

    straight = exit_of_a()
    end_lng, end_lat = straight["geometry"]["coordinates"][-1][:2]
    assert abs(end_lat - lat) < 0.001 and end_lng < 8.05  # straight on, west
    # Green notifies blue of a hospital exactly where that route leaves the zone.
    hospital = {
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [end_lng, end_lat]},
        "properties": {"radius_m": 400, "alt_lower_m": -1000, "alt_upper_m": 100000, "start": _when(-60), "end": _when(86_400)},
    }  # fmt: skip
    r = world.client.post(
        "/parties/green/protect/v1/notify",
        json={"exact": ["blue"], "subject": "Hospital", "reason": "Protected site", "deadline": _when(600),
              "what": "field hospital", "volume": hospital,
              "protected": {"kind": "site", "category": "hospital", "radius_m": 400, "name": "Al-Noor"}},
        headers=world.operator("green"),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    _eventually(lambda: len(_known(world)) == 1, "blue holds the notice")
    around = exit_of_a()
    assert around["properties"]["crosses"] == [] and around["properties"]["clear_by_deadline"]
    assert around["geometry"]["coordinates"] != straight["geometry"]["coordinates"]
    geod = Geod(ellps="WGS84")
    for p_lng, p_lat, _ in around["geometry"]["coordinates"]:
        assert geod.inv(end_lng, end_lat, p_lng, p_lat)[2] > 400.0


def _known(world: World) -> list[Any]:
    items: list[Any] = world.client.get(
        "/parties/blue/protect/v1/items", headers=world.operator("blue")
    ).json()["items"]
    return items


def test_operations_are_replanned_out_of_a_reservation_over_them(world: World) -> None:
    """The requester's reservation covers the obligor's flying operation: re-planning it out of the
    zone is a modification that shrinks a pre-existing conflict, so it goes through."""
    _started(world, "red", "blue")
    ops = _fly(world)
    _report(world, ops["A"], INSIDE["A"], datetime.now(UTC))
    zone = _zone()
    reservation = {
        "name": "Assault area", "altitude_lower_m": 0, "altitude_upper_m": 2_000,
        "time_start": zone["properties"]["start"], "time_end": zone["properties"]["end"],
        "volumes": {"type": "FeatureCollection", "features": [{**zone, "properties": {}}]},
    }  # fmt: skip
    r = world.client.post(
        world.ops_url("red", "/reservations"), json=reservation, headers=world.operator("red")
    )
    assert r.status_code == 201, r.text
    tid = _vacate(world)
    _accept(world, tid)

    def replanned() -> list[dict[str, Any]] | None:
        r = world.client.get(world.ops_url("blue", f"/operations/{ops['A']}"), headers=world.operator("blue"))
        features: list[dict[str, Any]] = r.json()["operation"]["volumes"]["features"]
        return features if len(features) > 1 else None

    features = _eventually(replanned, "re-planned despite the reservation")
    state = world.client.get(world.ops_url("blue", f"/operations/{ops['A']}"), headers=world.operator("blue"))
    assert state.json()["operation"]["state"] == "Activated"
    assert len(features) >= 3  # before the deadline; around the zone until its end; after it
