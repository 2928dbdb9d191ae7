"""Transcripts: what a party exports of the line, and their offline verification.

A transcript is one JSON document::

    {"format": "parley-line-transcript/1",
     "party": "RED",                          # who exported it
     "exported_at": "2017-05-03T12:00:00.000000Z",
     "keys": {"RED": [genesis, rotation, ...], "BLUE": [...], ...},   # key entries, per party
     "entries": [entry, ...],                 # every other entry the party holds, in the order it stored them
     "witness": [countersignature, ...]}      # the shared service's countersignatures of chain heads

:func:`verify_transcript` checks it with nothing else and stops at the first defect:

1. the document's shape, and every entry strictly (:meth:`Entry.from_json`);
2. each party's key history: the genesis key entry at seq 1 signed by the key it introduces, each
   rotation signed by the key valid before it;
3. every signature, with the key valid at that point of its author's chain;
4. every chain link where both entries are held; the exporter's own chain must be whole (1..n), a
   peer's may have gaps (entries it addressed to others); within ``entries`` each chain in ``seq``
   order and every entry after the one it answers;
5. no replay (an entry twice, a thread id reused by another request) and no fork (two entries at
   one (party, seq));
6. every cross-reference (``answers`` names the request of its thread, present) and the life cycle
   (:mod:`parley.line.lifecycle`): who may take which step, deadlines against entry times, late marks;
7. witness countersignatures: valid signatures, optionally by a trusted witness key, matching the
   entry held at that (party, seq) (else a fork), and none beyond the end of the exporter's chain
   (else its last entries were dropped).

The report carries a readable timeline and, when something is wrong, the first defect naming the
entry (``PARTY#seq (sha256:prefix)``) and what is wrong. Each request ends final (accepted,
declined, countered, withdrawn), expired, or still open; the report lists the open ones.

Signatures are checked in batches (:mod:`parley.line.ed25519`) on a thread of their own while the
entries are parsed, so that a second core checks them meanwhile; the rest is one linear pass.
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import heapq
import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from parley.line import ed25519
from parley.line.chain import check_link
from parley.line.entry import Entry, Kind, public_raw
from parley.line.errors import InvalidEntry, LineError
from parley.line.lifecycle import Thread
from parley.line.shapes import members
from parley.line.times import format_time, parse_time
from parley.line.witness import Countersignature

FORMAT = "parley-line-transcript/1"
TOP = ("format", "party", "exported_at", "keys", "entries", "witness")
#: Members a transcript may also have.
OPTIONAL_TOP = ("evidence",)

#: One parsed entry and whether its signature verifies with the key it names, or the parse error.
Parsed = tuple[Entry, bool] | str
#: Entries parsed between two hand-overs to the signature thread.
CHUNK = 2_000


def export(
    party: str,
    exported_at: str | datetime,
    entries: Iterable[Entry],
    witness: Iterable[Countersignature] = (),
    evidence: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The transcript of ``party``: key entries go under ``keys``, the others keep their order
    except where :func:`causal_order` must move them (a peer's entries received out of order);
    ``evidence``: what certificates and alarms commit to (their track samples), by entry hash."""
    keys: dict[str, list[dict[str, Any]]] = {}
    others: list[Entry] = []
    for entry in entries:
        if entry.kind is Kind.KEY:
            keys.setdefault(entry.party, []).append(entry.to_json())
        else:
            others.append(entry)
    rest = [entry.to_json() for entry in causal_order(others)]
    for history in keys.values():
        history.sort(key=lambda e: e["seq"])
    return {
        "format": FORMAT,
        "party": party,
        "exported_at": format_time(exported_at) if isinstance(exported_at, datetime) else exported_at,
        "keys": keys,
        "entries": rest,
        "witness": [w.to_json() for w in witness],
        **({"evidence": dict(evidence)} if evidence else {}),
    }


