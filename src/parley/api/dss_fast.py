"""The DSS's hot operations served straight from ASGI, below FastAPI's routing and dependencies.

A USS plans with a query and a PUT; on the 2-core development machine FastAPI's request machinery
(routing, dependency resolution, pydantic models built and dumped for every reference of an
answer) cost more CPU than the DSS transaction itself. :class:`DssFastPath` takes the operational
intent references' five operations (query, get, create, update, delete) before the FastAPI app
does, and answers them exactly as the FastAPI routes in
:mod:`parley.api.routes.dss_operational_intents` would, which stay declared (the OpenAPI document)
and serve whatever the fast path passes on:

- the same order of checks: the body must be JSON (else the route's 400), then the bearer token and
  its scopes (401 / 403), then the body's schema, then the use case;
- the same validation: the body is validated by the route's own pydantic model; a body that fails,
  or anything unusual (no JSON content type, an empty path parameter), is handed to the FastAPI
  app unchanged, so every error body is the one FastAPI gives;
- the same error mapping (:func:`parley.api.errors.route_error`, with the route's declared
  responses), and the same JSON (:mod:`parley.api.wire.fast` writes the wire models' fields in
  their order; a test compares it with the pydantic models' dump).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import Any
from urllib.parse import urlsplit

import msgspec
from fastapi.routing import APIRoute
from pydantic import ValidationError

from parley.api.auth import Principal, TokenVerifier, bearer_token, require_scopes
from parley.api.deps import CMSA, CP, SC
from parley.api.errors import route_error
from parley.api.fast import BodyTooLarge, read_body, respond
from parley.api.routes import dss_operational_intents as routes
from parley.api.wire import f3548v21 as wire
from parley.api.wire.fast import encode_change, encode_get, encode_query
from parley.domain.entities import Manager, parse_entity_id
from parley.domain.errors import InvalidInput
from parley.domain.ovn import validate_ovn
from parley.services import dss_operational_intents as svc
from parley.services.context import DssContext

log = logging.getLogger("parley.api")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

OIR_PREFIX = "/dss/v1/operational_intent_references/"

_READ = (frozenset({SC}), frozenset({CMSA}))
_WRITE = (frozenset({SC}), frozenset({SC, CP}), frozenset({CMSA}))

_decoder = msgspec.json.Decoder()


class _PassOn(Exception):
    """The fast path declines: the FastAPI app answers (an invalid body, an unusual request)."""


class DssFastPath:
    """ASGI middleware: the operational intent references' operations, answered below FastAPI
    (see the module); every other request goes to ``app``.

    ``routes`` are the FastAPI app's routes (the operations' declared responses, for errors).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        dss: DssContext,
        verifier: TokenVerifier,
        routes: Iterable[object],
        body_limit: int,
    ) -> None:
        self.app = app
        self.dss = dss
        self.verifier = verifier
        self.body_limit = body_limit
        self.routes = {r.operation_id: r for r in routes if isinstance(r, APIRoute) and r.operation_id}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            root_path: str = scope.get("root_path", "")
            if root_path and path.startswith(root_path):
                path = path[len(root_path) :]
            if path.startswith(OIR_PREFIX):
                operation = _operation(scope.get("method", ""), path[len(OIR_PREFIX) :])
                if operation is not None:
                    await self._serve(operation, scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _serve(
        self, operation: tuple[str, str, str], scope: Scope, receive: Receive, send: Send
    ) -> None:
        operation_id, entity, ovn = operation
        body: bytes | None = None
        headers: Mapping[str, str] | None = None
        try:
            if operation_id in _WITH_BODY:
                if not _json_content(scope):
                    raise _PassOn
                body = await read_body(scope, receive, self.body_limit)
                try:
                    document = _decoder.decode(body)
                except msgspec.DecodeError:
                    raise _PassOn from None
            else:
                document = None
            status, payload = self._answer(operation_id, entity, ovn, scope, document)
        except _PassOn:
            await self.app(scope, receive if body is None else _replay(body, receive), send)
            return
        except BodyTooLarge as error:
            status, payload = 413, msgspec.json.encode({"message": str(error)})
        except Exception as error:
            mapped = route_error(error, self.routes.get(operation_id))
            if mapped is None:
                log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
                status, payload = 500, msgspec.json.encode({"message": "Internal server error"})
            else:
                status, content, headers = mapped
                payload = msgspec.json.encode(content)
        await respond(send, status, payload, headers)

    def _authorize(self, scope: Scope, alternatives: tuple[frozenset[str], ...]) -> Principal:
        authorization = host = None
        for key, value in scope.get("headers", ()):
            if key == b"authorization":
                authorization = value.decode("latin-1")
            elif key == b"host":
                host = value.decode("latin-1")
        principal = self.verifier.verify(bearer_token(authorization), request_host=_hostname(scope, host))
        require_scopes(principal, alternatives)
        return principal

    def _answer(
        self, operation_id: str, entity: str, ovn: str, scope: Scope, document: Any
    ) -> tuple[int, bytes]:
        ctx = self.dss
        if operation_id == "queryOperationalIntentReferences":
            caller = self._authorize(scope, _READ)
            query = _validate(wire.QueryOperationalIntentReferenceParameters, document)
            if query.area_of_interest is None:
                raise InvalidInput("Missing area_of_interest")
            views = svc.query_operational_intents(
                ctx,
                requester=Manager(caller.sub),
                area=wire.volume4d_to_domain(query.area_of_interest, "area_of_interest"),
            )
            return 200, encode_query(views)
        if operation_id == "getOperationalIntentReference":
            caller = self._authorize(scope, _READ)
            view = svc.get_operational_intent(
                ctx, requester=Manager(caller.sub), entity_id=parse_entity_id(entity, "entity ID")
            )
            return 200, encode_get(view)
        if operation_id == "deleteOperationalIntentReference":
            caller = self._authorize(scope, _READ)
            change = svc.delete_operational_intent(
                ctx,
                requester=Manager(caller.sub),
                entity_id=parse_entity_id(entity, "entity ID"),
                ovn=validate_ovn(ovn),
            )
            return 200, encode_change(change)
        caller = self._authorize(scope, _WRITE)
        put = _validate(wire.PutOperationalIntentReferenceParameters, document)
        creating = operation_id == "createOperationalIntentReference"
        request = routes._put_request(entity, None if creating else ovn, put)
        change = svc.put_operational_intent(
            ctx, requester=Manager(caller.sub), scopes=caller.scopes, request=request
        )
        return (201 if creating else 200), encode_change(change)


_WITH_BODY = frozenset(
    {
        "queryOperationalIntentReferences",
        "createOperationalIntentReference",
        "updateOperationalIntentReference",
    }
)


def _operation(method: str, rest: str) -> tuple[str, str, str] | None:
    """The operation of ``method`` on ``OIR_PREFIX + rest`` and its path parameters (entity id,
    OVN), as the FastAPI routes match them; None when the FastAPI app should decide (anything
    with an empty parameter, other methods)."""
    entity, slash, ovn = rest.partition("/")
    if not entity:
        return None
    if method == "POST":
        return ("queryOperationalIntentReferences", "", "") if rest == "query" else None
    if not slash:
        if method == "PUT":
            return "createOperationalIntentReference", entity, ""
        if method == "GET":
            return "getOperationalIntentReference", entity, ""
        return None
    if not ovn:
        return None
    if method == "PUT":
        return "updateOperationalIntentReference", entity, ovn
    if method == "DELETE":
        return "deleteOperationalIntentReference", entity, ovn
    return None


def _json_content(scope: Scope) -> bool:
    """The request declares a JSON body (``application/json``, any parameters)."""
    for key, value in scope.get("headers", ()):
        if key == b"content-type":
            return bool(value.split(b";", 1)[0].strip().lower() == b"application/json")
    return False


def _validate(model: Any, document: Any) -> Any:
    try:
        return model.model_validate(document)
    except ValidationError:
        raise _PassOn from None


def _hostname(scope: Scope, host: str | None) -> str | None:
    """The host the request was addressed to, as Starlette's ``request.url.hostname``."""
    if host is None:
        server = scope.get("server")
        return str(server[0]) if server else None
    return urlsplit("//" + host).hostname


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` for the FastAPI app after the fast path read the body: the body again, then
    whatever comes next (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
