"""Parley's native operations API of a party node (``{party}/ops/v1``), for its own operators.

Every call needs a token with scope ``parley.operations`` whose subject is one of the party's
operators. Volumes are GeoJSON in and out (see :mod:`parley.api.party.geojson`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from parley.api.line import protection
from parley.api.party import render
from parley.api.party.deps import NodeDep, Operator
from parley.api.party.geojson import DEFAULT_KEYS, volumes_from_input
from parley.domain.entities import parse_entity_id
from parley.domain.errors import InvalidInput, NotFound
from parley.domain.operations import OpKind, OpState, TelemetrySample
from parley.services.party import conformance, constraints, planning
from parley.strategic.f3548 import constraint_from_details, operation_from_details

router = APIRouter(prefix="/ops/v1", tags=["Operations (native)"])

#: Going on despite protected sites and movements (docs/protection.md): the reason, signed.
ProtectionReason = Query(
    default=None,
    max_length=4000,
    description="Go on despite conflicts with protected sites or movements; signed into the log.",
)
IfUnchecked = Query(
    default="refuse",
    description="When a check-only protected item cannot be checked (shared service unreachable): "
    "refuse (503), or proceed flagged unchecked (signed into the log).",
)


async def _vet(
    request: Request, op_id: str, details: dict[str, Any], *, reason: str | None, if_unchecked: str, kind: str
) -> JSONResponse | None:
    """The protection check of a plan or reservation before it is committed (None: go on)."""
    if kind == "constraint":
        operation = constraint_from_details(op_id, details)
    else:
        operation = operation_from_details(op_id, details)
    stopped = await protection.vet(
        protection.desk_of(request),
        operation,
        ref={"kind": kind, "id": op_id},
        reason=reason,
        if_unchecked="proceed" if if_unchecked == "proceed" else "refuse",
    )
    return None if stopped is None else JSONResponse(stopped[1], status_code=stopped[0])


class OperationIn(BaseModel):
    """An operation to plan or the new version of one."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, description="UUID; a new one when absent (creation only).")
    name: str = Field(default="", max_length=200)
    priority: int = Field(default=0, ge=0, le=100, description="F3548 priority; higher wins.")
    state: Literal["Accepted", "Activated"] = "Accepted"
    volumes: Any = Field(description="GeoJSON FeatureCollection (or list) of volumes, or F3548 Volume4Ds.")
    off_nominal_volumes: Any = None
    altitude_lower_m: float | None = None
    altitude_upper_m: float | None = None
    time_start: str | None = None
    time_end: str | None = None

    def defaults(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in DEFAULT_KEYS if getattr(self, k) is not None}

    def details(self) -> dict[str, Any]:
        return {
            "volumes": volumes_from_input(self.volumes, "volumes", self.defaults()),
            "off_nominal_volumes": volumes_from_input(
                self.off_nominal_volumes, "off_nominal_volumes", self.defaults()
            ),
            "priority": self.priority,
        }


class ReservationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = None
    name: str = Field(default="", max_length=200)
    type: str = Field(default="reservation", max_length=100)
    volumes: Any
    altitude_lower_m: float | None = None
    altitude_upper_m: float | None = None
    time_start: str | None = None
    time_end: str | None = None

    def defaults(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in DEFAULT_KEYS if getattr(self, k) is not None}


class SampleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    time: datetime
    lat: float
    lng: float
    alt_m: float = Field(description="Metres above the WGS84 ellipsoid.")
    speed_mps: float | None = Field(default=None, ge=0.0)
    track_deg: float | None = Field(default=None, ge=0.0, lt=360.0)
    vertical_speed_mps: float | None = None
    accuracy_h_m: float | None = Field(default=None, ge=0.0)
    accuracy_v_m: float | None = Field(default=None, ge=0.0)


class TelemetryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    samples: list[SampleIn] = Field(min_length=1, max_length=10_000)


def _plan_response(result: planning.PlanOutcome, created: bool) -> JSONResponse:
    body = render.outcome(result)
    if result.outcome is planning.Outcome.REJECTED:
        blocking = [c for c in result.check.conflicts if c.blocking]
        body["message"] = (
            f"not planned: it conflicts with {len(blocking)} operation(s) or reservation(s) that block it: "
            + "; ".join(c.explanation for c in blocking)
        )
        return JSONResponse(body, status_code=409)
    return JSONResponse(body, status_code=201 if created else 200)


