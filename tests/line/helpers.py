"""Builders for the line's tests: parties that sign entries on a fake clock."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from parley.line.chain import ChainHead, append, genesis, rotate
from parley.line.entry import Entry, Kind
from parley.line.keys import PartyKey
from parley.line.times import format_time

T0 = datetime(2017, 5, 3, 6, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)

SQUARE = [[[40.10, 35.00], [40.20, 35.00], [40.20, 35.10], [40.10, 35.10], [40.10, 35.00]]]


def at(minutes: float) -> str:
    return format_time(T0 + minutes * MIN)


def volume(start: float = 0, end: float = 360, coords: Any = None) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": coords or SQUARE},
        "properties": {"alt_lower_m": 0, "alt_upper_m": 6000, "start": at(start), "end": at(end)},
    }


def route(start: float = 0, end: float = 240) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": [[39.5, 35.2], [40.0, 35.05], [40.15, 35.05]]},
        "properties": {"half_width_m": 500, "start": at(start), "end": at(end)},
    }


def request_body(kind: str = "vacate", deadline: float = 30, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": kind,
        "subject": f"{kind} request",
        "reason": "ground assault on the town",
        "deadline": at(deadline),
    }
    if kind in ("vacate", "hold_clear"):
        body["volume"] = volume()
    elif kind == "passage":
        body["route"] = route()
    elif kind == "notice":
        body["what"] = "aid convoy: 8 trucks, food and water"
        body["route"] = route()
    else:
        body["text"] = "please separate civilians from fighters on the buses"
    body.update(extra)
    return body


@dataclass
class Party:
    """A party that signs entries: its key, its chain head and every entry it wrote."""

    name: str
    key: PartyKey = field(default_factory=PartyKey.generate)
    entries: list[Entry] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.genesis_key = self.key
        self.entries.append(genesis(self.name, self.key, at=at(-60), name=f"{self.name} forces"))

    @property
    def head(self) -> ChainHead:
        return ChainHead.of(self.entries[-1])

    def write(self, minutes: float, kind: Kind | str, body: dict[str, Any], **links: Any) -> Entry:
        entry = append(self.head, self.key, at=at(minutes), kind=kind, body=body, **links)
        self.entries.append(entry)
        return entry

    def request(self, minutes: float, to: list[str], body: dict[str, Any]) -> Entry:
        return self.write(minutes, Kind.REQUEST, body, thread=str(uuid.uuid4()), to=to)

    def answer(
        self, minutes: float, request: Entry, kind: Kind | str, body: dict[str, Any] | None = None
    ) -> Entry:
        return self.write(minutes, kind, body or {}, thread=request.thread, answers=request.hash)

    def rotate(self, minutes: float) -> Entry:
        new = PartyKey.generate()
        entry = rotate(self.head, self.key, new, at=at(minutes))
        self.entries.append(entry)
        self.key = new
        return entry
