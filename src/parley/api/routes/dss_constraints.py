"""/dss/v1/constraint_references: parse, call the use case, serialise."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from parley.api.auth import Principal
from parley.api.deps import CM, CP, DssDep, authorize
from parley.api.routes._responses import errors, respond
from parley.api.wire import f3548v21 as wire
from parley.domain.entities import Manager, parse_entity_id
from parley.domain.errors import InvalidInput
from parley.domain.ovn import validate_ovn
from parley.services import dss_constraints as svc
from parley.services.views import ConstraintView

router = APIRouter(prefix="/dss/v1/constraint_references", tags=["Constraint references"])

ReadCaller = Annotated[Principal, Depends(authorize([CM], [CP]))]
WriteCaller = Annotated[Principal, Depends(authorize([CM]))]


def _ref(view: ConstraintView) -> wire.ConstraintReference:
    return wire.constraint_to_wire(view.reference, view.uss_availability)


def _change(change: svc.ConstraintChange, status: int = 200) -> JSONResponse:
    body = wire.ChangeConstraintReferenceResponse(
        subscribers=wire.subscribers_to_wire(change.subscribers), constraint_reference=_ref(change.constraint)
    )
    return respond(body, status)


def _put_request(
    entityid: str, ovn: str | None, body: wire.PutConstraintReferenceParameters
) -> svc.PutConstraint:
    return svc.PutConstraint(
        entity_id=parse_entity_id(entityid, "entity ID"),
        ovn=validate_ovn(ovn) if ovn is not None else None,
        extents=tuple(wire.volume4d_to_domain(v, f"extents[{i}]") for i, v in enumerate(body.extents)),
        uss_base_url=body.uss_base_url,
    )


@router.post(
    "/query",
    operation_id="queryConstraintReferences",
    response_model=wire.QueryConstraintReferencesResponse,
    responses=errors(400, 401, 403, 413, 429),
    summary="Query all constraint references in the specified area/volume/time.",
)
async def query(
    body: wire.QueryConstraintReferenceParameters, dss: DssDep, caller: ReadCaller
) -> JSONResponse:
    if body.area_of_interest is None:
        raise InvalidInput("Missing area_of_interest")
    views = svc.query_constraints(
        dss,
        requester=Manager(caller.sub),
        area=wire.volume4d_to_domain(body.area_of_interest, "area_of_interest"),
    )
    return respond(wire.QueryConstraintReferencesResponse(constraint_references=[_ref(v) for v in views]))


@router.get(
    "/{entityid}",
    operation_id="getConstraintReference",
    response_model=wire.GetConstraintReferenceResponse,
    responses=errors(400, 401, 403, 404, 429),
    summary="Retrieve the specified constraint reference.",
)
async def get(entityid: str, dss: DssDep, caller: ReadCaller) -> JSONResponse:
    view = svc.get_constraint(
        dss, requester=Manager(caller.sub), entity_id=parse_entity_id(entityid, "entity ID")
    )
    return respond(wire.GetConstraintReferenceResponse(constraint_reference=_ref(view)))


@router.put(
    "/{entityid}",
    operation_id="createConstraintReference",
    status_code=201,
    response_model=wire.ChangeConstraintReferenceResponse,
    responses=errors(400, 401, 403, 409, 413, 429),
    summary="Create the specified constraint reference in the DSS.",
)
async def create(
    entityid: str, body: wire.PutConstraintReferenceParameters, dss: DssDep, caller: WriteCaller
) -> JSONResponse:
    change = svc.put_constraint(
        dss, requester=Manager(caller.sub), request=_put_request(entityid, None, body)
    )
    return _change(change, 201)


@router.put(
    "/{entityid}/{ovn:path}",
    operation_id="updateConstraintReference",
    response_model=wire.ChangeConstraintReferenceResponse,
    responses=errors(400, 401, 403, 409, 413, 429),
    summary="Update the specified constraint reference in the DSS.",
)
async def update(
    entityid: str, ovn: str, body: wire.PutConstraintReferenceParameters, dss: DssDep, caller: WriteCaller
) -> JSONResponse:
    change = svc.put_constraint(dss, requester=Manager(caller.sub), request=_put_request(entityid, ovn, body))
    return _change(change)


@router.delete(
    "/{entityid}/{ovn:path}",
    operation_id="deleteConstraintReference",
    response_model=wire.ChangeConstraintReferenceResponse,
    responses=errors(400, 401, 403, 404, 409, 429),
    summary="Remove the specified constraint reference from the DSS.",
)
async def delete(entityid: str, ovn: str, dss: DssDep, caller: WriteCaller) -> JSONResponse:
    change = svc.delete_constraint(
        dss,
        requester=Manager(caller.sub),
        entity_id=parse_entity_id(entityid, "entity ID"),
        ovn=validate_ovn(ovn),
    )
    return _change(change)
