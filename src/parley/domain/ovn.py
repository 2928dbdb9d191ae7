"""Minting of opaque version numbers (OVNs) and subscription versions.

An OVN is minted by the DSS on every change of an entity (astm.f3548.v21.DSS0005). It is the
URL-safe base64 of SHA-256 over the entity id, its new version, the time and a random salt: unique,
unguessable, 44 characters (F3548 admits 16 to 128). A USS may instead request a suffix: a UUIDv7
carrying the current time, giving the OVN ``{entity id}_{suffix}`` (the InterUSS extension
``requested_ovn_suffix``).

>>> from datetime import datetime, timezone
>>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> ovn = mint_ovn(EntityId("4a7b1e7c-0f6a-4e31-9b1d-3c5c2b7b9a10"), 1, t, b"salt")
>>> len(ovn), ovn == mint_ovn(EntityId("4a7b1e7c-0f6a-4e31-9b1d-3c5c2b7b9a10"), 1, t, b"salt")
(44, True)
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import datetime, timedelta

from parley.domain.entities import EntityId, Ovn
from parley.domain.errors import InvalidInput

#: Largest difference between a requested UUIDv7's time and the DSS's clock.
MAX_OVN_SUFFIX_SKEW = timedelta(minutes=5)
OVN_MIN_LENGTH = 16
OVN_MAX_LENGTH = 128


def mint_ovn(entity_id: EntityId, version: int, now: datetime, salt: bytes) -> Ovn:
    """A fresh OVN for ``entity_id`` at ``version``."""
    digest = hashlib.sha256(f"{entity_id}|{version}|{now.isoformat()}|".encode() + salt).digest()
    return Ovn(base64.urlsafe_b64encode(digest).decode("ascii").replace("=", "_"))


def ovn_from_suffix(entity_id: EntityId, suffix: str, now: datetime) -> Ovn:
    """The OVN ``{entity_id}_{suffix}`` for a requested UUIDv7 suffix close to ``now``."""
    try:
        parsed = uuid.UUID(suffix)
    except ValueError:
        raise InvalidInput(f"requested_ovn_suffix `{suffix}` is not a UUID") from None
    if parsed.version != 7:
        raise InvalidInput(
            f"requested_ovn_suffix `{suffix}` is a version {parsed.version} UUID, not version 7"
        )
    millis = parsed.int >> 80
    stamped = datetime.fromtimestamp(millis / 1000.0, tz=now.tzinfo)
    skew = abs(now - stamped)
    if skew > MAX_OVN_SUFFIX_SKEW:
        raise InvalidInput(
            f"requested_ovn_suffix `{suffix}` is {skew.total_seconds():.0f} s away from the DSS's time "
            f"(at most {MAX_OVN_SUFFIX_SKEW.total_seconds():.0f} s)"
        )
    # `{entityid}_{requested_ovn_suffix}`: the suffix as sent, not re-spelled (as the reference DSS)
    return Ovn(f"{entity_id}_{suffix}")


def validate_ovn(value: str) -> Ovn:
    """An OVN given by a client: 16 to 128 characters."""
    if not OVN_MIN_LENGTH <= len(value) <= OVN_MAX_LENGTH:
        raise InvalidInput(
            f"OVN must be {OVN_MIN_LENGTH} to {OVN_MAX_LENGTH} characters long, got {len(value)}"
        )
    return Ovn(value)