def load_transcript(path: Path) -> object:
    """The JSON document in ``path`` (msgspec's decoder: a transcript of 100,000 entries is some
    60 MB). :class:`OSError` when it cannot be read, :class:`InvalidEntry` when it is not JSON."""
    data = path.read_bytes()
    try:
        with _collector_paused():
            return msgspec.json.decode(data)
    except msgspec.DecodeError as error:
        raise InvalidEntry(f"not a JSON document: {error}") from None


def causal_order(entries: Sequence[Entry]) -> list[Entry]:
    """``entries`` in the order given, except that each author's entries come in ``seq`` order and
    every entry after the one it answers (when present): the order a transcript's ``entries`` must
    have. The order a node stored them in may differ: a peer's outbox retries, or two of its
    processes delivering at once, can bring its entries out of their chain order.

    A stable topological sort (Kahn's, the earliest given first); the constraints follow the hashes
    entries carry, so they have no cycle (if forged ones had, the rest keep the given order).

    >>> from parley.line.keys import PartyKey
    >>> from parley.line.chain import ChainHead, append, genesis
    >>> key = PartyKey.generate()
    >>> first = genesis("RED", key, at="2017-05-03T06:00:00.000000Z")
    >>> a = append(ChainHead.of(first), key, at="2017-05-03T06:01:00.000000Z", kind=Kind.WITHDRAW,
    ...            thread="6f1c1e7e-4a3b-4c2d-9e8f-0a1b2c3d4e5f", answers="sha256:" + "0" * 64, body={})
    >>> b = append(ChainHead.of(a), key, at="2017-05-03T06:02:00.000000Z", kind=Kind.WITHDRAW,
    ...            thread="6f1c1e7e-4a3b-4c2d-9e8f-0a1b2c3d4e5f", answers="sha256:" + "0" * 64, body={})
    >>> [e.seq for e in causal_order([b, a])]
    [2, 3]
    """
    position = {entry.hash: i for i, entry in enumerate(entries)}
    after: list[list[int]] = [[] for _ in entries]
    waiting = [0] * len(entries)
    chains: dict[str, list[int]] = {}
    for i, entry in enumerate(entries):
        chains.setdefault(entry.party, []).append(i)
        answered = position.get(entry.answers) if entry.answers is not None else None
        if answered is not None and answered != i:
            after[answered].append(i)
            waiting[i] += 1
    for chain in chains.values():
        chain.sort(key=lambda i: entries[i].seq)
        for before, later in itertools.pairwise(chain):
            after[before].append(later)
            waiting[later] += 1
    ready = [i for i, n in enumerate(waiting) if n == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for j in after[i]:
            waiting[j] -= 1
            if waiting[j] == 0:
                heapq.heappush(ready, j)
    if len(order) < len(entries):  # a cycle (forged entries): the rest as given
        placed = set(order)
        order += [i for i in range(len(entries)) if i not in placed]
    return [entries[i] for i in order]


@dataclass(frozen=True, slots=True)
class Defect:
    """The first thing found wrong: ``entry`` names it (``PARTY#seq (sha256:...)`` or a position in
    the document); ``message`` says what is wrong."""

    entry: str
    message: str

    def __str__(self) -> str:
        return self.message if self.message.startswith(self.entry) else f"{self.entry}: {self.message}"


@dataclass(frozen=True, slots=True)
class Report:
    """The outcome of :func:`verify_transcript`. Its readable :attr:`timeline` is written when
    asked for, from the entries the linear pass went through."""

    party: str | None
    defect: Defect | None
    #: Each entry the linear pass went through, in order, with the request of its thread.
    steps: tuple[tuple[Entry, Entry | None], ...] = ()
    threads: Mapping[str, Thread] = field(default_factory=dict)
    entries: int = 0
    witness_keys: frozenset[str] = frozenset()
    #: When the transcript was exported (None when the document did not say, readably).
    exported_at: datetime | None = None
    #: Each clearance certificate checked offline: (entry, outcome, reasons); outcome ``verified``,
    #: ``failed`` or ``not checked`` (no samples in the transcript: held by the two parties only).
    certificates: tuple[tuple[Entry, str, tuple[str, ...]], ...] = ()

    @property
    def timeline(self) -> tuple[str, ...]:
        """One line per entry (time, author and position, what it records), then, when nothing is
        wrong, one per request with where each recipient stands."""
        lines = [f"{e.at}  {e.party}#{e.seq}  {_summary(e, request)}" for e, request in self.steps]
        if self.defect is None:
            for thread in self.threads.values():
                legs = ", ".join(
                    f"{r} {leg.status.value}{' (late)' * leg.late}" for r, leg in thread.legs.items()
                )
                overdue = (
                    " — deadline passed, no expiry recorded"
                    if thread.open_legs
                    and self.exported_at is not None
                    and self.exported_at > thread.deadline
                    else ""
                )
                lines.append(f"thread {thread.id} {thread.type.value} from {thread.sender}: {legs}{overdue}")
            for entry, outcome, reasons in self.certificates:
                why = f": {'; '.join(reasons[:5])}" if reasons else ""
                lines.append(
                    f"certificate {entry.short} (thread {entry.thread}) checked offline: {outcome}{why}"
                )
        return tuple(lines)

    @property
    def ok(self) -> bool:
        return self.defect is None

    @property
    def open_threads(self) -> tuple[Thread, ...]:
        """Requests some recipient of which has neither answered nor let expire."""
        return tuple(t for t in self.threads.values() if t.open_legs)

    def lines(self) -> Iterator[str]:
        """The timeline, then the outcome."""
        yield from self.timeline
        yield self.outcome

    @property
    def outcome(self) -> str:
        """One line: ``OK: ...`` with the counts, or ``DEFECT: ...`` naming the entry."""
        if self.defect is None:
            return f"OK: {self.entries} entries, {len(self.threads)} requests, {len(self.open_threads)} still open"
        return f"DEFECT: {self.defect}"


class _Defective(Exception):
    def __init__(self, where: str, message: str) -> None:
        super().__init__(message)
        self.defect = Defect(where, message)


def _parse(raw: object) -> Entry | str:
    try:
        return Entry.from_json(raw)
    except LineError as error:
        return error.message


def _signature_items(entries: Sequence[Entry | str]) -> list[tuple[bytes, bytes, bytes]]:
    """What :func:`~parley.line.ed25519.verify_many` checks of each parsed entry (an impossible
    triple for a parse error or an undecodable key: it then fails, and is not looked at)."""
    items = []
    for entry in entries:
        try:
            if isinstance(entry, Entry):
                items.append((public_raw(entry.key), entry.signature, entry.signed))
                continue
        except LineError:
            pass
        items.append((b"", b"", b""))
    return items


def parse_all(raws: Sequence[Any], *, chunk: int = CHUNK) -> list[Parsed]:
    """Parse ``raws`` and check each signature against the key it names: the signatures of each
    chunk are checked in one batch on another thread (the C code lets go of the interpreter, so a
    second core does it) while the next chunk is parsed here.

    (Worker processes were tried: on two cores the entries' transfer and the copies on write of a
    forked heap cost more than they saved.)"""
    parsed: list[Entry | str] = []
    pending: list[Future[list[bool]]] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="line-signatures") as signatures:
        for start in range(0, len(raws), chunk):
            part = [_parse(raw) for raw in raws[start : start + chunk]]
            parsed += part
            items = _signature_items(part)
            pending.append(signatures.submit(ed25519.verify_many, items, batch=max(1, len(items))))
        valid = [ok for future in pending for ok in future.result()]
    return [p if isinstance(p, str) else (p, ok) for p, ok in zip(parsed, valid, strict=True)]


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off meanwhile: a transcript is some hundred thousand objects
    made at once, and each collection would walk all of those held so far (verifying 100,000
    entries took a third longer with it running)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _name(raw: object, where: str) -> str:
    if isinstance(raw, dict) and isinstance(raw.get("party"), str) and isinstance(raw.get("seq"), int):
        return f"{raw['party']}#{raw['seq']} ({where})"
    return where


