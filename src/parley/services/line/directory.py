"""The shared service's side of the line (on the DSS host): the directory of parties and their keys,
and the witness that countersigns chain heads.

- **Registry.** A party registers its key entries (its genesis key entry, self-signed, then each
  rotation, signed by the key before it), its base URL and its name. A later registration must extend
  the key history already registered: a key change not signed by the registered key is refused (409).
- **Witness.** A party submits its chain head ``{party, seq, head}`` signed with its current key; the
  service countersigns it with its own key and the time. A different head at a position it has
  already countersigned is a fork: recorded, and answered 409.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from parley.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from parley.line.canonical import canonical
from parley.line.chain import ChainHead
from parley.line.entry import DIGEST, Entry, Kind, verify_entry
from parley.line.errors import BadSignature, LineError
from parley.line.keys import PartyKey, verify
from parley.line.witness import countersign
from parley.ports.clock import Clock
from parley.ports.line import LineRepository, Registration, WitnessedHead

Json = dict[str, Any]

#: Longest key history accepted in one registration.
MAX_KEYS = 100


@dataclass
class Directory:
    """The shared service: its store and its own signing key."""

    repo: LineRepository
    key: PartyKey
    clock: Clock
    name: str = "Parley shared service"


def key_history(party: str, keys: object) -> list[Entry]:
    """Check a party's key entries: the genesis self-signed, each rotation signed by the key
    before it. Returns them parsed."""
    if not isinstance(keys, list) or not keys or len(keys) > MAX_KEYS:
        raise InvalidInput(f"keys: a list of 1 to {MAX_KEYS} key entries is expected")
    entries = [Entry.from_json(k) for k in keys]
    for i, entry in enumerate(entries):
        if entry.kind is not Kind.KEY or entry.party != party:
            raise InvalidInput(f"keys[{i}]: not a key entry of {party!r}")
    first = entries[0]
    if first.seq != 1:
        raise InvalidInput("keys[0]: the first key entry is the genesis, at seq 1")
    verify_entry(first, first.body["public"])
    for i in range(1, len(entries)):
        previous, entry = entries[i - 1], entries[i]
        if entry.seq <= previous.seq:
            raise InvalidInput(f"keys[{i}]: seq {entry.seq} does not follow {previous.seq}")
        try:
            verify_entry(entry, previous.body["public"])
        except BadSignature as error:
            raise BadSignature(
                f"keys[{i}]: a key change must be signed by the key before it: {error.message}"
            ) from None
    return entries


def register(directory: Directory, caller: str, body: Json) -> tuple[Registration, bool]:
    """Register or update ``caller``'s party; ``(registration, created)``."""
    party = body.get("party")
    if party != caller:
        raise PermissionDenied(f"{caller!r} may register only itself, not {party!r}")
    base_url, name = body.get("base_url"), body.get("name", "")
    if (
        not isinstance(base_url, str)
        or not base_url.startswith(("http://", "https://"))
        or len(base_url) > 2000
    ):
        raise InvalidInput("base_url: an http(s) URL is expected")
    if not isinstance(name, str) or len(name) > 200:
        raise InvalidInput("name: a string of at most 200 characters is expected")
    keys = key_history(party, body.get("keys"))
    held = directory.repo.registration(party)
    if held is not None:
        held_hashes = [Entry.from_json(k).hash for k in held.keys]
        offered = [k.hash for k in keys]
        if offered[: len(held_hashes)] != held_hashes:
            raise KeyChangeRefused(
                f"{party!r}: the key history differs from the registered one: a key change must be signed by "
                f"the registered key {held.key_id}"
            )
    registration = Registration(
        party=party,
        key_id=keys[-1].body["public"],
        base_url=base_url.rstrip("/"),
        display_name=name,
        registered_at=directory.clock.now(),
        keys=[k.to_json() for k in keys],
    )
    directory.repo.register(registration)
    return registration, held is None


def lookup(directory: Directory, party: str) -> Registration:
    found = directory.repo.registration(party)
    if found is None:
        raise NotFound(f"no party {party!r} is registered")
    return found


def head_signing_bytes(party: str, seq: int, head: str) -> bytes:
    """What a party signs when it submits its head to the witness."""
    return canonical({"party": party, "seq": seq, "head": head})


def witness(directory: Directory, caller: str, body: Json) -> Json:
    """Countersign ``caller``'s chain head (see the module)."""
    party, seq, head, sig = body.get("party"), body.get("seq"), body.get("head"), body.get("sig")
    if party != caller:
        raise PermissionDenied(f"{caller!r} may submit only its own chain head, not {party!r}'s")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise InvalidInput("seq: an integer from 1 is expected")
    if not isinstance(head, str) or not DIGEST.fullmatch(head):
        raise InvalidInput("head: a digest sha256:<64 hex> is expected")
    registration = lookup(directory, party)
    if not isinstance(sig, str) or not verify(registration.key_id, head_signing_bytes(party, seq, head), sig):
        raise BadSignature(f"sig: not {party!r}'s signature (key {registration.key_id}) over its head")
    mark = countersign(ChainHead(party, seq, head), directory.key, at=directory.clock.now())
    held = directory.repo.witness(WitnessedHead(party, seq, head, directory.clock.now(), mark.to_json()))
    return dict(held.countersignature)


class KeyChangeRefused(LineError, Conflict):
    """A registration whose key history does not extend the registered one (HTTP 409)."""
