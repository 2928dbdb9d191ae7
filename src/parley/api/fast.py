"""Hot endpoints served straight from ASGI, without FastAPI's routing and dependency machinery.

A party node's line carries hundreds of requests a second, and on the 2-core development machine
FastAPI spent about 1.4 ms of CPU per request on routing, dependency resolution and response
wrapping, more than the line's own work (signing, storing, delivering). The endpoints here keep
their FastAPI declarations (the OpenAPI document, and the same behaviour when the app is mounted
some other way); :class:`~parley.api.app.PrefixDispatch` sends their requests here first.

Each :class:`FastRoute` is an exact method and path under a party's base URL and a handler taking a
:class:`FastRequest` and answering ``(status, JSON body)``. Errors are answered as the FastAPI
handlers answer them (:func:`parley.api.errors.plain_error`): 400 with the message of a validation
error, 401 with ``WWW-Authenticate``, 403, 404, 409; anything unexpected is logged and answered 500.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from parley.api.auth import Principal, TokenVerifier, bearer_token, require_scopes
from parley.api.errors import plain_error

log = logging.getLogger("parley.api")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: A handler's answer: status and JSON body (an object to encode, or bytes already encoded).
Answer = tuple[int, Any]


class BodyTooLarge(Exception):
    """The request body went past the limit while being read (413)."""


@dataclass
class FastRequest:
    scope: Scope
    body: bytes
    verifier: TokenVerifier

    def header(self, name: bytes) -> str | None:
        for key, value in self.scope.get("headers", ()):
            if key == name:
                return str(value.decode("latin-1"))
        return None

    @property
    def hostname(self) -> str | None:
        """The host the request was addressed to (``Host`` header, else the server's address),
        as Starlette's ``request.url.hostname``."""
        host = self.header(b"host")
        if host is None:
            server = self.scope.get("server")
            return str(server[0]) if server else None
        return urlsplit("//" + host).hostname

    def authorize(self, *alternatives: Iterable[str]) -> Principal:
        """The caller, holding every scope of one of ``alternatives`` (401 / 403 otherwise)."""
        token = bearer_token(self.header(b"authorization"))
        principal = self.verifier.verify(token, request_host=self.hostname)
        if alternatives:
            require_scopes(principal, tuple(frozenset(a) for a in alternatives))
        return principal


Handler = Callable[[FastRequest], Awaitable[Answer]]


@dataclass(frozen=True)
class FastRoute:
    method: str
    #: The path under the app's base URL, exactly (no parameters).
    path: str
    handler: Handler


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole request body; :class:`BodyTooLarge` past ``limit`` bytes (declared or read)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length" and value.isdigit() and int(value) > limit:
            raise BodyTooLarge(f"Request body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"Request body larger than {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def respond(send: Send, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def encode(content: Any) -> bytes:
    if isinstance(content, bytes):
        return content
    return json.dumps(content, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


class FastRoutes:
    """The fast routes of one app (a party node), by method and path."""

    def __init__(self, routes: Iterable[FastRoute], verifier: TokenVerifier, *, body_limit: int) -> None:
        self.routes = {(r.method, r.path): r for r in routes}
        self.verifier = verifier
        self.body_limit = body_limit

    def match(self, method: str, path: str) -> FastRoute | None:
        return self.routes.get((method, path))

    async def serve(self, route: FastRoute, scope: Scope, receive: Receive, send: Send) -> None:
        headers: Mapping[str, str] | None = None
        try:
            body = await read_body(scope, receive, self.body_limit)
            status, content = await route.handler(FastRequest(scope, body, self.verifier))
            payload = encode(content)
        except BodyTooLarge as error:
            status, payload = 413, encode({"message": str(error)})
        except Exception as error:
            mapped = plain_error(error)
            if mapped is None:
                log.exception("unhandled error on %s %s", route.method, scope.get("path"))
                status, payload = 500, encode({"message": "Internal server error"})
            else:
                status, message, headers = mapped
                payload = encode({"message": message})
        await respond(send, status, payload, headers)
