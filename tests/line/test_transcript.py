"""Transcripts: the demo verifies; every kind of tampering is found and the right entry named."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parley.line.chain import ChainHead, append
from parley.line.entry import Entry, Kind
from parley.line.keys import PartyKey
from parley.line.lifecycle import Status
from parley.line.transcript import Report, verify_transcript
from parley.line.witness import countersign
from tests.line.helpers import at, request_body
from tests.line.world import World, demo

WORLD = demo()
RED = WORLD.transcript("RED")


def red() -> dict[str, Any]:
    return copy.deepcopy(RED)


def failed(doc: Any, **kwargs: Any) -> str:
    report = verify_transcript(doc, **kwargs)
    assert not report.ok, "\n".join(report.lines())
    assert report.defect is not None
    return str(report.defect)


def short(raw: dict[str, Any]) -> str:
    return Entry.from_json(raw).short


@pytest.mark.parametrize("party", ["RED", "BLUE", "AID"])
def test_each_party_verifies_its_own_transcript(party: str) -> None:
    doc = json.loads(json.dumps(WORLD.transcript(party)))  # as read back from a file
    report = verify_transcript(doc, trusted_witness_keys=[WORLD.witness_key.key_id])
    assert report.ok, "\n".join(report.lines())
    assert report.open_threads == ()
    assert report.witness_keys == {WORLD.witness_key.key_id}
    assert report.entries == len(doc["entries"]) + sum(map(len, doc["keys"].values()))


def test_the_red_report_tells_the_story() -> None:
    report = verify_transcript(red())
    states = {
        t.type.value: {r: (leg.status, leg.late) for r, leg in t.legs.items()}
        for t in report.threads.values()
    }
    assert states == {
        "vacate": {"BLUE": (Status.ACCEPTED, False)},
        "notice": {"RED": (Status.ACCEPTED, False), "BLUE": (Status.ACCEPTED, False)},
        "free_text": {"RED": (Status.EXPIRED, False)},
    }
    vacate = next(t for t in report.threads.values() if t.type.value == "vacate")
    assert vacate.obligations()[0].obligor == "BLUE"
    text = "\n".join(report.lines())
    assert (
        "request vacate to BLUE" in text and "accept with conditions 'both aircraft exit to the west'" in text
    )
    assert "expired — no answer from RED" in text and text.endswith("3 requests, 0 still open")


def test_a_request_still_open_is_reported_not_a_defect() -> None:
    w = World()
    w.add("RED", "BLUE")
    req = w.request(0, "RED", ["BLUE"], request_body("hold_clear", deadline=30))
    w.step(1, "BLUE", req, Kind.DELIVERED)
    report = verify_transcript(w.transcript("RED", minutes=45))
    assert report.ok and [t.id for t in report.open_threads] == [req.thread]
    assert "deadline passed, no expiry recorded" in report.timeline[-1]


# Tampering.

FIELDS = ["v", "party", "seq", "prev", "at", "kind", "thread", "answers", "to", "body", "key", "sig"]


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaves(v, (*path, k))] or [path]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaves(v, (*path, i))] or [path]
    return [path]


def _mutate(value: Any, salt: int) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1 + salt % 3
    if isinstance(value, float):
        return value + 1e-6 * (1 + salt % 5)
    if isinstance(value, str):
        if not value:
            return "x"
        i = salt % len(value)
        return value[:i] + ("A" if value[i] != "A" else "B") + value[i + 1 :]
    if value is None:
        return "sha256:" + "0" * 64
    if isinstance(value, list):
        return [*value, "AID"]
    return {"x": 1}


ALL = [("keys", p, i) for p, h in RED["keys"].items() for i in range(len(h))] + [
    ("entries", None, i) for i in range(len(RED["entries"]))
]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.sampled_from(ALL), data=st.data())
def test_changing_any_value_of_any_entry_is_detected_and_named(
    which: tuple[str, Any, int], data: Any
) -> None:
    doc = red()
    section, party, i = which
    raw = doc["keys"][party][i] if section == "keys" else doc["entries"][i]
    original = short(raw)
    path = data.draw(st.sampled_from(_leaves(raw)))
    node = raw
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = _mutate(node[path[-1]], data.draw(st.integers(0, 1000)))
    message = failed(doc)
    position = f"keys.{party}[{i}]" if section == "keys" else f"entries[{i}]"
    assert position in message or original.split(" ")[0] in message, message


def test_dropping_an_own_entry_is_detected() -> None:
    doc = red()
    own = [i for i, e in enumerate(doc["entries"]) if e["party"] == "RED"]
    dropped = doc["entries"].pop(own[1])
    message = failed(doc)
    assert f"RED#{dropped['seq']}" in message and "missing" in message


def test_dropping_the_last_own_entries_is_caught_by_the_witness() -> None:
    doc = red()
    last = max((i for i, e in enumerate(doc["entries"]) if e["party"] == "RED"))
    dropped = doc["entries"].pop(last)
    message = failed(doc)
    assert f"RED#{dropped['seq']}" in message and "entries dropped" in message


def test_dropping_a_request_that_was_answered_is_detected() -> None:
    doc = red()
    i = next(i for i, e in enumerate(doc["entries"]) if e["party"] == "AID" and e["kind"] == "request")
    doc["entries"].pop(i)
    answer = next(e for e in doc["entries"] if e["party"] == "RED" and e["kind"] == "delivered")
    assert short(answer) in (message := failed(doc)) and "answers" in message


def test_reordering_an_own_chain_is_detected() -> None:
    doc = red()
    a, b = [i for i, e in enumerate(doc["entries"]) if e["party"] == "RED"][:2]
    doc["entries"][a], doc["entries"][b] = doc["entries"][b], doc["entries"][a]
    message = failed(doc)
    assert "reordered" in message
    assert short(doc["entries"][a]) in message or short(doc["entries"][b]) in message


def test_an_answer_before_its_request_is_detected() -> None:
    doc = red()
    i = next(i for i, e in enumerate(doc["entries"]) if e["party"] == "AID")
    request = doc["entries"].pop(i)
    doc["entries"].append(request)
    message = failed(doc)
    assert "comes later in the transcript (reordered)" in message


def test_replaying_an_entry_is_detected() -> None:
    doc = red()
    entry = doc["entries"][3]
    doc["entries"].append(copy.deepcopy(entry))
    message = failed(doc)
    assert short(entry) in message and "replayed" in message


def test_a_request_reusing_a_thread_id_is_detected() -> None:
    w = World()
    w.add("RED", "BLUE")
    first = w.request(0, "RED", ["BLUE"], request_body())
    again = w.parties["RED"].write(1, Kind.REQUEST, request_body(), thread=first.thread, to=["BLUE"])
    w.held["RED"].append(again)
    message = failed(w.transcript("RED"))
    assert again.short in message and "replayed: thread" in message


def test_a_forged_witness_is_detected() -> None:
    doc = red()
    doc["witness"][0]["at"] = at(1)
    assert "witness[0]" in failed(doc) and "does not verify" in failed(doc)
    doc = red()
    stranger = countersign(WORLD.parties["RED"].head, PartyKey.generate(), at=at(60))
    doc["witness"].append(stranger.to_json())
    assert verify_transcript(doc).ok  # valid, by an unknown key
    assert "not a trusted witness" in failed(doc, trusted_witness_keys=[WORLD.witness_key.key_id])


def test_a_rewritten_history_is_a_fork_against_the_witness() -> None:
    w = World()
    w.add("RED", "BLUE")
    original = w.request(0, "RED", ["BLUE"], request_body("vacate"))  # countersigned at RED#2
    w.step(1, "BLUE", original, Kind.DELIVERED)
    # RED rewrites its history: another request at RED#2, exported instead of the first.
    w.parties["RED"].entries.pop()
    forged = w.parties["RED"].request(0, ["BLUE"], request_body("vacate", reason="never asked for that"))
    w.held["RED"] = [forged]
    message = failed(w.transcript("RED"))
    assert forged.short in message and "fork: the witness countersigned" in message


def test_two_entries_at_one_position_are_a_fork() -> None:
    doc = red()
    author = WORLD.parties["RED"]
    other = append(
        ChainHead.of(author.entries[0]),
        author.genesis_key,
        at=at(0.5),
        kind=Kind.REQUEST,
        body=request_body("vacate", reason="a second story"),
        thread=str(uuid.uuid4()),
        to=["BLUE"],
    )
    doc["entries"].append(other.to_json())
    message = failed(doc)
    assert other.short in message and "fork: another entry at RED#2" in message


@pytest.mark.parametrize(
    ("minutes", "kind", "body", "message"),
    [
        (31, Kind.ACCEPT, {}, "after the deadline must be marked late"),
        (29, Kind.DECLINE, {"reason": "no", "late": True}, "before the deadline must not be marked late"),
    ],
)
def test_deadlines_are_checked_against_entry_times(
    minutes: float, kind: Kind, body: dict[str, Any], message: str
) -> None:
    w = World()
    w.add("RED", "BLUE")
    req = w.request(0, "RED", ["BLUE"], request_body(deadline=30))
    w.step(1, "BLUE", req, Kind.DELIVERED)
    answer = w.step(minutes, "BLUE", req, kind, body)
    text = failed(w.transcript("BLUE"))
    assert answer.short in text and message in text


def test_an_expiry_before_the_deadline_is_a_defect() -> None:
    w = World()
    w.add("RED", "BLUE")
    req = w.request(0, "RED", ["BLUE"], request_body(deadline=30))
    early = w.step(10, "RED", req, Kind.EXPIRED, {"recipient": "BLUE"})
    text = failed(w.transcript("RED"))
    assert early.short in text and "before the deadline" in text


def test_a_signature_by_a_retired_key_is_a_defect() -> None:
    w = World()
    w.add("RED", "BLUE")
    old = w.parties["RED"].key
    w.rotate(1, "RED")
    w.parties["RED"].key = old
    req = w.request(2, "RED", ["BLUE"], request_body())
    text = failed(w.transcript("RED"))
    assert req.short in text and "the key valid there" in text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format="other/1"), "format"),
        (lambda d: d.pop("witness"), "missing witness"),
        (lambda d: d["keys"].update(RED=[]), "no key history"),
        (lambda d: d["keys"]["RED"].reverse(), "keys.RED"),
        (lambda d: d["entries"].append(d["keys"]["BLUE"][0]), "belong under keys"),
        (lambda d: d["entries"].append({"v": 1}), "entries["),
        (lambda d: d.update(party="NOBODY"), "no entry of its exporter"),
    ],
)
def test_malformed_transcripts_are_reported(change: Any, message: str) -> None:
    doc = red()
    change(doc)
    assert message in failed(doc)


def test_a_report_never_raises_on_garbage() -> None:
    for doc in (None, [], {"format": 1}, {**red(), "entries": {}}):
        report = verify_transcript(doc)
        assert isinstance(report, Report) and not report.ok
