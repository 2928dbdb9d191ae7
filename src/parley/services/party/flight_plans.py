"""Flight plans as a virtual user asks for them (the InterUSS flight_planning v1 test interface).

A *flight plan* is the user's view of one of the party's operational intents, found by the
``flight_plan_id`` the test driver chose (kept in the operation's ``meta``). Each request is
played through the same use cases the party's own operators use (:mod:`planning`):

==========================  ===========================  =============================================
usage state                 UAS state                    what happens
==========================  ===========================  =============================================
Planned                     Nominal / NotSpecified       plan Accepted (create, or modify)
InUse                       Nominal / NotSpecified       plan Activated (activate and/or modify;
                                                         Nonconforming -> Activated: conforming again;
                                                         a new plan: Accepted, then Activated, as the
                                                         DSS creates intents Accepted only)
InUse                       OffNominal / Contingent      Activated or Nonconforming -> Nonconforming /
                                                         Contingent, the area as off-nominal volumes
                                                         where it differs from the planned volumes
Closed                      any                          end the operation
==========================  ===========================  =============================================

Execution styles: ``IfAllowed`` does what the table says when the rules allow it, else answers
Rejected (a blocking conflict, a transition F3548 forbids, an invalid plan) and changes
nothing. ``InReality`` is the same, except that a flight in use whose new area is refused goes
Nonconforming with that area as off-nominal volumes (the aircraft is really there: F3548 wants it
shown, not hidden). ``Hypothetical`` is NotSupported: Parley has no dry-run of planning.

Conflicts a completed plan has (those the rules allow, e.g. with a lower priority) are recorded
as user notifications of kind ``conflict``, as :mod:`incoming` does for the other side of the
conflict, so that the virtual user sees both (astm.f3548.v21.SCD0090 and SCD0095 in spirit).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from parley.domain.errors import (
    Conflict,
    ContentionExhausted,
    InvalidInput,
    ParleyError,
    UpstreamFailure,
    VersionMismatch,
)
from parley.domain.operations import OpKind, OpState, OwnOperation
from parley.services.party.areas import bounding_volume, parse_wire_time
from parley.services.party.node import PartyNode
from parley.services.party.planning import (
    Outcome,
    PlanRequest,
    change_state,
    end,
    new_operation_id,
    plan,
)
from parley.strategic import CheckResult, OperationConflict, check
from parley.strategic.f3548 import operation_from_details

log = logging.getLogger("parley.party.flight_plans")

Json = dict[str, Any]

#: ``meta`` key of the test driver's flight plan id.
FLIGHT_PLAN_ID = "flight_plan_id"


class Usage(StrEnum):
    """The user's use of the flight plan (the interface's ``usage_state``)."""

    PLANNED = "Planned"
    IN_USE = "InUse"
    CLOSED = "Closed"


class UasState(StrEnum):
    """How the user's aircraft is doing (the interface's ``uas_state``)."""

    NOMINAL = "Nominal"
    OFF_NOMINAL = "OffNominal"
    CONTINGENT = "Contingent"
    NOT_SPECIFIED = "NotSpecified"


class Style(StrEnum):
    """How the request is to be carried out (the interface's ``execution_style``)."""

    HYPOTHETICAL = "Hypothetical"
    IF_ALLOWED = "IfAllowed"
    IN_REALITY = "InReality"


class Result(StrEnum):
    """How the activity ended (the interface's ``PlanningActivityResult``)."""

    COMPLETED = "Completed"
    REJECTED = "Rejected"
    FAILED = "Failed"
    NOT_SUPPORTED = "NotSupported"


class PlanStatus(StrEnum):
    """The flight plan's status as the user sees it (the interface's ``FlightPlanStatus``)."""

    NOT_PLANNED = "NotPlanned"
    PLANNED = "Planned"
    OK_TO_FLY = "OkToFly"
    OFF_NOMINAL = "OffNominal"
    CLOSED = "Closed"


@dataclass(frozen=True, slots=True)
class FlightPlanRequest:
    """Create, change or close flight plan ``flight_plan_id``.

    ``volumes`` are F3548 ``Volume4D`` JSON (the user's area); ``priority`` None keeps the current
    priority (0 for a new plan)."""

    flight_plan_id: str
    usage: Usage
    uas_state: UasState = UasState.NOT_SPECIFIED
    volumes: Sequence[Json] = ()
    priority: int | None = None
    style: Style = Style.IF_ALLOWED
    description: str = ""


@dataclass(frozen=True, slots=True)
class FlightPlanOutcome:
    """What the user is told. ``advisories``: whether conflicts were reported with a completed plan
    (None: not applicable). ``found`` is False when a close named no open flight plan."""

    result: Result
    status: PlanStatus
    notes: str | None = None
    advisories: bool | None = None
    operation: OwnOperation | None = None
    found: bool = True


@dataclass(frozen=True, slots=True)
class ClearOutcome:
    """What clearing an area did: the flight plans (operation ids) closed, and those that could
    not be, with why."""

    success: bool
    message: str
    closed: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    flight_plan_ids: list[str] = field(default_factory=list)


def status_of(op: OwnOperation | None) -> PlanStatus:
    """The user's status of an operation (None: not planned)."""
    if op is None:
        return PlanStatus.NOT_PLANNED
    return {
        OpState.ACCEPTED: PlanStatus.PLANNED,
        OpState.ACTIVATED: PlanStatus.OK_TO_FLY,
        OpState.NONCONFORMING: PlanStatus.OFF_NOMINAL,
        OpState.CONTINGENT: PlanStatus.OFF_NOMINAL,
        OpState.ENDED: PlanStatus.CLOSED,
    }.get(op.state, PlanStatus.NOT_PLANNED)


def find(node: PartyNode, flight_plan_id: str) -> OwnOperation | None:
    """The latest operation of ``flight_plan_id`` (possibly Ended), if any."""
    op = node.repo.get_operation_by_flight_plan(node.party, flight_plan_id)
    return op if op is not None and op.kind is OpKind.OPERATIONAL_INTENT else None


def _open(op: OwnOperation | None) -> OwnOperation | None:
    return op if op is not None and op.state is not OpState.ENDED else None


def _lock_key(flight_plan_id: str) -> str:
    return f"flight_plan:{flight_plan_id}"


# -- upsert ----------------------------------------------------------------------------------------


async def upsert(node: PartyNode, request: FlightPlanRequest) -> FlightPlanOutcome:
    """Carry out the user's request (see the module's table); errors of the rules or of the
    systems involved become Rejected or Failed outcomes with notes, never exceptions."""
    async with node.lock(_lock_key(request.flight_plan_id)):
        current = _open(find(node, request.flight_plan_id))
        if request.style is Style.HYPOTHETICAL:
            return FlightPlanOutcome(
                Result.NOT_SUPPORTED,
                status_of(current),
                "Hypothetical execution is not supported: this USS plans only for real (use IfAllowed)",
            )
        try:
            if request.usage is Usage.CLOSED:
                return await _close(node, current)
            if request.uas_state in (UasState.OFF_NOMINAL, UasState.CONTINGENT):
                return await _off_nominal(node, current, request)
            return await _nominal(node, current, request)
        except (UpstreamFailure, ContentionExhausted, VersionMismatch) as error:
            return _failed(node, request.flight_plan_id, error)
        except (Conflict, InvalidInput) as error:  # a transition the rules forbid; an invalid plan
            return FlightPlanOutcome(
                Result.REJECTED, status_of(_open(find(node, request.flight_plan_id))), error.message
            )
        except ParleyError as error:
            return _failed(node, request.flight_plan_id, error)


def _failed(node: PartyNode, flight_plan_id: str, error: ParleyError) -> FlightPlanOutcome:
    log.warning("flight plan %s failed: %s", flight_plan_id, error.message)
    return FlightPlanOutcome(
        Result.FAILED,
        status_of(_open(find(node, flight_plan_id))),
        f"{type(error).__name__}: {error.message}",
    )


async def _nominal(
    node: PartyNode, current: OwnOperation | None, request: FlightPlanRequest
) -> FlightPlanOutcome:
    target = OpState.ACCEPTED if request.usage is Usage.PLANNED else OpState.ACTIVATED
    if target is OpState.ACCEPTED and current is not None and current.state is not OpState.ACCEPTED:
        return FlightPlanOutcome(
            Result.REJECTED,
            status_of(current),
            f"the flight plan is {current.state.value} (in use): it cannot go back to Planned",
        )
    if not request.volumes:
        return FlightPlanOutcome(Result.REJECTED, status_of(current), "the flight plan has no area")
    priority = request.priority if request.priority is not None else (current.priority if current else 0)
    details: Json = {"volumes": list(request.volumes), "off_nominal_volumes": [], "priority": priority}
    meta: Json = {FLIGHT_PLAN_ID: request.flight_plan_id}
    if request.description:
        meta["name"] = request.description
    if current is None and target is OpState.ACTIVATED:
        # The DSS creates operational intents Accepted only (F3548 state diagram): plan, then activate.
        first = await plan(node, PlanRequest(new_operation_id(), details, OpState.ACCEPTED, meta, False))
        if first.outcome is Outcome.REJECTED or first.operation is None:
            return FlightPlanOutcome(
                Result.REJECTED, PlanStatus.NOT_PLANNED, "not planned: " + _refusal(first.check)
            )
        current = first.operation
    op_id = current.id if current is not None else new_operation_id()
    outcome = await plan(node, PlanRequest(op_id, details, target, meta=meta, must_exist=current is not None))
    if outcome.outcome is Outcome.REJECTED:
        refusal = _refusal(outcome.check)
        if (
            request.style is Style.IN_REALITY
            and current is not None
            and current.state in (OpState.ACTIVATED, OpState.NONCONFORMING)
            and target is OpState.ACTIVATED
        ):
            moved = await change_state(
                node, current.id, OpState.NONCONFORMING, off_nominal_volumes=request.volumes
            )
            return FlightPlanOutcome(
                Result.COMPLETED,
                status_of(moved),
                f"the flight is in this area in reality, but {refusal}; it is Nonconforming, with the area as "
                "off-nominal volumes",
                advisories=True,
                operation=moved,
            )
        return FlightPlanOutcome(Result.REJECTED, status_of(current), "not planned: " + refusal)
    op = outcome.operation
    conflicts = outcome.check.conflicts
    if op is not None:
        _notify_conflicts(node, op, conflicts)
    notes = None
    if conflicts:
        notes = f"planned with {len(conflicts)} conflict(s) the rules allow: " + "; ".join(
            _describe(c) for c in conflicts
        )
    return FlightPlanOutcome(Result.COMPLETED, status_of(op), notes, advisories=bool(conflicts), operation=op)


async def _off_nominal(
    node: PartyNode, current: OwnOperation | None, request: FlightPlanRequest
) -> FlightPlanOutcome:
    state = OpState.NONCONFORMING if request.uas_state is UasState.OFF_NOMINAL else OpState.CONTINGENT
    if request.usage is not Usage.IN_USE:
        return FlightPlanOutcome(
            Result.REJECTED,
            status_of(current),
            f"a UAS state of {request.uas_state.value} applies to a flight in use (usage_state InUse)",
        )
    if current is None:
        return FlightPlanOutcome(
            Result.NOT_SUPPORTED,
            PlanStatus.NOT_PLANNED,
            f"a new flight plan cannot start {request.uas_state.value}: plan it in use (InUse, Nominal) first",
        )
    if current.state is OpState.ACCEPTED:
        return FlightPlanOutcome(
            Result.REJECTED,
            status_of(current),
            f"the flight plan is not in use yet (Accepted): it cannot become {state.value}; "
            "put it in use (InUse, Nominal) first",
        )
    planned = list(current.details.get("volumes") or [])
    off_nominal = list(request.volumes) if request.volumes and list(request.volumes) != planned else None
    op = await change_state(node, current.id, state, off_nominal_volumes=off_nominal)
    notes = None
    if request.priority is not None and request.priority != current.priority:
        notes = f"priority {request.priority} not applied: an off-nominal flight keeps priority {current.priority}"
    return FlightPlanOutcome(Result.COMPLETED, status_of(op), notes, operation=op)


async def _close(node: PartyNode, current: OwnOperation | None) -> FlightPlanOutcome:
    if current is None:
        return FlightPlanOutcome(Result.COMPLETED, PlanStatus.CLOSED, "no open flight plan: nothing to close")
    op = await end(node, current.id)
    return FlightPlanOutcome(Result.COMPLETED, status_of(op), operation=op)


def _describe(conflict: OperationConflict) -> str:
    kind = "constraint" if conflict.other_kind.value == "constraint" else "operational intent"
    return f"{kind} {conflict.other_id} of {conflict.other_manager!r}: {conflict.explanation}"


def _refusal(result: CheckResult) -> str:
    blocking = result.blocking
    return (
        f"it conflicts with {len(blocking)} operational intent(s) or constraint(s) that block it: "
        + "; ".join(_describe(c) for c in blocking)
    )


def _notify_conflicts(node: PartyNode, op: OwnOperation, conflicts: Sequence[OperationConflict]) -> None:
    for conflict in conflicts:
        node.notify_user(
            "conflict",
            f"{op.name or op.id} conflicts with " + _describe(conflict),
            operation_id=op.id,
            body={
                "other_id": conflict.other_id,
                "other_kind": conflict.other_kind.value,
                "other_manager": conflict.other_manager,
                "other_priority": conflict.other_priority,
                "blocking": conflict.blocking,
                "reason": conflict.reason.value,
            },
        )


# -- close (delete) --------------------------------------------------------------------------------


async def close(node: PartyNode, flight_plan_id: str) -> FlightPlanOutcome:
    """End flight plan ``flight_plan_id``; ``found`` is False when there is no open one."""
    async with node.lock(_lock_key(flight_plan_id)):
        latest = find(node, flight_plan_id)
        current = _open(latest)
        if current is None:
            return FlightPlanOutcome(
                Result.FAILED,
                status_of(latest),
                f"no open flight plan {flight_plan_id}"
                + (" (it was closed already)" if latest is not None else ""),
                found=False,
            )
        try:
            op = await end(node, current.id)
        except (UpstreamFailure, Conflict) as error:
            return _failed(node, flight_plan_id, error)
        return FlightPlanOutcome(Result.COMPLETED, status_of(op), operation=op)


# -- clear area ------------------------------------------------------------------------------------


async def clear_area(node: PartyNode, extent: Json) -> ClearOutcome:
    """End every open operational intent of the party any of whose volumes (nominal or
    off-nominal) meets ``extent`` (an F3548 ``Volume4D``; a missing bound is unbounded).
    Reservations (constraints) are not flight plans and stay."""
    own = [
        op
        for op in node.repo.list_operations(node.party)
        if op.kind is OpKind.OPERATIONAL_INTENT and op.state is not OpState.ENDED
    ]
    hits = await _meeting(node, extent, own)
    closed: list[str] = []
    flight_plan_ids: list[str] = []
    errors: dict[str, str] = {}
    for op in own:
        if op.id not in hits:
            continue
        try:
            async with node.lock(_lock_key(str(op.meta.get(FLIGHT_PLAN_ID, op.id)))):
                await end(node, op.id)
        except ParleyError as error:
            errors[op.id] = f"{type(error).__name__}: {error.message}"
            continue
        closed.append(op.id)
        if op.meta.get(FLIGHT_PLAN_ID):
            flight_plan_ids.append(str(op.meta[FLIGHT_PLAN_ID]))
    if errors:
        message = (
            f"{len(errors)} of {len(closed) + len(errors)} flight plan(s) in the area could not be closed: "
            + ("; ".join(f"{k}: {v}" for k, v in errors.items()))
        )
    else:
        message = f"{len(closed)} flight plan(s) in the area closed"
    return ClearOutcome(not errors, message, closed, errors, flight_plan_ids)


async def _meeting(node: PartyNode, extent: Json, own: Sequence[OwnOperation]) -> set[str]:
    """Ids of the operations of ``own`` that meet ``extent``: exactly, or, for an extent beyond
    what the exact check supports (a footprint over ~125 km across), by bounding boxes (which may
    clear a little more than the extent: what a clean test area needs)."""
    if not own:
        return set()
    area = operation_from_details(f"clear-area-{uuid.uuid4()}", {"volumes": [extent]})
    others = [
        operation_from_details(op.id, op.details, state=op.state.value, manager=node.manager) for op in own
    ]
    try:
        result = await asyncio.to_thread(check, area, others, node.policy)
    except InvalidInput as error:
        log.info("clear area by bounding boxes: %s", error)
        return {op.id for op in own if _boxes_meet(extent, _all_volumes(op))}
    return {c.other_id for c in result.conflicts}


def _all_volumes(op: OwnOperation) -> list[Json]:
    return list(op.details.get("volumes") or []) + list(op.details.get("off_nominal_volumes") or [])


def _boxes_meet(extent: Json, volumes: Sequence[Json]) -> bool:
    if not volumes:
        return False
    a, b = bounding_volume([extent]), bounding_volume(volumes)
    if a is None or b is None:
        return True  # no box (across the antimeridian, near a pole): assume they meet
    return _ranges_meet(_lat_lng_box(a), _lat_lng_box(b)) and _bands_meet(a, b) and _windows_meet(a, b)


def _lat_lng_box(v: Json) -> tuple[float, float, float, float]:
    vertices = v["volume"]["outline_polygon"]["vertices"]
    lats, lngs = [p["lat"] for p in vertices], [p["lng"] for p in vertices]
    return min(lats), min(lngs), max(lats), max(lngs)


def _ranges_meet(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def _bound(v: Json, key: str) -> float | None:
    alt = v["volume"].get(key)
    return None if alt is None else float(alt["value"])


def _bands_meet(a: Json, b: Json) -> bool:
    lo_a, hi_a = _bound(a, "altitude_lower"), _bound(a, "altitude_upper")
    lo_b, hi_b = _bound(b, "altitude_lower"), _bound(b, "altitude_upper")
    return (lo_a is None or hi_b is None or lo_a <= hi_b) and (lo_b is None or hi_a is None or lo_b <= hi_a)


def _windows_meet(a: Json, b: Json) -> bool:
    start_a, end_a = parse_wire_time(a.get("time_start")), parse_wire_time(a.get("time_end"))
    start_b, end_b = parse_wire_time(b.get("time_start")), parse_wire_time(b.get("time_end"))
    return _before(start_a, end_b) and _before(start_b, end_a)


def _before(start: datetime | None, end: datetime | None) -> bool:
    return start is None or end is None or start < end
