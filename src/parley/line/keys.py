"""Ed25519 keys of the parties on the line: generated on first start, kept in the node's data
directory (PEM, mode 0600), written as base64url (RFC 4648 section 5, no padding) on the wire.

A key is named by its public key: ``key_id = "ed25519:" + base64url(raw 32-byte public key)``.
Signatures are base64url of the raw 64-byte Ed25519 signature over canonical bytes.

>>> key = PartyKey.generate()
>>> sig = key.sign(b"hello")
>>> verify(key.public_b64, b"hello", sig), verify(key.public_b64, b"hellO", sig)
(True, False)
>>> key.key_id.startswith("ed25519:") and len(key.public_b64) == 43
True
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from parley.domain.errors import InvalidInput

KEY_ID_PREFIX = "ed25519:"


def b64url(data: bytes) -> str:
    """Base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def from_b64url(text: str, *, what: str = "value") -> bytes:
    """Decode base64url with or without padding; :class:`InvalidInput` when it is not."""
    if not isinstance(text, str) or not text or any(c in text for c in "+/ \n"):
        raise InvalidInput(f"{what} is not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as error:
        raise InvalidInput(f"{what} is not base64url") from error


def public_key_of(key_id_or_b64: str) -> Ed25519PublicKey:
    """The public key named by a ``key_id`` or its base64url; :class:`InvalidInput` otherwise."""
    raw = from_b64url(key_id_or_b64.removeprefix(KEY_ID_PREFIX), what="public key")
    if len(raw) != 32:
        raise InvalidInput("an Ed25519 public key is 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def key_id_of(public_b64: str) -> str:
    return KEY_ID_PREFIX + public_b64


def verify(public: str, data: bytes, signature: str) -> bool:
    """Whether ``signature`` (base64url) is ``public``'s (a key id or base64url key) over ``data``."""
    try:
        raw = from_b64url(signature, what="signature")
        public_key_of(public).verify(raw, data)
    except (InvalidSignature, InvalidInput, ValueError):
        return False
    return True


@dataclass(frozen=True)
class PartyKey:
    """A party's private signing key."""

    private: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> PartyKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, pem: bytes) -> PartyKey:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("not an Ed25519 private key")
        return cls(key)

    def to_pem(self) -> bytes:
        return self.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    @functools.cached_property
    def public_b64(self) -> str:
        raw = self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return b64url(raw)

    @functools.cached_property
    def key_id(self) -> str:
        return key_id_of(self.public_b64)

    def sign(self, data: bytes) -> str:
        """Base64url Ed25519 signature of ``data``."""
        return b64url(self.private.sign(data))


def load_or_create(path: Path) -> PartyKey:
    """The key in ``path`` (PEM), created (mode 0600, its directory 0700) if there is none. Safe
    against several processes starting at once: the file is written aside and linked into place,
    so exactly one key wins and every process reads it."""
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(PartyKey.generate().to_pem())
                fh.flush()
                os.fsync(fh.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    elif path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return PartyKey.from_pem(path.read_bytes())