@router.get("/operations")
async def list_operations(
    node: NodeDep, _op: Operator, include_ended: bool = Query(default=False)
) -> JSONResponse:
    """The party's operations and reservations."""
    ops = node.repo.list_operations(node.party, include_ended=include_ended)
    return JSONResponse({"operations": [render.operation(o) for o in ops]})


@router.post("/operations", status_code=201)
async def plan_operation(
    body: OperationIn,
    node: NodeDep,
    _op: Operator,
    http: Request,
    protection_reason: str | None = ProtectionReason,
    if_unchecked: Literal["refuse", "proceed"] = IfUnchecked,
) -> JSONResponse:
    """Plan a new operation: 201 when written to the DSS, 409 with the conflicts that block it (or
    with the protected sites and movements it meets, unless ``protection_reason`` is given)."""
    op_id = parse_entity_id(body.id, "id") if body.id else planning.new_operation_id()
    details = body.details()
    stopped = await _vet(
        http, op_id, details, reason=protection_reason, if_unchecked=if_unchecked, kind="operation"
    )
    if stopped is not None:
        return stopped
    request = planning.PlanRequest(
        op_id, details, OpState(body.state), meta={"name": body.name}, must_exist=False
    )
    return _plan_response(await planning.plan(node, request), created=True)


@router.get("/operations/{op_id}")
async def get_operation(op_id: str, node: NodeDep, _op: Operator) -> JSONResponse:
    op = node.repo.get_operation(node.party, parse_entity_id(op_id, "operation id"))
    if op is None:
        raise NotFound(f"no operation {op_id!r}")
    return JSONResponse({"operation": render.operation(op)})


@router.put("/operations/{op_id}")
async def modify_operation(
    op_id: str,
    body: OperationIn,
    node: NodeDep,
    _op: Operator,
    http: Request,
    protection_reason: str | None = ProtectionReason,
    if_unchecked: Literal["refuse", "proceed"] = IfUnchecked,
) -> JSONResponse:
    """Change an operation's volumes, priority or state (re-checked against everyone's)."""
    entity_id = parse_entity_id(op_id, "operation id")
    if body.id is not None and parse_entity_id(body.id, "id") != entity_id:
        raise InvalidInput("id in the body differs from the path")
    current = node.repo.get_operation(node.party, entity_id)
    meta = {"name": body.name} if body.name else {}
    state = OpState(body.state)
    if current is not None and current.state is OpState.ACTIVATED and body.state == "Accepted":
        raise InvalidInput("an Activated operation cannot go back to Accepted")
    details = body.details()
    stopped = await _vet(
        http, entity_id, details, reason=protection_reason, if_unchecked=if_unchecked, kind="operation"
    )
    if stopped is not None:
        return stopped
    request = planning.PlanRequest(entity_id, details, state, meta=meta, must_exist=True)
    return _plan_response(await planning.plan(node, request), created=False)


@router.post("/operations/{op_id}/activate")
async def activate_operation(op_id: str, node: NodeDep, _op: Operator) -> JSONResponse:
    """Activate an Accepted operation (checked again: the airspace may have changed)."""
    entity_id = parse_entity_id(op_id, "operation id")
    current = node.repo.get_operation(node.party, entity_id)
    if current is None or current.kind is not OpKind.OPERATIONAL_INTENT:
        raise NotFound(f"no operation {op_id!r}")
    details = {**current.details, "off_nominal_volumes": []}  # a Nonconforming one is conforming again
    request = planning.PlanRequest(entity_id, details, OpState.ACTIVATED, must_exist=True)
    return _plan_response(await planning.plan(node, request), created=False)


@router.post("/operations/{op_id}/end")
async def end_operation(op_id: str, node: NodeDep, _op: Operator) -> JSONResponse:
    """End an operation: removed from the DSS, subscribers told; kept here as Ended."""
    entity_id = parse_entity_id(op_id, "operation id")
    current = node.repo.get_operation(node.party, entity_id)
    if current is None or current.kind is not OpKind.OPERATIONAL_INTENT:
        raise NotFound(f"no operation {op_id!r}")
    return JSONResponse({"operation": render.operation(await planning.end(node, entity_id))})


