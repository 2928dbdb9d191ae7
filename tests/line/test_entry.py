"""Entries: strict parsing, canonical bytes, hashes and signatures."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.domain.errors import InvalidInput
from parley.line.canonical import canonical, digest
from parley.line.entry import MAX_ENTRY_BYTES, MAX_VERTICES, Entry, Kind, canonical_body, sign, verify_entry
from parley.line.errors import BadSignature, InvalidEntry
from parley.line.keys import PartyKey
from tests.line.helpers import Party, at, request_body, volume


@pytest.fixture
def red() -> Party:
    return Party("RED")


@pytest.fixture
def blue() -> Party:
    return Party("BLUE")


def sample(red: Party, blue: Party) -> dict[str, Entry]:
    req = red.request(0, ["BLUE"], request_body("vacate"))
    return {
        "key": red.entries[0],
        "request": req,
        "delivered": blue.answer(0.1, req, Kind.DELIVERED),
        "read": blue.answer(2, req, Kind.READ),
        "accept": blue.answer(5, req, Kind.ACCEPT, {"conditions": "exit west"}),
        "decline": blue.answer(5, req, Kind.DECLINE, {"reason": "no"}),
        "counter": blue.answer(5, req, Kind.COUNTER, {"window": {"start": at(60), "end": at(90)}}),
        "withdraw": red.answer(6, req, Kind.WITHDRAW, {"reason": "assault postponed"}),
        "expired": red.answer(31, req, Kind.EXPIRED, {"recipient": "BLUE"}),
        "rotation": red.rotate(40),
    }


def test_every_kind_round_trips_with_a_stable_hash(red: Party, blue: Party) -> None:
    for entry in sample(red, blue).values():
        again = Entry.from_json(copy.deepcopy(entry.to_json()))
        assert again == entry and again.hash == entry.hash
        assert entry.hash == digest(entry.to_json())
        assert entry.signing_bytes() == canonical(entry.unsigned_json())
        assert entry.signature_ok()


@pytest.mark.parametrize("kind", ["vacate", "hold_clear", "passage", "notice", "free_text"])
def test_every_request_type_is_accepted(red: Party, kind: str) -> None:
    entry = red.request(0, ["BLUE", "AID"], request_body(kind, ref={"kind": "constraint", "id": "c-1"}))
    assert entry.body["type"] == kind and entry.to == ("BLUE", "AID")


@settings(max_examples=50, deadline=None)
@given(
    text=st.text(min_size=1, max_size=60).filter(str.strip), subject=st.text(max_size=20).filter(str.strip)
)
def test_canonical_bytes_match_rfc8785_for_any_text(text: str, subject: str) -> None:
    red = Party("RED")
    entry = red.request(0, ["BLUE"], request_body("free_text", text=text, subject=subject))
    assert entry.hash == digest(entry.to_json())
    assert entry.signing_bytes() == canonical(entry.unsigned_json())


def _mutated(obj: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    *parents, last = path.split(".")
    node = out
    for name in parents:
        node = node[name]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return out


BAD_REQUEST = [
    ("extra", 1, "unknown member extra"),
    ("v", 2, "v:"),
    ("v", True, "v:"),
    ("party", "BL UE", "party:"),
    ("seq", 0, "seq:"),
    ("seq", "2", "seq:"),
    ("seq", True, "seq:"),
    ("prev", None, "prev:"),
    ("prev", "sha256:ABC", "prev:"),
    ("at", "2017-05-03T06:00:00Z", "at:"),
    ("at", "2017-05-03T06:00:00.000000+00:00", "at:"),
    ("at", "2017-02-30T06:00:00.000000Z", "at:"),
    ("kind", "ack", "kind:"),
    ("thread", None, "thread:"),
    ("thread", "6F1C1E7E-4A3B-4C2D-9E8F-0A1B2C3D4E5F", "thread:"),
    ("answers", "sha256:" + "0" * 64, "answers:"),
    ("to", [], "to:"),
    ("to", ["RED"], "to:"),
    ("to", ["BLUE", "BLUE"], "to:"),
    ("to", "BLUE", "to:"),
    ("key", "ed25519:short", "key:"),
    ("sig", "not a signature", "sig:"),
    ("sig", KeyError, "missing sig"),
    ("body.type", "strike", "body.type:"),
    ("body.subject", "", "body.subject:"),
    ("body.subject", "x" * 201, "body.subject:"),
    ("body.reason", KeyError, "missing reason"),
    ("body.deadline", "tomorrow", "body.deadline:"),
    ("body.deadline", at(-1), "body.deadline:"),
    ("body.route", {}, "unknown member route"),
    ("body.ref", {"kind": "flight", "id": "x"}, "body.ref.kind:"),
    ("body.volume.type", "FeatureCollection", "body.volume.type:"),
    ("body.volume.geometry.type", "LineString", "body.volume.geometry.type:"),
    ("body.volume.geometry.coordinates", [[[40.1, 35.0], [40.2, 35.0], [40.1, 35.0]]], "at least 4"),
    (
        "body.volume.geometry.coordinates",
        [[[40.1, 35], [40.2, 35], [40.2, 35.1], [40.1, 35.1]]],
        "repeat its first",
    ),
    ("body.volume.geometry.coordinates", [[[400, 35], [40.2, 35], [40.2, 35.1], [400, 35]]], "outside WGS84"),
    (
        "body.volume.geometry.coordinates",
        [[["40", 35], [40.2, 35], [40.2, 35.1], ["40", 35]]],
        "finite number",
    ),
    ("body.volume.properties.alt_upper_m", -5, "alt_lower_m is above"),
    ("body.volume.properties.end", at(-100), "start is not before end"),
    ("body.volume.properties.radius_m", 5, "unknown member radius_m"),
]


@pytest.mark.parametrize(("path", "value", "message"), BAD_REQUEST)
def test_a_malformed_request_is_refused_naming_the_field(
    red: Party, path: str, value: Any, message: str
) -> None:
    good = red.request(0, ["BLUE"], request_body("vacate")).to_json()
    with pytest.raises(InvalidEntry, match=message) as caught:
        Entry.from_json(_mutated(good, path, value))
    assert isinstance(caught.value, InvalidInput)  # answered 400 by the one HTTP mapping


BAD_ANSWER = [
    ("decline", {}, "missing reason"),
    ("decline", {"reason": "  "}, "body.reason:"),
    ("accept", {"late": False}, "body.late:"),
    ("accept", {"conditions": 3}, "body.conditions:"),
    ("counter", {}, "a counter needs"),
    ("counter", {"window": {"start": at(9), "end": at(1)}}, "start is not before end"),
    ("delivered", {"note": "x"}, "unknown member note"),
    ("expired", {}, "missing recipient"),
    ("withdraw", {"late": True}, "unknown member late"),
]


@pytest.mark.parametrize(("kind", "body", "message"), BAD_ANSWER)
def test_a_malformed_answer_is_refused(red: Party, blue: Party, kind: str, body: Any, message: str) -> None:
    req = red.request(0, ["BLUE"], request_body())
    with pytest.raises(InvalidEntry, match=message):
        blue.answer(1, req, kind, body)


def test_key_entries_carry_no_thread_and_start_every_chain(red: Party) -> None:
    genesis = red.entries[0].to_json()
    with pytest.raises(InvalidEntry, match="key entries"):
        Entry.from_json({**genesis, "thread": "6f1c1e7e-4a3b-4c2d-9e8f-0a1b2c3d4e5f"})
    req = red.request(0, ["BLUE"], request_body()).to_json()
    with pytest.raises(InvalidEntry, match="starts with a key entry"):
        Entry.from_json({**req, "seq": 1, "prev": None})
    with pytest.raises(InvalidEntry, match="genesis key entry"):
        Entry.from_json({**genesis, "body": {"public": PartyKey.generate().key_id}})


def test_limits_on_vertices_and_size(red: Party) -> None:
    ring = [[40.0 + i * 1e-5, 35.0] for i in range(MAX_VERTICES)] + [[40.0, 35.1], [40.0, 35.0]]
    with pytest.raises(InvalidEntry, match=f"limit of {MAX_VERTICES}"):
        red.request(0, ["BLUE"], request_body("vacate", volume=volume(coords=[ring])))
    big = request_body("free_text", text="\U0001f6e9" * 16_000, reason="\U0001f6e9" * 4_000)
    with pytest.raises(InvalidEntry, match=f"limit of {MAX_ENTRY_BYTES}"):
        red.request(0, ["BLUE"], big)
    with pytest.raises(InvalidEntry, match="longer than 16000"):
        red.request(0, ["BLUE"], request_body("free_text", text="x" * 16_001))


def test_signatures_bind_the_key_and_every_byte(red: Party, blue: Party) -> None:
    entry = red.request(0, ["BLUE"], request_body())
    verify_entry(entry, red.key.key_id)
    with pytest.raises(BadSignature, match="expected"):
        verify_entry(entry, blue.key.key_id)
    forged = Entry.from_json({**entry.to_json(), "body": {**entry.body, "reason": "other"}})
    assert not forged.signature_ok()
    with pytest.raises(BadSignature, match="sig: does not verify"):
        verify_entry(forged, red.key.key_id)
    # A valid signature by another key, naming the author's key, does not verify either.
    resigned = Entry.from_json({**entry.to_json(), "sig": blue.key.sign(entry.signing_bytes())})
    assert not resigned.signature_ok()


def test_a_signed_entry_verifies_and_names_the_key_that_signed_it(red: Party, blue: Party) -> None:
    fields: dict[str, Any] = {"party": "RED", "seq": 1, "prev": None, "at": at(0), "kind": Kind.KEY}
    entry = sign(**fields, body={"public": red.key.key_id}, key=red.key)
    assert entry.key == red.key.key_id and entry.signature_ok()
    with pytest.raises(BadSignature, match="signed with a key other than"):
        sign(**fields, body={"public": blue.key.key_id}, key=red.key, signer=blue.key.key_id)


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.sampled_from("abcdefgé"), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(body=st.dictionaries(st.sampled_from(["type", "volume", "x", "late"]), JSON, max_size=4))
def test_the_fast_body_canonical_form_is_rfc8785(body: dict[str, Any]) -> None:
    try:
        expected = canonical(body)
    except InvalidInput:
        return
    assert canonical_body(body) == expected
