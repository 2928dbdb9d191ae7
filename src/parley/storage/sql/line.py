"""The line's store on SQL (SQLite or PostgreSQL), on the same database as the DSS and the party
nodes. Entries are only ever inserted: this module has no UPDATE or DELETE of ``line_entries`` (and on
PostgreSQL a trigger refuses them); an entry and its outbox rows are written in one transaction."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa

from parley.ports.line import (
    ForkDetected,
    OutboxItem,
    Pin,
    Registration,
    StoredEntry,
    WitnessedHead,
)
from parley.ports.repositories import TransientConflict
from parley.storage.sql import retry
from parley.storage.sql.mapping import from_us, to_us
from parley.storage.sql.tables import (
    line_entries,
    line_forks,
    line_outbox,
    line_pins,
    line_registry,
    line_witness,
)
from parley.storage.sql.uow import SqlStore

T = TypeVar("T")
E, OB = line_entries, line_outbox

# The hot statements, built once (their SQL and cache keys are then computed once, not per call).
_B = sa.bindparam
_POSITION = sa.select(E.c.hash).where(
    E.c.holder == _B("holder"), E.c.author == _B("author"), E.c.seq == _B("seq")
)
_INSERT_ENTRY = sa.insert(E)
_INSERT_OUTBOX = sa.insert(OB)
_POSITIONS = sa.select(E.c.seq, E.c.hash).where(
    E.c.holder == _B("holder"), E.c.author == _B("author"), E.c.seq.in_(_B("seqs", expanding=True))
)
_GET = sa.select(E).where(E.c.holder == _B("holder"), E.c.hash == _B("hash"))
_GET_MANY = sa.select(E).where(E.c.holder == _B("holder"), E.c.hash.in_(_B("hashes", expanding=True)))
_HELD = sa.select(E.c.hash).where(E.c.holder == _B("holder"), E.c.hash.in_(_B("hashes", expanding=True)))
_HEAD = (
    sa.select(E)
    .where(E.c.holder == _B("holder"), E.c.author == _B("author"))
    .order_by(E.c.seq.desc())
    .limit(1)
)
_THREAD = (
    sa.select(E)
    .where(E.c.holder == _B("holder"), E.c.thread == _B("thread"))
    .order_by(E.c.at_us, E.c.author, E.c.seq)
)
_THREADS = (
    sa.select(E)
    .where(E.c.holder == _B("holder"), E.c.thread.in_(_B("threads", expanding=True)))
    .order_by(E.c.at_us, E.c.author, E.c.seq)
)
# Deliveries to one recipient keep their order: while any of them waits out a back-off, none of that
# recipient's is due (a newer entry would otherwise overtake what it follows).
_WAITING = (
    sa.select(OB.c.recipient)
    .where(OB.c.holder == _B("holder"), OB.c.delivered_us.is_(None), OB.c.next_attempt_us > _B("now_us"))
    .scalar_subquery()
)
_DUE = (
    sa.select(OB)
    .where(
        OB.c.holder == _B("holder"),
        OB.c.delivered_us.is_(None),
        OB.c.next_attempt_us <= _B("now_us"),
        OB.c.recipient.not_in(_WAITING),
    )
    .order_by(OB.c.seq)
    .limit(_B("limit"))
)
_DELIVERED = (
    sa.update(OB)
    .where(OB.c.seq.in_(_B("seqs", expanding=True)))
    .values(delivered_us=_B("at_us"), attempts=OB.c.attempts + 1)
)
_FAILED = (
    sa.update(OB)
    .where(OB.c.seq.in_(_B("seqs", expanding=True)))
    .values(attempts=OB.c.attempts + 1, next_attempt_us=_B("next_us"), last_error=_B("error"))
)


def _dumps(doc: Any) -> str:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _entry(row: sa.Row[Any]) -> StoredEntry:
    return StoredEntry(
        holder=row.holder,
        hash=row.hash,
        author=row.author,
        seq=row.seq,
        kind=row.kind,
        thread=row.thread,
        at=from_us(row.at_us),
        entry=json.loads(row.entry),
        received_at=from_us(row.received_us),
        deadline=from_us(row.deadline_us) if row.deadline_us is not None else None,
    )


def _outbox(row: sa.Row[Any]) -> OutboxItem:
    return OutboxItem(
        seq=row.seq,
        holder=row.holder,
        recipient=row.recipient,
        hash=row.hash,
        attempts=row.attempts,
        next_attempt_at=from_us(row.next_attempt_us),
        delivered_at=from_us(row.delivered_us) if row.delivered_us is not None else None,
        last_error=row.last_error,
    )


def _append(c: sa.Connection, entry: StoredEntry, deliver_to: Sequence[str], now: datetime) -> bool:
    """Insert ``entry`` and its outbox rows on ``c`` (in the caller's transaction); see ``append``."""
    held = c.execute(_POSITION, {"holder": entry.holder, "author": entry.author, "seq": entry.seq}).scalar()
    if held == entry.hash:
        return False
    if held is not None:
        raise ForkDetected(
            f"{entry.author!r} already has entry {entry.seq} {held[:19]}…; {entry.hash[:19]}… differs: a fork",
            author=entry.author,
            seq=entry.seq,
            held=held,
            offered=entry.hash,
        )
    values = _entry_row(entry)
    try:
        c.execute(_INSERT_ENTRY, values)
    except sa.exc.IntegrityError as error:  # another writer took the position meanwhile
        raise ForkDetected(
            f"{entry.author!r} entry {entry.seq} was written meanwhile",
            author=entry.author,
            seq=entry.seq,
            held="",
            offered=entry.hash,
        ) from error
    if deliver_to:
        now_us = to_us(now)
        c.execute(_INSERT_OUTBOX, [_outbox_row(entry, r, now_us) for r in sorted(set(deliver_to))])
    return True


def _append_all(
    c: sa.Connection, items: Sequence[tuple[StoredEntry, Sequence[str]]], now: datetime
) -> list[bool]:
    """``_append`` of each item in order, on ``c``, in a few statements: the positions they take are
    read at once (per author), the new entries and their outbox rows inserted at once."""
    seqs: dict[tuple[str, str], set[int]] = {}
    for entry, _ in items:
        seqs.setdefault((entry.holder, entry.author), set()).add(entry.seq)
    taken: dict[tuple[str, str, int], str] = {}
    for (holder, author), wanted in seqs.items():
        rows = c.execute(_POSITIONS, {"holder": holder, "author": author, "seqs": sorted(wanted)}).all()
        taken.update({(holder, author, r.seq): r.hash for r in rows})
    fresh: list[bool] = []
    entries: list[dict[str, Any]] = []
    outbox: list[dict[str, Any]] = []
    now_us = to_us(now)
    for entry, deliver_to in items:
        held = taken.get((entry.holder, entry.author, entry.seq))
        if held == entry.hash:
            fresh.append(False)
            continue
        if held is not None:
            raise ForkDetected(
                f"{entry.author!r} already has entry {entry.seq} {held[:19]}…; {entry.hash[:19]}… differs: a fork",
                author=entry.author,
                seq=entry.seq,
                held=held,
                offered=entry.hash,
            )
        taken[(entry.holder, entry.author, entry.seq)] = entry.hash
        fresh.append(True)
        entries.append(_entry_row(entry))
        outbox += [_outbox_row(entry, r, now_us) for r in sorted(set(deliver_to))]
    if entries:
        try:
            c.execute(_INSERT_ENTRY, entries)
        except sa.exc.IntegrityError as error:
            # Another writer took a position meanwhile (PostgreSQL): run again, which names it.
            raise TransientConflict(f"line entries written meanwhile: {error.orig}") from error
    if outbox:
        c.execute(_INSERT_OUTBOX, outbox)
    return fresh


def _entry_row(entry: StoredEntry) -> dict[str, Any]:
    return {
        "holder": entry.holder,
        "hash": entry.hash,
        "author": entry.author,
        "seq": entry.seq,
        "kind": entry.kind,
        "thread": entry.thread,
        "at_us": to_us(entry.at),
        "entry": _dumps(entry.entry),
        "received_us": to_us(entry.received_at),
        "deadline_us": to_us(entry.deadline) if entry.deadline is not None else None,
    }


def _outbox_row(entry: StoredEntry, recipient: str, now_us: int) -> dict[str, Any]:
    return {
        "holder": entry.holder,
        "recipient": recipient,
        "hash": entry.hash,
        "created_us": now_us,
        "attempts": 0,
        "next_attempt_us": now_us,
        "delivered_us": None,
        "last_error": None,
    }


class SqlLineRepository:
    """:class:`parley.ports.line.LineRepository` on a :class:`SqlStore`."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def _run(self, work: Callable[[sa.Connection], T], *, readonly: bool = False) -> T:
        return retry.run(self.store, work, readonly=readonly)

    # -- entries -------------------------------------------------------------------------------------

    def append(self, entry: StoredEntry, *, deliver_to: Sequence[str] = (), now: datetime) -> bool:
        return self._run(lambda c: _append(c, entry, deliver_to, now))

    def append_all(
        self, entries: Sequence[tuple[StoredEntry, Sequence[str]]], *, now: datetime
    ) -> list[bool]:
        if not entries:
            return []
        return self._run(lambda c: _append_all(c, entries, now))

    def get(self, holder: str, entry_hash: str) -> StoredEntry | None:
        row = self._run(
            lambda c: c.execute(_GET, {"holder": holder, "hash": entry_hash}).first(), readonly=True
        )
        return _entry(row) if row is not None else None

    def get_all(self, holder: str, hashes: Sequence[str]) -> dict[str, StoredEntry]:
        if not hashes:
            return {}
        rows = self._run(
            lambda c: c.execute(_GET_MANY, {"holder": holder, "hashes": list(set(hashes))}).all(),
            readonly=True,
        )
        return {r.hash: _entry(r) for r in rows}

    def held(self, holder: str, hashes: Sequence[str]) -> set[str]:
        if not hashes:
            return set()
        rows = self._run(
            lambda c: c.execute(_HELD, {"holder": holder, "hashes": list(set(hashes))}).all(), readonly=True
        )
        return {r.hash for r in rows}

    def head(self, holder: str, author: str) -> StoredEntry | None:
        row = self._run(
            lambda c: c.execute(_HEAD, {"holder": holder, "author": author}).first(), readonly=True
        )
        return _entry(row) if row is not None else None

    def thread(self, holder: str, thread: str) -> list[StoredEntry]:
        rows = self._run(
            lambda c: c.execute(_THREAD, {"holder": holder, "thread": thread}).all(), readonly=True
        )
        return [_entry(r) for r in rows]

    def threads_entries(self, holder: str, threads: Sequence[str]) -> dict[str, list[StoredEntry]]:
        found: dict[str, list[StoredEntry]] = {t: [] for t in threads}
        if not threads:
            return found
        rows = self._run(
            lambda c: c.execute(_THREADS, {"holder": holder, "threads": list(found)}).all(), readonly=True
        )
        for r in rows:
            found[r.thread].append(_entry(r))
        return found

    def entries(
        self, holder: str, *, author: str | None = None, limit: int | None = None
    ) -> list[StoredEntry]:
        query = sa.select(E).where(E.c.holder == holder)
        if author is not None:
            query = query.where(E.c.author == author).order_by(E.c.seq)
        else:  # the order the holder stored them: an answer always after what it answers
            query = query.order_by(E.c.received_us, E.c.author, E.c.seq)
        if limit is not None:
            query = query.limit(limit)
        rows = self._run(lambda c: c.execute(query).all(), readonly=True)
        return [_entry(r) for r in rows]

    def threads(self, holder: str, *, limit: int = 1000) -> list[str]:
        query = (
            sa.select(E.c.thread, sa.func.max(E.c.at_us).label("last"))
            .where(E.c.holder == holder, E.c.thread.is_not(None))
            .group_by(E.c.thread)
            .order_by(sa.desc("last"))
            .limit(limit)
        )
        rows = self._run(lambda c: c.execute(query).all(), readonly=True)
        return [r.thread for r in rows]

    def threads_due(self, holder: str, now: datetime, *, since: datetime | None = None) -> list[str]:
        query = sa.select(E.c.thread).where(
            E.c.holder == holder, E.c.deadline_us.is_not(None), E.c.deadline_us <= to_us(now)
        )
        if since is not None:
            query = query.where(E.c.deadline_us > to_us(since))
        rows = self._run(lambda c: c.execute(query.order_by(E.c.deadline_us)).all(), readonly=True)
        return [r.thread for r in rows]

    def count(self, holder: str) -> int:
        return int(
            self._run(
                lambda c: c.execute(
                    sa.select(sa.func.count()).select_from(E).where(E.c.holder == holder)
                ).scalar_one(),
                readonly=True,
            )
        )

    # -- outbox --------------------------------------------------------------------------------------

    def due(self, holder: str, now: datetime, *, limit: int = 100) -> list[OutboxItem]:
        rows = self._run(
            lambda c: c.execute(_DUE, {"holder": holder, "now_us": to_us(now), "limit": limit}).all(),
            readonly=True,
        )
        return [_outbox(r) for r in rows]

    def mark_delivered(self, item: OutboxItem, now: datetime) -> None:
        self.mark_all_delivered([item], now)

    def mark_all_delivered(self, items: Sequence[OutboxItem], now: datetime) -> None:
        if items:
            seqs = [i.seq for i in items]
            self._run(lambda c: c.execute(_DELIVERED, {"seqs": seqs, "at_us": to_us(now)}))

    def mark_failed(self, item: OutboxItem, next_attempt_at: datetime, error: str) -> None:
        self.mark_all_failed([item], next_attempt_at, error)

    def mark_all_failed(self, items: Sequence[OutboxItem], next_attempt_at: datetime, error: str) -> None:
        if items:
            seqs = [i.seq for i in items]
            params = {"seqs": seqs, "next_us": to_us(next_attempt_at), "error": error[:500]}
            self._run(lambda c: c.execute(_FAILED, params))

    def pending(self, holder: str) -> int:
        return int(
            self._run(
                lambda c: c.execute(
                    sa.select(sa.func.count())
                    .select_from(OB)
                    .where(OB.c.holder == holder, OB.c.delivered_us.is_(None))
                ).scalar_one(),
                readonly=True,
            )
        )

    # -- pinned keys ---------------------------------------------------------------------------------

    def pins(self, holder: str, party: str) -> list[Pin]:
        t = line_pins
        rows = self._run(
            lambda c: c.execute(
                sa.select(t).where(t.c.holder == holder, t.c.party == party).order_by(t.c.pinned_us)
            ).all(),
            readonly=True,
        )
        return [
            Pin(r.holder, r.party, r.key_id, from_us(r.pinned_us), json.loads(r.proof) if r.proof else None)
            for r in rows
        ]

    def pin(self, pin: Pin) -> None:
        t = line_pins

        def work(c: sa.Connection) -> None:
            exists = c.execute(
                sa.select(t.c.key_id).where(
                    t.c.holder == pin.holder, t.c.party == pin.party, t.c.key_id == pin.key_id
                )
            ).first()
            if exists is None:
                c.execute(
                    sa.insert(t).values(
                        holder=pin.holder,
                        party=pin.party,
                        key_id=pin.key_id,
                        pinned_us=to_us(pin.pinned_at),
                        proof=_dumps(pin.proof) if pin.proof is not None else None,
                    )
                )

        self._run(work)

    # -- the shared service --------------------------------------------------------------------------

    def register(self, registration: Registration) -> None:
        t = line_registry
        values = {
            "key_id": registration.key_id,
            "base_url": registration.base_url,
            "display_name": registration.display_name,
            "registered_us": to_us(registration.registered_at),
            "keys": _dumps(registration.keys),
        }

        def work(c: sa.Connection) -> None:
            done = c.execute(sa.update(t).where(t.c.party == registration.party).values(**values))
            if done.rowcount == 0:
                c.execute(sa.insert(t).values(party=registration.party, **values))

        self._run(work)

    @staticmethod
    def _registration(row: sa.Row[Any]) -> Registration:
        return Registration(
            row.party,
            row.key_id,
            row.base_url,
            row.display_name,
            from_us(row.registered_us),
            json.loads(row.keys),
        )

    def registration(self, party: str) -> Registration | None:
        t = line_registry
        row = self._run(lambda c: c.execute(sa.select(t).where(t.c.party == party)).first(), readonly=True)
        return self._registration(row) if row is not None else None

    def registrations(self) -> list[Registration]:
        t = line_registry
        rows = self._run(lambda c: c.execute(sa.select(t).order_by(t.c.party)).all(), readonly=True)
        return [self._registration(r) for r in rows]

    def witness(self, head: WitnessedHead) -> WitnessedHead:
        t = line_witness

        def work(c: sa.Connection) -> WitnessedHead | tuple[str, WitnessedHead]:
            row = c.execute(sa.select(t).where(t.c.party == head.party, t.c.seq == head.seq)).first()
            if row is None:
                c.execute(
                    sa.insert(t).values(
                        party=head.party,
                        seq=head.seq,
                        head=head.head,
                        at_us=to_us(head.at),
                        countersignature=_dumps(head.countersignature),
                    )
                )
                return head
            held = WitnessedHead(
                row.party, row.seq, row.head, from_us(row.at_us), json.loads(row.countersignature)
            )
            if held.head != head.head:
                c.execute(
                    sa.insert(line_forks).values(
                        party=head.party,
                        seq=head.seq,
                        head=held.head,
                        other_head=head.head,
                        reported_us=to_us(head.at),
                    )
                )
                return ("fork", held)
            return held

        result = self._run(work)
        if isinstance(result, tuple):
            held = result[1]
            raise ForkDetected(
                f"{head.party!r} already had head {held.head[:19]}… witnessed at entry {head.seq}; "
                f"{head.head[:19]}… differs: a fork, recorded",
                author=head.party,
                seq=head.seq,
                held=held.head,
                offered=head.head,
            )
        return result

    def witnessed(self, party: str, *, from_seq: int = 0) -> list[WitnessedHead]:
        t = line_witness
        rows = self._run(
            lambda c: c.execute(
                sa.select(t).where(t.c.party == party, t.c.seq >= from_seq).order_by(t.c.seq)
            ).all(),
            readonly=True,
        )
        return [
            WitnessedHead(r.party, r.seq, r.head, from_us(r.at_us), json.loads(r.countersignature))
            for r in rows
        ]

    def forks(self) -> list[dict[str, Any]]:
        t = line_forks
        rows = self._run(lambda c: c.execute(sa.select(t).order_by(t.c.id)).all(), readonly=True)
        return [
            {
                "party": r.party,
                "seq": r.seq,
                "head": r.head,
                "other_head": r.other_head,
                "reported_at": from_us(r.reported_us),
            }
            for r in rows
        ]
