"""DEVELOPMENT ONLY: a local signing key pair and a way to mint access tokens with it.

A real deployment trusts the keys of its authorization server (``public_key_files`` / ``jwks_file``).
For local work and tests, Parley can instead trust a key pair it generates itself in
``DATA_DIR/dev-keys`` (``dev_auth``), and ``parley token`` mints tokens signed with it. Anyone who can
read ``private.pem`` can impersonate any USS, so never enable ``dev_auth`` on a shared deployment.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

PRIVATE_KEY_NAME: Final = "private.pem"
PUBLIC_KEY_NAME: Final = "public.pem"

_SIGNING_ALGORITHMS: Final = frozenset({"RS256", "ES256"})


def ensure_dev_keys(key_dir: Path) -> tuple[Path, Path]:
    """Make sure ``key_dir`` holds the development key pair; return ``(private_path, public_path)``.

    Creates the directory (mode 0700) and an RSA 2048 ``private.pem`` (mode 0600) if they are missing,
    and (re)writes ``public.pem`` from the private key if it is missing. An existing private key is
    kept, and its mode tightened to 0600 if it was looser. Safe to run from several processes at once:
    the private key is written to a temporary file and linked into place, so exactly one wins.
    """
    key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    private_path = key_dir / PRIVATE_KEY_NAME
    public_path = key_dir / PUBLIC_KEY_NAME

    if not private_path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            encoding=serialization.Encoding.PEM,
            format=serialization.PrivateFormat.PKCS8,
            encryption_algorithm=serialization.NoEncryption(),
        )
        _create_exclusively(private_path, pem, mode=0o600)
    elif private_path.stat().st_mode & 0o077:
        private_path.chmod(0o600)

    if not public_path.exists():
        private_key = _load_private_key(private_path.read_bytes(), source=str(private_path))
        public_pem = private_key.public_key().public_bytes(
            encoding=serialization.Encoding.PEM,
            format=serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        _write_atomically(public_path, public_pem, mode=0o644)
    return private_path, public_path


def algorithm_for_key(private_key_pem: bytes) -> str:
    """The signing algorithm that fits a PEM private key: ``RS256`` for RSA, ``ES256`` for EC P-256."""
    key = _load_private_key(private_key_pem, source="the private key")
    if isinstance(key, rsa.RSAPrivateKey):
        return "RS256"
    return "ES256"


def mint_token(
    private_key_pem: bytes,
    *,
    sub: str,
    scopes: Sequence[str],
    audience: str,
    lifetime_s: int = 3600,
    issuer: str = "parley-dev",
    kid: str | None = None,
    algorithm: str = "RS256",
) -> str:
    """DEVELOPMENT ONLY: sign an access token for ``sub`` holding ``scopes``, valid for ``audience``.

    The claims mirror what an F3548 authorization server (e.g. the InterUSS dummy OAuth server)
    issues: ``iss``, ``sub``, ``aud``, space-separated ``scope``, ``iat``, ``nbf``, ``exp``, ``jti``.
    ``algorithm`` is ``RS256`` (RSA key) or ``ES256`` (EC P-256 key).
    """
    if algorithm not in _SIGNING_ALGORITHMS:
        raise ValueError(f"Unsupported signing algorithm `{algorithm}` (expected RS256 or ES256)")
    if not sub:
        raise ValueError("sub must not be empty")
    if not audience:
        raise ValueError("audience must not be empty")
    if lifetime_s <= 0:
        raise ValueError("lifetime_s must be positive")
    for scope in scopes:
        if not scope or any(ch.isspace() for ch in scope):
            raise ValueError(f"Invalid scope {scope!r}: scopes are non-empty and contain no whitespace")

    key = _loaded_key(private_key_pem)
    if algorithm == "RS256" and not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("RS256 needs an RSA private key")
    if algorithm == "ES256" and not (
        isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1)
    ):
        raise ValueError("ES256 needs an EC P-256 private key")

    now = int(time.time())
    claims: dict[str, object] = {
        "iss": issuer,
        "sub": sub,
        "aud": audience,
        "scope": " ".join(scopes),
        "iat": now,
        "nbf": now,
        "exp": now + lifetime_s,
        "jti": str(uuid.uuid4()),
    }
    headers = {"kid": kid} if kid is not None else None
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)


@functools.lru_cache(maxsize=32)
def _loaded_key(pem: bytes) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    """The key of ``pem``, parsed once (parsing and checking an RSA key costs tens of milliseconds,
    and a node mints a token per audience and scope set)."""
    return _load_private_key(pem, source="the private key")


def _load_private_key(pem: bytes, *, source: str) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    """Load an unencrypted PEM private key that can sign RS256 or ES256 tokens."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{source} is not an unencrypted PEM private key: {exc}") from exc
    if isinstance(key, rsa.RSAPrivateKey):
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    raise ValueError(f"{source} is neither an RSA nor an EC P-256 private key")


def _create_exclusively(path: Path, data: bytes, *, mode: int) -> None:
    """Create ``path`` with ``data`` and ``mode`` unless it already exists (then leave it alone)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, mode)  # in case the umask was stricter than needed, or looser than wanted
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_atomically(path: Path, data: bytes, *, mode: int) -> None:
    """Replace ``path`` with ``data`` in one step."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
