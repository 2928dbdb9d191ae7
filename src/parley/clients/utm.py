"""One HTTP client for every outbound UTM call: bearer tokens for the target's host, timeouts,
and failures turned into :class:`CallFailed` with what was called and what it answered."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from parley.clients.http import HttpSession, HttpUnreachable
from parley.clients.tokens import TokenError, TokenSource

log = logging.getLogger("parley.clients")

Json = dict[str, Any]


class CallFailed(Exception):
    """An outbound call failed: not reached (``status`` None), or answered with an error status."""

    def __init__(self, method: str, url: str, status: int | None, message: str, body: Any = None) -> None:
        super().__init__(f"{method} {url}: " + (f"{status} {message}" if status else message))
        self.method = method
        self.url = url
        self.status = status
        self.message = message
        self.body = body


def audience_of(url: str) -> str:
    """The ``aud`` an F3548 service at ``url`` expects: its host name."""
    host = urlsplit(url).hostname
    if not host:
        raise ValueError(f"{url!r} has no host name")
    return host


class UtmHttp:
    """Authenticated JSON calls to DSSs and peer USSs."""

    def __init__(self, http: HttpSession, tokens: TokenSource, *, timeout_s: float = 10.0) -> None:
        self.http = http
        self.tokens = tokens
        self.timeout_s = timeout_s

    async def call(
        self,
        method: str,
        url: str,
        scopes: Iterable[str],
        *,
        body: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        ok: Iterable[int] = (200, 201, 204),
    ) -> tuple[int, Any]:
        """Call ``url`` with ``body`` (JSON-encoded here) or ``content`` (JSON bytes already); return
        ``(status, parsed JSON body or None)`` or raise :class:`CallFailed`."""
        try:
            token = await self.tokens.token(audience_of(url), scopes)
        except (TokenError, ValueError) as error:
            raise CallFailed(method, url, None, f"no access token: {error}") from error
        headers = {"Authorization": f"Bearer {token}"}
        if body is not None:
            content = json.dumps(body, separators=(",", ":")).encode()
        if content is not None:
            headers["Content-Type"] = "application/json"
        try:
            response = await self.http.request(
                method, url, content=content, headers=headers, timeout_s=self.timeout_s
            )
        except HttpUnreachable as error:
            raise CallFailed(method, url, None, f"unreachable: {error}") from error
        parsed: Any = None
        if response.content:
            try:
                parsed = json.loads(response.content)
            except ValueError:
                parsed = None
        if response.status not in set(ok):
            message = parsed.get("message") if isinstance(parsed, dict) else None
            raise CallFailed(method, url, response.status, str(message or response.text[:300]), parsed)
        log.debug("%s %s -> %s", method, url, response.status)
        return response.status, parsed
