"""A log entry: one signed step on the line (a key, a request, a receipt, an answer, an expiry).

An entry is a JSON object with exactly these members (RFC 8785 canonical form when signed or hashed):

=========  ===========================================================================================
``v``      1, the format version
``party``  the author's party id
``seq``    position in the author's own chain, 1, 2, 3, ...
``prev``   the hash of the author's entry ``seq - 1``; ``null`` for ``seq`` 1
``at``     when the author signed it (its own clock), ``YYYY-MM-DDTHH:MM:SS.ffffffZ``
``kind``   key | request | delivered | read | accept | decline | counter | withdraw | expired |
           certificate | verdict | alarm | waiver
``thread`` the request's id (a lowercase UUID), carried by every entry of its thread; ``null`` for keys
           and waivers
``answers`` the hash of the request entry this entry belongs to; ``null`` for requests, keys and waivers
``to``     the recipients' party ids (requests only; ``[]`` otherwise)
``body``   kind-specific, see :mod:`parley.line.bodies`
``key``    the signer's key id (``ed25519:`` + base64url public key)
``sig``    base64url Ed25519 signature over ``canonical(entry without "sig")``
=========  ===========================================================================================

The entry's **hash** is ``sha256:`` + hex SHA-256 of ``canonical(entry)`` (``sig`` included).

Limits (an entry beyond them is refused with :class:`~parley.line.errors.InvalidEntry`):
:data:`MAX_ENTRY_BYTES` of canonical JSON, :data:`MAX_VERTICES` positions in all its shapes,
:data:`MAX_RECIPIENTS` recipients, and the text lengths of :mod:`parley.line.bodies`.

>>> from parley.line.keys import PartyKey
>>> key = PartyKey.generate()
>>> genesis = sign(party="RED", seq=1, prev=None, at="2017-05-03T06:00:00.000000Z", kind=Kind.KEY,
...                body={"public": key.key_id, "name": "Red forces"}, key=key)
>>> genesis.hash.startswith("sha256:"), verify_entry(genesis, key.key_id)
(True, None)
>>> Entry.from_json({**genesis.to_json(), "seq": 2})
Traceback (most recent call last):
...
parley.line.errors.InvalidEntry: prev: null only at seq 1
"""

from __future__ import annotations

import binascii
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import field
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any

import msgspec

from parley.domain.errors import InvalidInput
from parley.line import ed25519
from parley.line.bodies import KEY_ID, PARTY_ID, check_body, key_id, party_id
from parley.line.canonical import DIGEST_PREFIX, canonical
from parley.line.errors import BadSignature, InvalidEntry
from parley.line.keys import KEY_ID_PREFIX, PartyKey, from_b64url
from parley.line.times import parse_time
from parley.line.values import hot_value

#: Format version written in ``v``.
VERSION = 1
#: Largest entry, in bytes of its canonical form (signature included).
MAX_ENTRY_BYTES = 64 * 1024
#: Most positions in all the shapes (volumes, routes) of one entry.
MAX_VERTICES = 10_000
#: Most recipients of one request.
MAX_RECIPIENTS = 32

FIELDS = ("answers", "at", "body", "key", "kind", "party", "prev", "seq", "sig", "thread", "to", "v")
_FIELD_SET = frozenset(FIELDS)
DIGEST = re.compile(re.escape(DIGEST_PREFIX) + r"[0-9a-f]{64}")
SIGNATURE = re.compile(r"[A-Za-z0-9_-]{86}")
_SIGNATURE = SIGNATURE.fullmatch


class Kind(StrEnum):
    KEY = "key"
    REQUEST = "request"
    DELIVERED = "delivered"
    READ = "read"
    ACCEPT = "accept"
    DECLINE = "decline"
    COUNTER = "counter"
    WITHDRAW = "withdraw"
    EXPIRED = "expired"
    #: The obligor's proof that its aircraft left (or stayed out of) an accepted vacate/hold_clear.
    CERTIFICATE = "certificate"
    #: The requester's check of a certificate.
    VERDICT = "verdict"
    #: An accepted obligation not kept: overdue at the deadline, or a re-entry during a hold.
    ALARM = "alarm"
    #: A planner went on despite a protected site or movement (or without the check): the reason,
    #: on its own chain, in no thread (:mod:`parley.protection`).
    WAIVER = "waiver"