def _summary(entry: Entry, request: Entry | None) -> str:
    body = entry.body
    kind = entry.kind
    if kind is Kind.KEY:
        return f"key {body['public'][:20]}... {body.get('name', '')}".rstrip()
    if kind is Kind.REQUEST:
        return f"request {body['type']} to {', '.join(entry.to)}: {body['subject']!r}, deadline {body['deadline']}"
    what: str = _KIND_TEXT[kind] + (" (late)" if body.get("late") is True else "")
    if kind is Kind.DECLINE:
        what += f": {body['reason']!r}"
    elif kind is Kind.ACCEPT and "conditions" in body:
        what += f" with conditions {body['conditions']!r}"
    elif kind is Kind.EXPIRED:
        what += f" — no answer from {body['recipient']}"
    elif kind is Kind.CERTIFICATE:
        aircraft = body.get("aircraft", [])
        what += f": {len(aircraft)} aircraft clear at {body.get('clear_at')}"
    elif kind is Kind.VERDICT:
        what += f" on {body['recipient']}'s certificate: {body['outcome']}"
        if body.get("reasons"):
            what += f" ({'; '.join(body['reasons'][:3])})"
    elif kind is Kind.ALARM:
        what += f" {body['type']}: {', '.join(body['aircraft'])} ({body['recipient']})"
    elif kind is Kind.WAIVER:
        ref, n, m = body["ref"], len(body["conflicts"]), len(body["unchecked"])
        what += f" {ref['kind']} {ref['id']}: {n} protection conflict(s), {m} unchecked: {body['reason']!r}"
    if request is None:
        return what
    return f"{what} {request.body['type']} {request.party}#{request.seq}"


