"""Sign-in for the map: argon2 password hashes, signed session cookies and CSRF tokens.

A session is a cookie the server signs (HMAC-SHA256 with a key kept in ``DATA_DIR/ui/session.key``,
shared by every worker process): ``base64url(payload).base64url(mac)``, the payload naming the party,
the operator, the session's CSRF token, its expiry and a fingerprint of the operator's password hash
(a changed password ends the sessions it signed). The cookie is ``HttpOnly``, ``Secure``,
``SameSite=Strict`` and scoped to the party's ``/ui`` path. A state-changing call must carry the
session's CSRF token in the ``X-CSRF-Token`` header (the page reads it from the non-HttpOnly CSRF
cookie: a double submit that another site cannot make).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from parley.config import UiOperator

#: How long a session lasts, seconds (a duty officer's shift).
SESSION_LIFETIME_S = 12 * 3600

_HASHER = PasswordHasher()
#: Verified against when the name is unknown, so that a wrong name costs as long as a wrong password.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """The argon2id PHC string of ``password`` (for ``ui_operators[].password_hash``)."""
    if not password:
        raise ValueError("the password is empty")
    return _HASHER.hash(password)


def check_password(operators: list[UiOperator], name: str, password: str) -> UiOperator | None:
    """The operator ``name`` if ``password`` is theirs (slow on purpose: argon2)."""
    found = next((o for o in operators if hmac.compare_digest(o.name, name)), None)
    try:
        _HASHER.verify(found.password_hash if found else _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    return found


def load_or_create_key(path: Path) -> bytes:
    """The session-signing key at ``path`` (32 random bytes, mode 0600), created on first use."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker made it first
        return path.read_bytes()
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def fingerprint(operator: UiOperator) -> str:
    return hashlib.sha256(operator.password_hash.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Session:
    party: str
    operator: str
    csrf: str
    expires: int
    fingerprint: str


class SessionSigner:
    """Signs and checks session cookies with one key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, b"parley-ui-session/1\x00" + payload, hashlib.sha256).digest()

    def issue(self, party: str, operator: UiOperator, csrf: str, *, now: float | None = None) -> str:
        expires = int((time.time() if now is None else now) + SESSION_LIFETIME_S)
        payload = json.dumps(
            {"p": party, "o": operator.name, "c": csrf, "e": expires, "f": fingerprint(operator)},
            separators=(",", ":"),
        ).encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def read(self, cookie: str | None, *, now: float | None = None) -> Session | None:
        """The session in ``cookie`` if its signature holds and it has not expired."""
        if not cookie or len(cookie) > 4096 or "." not in cookie:
            return None
        head, _, mac = cookie.partition(".")
        try:
            payload, given = _unb64(head), _unb64(mac)
        except (ValueError, TypeError):
            return None
        if not hmac.compare_digest(self._mac(payload), given):
            return None
        try:
            data = json.loads(payload)
            session = Session(str(data["p"]), str(data["o"]), str(data["c"]), int(data["e"]), str(data["f"]))
        except (ValueError, KeyError, TypeError):
            return None
        if session.expires < (time.time() if now is None else now):
            return None
        return session


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)
