"""The map page of a party node (``{party}/ui/``) and its session-authenticated API (``ui/api/``).

The page acts as the party's duty officer. Its calls go to ``ui/api/...``, which checks the session
cookie (and, for a change, the CSRF header) and then runs the same handlers as the node's
JWT-protected operator APIs (``/ops/v1``, ``/line/v1``, ``/protect/v1``), which stay as they are.
``ui/api/events`` is the node's line event stream for the session, with the party's tracks pushed
on it as they move.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from parley.api.auth import Principal
from parley.api.line import compliance as compliance_api
from parley.api.line import node as line_api
from parley.api.line import protection as protection_api
from parley.api.party import ops as ops_api
from parley.api.party.deps import OPERATE
from parley.api.party.tracks import latest_tracks
from parley.api.ui.auth import (
    Session,
    SessionSigner,
    check_password,
    fingerprint,
    load_or_create_key,
    new_csrf_token,
)
from parley.config import PartySettings, Settings, UiOperator
from parley.domain.entities import parse_entity_id
from parley.services.line.node import LineNode
from parley.services.party.node import PartyNode
from parley.web import STATIC_DIR

log = logging.getLogger("parley.ui")

router = APIRouter(prefix="/ui", include_in_schema=False)

SESSION_COOKIE = "parley_ui_session"
CSRF_COOKIE = "parley_ui_csrf"
CSRF_HEADER = "x-csrf-token"
#: How often the event stream looks for moved tracks, seconds.
TRACKS_PERIOD_S = 1.0


@dataclass
class UiConfig:
    """What a party node's page needs: who may sign in, the session key, the online tiles (if any)."""

    party: str
    name: str
    operators: list[UiOperator]
    signer: SessionSigner
    tile_url: str | None = None
    static_dir: Path = field(default=STATIC_DIR)

    def operator(self, name: str) -> UiOperator | None:
        return next((o for o in self.operators if o.name == name), None)


def config_of(settings: Settings, party: PartySettings) -> UiConfig:
    """The page's settings for ``party`` (the session key: ``DATA_DIR/ui/session.key``)."""
    key = load_or_create_key(settings.data_dir / "ui" / "session.key")
    return UiConfig(
        party=party.id,
        name=party.name or party.id,
        operators=list(party.ui_operators),
        signer=SessionSigner(key),
        tile_url=party.ui_tile_url,
    )


def _ui(request: Request) -> UiConfig:
    ui: UiConfig = request.app.state.ui
    return ui


def _cookie_path(request: Request) -> str:
    return f"{request.scope.get('root_path', '')}/ui"


def _unauthorized(message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=401)


class SignInRequired(Exception):
    pass


class CsrfRefused(Exception):
    pass


def _session(request: Request) -> Session:
    ui = _ui(request)
    session = ui.signer.read(request.cookies.get(SESSION_COOKIE))
    if session is None or session.party != ui.party:
        raise SignInRequired
    operator = ui.operator(session.operator)
    if operator is None or fingerprint(operator) != session.fingerprint:
        raise SignInRequired  # removed, or the password changed
    return session


def _csrf(request: Request, expected: str) -> None:
    given = request.headers.get(CSRF_HEADER, "")
    if not given or not hmac.compare_digest(given, expected):
        raise CsrfRefused


async def _reader(request: Request) -> Principal:
    """The session's operator, as the node's handlers take a caller."""
    session = _session(request)
    return Principal(sub=f"ui:{session.operator}", scopes=frozenset({OPERATE}))


async def _actor(request: Request) -> Principal:
    """As :func:`_reader`, for a change: the CSRF header must match the session's token."""
    session = _session(request)
    _csrf(request, session.csrf)
    return Principal(sub=f"ui:{session.operator}", scopes=frozenset({OPERATE}))


Reader = Annotated[Principal, Depends(_reader)]
Actor = Annotated[Principal, Depends(_actor)]


