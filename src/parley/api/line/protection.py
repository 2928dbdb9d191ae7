"""Protected sites and movements over HTTP (``docs/protection.md``, ADR 0010).

- ``shared_router`` — on the DSS host's ``/line/v1`` (scope ``parley.line``, ``sub`` = the party):
  ``PUT protected/{id}`` (the notifier registers an item: exact recipients, check-only recipients
  and the geometry they may check against), ``DELETE protected/{id}`` (cancel),
  ``POST protected/check`` (a check-only recipient's volumes against the items it names; 403 without
  a disclosure, 429 over the rate), ``GET protected/{id}/disclosures`` (the notifier's log).
- ``node_router`` — a party node's ``/protect/v1`` for its operators (scope ``parley.operations``):
  ``POST notify``, ``POST items/{id}/amend``, ``POST items/{id}/cancel``, ``GET items``,
  ``POST check`` (GeoJSON volumes and routes, or one of the party's operations, in; conflicts
  out), ``GET items/{id}/disclosures``.

A plan that conflicts is answered 409 ``{"message", "conflicts"}``; a check that could not be
made 503 ``{"message", "unchecked"}`` (:func:`guard_answer`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from parley.api.auth import Principal
from parley.api.deps import authorize
from parley.api.party.deps import NodeDep, Operator
from parley.clients.line import LINE_SCOPE
from parley.domain.entities import parse_entity_id
from parley.domain.errors import InvalidInput, NotFound
from parley.domain.operations import OpKind
from parley.ports.protection import TooManyChecks
from parley.protection.volumes import operation_of
from parley.services.protection import shared as svc
from parley.services.protection.desk import (
    CheckUnavailable,
    IfUnchecked,
    ProtectionConflicts,
    ProtectionDesk,
    draft_ref,
)
from parley.strategic.f3548 import constraint_from_details, operation_from_details
from parley.strategic.model import Operation

shared_router = APIRouter(prefix="/line/v1", tags=["Line: protected items (shared service)"])
node_router = APIRouter(prefix="/protect/v1", tags=["Protected sites and movements"])

Caller = Annotated[Principal, Depends(authorize([LINE_SCOPE]))]


async def _shared(request: Request) -> svc.SharedProtection:
    shared: svc.SharedProtection = request.app.state.protection_shared
    return shared


SharedDep = Annotated[svc.SharedProtection, Depends(_shared)]


@shared_router.put("/protected/{item_id}")
async def register(
    item_id: str, shared: SharedDep, caller: Caller, body: Annotated[dict[str, Any], Body()]
) -> JSONResponse:
    """Register (or replace) the caller's protected item: ``exact``, ``check_only`` recipients and,
    with check-only ones, the exact ``notice`` members."""
    return JSONResponse(svc.register(shared, caller.sub, item_id, body))


@shared_router.delete("/protected/{item_id}", status_code=204)
async def cancel(item_id: str, shared: SharedDep, caller: Caller) -> Response:
    svc.cancel(shared, caller.sub, item_id)
    return Response(status_code=204)


@shared_router.post(
    "/protected/check",
    responses={
        403: {"description": "nothing disclosed to the caller to check against"},
        429: {"description": "too many checks"},
    },
)
async def check(shared: SharedDep, caller: Caller, body: Annotated[dict[str, Any], Body()]) -> JSONResponse:
    """Check volumes against the check-only items named: per conflict the item, its kind and category,
    when, and the distance to keep; never coordinates."""
    try:
        return JSONResponse(svc.check(shared, caller.sub, body))
    except TooManyChecks as error:
        return JSONResponse({"message": error.message}, status_code=429, headers={"Retry-After": "60"})


@shared_router.get("/protected/{item_id}/disclosures")
async def disclosures(item_id: str, shared: SharedDep, caller: Caller) -> JSONResponse:
    """Who learned what of the caller's item, and when (the notifier only)."""
    return JSONResponse(svc.disclosures(shared, caller.sub, item_id))


# -- the party node's operators ---------------------------------------------------------------------


async def _desk(request: Request) -> ProtectionDesk:
    desk: ProtectionDesk = request.app.state.protection
    return desk


DeskDep = Annotated[ProtectionDesk, Depends(_desk)]


class NoticeIn(BaseModel):
    """A protected item to notify: the exact notice members (GeoJSON ``volume`` for a site or
    ``route`` for a movement, and ``protected``; see docs/protection.md) and who gets what."""

    model_config = ConfigDict(extra="forbid")

    exact: list[str] = Field(default_factory=list, max_length=32)
    check_only: list[str] = Field(default_factory=list, max_length=32)
    subject: str
    reason: str
    deadline: str = Field(description="when acknowledgements are due, YYYY-MM-DDTHH:MM:SS.ffffffZ")
    what: str
    volume: dict[str, Any] | None = None
    route: dict[str, Any] | None = None
    protected: dict[str, Any]

    def notice(self) -> dict[str, Any]:
        return self.model_dump(include={"volume", "route", "protected"}, exclude_none=True)


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = "Protection cancelled"
    reason: str
    deadline: str
    what: str = "cancellation"


class CheckIn(BaseModel):
    """Volumes (line GeoJSON volume Features) and routes (corridors) to check, or one of the party's
    operations or reservations (its volumes as planned, off-nominal ones included)."""

    model_config = ConfigDict(extra="forbid")

    volumes: list[dict[str, Any]] = Field(default_factory=list, max_length=1000)
    routes: list[dict[str, Any]] = Field(default_factory=list, max_length=100)
    operation: str | None = Field(default=None, description="the id of an operation of this party")


