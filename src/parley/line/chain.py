"""An author's chain: its entries in ``seq`` order, each naming the hash of the one before.

>>> from parley.line.keys import PartyKey
>>> key = PartyKey.generate()
>>> first = genesis("BLUE", key, at="2017-05-03T06:00:00.000000Z", name="Blue air")
>>> head = ChainHead.of(first)
>>> read = append(head, key, at="2017-05-03T06:01:00.000000Z", kind=Kind.READ,
...               thread="6f1c1e7e-4a3b-4c2d-9e8f-0a1b2c3d4e5f", answers="sha256:" + "0" * 64, body={})
>>> check_link(first, read)
>>> (read.seq, read.prev == first.hash)
(2, True)
>>> check_link(read, first)
Traceback (most recent call last):
...
parley.line.errors.BrokenChain: BLUE#1 (sha256:...): seq: expected 3 after BLUE#2
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from parley.line.entry import Entry, Kind, sign
from parley.line.errors import BrokenChain, ForkDetected
from parley.line.keys import PartyKey


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The latest entry of a party's chain, by position and hash (what the witness countersigns)."""

    party: str
    seq: int
    hash: str

    @classmethod
    def of(cls, entry: Entry) -> ChainHead:
        return cls(entry.party, entry.seq, entry.hash)


def genesis(party: str, key: PartyKey, *, at: str | datetime, name: str | None = None) -> Entry:
    """The first entry of ``party``'s chain: the key entry introducing ``key``, signed by it."""
    body: dict[str, Any] = {"public": key.key_id}
    if name is not None:
        body["name"] = name
    return sign(party=party, seq=1, prev=None, at=at, kind=Kind.KEY, body=body, key=key)


def append(
    head: ChainHead,
    key: PartyKey,
    *,
    at: str | datetime,
    kind: Kind | str,
    body: Mapping[str, Any],
    thread: str | None = None,
    answers: str | None = None,
    to: Sequence[str] = (),
) -> Entry:
    """The entry following ``head`` in its party's chain, signed with ``key``."""
    return sign(
        party=head.party,
        seq=head.seq + 1,
        prev=head.hash,
        at=at,
        kind=kind,
        body=body,
        key=key,
        thread=thread,
        answers=answers,
        to=to,
    )


def rotate(head: ChainHead, old: PartyKey, new: PartyKey, *, at: str | datetime) -> Entry:
    """A key rotation: the key entry introducing ``new``, signed by ``old`` (the key valid until now)."""
    return sign(
        party=head.party,
        seq=head.seq + 1,
        prev=head.hash,
        at=at,
        kind=Kind.KEY,
        body={"public": new.key_id},
        key=old,
    )


def check_link(previous: Entry | ChainHead, entry: Entry) -> None:
    """Raise :class:`BrokenChain` unless ``entry`` directly follows ``previous`` in one party's chain
    (same party, ``seq`` one more, ``prev`` its hash, and not signed earlier)."""
    if entry.party != previous.party:
        raise BrokenChain(f"{entry.short}: party: follows an entry of {previous.party}")
    if entry.seq != previous.seq + 1:
        raise BrokenChain(
            f"{entry.short}: seq: expected {previous.seq + 1} after {previous.party}#{previous.seq}"
        )
    if entry.prev != previous.hash:
        raise BrokenChain(
            f"{entry.short}: prev: is not the hash of {previous.party}#{previous.seq} ({previous.hash[:15]})"
        )
    if isinstance(previous, Entry) and entry.at < previous.at:
        raise BrokenChain(f"{entry.short}: at: earlier than {previous.short} ({entry.at} < {previous.at})")


def check_no_fork(held: Entry | ChainHead, other: Entry | ChainHead) -> None:
    """Raise :class:`ForkDetected` when two different entries (or heads) claim one (party, seq)."""
    if (held.party, held.seq) == (other.party, other.seq) and held.hash != other.hash:
        raise ForkDetected(
            f"{held.party}#{held.seq}: fork: two different entries at this position "
            f"({held.hash[:15]} and {other.hash[:15]})"
        )


def check_chain(entries: Sequence[Entry]) -> ChainHead:
    """Check that ``entries`` are one party's whole chain from its genesis key entry, each link
    good and every signature by the key valid at its position (genesis, then each rotation's new
    key). Returns the head."""
    from parley.line.entry import verify_entry

    if not entries:
        raise BrokenChain("chain: empty")
    first = entries[0]
    if first.seq != 1 or first.kind is not Kind.KEY:
        raise BrokenChain(f"{first.short}: seq: a chain starts with its key entry at seq 1")
    verify_entry(first, first.body["public"])
    current = first.body["public"]
    for previous, entry in itertools.pairwise(entries):
        check_link(previous, entry)
        verify_entry(entry, current)
        if entry.kind is Kind.KEY:
            current = entry.body["public"]
    return ChainHead.of(entries[-1])
