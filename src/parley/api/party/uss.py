"""The F3548 USS peer API of a party node (``{uss_base_url}/uss/v1``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse

from parley.api.auth import Principal
from parley.api.deps import AA, CM, CMSA, CP, SC, authorize
from parley.api.party import wire
from parley.api.party.deps import NodeDep
from parley.api.routes._responses import errors
from parley.domain.entities import parse_entity_id
from parley.services.party import incoming

router = APIRouter(prefix="/uss/v1", tags=["USS peer API (F3548)"])


@router.get(
    "/operational_intents/{entityid}",
    operation_id="getOperationalIntentDetails",
    responses=errors(400, 401, 403, 404, 429),
)
async def get_operational_intent_details(
    entityid: str, node: NodeDep, _caller: Annotated[Principal, Depends(authorize([SC]))]
) -> JSONResponse:
    """Details of one of this USS's operational intents."""
    entity_id = parse_entity_id(entityid, "entity ID")
    return JSONResponse(incoming.operational_intent_details(node, entity_id))


@router.get(
    "/operational_intents/{entityid}/telemetry",
    operation_id="getOperationalIntentTelemetry",
    responses=errors(400, 401, 403, 404, 409, 412, 429),
)
async def get_operational_intent_telemetry(
    entityid: str, node: NodeDep, _caller: Annotated[Principal, Depends(authorize([CMSA]))]
) -> JSONResponse:
    """The latest position of the aircraft of a Nonconforming or Contingent operational intent."""
    entity_id = parse_entity_id(entityid, "entity ID")
    return JSONResponse(incoming.operational_intent_telemetry(node, entity_id))


@router.post(
    "/operational_intents",
    operation_id="notifyOperationalIntentDetailsChanged",
    status_code=204,
    responses=errors(400, 401, 403, 409, 429),
)
async def notify_operational_intent_details_changed(
    body: wire.PutOperationalIntentDetailsParameters,
    node: NodeDep,
    caller: Annotated[Principal, Depends(authorize([SC]))],
) -> Response:
    """Another USS's operational intent changed (or was removed, without ``operational_intent``)."""
    parse_entity_id(body.operational_intent_id, "operational_intent_id")
    await incoming.receive_operational_intent(node, body.json_dict(), caller.sub)
    return Response(status_code=204)


@router.get(
    "/constraints/{entityid}",
    operation_id="getConstraintDetails",
    responses=errors(400, 401, 403, 404, 429),
)
async def get_constraint_details(
    entityid: str, node: NodeDep, _caller: Annotated[Principal, Depends(authorize([CP]))]
) -> JSONResponse:
    """Details of one of this USS's constraints."""
    entity_id = parse_entity_id(entityid, "entity ID")
    return JSONResponse(incoming.constraint_details(node, entity_id))


@router.post(
    "/constraints",
    operation_id="notifyConstraintDetailsChanged",
    status_code=204,
    responses=errors(400, 401, 403, 409, 429),
)
async def notify_constraint_details_changed(
    body: wire.PutConstraintDetailsParameters,
    node: NodeDep,
    caller: Annotated[Principal, Depends(authorize([CM]))],
) -> Response:
    """Another USS's constraint changed (or was removed, without ``constraint``)."""
    parse_entity_id(body.constraint_id, "constraint_id")
    await incoming.receive_constraint(node, body.json_dict(), caller.sub)
    return Response(status_code=204)


@router.post(
    "/reports",
    operation_id="makeUssReport",
    status_code=201,
    responses=errors(400, 401, 403, 429),
)
async def make_uss_report(
    body: wire.ErrorReport,
    node: NodeDep,
    caller: Annotated[Principal, Depends(authorize([SC], [CP], [CM], [CMSA], [AA]))],
) -> JSONResponse:
    """A peer reports an error it saw in an exchange with this USS."""
    report = body.model_dump(mode="json", exclude_unset=True)  # as sent: no defaults invented
    return JSONResponse(incoming.receive_report(node, report, caller.sub), status_code=201)
