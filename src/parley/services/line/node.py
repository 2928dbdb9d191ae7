"""A party node on the line: its chain, its requests and answers, receipts, expiries, the outbox and
the witness.

Every step the party takes is an entry appended to its own chain (signed with its key, carrying the
hash of its previous entry) and, in the same transaction, queued for the parties that must receive it;
the outbox then delivers it, retrying until the peer has it (the peer stores an entry once, by hash, so
a retry is harmless). An entry from a peer is verified against the peer's pinned key before it is
stored: first contact pins the key the shared registry gives; a later key must come with a rotation
signed by the pinned key, else the entry is refused and a warning raised. A request received is
answered at once with a signed ``delivered`` receipt (returned in the HTTP answer, and queued too).
After its own entries the node submits its chain head to the witness: at once after a quiet spell,
then at most every :data:`WITNESS_INTERVAL_S` (a burst is countersigned by its latest head, which
covers every entry before it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from parley.clients.line import DirectoryClient, LinePeerClient
from parley.clients.utm import CallFailed
from parley.domain.errors import InvalidInput, NotFound, ParleyError, PermissionDenied
from parley.line.bodies import party_id
from parley.line.chain import ChainHead, genesis, rotate
from parley.line.chain import append as chain_append
from parley.line.entry import DIGEST, Entry, Kind, verify_entry
from parley.line.errors import ForkDetected, InvalidEntry, LineError, TransitionRefused
from parley.line.keys import PartyKey
from parley.line.lifecycle import Leg, Role, Status, Thread
from parley.line.times import format_time, parse_time
from parley.line.witness import Countersignature
from parley.ports.clock import Clock
from parley.ports.line import LineRepository, OutboxItem, Pin, StoredEntry, WitnessedHead
from parley.ports.repositories import TransientConflict
from parley.services.line.directory import head_signing_bytes, key_history
from parley.services.line.events import EventHub

log = logging.getLogger("parley.line")

Json = dict[str, Any]

#: Longest pause between two delivery attempts to a peer that is down by default, seconds.
MAX_BACKOFF_S = 60.0
#: Entries delivered per call to a peer.
BATCH = 100
#: Shortest pause between two submissions of the node's head to the witness, seconds.
WITNESS_INTERVAL_S = 1.0
#: The answers proper, marked ``late`` when signed after the deadline.
_ANSWERS = (Kind.ACCEPT, Kind.DECLINE, Kind.COUNTER)


#: Tries to append to the node's own chain while other processes of the node append too.
APPEND_ATTEMPTS = 200
#: Kinds whose entries travel with evidence (the track samples they commit to).
EVIDENCED = frozenset({Kind.CERTIFICATE, Kind.ALARM})
#: Their kinds as written in an entry's canonical text.
_EVIDENCED_TEXT = tuple(f'"kind":"{k.value}"' for k in EVIDENCED)


def _evidenced(text: str) -> bool:
    return any(marker in text for marker in _EVIDENCED_TEXT)


#: Most bytes of evidence accepted with one entry.
MAX_EVIDENCE_BYTES = 4 * 1024 * 1024
#: Entries a node keeps parsed in memory (see :meth:`LineNode.entry`).
PARSED_CACHE = 20_000


async def _back_off(attempt: int) -> None:
    """A short jittered pause before signing again on a position another process took."""
    await asyncio.sleep(random.uniform(0.0, 0.001 * min(attempt + 1, 20)))


class KeyNotTrusted(LineError, PermissionDenied):
    """An entry signed with a key the node has not pinned for its author (HTTP 403)."""


@dataclass
class LineNode:
    """One party's line: who it is, its key, its store and the services it talks to."""

    party: str
    name: str
    key: PartyKey
    repo: LineRepository
    clock: Clock
    base_url: str
    directory: DirectoryClient
    peers: LinePeerClient
    events: EventHub = field(default_factory=EventHub)
    #: Longest pause between two delivery attempts to a peer that is down, seconds.
    max_backoff_s: float = MAX_BACKOFF_S
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _registered: bool = False
    #: Key histories of the parties this node trusts: (seq of the key entry, key id), in order.
    _key_history: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    #: Where the key lives (rotations replace it), and the file's mtime when it was read.
    key_file: Path | None = None
    _key_mtime: int = 0
    #: Threads past their deadline with nothing left for this side to record.
    _settled: set[str] = field(default_factory=set)
    #: The highest position of its own chain the witness has countersigned (as far as this process knows).
    _witnessed_seq: int = 0
    #: When the head was last submitted to the witness (``time.monotonic``).
    _witness_submitted: float = -math.inf
    #: When the outbox loop last looked for deadlines passed (``time.monotonic``).
    _expiry_swept: float = -math.inf
    _addresses: dict[str, str] = field(default_factory=dict)
    #: This process's idea of its chain's head (position and time), kept by the hot paths that
    #: append to it (requests, receipts): a stale one only costs an append refused as a fork (another
    #: process of the node took the position), after which the head is read again.
    _head: tuple[ChainHead, datetime] | None = None
    #: Requests queued for the next transaction of the node's chain (see :func:`send`).
    _requests: list[_Request] = field(default_factory=list)
    #: Entries this process signed or parsed lately, by hash: what it reads back from its store
    #: (threads, heads) is not parsed and checked again (a stored row's hash is its text's).
    _parsed: dict[str, Entry] = field(default_factory=dict)
    #: Called with each entry received from a peer once stored (e.g. the compliance service, for
    #: the certificates it must verify); must not block.
    listeners: list[Callable[[Entry], None]] = field(default_factory=list)

    def now(self) -> datetime:
        return self.clock.now()

    def stored(self, entry: Entry, *, received: datetime | None = None) -> StoredEntry:
        return StoredEntry(
            holder=self.party,
            hash=entry.hash,
            author=entry.party,
            seq=entry.seq,
            kind=entry.kind.value,
            thread=entry.thread,
            at=entry.time,
            text=entry.raw.decode(),
            received_at=received or self.now(),
            deadline=parse_time(entry.body["deadline"], "body.deadline")
            if entry.kind is Kind.REQUEST
            else None,
        )

    def wake_outbox(self) -> None:
        self._wake.set()

    def remember(self, entry: Entry) -> Entry:
        """Keep ``entry`` among the recently parsed (the oldest forgotten past :data:`PARSED_CACHE`)."""
        parsed = self._parsed
        parsed[entry.hash] = entry
        if len(parsed) > PARSED_CACHE:
            del parsed[next(iter(parsed))]
        return entry

    def entry(self, stored: StoredEntry) -> Entry:
        """The entry a stored row holds (parsed and checked unless seen lately)."""
        known = self._parsed.get(stored.hash)
        if known is not None:
            return known
        entry = Entry.from_json(stored.entry)
        if entry.hash != stored.hash:
            raise InvalidEntry(f"stored entry {stored.author}#{stored.seq}: its text does not match its hash")
        return self.remember(entry)