#: Kinds written by a request's recipients, and the answers among them.
RECIPIENT_KINDS = frozenset({Kind.DELIVERED, Kind.READ, Kind.ACCEPT, Kind.DECLINE, Kind.COUNTER})
ANSWER_KINDS = frozenset({Kind.ACCEPT, Kind.DECLINE, Kind.COUNTER})


def _digest(value: object, name: str, *, nullable: bool) -> str | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str) or not DIGEST.fullmatch(value):
        raise InvalidEntry(f"{name}: expected 'sha256:' and 64 lowercase hex digits")
    return value


@lru_cache(maxsize=4096)
def public_raw(key: str) -> bytes:
    """The 32 bytes of the public key a key id names; :class:`InvalidEntry` when it names none."""
    try:
        raw = from_b64url(key.removeprefix(KEY_ID_PREFIX), what="key")
    except InvalidInput as error:
        raise InvalidEntry(f"key: {error.message}") from None
    if len(raw) != 32:
        raise InvalidEntry("key: an Ed25519 public key is 32 bytes")
    return raw


@hot_value(eq=False)
class Entry:
    """A checked entry. Build with :meth:`from_json` or :func:`sign`, never field by field.

    Equality and hashing follow :attr:`hash` (the digest of the whole signed entry).
    """

    party: str
    seq: int
    prev: str | None
    at: str
    kind: Kind
    thread: str | None
    answers: str | None
    to: tuple[str, ...]
    body: Mapping[str, Any]
    key: str
    sig: str
    #: ``sha256:<hex>`` of the canonical entry, ``sig`` included.
    hash: str = field(repr=False)
    #: The canonical bytes the signature covers.
    signed: bytes = field(repr=False)
    #: The canonical bytes of the whole entry, ``sig`` included (what :attr:`hash` digests).
    raw: bytes = field(repr=False)
    #: :attr:`at` as an aware UTC datetime.
    time: datetime = field(repr=False)
    v: int = VERSION

    @classmethod
    def from_json(cls, obj: object) -> Entry:
        """Check ``obj`` strictly (members, types, formats, limits) and build the entry.

        Signatures are not checked here (see :func:`verify_entry`): the key valid for an entry
        depends on its author's chain.
        """
        if type(obj) is not dict:
            raise InvalidEntry("entry: expected an object")
        if obj.keys() != _FIELD_SET:
            if unknown := sorted(set(obj) - _FIELD_SET):
                raise InvalidEntry(f"entry: unknown member {', '.join(map(str, unknown))}")
            raise InvalidEntry(f"entry: missing {', '.join(f for f in FIELDS if f not in obj)}")
        sig = obj["sig"]
        if type(sig) is not str or not _SIGNATURE(sig):
            raise InvalidEntry("sig: expected 86 base64url characters (a 64-byte Ed25519 signature)")
        return _build(_check_unsigned(obj), sig)

    def to_json(self) -> dict[str, Any]:
        """The entry as a JSON object (a fresh dict; the body is shared, do not mutate it)."""
        return {**self.unsigned_json(), "sig": self.sig}

    def unsigned_json(self) -> dict[str, Any]:
        return {
            "v": self.v,
            "party": self.party,
            "seq": self.seq,
            "prev": self.prev,
            "at": self.at,
            "kind": self.kind.value,
            "thread": self.thread,
            "answers": self.answers,
            "to": list(self.to),
            "body": self.body,
            "key": self.key,
        }

    def signing_bytes(self) -> bytes:
        """``canonical(entry without "sig")``: what the signature covers."""
        return self.signed

    @property
    def late(self) -> bool:
        return self.body.get("late") is True

    @property
    def short(self) -> str:
        """``PARTY#seq (sha256:0123abcd)``: how reports name an entry."""
        return f"{self.party}#{self.seq} ({self.hash[:15]})"

    def signature_ok(self) -> bool:
        """Whether :attr:`sig` is the signature of the key the entry names over its signing bytes
        (RFC 8032, see :mod:`parley.line.ed25519`)."""
        try:
            return ed25519.verify(public_raw(self.key), self.signature, self.signed)
        except (InvalidEntry, InvalidInput):
            return False

    @property
    def signature(self) -> bytes:
        """The 64 bytes of :attr:`sig` (86 base64url characters, checked when built)."""
        return binascii.a2b_base64(self.sig.encode("ascii").translate(_FROM_URLSAFE) + b"==")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Entry) and other.hash == self.hash

    def __hash__(self) -> int:
        return hash(self.hash)