def install(app: Any) -> None:
    """Add the page's routes and error answers to a party node's app (``app.state.ui`` set)."""

    async def sign_in_required(request: Request, exc: Exception) -> Response:
        return _unauthorized("sign in first")

    async def csrf_refused(request: Request, exc: Exception) -> Response:
        return JSONResponse({"message": "missing or wrong CSRF token"}, status_code=403)

    app.add_exception_handler(SignInRequired, sign_in_required)
    app.add_exception_handler(CsrfRefused, csrf_refused)
    app.include_router(router)


def _node(request: Request) -> PartyNode:
    node: PartyNode = request.app.state.node
    return node


def _line(request: Request) -> LineNode:
    line: LineNode = request.app.state.line
    return line


# -- the page ----------------------------------------------------------------------------------------


@router.get("")
async def to_page() -> RedirectResponse:
    return RedirectResponse("ui/", status_code=307)


@router.get("/")
async def page(request: Request) -> Response:
    ui = _ui(request)
    index = ui.static_dir / "index.html"
    if not index.is_file():
        return JSONResponse({"message": "the map page is not built (make web)"}, status_code=404)
    response = FileResponse(index, media_type="text/html", headers={"Cache-Control": "no-store"})
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data: blob: https:; style-src 'self' 'unsafe-inline'; "
        "worker-src 'self' blob:; connect-src 'self' https:; frame-ancestors 'none'"
    )
    if not request.cookies.get(CSRF_COOKIE):
        _set_csrf(request, response, new_csrf_token())
    return response


def _set_csrf(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        CSRF_COOKIE, token, path=_cookie_path(request), secure=True, httponly=False, samesite="strict"
    )


@router.get("/assets/{name:path}")
async def asset(name: str, request: Request) -> Response:
    base = (_ui(request).static_dir / "assets").resolve()
    path = (base / name).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        return JSONResponse({"message": "not found"}, status_code=404)
    return FileResponse(path, headers={"Cache-Control": "public, max-age=31536000, immutable"})


# -- signing in ----------------------------------------------------------------------------------------


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=64)
    password: str = Field(max_length=1024)