# -- the node's own chain -----------------------------------------------------------------------------


async def start(node: LineNode) -> Entry:
    """Make sure the chain has its genesis key entry; register with the shared service (retried by
    the housekeeping while the service cannot be reached). Returns the genesis entry."""
    async with node._lock:
        head = node.repo.head(node.party, node.party)
        if head is None:
            first = genesis(node.party, node.key, at=node.now(), name=node.name)
            try:
                node.repo.append(node.stored(first), now=node.now())
            except ForkDetected:  # another process of this node made it first
                first = node.entry(node.repo.entries(node.party, author=node.party, limit=1)[0])
        else:
            first = node.entry(node.repo.entries(node.party, author=node.party, limit=1)[0])
    if await ensure_registered(node):
        await submit_head(node)
    return first


def own_keys(node: LineNode) -> list[Entry]:
    return [
        node.entry(e) for e in node.repo.entries(node.party, author=node.party) if e.kind == Kind.KEY.value
    ]


async def ensure_registered(node: LineNode) -> bool:
    if node._registered:
        return True
    try:
        await node.directory.register(
            {
                "party": node.party,
                "name": node.name,
                "base_url": node.base_url,
                "keys": [k.to_json() for k in own_keys(node)],
            }
        )
    except CallFailed as error:
        log.warning("not registered with the shared service yet: %s", error)
        return False
    node._registered = True
    return True


async def _append_own(
    node: LineNode,
    *,
    kind: Kind,
    body: Json,
    thread: str | None,
    answers: str | None,
    to: Sequence[str] = (),
    deliver_to: Sequence[str] = (),
    check: Thread | None = None,
    evidence: str | None = None,
) -> Entry:
    """Sign the next entry of the node's chain and store it with its deliveries, in one transaction;
    ``check``: the thread it must fit (refused before anything is stored); ``evidence``: the JSON
    text of the track samples a certificate or an alarm commits to, kept (and delivered) with it.

    The thread is read again after the head at each attempt: another process of this node may have
    moved it meanwhile (its outbox loop recording the same expiry, its receiver the same receipt),
    and the chain position is what orders the two (the loser signs again, and is refused then).
    An answer is marked ``late`` by its own signing time (which never goes back along the chain)."""
    async with node._lock:
        _reload_key_if_rotated(node)
        for attempt in range(APPEND_ATTEMPTS):
            stored = node.repo.head(node.party, node.party)
            if stored is None:
                raise InvalidInput("the line is not started (no key entry)")
            head = ChainHead(stored.author, stored.seq, stored.hash)
            at = max(node.now(), stored.at)  # never earlier than the previous entry
            if check is not None:
                check = thread_of(node, check.id)
                if kind in _ANSWERS:
                    body = {k: v for k, v in body.items() if k != "late"}
                    if at > check.deadline:
                        body["late"] = True
            entry = chain_append(
                head, node.key, at=at, kind=kind, body=body, thread=thread, answers=answers, to=to
            )
            if check is not None:
                try:
                    check.apply(entry)
                except TransitionRefused as error:  # name the step, not an entry that will not exist
                    raise TransitionRefused(error.message.removeprefix(f"{entry.short}: ")) from None
            try:
                node.repo.append_all(
                    [(node.stored(entry), deliver_to)],
                    now=node.now(),
                    evidence=None if evidence is None else {entry.hash: evidence},
                )
            except ForkDetected:  # another process of this node took the position: sign again
                await _back_off(attempt)
                continue
            break
        else:
            raise ForkDetected(f"{node.party}: could not append to its own chain (contention)")
        node._head = None  # moved here: read again by the next that needs it
    node.remember(entry)
    node.events.publish(_event("entry", entry, node.party))
    node.wake_outbox()  # the outbox loop delivers it, and submits the new head to the witness
    return entry