class _Checked:
    """The members of an entry but ``sig``, checked (see :func:`_check_unsigned`)."""

    __slots__ = ("answers", "at", "body", "key", "kind", "party", "prev", "seq", "thread", "time", "to")

    def __init__(
        self,
        party: str,
        seq: int,
        prev: str | None,
        at: str,
        time: datetime,
        kind: Kind,
        thread: str | None,
        answers: str | None,
        to: list[str],
        body: dict[str, Any],
        key: str,
    ) -> None:
        self.party, self.seq, self.prev, self.at, self.time = party, seq, prev, at, time
        self.kind, self.thread, self.answers, self.to, self.body, self.key = (
            kind,
            thread,
            answers,
            to,
            body,
            key,
        )


_KINDS = {k.value: k for k in Kind}
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")
_KIND_BYTES = {k: k.value.encode() for k in Kind}
_PARTY = PARTY_ID.fullmatch
_KEY = KEY_ID.fullmatch
_DIGEST = DIGEST.fullmatch
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").fullmatch
_MAX_SEQ = 2**53 - 1


def _check_unsigned(obj: Mapping[str, Any]) -> _Checked:
    """Check every member but ``sig`` (the first defect raised, naming the member)."""
    v = obj["v"]
    if v != VERSION or type(v) is not int:
        raise InvalidEntry(f"v: expected {VERSION}")
    party = obj["party"]
    if type(party) is not str or not _PARTY(party):
        party_id(party, "party")
    seq = obj["seq"]
    if type(seq) is not int or not 1 <= seq <= _MAX_SEQ:
        raise InvalidEntry("seq: expected an integer from 1")
    prev = obj["prev"]
    if seq == 1:
        if prev is not None:
            raise InvalidEntry("prev: must be null at seq 1")
    elif prev is None:
        raise InvalidEntry("prev: null only at seq 1")
    elif type(prev) is not str or not _DIGEST(prev):
        _digest(prev, "prev", nullable=False)
    at = obj["at"]
    time = parse_time(at, "at")
    kind_name = obj["kind"]
    kind = _KINDS.get(kind_name) if type(kind_name) is str else None
    if kind is None:
        raise InvalidEntry(f"kind: expected one of {', '.join(k.value for k in Kind)}")
    signer = obj["key"]
    if type(signer) is not str or not _KEY(signer):
        key_id(signer, "key")
    thread, answers, to, body = obj["thread"], obj["answers"], obj["to"], obj["body"]
    if type(to) is not list:
        raise InvalidEntry("to: expected a list of party ids")
    if kind is Kind.KEY or kind is Kind.WAIVER:
        if thread is not None or answers is not None or to:
            raise InvalidEntry(f"{kind.value} entries have thread null, answers null and to []")
        if seq == 1 and kind is Kind.WAIVER:
            raise InvalidEntry("seq: a chain starts with a key entry")
    else:
        if type(thread) is not str or not _UUID(thread):
            raise InvalidEntry("thread: expected a lowercase UUID")
        if seq == 1:
            raise InvalidEntry("seq: a chain starts with a key entry")
    if kind is Kind.REQUEST:
        if answers is not None:
            raise InvalidEntry("answers: null for a request")
        if not to:
            raise InvalidEntry("to: a request needs at least one recipient")
        if len(to) > MAX_RECIPIENTS:
            raise InvalidEntry(f"to: at most {MAX_RECIPIENTS} recipients")
        for i, recipient in enumerate(to):
            if type(recipient) is not str or not _PARTY(recipient):
                party_id(recipient, f"to[{i}]")
        if len(set(to)) != len(to) or party in to:
            raise InvalidEntry("to: recipients must be distinct and other than the author")
    elif kind is not Kind.KEY and kind is not Kind.WAIVER:
        if type(answers) is not str or not _DIGEST(answers):
            _digest(answers, "answers", nullable=False)
        if to:
            raise InvalidEntry("to: [] except for requests")
    vertices = check_body(kind_name, body)
    if vertices > MAX_VERTICES:
        raise InvalidEntry(f"body: {vertices} positions, more than the limit of {MAX_VERTICES}")
    if kind is Kind.REQUEST and not parse_time(body["deadline"], "body.deadline") > time:
        raise InvalidEntry("body.deadline: must be after the request's time (at)")
    if kind is Kind.KEY and (seq == 1) != (body["public"] == signer):
        raise InvalidEntry(
            "key: a genesis key entry (seq 1) is signed by the key it introduces, a rotation by the previous key"
        )
    return _Checked(party, seq, prev, at, time, kind, thread, answers, to, body, signer)