@router.post("/api/login")
async def login(request: Request, body: SignIn) -> JSONResponse:
    """Sign in: the CSRF header must match the CSRF cookie the page was served with."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    _csrf(request, cookie)
    ui = _ui(request)
    operator = await asyncio.to_thread(check_password, ui.operators, body.name, body.password)
    if operator is None:
        log.warning("%s: refused sign-in as %r", ui.party, body.name[:64])
        return _unauthorized("wrong name or password")
    csrf = new_csrf_token()
    response = JSONResponse(_session_json(ui, operator.name, csrf))
    response.set_cookie(
        SESSION_COOKIE,
        ui.signer.issue(ui.party, operator, csrf),
        path=_cookie_path(request),
        secure=True,
        httponly=True,
        samesite="strict",
    )
    _set_csrf(request, response, csrf)
    return response


@router.post("/api/logout")
async def logout(request: Request, _op: Actor) -> JSONResponse:
    response = JSONResponse({"signed_out": True})
    response.delete_cookie(SESSION_COOKIE, path=_cookie_path(request), secure=True, httponly=True)
    return response


def _session_json(ui: UiConfig, operator: str, csrf: str) -> dict[str, Any]:
    return {"party": ui.party, "name": ui.name, "operator": operator, "csrf": csrf, "tile_url": ui.tile_url}


@router.get("/api/session")
async def session(request: Request) -> JSONResponse:
    """Who is signed in (401 if nobody), the CSRF token for changes, the online tiles if any."""
    ui = _ui(request)
    found = _session(request)
    return JSONResponse(_session_json(ui, found.operator, found.csrf))


# -- the node's operator APIs, for the session ----------------------------------------------------


@router.get("/api/operations")
async def operations(request: Request, op: Reader) -> JSONResponse:
    return await ops_api.list_operations(_node(request), op, include_ended=False)


@router.get("/api/others")
async def others(request: Request, op: Reader) -> JSONResponse:
    return await ops_api.list_others(_node(request), op)


@router.get("/api/tracks")
async def tracks(request: Request, _op: Reader) -> JSONResponse:
    return JSONResponse(latest_tracks(_node(request)))


@router.get("/api/protected")
async def protected(request: Request, op: Reader) -> JSONResponse:
    return await protection_api.items(request.app.state.protection, op)


@router.get("/api/threads")
async def threads(
    request: Request, op: Reader, limit: int = Query(default=100, ge=1, le=1000)
) -> JSONResponse:
    return await line_api.threads(_line(request), op, limit=limit)


@router.get("/api/threads/{thread_id}")
async def thread(thread_id: str, request: Request, op: Reader) -> JSONResponse:
    return await line_api.thread(thread_id, _line(request), op)


@router.get("/api/threads/{thread_id}/impact")
async def impact(thread_id: str, request: Request, op: Reader) -> JSONResponse:
    return await compliance_api.impact(thread_id, request.app.state.compliance, op)


@router.get("/api/obligations")
async def obligations(request: Request, op: Reader) -> JSONResponse:
    return await compliance_api.obligations(request.app.state.compliance, op)


@router.post("/api/threads/{thread_id}/{step}")
async def take_step(
    thread_id: str,
    step: Literal["read", "accept", "decline", "counter", "withdraw"],
    request: Request,
    op: Actor,
    body: Annotated[dict[str, Any] | None, Body()] = None,
) -> JSONResponse:
    parse_entity_id(thread_id, "thread id")
    log.info("%s: %s %s thread %s", _ui(request).party, op.sub, step, thread_id)
    return await line_api.take_step(request, thread_id, step, _line(request), op, body)


@router.post("/api/requests", status_code=201)
async def send(request: Request, op: Actor, body: line_api.RequestIn) -> Response:
    log.info("%s: %s sends a %s request", _ui(request).party, op.sub, body.type)
    return await line_api.send(request, _line(request), op, body)


# -- live ------------------------------------------------------------------------------------------------


def _sse(kind: str, data: dict[str, Any]) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


@router.get("/api/events")
async def events(request: Request, _op: Reader) -> StreamingResponse:
    """Server-sent events: the node's line events as ``/line/v1/events`` sends them (entries,
    compliance, warnings, ...), and ``tracks`` (the party's aircraft, when one moved)."""
    line = _line(request)
    node = _node(request)

    async def stream() -> AsyncIterator[bytes]:
        yield b"retry: 2000\n\n"
        loop = asyncio.get_running_loop()
        last: str | None = None
        next_look = loop.time()
        quiet_since = loop.time()
        async with line.events.subscribe() as queue:
            while True:
                batch: list[dict[str, Any]] = []
                try:
                    async with asyncio.timeout(max(0.0, next_look - loop.time())):
                        event = await queue.get()
                    if event is None:  # fell too far behind: the page reconnects
                        return
                    batch.append(event)
                    while not queue.empty() and len(batch) < 1000:
                        more = queue.get_nowait()
                        if more is None:
                            return
                        batch.append(more)
                except TimeoutError:
                    pass
                chunk = b"".join(_sse(str(e.get("type", "message")), e) for e in batch)
                if loop.time() >= next_look:
                    next_look = loop.time() + TRACKS_PERIOD_S
                    text = json.dumps(await asyncio.to_thread(latest_tracks, node), separators=(",", ":"))
                    if text != last:
                        last = text
                        chunk += f"event: tracks\ndata: {text}\n\n".encode()
                if chunk:
                    quiet_since = loop.time()
                    yield chunk
                elif loop.time() - quiet_since >= 15.0:
                    quiet_since = loop.time()
                    yield b": keep-alive\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})