def _own_head(node: LineNode) -> tuple[ChainHead, datetime] | None:
    """The node's head as this process last knew it (read when it does not know)."""
    if node._head is None:
        stored = node.repo.head(node.party, node.party)
        if stored is None:
            return None
        node._head = ChainHead(stored.author, stored.seq, stored.hash), stored.at
    return node._head


def _reload_key_if_rotated(node: LineNode) -> None:
    """Another process of this node may have rotated the key: read the file again if it changed."""
    if node.key_file is None:
        return
    try:
        mtime = node.key_file.stat().st_mtime_ns
    except OSError:
        return
    if node._key_mtime and mtime != node._key_mtime:
        node.key = PartyKey.from_pem(node.key_file.read_bytes())
    node._key_mtime = mtime


async def rotate_key(node: LineNode) -> Entry:
    """Replace the party's key: a key entry introducing a new key, signed by the current one; the new
    key is written to the key file (the old one kept beside it, ``.retired-SEQ``), and the registry
    is given the longer history. Peers follow the rotation because the key they pinned signed it."""
    async with node._lock:
        _reload_key_if_rotated(node)
        stored = node.repo.head(node.party, node.party)
        if stored is None:
            raise InvalidInput("the line is not started (no key entry)")
        new = PartyKey.generate()
        entry = rotate(
            ChainHead(stored.author, stored.seq, stored.hash), node.key, new, at=max(node.now(), stored.at)
        )
        if node.key_file is not None:
            retired = node.key_file.with_name(f"{node.key_file.name}.retired-{entry.seq}")
            retired.write_bytes(node.key.to_pem())
            retired.chmod(0o600)
            tmp = node.key_file.with_name(f".{node.key_file.name}.{uuid.uuid4().hex}.tmp")
            tmp.write_bytes(new.to_pem())
            tmp.chmod(0o600)
            node.repo.append(node.stored(entry), now=node.now())
            os.replace(tmp, node.key_file)
            node._key_mtime = node.key_file.stat().st_mtime_ns
        else:
            node.repo.append(node.stored(entry), now=node.now())
        node.key = new
        node._head = None  # moved by the rotation
        node._registered = False
    node.events.publish(_event("key_change", entry, node.party))
    await ensure_registered(node)
    node.wake_outbox()
    return entry


def _event(kind: str, entry: Entry, holder: str) -> Json:
    return {
        "type": kind,
        "entry": entry.kind.value,
        "thread": entry.thread,
        "party": entry.party,
        "seq": entry.seq,
        "hash": entry.hash,
        "at": entry.at,
        "mine": entry.party == holder,
    }


async def submit_head(node: LineNode) -> Json | None:
    """Have the witness countersign the node's current head; keep the countersignature."""
    head = node.repo.head(node.party, node.party)
    if head is None or not await ensure_registered(node):
        return None
    body = {
        "party": node.party,
        "seq": head.seq,
        "head": head.hash,
        "sig": node.key.sign(head_signing_bytes(node.party, head.seq, head.hash)),
    }
    try:
        mark = await node.directory.witness(body)
    except CallFailed as error:
        if error.status == 409:
            node.events.publish(
                {"type": "fork", "party": node.party, "seq": head.seq, "message": error.message}
            )
            log.error("the witness reports a fork of this node's own chain: %s", error.message)
        else:
            log.warning("witness unreachable: %s", error)
        return None
    countersignature = Countersignature.from_json(mark)
    if not countersignature.verify() or countersignature.head != head.hash:
        log.error("the witness answered an invalid countersignature")
        return None
    node._witnessed_seq = max(node._witnessed_seq, head.seq)
    # The same table as the shared service's: co-located, the row is already there.
    with contextlib.suppress(ForkDetected):
        node.repo.witness(
            WitnessedHead(node.party, head.seq, head.hash, node.now(), countersignature.to_json())
        )
    return mark


# -- threads ---------------------------------------------------------------------------------------


def thread_of(node: LineNode, thread_id: str) -> Thread:
    """The thread as the entries the node holds make it."""
    return _thread_from(node, thread_id, node.repo.thread(node.party, thread_id))


def _thread_from(node: LineNode, thread_id: str, stored: Sequence[StoredEntry]) -> Thread:
    """The thread ``thread_id`` made of the entries of it held (:class:`NotFound` without its request)."""
    entries = [node.entry(e) for e in stored]
    requests = [e for e in entries if e.kind is Kind.REQUEST]
    if not requests:
        raise NotFound(f"no request {thread_id}")
    thread = Thread.open(requests[0])
    for entry in sorted(
        (e for e in entries if e.kind is not Kind.REQUEST), key=lambda e: (e.at, e.party, e.seq)
    ):
        try:
            thread = thread.apply(entry)
        except TransitionRefused as error:
            log.warning("entry held but out of order: %s", error)
    return thread