_KIND_TEXT = {k: str(k.value) for k in Kind}


class _Verifier:
    def __init__(self, doc: Mapping[str, Any], trusted: frozenset[str] | None) -> None:
        self.doc = doc
        self.trusted = trusted
        self.exporter: str = doc["party"]
        self.steps: list[tuple[Entry, Entry | None]] = []
        self.threads: dict[str, Thread] = {}
        self.positions: dict[tuple[str, int], Entry] = {}
        self.by_hash: dict[str, Entry] = {}
        self.keys: dict[str, tuple[list[int], list[str]]] = {}
        self.seen: set[str] = set()
        self.last_seq: dict[str, int] = {}
        #: Key rotations (seq > 1) of each party, waiting for their place in the linear pass.
        self.rotations: dict[str, list[int]] = {}

    def key_at(self, entry: Entry) -> str:
        """The key valid for ``entry``: the latest key entry strictly before it in its chain (its own
        key for the genesis)."""
        seqs, publics = self.keys[entry.party]
        i = bisect.bisect_left(seqs, entry.seq)
        return publics[i - 1] if i else entry.body["public"]

    def hold(self, entry: Entry, where: str) -> None:
        position = (entry.party, entry.seq)
        held = self.positions.get(position)
        if held is not None:
            if held.hash == entry.hash:
                raise _Defective(
                    entry.short, f"{entry.short}: replayed: the same entry appears twice ({where})"
                )
            raise _Defective(
                entry.short,
                f"{entry.short}: fork: another entry at {entry.party}#{entry.seq} ({held.hash[:15]}), {where}",
            )
        if entry.hash in self.by_hash:
            raise _Defective(entry.short, f"{entry.short}: replayed: the same entry appears twice ({where})")
        self.positions[position] = entry
        self.by_hash[entry.hash] = entry

    def check_signed(self, entry: Entry, sig_ok: bool, where: str) -> None:
        name = f"{entry.short} at {where}"
        if entry.party not in self.keys:
            raise _Defective(name, f"{name}: key: no key history for party {entry.party}")
        expected = self.key_at(entry)
        if entry.key != expected:
            raise _Defective(
                name, f"{name}: key: signed by {entry.key[:20]}..., the key valid there is {expected[:20]}..."
            )
        if not sig_ok:
            raise _Defective(name, f"{name}: sig: does not verify with {entry.key[:20]}...")

    def check_position(self, entry: Entry) -> None:
        last = self.last_seq.get(entry.party, 0)
        if entry.seq <= last:
            raise _Defective(
                entry.short,
                f"{entry.short}: order: comes after {entry.party}#{last} in the transcript (reordered)",
            )
        previous = self.positions.get((entry.party, entry.seq - 1))
        if previous is None and entry.seq > 1 and entry.party == self.exporter:
            raise _Defective(
                entry.short,
                f"{entry.short}: prev: {entry.party}#{entry.seq - 1} is missing from its own chain",
            )
        if previous is not None:
            try:
                check_link(previous, entry)
            except LineError as error:
                raise _Defective(entry.short, error.message) from None
        self.last_seq[entry.party] = entry.seq

    def check_thread(self, entry: Entry) -> Thread | None:
        thread_id = entry.thread
        if entry.kind is Kind.WAIVER:  # on its author's chain, in no thread
            return None
        if entry.kind is Kind.REQUEST:
            assert thread_id is not None
            if thread_id in self.threads:
                first = self.threads[thread_id].request
                raise _Defective(
                    entry.short, f"{entry.short}: replayed: thread {thread_id} was opened by {first.short}"
                )
            thread = Thread.open(entry)
        else:
            assert entry.answers is not None and thread_id is not None
            if entry.answers not in self.seen:
                where = (
                    "comes later in the transcript (reordered)"
                    if entry.answers in self.by_hash
                    else "is not in the transcript"
                )
                raise _Defective(entry.short, f"{entry.short}: answers: {entry.answers[:15]} {where}")
            current = self.threads.get(thread_id)
            if current is None:
                raise _Defective(
                    entry.short, f"{entry.short}: thread: {thread_id} has no request in the transcript"
                )
            try:
                thread = current.apply(entry)
            except LineError as error:
                raise _Defective(entry.short, error.message) from None
        self.threads[thread.id] = thread
        return thread

    def run(
        self,
        parsed_keys: list[tuple[str, str, Any, Parsed]],
        parsed: list[tuple[str, Any, Parsed]],
        marks: list[Countersignature],
    ) -> None:
        """Check the transcript; raise :class:`_Defective` at the first defect, in this order: the
        key histories; each entry on its own (parsed, signed with the key valid there, held once);
        the witness's countersignatures; the linear pass in transcript order (chain links,
        cross-references, life cycles, the timeline); the exporter's whole chain."""
        self.check_keys(parsed_keys)
        for where, raw, result in parsed:
            if isinstance(result, str):
                raise _Defective(_name(raw, where), result)
            entry, sig_ok = result
            if entry.kind is Kind.KEY:
                raise _Defective(entry.short, f"{entry.short}: key entries belong under keys ({where})")
            self.check_signed(entry, sig_ok, where)
            self.hold(entry, where)
        self.check_witness(marks)
        self.start_linear(parsed_keys)
        for _, _, result in parsed:
            assert not isinstance(result, str)
            self.linear(result[0])
        self.finish_linear()

    def check_keys(self, parsed_keys: list[tuple[str, str, Any, Parsed]]) -> None:
        for party, where, raw, result in parsed_keys:
            if isinstance(result, str):
                raise _Defective(_name(raw, where), result)
            entry, sig_ok = result
            name = f"{entry.short} at {where}"
            if entry.party != party or entry.kind is not Kind.KEY:
                raise _Defective(name, f"{name}: holds only {party}'s key entries")
            seqs, publics = self.keys.setdefault(party, ([], []))
            if seqs and entry.seq <= seqs[-1]:
                raise _Defective(name, f"{name}: key entries out of order (reordered)")
            if not seqs and entry.seq != 1:
                raise _Defective(name, f"{name}: the history starts with the genesis (seq 1)")
            self.check_signed(entry, sig_ok, where)
            seqs.append(entry.seq)
            publics.append(entry.body["public"])
            self.hold(entry, where)

    def start_linear(self, parsed_keys: list[tuple[str, str, Any, Parsed]]) -> None:
        """The linear pass begins with each party's genesis; its rotations wait for their place."""
        self.rotations = {p: [s for s in seqs if s > 1] for p, (seqs, _) in self.keys.items()}
        for _, _, _, result in parsed_keys:
            assert not isinstance(result, str)
            first = result[0]
            if first.seq == 1:
                self.seen.add(first.hash)
                self.last_seq[first.party] = 1
                self.steps.append((first, None))

    def linear(self, entry: Entry) -> None:
        """One entry's step of the linear pass (after the key rotations before it in its chain)."""
        pending = self.rotations.get(entry.party)
        while pending and pending[0] < entry.seq:  # key rotations take their place in the chain
            self.rotation(pending.pop(0), entry.party)
        self.check_position(entry)
        thread = self.check_thread(entry)
        self.seen.add(entry.hash)
        self.steps.append((entry, thread.request if thread is not None else None))

    def rotation(self, seq: int, party: str) -> None:
        rotation = self.positions[(party, seq)]
        self.check_position(rotation)
        self.seen.add(rotation.hash)
        self.steps.append((rotation, None))

    def finish_linear(self) -> None:
        for party, pending in self.rotations.items():
            for seq in pending:
                self.rotation(seq, party)
        # The exporter's chain must be whole.
        own = sorted(seq for party, seq in self.positions if party == self.exporter)
        if not own:
            raise _Defective(
                self.exporter, f"party: the transcript holds no entry of its exporter {self.exporter}"
            )
        if own != list(range(1, own[-1] + 1)):
            gap = next(i for i, seq in enumerate(own, 1) if seq != i)
            raise _Defective(
                f"{self.exporter}#{gap}", f"{self.exporter}#{gap}: missing from the exporter's own chain"
            )

    def check_witness(self, marks: list[Countersignature]) -> None:
        own_end = max((seq for party, seq in self.positions if party == self.exporter), default=0)
        for i, mark in enumerate(marks):
            where = f"witness[{i}] {mark.party}#{mark.seq}"
            if not mark.verify():
                raise _Defective(
                    where,
                    f"{where}: sig: the countersignature does not verify with {mark.witness_key[:20]}...",
                )
            if self.trusted is not None and mark.witness_key not in self.trusted:
                raise _Defective(
                    where, f"{where}: witness_key: {mark.witness_key[:20]}... is not a trusted witness"
                )
            held = self.positions.get((mark.party, mark.seq))
            if held is not None and held.hash != mark.head:
                raise _Defective(
                    held.short,
                    f"{held.short}: fork: the witness countersigned {mark.head[:15]} at {mark.party}#{mark.seq} at {mark.at}",
                )
            if mark.party == self.exporter and mark.seq > own_end:
                raise _Defective(
                    where,
                    f"{where}: the witness countersigned {mark.party}#{mark.seq} at {mark.at}, "
                    f"but the exporter's chain ends at #{own_end} (entries dropped)",
                )


