"""A party node's line API (``{party}/line/v1``).

- ``POST entries``: peers deliver entries they wrote (scope ``parley.line``, ``sub`` = the author);
  answered with the receipts signed here.
- For the party's operators (scope ``parley.operations``): send a request, list and show threads,
  take a step (read, accept, decline, counter, withdraw), export the transcript, follow events (SSE).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from parley.api.auth import Principal
from parley.api.deps import authorize
from parley.api.fast import Answer, FastRequest, FastRoute
from parley.api.line import protection
from parley.api.party.deps import OPERATE, Operator
from parley.clients.line import LINE_SCOPE
from parley.domain.entities import parse_entity_id
from parley.line.entry import Kind
from parley.services.compliance import Compliance
from parley.services.line import node as svc
from parley.services.party.node import PartyNode
from parley.services.party.planning import ensure_operator
from parley.services.protection.desk import ProtectionDesk

router = APIRouter(prefix="/line/v1", tags=["Line"])

Peer = Annotated[Principal, Depends(authorize([LINE_SCOPE]))]


async def _line(request: Request) -> svc.LineNode:
    node: svc.LineNode = request.app.state.line
    return node


LineDep = Annotated[svc.LineNode, Depends(_line)]


class RequestIn(BaseModel):
    """A request to send: the body's members as the line defines them (see docs/line.md)."""

    model_config = ConfigDict(extra="forbid")

    to: list[str] = Field(min_length=1, max_length=32)
    type: Literal["vacate", "hold_clear", "passage", "notice", "free_text"]
    subject: str
    reason: str
    deadline: str = Field(description="RFC 3339 UTC, YYYY-MM-DDTHH:MM:SS.ffffffZ")
    ref: dict[str, Any] | None = None
    volume: dict[str, Any] | None = None
    route: dict[str, Any] | None = None
    buffer: dict[str, Any] | None = Field(
        default=None, description="vacate, hold_clear: {h_m, v_m}, metres around the volume (500 and 150)"
    )
    what: str | None = None
    text: str | None = None
    protected: dict[str, Any] | None = Field(
        default=None, description="notice: a protected item (docs/protection.md)"
    )
    amends: str | None = Field(default=None, description="notice: the protected item this one amends")
    cancels: str | None = Field(default=None, description="notice: the protected item this one cancels")
    protection_reason: str | None = Field(
        default=None,
        max_length=4000,
        description="vacate, hold_clear, passage: go on despite protected sites or movements (signed)",
    )
    if_unchecked: Literal["refuse", "proceed"] = Field(
        default="refuse", description="when a check-only protected item cannot be checked: refuse or proceed"
    )

    def body(self) -> dict[str, Any]:
        return self.model_dump(exclude={"to", "protection_reason", "if_unchecked"}, exclude_none=True)


async def _deliver(line: svc.LineNode, peer: Principal, body: dict[str, Any]) -> bytes:
    receipts = await svc.receive(
        line,
        peer.sub,
        body.get("entries"),  # type: ignore[arg-type]
        evidence=body.get("evidence"),
    )
    return b'{"receipts":[' + b",".join(r.raw for r in receipts) + b"]}"


@router.post("/entries")
async def deliver(line: LineDep, peer: Peer, body: Annotated[dict[str, Any], Body()]) -> Response:
    """Entries written by the caller; stored once each; answered with the receipts signed here."""
    return Response(await _deliver(line, peer, body), media_type="application/json")


@router.get("/status")
async def status(line: LineDep, _op: Operator) -> JSONResponse:
    head = line.repo.head(line.party, line.party)
    return JSONResponse(
        {
            "party": line.party,
            "key": line.key.key_id,
            "head": None if head is None else {"seq": head.seq, "hash": head.hash},
            "entries": line.repo.count(line.party),
            "outbox_pending": line.repo.pending(line.party),
        }
    )


@router.post("/key/rotate")
async def rotate_key(line: LineDep, _op: Operator) -> JSONResponse:
    """Replace the party's signing key; the rotation is signed by the key it retires."""
    entry = await svc.rotate_key(line)
    return JSONResponse({"key": line.key.key_id, "entry": entry.to_json()})


async def _send(line: svc.LineNode, body: RequestIn, desk: ProtectionDesk | None = None) -> Answer:
    if desk is not None and body.type in ("vacate", "hold_clear", "passage"):  # checked (docs/protection.md)
        stopped = await protection.vet_request(desk, body.body(), body.protection_reason, body.if_unchecked)
        if stopped is not None:
            return stopped
    entry = await svc.send(line, to=body.to, body=body.body())
    return 201, svc.sent_json_bytes(line, entry)