async def send(node: LineNode, *, to: Sequence[str], body: Json) -> Entry:
    """A new request from this party to ``to`` (each must be registered with the shared service)."""
    recipients = sorted(set(to))
    if not recipients or node.party in recipients:
        raise InvalidInput("to: one or more other parties are expected")
    for i, party in enumerate(to):
        party_id(party, f"to[{i}]")
    for party in recipients:
        await address_of(node, party)
    pending = _Request(body, str(uuid.uuid4()), recipients, asyncio.get_running_loop().create_future())
    node._requests.append(pending)
    try:
        await asyncio.sleep(0)  # the requests arriving with this one queue theirs: one transaction for all
        async with node._lock:
            if node._requests:
                await _append_requests(node)
    except BaseException:
        if pending in node._requests:
            node._requests.remove(pending)
        raise
    return pending.done.result()


@dataclass(eq=False)
class _Request:
    """A request waiting to be signed and stored (with the others queued meanwhile)."""

    body: Json
    thread: str
    to: list[str]
    done: asyncio.Future[Entry]


async def _append_requests(node: LineNode) -> None:
    """Under the node's lock: sign every queued request, one after the other on the node's chain,
    and store them with their deliveries in one transaction; each request's future gets its entry,
    or the error that refused it (a malformed request is refused alone)."""
    queued, node._requests = node._requests, []
    _reload_key_if_rotated(node)
    try:
        for attempt in range(APPEND_ATTEMPTS):
            known = _own_head(node)
            if known is None:
                raise InvalidInput("the line is not started (no key entry)")
            head, floor = known
            signed: list[tuple[_Request, Entry]] = []
            refused: list[tuple[_Request, Exception]] = []
            for request in queued:
                at = max(node.now(), floor)  # never earlier than the previous entry
                try:
                    entry = chain_append(
                        head, node.key, at=at, kind=Kind.REQUEST, body=request.body, thread=request.thread,
                        answers=None, to=request.to,
                    )  # fmt: skip
                except Exception as error:
                    refused.append((request, error))
                    continue
                signed.append((request, entry))
                head, floor = ChainHead.of(entry), at
            try:
                if signed:
                    items = [(node.stored(e), r.to) for r, e in signed]
                    node.repo.append_all(items, now=node.now())
            except ForkDetected:  # another process of this node took a position: sign again
                node._head = None
                await _back_off(attempt)
                continue
            node._head = head, floor
            break
        else:
            raise ForkDetected(f"{node.party}: could not append to its own chain (contention)")
    except Exception as error:
        for request in queued:
            request.done.set_exception(error)
        return
    for request, problem in refused:
        request.done.set_exception(problem)
    for request, entry in signed:
        node.remember(entry)
        request.done.set_result(entry)
        node.events.publish(_event("entry", entry, node.party))
    if signed:
        node.wake_outbox()  # the outbox loop delivers them, and submits the new head to the witness


async def answer(node: LineNode, thread_id: str, kind: Kind, body: Json) -> Entry:
    """This party's step in a thread: read, accept, decline, counter (as a recipient) or withdraw
    (as the sender). Late answers are marked late. Refused (409) when the life cycle forbids it."""
    thread = thread_of(node, thread_id)
    if kind is Kind.WITHDRAW:
        if node.party != thread.sender:
            raise PermissionDenied("only the sender may withdraw a request")
        deliver = list(thread.open_legs)
    else:
        if node.party not in thread.legs:
            raise PermissionDenied(f"{node.party!r} is not a recipient of this request")
        deliver = [thread.sender]
    return await _append_own(
        node,
        kind=kind,
        body=body,
        thread=thread.id,
        answers=thread.request.hash,
        deliver_to=deliver,
        check=thread,
    )


async def record(
    node: LineNode, thread_id: str, kind: Kind, body: Json, *, evidence: str | None = None
) -> Entry:
    """A step of an accepted obligation in ``thread_id``: a ``certificate`` or an ``alarm`` of the
    obligor (delivered to the requester), a ``verdict`` or an ``alarm`` of the requester (delivered to
    the obligor the body names); ``evidence``: the JSON text of the samples it commits to."""
    if kind not in (Kind.CERTIFICATE, Kind.VERDICT, Kind.ALARM):
        raise InvalidInput(f"{kind.value}: not a step of an obligation")
    thread = thread_of(node, thread_id)
    target = thread.sender if node.party != thread.sender else str(body.get("recipient", ""))
    return await _append_own(
        node,
        kind=kind,
        body=body,
        thread=thread.id,
        answers=thread.request.hash,
        deliver_to=[target],
        check=thread,
        evidence=evidence,
    )


