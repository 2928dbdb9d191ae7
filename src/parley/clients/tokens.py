"""Where a party node's outbound access tokens come from.

F3548 calls carry a bearer JWT whose ``aud`` is the host name of the service called and whose
``scope`` holds the scopes the call needs. A :class:`TokenSource` gives one for an audience and a
set of scopes, and caches it until shortly before it expires:

- :class:`ClientCredentialsTokenSource`: an OAuth 2.0 client-credentials grant (RFC 6749 section
  4.4) against a token endpoint, with the ``audience`` extension parameter most UTM authorization
  servers use (``intended_audience`` too, for the InterUSS dummy OAuth server);
- :class:`SigningKeyTokenSource`: tokens signed locally with a private key (RS256 or ES256). The
  services called must trust the matching public key: for development and tests, the key of
  ``parley token`` (``DATA_DIR/dev-keys``), or a deployment's own key where the parties share a
  trust anchor.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, urlencode

import jwt

from parley.clients.http import HttpSession, HttpUnreachable
from parley.devtokens import algorithm_for_key, mint_token

#: A cached token is renewed when less than this is left of its life, seconds.
RENEW_BEFORE_S = 60.0


class TokenError(Exception):
    """No token could be obtained (the token endpoint refused or could not be reached)."""


class TokenSource(Protocol):
    """Gives access tokens for calls to ``audience`` needing ``scopes``."""

    async def token(self, audience: str, scopes: Iterable[str]) -> str: ...


@dataclass
class _Cache:
    entries: dict[tuple[str, frozenset[str]], tuple[str, float]] = field(default_factory=dict)

    def get(self, key: tuple[str, frozenset[str]]) -> str | None:
        hit = self.entries.get(key)
        if hit is not None and hit[1] - RENEW_BEFORE_S > time.time():
            return hit[0]
        return None

    def put(self, key: tuple[str, frozenset[str]], token: str, expires_at: float) -> None:
        self.entries[key] = (token, expires_at)


class SigningKeyTokenSource:
    """Tokens for ``subject`` signed with the PEM private key at ``private_key_file``."""

    def __init__(
        self, private_key_file: Path, *, subject: str, issuer: str = "parley", lifetime_s: int = 3600
    ) -> None:
        self._pem = private_key_file.read_bytes()
        self._algorithm = algorithm_for_key(self._pem)
        self._subject = subject
        self._issuer = issuer
        self._lifetime_s = lifetime_s
        self._cache = _Cache()

    async def token(self, audience: str, scopes: Iterable[str]) -> str:
        key = (audience, frozenset(scopes))
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        token = mint_token(
            self._pem,
            sub=self._subject,
            scopes=sorted(key[1]),
            audience=audience,
            lifetime_s=self._lifetime_s,
            issuer=self._issuer,
            algorithm=self._algorithm,
        )
        self._cache.put(key, token, time.time() + self._lifetime_s)
        return token


class ClientCredentialsTokenSource:
    """Tokens from an OAuth 2.0 token endpoint by the client-credentials grant.

    The request is a form POST with ``grant_type=client_credentials``, ``scope`` (space separated),
    ``audience`` and ``intended_audience``, and the client's credentials in HTTP Basic auth
    (RFC 6749 section 2.3.1). The answer is ``{"access_token": ..., "expires_in": ...}``.
    """

    def __init__(
        self,
        token_url: str,
        *,
        client_id: str,
        client_secret: str,
        http: HttpSession,
        timeout_s: float = 10.0,
    ) -> None:
        self._url = token_url
        credentials = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}".encode()
        self._authorization = "Basic " + base64.b64encode(credentials).decode("ascii")
        self._http = http
        self._timeout_s = timeout_s
        self._cache = _Cache()
        self._lock = asyncio.Lock()

    async def token(self, audience: str, scopes: Iterable[str]) -> str:
        key = (audience, frozenset(scopes))
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        async with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                return cached
            form = {
                "grant_type": "client_credentials",
                "scope": " ".join(sorted(key[1])),
                "audience": audience,
                "intended_audience": audience,
            }
            headers = {
                "Authorization": self._authorization,
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            }
            try:
                response = await self._http.request(
                    "POST",
                    self._url,
                    content=urlencode(form).encode(),
                    headers=headers,
                    timeout_s=self._timeout_s,
                )
            except HttpUnreachable as error:
                raise TokenError(f"token endpoint {self._url} unreachable: {error}") from error
            if response.status != 200:
                raise TokenError(
                    f"token endpoint {self._url} answered {response.status}: {response.text[:200]}"
                )
            try:
                body = json.loads(response.content)
                token = str(body["access_token"])
            except (ValueError, KeyError, TypeError) as error:
                raise TokenError(f"token endpoint {self._url} gave no access_token") from error
            self._cache.put(key, token, _expiry(token, body.get("expires_in")))
            return token


def _expiry(token: str, expires_in: object) -> float:
    """When ``token`` expires: ``expires_in`` if given, else its ``exp`` claim, else in 5 minutes."""
    if isinstance(expires_in, int | float) and expires_in > 0:
        return time.time() + float(expires_in)
    try:
        exp = jwt.decode(token, options={"verify_signature": False, "verify_exp": False}).get("exp")
    except jwt.PyJWTError:
        exp = None
    return float(exp) if isinstance(exp, int | float) else time.time() + 300.0
