"""A log entry: one signed step on the line (a key, a request, a receipt, an answer, an expiry).

An entry is a JSON object with exactly these members (RFC 8785 canonical form when signed or hashed):

=========  ===========================================================================================
``v``      1, the format version
``party``  the author's party id
``seq``    position in the author's own chain, 1, 2, 3, ...
``prev``   the hash of the author's entry ``seq - 1``; ``null`` for ``seq`` 1
``at``     when the author signed it (its own clock), ``YYYY-MM-DDTHH:MM:SS.ffffffZ``
``kind``   key | request | delivered | read | accept | decline | counter | withdraw | expired
``thread`` the request's id (a lowercase UUID), carried by every entry of its thread; ``null`` for keys
``answers`` the hash of the request entry this entry belongs to; ``null`` for requests and keys
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

import hashlib
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from parley.line.bodies import check_body, key_id, party_id
from parley.line.canonical import DIGEST_PREFIX, canonical
from parley.line.errors import BadSignature, InvalidEntry
from parley.line.keys import PartyKey, from_b64url, public_key_of
from parley.line.times import parse_time

#: Format version written in ``v``.
VERSION = 1
#: Largest entry, in bytes of its canonical form (signature included).
MAX_ENTRY_BYTES = 64 * 1024
#: Most positions in all the shapes (volumes, routes) of one entry.
MAX_VERTICES = 10_000
#: Most recipients of one request.
MAX_RECIPIENTS = 32

FIELDS = ("answers", "at", "body", "key", "kind", "party", "prev", "seq", "sig", "thread", "to", "v")
DIGEST = re.compile(re.escape(DIGEST_PREFIX) + r"[0-9a-f]{64}")
SIGNATURE = re.compile(r"[A-Za-z0-9_-]{86}")


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


#: Kinds written by a request's recipients, and the answers among them.
RECIPIENT_KINDS = frozenset({Kind.DELIVERED, Kind.READ, Kind.ACCEPT, Kind.DECLINE, Kind.COUNTER})
ANSWER_KINDS = frozenset({Kind.ACCEPT, Kind.DECLINE, Kind.COUNTER})


def _digest(value: object, name: str, *, nullable: bool) -> str | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str) or not DIGEST.fullmatch(value):
        raise InvalidEntry(f"{name}: expected 'sha256:' and 64 lowercase hex digits")
    return value


def _thread(value: object) -> str:
    if isinstance(value, str):
        try:
            if str(uuid.UUID(value)) == value:
                return value
        except ValueError:
            pass
    raise InvalidEntry("thread: expected a lowercase UUID")


@lru_cache(maxsize=4096)
def _public(key: str) -> Ed25519PublicKey:
    return public_key_of(key)


@dataclass(frozen=True, slots=True, eq=False)
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
    v: int = VERSION

    @classmethod
    def from_json(cls, obj: object) -> Entry:
        """Check ``obj`` strictly (members, types, formats, limits) and build the entry.

        Signatures are not checked here (see :func:`verify_entry`): the key valid for an entry
        depends on its author's chain.
        """
        if not isinstance(obj, dict):
            raise InvalidEntry("entry: expected an object")
        if unknown := sorted(set(obj) - set(FIELDS)):
            raise InvalidEntry(f"entry: unknown member {', '.join(map(str, unknown))}")
        if missing := [f for f in FIELDS if f not in obj]:
            raise InvalidEntry(f"entry: missing {', '.join(missing)}")
        sig = obj["sig"]
        if not isinstance(sig, str) or not SIGNATURE.fullmatch(sig):
            raise InvalidEntry("sig: expected 86 base64url characters (a 64-byte Ed25519 signature)")
        unsigned = _check_unsigned(obj)
        return _build(unsigned, sig)

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
    def time(self) -> datetime:
        return parse_time(self.at, "at")

    @property
    def late(self) -> bool:
        return self.body.get("late") is True

    @property
    def short(self) -> str:
        """``PARTY#seq (sha256:0123abcd)``: how reports name an entry."""
        return f"{self.party}#{self.seq} ({self.hash[:15]})"

    def signature_ok(self) -> bool:
        """Whether :attr:`sig` is the signature of the key the entry names over its signing bytes."""
        try:
            _public(self.key).verify(from_b64url(self.sig, what="sig"), self.signed)
        except (InvalidSignature, InvalidEntry, ValueError):
            return False
        return True

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Entry) and other.hash == self.hash

    def __hash__(self) -> int:
        return hash(self.hash)