_ENCODE = msgspec.json.Encoder(order="sorted").encode
_DIGITS_AND_E = bytes.maketrans(b"123456789E", b"000000000e")
_CLOSERS = bytes.maketrans(b"]}", b",,")


def _maybe_not_es(text: bytes) -> bool:
    """Whether msgspec's output ``text`` shows a number RFC 8785 may write otherwise: an integral
    float (``35.0``, ``-0.0``) or an exponent (``1e16``, ``1e-7``). Strings that merely contain
    such signs cost a closer look. (Substring searches: a regular expression took 5 µs here.)"""
    if b".0," in text.translate(_CLOSERS):  # a float ending in .0 before , ] or }
        return True
    return b"0e" in text.translate(_DIGITS_AND_E)  # a digit before an exponent


class _NotPlain(Exception):
    """A float msgspec and ECMAScript may spell differently (left to the reference canonicalizer)."""


_EXACT = 2.0**53


def _es_numbers(value: Any) -> Any:
    """``value`` with each integral float below 2**53 an int (ECMAScript writes ``35.0`` as ``35``);
    raises :class:`_NotPlain` for a float ECMAScript and msgspec may write otherwise: integral from
    2**53 (ES writes the shortest digits then zeros), or below 1e-4 in magnitude (an exponent in one
    and not the other). Every non-integral double is below 2**53, where both write plain digits."""
    kind = type(value)
    if kind is float:
        magnitude = abs(value)
        if value.is_integer():
            if magnitude >= _EXACT:  # ECMAScript: the shortest digits, then zeros
                raise _NotPlain
            return int(value)
        if magnitude < 1e-4:
            raise _NotPlain
        return value
    if kind is dict:
        return {k: _es_numbers(v) for k, v in value.items()}
    if kind is list:
        return [_es_numbers(v) for v in value]
    return value


def canonical_body(body: Mapping[str, Any]) -> bytes:
    """``canonical(body)`` for a checked body, fast: its member names are ASCII and its numbers
    finite, so msgspec's sorted-key encoding is the RFC 8785 form (the same string escapes, the
    same shortest round-trip digits) wherever it writes plain digits; integral floats are written
    as integers, and anything else unusual goes to the reference implementation."""
    try:
        text = _ENCODE(body)
        if not _maybe_not_es(text):
            return text
        text = _ENCODE(_es_numbers(body))
        if not _maybe_not_es(text):
            return text
    except (_NotPlain, TypeError, ValueError, OverflowError, UnicodeEncodeError, msgspec.EncodeError):
        pass
    return canonical(body)  # an exponent, or a string that looks like one: the reference decides


#: The canonical entry (members in RFC 8785 order), its header values checked: strings of letters,
#: digits and ``:._-`` (no escapes), integers, null, lists of party ids.
_SIGNED = b'{"answers":%s,"at":"%s","body":%s,"key":"%s","kind":"%s","party":"%s","prev":%s,"seq":%d,"thread":%s,"to":[%s],"v":1}'
_WHOLE = b'{"answers":%s,"at":"%s","body":%s,"key":"%s","kind":"%s","party":"%s","prev":%s,"seq":%d,"sig":"%s","thread":%s,"to":[%s],"v":1}'


