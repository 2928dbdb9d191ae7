"""A party node's line where a crash, a second process or a clock step meets it (the faults the
end-to-end tests in tests/e2e/test_line_faults.py provoke with real processes, here exactly): two
nodes over one SQLite store, a fake registry, no network, clocks set by hand."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, cast

import pytest

from parley.clients.line import DirectoryClient, LinePeerClient
from parley.clients.utm import CallFailed
from parley.line.entry import Entry, Kind
from parley.line.errors import InvalidEntry, TransitionRefused
from parley.line.keys import PartyKey
from parley.line.lifecycle import Status
from parley.line.times import format_time
from parley.ports.clock import FixedClock
from parley.services.line import node as svc
from parley.storage.sql.line import SqlLineRepository
from parley.storage.sql.uow import SqlStore
from tests.line.helpers import T0


class Registry:
    """The shared service's registry, in memory; the witness never answers."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}

    async def register(self, body: dict[str, Any]) -> dict[str, Any]:
        self.records[body["party"]] = body
        return body

    async def lookup(self, party: str) -> dict[str, Any]:
        if party not in self.records:
            raise CallFailed("GET", f"registry/{party}", 404, "not registered")
        return self.records[party]

    async def witness(self, body: dict[str, Any]) -> dict[str, Any]:
        raise CallFailed("POST", "witness", None, "not reachable")


@pytest.fixture
def nodes(sqlite_store: SqlStore) -> Iterator[dict[str, svc.LineNode]]:
    repo, registry = SqlLineRepository(sqlite_store), Registry()
    made = {}
    for party in ("red", "blue"):
        made[party] = svc.LineNode(
            party=party,
            name=party,
            key=PartyKey.generate(),
            repo=repo,
            clock=FixedClock(T0),
            base_url=f"http://nodes/{party}",
            directory=cast(DirectoryClient, registry),
            peers=cast(LinePeerClient, None),  # nothing is flushed here
        )
        asyncio.run(svc.start(made[party]))
    yield made


def _second_process(node: svc.LineNode) -> svc.LineNode:
    """Another worker process of the same node: same key and store, its own memory."""
    return svc.LineNode(
        party=node.party,
        name=node.name,
        key=node.key,
        repo=node.repo,
        clock=node.clock,
        base_url=node.base_url,
        directory=node.directory,
        peers=node.peers,
    )


def _request(red: svc.LineNode, deadline_min: float = 30) -> Entry:
    body = {
        "type": "free_text",
        "subject": "status",
        "reason": "check",
        "deadline": format_time(T0 + timedelta(minutes=deadline_min)),
        "text": "please acknowledge",
    }
    return asyncio.run(svc.send(red, to=["blue"], body=body))


def _own(node: svc.LineNode, kind: Kind) -> list[Entry]:
    return [
        Entry.from_json(e.entry) for e in node.repo.entries(node.party, author=node.party) if e.kind == kind
    ]


def test_a_request_stored_before_a_crash_is_receipted_when_it_comes_again(
    nodes: dict[str, svc.LineNode],
) -> None:
    red, blue = nodes["red"], nodes["blue"]
    request = _request(red)
    # Blue stored the request, then was killed before it signed the receipt (and before answering).
    blue.repo.append(blue.stored(request), now=blue.now())
    assert not _own(blue, Kind.DELIVERED)

    # Red's outbox delivers it again: blue signs the missing receipt, once, and answers with it.
    receipts = asyncio.run(svc.receive(blue, "red", [request.to_json()]))
    assert [(r.kind, r.answers) for r in receipts] == [(Kind.DELIVERED, request.hash)]
    # Delivered once more (that answer was lost too): the same receipt, not a second one.
    assert asyncio.run(svc.receive(blue, "red", [request.to_json()])) == receipts
    assert [r.hash for r in _own(blue, Kind.DELIVERED)] == [receipts[0].hash]
    assert blue.repo.pending(blue.party) == 0  # the receipt went back in the answer


def test_a_step_taken_meanwhile_by_another_process_of_the_node_is_not_taken_twice(
    nodes: dict[str, svc.LineNode],
) -> None:
    red = nodes["red"]
    request = _request(red, deadline_min=1)
    assert request.thread is not None
    cast(FixedClock, red.clock).set(T0 + timedelta(minutes=2))
    other = _second_process(red)
    seen_before = svc.thread_of(other, request.thread)  # the other process read the thread...
    assert asyncio.run(svc.expire_due(red)) == 1  # ...and this one expired it meanwhile
    with pytest.raises(TransitionRefused, match="already recorded by the sender"):
        asyncio.run(
            svc._append_own(
                other,
                kind=Kind.EXPIRED,
                body={"recipient": "blue"},
                thread=request.thread,
                answers=request.hash,
                deliver_to=["blue"],
                check=seen_before,
            )
        )
    assert len(_own(red, Kind.EXPIRED)) == 1