async def expire_due(node: LineNode) -> int:
    """Record ``expired`` for every leg whose deadline passed unanswered (each side its own). Looks
    only at threads whose deadline has passed, and forgets each once nothing is left for this side."""
    count = 0
    for thread_id in node.repo.threads_due(node.party, node.now()):
        if thread_id in node._settled:
            continue
        thread = thread_of(node, thread_id)
        for recipient, leg in thread.legs.items():
            if not _needs_my_expiry(node, thread, recipient, leg):
                continue
            target = recipient if thread.sender == node.party else thread.sender
            try:
                await _append_own(
                    node,
                    kind=Kind.EXPIRED,
                    body={"recipient": recipient},
                    thread=thread.id,
                    answers=thread.request.hash,
                    deliver_to=[target],
                    check=thread,
                )
            except TransitionRefused:
                continue
            thread = thread_of(node, thread_id)
            count += 1
        if not any(_needs_my_expiry(node, thread, r, leg) for r, leg in thread.legs.items()):
            node._settled.add(thread_id)
    return count


def _needs_my_expiry(node: LineNode, thread: Thread, recipient: str, leg: Leg) -> bool:
    """Whether this side still has to record the expiry of ``recipient``'s leg."""
    mine = Role.SENDER if thread.sender == node.party else Role.RECIPIENT
    unanswered = leg.status in (Status.SENT, Status.DELIVERED, Status.READ) or (
        leg.status is Status.EXPIRED and mine not in leg.expired_by
    )
    if not unanswered:
        return False
    if mine is Role.SENDER:
        return True
    return recipient == node.party and leg.delivered


# -- receiving -------------------------------------------------------------------------------------


def _signer_at(history: Sequence[tuple[int, str]], seq: int) -> str | None:
    """The key valid for entry ``seq`` of a chain whose key entries are ``history`` ((seq, key id)
    in order): the key introduced by the last key entry before it (a rotation is itself signed by
    the key it retires)."""
    valid = None
    for introduced_at, key in history:
        if introduced_at < seq:
            valid = key
    return valid


async def trusted_key(node: LineNode, party: str, key_id: str, seq: int) -> None:
    """Make sure ``key_id`` is ``party``'s key for its entry ``seq``, by the key history pinned here:
    pinned on first contact from the registry, then extended only by rotations signed by the pinned
    key; :class:`KeyNotTrusted` otherwise (and a warning event)."""
    history = node._key_history.get(party)
    if history is not None and _signer_at(history, seq) == key_id:
        return
    pins = node.repo.pins(node.party, party)
    try:
        record = await node.directory.lookup(party)
    except CallFailed as error:
        raise KeyNotTrusted(
            f"cannot check {party!r}'s key {key_id}: the registry did not answer ({error})"
        ) from error
    keys = key_history(party, record.get("keys"))
    ids = [k.body["public"] for k in keys]
    now = node.now()
    if pins and pins[-1].key_id not in ids:
        node.events.publish(
            {
                "type": "warning",
                "party": party,
                "message": f"{party}'s registered keys no longer include the pinned key",
            }
        )
        raise KeyNotTrusted(
            f"{party!r} now shows keys not signed by its pinned key {pins[-1].key_id}: refused (possible impersonation)"
        )
    for k in keys:  # the key entries are part of the party's chain: held for transcripts
        with contextlib.suppress(ForkDetected):
            node.repo.append(node.stored(k), now=now)
    pinned = {p.key_id for p in pins}
    for k in keys:
        if k.body["public"] not in pinned:
            proof = {"entry": k.hash} if not pins else {"entry": k.hash, "signed_by": k.key}
            node.repo.pin(Pin(node.party, party, k.body["public"], now, proof))
            if pins:
                node.events.publish({"type": "key_change", "party": party, "key": k.body["public"]})
    history = [(k.seq, k.body["public"]) for k in keys]
    node._key_history[party] = history
    expected = _signer_at(history, seq)
    if expected != key_id:
        node.events.publish(
            {"type": "warning", "party": party, "message": f"entry {seq} signed with {key_id}, not its key"}
        )
        raise KeyNotTrusted(
            f"{key_id} is not a key of {party!r} for its entry {seq}"
            + (f" (that is {expected})" if expected else "")
        )