@router.post("/requests", status_code=201)
async def send(request: Request, line: LineDep, _op: Operator, body: RequestIn) -> Response:
    status, answer = await _send(line, body, protection.desk_of(request))
    if status != 201:
        return JSONResponse(answer, status_code=status)
    return Response(answer, status_code=201, media_type="application/json")


_OBJECT: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])


def fast_routes(line: svc.LineNode, node: PartyNode, desk: ProtectionDesk | None = None) -> list[FastRoute]:
    """The line's hot endpoints for :class:`~parley.api.fast.FastRoutes`: sending a request, and a
    peer's delivery. They answer exactly as the routes above."""

    async def send_request(request: FastRequest) -> Answer:
        principal = request.authorize([OPERATE])
        ensure_operator(node, principal.sub)
        return await _send(line, RequestIn.model_validate_json(request.body), desk)

    async def deliver_entries(request: FastRequest) -> Answer:
        peer = request.authorize([LINE_SCOPE])
        return 200, await _deliver(line, peer, _OBJECT.validate_json(request.body))

    return [
        FastRoute("POST", f"{router.prefix}/requests", send_request),
        FastRoute("POST", f"{router.prefix}/entries", deliver_entries),
    ]


@router.get("/threads")
async def threads(
    line: LineDep, _op: Operator, limit: int = Query(default=100, ge=1, le=1000)
) -> JSONResponse:
    items = []
    for thread_id in line.repo.threads(line.party, limit=limit):
        view = svc.thread_json(line, svc.thread_of(line, thread_id))
        view.pop("entries")
        items.append(view)
    return JSONResponse({"threads": items})


@router.get("/threads/{thread_id}")
async def thread(thread_id: str, line: LineDep, _op: Operator) -> JSONResponse:
    return JSONResponse(svc.thread_json(line, svc.thread_of(line, parse_entity_id(thread_id, "thread id"))))


_STEPS = {
    "read": Kind.READ,
    "accept": Kind.ACCEPT,
    "decline": Kind.DECLINE,
    "counter": Kind.COUNTER,
    "withdraw": Kind.WITHDRAW,
}


@router.post("/threads/{thread_id}/{step}")
async def take_step(
    request: Request,
    thread_id: str,
    step: Literal["read", "accept", "decline", "counter", "withdraw"],
    line: LineDep,
    _op: Operator,
    body: Annotated[dict[str, Any] | None, Body()] = None,
) -> JSONResponse:
    """This party's step in a thread; the body is the step's (``conditions``; ``reason``;
    ``volume``/``window``); 409 when the request's life cycle forbids it. Accepting a ``vacate`` or
    ``hold_clear`` names the aircraft the node will watch (``affected``, computed here) and answers
    with the assessment (``impact``)."""
    tid = parse_entity_id(thread_id, "thread id")
    compliance: Compliance | None = getattr(request.app.state, "compliance", None)
    impact = None
    if step == "accept" and compliance is not None:
        _, impact = await compliance.accept(tid, body or {})
    else:
        await svc.answer(line, tid, _STEPS[step], body or {})
    view = svc.thread_json(line, svc.thread_of(line, tid))
    if impact is not None:
        view["impact"] = impact.to_json()
    return JSONResponse(view)


@router.get("/export")
async def export(line: LineDep, _op: Operator) -> JSONResponse:
    """Everything this party holds on the line, for offline verification (``parley line verify``)."""
    return JSONResponse(svc.export(line))


def _sse(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


@router.get("/events")
async def events(request: Request, line: LineDep, _op: Operator) -> StreamingResponse:
    """Server-sent events: entries written and received, warnings, forks (``retry`` 2 s)."""

    async def stream() -> AsyncIterator[bytes]:
        yield b"retry: 2000\n\n"
        # A disconnected client ends the stream: Starlette cancels it then.
        async with line.events.subscribe() as queue:
            while True:
                try:
                    async with asyncio.timeout(15.0):
                        event = await queue.get()
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                # Everything already queued goes in one write: a stream that yields one event per turn
                # of a busy event loop falls behind a burst and is dropped by the hub.
                batch = [event]
                while event is not None and not queue.empty() and len(batch) < 1000:
                    event = queue.get_nowait()
                    batch.append(event)
                chunk = b"".join(_sse(e) for e in batch if e is not None)
                if chunk:
                    yield chunk
                if event is None:
                    return

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})