def verify_transcript(
    doc: object,
    *,
    trusted_witness_keys: Iterable[str] | None = None,
    chunk: int = CHUNK,
) -> Report:
    """Verify a transcript offline; see the module for what is checked. Never raises for a bad
    document: the report says what is wrong.

    ``trusted_witness_keys``: when given, countersignatures by other keys are defects.
    ``chunk``: entries parsed between two hand-overs to the signature thread.
    """
    with _collector_paused():
        return _verify(doc, trusted_witness_keys=trusted_witness_keys, chunk=chunk)


def _verify(doc: object, *, trusted_witness_keys: Iterable[str] | None, chunk: int) -> Report:
    trusted = frozenset(trusted_witness_keys) if trusted_witness_keys is not None else None
    try:
        top = members(doc, "transcript", set(TOP), set(OPTIONAL_TOP))
        if top["format"] != FORMAT:
            raise InvalidEntry(f"format: expected {FORMAT!r}")
        if not isinstance(top["party"], str):
            raise InvalidEntry("party: expected the exporter's party id")
        parse_time(top["exported_at"], "exported_at")
        keys, raw_entries, raw_witness = top["keys"], top["entries"], top["witness"]
        if not isinstance(keys, dict) or not all(isinstance(v, list) for v in keys.values()):
            raise InvalidEntry("keys: expected an object of lists of key entries")
        if not isinstance(raw_entries, list) or not isinstance(raw_witness, list):
            raise InvalidEntry("entries, witness: expected lists")
        marks = [Countersignature.from_json(w, f"witness[{i}]") for i, w in enumerate(raw_witness)]
    except LineError as error:
        return Report(None, Defect("transcript", error.message), ())
    key_raws = [
        (party, f"keys.{party}[{i}]", raw) for party, history in keys.items() for i, raw in enumerate(history)
    ]
    everything: list[Any] = [raw for _, _, raw in key_raws] + list(raw_entries)
    results = parse_all(everything, chunk=chunk)
    parsed_keys = [
        (p, w, raw, res) for (p, w, raw), res in zip(key_raws, results[: len(key_raws)], strict=True)
    ]
    parsed = [
        (f"entries[{i}]", raw, res)
        for i, (raw, res) in enumerate(zip(raw_entries, results[len(key_raws) :], strict=True))
    ]
    verifier = _Verifier(top, trusted)
    certificates: tuple[tuple[Entry, str, tuple[str, ...]], ...] = ()
    try:
        verifier.run(parsed_keys, parsed, marks)
        certificates = _certificates(verifier, top.get("evidence"))
    except _Defective as found:
        return Report(
            top["party"], found.defect, tuple(verifier.steps), dict(verifier.threads), len(verifier.seen)
        )
    return Report(
        top["party"],
        None,
        tuple(verifier.steps),
        dict(verifier.threads),
        len(verifier.seen),
        frozenset(m.witness_key for m in marks),
        parse_time(top["exported_at"], "exported_at"),
        certificates,
    )