async def receive(
    node: LineNode,
    sender: str,
    entries: list[Any],
    *,
    done: Sequence[OutboxItem] = (),
    evidence: object = None,
) -> list[Entry]:
    """Entries from ``sender`` (their author): verify, check they concern this party and fit their
    thread, store; answer each request with a signed receipt, or the receipt signed already (a
    request delivered again: the answer to its first delivery may have been lost). Returns the
    receipts, which go back in the answer to the delivery: their outbox rows are written delivered.

    The entries are checked in order; a run of entries of distinct threads is stored with its
    receipts in one transaction. At the first defect, the entries before it are stored (with their
    receipts, whose outbox rows are then made due: the answer is an error, not the receipts) and the
    defect is raised.

    ``done``: this node's deliveries the entries answer (receipts in the answer to a delivery),
    marked delivered with the last run when every entry is taken, else left as they are.
    ``evidence``: what certificates and alarms among the entries commit to, by entry hash (kept with
    them; checked against their commitments by whoever relies on them)."""
    if not isinstance(entries, list) or not entries or len(entries) > BATCH:
        raise InvalidInput(f"entries: a list of 1 to {BATCH} entries is expected")
    texts = _evidence_texts(evidence)
    parsed: list[Entry] = []
    defect: Exception | None = None  # raised once the entries before it are stored
    for i, raw in enumerate(entries):
        try:
            parsed.append(Entry.from_json(raw))
        except LineError as error:
            defect = type(error)(f"entries[{i}]: {error.message}")
            break
    # What is held already was verified when stored: the same hash is the same bytes.
    held = node.repo.held(node.party, [e.hash for e in parsed])
    checked: list[Entry] = []
    for i, entry in enumerate(parsed):
        try:
            if entry.party != sender:
                raise PermissionDenied(f"entries[{i}]: written by {entry.party!r}, delivered by {sender!r}")
            await trusted_key(node, entry.party, entry.key, entry.seq)
            if entry.hash not in held:
                verify_entry(entry, entry.key)
        except Exception as error:
            defect = error
            break
        checked.append(entry)
    receipts: list[Entry] = []
    marked = not done
    try:
        runs = _runs(checked)
        for start, end in runs:
            last = defect is None and end == len(checked) and end == len(entries)
            async with node._lock:
                stored, answered, failure, took = await _store_run(
                    node,
                    checked[start:end],
                    offset=start,
                    held=held,
                    done=done if last else (),
                    evidence=texts,
                )
            marked = marked or took
            for entry in stored:
                node.events.publish(_event("entry", entry, node.party))
                if entry.party != node.party:
                    for listener in node.listeners:
                        listener(entry)
            receipts += answered
            if failure is not None:
                raise failure
        if defect is not None:
            raise defect
    except BaseException:
        if receipts:  # the answer is an error: the outbox delivers the receipts instead
            node.repo.undeliver(node.party, [r.hash for r in receipts])
            node.wake_outbox()
        raise
    if not marked:  # nothing new to store with them
        node.repo.mark_all_delivered(done, node.now())
    return receipts


def _runs(entries: Sequence[Entry]) -> list[tuple[int, int]]:
    """``entries`` cut into runs ``[start, end)`` in which no thread appears twice (each entry of a
    run is then checked against its thread as held before the run)."""
    runs: list[tuple[int, int]] = []
    start, seen = 0, set[str]()
    for k, entry in enumerate(entries):
        key = entry.thread or entry.hash
        if key in seen:
            runs.append((start, k))
            start, seen = k, set()
        seen.add(key)
    if start < len(entries):
        runs.append((start, len(entries)))
    return runs


def _evidence_texts(evidence: object) -> dict[str, str]:
    """Delivered evidence as JSON texts by entry hash; :class:`InvalidInput` when malformed."""
    if evidence is None:
        return {}
    if not isinstance(evidence, dict) or len(evidence) > BATCH:
        raise InvalidInput(
            f"evidence: an object of at most {BATCH} members (entry hash: samples) is expected"
        )
    texts: dict[str, str] = {}
    for digest_, value in evidence.items():
        if not isinstance(digest_, str) or not DIGEST.fullmatch(digest_):
            raise InvalidInput("evidence: members are named by entry hashes ('sha256:...')")
        if not isinstance(value, dict):
            raise InvalidInput(f"evidence.{digest_[:15]}: expected an object (samples by aircraft)")
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        if len(text) > MAX_EVIDENCE_BYTES:
            raise InvalidInput(f"evidence.{digest_[:15]}: larger than {MAX_EVIDENCE_BYTES} bytes")
        texts[digest_] = text
    return texts