@router.post("/operations/{op_id}/telemetry")
async def ingest_telemetry(
    request: Request, op_id: str, body: TelemetryIn, node: NodeDep, _op: Operator
) -> JSONResponse:
    """Position reports of the operation's aircraft; conformance is checked on the latest."""
    entity_id = parse_entity_id(op_id, "operation id")
    samples = [
        TelemetrySample(
            operation_id=entity_id,
            t=s.time,
            lat=s.lat,
            lng=s.lng,
            alt_m=s.alt_m,
            speed_mps=s.speed_mps,
            track_deg=s.track_deg,
            vertical_speed_mps=s.vertical_speed_mps,
            accuracy_h_m=s.accuracy_h_m,
            accuracy_v_m=s.accuracy_v_m,
        )
        for s in body.samples
    ]
    result = await conformance.ingest(node, entity_id, samples)
    compliance = getattr(request.app.state, "compliance", None)
    if compliance is not None:  # the watches of accepted obligations follow the same reports
        compliance.observe(samples)
    picture = getattr(request.app.state, "picture", None)
    if picture is not None:  # and the tactical picture
        picture.own(samples)
    sharing = getattr(request.app.state, "sharing", None)
    if sharing is not None:  # and the parties it shares its tracks with
        sharing.own(samples)
    return JSONResponse(
        {"accepted": result.accepted, "verdict": result.verdict.value, "state": result.operation.state.value}
    )


@router.get("/reservations")
async def list_reservations(node: NodeDep, _op: Operator) -> JSONResponse:
    ops = [o for o in node.repo.list_operations(node.party) if o.kind is OpKind.CONSTRAINT]
    return JSONResponse({"reservations": [render.operation(o) for o in ops]})


@router.post("/reservations", status_code=201)
async def publish_reservation(
    body: ReservationIn,
    node: NodeDep,
    _op: Operator,
    http: Request,
    protection_reason: str | None = ProtectionReason,
    if_unchecked: Literal["refuse", "proceed"] = IfUnchecked,
) -> JSONResponse:
    """Publish an airspace reservation as an F3548 constraint (constraint-management role); 409 with
    the protected sites and movements it meets, unless ``protection_reason`` is given."""
    constraint_id = parse_entity_id(body.id, "id") if body.id else planning.new_operation_id()
    existed = node.repo.get_operation(node.party, constraint_id) is not None
    details = {"volumes": volumes_from_input(body.volumes, "volumes", body.defaults()), "type": body.type}
    stopped = await _vet(
        http, constraint_id, details, reason=protection_reason, if_unchecked=if_unchecked, kind="constraint"
    )
    if stopped is not None:
        return stopped
    saved = await constraints.publish(
        node, constraints.ConstraintRequest(constraint_id, details, meta={"name": body.name})
    )
    return JSONResponse({"reservation": render.operation(saved)}, status_code=200 if existed else 201)


@router.delete("/reservations/{constraint_id}")
async def withdraw_reservation(constraint_id: str, node: NodeDep, _op: Operator) -> JSONResponse:
    entity_id = parse_entity_id(constraint_id, "reservation id")
    return JSONResponse({"reservation": render.operation(await constraints.withdraw(node, entity_id))})


@router.get("/others")
async def list_others(node: NodeDep, _op: Operator) -> JSONResponse:
    """Other parties' operational intents and constraints as this node last learnt them."""
    return JSONResponse({"others": [render.peer(p) for p in node.repo.list_peers(node.party)]})


@router.get("/notifications")
async def list_notifications(
    node: NodeDep,
    _op: Operator,
    after: AwareDatetime | None = Query(default=None),
    limit: int = Query(default=1000, ge=1, le=10_000),
) -> JSONResponse:
    """What the party's operators have been told (conflicts, state changes, peers' reports)."""
    items = node.repo.list_notifications(node.party, after=after, limit=limit)
    return JSONResponse({"notifications": [render.notification(n) for n in items]})


@router.get("/status")
async def status(node: NodeDep, _op: Operator) -> JSONResponse:
    return JSONResponse(
        {
            "party": node.party,
            "name": node.name,
            "manager": node.manager,
            "uss_base_url": node.base_url,
            "dss_url": node.dss.base_url,
            "roles": sorted(node.roles),
        }
    )
