"""Witness countersignatures: the shared service signs a party's chain head with its own key and time.

A party that later rewrites its history cannot show the countersigned head again: two different
entries at one (party, seq) are a fork. A countersignature is the JSON object
``{"party", "seq", "head", "at", "witness_key", "sig"}`` where ``sig`` is the witness key's Ed25519
signature (base64url) over ``canonical`` of the other five members.

>>> from parley.line.chain import ChainHead
>>> service = PartyKey.generate()
>>> mark = countersign(ChainHead("RED", 4, "sha256:" + "ab" * 32), service, at="2017-05-03T06:05:00.000000Z")
>>> mark.verify(), Countersignature.from_json({**mark.to_json(), "seq": 5}).verify()
(True, False)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from parley.line.bodies import key_id, party_id
from parley.line.canonical import canonical
from parley.line.chain import ChainHead
from parley.line.entry import DIGEST, SIGNATURE
from parley.line.errors import InvalidEntry
from parley.line.keys import PartyKey, verify
from parley.line.shapes import members
from parley.line.times import format_time, parse_time

FIELDS = ("party", "seq", "head", "at", "witness_key", "sig")


@dataclass(frozen=True, slots=True)
class Countersignature:
    """The witness's signature over a chain head at a time."""

    party: str
    seq: int
    head: str
    at: str
    witness_key: str
    sig: str

    @classmethod
    def from_json(cls, obj: object, field: str = "witness") -> Countersignature:
        value = members(obj, field, set(FIELDS))
        seq = value["seq"]
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
            raise InvalidEntry(f"{field}.seq: expected an integer from 1")
        if not isinstance(value["head"], str) or not DIGEST.fullmatch(value["head"]):
            raise InvalidEntry(f"{field}.head: expected a digest")
        if not isinstance(value["sig"], str) or not SIGNATURE.fullmatch(value["sig"]):
            raise InvalidEntry(f"{field}.sig: expected 86 base64url characters")
        parse_time(value["at"], f"{field}.at")
        return cls(
            party=party_id(value["party"], f"{field}.party"),
            seq=seq,
            head=value["head"],
            at=value["at"],
            witness_key=key_id(value["witness_key"], f"{field}.witness_key"),
            sig=value["sig"],
        )

    def signed_json(self) -> dict[str, Any]:
        return {
            "party": self.party,
            "seq": self.seq,
            "head": self.head,
            "at": self.at,
            "witness_key": self.witness_key,
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.signed_json(), "sig": self.sig}

    def signing_bytes(self) -> bytes:
        return canonical(self.signed_json())

    def verify(self) -> bool:
        """Whether :attr:`sig` is :attr:`witness_key`'s signature over the other members."""
        return verify(self.witness_key, self.signing_bytes(), self.sig)

    @property
    def chain_head(self) -> ChainHead:
        return ChainHead(self.party, self.seq, self.head)


def countersign(head: ChainHead, key: PartyKey, *, at: str | datetime) -> Countersignature:
    """The witness's countersignature of ``head`` at ``at`` with its ``key``."""
    unsigned = Countersignature(
        party=head.party,
        seq=head.seq,
        head=head.hash,
        at=format_time(at) if isinstance(at, datetime) else at,
        witness_key=key.key_id,
        sig="",
    )
    parse_time(unsigned.at, "at")
    return Countersignature(**{**unsigned.signed_json(), "sig": key.sign(unsigned.signing_bytes())})