async def _store_run(
    node: LineNode,
    run: list[Entry],
    *,
    offset: int,
    held: set[str],
    done: Sequence[OutboxItem] = (),
    evidence: Mapping[str, str] | None = None,
) -> tuple[list[Entry], list[Entry], Exception | None, bool]:
    """Under the node's lock: check ``run`` (entries of distinct threads; ``offset``: the first one's
    index in the delivery) against what the node holds, sign the receipts of its requests and store
    it all in one transaction (``held``: hashes known to be held already). Returns the entries
    stored (received and signed, in order), the receipts, the defect that cut the run short (what
    comes before it is stored), and whether ``done`` (this node's deliveries) was marked delivered
    in the same transaction (only for a whole run)."""
    _reload_key_if_rotated(node)
    cut: Exception | None = None
    for attempt in range(APPEND_ATTEMPTS):
        # The head first (as this process knows it): a receipt another process of this node signs
        # after that takes the position this run's first receipt would take (a fork, then all is
        # read again); what it stored before, the reads below see.
        head: ChainHead | None = None
        floor = node.now()
        if any(e.kind is Kind.REQUEST for e in run) and (known := _own_head(node)) is not None:
            head, floor = known
        # What is held of each thread tells which entries are held (an entry is held in its thread).
        threads = node.repo.threads_entries(node.party, sorted({e.thread for e in run if e.thread}))
        held = held | {s.hash for entries in threads.values() for s in entries}
        threadless = [e.hash for e in run if e.thread is None and e.hash not in held]
        held |= node.repo.held(node.party, threadless)
        items: list[tuple[StoredEntry, Sequence[str]]] = []
        order: list[Entry] = []
        signed: list[Entry] = []
        answered: list[Entry] = []  # the receipts to answer with: signed now, or already
        error: Exception | None = cut
        last = floor - timedelta(microseconds=1)

        def received() -> datetime:  # strictly increasing: the order the node stored them
            nonlocal last
            last = max(node.now(), last + timedelta(microseconds=1))
            return last

        for k, entry in enumerate(run):
            i = offset + k
            try:
                answer_to: Thread | None = None
                if entry.hash in held:  # delivered again: already stored
                    if entry.kind is not Kind.REQUEST:
                        continue
                    thread_held = threads.get(str(entry.thread), [])
                    receipt_held = next(
                        (s for s in thread_held if s.author == node.party and s.kind == Kind.DELIVERED.value),
                        None,
                    )
                    if receipt_held is not None:
                        answered.append(node.entry(receipt_held))
                        continue
                    answer_to = _thread_from(node, str(entry.thread), thread_held)
                elif entry.kind is Kind.REQUEST:
                    if node.party not in entry.to:
                        raise PermissionDenied(f"entries[{i}]: a request not addressed to {node.party!r}")
                    answer_to = Thread.open(entry)
                elif entry.kind is Kind.KEY:
                    raise InvalidInput(f"entries[{i}]: key entries are published through the registry")
                else:
                    if entry.thread is None:
                        raise InvalidInput(f"entries[{i}]: thread: missing")
                    _thread_from(node, entry.thread, threads.get(entry.thread, [])).apply(entry)
                if entry.hash not in held:
                    items.append((node.stored(entry, received=received()), ()))
                    order.append(entry)
                if answer_to is None:
                    continue
                if head is None:
                    raise InvalidInput("the line is not started (no key entry)")
                at = max(node.now(), floor)  # never earlier than the previous entry
                receipt = chain_append(
                    head,
                    node.key,
                    at=at,
                    kind=Kind.DELIVERED,
                    body={},
                    thread=entry.thread,
                    answers=entry.hash,
                )
                try:
                    answer_to.apply(receipt)
                except TransitionRefused:  # signed already
                    continue
                head, floor = ChainHead.of(receipt), at
                items.append((node.stored(receipt, received=received()), [entry.party]))
                order.append(receipt)
                signed.append(receipt)
                answered.append(receipt)
            except Exception as failure:
                error = failure
                break
        if not items:
            return [], answered, error, False
        mark = [d.seq for d in done] if error is None else []
        try:
            # The receipts go back in the answer to this delivery: their outbox rows are delivered.
            fresh = node.repo.append_all(
                items, now=node.now(), delivered={r.hash for r in signed}, done=mark, evidence=evidence
            )
        except ForkDetected as fork:
            position = (getattr(fork, "author", None), getattr(fork, "seq", None))
            if any((r.party, r.seq) == position for r in signed):
                node._head = None
                await _back_off(attempt)
                continue  # another process of this node took the position: check and sign again
            forked = next((k for k, e in enumerate(run) if (e.party, e.seq) == position), None)
            if forked is None:
                raise
            run, cut = run[:forked], fork  # store what comes before the fork, then report it
            continue
        if signed and head is not None:
            node._head = head, floor
        stored = [node.remember(e) for e, new in zip(order, fresh, strict=True) if new]
        return stored, answered, error, bool(mark)
    raise ForkDetected(f"{node.party}: could not append to its own chain (contention)")


# -- the outbox ------------------------------------------------------------------------------------


async def address_of(node: LineNode, party: str) -> str:
    if party not in node._addresses:
        try:
            record = await node.directory.lookup(party)
        except CallFailed as error:
            if error.status == 404:
                raise NotFound(f"unknown party {party!r}: not registered with the shared service") from error
            raise
        node._addresses[party] = str(record["base_url"])
    return node._addresses[party]


async def flush(node: LineNode) -> int:
    """Deliver what is due; returns how many entries were delivered.

    A delivery's answer carries the recipient's receipts for the requests in it: they are stored
    before the delivery is marked done (a crash in between delivers it again, and the recipient
    answers with the same receipts). Receipts refused for a reason that may pass (a key the
    registry could not confirm, a busy store) leave the delivery to be tried again; refused for good
    (they do not fit what this node holds), they are reported and the delivery is done."""
    delivered = 0
    due = node.repo.due_entries(node.party, node.now(), limit=500)
    by_recipient: dict[str, list[tuple[OutboxItem, str]]] = {}
    for item, text in due:
        by_recipient.setdefault(item.recipient, []).append((item, text))
    for recipient, pairs in by_recipient.items():
        for start in range(0, len(pairs), BATCH):
            chunk = pairs[start : start + BATCH]
            batch = [item for item, _ in chunk]
            try:
                url = await address_of(node, recipient)
                proving = [item.hash for item, text in chunk if _evidenced(text)]
                evidence = node.repo.evidence(node.party, proving) if proving else None
                answer_ = await node.peers.deliver_texts(url, [text for _, text in chunk], evidence)
                returned = answer_.get("receipts", []) if isinstance(answer_, dict) else []
                if returned:
                    try:
                        await receive(node, recipient, returned, done=batch)
                        delivered += len(batch)
                        continue  # stored with the receipts
                    except (KeyNotTrusted, TransientConflict):
                        raise
                    except ParleyError as refused:
                        log.warning("receipts from %s refused: %s", recipient, refused)
            except (CallFailed, NotFound, KeyNotTrusted, TransientConflict) as error:
                wait = min(node.max_backoff_s, 0.5 * 2 ** min(batch[0].attempts, 10))
                node.repo.mark_all_failed(batch, node.now() + timedelta(seconds=wait), str(error))
                log.info("delivery to %s deferred %.1f s: %s", recipient, wait, error)
                break
            node.repo.mark_all_delivered(batch, node.now())
            delivered += len(batch)
    return delivered


