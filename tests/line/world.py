"""A small world of parties exchanging entries, each holding what it would receive, and a witness."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from parley.line.entry import Entry, Kind
from parley.line.keys import PartyKey
from parley.line.transcript import export
from parley.line.witness import Countersignature, countersign
from tests.line.helpers import Party, at


@dataclass
class World:
    parties: dict[str, Party] = field(default_factory=dict)
    held: dict[str, list[Entry]] = field(default_factory=dict)
    witness_key: PartyKey = field(default_factory=PartyKey.generate)
    marks: list[Countersignature] = field(default_factory=list)
    requests: dict[str, Entry] = field(default_factory=dict)

    def add(self, *names: str) -> None:
        for name in names:
            self.parties[name] = Party(name)
            self.held[name] = []

    def _deliver(self, entry: Entry, to: set[str]) -> Entry:
        for name in sorted(to | {entry.party}):
            self.held[name].append(entry)
        return entry

    def request(self, minutes: float, sender: str, to: list[str], body: dict[str, Any]) -> Entry:
        entry = self.parties[sender].request(minutes, to, body)
        assert entry.thread is not None
        self.requests[entry.thread] = entry
        self._deliver(entry, set(to))
        self.witness(minutes, sender)
        return entry

    def step(
        self, minutes: float, who: str, request: Entry, kind: Kind, body: dict[str, Any] | None = None
    ) -> Entry:
        entry = self.parties[who].answer(minutes, request, kind, body)
        return self._deliver(entry, {request.party, *request.to})  # every party of the thread

    def rotate(self, minutes: float, who: str) -> Entry:
        return self.parties[who].rotate(minutes)

    def witness(self, minutes: float, who: str) -> Countersignature:
        mark = countersign(self.parties[who].head, self.witness_key, at=at(minutes))
        self.marks.append(mark)
        return mark

    def transcript(self, name: str, minutes: float = 120) -> dict[str, Any]:
        keys = [e for p in self.parties.values() for e in p.entries if e.kind is Kind.KEY]
        return export(name, at(minutes), [*keys, *self.held[name]], self.marks)


def demo() -> World:
    """The demo scenario: RED's vacate accepted by BLUE, AID's notice acknowledged by both, BLUE's
    free-text request to RED expired unanswered; RED rotates its key on the way."""
    w = World()
    w.add("RED", "BLUE", "AID")
    vacate = w.request(0, "RED", ["BLUE"], _body("vacate", 30))
    w.step(0.1, "BLUE", vacate, Kind.DELIVERED)
    w.step(2, "BLUE", vacate, Kind.READ)
    notice = w.request(5, "AID", ["RED", "BLUE"], _body("notice", 60))
    w.step(5.1, "RED", notice, Kind.DELIVERED)
    w.step(5.2, "BLUE", notice, Kind.DELIVERED)
    w.step(9, "BLUE", vacate, Kind.ACCEPT, {"conditions": "both aircraft exit to the west"})
    w.step(12, "RED", notice, Kind.READ)
    w.step(13, "RED", notice, Kind.ACCEPT)
    w.step(14, "BLUE", notice, Kind.READ)
    w.step(15, "BLUE", notice, Kind.ACCEPT)
    text = w.request(20, "BLUE", ["RED"], _body("free_text", 50))
    w.step(20.1, "RED", text, Kind.DELIVERED)
    w.rotate(40, "RED")
    w.witness(40, "RED")
    w.step(50, "BLUE", text, Kind.EXPIRED, {"recipient": "RED"})
    w.step(50.5, "RED", text, Kind.EXPIRED, {"recipient": "RED"})
    w.witness(51, "RED")
    w.witness(51, "BLUE")
    return w


def _body(kind: str, deadline: float) -> dict[str, Any]:
    from tests.line.helpers import request_body

    return request_body(kind, deadline=deadline)