def test_an_answer_is_marked_late_by_its_own_time_when_the_clock_steps_back(
    nodes: dict[str, svc.LineNode],
) -> None:
    red, blue = nodes["red"], nodes["blue"]
    request = _request(red, deadline_min=10)
    assert request.thread is not None
    asyncio.run(svc.receive(blue, "red", [request.to_json()]))
    clock = cast(FixedClock, blue.clock)
    deadline = T0 + timedelta(minutes=10)
    clock.set(deadline + timedelta(seconds=1))
    asyncio.run(svc.answer(blue, request.thread, Kind.READ, {}))  # signed just after the deadline
    clock.set(deadline - timedelta(seconds=1))  # the clock is corrected 2 s back
    accepted = asyncio.run(svc.answer(blue, request.thread, Kind.ACCEPT, {}))
    assert accepted.at == format_time(deadline + timedelta(seconds=1))  # never earlier than the read
    assert accepted.late
    leg = svc.thread_of(blue, request.thread).legs["blue"]
    assert (leg.status, leg.late) == (Status.ACCEPTED, True)


class Peers:
    """Blue's delivery endpoint for red's outbox, in process: answers as the HTTP route would, or
    fails as told."""

    def __init__(self, blue: svc.LineNode) -> None:
        self.blue = blue
        self.fail: BaseException | None = None
        self.calls = 0

    async def deliver_texts(self, base_url: str, entries: list[str], evidence: Any = None) -> Any:
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        receipts = await svc.receive(self.blue, "red", [json.loads(e) for e in entries], evidence=evidence)
        return {"receipts": [r.to_json() for r in receipts]}


def _flushing(nodes: dict[str, svc.LineNode]) -> Peers:
    red, blue = nodes["red"], nodes["blue"]
    peers = Peers(blue)
    red.peers = cast(LinePeerClient, peers)
    return peers


def test_receipts_come_back_in_the_answer_and_are_stored_with_the_delivery_marked_done(
    nodes: dict[str, svc.LineNode],
) -> None:
    red, blue = nodes["red"], nodes["blue"]
    peers = _flushing(nodes)
    requests = [_request(red) for _ in range(3)]
    assert red.repo.pending(red.party) == 3
    assert asyncio.run(svc.flush(red)) == 3
    assert peers.calls == 1  # one delivery for the three
    assert red.repo.pending(red.party) == 0 and blue.repo.pending(blue.party) == 0
    held = {e.hash for e in red.repo.entries(red.party) if e.author == "blue"}
    assert held >= {r.hash for r in _own(blue, Kind.DELIVERED)} and len(_own(blue, Kind.DELIVERED)) == 3
    for request in requests:
        assert request.thread is not None
        assert svc.thread_of(red, request.thread).legs["blue"].status is Status.DELIVERED


def test_a_delivery_that_gets_no_answer_is_tried_again_and_answered_with_the_same_receipts(
    nodes: dict[str, svc.LineNode],
) -> None:
    red, blue = nodes["red"], nodes["blue"]
    peers = _flushing(nodes)
    request = _request(red)
    # Blue takes the request and signs its receipt, but the answer never reaches red.
    asyncio.run(svc.receive(blue, "red", [request.to_json()]))
    peers.fail = CallFailed("POST", "entries", None, "connection reset")
    assert asyncio.run(svc.flush(red)) == 0
    assert red.repo.pending(red.party) == 1  # to be tried again
    peers.fail = None
    cast(FixedClock, red.clock).set(T0 + timedelta(seconds=5))  # past the back-off
    assert asyncio.run(svc.flush(red)) == 1
    assert len(_own(blue, Kind.DELIVERED)) == 1  # no second receipt
    assert request.thread is not None
    assert svc.thread_of(red, request.thread).legs["blue"].status is Status.DELIVERED


def test_receipts_of_an_answer_that_turns_into_an_error_go_through_the_outbox(
    nodes: dict[str, svc.LineNode],
) -> None:
    red, blue = nodes["red"], nodes["blue"]
    request = _request(red)
    garbage = {**request.to_json(), "seq": "two"}
    with pytest.raises(InvalidEntry, match=r"entries\[1\]"):
        asyncio.run(svc.receive(blue, "red", [request.to_json(), garbage]))
    receipt = _own(blue, Kind.DELIVERED)
    assert len(receipt) == 1  # the request before the defect is stored and receipted...
    due = blue.repo.due(blue.party, blue.now())
    assert [(d.recipient, d.hash) for d in due] == [("red", receipt[0].hash)]  # ...and sent apart


def test_receipts_refused_for_good_do_not_hold_up_the_outbox(nodes: dict[str, svc.LineNode]) -> None:
    red = nodes["red"]
    peers = _flushing(nodes)
    _request(red)

    async def forged(base_url: str, entries: list[str], evidence: Any = None) -> Any:
        answer = await Peers.deliver_texts(peers, base_url, entries, evidence)
        answer["receipts"][0]["sig"] = "A" * 86  # a receipt red must refuse
        return answer

    red.peers = cast(LinePeerClient, type("Forging", (), {"deliver_texts": staticmethod(forged)})())
    assert asyncio.run(svc.flush(red)) == 1  # delivered; the forged receipt reported, not stored
    assert red.repo.pending(red.party) == 0
    assert not [e for e in red.repo.entries(red.party) if e.author == "blue" and e.kind == "delivered"]


def test_the_answer_to_sending_is_the_thread_as_its_view_shows_it(nodes: dict[str, svc.LineNode]) -> None:
    red = nodes["red"]
    request = _request(red)
    assert json.loads(svc.sent_json_bytes(red, request)) == svc.sent_json(red, request)
