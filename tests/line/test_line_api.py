"""The line between party nodes, in process (the world of tests/party: the shared service and
red, blue, green; every call through the app, JWT-checked): a vacate sent, receipted, read and
accepted; a notice to two parties; a request left to expire; export and verification; and what is
refused."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from parley.line.keys import PartyKey
from parley.line.times import format_time
from parley.line.transcript import verify_transcript
from tests.party.conftest import World
from tests.party.conftest import world as world  # the fixture

LINE = "parley.line"


def _url(party: str, path: str) -> str:
    return f"/parties/{party}/line/v1{path}"


def _eventually(probe: Any, what: str, timeout_s: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        assert time.monotonic() < deadline, f"not within {timeout_s} s: {what}"
        time.sleep(0.05)


def _when(minutes: float) -> str:
    return format_time(datetime.now(UTC) + timedelta(minutes=minutes))


def _volume() -> dict[str, Any]:
    ring = [[8.0, 47.0], [8.1, 47.0], [8.1, 47.1], [8.0, 47.1], [8.0, 47.0]]
    return {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {"alt_lower_m": 0, "alt_upper_m": 6000, "start": _when(0), "end": _when(120)},
    }


def _started(world: World, *parties: str) -> None:
    for party in parties:
        _eventually(
            lambda p=party: (
                world.client.get("/line/v1/registry/" + p, headers=world.token(p, LINE)).status_code == 200
            ),
            f"{party} registered",
        )


def _send(world: World, sender: str, **body: Any) -> Any:
    answer = world.client.post(_url(sender, "/requests"), json=body, headers=world.operator(sender))
    assert answer.status_code == 201, answer.text
    return answer.json()


def _thread(world: World, party: str, thread_id: str) -> dict[str, Any]:
    answer = world.client.get(_url(party, f"/threads/{thread_id}"), headers=world.operator(party))
    return dict(answer.json()) if answer.status_code == 200 else {}


def test_a_vacate_is_receipted_read_and_accepted_and_both_logs_verify(world: World) -> None:
    _started(world, "red", "blue")
    sent = _send(
        world, "red", to=["blue"], type="vacate", subject="Clear sector 4", reason="Medevac corridor",
        deadline=_when(30), volume=_volume(),
    )  # fmt: skip
    tid = sent["id"]
    # Blue's node signs a receipt by itself; red holds it.
    _eventually(
        lambda: _thread(world, "red", tid).get("legs", {}).get("blue", {}).get("delivered"), "receipt"
    )
    assert _thread(world, "blue", tid)["direction"] == "in"
    for step, body in (("read", {}), ("accept", {"conditions": "last aircraft out by 0715"})):
        answer = world.client.post(
            _url("blue", f"/threads/{tid}/{step}"), json=body, headers=world.operator("blue")
        )
        assert answer.status_code == 200, answer.text
    red_view = _eventually(
        lambda: (t := _thread(world, "red", tid)) and t["legs"]["blue"]["status"] == "accepted" and t,
        "accepted",
    )
    assert red_view["legs"]["blue"]["conditions"] == "last aircraft out by 0715"
    assert [(o["obligor"], o["beneficiary"]) for o in red_view["obligations"]] == [("blue", "red")]
    # Too late to withdraw; nobody else may answer.
    assert (
        world.client.post(_url("red", f"/threads/{tid}/withdraw"), headers=world.operator("red")).status_code
        == 409
    )
    assert (
        world.client.post(_url("red", f"/threads/{tid}/accept"), headers=world.operator("red")).status_code
        == 403
    )

    service = world.client.get("/line/v1/service").json()["witness_key"]
    for party in ("red", "blue"):
        transcript = world.client.get(_url(party, "/export"), headers=world.operator(party)).json()
        report = verify_transcript(transcript, trusted_witness_keys=[service])
        assert report.ok, "\n".join(report.lines())
        assert tid in report.threads and not report.open_threads


def test_a_notice_to_two_parties_and_a_request_left_to_expire(world: World) -> None:
    _started(world, "red", "blue", "green")
    notice = _send(
        world, "green", to=["red", "blue"], type="notice", subject="Hospital at Al-Noor",
        reason="Protected site", deadline=_when(30), what="field hospital", volume=_volume(),
    )  # fmt: skip
    for party in ("red", "blue"):
        _eventually(lambda p=party: _thread(world, p, notice["id"]), f"{party} holds the notice")
        answer = world.client.post(
            _url(party, f"/threads/{notice['id']}/accept"), json={}, headers=world.operator(party)
        )
        assert answer.status_code == 200, answer.text
    _eventually(
        lambda: (
            {leg["status"] for leg in _thread(world, "green", notice["id"])["legs"].values()} == {"accepted"}
        ),
        "both acknowledged",
    )
    # A free text whose deadline passes unanswered: both sides record the expiry.
    question = _send(world, "red", to=["blue"], type="free_text", subject="Frequency?", reason="Coordination",
                     deadline=_when(0.03), text="Which frequency tonight?")  # fmt: skip
    tid = question["id"]
    _eventually(
        lambda: _thread(world, "red", tid)["legs"]["blue"]["status"] == "expired", "red records it", 15
    )
    kinds = lambda p: [e["kind"] for e in _thread(world, p, tid)["entries"]]  # noqa: E731
    _eventually(
        lambda: kinds("red").count("expired") == 2 and kinds("blue").count("expired") == 2, "both", 15
    )
    # A late answer is still recorded, marked late.
    late = world.client.post(
        _url("blue", f"/threads/{tid}/decline"),
        json={"reason": "sorry, late"},
        headers=world.operator("blue"),
    )
    assert late.status_code == 200, late.text
    assert late.json()["legs"]["blue"] == {**late.json()["legs"]["blue"], "status": "declined", "late": True}


def test_what_the_line_refuses(world: World) -> None:
    _started(world, "red", "blue")
    unknown = world.client.post(
        _url("red", "/requests"),
        json={
            "to": ["nobody"],
            "type": "free_text",
            "subject": "s",
            "reason": "r",
            "deadline": _when(5),
            "text": "t",
        },
        headers=world.operator("red"),
    )
    assert unknown.status_code == 404 and "nobody" in unknown.json()["message"]
    missing = world.client.post(
        _url("red", "/requests"),
        json={"to": ["blue"], "type": "vacate", "subject": "s", "reason": "r", "deadline": _when(5)},
        headers=world.operator("red"),
    )
    assert missing.status_code == 400 and "volume" in missing.json()["message"]
    # An entry written by a key blue has not pinned for red is refused, and so is one relayed.
    from parley.line.chain import ChainHead, append

    forged = append(
        ChainHead("red", 99, "sha256:" + "0" * 64), PartyKey.generate(), at=_when(0), kind="request",
        body={"type": "free_text", "subject": "s", "reason": "r", "deadline": _when(5), "text": "t"},
        thread="4a7b1e7c-0f6a-4e31-9b1d-3c5c2b7b9a10", to=["blue"],
    )  # fmt: skip
    refused = world.client.post(
        _url("blue", "/entries"), json={"entries": [forged.to_json()]}, headers=world.token("red", LINE)
    )
    assert refused.status_code == 403 and "not a key of 'red'" in refused.json()["message"]
    relayed = world.client.post(
        _url("blue", "/entries"), json={"entries": [forged.to_json()]}, headers=world.token("green", LINE)
    )
    assert relayed.status_code == 403
    garbage = world.client.post(
        _url("blue", "/entries"), json={"entries": [{"v": 1}]}, headers=world.token("red", LINE)
    )
    assert garbage.status_code == 400
    assert (
        world.client.post(_url("blue", "/entries"), json={"entries": [forged.to_json()]}).status_code == 401
    )


@pytest.mark.parametrize("party", ["red"])
def test_the_witness_countersigns_heads_and_reports_a_fork(world: World, party: str) -> None:
    _started(world, party)
    line = world.server.lines[party]
    _eventually(
        lambda: world.client.get(f"/line/v1/witness/{party}", headers=world.token(party, LINE)).json()[
            "witness"
        ],
        "witnessed",
    )
    from parley.services.line.directory import head_signing_bytes

    head = line.repo.head(party, party)
    assert head is not None
    other = "sha256:" + "f" * 64
    body = {
        "party": party,
        "seq": head.seq,
        "head": other,
        "sig": line.key.sign(head_signing_bytes(party, head.seq, other)),
    }
    fork = world.client.post("/line/v1/witness", json=body, headers=world.token(party, LINE))
    assert fork.status_code == 409, fork.text
    forged = {**body, "head": head.hash}
    assert (
        world.client.post("/line/v1/witness", json=forged, headers=world.token(party, LINE)).status_code
        == 400
    )


def test_a_rotated_key_is_followed_and_the_retired_one_refused(world: World) -> None:
    _started(world, "red", "blue")
    first = _send(
        world,
        "red",
        to=["blue"],
        type="free_text",
        subject="before",
        reason="r",
        deadline=_when(30),
        text="t",
    )
    _eventually(lambda: _thread(world, "blue", first["id"]), "blue pinned red's first key")
    old = world.server.lines["red"].key
    rotated = world.client.post(_url("red", "/key/rotate"), headers=world.operator("red"))
    assert rotated.status_code == 200, rotated.text
    new_key = rotated.json()["key"]
    assert new_key != old.key_id and world.server.lines["red"].key.key_id == new_key
    assert (world.settings.data_dir / "line" / "red.pem").stat().st_mode & 0o777 == 0o600
    second = _send(
        world, "red", to=["blue"], type="free_text", subject="after", reason="r", deadline=_when(30), text="t"
    )
    _eventually(
        lambda: _thread(world, "blue", second["id"]), "blue follows the rotation signed by the pinned key"
    )
    registry = world.client.get("/line/v1/registry/red", headers=world.token("blue", LINE)).json()
    assert registry["key"] == new_key and len(registry["keys"]) == 2

    # An entry signed with the retired key at a later position is refused.
    from parley.line.chain import ChainHead, append

    line = world.server.lines["red"]
    head = line.repo.head("red", "red")
    assert head is not None
    stale = append(
        ChainHead("red", head.seq, head.hash), old, at=_when(0), kind="request",
        body={"type": "free_text", "subject": "s", "reason": "r", "deadline": _when(5), "text": "t"},
        thread="5a7b1e7c-0f6a-4e31-9b1d-3c5c2b7b9a10", to=["blue"],
    )  # fmt: skip
    refused = world.client.post(
        _url("blue", "/entries"), json={"entries": [stale.to_json()]}, headers=world.token("red", LINE)
    )
    assert refused.status_code == 403, refused.text
    # A registration that does not extend the history (a key not signed by the registered one) is refused.
    from parley.line.chain import genesis

    impostor = genesis("red", PartyKey.generate(), at=_when(0))
    hijack = world.client.put(
        "/line/v1/registry/red",
        json={"party": "red", "base_url": "http://testserver/parties/red", "keys": [impostor.to_json()]},
        headers=world.token("red", LINE),
    )
    assert hijack.status_code == 409, hijack.text
    service = world.client.get("/line/v1/service").json()["witness_key"]
    for party in ("red", "blue"):
        report = verify_transcript(
            world.client.get(_url(party, "/export"), headers=world.operator(party)).json(),
            trusted_witness_keys=[service],
        )
        assert report.ok, "\n".join(report.lines())