def _values(c: _Checked) -> tuple[bytes | int, ...]:
    """The canonical spelling of each member but ``sig``, in the order of :data:`_SIGNED`."""
    return (
        b"null" if c.answers is None else b'"' + c.answers.encode() + b'"',
        c.at.encode(),
        canonical_body(c.body),
        c.key.encode(),
        _KIND_BYTES[c.kind],
        c.party.encode(),
        b"null" if c.prev is None else b'"' + c.prev.encode() + b'"',
        c.seq,
        b"null" if c.thread is None else b'"' + c.thread.encode() + b'"',
        b",".join([b'"' + r.encode() + b'"' for r in c.to]),
    )


def _signing_bytes(c: _Checked) -> tuple[bytes, tuple[bytes | int, ...]]:
    """The bytes the signature covers, and the member values they are made of (for :func:`_build`)."""
    values = _values(c)
    return _SIGNED % values, values


#: Bytes of ``,"sig":"<86 characters>"`` in a canonical entry.
_SIG_MEMBER = len(',"sig":""') + 86


def _build(c: _Checked, sig: str, prepared: tuple[bytes, tuple[bytes | int, ...]] | None = None) -> Entry:
    if prepared is None:  # the signing bytes are the whole entry without its sig member
        values = _values(c)
        whole = _WHOLE % (*values[:8], sig.encode(), *values[8:])
        cut = whole.rfind(b',"sig":"')  # the top-level member: only thread, to and v follow it
        signed = whole[:cut] + whole[cut + _SIG_MEMBER :]
    else:
        signed, values = prepared
        whole = _WHOLE % (*values[:8], sig.encode(), *values[8:])
    if len(whole) > MAX_ENTRY_BYTES:
        raise InvalidEntry(
            f"entry: {len(whole)} bytes of canonical JSON, more than the limit of {MAX_ENTRY_BYTES}"
        )
    return Entry(
        c.party, c.seq, c.prev, c.at, c.kind, c.thread, c.answers, tuple(c.to), c.body, c.key, sig,
        DIGEST_PREFIX + hashlib.sha256(whole).hexdigest(), signed, whole, c.time,
    )  # fmt: skip


def sign(
    *,
    party: str,
    seq: int,
    prev: str | None,
    at: str | datetime,
    kind: Kind | str,
    body: Mapping[str, Any],
    key: PartyKey,
    thread: str | None = None,
    answers: str | None = None,
    to: Sequence[str] = (),
    signer: str | None = None,
) -> Entry:
    """Check the fields, sign them with ``key`` and return the entry.

    ``signer`` is the key id written in ``key`` (``key``'s own id unless given; a rotation names the
    previous key, which signs it).
    """
    from parley.line.times import format_time

    own = key.key_id
    fields = {
        "v": VERSION,
        "party": party,
        "seq": seq,
        "prev": prev,
        "at": format_time(at) if isinstance(at, datetime) else at,
        "kind": Kind(kind).value,
        "thread": thread,
        "answers": answers,
        "to": list(to),
        "body": json.loads(json.dumps(body)),
        "key": signer or own,
    }
    checked = _check_unsigned(fields)
    prepared = _signing_bytes(checked)
    entry = _build(checked, key.sign(prepared[0]), prepared)
    # The signature verifies exactly when the entry names the key that made it (a key id is its
    # public key): compared, not verified again (an Ed25519 verification costs three signatures).
    if entry.key != own:
        raise BadSignature(f"{entry.short}: key: signed with a key other than {entry.key}")
    return entry


def verify_entry(entry: Entry, public_key_id: str) -> None:
    """Raise :class:`BadSignature` unless ``entry`` names ``public_key_id`` and its signature verifies."""
    if entry.key != public_key_id:
        raise BadSignature(f"{entry.short}: key: signed by {entry.key}, expected {public_key_id}")
    if not entry.signature_ok():
        raise BadSignature(f"{entry.short}: sig: does not verify with {entry.key}")
