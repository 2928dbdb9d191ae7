"""What the line's services need from storage: entries (append-only: there is no update or delete),
the outbox of entries to deliver, pinned keys; and, on the shared service, the registry of parties,
the witnessed chain heads and the forks found. Every method is one transaction."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from parley.line.errors import ForkDetected as _Fork

Json = dict[str, Any]


class ForkDetected(_Fork):
    """Two different entries claim one position (author, seq) of a chain (HTTP 409)."""

    def __init__(self, message: str, *, author: str, seq: int, held: str, offered: str) -> None:
        super().__init__(message)
        self.author, self.seq, self.held, self.offered = author, seq, held, offered


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """An entry as a node holds it: its JSON text (the canonical form the node signed or checked)
    and the fields it is looked up by."""

    holder: str
    hash: str
    author: str
    seq: int
    kind: str
    thread: str | None
    at: datetime
    #: The entry's JSON text, as stored.
    text: str
    received_at: datetime
    #: A request's deadline (None for other kinds).
    deadline: datetime | None = None

    @property
    def entry(self) -> Json:
        """The entry as a JSON object (parsed anew at each access)."""
        parsed: Json = json.loads(self.text)
        return parsed


@dataclass(frozen=True, slots=True)
class OutboxItem:
    seq: int
    holder: str
    recipient: str
    hash: str
    attempts: int
    next_attempt_at: datetime
    delivered_at: datetime | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class Pin:
    holder: str
    party: str
    key_id: str
    pinned_at: datetime
    proof: Json | None


@dataclass(frozen=True, slots=True)
class Registration:
    party: str
    key_id: str
    base_url: str
    display_name: str
    registered_at: datetime
    keys: list[Json]


@dataclass(frozen=True, slots=True)
class WitnessedHead:
    party: str
    seq: int
    head: str
    at: datetime
    countersignature: Json


class LineRepository(Protocol):
    # -- a node's entries --------------------------------------------------------------------------
    def append(self, entry: StoredEntry, *, deliver_to: Sequence[str] = (), now: datetime) -> bool:
        """Store ``entry`` and, in the same transaction, queue it for ``deliver_to``. False (and
        nothing changed) when the holder has it already; :class:`ForkDetected` when the holder has
        another entry at its (author, seq)."""
        ...

    def append_all(
        self,
        entries: Sequence[tuple[StoredEntry, Sequence[str]]],
        *,
        now: datetime,
        delivered: Collection[str] = (),
        done: Sequence[int] = (),
        evidence: Mapping[str, str] | None = None,
    ) -> list[bool]:
        """:meth:`append` each ``(entry, deliver_to)`` in order, all in one transaction: whether each
        was new. On :class:`ForkDetected` nothing is stored. The outbox rows of the entries whose
        hashes are in ``delivered`` are written delivered already (they go back in an HTTP answer);
        the outbox rows ``done`` (their ``seq``) are marked delivered in the same transaction; and
        the ``evidence`` of entries (by hash: JSON text, the track samples a certificate or an
        alarm commits to) is kept with them (once)."""
        ...

    def evidence(self, holder: str, hashes: Sequence[str]) -> dict[str, str]:
        """The evidence the holder keeps for these entries, by hash (JSON text)."""
        ...

    # -- an obligor's watches of its accepted obligations -------------------------------------------
    def save_watch(self, holder: str, thread: str, state: str, *, active: bool, now: datetime) -> None:
        """Keep a watch's state (JSON text), inactive once it has nothing left to watch."""
        ...

    def watch(self, holder: str, thread: str) -> tuple[str, bool] | None: ...

    def active_watches(self, holder: str) -> list[tuple[str, str]]:
        """``(thread, state)`` of the holder's active watches."""
        ...

    def get(self, holder: str, entry_hash: str) -> StoredEntry | None: ...

    def get_all(self, holder: str, hashes: Sequence[str]) -> dict[str, StoredEntry]:
        """The entries among ``hashes`` the holder has, by hash (one read)."""
        ...

    def held(self, holder: str, hashes: Sequence[str]) -> set[str]:
        """Which of ``hashes`` the holder has."""
        ...

    def head(self, holder: str, author: str) -> StoredEntry | None:
        """The holder's latest entry by ``author`` (highest seq)."""
        ...

    def thread(self, holder: str, thread: str) -> list[StoredEntry]: ...

    def threads_entries(self, holder: str, threads: Sequence[str]) -> dict[str, list[StoredEntry]]:
        """:meth:`thread` of each of ``threads`` (one read); an unknown thread maps to ``[]``."""
        ...

    def entries(
        self, holder: str, *, author: str | None = None, limit: int | None = None
    ) -> list[StoredEntry]:
        """The holder's entries in the order it stored them (an answer after what it answers); one
        author's chain, by seq, when ``author`` is given."""
        ...

    def threads(self, holder: str, *, limit: int = 1000) -> list[str]:
        """Thread ids the holder has, newest first."""
        ...

    def count(self, holder: str) -> int: ...

    def threads_due(self, holder: str, now: datetime, *, since: datetime | None = None) -> list[str]:
        """Threads whose request's deadline is at or before ``now`` (and after ``since``)."""
        ...

    # -- outbox ------------------------------------------------------------------------------------
    def due(self, holder: str, now: datetime, *, limit: int = 100) -> list[OutboxItem]:
        """Deliveries due at ``now``, oldest first; none to a recipient while one of its deliveries
        waits out a back-off (each recipient gets the holder's entries in order)."""
        ...

    def due_entries(self, holder: str, now: datetime, *, limit: int = 100) -> list[tuple[OutboxItem, str]]:
        """:meth:`due`, each delivery with the JSON text of its entry (one read)."""
        ...

    def mark_delivered(self, item: OutboxItem, now: datetime) -> None: ...

    def undeliver(self, holder: str, hashes: Sequence[str], *, now: datetime | None = None) -> None:
        """Make the holder's deliveries of ``hashes`` due again (at ``now``; at once by default):
        the answer that was to carry them failed."""
        ...

    def mark_all_delivered(self, items: Sequence[OutboxItem], now: datetime) -> None:
        """:meth:`mark_delivered` for each of ``items``, in one statement."""
        ...

    def mark_failed(self, item: OutboxItem, next_attempt_at: datetime, error: str) -> None: ...

    def mark_all_failed(self, items: Sequence[OutboxItem], next_attempt_at: datetime, error: str) -> None:
        """:meth:`mark_failed` for each of ``items``, in one statement."""
        ...

    def pending(self, holder: str) -> int: ...

    # -- pinned keys -------------------------------------------------------------------------------
    def pins(self, holder: str, party: str) -> list[Pin]: ...

    def pin(self, pin: Pin) -> None: ...

    # -- the shared service --------------------------------------------------------------------------
    def register(self, registration: Registration) -> None: ...

    def registration(self, party: str) -> Registration | None: ...

    def registrations(self) -> list[Registration]: ...

    def witness(self, head: WitnessedHead) -> WitnessedHead:
        """Record ``head`` unless one is held at its (party, seq): return what is held (a different
        head there is a fork, recorded and raised as :class:`ForkDetected`)."""
        ...

    def witnessed(self, party: str, *, from_seq: int = 0) -> list[WitnessedHead]: ...