async def run(node: LineNode, *, idle_s: float = 1.0) -> None:
    """The node's line, forever: start it (genesis, registration), then deliver at once when woken,
    else every ``idle_s``, and expire overdue legs."""
    while True:
        try:
            await start(node)
            break
        except Exception:
            log.exception("line start")
            await asyncio.sleep(idle_s)
    await run_outbox(node, idle_s=idle_s)


async def run_outbox(node: LineNode, *, idle_s: float = 1.0) -> None:
    """Deliver forever: at once when woken, else every ``idle_s``; expire overdue legs (every
    ``idle_s``, busy or not); have the witness countersign the head (after the deliveries, at most
    every :data:`WITNESS_INTERVAL_S`)."""
    while True:
        timeout = idle_s
        registered = False
        try:
            registered = await ensure_registered(node)
            await flush(node)
            if time.monotonic() - node._expiry_swept >= idle_s:  # deadlines: as often as when idle
                node._expiry_swept = time.monotonic()
                await expire_due(node)
        except Exception:
            log.exception("line outbox")
        if registered:
            try:
                timeout = min(idle_s, await witness_due(node))
            except Exception:
                log.exception("line witness")
        timeout = max(0.0, min(timeout, node._expiry_swept + idle_s - time.monotonic()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(node._wake.wait(), timeout=timeout)
        node._wake.clear()


async def witness_due(node: LineNode) -> float:
    """Submit the head to the witness if it moved and the last submission is
    :data:`WITNESS_INTERVAL_S` old; returns the seconds until a submission may be due (``inf``:
    nothing waits)."""
    since = time.monotonic() - node._witness_submitted
    if since < WITNESS_INTERVAL_S:
        return WITNESS_INTERVAL_S - since
    head = node.repo.head(node.party, node.party)
    if head is not None and head.seq > node._witnessed_seq:
        node._witness_submitted = time.monotonic()
        await submit_head(node)
        return WITNESS_INTERVAL_S
    return math.inf


def format_now(node: LineNode) -> str:
    return format_time(node.now())


def export(node: LineNode) -> Json:
    """Every entry the node holds, the key histories, and its witnessed heads (a transcript)."""
    from parley.line.transcript import export as make_transcript

    entries = [node.entry(e) for e in node.repo.entries(node.party)]
    marks = [Countersignature.from_json(w.countersignature) for w in node.repo.witnessed(node.party)]
    proving = [e.hash for e in entries if e.kind in EVIDENCED]
    evidence = {h: json.loads(text) for h, text in node.repo.evidence(node.party, proving).items()}
    return make_transcript(node.party, node.now(), entries, marks, evidence)


def sent_json(node: LineNode, request: Entry) -> Json:
    """The thread a request just sent opens, as the operators' API shows it: the request alone (what
    the store holds of it at that moment), without reading it back."""
    return thread_json(node, Thread.open(request), entries=[request.to_json()])


def sent_json_bytes(node: LineNode, request: Entry) -> bytes:
    """:func:`sent_json` encoded, the request written as its canonical bytes (not encoded again)."""
    view = thread_json(node, Thread.open(request), entries=[])
    del view["request"], view["entries"]
    head = json.dumps(view, separators=(",", ":"), ensure_ascii=False).encode()
    return head[:-1] + b',"request":' + request.raw + b',"entries":[' + request.raw + b"]}"


def thread_json(node: LineNode, thread: Thread, *, entries: list[Json] | None = None) -> Json:
    """A thread as the operators' API shows it (``entries``: its entries as held, if known)."""
    if entries is None:
        entries = [e.entry for e in node.repo.thread(node.party, thread.id)]
    request = thread.request
    return {
        "id": thread.id,
        "type": thread.type.value,
        "sender": thread.sender,
        "to": list(request.to),
        "subject": request.body.get("subject"),
        "reason": request.body.get("reason"),
        "deadline": request.body.get("deadline"),
        "sent_at": request.at,
        "direction": "out" if thread.sender == node.party else "in",
        "legs": {
            r: {
                "status": leg.status.value,
                "late": leg.late,
                "delivered": leg.delivered,
                "read": leg.read,
                "answer": leg.answer,
                "conditions": leg.conditions,
                "certificate": leg.certificate,
                "verdict": leg.verdict,
                "alarms": list(leg.alarms),
            }
            for r, leg in thread.legs.items()
        },
        "obligations": [
            {
                "obligor": o.obligor,
                "beneficiary": o.beneficiary,
                "request": o.request,
                "acceptance": o.acceptance,
            }
            for o in thread.obligations()
        ],
        "request": request.to_json(),
        "entries": entries,
    }
