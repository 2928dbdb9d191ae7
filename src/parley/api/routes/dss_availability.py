"""/dss/v1/uss_availability and /dss/v1/reports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from parley.api.auth import Principal
from parley.api.deps import AA, CM, CMSA, CP, SC, DssDep, authorize
from parley.api.routes._responses import errors, respond
from parley.api.wire import f3548v21 as wire
from parley.domain.entities import Manager, UssAvailability
from parley.services import dss_availability as svc

router = APIRouter(prefix="/dss/v1", tags=["USS availability and reports"])


def _status(record: UssAvailability) -> wire.UssAvailabilityStatusResponse:
    return wire.UssAvailabilityStatusResponse(
        version=record.version,
        status=wire.UssAvailabilityStatus(uss=record.uss, availability=record.availability),
    )


@router.get(
    "/uss_availability/{uss_id}",
    operation_id="getUssAvailability",
    response_model=wire.UssAvailabilityStatusResponse,
    responses=errors(400, 401, 403, 429),
    summary="Get the availability status of a USS.",
)
async def get_availability(
    uss_id: str, dss: DssDep, _caller: Annotated[Principal, Depends(authorize([AA], [SC], [CMSA]))]
) -> JSONResponse:
    return respond(_status(svc.get_uss_availability(dss, uss=uss_id)))


@router.put(
    "/uss_availability/{uss_id}",
    operation_id="setUssAvailability",
    response_model=wire.UssAvailabilityStatusResponse,
    responses=errors(400, 401, 403, 409, 429),
    summary="Set the availability status of a USS (availability arbitration).",
)
async def set_availability(
    uss_id: str,
    body: wire.SetUssAvailabilityStatusParameters,
    dss: DssDep,
    _caller: Annotated[Principal, Depends(authorize([AA]))],
) -> JSONResponse:
    record = svc.set_uss_availability(
        dss, uss=uss_id, old_version=body.old_version, availability=body.availability
    )
    return respond(_status(record))


@router.post(
    "/reports",
    operation_id="makeDssReport",
    status_code=201,
    response_model=wire.ErrorReport,
    responses=errors(400, 401, 403, 429),
    summary="Report information about communication failures observed in the UTM system.",
)
async def make_report(
    body: wire.ErrorReport,
    dss: DssDep,
    caller: Annotated[Principal, Depends(authorize([CM], [CP], [SC], [CMSA], [AA]))],
) -> JSONResponse:
    report = svc.make_report(dss, reporter=Manager(caller.sub), payload=body.model_dump(mode="json"))
    answer = body.model_copy(update={"report_id": report.report_id})
    return JSONResponse(status_code=201, content=answer.model_dump(mode="json", exclude_none=True))
