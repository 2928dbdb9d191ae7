"""The line's store on SQL (SQLite or PostgreSQL), on the same database as the DSS and the party
nodes. Entries are only ever inserted: this module has no UPDATE or DELETE of ``line_entries`` (and on
PostgreSQL a trigger refuses them); an entry and its outbox rows are written in one transaction.

Plain DB-API statements. The line runs a handful of short statements per request it carries, and
SQLAlchemy's execution machinery cost some thirty times the statements themselves (0.40 ms against
14 µs for a one-row read on the 2-core development machine). SQLAlchemy still owns the engines (their
pools, SQLite's pragmas, PostgreSQL's isolation levels) and the schema (``tables.py``, Alembic): each
call here borrows one pooled DB-API connection for one transaction and runs fixed SQL on it.

- SQLite: ``BEGIN IMMEDIATE`` for writes (the process's writers queue first on the store's write
  lock, as the units of work do), ``BEGIN DEFERRED`` for reads (a WAL snapshot beside the writer).
- PostgreSQL: the write engine's ``SERIALIZABLE`` connections, the read engine's ``REPEATABLE READ
  READ ONLY`` ones.
- A lost race (SQLite busy, PostgreSQL SQLSTATE 40001/40P01) or a connection found dead before the
  commit: the transaction is run again (jittered exponential back-off), at most
  :data:`~parley.storage.sql.retry.ATTEMPTS` times, then
  :class:`~parley.ports.repositories.TransientConflict`.

Lists in conditions travel as one bound value whatever their length: a JSON array read by
``json_each`` on SQLite, an array for ``= ANY`` on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import json
import random
import sqlite3
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from parley.ports.line import (
    ForkDetected,
    OutboxItem,
    Pin,
    Registration,
    StoredEntry,
    WitnessedHead,
)
from parley.ports.repositories import TransientConflict
from parley.storage.sql.mapping import from_us, to_us
from parley.storage.sql.retry import ATTEMPTS
from parley.storage.sql.uow import SqlStore

T = TypeVar("T")

#: PostgreSQL SQLSTATEs of a transaction that lost a race (worth running again).
_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01"})
#: PostgreSQL SQLSTATE of a unique violation.
_UNIQUE_VIOLATION = "23505"

_ENTRY_COLUMNS = "holder, hash, author, seq, kind, thread, at_us, entry, received_us, deadline_us"
_OUTBOX_COLUMNS = "seq, holder, recipient, hash, attempts, next_attempt_us, delivered_us, last_error"

# The statements, written with ``?`` placeholders and ``IN_LIST`` for a list bound as one value.
_SQL: dict[str, str] = {
    "position": "SELECT hash FROM line_entries WHERE holder = ? AND author = ? AND seq = ?",
    "positions": "SELECT seq, hash FROM line_entries WHERE holder = ? AND author = ? AND seq IN_LIST",
    "insert_entry": f"INSERT INTO line_entries ({_ENTRY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "insert_outbox": (
        "INSERT INTO line_outbox (holder, recipient, hash, created_us, attempts, next_attempt_us, delivered_us) "
        "VALUES (?, ?, ?, ?, 0, ?, ?)"
    ),
    "undeliver": (
        "UPDATE line_outbox SET delivered_us = NULL, next_attempt_us = ? WHERE holder = ? AND hash IN_LIST"
    ),
    "get": f"SELECT {_ENTRY_COLUMNS} FROM line_entries WHERE holder = ? AND hash = ?",
    "get_many": f"SELECT {_ENTRY_COLUMNS} FROM line_entries WHERE holder = ? AND hash IN_LIST",
    "held": "SELECT hash FROM line_entries WHERE holder = ? AND hash IN_LIST",
    "head": (
        f"SELECT {_ENTRY_COLUMNS} FROM line_entries WHERE holder = ? AND author = ? ORDER BY seq DESC LIMIT 1"
    ),
    "thread": (
        f"SELECT {_ENTRY_COLUMNS} FROM line_entries WHERE holder = ? AND thread = ? "
        "ORDER BY at_us, author, seq"
    ),
    "threads_entries": (
        f"SELECT {_ENTRY_COLUMNS} FROM line_entries WHERE holder = ? AND thread IN_LIST "
        "ORDER BY at_us, author, seq"
    ),
    "entries": f"SELECT {_ENTRY_COLUMNS} FROM line_entries WHERE holder = ? ORDER BY received_us, author, seq",
    "entries_limit": (
        f"SELECT {_ENTRY_COLUMNS} FROM line_entries WHERE holder = ? ORDER BY received_us, author, seq LIMIT ?"
    ),
    "chain": f"SELECT {_ENTRY_COLUMNS} FROM line_entries WHERE holder = ? AND author = ? ORDER BY seq",
    "chain_limit": (
        f"SELECT {_ENTRY_COLUMNS} FROM line_entries WHERE holder = ? AND author = ? ORDER BY seq LIMIT ?"
    ),
    "threads": (
        "SELECT thread, MAX(at_us) AS last FROM line_entries WHERE holder = ? AND thread IS NOT NULL "
        "GROUP BY thread ORDER BY last DESC, thread LIMIT ?"
    ),
    "threads_due": (
        "SELECT thread FROM line_entries WHERE holder = ? AND deadline_us IS NOT NULL AND deadline_us <= ? "
        "ORDER BY deadline_us"
    ),
    "threads_due_since": (
        "SELECT thread FROM line_entries WHERE holder = ? AND deadline_us IS NOT NULL AND deadline_us <= ? "
        "AND deadline_us > ? ORDER BY deadline_us"
    ),
    "count": "SELECT COUNT(*) FROM line_entries WHERE holder = ?",
    # Deliveries to one recipient keep their order: while any of them waits out a back-off, none of
    # that recipient's is due (a newer entry would otherwise overtake what it follows).
    "due": (
        "SELECT o.seq, o.holder, o.recipient, o.hash, o.attempts, o.next_attempt_us, o.delivered_us, "
        "o.last_error, e.entry FROM line_outbox o JOIN line_entries e ON e.holder = o.holder AND e.hash = o.hash "
        "WHERE o.holder = ? AND o.delivered_us IS NULL AND o.next_attempt_us <= ? AND o.recipient NOT IN "
        "(SELECT w.recipient FROM line_outbox w WHERE w.holder = ? AND w.delivered_us IS NULL "
        "AND w.next_attempt_us > ?) ORDER BY o.seq LIMIT ?"
    ),
    "delivered": "UPDATE line_outbox SET delivered_us = ?, attempts = attempts + 1 WHERE seq IN_LIST",
    "failed": (
        "UPDATE line_outbox SET attempts = attempts + 1, next_attempt_us = ?, last_error = ? WHERE seq IN_LIST"
    ),
    "pending": "SELECT COUNT(*) FROM line_outbox WHERE holder = ? AND delivered_us IS NULL",
    "pins": "SELECT holder, party, key_id, pinned_us, proof FROM line_pins WHERE holder = ? AND party = ? "
    "ORDER BY pinned_us",
    "pinned": "SELECT key_id FROM line_pins WHERE holder = ? AND party = ? AND key_id = ?",
    "pin": "INSERT INTO line_pins (holder, party, key_id, pinned_us, proof) VALUES (?, ?, ?, ?, ?)",
    "register_update": (
        "UPDATE line_registry SET key_id = ?, base_url = ?, display_name = ?, registered_us = ?, keys = ? "
        "WHERE party = ?"
    ),
    "register_insert": (
        "INSERT INTO line_registry (key_id, base_url, display_name, registered_us, keys, party) "
        "VALUES (?, ?, ?, ?, ?, ?)"
    ),
    "registration": (
        "SELECT party, key_id, base_url, display_name, registered_us, keys FROM line_registry WHERE party = ?"
    ),
    "registrations": (
        "SELECT party, key_id, base_url, display_name, registered_us, keys FROM line_registry ORDER BY party"
    ),
    "witnessed_at": (
        "SELECT party, seq, head, at_us, countersignature FROM line_witness WHERE party = ? AND seq = ?"
    ),
    "witness_insert": (
        "INSERT INTO line_witness (party, seq, head, at_us, countersignature) VALUES (?, ?, ?, ?, ?)"
    ),
    "fork_insert": (
        "INSERT INTO line_forks (party, seq, head, other_head, reported_us) VALUES (?, ?, ?, ?, ?)"
    ),
    "witnessed": (
        "SELECT party, seq, head, at_us, countersignature FROM line_witness WHERE party = ? AND seq >= ? "
        "ORDER BY seq"
    ),
    "forks": "SELECT party, seq, head, other_head, reported_us FROM line_forks ORDER BY id",
    "evidence_held": "SELECT hash FROM line_evidence WHERE holder = ? AND hash IN_LIST",
    "evidence_insert": "INSERT INTO line_evidence (holder, hash, evidence) VALUES (?, ?, ?)",
    "evidence": "SELECT hash, evidence FROM line_evidence WHERE holder = ? AND hash IN_LIST",
    "watch": "SELECT state, active FROM line_watches WHERE holder = ? AND thread = ?",
    "watch_update": "UPDATE line_watches SET state = ?, active = ?, updated_us = ? WHERE holder = ? AND thread = ?",
    "watch_insert": (
        "INSERT INTO line_watches (state, active, updated_us, holder, thread) VALUES (?, ?, ?, ?, ?)"
    ),
    "watches_active": "SELECT thread, state FROM line_watches WHERE holder = ? AND active = ? ORDER BY thread",
}


def _for_sqlite(sql: str) -> str:
    return sql.replace("IN_LIST", "IN (SELECT value FROM json_each(?))")


def _for_postgres(sql: str) -> str:
    return sql.replace("IN_LIST", "= ANY(?)").replace("?", "%s")


def _dumps(doc: Any) -> str:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _entry(row: Sequence[Any]) -> StoredEntry:
    holder, hash_, author, seq, kind, thread, at_us, text, received_us, deadline_us = row
    return StoredEntry(
        holder=holder,
        hash=hash_,
        author=author,
        seq=seq,
        kind=kind,
        thread=thread,
        at=from_us(at_us),
        text=text,
        received_at=from_us(received_us),
        deadline=from_us(deadline_us) if deadline_us is not None else None,
    )


def _outbox(row: Sequence[Any]) -> OutboxItem:
    seq, holder, recipient, hash_, attempts, next_us, delivered_us, last_error = row[:8]
    return OutboxItem(
        seq=seq,
        holder=holder,
        recipient=recipient,
        hash=hash_,
        attempts=attempts,
        next_attempt_at=from_us(next_us),
        delivered_at=from_us(delivered_us) if delivered_us is not None else None,
        last_error=last_error,
    )


def _entry_row(entry: StoredEntry) -> tuple[Any, ...]:
    return (
        entry.holder,
        entry.hash,
        entry.author,
        entry.seq,
        entry.kind,
        entry.thread,
        to_us(entry.at),
        entry.text,
        to_us(entry.received_at),
        to_us(entry.deadline) if entry.deadline is not None else None,
    )


def _fork(author: str, seq: int, held: str, offered: str) -> ForkDetected:
    return ForkDetected(
        f"{author!r} already has entry {seq} {held[:19]}…; {offered[:19]}… differs: a fork",
        author=author,
        seq=seq,
        held=held,
        offered=offered,
    )


class _Unique(Exception):
    """A unique constraint refused an insert (another writer took the row meanwhile)."""


class _Tx:
    """One transaction's cursor, with the dialect's statements and list parameters."""

    __slots__ = ("cursor", "postgres", "sql")

    def __init__(self, cursor: Any, sql: dict[str, str], postgres: bool) -> None:
        self.cursor = cursor
        self.sql = sql
        self.postgres = postgres

    def seq(self, values: Sequence[Any]) -> Any:
        """A list bound as one value (``IN_LIST``)."""
        return list(values) if self.postgres else json.dumps(list(values))

    def rows(self, name: str, params: Sequence[Any]) -> list[Any]:
        self.cursor.execute(self.sql[name], params)
        rows: list[Any] = self.cursor.fetchall()
        return rows

    def one(self, name: str, params: Sequence[Any]) -> Any:
        self.cursor.execute(self.sql[name], params)
        return self.cursor.fetchone()

    def run(self, name: str, params: Sequence[Any]) -> int:
        try:
            self.cursor.execute(self.sql[name], params)
        except sqlite3.IntegrityError as error:
            raise _Unique(str(error)) from error
        except Exception as error:
            if getattr(error, "sqlstate", None) == _UNIQUE_VIOLATION:
                raise _Unique(str(error)) from error
            raise
        count: int = self.cursor.rowcount
        return count

    def many(self, name: str, params: Sequence[Sequence[Any]]) -> None:
        try:
            self.cursor.executemany(self.sql[name], params)
        except sqlite3.IntegrityError as error:
            raise _Unique(str(error)) from error
        except Exception as error:
            if getattr(error, "sqlstate", None) == _UNIQUE_VIOLATION:
                raise _Unique(str(error)) from error
            raise


def _transient(error: BaseException) -> bool:
    if getattr(error, "sqlstate", None) in _TRANSIENT_SQLSTATES:
        return True
    if isinstance(error, sqlite3.OperationalError):
        name = str(getattr(error, "sqlite_errorname", ""))
        return name.startswith("SQLITE_BUSY") or "database is locked" in str(error)
    return False


def _lost_connection(error: BaseException) -> bool:
    """A PostgreSQL connection that broke (psycopg's OperationalError with the connection closed)."""
    connection = getattr(getattr(error, "cursor", None), "connection", None)
    return type(error).__name__ == "OperationalError" and bool(getattr(connection, "closed", False))


class SqlLineRepository:
    """:class:`parley.ports.line.LineRepository` on a :class:`SqlStore`."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self.postgres = store.engine.dialect.name == "postgresql"
        self._sql = {n: (_for_postgres if self.postgres else _for_sqlite)(s) for n, s in _SQL.items()}

    # -- transactions --------------------------------------------------------------------------------

    def _run(self, work: Callable[[_Tx], T], *, readonly: bool = False) -> T:
        """``work`` in one transaction, committed; run again on a lost race (see the module)."""
        for attempt in range(ATTEMPTS):
            try:
                return self._once(work, readonly)
            except TransientConflict:
                if attempt == ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0.0, 0.002 * 2**attempt))
        raise AssertionError("unreachable")

    def _once(self, work: Callable[[_Tx], T], readonly: bool) -> T:
        store = self.store
        lock = None if readonly or self.postgres else store._write_lock
        if lock is not None and not lock.acquire(timeout=store._lock_timeout_s):
            raise TransientConflict("database is locked (by another writer of this process)")
        try:
            engine = store._read_engine if readonly else store.engine
            try:
                connection = engine.raw_connection()
            except Exception as error:
                raise TransientConflict(f"no database connection: {error}") from error
            try:
                return self._transaction(connection, work, readonly)
            finally:
                connection.close()
        finally:
            if lock is not None:
                lock.release()

    def _transaction(self, connection: Any, work: Callable[[_Tx], T], readonly: bool) -> T:
        cursor = connection.cursor()
        try:
            try:
                if not self.postgres:
                    cursor.execute("BEGIN DEFERRED" if readonly else "BEGIN IMMEDIATE")
                result = work(_Tx(cursor, self._sql, self.postgres))
            except BaseException as error:
                self._rollback(connection, cursor)
                if isinstance(error, Exception) and (_transient(error) or _lost_connection(error)):
                    raise TransientConflict(str(error)) from error
                raise
            # Not run again when the commit fails otherwise: whether it took effect is unknown.
            try:
                if self.postgres:
                    connection.commit()
                else:
                    cursor.execute("COMMIT")
            except Exception as error:
                if _transient(error):
                    self._rollback(connection, cursor)
                    raise TransientConflict(str(error)) from error
                raise
            return result
        finally:
            with contextlib.suppress(Exception):
                cursor.close()

    def _rollback(self, connection: Any, cursor: Any) -> None:
        try:
            if self.postgres:
                connection.rollback()
            elif connection.in_transaction:
                cursor.execute("ROLLBACK")
        except Exception:  # the connection is gone: the pool replaces it
            connection.invalidate()

    # -- entries -------------------------------------------------------------------------------------

    def append(self, entry: StoredEntry, *, deliver_to: Sequence[str] = (), now: datetime) -> bool:
        return self.append_all([(entry, deliver_to)], now=now)[0]

    def append_all(
        self,
        entries: Sequence[tuple[StoredEntry, Sequence[str]]],
        *,
        now: datetime,
        delivered: Collection[str] = (),
        done: Sequence[int] = (),
        evidence: Mapping[str, str] | None = None,
    ) -> list[bool]:
        if not entries:
            return []

        def work(tx: _Tx) -> list[bool]:
            fresh = self._append_all(tx, entries, now, delivered)
            if done:
                tx.run("delivered", (to_us(now), tx.seq(list(done))))
            if evidence:
                holders = {e.holder for e, _ in entries}
                for holder in holders:
                    wanted = {e.hash for e, _ in entries if e.holder == holder and e.hash in evidence}
                    if not wanted:
                        continue
                    held = {r[0] for r in tx.rows("evidence_held", (holder, tx.seq(sorted(wanted))))}
                    rows = [(holder, h, evidence[h]) for h in sorted(wanted - held)]
                    if rows:
                        tx.many("evidence_insert", rows)
            return fresh

        return self._run(work)

    def _append_all(
        self,
        tx: _Tx,
        items: Sequence[tuple[StoredEntry, Sequence[str]]],
        now: datetime,
        delivered: Collection[str],
    ) -> list[bool]:
        """Each item in order: the positions they take are read at once (per author), the new
        entries and their outbox rows inserted at once."""
        seqs: dict[tuple[str, str], set[int]] = {}
        for entry, _ in items:
            seqs.setdefault((entry.holder, entry.author), set()).add(entry.seq)
        taken: dict[tuple[str, str, int], str] = {}
        for (holder, author), wanted in seqs.items():
            if len(wanted) == 1:
                (seq,) = wanted
                row = tx.one("position", (holder, author, seq))
                if row is not None:
                    taken[(holder, author, seq)] = row[0]
                continue
            for seq, hash_ in tx.rows("positions", (holder, author, tx.seq(sorted(wanted)))):
                taken[(holder, author, seq)] = hash_
        fresh: list[bool] = []
        rows: list[tuple[Any, ...]] = []
        outbox: list[tuple[Any, ...]] = []
        now_us = to_us(now)
        for entry, deliver_to in items:
            position = (entry.holder, entry.author, entry.seq)
            held = taken.get(position)
            if held == entry.hash:
                fresh.append(False)
                continue
            if held is not None:
                raise _fork(entry.author, entry.seq, held, entry.hash)
            taken[position] = entry.hash
            fresh.append(True)
            rows.append(_entry_row(entry))
            done = now_us if entry.hash in delivered else None
            outbox += [(entry.holder, r, entry.hash, now_us, now_us, done) for r in sorted(set(deliver_to))]
        try:
            if rows:
                tx.many("insert_entry", rows)
        except _Unique as error:
            # Another writer took a position meanwhile (PostgreSQL): run again, which reads the
            # positions again and names a fork (or finds the same entries held).
            raise TransientConflict(f"line entries written meanwhile: {error}") from error
        if outbox:
            tx.many("insert_outbox", outbox)
        return fresh

    def get(self, holder: str, entry_hash: str) -> StoredEntry | None:
        row = self._run(lambda tx: tx.one("get", (holder, entry_hash)), readonly=True)
        return _entry(row) if row is not None else None

    def get_all(self, holder: str, hashes: Sequence[str]) -> dict[str, StoredEntry]:
        if not hashes:
            return {}
        rows = self._run(lambda tx: tx.rows("get_many", (holder, tx.seq(sorted(set(hashes))))), readonly=True)
        return {row[1]: _entry(row) for row in rows}

    def held(self, holder: str, hashes: Sequence[str]) -> set[str]:
        if not hashes:
            return set()
        rows = self._run(lambda tx: tx.rows("held", (holder, tx.seq(sorted(set(hashes))))), readonly=True)
        return {row[0] for row in rows}

    def head(self, holder: str, author: str) -> StoredEntry | None:
        row = self._run(lambda tx: tx.one("head", (holder, author)), readonly=True)
        return _entry(row) if row is not None else None

    def thread(self, holder: str, thread: str) -> list[StoredEntry]:
        rows = self._run(lambda tx: tx.rows("thread", (holder, thread)), readonly=True)
        return [_entry(r) for r in rows]

    def threads_entries(self, holder: str, threads: Sequence[str]) -> dict[str, list[StoredEntry]]:
        found: dict[str, list[StoredEntry]] = {t: [] for t in threads}
        if not threads:
            return found
        rows = self._run(lambda tx: tx.rows("threads_entries", (holder, tx.seq(list(found)))), readonly=True)
        for row in rows:
            found[row[5]].append(_entry(row))
        return found

    def entries(
        self, holder: str, *, author: str | None = None, limit: int | None = None
    ) -> list[StoredEntry]:
        params: tuple[Any, ...]
        if author is not None:  # one author's chain, by seq
            name, params = (
                ("chain", (holder, author)) if limit is None else ("chain_limit", (holder, author, limit))
            )
        else:  # the order the holder stored them: an answer always after what it answers
            name, params = ("entries", (holder,)) if limit is None else ("entries_limit", (holder, limit))
        rows = self._run(lambda tx: tx.rows(name, params), readonly=True)
        return [_entry(r) for r in rows]

    def threads(self, holder: str, *, limit: int = 1000) -> list[str]:
        rows = self._run(lambda tx: tx.rows("threads", (holder, limit)), readonly=True)
        return [r[0] for r in rows]

    def threads_due(self, holder: str, now: datetime, *, since: datetime | None = None) -> list[str]:
        params: tuple[Any, ...]
        if since is None:
            name, params = "threads_due", (holder, to_us(now))
        else:
            name, params = "threads_due_since", (holder, to_us(now), to_us(since))
        rows = self._run(lambda tx: tx.rows(name, params), readonly=True)
        return [r[0] for r in rows]

    def count(self, holder: str) -> int:
        return int(self._run(lambda tx: tx.one("count", (holder,))[0], readonly=True))

    def evidence(self, holder: str, hashes: Sequence[str]) -> dict[str, str]:
        if not hashes:
            return {}
        rows = self._run(lambda tx: tx.rows("evidence", (holder, tx.seq(sorted(set(hashes))))), readonly=True)
        return {r[0]: r[1] for r in rows}

    # -- watches -------------------------------------------------------------------------------------

    def save_watch(self, holder: str, thread: str, state: str, *, active: bool, now: datetime) -> None:
        values = (state, active, to_us(now), holder, thread)

        def work(tx: _Tx) -> None:
            if tx.run("watch_update", values) == 0:
                tx.run("watch_insert", values)

        self._retry_unique(work)

    def watch(self, holder: str, thread: str) -> tuple[str, bool] | None:
        row = self._run(lambda tx: tx.one("watch", (holder, thread)), readonly=True)
        return (row[0], bool(row[1])) if row is not None else None

    def active_watches(self, holder: str) -> list[tuple[str, str]]:
        rows = self._run(lambda tx: tx.rows("watches_active", (holder, True)), readonly=True)
        return [(r[0], r[1]) for r in rows]

    # -- outbox --------------------------------------------------------------------------------------

    def due_entries(self, holder: str, now: datetime, *, limit: int = 100) -> list[tuple[OutboxItem, str]]:
        now_us = to_us(now)
        rows = self._run(lambda tx: tx.rows("due", (holder, now_us, holder, now_us, limit)), readonly=True)
        return [(_outbox(r), r[8]) for r in rows]

    def due(self, holder: str, now: datetime, *, limit: int = 100) -> list[OutboxItem]:
        return [item for item, _ in self.due_entries(holder, now, limit=limit)]

    def mark_delivered(self, item: OutboxItem, now: datetime) -> None:
        self.mark_all_delivered([item], now)

    def mark_all_delivered(self, items: Sequence[OutboxItem], now: datetime) -> None:
        if items:
            seqs = [i.seq for i in items]
            self._run(lambda tx: tx.run("delivered", (to_us(now), tx.seq(seqs))))

    def undeliver(self, holder: str, hashes: Sequence[str], *, now: datetime | None = None) -> None:
        if hashes:
            next_us = to_us(now) if now is not None else 0
            self._run(lambda tx: tx.run("undeliver", (next_us, holder, tx.seq(sorted(set(hashes))))))

    def mark_failed(self, item: OutboxItem, next_attempt_at: datetime, error: str) -> None:
        self.mark_all_failed([item], next_attempt_at, error)

    def mark_all_failed(self, items: Sequence[OutboxItem], next_attempt_at: datetime, error: str) -> None:
        if items:
            seqs = [i.seq for i in items]
            self._run(lambda tx: tx.run("failed", (to_us(next_attempt_at), error[:500], tx.seq(seqs))))

    def pending(self, holder: str) -> int:
        return int(self._run(lambda tx: tx.one("pending", (holder,))[0], readonly=True))

    # -- pinned keys ---------------------------------------------------------------------------------

    def pins(self, holder: str, party: str) -> list[Pin]:
        rows = self._run(lambda tx: tx.rows("pins", (holder, party)), readonly=True)
        return [Pin(r[0], r[1], r[2], from_us(r[3]), json.loads(r[4]) if r[4] else None) for r in rows]

    def pin(self, pin: Pin) -> None:
        def work(tx: _Tx) -> None:
            if tx.one("pinned", (pin.holder, pin.party, pin.key_id)) is None:
                proof = _dumps(pin.proof) if pin.proof is not None else None
                tx.run("pin", (pin.holder, pin.party, pin.key_id, to_us(pin.pinned_at), proof))

        self._retry_unique(work)

    def _retry_unique(self, work: Callable[[_Tx], None]) -> None:
        """A write that checks then inserts: a concurrent writer's insert in between is a lost race."""

        def guarded(tx: _Tx) -> None:
            try:
                work(tx)
            except _Unique as error:
                raise TransientConflict(str(error)) from error

        self._run(guarded)

    # -- the shared service --------------------------------------------------------------------------

    def register(self, registration: Registration) -> None:
        values = (
            registration.key_id,
            registration.base_url,
            registration.display_name,
            to_us(registration.registered_at),
            _dumps(registration.keys),
            registration.party,
        )

        def work(tx: _Tx) -> None:
            if tx.run("register_update", values) == 0:
                tx.run("register_insert", values)

        self._retry_unique(work)

    @staticmethod
    def _registration(row: Sequence[Any]) -> Registration:
        return Registration(row[0], row[1], row[2], row[3], from_us(row[4]), json.loads(row[5]))

    def registration(self, party: str) -> Registration | None:
        row = self._run(lambda tx: tx.one("registration", (party,)), readonly=True)
        return self._registration(row) if row is not None else None

    def registrations(self) -> list[Registration]:
        rows = self._run(lambda tx: tx.rows("registrations", ()), readonly=True)
        return [self._registration(r) for r in rows]

    @staticmethod
    def _witnessed(row: Sequence[Any]) -> WitnessedHead:
        return WitnessedHead(row[0], row[1], row[2], from_us(row[3]), json.loads(row[4]))

    def witness(self, head: WitnessedHead) -> WitnessedHead:
        def work(tx: _Tx) -> WitnessedHead | tuple[str, WitnessedHead]:
            row = tx.one("witnessed_at", (head.party, head.seq))
            if row is None:
                tx.run(
                    "witness_insert",
                    (head.party, head.seq, head.head, to_us(head.at), _dumps(head.countersignature)),
                )
                return head
            held = self._witnessed(row)
            if held.head != head.head:
                tx.run("fork_insert", (head.party, head.seq, held.head, head.head, to_us(head.at)))
                return ("fork", held)
            return held

        def guarded(tx: _Tx) -> WitnessedHead | tuple[str, WitnessedHead]:
            try:
                return work(tx)
            except _Unique as error:  # witnessed meanwhile by another process: read it again
                raise TransientConflict(str(error)) from error

        result = self._run(guarded)
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
        rows = self._run(lambda tx: tx.rows("witnessed", (party, from_seq)), readonly=True)
        return [self._witnessed(r) for r in rows]

    def forks(self) -> list[dict[str, Any]]:
        rows = self._run(lambda tx: tx.rows("forks", ()), readonly=True)
        return [
            {"party": r[0], "seq": r[1], "head": r[2], "other_head": r[3], "reported_at": from_us(r[4])}
            for r in rows
        ]
