"""The InterUSS flight_planning v1 automated-testing interface of a party node
(``{uss_base_url}/flight_planning/v1``), so that conformance tools (InterUSS uss_qualifier) drive
the node's planning as a virtual user would.

Wire types, paths and statuses are those of
``uas_standards.interuss.automated_testing.flight_planning.v1.api`` (interface 0.7.0); the logic is
in :mod:`parley.services.party.flight_plans`. Scopes, as the interface's OpenAPI declares them:
``interuss.flight_planning.plan`` to plan and to read the user's notifications,
``interuss.flight_planning.direct_automated_test`` for the status and to clear an area. Closing a
flight plan accepts either: the OpenAPI names the test-director scope, while uss_qualifier's
client and InterUSS's mock USS use the planning one.

Requests are read liberally (unknown fields ignored, as the interface asks) and strictly typed:
a body that does not match the interface is a 400 naming the field. Areas are converted to F3548
``Volume4D`` JSON: altitudes must be ``W84`` metres (Parley compares volumes above the WGS84
ellipsoid and has no geoid or terrain model to convert ``SFC`` or ``Takeoff``).

A flight plan's new area is checked against the protected sites and movements the node knows
(``docs/protection.md``) before it is planned, as the operations API checks a plan: a conflict is
``Rejected`` with notes naming each protected item (the interface has no way to give a reason to
go on), a check that could not be made ``Failed``. An activation with the area unchanged is not
checked again, nor an off-nominal report (the aircraft is where it is). ``InReality`` for a flight
in use is not refused: the conflicts are signed into the party's log (a waiver) and reported in
the notes, with the flight planned as the module's table says.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from implicitdict import ImplicitDict
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from uas_standards.interuss.automated_testing.flight_planning.v1 import api

from parley.api.auth import Principal
from parley.api.deps import authorize
from parley.api.line import protection
from parley.api.party.deps import FP_PLAN, FP_TEST, NodeDep
from parley.api.routes._responses import errors
from parley.domain.entities import parse_entity_id
from parley.domain.errors import Conflict, InvalidInput, ParleyError
from parley.domain.operations import OpState, UserNotification
from parley.services.party import flight_plans
from parley.services.party.areas import wire_time
from parley.services.party.node import PartyNode
from parley.services.protection.desk import CheckUnavailable, ProtectionConflicts, explain
from parley.strategic.f3548 import operation_from_details

router = APIRouter(prefix="/flight_planning/v1", tags=["InterUSS flight planning test interface"])

Json = dict[str, Any]

API_NAME = "Flight Planning Automated Testing Interface"
#: Most notifications one query answers.
MAX_NOTIFICATIONS = 10_000
#: How many upsert responses are kept for replay by ``request_id``.
REPLAY_SIZE = 1_000

Planner = Annotated[Principal, Depends(authorize([FP_PLAN]))]
Director = Annotated[Principal, Depends(authorize([FP_TEST]))]
PlannerOrDirector = Annotated[Principal, Depends(authorize([FP_TEST], [FP_PLAN]))]


# -- request bodies (field names as the interface's) ------------------------------------------------


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class LatLngPoint(_In):
    lat: float = Field(ge=-90.0, le=90.0)
    lng: float = Field(ge=-180.0, le=180.0)


class Radius(_In):
    value: float = Field(gt=0.0)
    units: api.RadiusUnits = api.RadiusUnits.M


class Circle(_In):
    center: LatLngPoint | None = None
    radius: Radius | None = None


class Polygon(_In):
    vertices: list[LatLngPoint] = Field(min_length=3)


class Altitude(_In):
    value: float = Field(ge=-8000.0, le=100_000.0)
    reference: api.AltitudeReference
    units: api.AltitudeUnits = api.AltitudeUnits.M


class Time(_In):
    value: AwareDatetime
    format: api.TimeFormat = api.TimeFormat.RFC3339


class Volume3D(_In):
    outline_circle: Circle | None = None
    outline_polygon: Polygon | None = None
    altitude_lower: Altitude | None = None
    altitude_upper: Altitude | None = None


class Volume4D(_In):
    volume: Volume3D
    time_start: Time | None = None
    time_end: Time | None = None


class BasicFlightPlanInformation(_In):
    usage_state: api.BasicFlightPlanInformationUsageState
    uas_state: api.FunctionalState | None = None
    area: list[Volume4D] = Field(default_factory=list)
    description: str = ""


class ASTMF354821OpIntentInformation(_In):
    priority: int | None = None


class FlightPlan(_In):
    basic_information: BasicFlightPlanInformation
    astm_f3548_21: ASTMF354821OpIntentInformation | None = None


class UpsertFlightPlanRequest(_In):
    flight_plan: FlightPlan
    execution_style: api.ExecutionStyle
    request_id: str


class ClearAreaRequest(_In):
    request_id: str
    extent: Volume4D


# -- areas into F3548 volumes -----------------------------------------------------------------------


def _outline(v3: Volume3D, where: str) -> Json:
    circle, polygon = v3.outline_circle, v3.outline_polygon
    if polygon is not None and circle is None:
        return {"outline_polygon": {"vertices": [{"lat": p.lat, "lng": p.lng} for p in polygon.vertices]}}
    if circle is not None and polygon is None:
        if circle.center is None or circle.radius is None:
            raise InvalidInput(f"{where}.outline_circle: a center and a radius are required")
        return {
            "outline_circle": {
                "center": {"lat": circle.center.lat, "lng": circle.center.lng},
                "radius": {"value": circle.radius.value, "units": "M"},
            }
        }
    raise InvalidInput(f"{where}: exactly one of outline_circle and outline_polygon is required")


def _altitude(alt: Altitude | None, where: str, *, other_references: str) -> Json | None:
    """An F3548 ``Altitude`` (W84 metres). ``other_references``: ``"refuse"`` or ``"unbounded"``."""
    if alt is None:
        return None
    if alt.reference is not api.AltitudeReference.W84:
        if other_references == "unbounded":
            return None
        raise InvalidInput(
            f"{where}: altitude reference {alt.reference.value!r} is not supported; give altitudes in 'W84' "
            "(metres above the WGS84 ellipsoid): this USS has no geoid or terrain model to convert them"
        )
    return {"value": alt.value, "reference": "W84", "units": "M"}


def to_f3548(v: Volume4D, where: str, *, other_references: str = "refuse") -> Json:
    """An interface ``Volume4D`` as F3548 ``Volume4D`` JSON."""
    volume: Json = _outline(v.volume, f"{where}.volume")
    for key in ("altitude_lower", "altitude_upper"):
        alt = _altitude(getattr(v.volume, key), f"{where}.volume.{key}", other_references=other_references)
        if alt is not None:
            volume[key] = alt
    out: Json = {"volume": volume}
    if v.time_start is not None:
        out["time_start"] = wire_time(v.time_start.value)
    if v.time_end is not None:
        out["time_end"] = wire_time(v.time_end.value)
    return out


def _request(flight_plan_id: str, body: UpsertFlightPlanRequest) -> flight_plans.FlightPlanRequest:
    info = body.flight_plan.basic_information
    f3548 = body.flight_plan.astm_f3548_21
    uas_state = info.uas_state or api.FunctionalState.NotSpecified
    return flight_plans.FlightPlanRequest(
        flight_plan_id=flight_plan_id,
        usage=flight_plans.Usage(info.usage_state.value),
        uas_state=flight_plans.UasState(uas_state.value),
        volumes=[to_f3548(v, f"flight_plan.basic_information.area[{i}]") for i, v in enumerate(info.area)],
        priority=f3548.priority if f3548 is not None else None,
        style=flight_plans.Style(body.execution_style.value),
        description=info.description,
    )


# -- protected sites and movements -----------------------------------------------------------------


def _protected_conflicts(conflicts: list[Json]) -> str:
    items = len({c["protected"] for c in conflicts})
    return f"it conflicts with {items} protected site(s) or movement(s): " + "; ".join(
        explain(c) for c in conflicts[:10]
    )


async def _protection_check(
    http: Request, node: PartyNode, request: flight_plans.FlightPlanRequest
) -> tuple[flight_plans.FlightPlanOutcome | None, str | None]:
    """The protection check of a flight plan's new area (see the module): the outcome that stops
    it, or None; and what to add to the notes of a plan that goes on."""
    desk = protection.desk_of(http)
    if (
        desk is None
        or not request.volumes
        or request.usage is flight_plans.Usage.CLOSED
        or request.style is flight_plans.Style.HYPOTHETICAL
        or request.uas_state in (flight_plans.UasState.OFF_NOMINAL, flight_plans.UasState.CONTINGENT)
    ):
        return None, None
    current = flight_plans.find(node, request.flight_plan_id)
    if current is not None and current.state is OpState.ENDED:
        current = None
    if current is not None and list(current.details.get("volumes") or []) == list(request.volumes):
        return None, None  # an activation or a new priority: the area was checked when planned
    op_id = current.id if current is not None else request.flight_plan_id
    operation = operation_from_details(op_id, {"volumes": list(request.volumes)})
    status = flight_plans.status_of(current)
    in_reality = (
        request.style is flight_plans.Style.IN_REALITY
        and current is not None
        and current.state in (OpState.ACTIVATED, OpState.NONCONFORMING)
    )
    try:
        if in_reality:
            found = await desk.vet(
                operation,
                ref={"kind": "operation", "id": op_id},
                reason=f"InReality: the flight of flight plan {request.flight_plan_id} is in this area in reality",
                if_unchecked="proceed",
            )
            notes = []
            if found["conflicts"]:
                notes.append("in reality " + _protected_conflicts(found["conflicts"]))
            if found["unchecked"]:
                notes.append(
                    f"not checked against {len(found['unchecked'])} protected item(s) notified check-only"
                )
            return None, "; ".join(notes) + " (signed into the log)" if notes else None
        await desk.vet(operation, ref={"kind": "operation", "id": op_id}, reason=None, if_unchecked="refuse")
    except ProtectionConflicts as error:
        refusal = "not planned: " + _protected_conflicts(error.conflicts)
        return flight_plans.FlightPlanOutcome(flight_plans.Result.REJECTED, status, refusal), None
    except CheckUnavailable as error:
        return flight_plans.FlightPlanOutcome(flight_plans.Result.FAILED, status, error.message), None
    except ParleyError as error:
        return flight_plans.FlightPlanOutcome(
            flight_plans.Result.FAILED, status, f"the protection check failed: {error.message}"
        ), None
    return None, None


# -- responses --------------------------------------------------------------------------------------


def _advisories(outcome: flight_plans.FlightPlanOutcome) -> api.AdvisoryInclusion:
    if outcome.advisories is None:
        return api.AdvisoryInclusion.Unknown
    if outcome.advisories:
        return api.AdvisoryInclusion.AtLeastOneAdvisoryOrCondition
    return api.AdvisoryInclusion.NoAdvisoriesOrConditions


def _fields(outcome: flight_plans.FlightPlanOutcome) -> Json:
    fields: Json = {
        "planning_result": api.PlanningActivityResult(outcome.result.value),
        "flight_plan_status": api.FlightPlanStatus(outcome.status.value),
        "includes_advisories": _advisories(outcome),
    }
    if outcome.notes:
        fields["notes"] = outcome.notes
    return fields


def _respond(body: ImplicitDict, status: int = 200) -> JSONResponse:
    return JSONResponse(status_code=status, content=body)


def _user_notification(n: UserNotification) -> api.UserNotification:
    conflicts = "Single" if n.kind == "conflict" else "Unknown"
    return api.UserNotification(
        observed_at=api.Time(value=wire_time(n.at)["value"], format=api.TimeFormat.RFC3339),
        message=n.message,
        conflicts=conflicts,
    )


class _Replies:
    """The responses to recent upserts by ``request_id``: a repeated request gets the first
    response (409 while the first is still being handled), as the interface asks."""

    def __init__(self, size: int = REPLAY_SIZE) -> None:
        self._size = size
        self._done: OrderedDict[str, tuple[str, Json]] = OrderedDict()
        self._running: set[str] = set()

    def get(self, request_id: str, flight_plan_id: str) -> Json | None:
        if request_id in self._running:
            raise Conflict(f"request {request_id!r} is still being handled")
        if request_id not in self._done:
            return None
        plan_id, body = self._done[request_id]
        if plan_id != flight_plan_id:
            raise Conflict(f"request_id {request_id!r} was used for flight plan {plan_id}")
        return body

    def start(self, request_id: str) -> None:
        self._running.add(request_id)

    def finish(self, request_id: str, flight_plan_id: str, body: Json | None) -> None:
        self._running.discard(request_id)
        if body is None:
            return
        self._done[request_id] = (flight_plan_id, body)
        while len(self._done) > self._size:
            self._done.popitem(last=False)


async def _replies(request: Request) -> _Replies:
    state = request.app.state
    replies: _Replies | None = getattr(state, "flight_planning_replies", None)
    if replies is None:
        replies = state.flight_planning_replies = _Replies()
    return replies


Replies = Annotated[_Replies, Depends(_replies)]


# -- routes -----------------------------------------------------------------------------------------


@router.get("/status", operation_id="GetStatus", responses=errors(401, 403))
async def get_status(_director: Director) -> JSONResponse:
    """Whether this interface is ready for tests (it is, once the node serves requests)."""
    return _respond(
        api.StatusResponse(
            status=api.StatusResponseStatus.Ready, api_name=API_NAME, api_version=f"v{api.API_VERSION}"
        )
    )


@router.put(
    "/flight_plans/{flight_plan_id}", operation_id="UpsertFlightPlan", responses=errors(400, 401, 403, 409)
)
async def upsert_flight_plan(
    flight_plan_id: str,
    body: UpsertFlightPlanRequest,
    node: NodeDep,
    replies: Replies,
    _planner: Planner,
    http: Request,
) -> JSONResponse:
    """A virtual user creates, changes, activates, reports off-nominal or closes a flight plan."""
    plan_id = parse_entity_id(flight_plan_id, "flight_plan_id")
    request = _request(plan_id, body)
    earlier = replies.get(body.request_id, plan_id)
    if earlier is not None:
        return JSONResponse(earlier)
    replies.start(body.request_id)
    content: Json | None = None
    try:
        stopped, protected_notes = await _protection_check(http, node, request)
        outcome = stopped or await flight_plans.upsert(node, request)
        if protected_notes and outcome.result is flight_plans.Result.COMPLETED:
            notes = f"{outcome.notes}; {protected_notes}" if outcome.notes else protected_notes
            outcome = dataclasses.replace(outcome, notes=notes, advisories=True)
        content = api.UpsertFlightPlanResponse(**_fields(outcome))
    finally:
        replies.finish(body.request_id, plan_id, content)
    return JSONResponse(content)


@router.delete(
    "/flight_plans/{flight_plan_id}", operation_id="DeleteFlightPlan", responses=errors(400, 401, 403, 404)
)
async def delete_flight_plan(flight_plan_id: str, node: NodeDep, _caller: PlannerOrDirector) -> JSONResponse:
    """Close a flight plan no longer needed: 404 (with the interface's body) when none is open."""
    plan_id = parse_entity_id(flight_plan_id, "flight_plan_id")
    outcome = await flight_plans.close(node, plan_id)
    body = api.DeleteFlightPlanResponse(**_fields(outcome))
    if not outcome.found:
        body["message"] = outcome.notes  # the house's error body, beside the interface's
    return _respond(body, 200 if outcome.found else 404)


@router.post("/clear_area_requests", operation_id="ClearArea", responses=errors(400, 401, 403))
async def clear_area(body: ClearAreaRequest, node: NodeDep, _director: Director) -> JSONResponse:
    """Close every flight plan of this USS that meets the extent (altitudes in a reference other
    than W84 are taken as unbounded: clearing more is safe)."""
    extent = to_f3548(body.extent, "extent", other_references="unbounded")
    result = await flight_plans.clear_area(node, extent)
    details = api.ClearAreaOutcomeDetails()  # free-form: its keys are ours
    details["flight_plans_closed"] = result.flight_plan_ids
    details["operational_intents_closed"] = result.closed
    details["errors"] = result.errors
    return _respond(
        api.ClearAreaResponse(
            outcome=api.ClearAreaOutcome(success=result.success, message=result.message, details=details)
        )
    )


@router.get("/user_notifications", operation_id="QueryUserNotifications", responses=errors(400, 401, 403))
async def query_user_notifications(
    node: NodeDep,
    _planner: Planner,
    after: Annotated[AwareDatetime, Query(description="RFC 3339; notifications observed at or after it.")],
    before: Annotated[
        AwareDatetime | None,
        Query(description="RFC 3339; notifications observed at or before it (default: now)."),
    ] = None,
) -> JSONResponse:
    """What the virtual user has been told, in the order observed."""
    until: datetime = before if before is not None else node.now()
    if until < after:
        raise InvalidInput(f"'before' ({until.isoformat()}) is earlier than 'after' ({after.isoformat()})")
    items = node.repo.list_notifications(node.party, after=after, before=until, limit=MAX_NOTIFICATIONS)
    return _respond(
        api.QueryUserNotificationsResponse(user_notifications=[_user_notification(n) for n in items])
    )