def _check_unsigned(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Check every member but ``sig``; returns them as a dict in canonical key order."""
    if obj["v"] != VERSION or isinstance(obj["v"], bool):
        raise InvalidEntry(f"v: expected {VERSION}")
    party = party_id(obj["party"], "party")
    seq = obj["seq"]
    if isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq <= 2**53 - 1:
        raise InvalidEntry("seq: expected an integer from 1")
    prev = obj["prev"]
    if seq == 1 and prev is not None:
        raise InvalidEntry("prev: must be null at seq 1")
    if seq > 1 and prev is None:
        raise InvalidEntry("prev: null only at seq 1")
    _digest(prev, "prev", nullable=True)
    at = parse_time(obj["at"], "at")
    try:
        kind = Kind(obj["kind"])
    except (ValueError, TypeError):
        raise InvalidEntry(f"kind: expected one of {', '.join(k.value for k in Kind)}") from None
    signer = key_id(obj["key"], "key")
    thread, answers, to, body = obj["thread"], obj["answers"], obj["to"], obj["body"]
    if not isinstance(to, list):
        raise InvalidEntry("to: expected a list of party ids")
    if kind is Kind.KEY:
        if thread is not None or answers is not None or to:
            raise InvalidEntry("key entries have thread null, answers null and to []")
    else:
        _thread(thread)
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
            party_id(recipient, f"to[{i}]")
        if len(set(to)) != len(to) or party in to:
            raise InvalidEntry("to: recipients must be distinct and other than the author")
    elif kind is not Kind.KEY:
        _digest(answers, "answers", nullable=False)
        if to:
            raise InvalidEntry("to: [] except for requests")
    vertices = check_body(kind.value, body)
    if vertices > MAX_VERTICES:
        raise InvalidEntry(f"body: {vertices} positions, more than the limit of {MAX_VERTICES}")
    if kind is Kind.REQUEST and not parse_time(body["deadline"], "body.deadline") > at:
        raise InvalidEntry("body.deadline: must be after the request's time (at)")
    if kind is Kind.KEY and (seq == 1) != (body["public"] == signer):
        raise InvalidEntry(
            "key: a genesis key entry (seq 1) is signed by the key it introduces, a rotation by the previous key"
        )
    return {
        "answers": answers,
        "at": obj["at"],
        "body": body,
        "key": signer,
        "kind": kind.value,
        "party": party,
        "prev": prev,
        "seq": seq,
        "thread": thread,
        "to": to,
        "v": VERSION,
    }


#: Signs in ``json.dumps`` output that its numbers may differ from RFC 8785's (an integral float
#: written ``1.0``, an exponent written ``1e-07`` or ``1e+16``): the body then goes through
#: :func:`~parley.line.canonical.canonical` itself. Strings that merely contain them do too.
_NOT_ES_NUMBER = re.compile(r"\.0[,\]}]|\de[-+]")


def canonical_body(body: Mapping[str, Any]) -> bytes:
    """``canonical(body)`` for a checked body, fast: the members of a checked body are ASCII names,
    its integers small and its numbers finite, so ``json.dumps`` with sorted keys and no spaces
    writes the RFC 8785 form whenever every float is written as ECMAScript writes it (the same
    shortest round-trip digits, in plain notation), which :data:`_NOT_ES_NUMBER` checks; else
    (and for anything unusual) the reference implementation decides."""
    try:
        text = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)
        if not _NOT_ES_NUMBER.search(text):
            return text.encode("utf-8")
    except (TypeError, ValueError, UnicodeEncodeError):
        pass
    return canonical(body)


def _member(name: str, value: Any) -> bytes:
    """``"name":value`` canonical. Header values are checked: strings of letters, digits and
    ``:._-`` (no escapes), integers below 2**53, null, or lists of party ids."""
    if name == "body":
        text = canonical_body(value)
    elif isinstance(value, str):
        text = b'"' + value.encode() + b'"'
    elif value is None:
        text = b"null"
    elif isinstance(value, int):
        text = str(value).encode()
    else:
        text = b"[" + b",".join(b'"' + v.encode() + b'"' for v in value) + b"]"
    return b'"' + name.encode() + b'":' + text


def _parts(unsigned: dict[str, Any]) -> tuple[dict[str, bytes], bytes]:
    """The canonical ``"name":value`` of each member but ``sig``, and the signing bytes they make."""
    parts = {name: _member(name, value) for name, value in unsigned.items()}
    return parts, b"{" + b",".join(parts[n] for n in FIELDS if n != "sig") + b"}"


def _build(
    unsigned: dict[str, Any], sig: str, prepared: tuple[dict[str, bytes], bytes] | None = None
) -> Entry:
    parts, signed = prepared or _parts(unsigned)
    parts = {**parts, "sig": _member("sig", sig)}
    whole = b"{" + b",".join(parts[n] for n in FIELDS) + b"}"
    if len(whole) > MAX_ENTRY_BYTES:
        raise InvalidEntry(
            f"entry: {len(whole)} bytes of canonical JSON, more than the limit of {MAX_ENTRY_BYTES}"
        )
    return Entry(
        party=unsigned["party"],
        seq=unsigned["seq"],
        prev=unsigned["prev"],
        at=unsigned["at"],
        kind=Kind(unsigned["kind"]),
        thread=unsigned["thread"],
        answers=unsigned["answers"],
        to=tuple(unsigned["to"]),
        body=unsigned["body"],
        key=unsigned["key"],
        sig=sig,
        hash=DIGEST_PREFIX + hashlib.sha256(whole).hexdigest(),
        signed=signed,
        raw=whole,
    )


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
    unsigned = _check_unsigned(fields)
    prepared = _parts(unsigned)
    entry = _build(unsigned, key.sign(prepared[1]), prepared)
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