def _certificates(verifier: _Verifier, evidence: object) -> tuple[tuple[Entry, str, tuple[str, ...]], ...]:
    """Check every clearance certificate of the transcript offline against its request (the zone,
    the deadline, the aircraft the acceptance named) and the samples the transcript holds for it
    (:func:`parley.compliance.judge.judge`, without anyone's own surveillance). A defect when a
    verdict recorded in the transcript says ``verified`` of a certificate that fails here, or when a
    certificate with its samples fails and no failed verdict on it is recorded."""
    found = [e for e in verifier.by_hash.values() if e.kind is Kind.CERTIFICATE]
    if not found:
        return ()
    if evidence is not None and not isinstance(evidence, dict):
        raise _Defective("transcript", "evidence: expected an object of samples by entry hash")
    from parley.compliance.judge import judge  # numpy, shapely, PROJ: only when there is one

    held: dict[str, Any] = evidence or {}
    verdicts: dict[str, list[str]] = {}
    for entry in verifier.by_hash.values():
        if entry.kind is Kind.VERDICT:
            verdicts.setdefault(entry.body["certificate"], []).append(entry.body["outcome"])
    out = []
    for cert in found:
        thread = verifier.threads[cert.thread or ""]
        leg = thread.legs[cert.party]
        accept = verifier.by_hash.get(leg.answer or "")
        shared = held.get(cert.hash)
        if shared is None:
            out.append((cert, "not checked", ("no samples in the transcript",)))
            continue
        body = judge(thread, cert, accept=None if accept is None else accept.body, evidence=shared)
        outcome, reasons = body["outcome"], tuple(body.get("reasons", ()))
        recorded = verdicts.get(cert.hash, [])
        if outcome == "failed" and any(v != "failed" for v in recorded):
            raise _Defective(
                cert.short,
                f"{cert.short}: certificate: judged {recorded[0]}, but fails offline: {'; '.join(reasons[:3])}",
            )
        if outcome == "failed" and not recorded:
            raise _Defective(
                cert.short, f"{cert.short}: certificate: fails offline: {'; '.join(reasons[:3])}"
            )
        out.append((cert, "verified" if outcome != "failed" else "failed", reasons))
    return tuple(out)
