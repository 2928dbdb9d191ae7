"""/dss/v1/operational_intent_references: parse, call the use case, serialise."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from parley.api.auth import Principal
from parley.api.deps import CMSA, CP, SC, DssDep, authorize
from parley.api.routes._responses import AIRSPACE_CONFLICT, errors, respond
from parley.api.wire import f3548v21 as wire
from parley.domain.entities import Manager, parse_entity_id
from parley.domain.errors import InvalidInput
from parley.domain.ovn import validate_ovn
from parley.services import dss_operational_intents as svc

router = APIRouter(prefix="/dss/v1/operational_intent_references", tags=["Operational intent references"])

ReadCaller = Annotated[Principal, Depends(authorize([SC], [CMSA]))]
WriteCaller = Annotated[Principal, Depends(authorize([SC], [SC, CP], [CMSA]))]


def _oir(view: svc.OirView) -> wire.OperationalIntentReference:
    return wire.oir_to_wire(view.reference, view.uss_availability)


def _change(change: svc.OirChange, status: int = 200) -> JSONResponse:
    body = wire.ChangeOperationalIntentReferenceResponse(
        subscribers=wire.subscribers_to_wire(change.subscribers),
        operational_intent_reference=_oir(change.operational_intent),
    )
    return respond(body, status)


def _put_request(
    entityid: str, ovn: str | None, body: wire.PutOperationalIntentReferenceParameters
) -> svc.PutOperationalIntent:
    return svc.PutOperationalIntent(
        entity_id=parse_entity_id(entityid, "entity ID"),
        ovn=validate_ovn(ovn) if ovn is not None else None,
        extents=tuple(wire.volume4d_to_domain(v, f"extents[{i}]") for i, v in enumerate(body.extents)),
        key=tuple(body.key or ()),
        state=body.state,
        uss_base_url=body.uss_base_url,
        subscription_id=parse_entity_id(body.subscription_id, "subscription_id")
        if body.subscription_id
        else None,
        new_subscription=(
            svc.ImplicitSubscriptionRequest(
                body.new_subscription.uss_base_url, body.new_subscription.notify_for_constraints
            )
            if body.new_subscription is not None
            else None
        ),
        requested_ovn_suffix=body.requested_ovn_suffix,
    )


@router.post(
    "/query",
    operation_id="queryOperationalIntentReferences",
    response_model=wire.QueryOperationalIntentReferenceResponse,
    responses=errors(400, 401, 403, 413, 429),
    summary="Query all operational intent references in the specified area/volume/time.",
)
async def query(
    body: wire.QueryOperationalIntentReferenceParameters, dss: DssDep, caller: ReadCaller
) -> JSONResponse:
    if body.area_of_interest is None:
        raise InvalidInput("Missing area_of_interest")
    views = svc.query_operational_intents(
        dss,
        requester=Manager(caller.sub),
        area=wire.volume4d_to_domain(body.area_of_interest, "area_of_interest"),
    )
    return respond(
        wire.QueryOperationalIntentReferenceResponse(operational_intent_references=[_oir(v) for v in views])
    )


@router.get(
    "/{entityid}",
    operation_id="getOperationalIntentReference",
    response_model=wire.GetOperationalIntentReferenceResponse,
    responses=errors(400, 401, 403, 404, 429),
    summary="Retrieve the specified operational intent reference.",
)
async def get(entityid: str, dss: DssDep, caller: ReadCaller) -> JSONResponse:
    view = svc.get_operational_intent(
        dss, requester=Manager(caller.sub), entity_id=parse_entity_id(entityid, "entity ID")
    )
    return respond(wire.GetOperationalIntentReferenceResponse(operational_intent_reference=_oir(view)))


@router.put(
    "/{entityid}",
    operation_id="createOperationalIntentReference",
    status_code=201,
    response_model=wire.ChangeOperationalIntentReferenceResponse,
    responses=errors(400, 401, 403, 409, 412, 413, 429, conflict_model=AIRSPACE_CONFLICT),
    summary="Create the specified operational intent reference in the DSS.",
)
async def create(
    entityid: str, body: wire.PutOperationalIntentReferenceParameters, dss: DssDep, caller: WriteCaller
) -> JSONResponse:
    change = svc.put_operational_intent(
        dss, requester=Manager(caller.sub), scopes=caller.scopes, request=_put_request(entityid, None, body)
    )
    return _change(change, 201)


@router.put(
    "/{entityid}/{ovn:path}",
    operation_id="updateOperationalIntentReference",
    response_model=wire.ChangeOperationalIntentReferenceResponse,
    responses=errors(400, 401, 403, 409, 412, 413, 429, conflict_model=AIRSPACE_CONFLICT),
    summary="Update the specified operational intent reference in the DSS.",
)
async def update(
    entityid: str,
    ovn: str,
    body: wire.PutOperationalIntentReferenceParameters,
    dss: DssDep,
    caller: WriteCaller,
) -> JSONResponse:
    change = svc.put_operational_intent(
        dss, requester=Manager(caller.sub), scopes=caller.scopes, request=_put_request(entityid, ovn, body)
    )
    return _change(change)


@router.delete(
    "/{entityid}/{ovn:path}",
    operation_id="deleteOperationalIntentReference",
    response_model=wire.ChangeOperationalIntentReferenceResponse,
    responses=errors(400, 401, 403, 404, 409, 412, 429),
    summary="Remove the specified operational intent reference from the DSS.",
)
async def delete(entityid: str, ovn: str, dss: DssDep, caller: ReadCaller) -> JSONResponse:
    change = svc.delete_operational_intent(
        dss,
        requester=Manager(caller.sub),
        entity_id=parse_entity_id(entityid, "entity ID"),
        ovn=validate_ovn(ovn),
    )
    return _change(change)