def guard_answer(error: ProtectionConflicts | CheckUnavailable) -> tuple[int, dict[str, Any]]:
    """Status and body of a plan stopped by the protection check."""
    if isinstance(error, ProtectionConflicts):
        return 409, {"message": error.message, "protection_conflicts": error.conflicts}
    return 503, {"message": error.message, "unchecked": error.unchecked}


def _stopped(error: ProtectionConflicts | CheckUnavailable) -> JSONResponse:
    status, body = guard_answer(error)
    return JSONResponse(body, status_code=status)


@node_router.post("/notify", status_code=201, responses={503: {"description": "shared service unreachable"}})
async def notify(body: NoticeIn, desk: DeskDep, _op: Operator) -> JSONResponse:
    """Notify a protected site or movement: one notice with the geometry to the ``exact``
    recipients, one with existence, category, window and coarse area to the ``check_only`` ones."""
    try:
        done = await desk.notify(
            body.notice(), exact=body.exact, check_only=body.check_only, subject=body.subject,
            reason=body.reason, deadline=body.deadline, what=body.what,
        )  # fmt: skip
    except CheckUnavailable as error:
        return _stopped(error)
    return JSONResponse(done, status_code=201)


@node_router.post("/items/{item_id}/amend", status_code=201)
async def amend(item_id: str, body: NoticeIn, desk: DeskDep, _op: Operator) -> JSONResponse:
    """A new version of an item this party notified (the same id; new threads)."""
    try:
        done = await desk.notify(
            body.notice(), exact=body.exact, check_only=body.check_only, subject=body.subject,
            reason=body.reason, deadline=body.deadline, what=body.what,
            amends=parse_entity_id(item_id, "protection id"),
        )  # fmt: skip
    except CheckUnavailable as error:
        return _stopped(error)
    return JSONResponse(done, status_code=201)


@node_router.post("/items/{item_id}/cancel", status_code=201)
async def cancel_item(item_id: str, body: CancelIn, desk: DeskDep, _op: Operator) -> JSONResponse:
    try:
        done = await desk.cancel(
            parse_entity_id(item_id, "protection id"),
            subject=body.subject,
            reason=body.reason,
            deadline=body.deadline,
            what=body.what,
        )
    except CheckUnavailable as error:
        return _stopped(error)
    return JSONResponse(done, status_code=201)


@node_router.get("/items")
async def items(desk: DeskDep, _op: Operator) -> JSONResponse:
    """Every protected item this node knows (its own and those notified to it): exact geometry as
    GeoJSON, or the coarse area; each notice's acknowledgements (who has not, who is overdue)."""
    return JSONResponse({"items": desk.listing()})


@node_router.get("/items/{item_id}/disclosures")
async def item_disclosures(item_id: str, desk: DeskDep, _op: Operator) -> JSONResponse:
    try:
        return JSONResponse(await desk.disclosures(parse_entity_id(item_id, "protection id")))
    except CheckUnavailable as error:
        return _stopped(error)


@node_router.post("/check")
async def check_plan(body: CheckIn, desk: DeskDep, node: NodeDep, _op: Operator) -> JSONResponse:
    """Check volumes and routes, or an operation of this party, against every item the node knows
    (nothing is signed, nothing planned)."""
    if body.operation is not None:
        if body.volumes or body.routes:
            raise InvalidInput("operation: give an operation, or volumes and routes, not both")
        op_id = parse_entity_id(body.operation, "operation")
        own = node.repo.get_operation(node.party, op_id)
        if own is None:
            raise NotFound(f"this party has no operation {op_id}")
        convert = constraint_from_details if own.kind is OpKind.CONSTRAINT else operation_from_details
        operation = convert(own.id, own.details)
    elif not body.volumes and not body.routes:
        raise InvalidInput("volumes, routes: give at least one (or an operation)")
    else:
        operation = operation_of(body.volumes, body.routes, id="check")
    found, unchecked, why = await desk.check(operation)
    return JSONResponse({"conflicts": found, "unchecked": unchecked, "unreachable": why})


async def vet(
    desk: ProtectionDesk | None,
    operation: Operation,
    *,
    ref: dict[str, Any],
    reason: str | None,
    if_unchecked: IfUnchecked,
) -> tuple[int, dict[str, Any]] | None:
    """Check a plan before it is committed (:meth:`ProtectionDesk.vet`): ``None`` to go on (a waiver
    signed if one was needed), else the status and body that stop it."""
    if desk is None:
        return None
    try:
        await desk.vet(operation, ref=ref, reason=reason, if_unchecked=if_unchecked)
    except (ProtectionConflicts, CheckUnavailable) as error:
        return guard_answer(error)
    return None


def desk_of(request: Request) -> ProtectionDesk | None:
    desk: ProtectionDesk | None = getattr(request.app.state, "protection", None)
    return desk


async def vet_request(
    desk: ProtectionDesk, body: dict[str, Any], reason: str | None, if_unchecked: IfUnchecked
) -> tuple[int, dict[str, Any]] | None:
    """The protection check of a vacate, hold_clear or passage request being drafted: its volume or
    route corridor (a malformed one is left to the line's own check, which names the field)."""
    try:
        operation = operation_of(
            [body["volume"]] if "volume" in body else [],
            [body["route"]] if "route" in body else [],
            id="draft",
        )
    except InvalidInput:
        return None
    if not operation.volumes:
        return None
    return await vet(desk, operation, ref=draft_ref(body), reason=reason, if_unchecked=if_unchecked)
