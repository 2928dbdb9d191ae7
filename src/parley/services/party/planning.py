"""Plan, modify, activate and end the party's operational intents (ASTM F3548-21 SCD).

Each change runs the standard's planning loop:

1. query the DSS for the operational intents (and, with the constraint-processing role,
   constraints) whose extents may meet the operation's volumes (one bounding area; volume by
   volume where the DSS refuses the box as too large);
2. obtain the details of each one: the party's own from its store, others' from the cache kept
   up to date by notifications when the DSS's version matches, else from the managing USS
   (``GET /uss/v1/operational_intents/{id}``, all peers in parallel);
3. check the operation exactly against them (:func:`parley.strategic.check`, with the party's
   priority policy): if a conflict blocks, stop and report it, writing nothing (SCD0015, SCD0035);
4. write the reference to the DSS with the key (the OVNs of everything found) and the implicit
   subscription; a 409 means the airspace changed between steps 1 and 4: start again, up to
   ``planning_attempts`` times (SCD0040 in spirit: never write without the current key);
5. store the new reference and details, then notify every subscriber the DSS named (SCD0085).

The DSS never sees the details; peers get them from the party's USS API.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from parley.clients.dss import CMSA, SC
from parley.clients.utm import CallFailed
from parley.domain.errors import (
    Conflict,
    ContentionExhausted,
    InvalidInput,
    NotFound,
    PermissionDenied,
    UpstreamFailure,
)
from parley.domain.operations import (
    OpKind,
    OpState,
    OwnOperation,
    PeerEntity,
    check_transition,
)
from parley.services.party.areas import bounding_volume, parse_wire_time
from parley.services.party.node import PartyNode, upstream
from parley.strategic import CheckResult, Operation, check
from parley.strategic.f3548 import constraint_from_details, operation_from_details
from parley.strategic.model import validate_operation

log = logging.getLogger("parley.party.planning")

Json = dict[str, Any]

#: F3548 ``UssAvailabilityState`` of a USS that availability arbitration declared down.
DOWN = "Down"


class Outcome(StrEnum):
    """How a planning request ended."""

    ACCEPTED = "accepted"  # written to the DSS (the operation is in the state asked for)
    REJECTED = "rejected"  # a conflict blocks it; nothing written


@dataclass(frozen=True, slots=True)
class PlanRequest:
    """Create or change operation ``op_id`` to ``details`` (F3548 ``OperationalIntentDetails``
    JSON) in ``state`` (Accepted or Activated)."""

    op_id: str
    details: Json
    state: OpState = OpState.ACCEPTED
    meta: Json = field(default_factory=dict)
    #: Refuse unless the operation exists (True) or does not (False); None: either.
    must_exist: bool | None = None


@dataclass(frozen=True, slots=True)
class PlanOutcome:
    outcome: Outcome
    operation: OwnOperation | None
    check: CheckResult
    attempts: int
    #: Other operations and constraints considered, by id: (kind, manager).
    considered: int = 0


@dataclass(frozen=True, slots=True)
class _Found:
    """What the DSS knows about the airspace of a plan, with every entity's details."""

    others: list[Operation]
    key: list[str]
    #: Entities of USSs marked Down whose details were assumed.
    down: frozenset[str] = frozenset()


def new_operation_id() -> str:
    return str(uuid.uuid4())


def _validate_details(op_id: str, details: Json, state: OpState, manager: str) -> Operation:
    if not isinstance(details.get("volumes"), list) or not details["volumes"]:
        raise InvalidInput("an operation needs at least one volume")
    priority = details.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool) or not 0 <= priority <= 100:
        raise InvalidInput(f"priority must be an integer from 0 to 100, got {priority!r}")
    try:
        subject = operation_from_details(op_id, details, state=state.value, manager=manager)
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidInput(f"malformed volume: {error!r}") from error
    validate_operation(subject)
    return subject


async def _query(node: PartyNode, volumes: Sequence[Json]) -> tuple[list[Json], list[Json]]:
    """References of intents and constraints that may meet ``volumes``, each once."""
    area = bounding_volume(volumes)
    areas = [area] if area is not None else list(volumes)
    try:
        return await _query_areas(node, areas)
    except CallFailed as error:
        if error.status == 400 and area is not None and len(volumes) > 1:
            # The box is too large for the DSS: ask volume by volume.
            try:
                return await _query_areas(node, list(volumes))
            except CallFailed as again:
                raise upstream(again, "querying the DSS") from again
        raise upstream(error, "querying the DSS") from error


async def _query_areas(node: PartyNode, areas: Sequence[Json]) -> tuple[list[Json], list[Json]]:
    with_constraints = node.has_role("constraint_processing")
    calls = [node.dss.query_operational_intents(a) for a in areas]
    if with_constraints:
        calls += [node.dss.query_constraints(a) for a in areas]
    results = await asyncio.gather(*calls)
    intents: dict[str, Json] = {}
    constraints: dict[str, Json] = {}
    for i, refs in enumerate(results):
        target = intents if i < len(areas) else constraints
        for ref in refs:
            target[str(ref["id"])] = ref
    return list(intents.values()), list(constraints.values())


async def _details(node: PartyNode, kind: OpKind, ref: Json) -> tuple[Json | None, str | None]:
    """``(details, ovn)`` of another USS's entity: from the cache when its version is current,
    else from the managing USS (and cached); ``(None, None)`` when that USS does not answer and
    the DSS reports it Down (SCD0005, SCD0010: the planner assumes the worst or the least, below)."""
    entity_id = str(ref["id"])
    cached = node.repo.get_peer(node.party, entity_id) if node.cache_peer_details else None
    if (
        cached is not None
        and cached.details is not None
        and cached.reference.get("version") == ref.get("version")
        and cached.ovn
    ):
        return cached.details, cached.ovn
    base_url = str(ref["uss_base_url"])
    try:
        if kind is OpKind.OPERATIONAL_INTENT:
            got = await node.peers.operational_intent(base_url, entity_id)
        else:
            got = await node.peers.constraint(base_url, entity_id)
    except CallFailed as error:
        if ref.get("uss_availability") == DOWN:
            log.info("details unavailable from a USS marked Down", extra={"entity": entity_id})
            return None, None
        what = "operational intent" if kind is OpKind.OPERATIONAL_INTENT else "constraint"
        raise upstream(
            error, f"cannot obtain the details of {what} {entity_id} from its USS {ref.get('manager')!r}"
        ) from error
    reference, details = dict(got.get("reference") or {}), got.get("details")
    if not isinstance(details, dict) or str(reference.get("id", entity_id)) != entity_id:
        raise UpstreamFailure(f"the USS at {base_url} answered malformed details for {entity_id}")
    node.repo.save_peer(PeerEntity(node.party, entity_id, kind, {**ref, **reference}, details, node.now()))
    return details, reference.get("ovn")


async def _survey(node: PartyNode, op_id: str, volumes: Sequence[Json]) -> _Found:
    intents, constraints = await _query(node, volumes)
    others: list[Operation] = []
    key: list[str] = []
    fetch: list[tuple[OpKind, Json]] = []
    for ref in intents:
        if ref["id"] == op_id:
            continue
        own = (
            node.repo.get_operation(node.party, str(ref["id"]))
            if ref.get("manager") == node.manager
            else None
        )
        if own is not None and own.ovn is not None:
            others.append(
                operation_from_details(own.id, own.details, state=str(ref["state"]), manager=node.manager)
            )
            key.append(own.ovn)
        else:
            fetch.append((OpKind.OPERATIONAL_INTENT, ref))
    for ref in constraints:
        own = (
            node.repo.get_operation(node.party, str(ref["id"]))
            if ref.get("manager") == node.manager
            else None
        )
        if own is not None and own.ovn is not None:
            others.append(constraint_from_details(own.id, own.details, manager=node.manager))
            key.append(own.ovn)
        else:
            fetch.append((OpKind.CONSTRAINT, ref))
    fetched = await asyncio.gather(*(_details(node, kind, ref) for kind, ref in fetch))
    down: set[str] = set()
    for (kind, ref), (details, ovn) in zip(fetch, fetched, strict=True):
        entity_id, manager = str(ref["id"]), str(ref.get("manager", ""))
        if details is None:
            down.add(entity_id)
            details = _assumed_details(kind, str(ref.get("state", "")), volumes)
        try:
            if kind is OpKind.OPERATIONAL_INTENT:
                others.append(
                    operation_from_details(entity_id, details, state=str(ref["state"]), manager=manager)
                )
            else:
                others.append(constraint_from_details(entity_id, details, manager=manager))
        except (InvalidInput, KeyError, TypeError, ValueError) as error:
            raise UpstreamFailure(
                f"the details of {kind.value} {entity_id} from {manager!r} cannot be checked: {error}"
            ) from error
        if ovn:
            key.append(ovn)
    return _Found(others, sorted(set(key)), frozenset(down))


#: Priority assumed for an Accepted intent of a USS marked Down whose details are unavailable:
#: below the lowest a plan may have (SCD0005: the lowest bound).
LOWEST_BOUND_PRIORITY = -1
#: Priority assumed for such an intent that is flying (Activated, Nonconforming, Contingent): the
#: highest a plan may have (SCD0010).
HIGHEST_PRIORITY = 100


def _assumed_details(kind: OpKind, state: str, volumes: Sequence[Json]) -> Json:
    """Details assumed for an entity of a Down USS that cannot be asked: it covers the whole
    area the planner queried (the DSS says it may be anywhere there)."""
    area = bounding_volume(volumes)
    covered = [area] if area is not None else list(volumes)
    if kind is OpKind.CONSTRAINT:
        return {"volumes": covered}
    if state == OpState.ACCEPTED.value:
        return {"volumes": covered, "priority": LOWEST_BOUND_PRIORITY}
    if state == OpState.ACTIVATED.value:
        return {"volumes": covered, "priority": HIGHEST_PRIORITY}
    return {"volumes": [], "off_nominal_volumes": covered, "priority": HIGHEST_PRIORITY}


def _explain_down(result: CheckResult, down: frozenset[str]) -> CheckResult:
    """Say why a conflict with an entity of a Down USS was decided as it was."""
    if not down:
        return result
    conflicts = tuple(
        replace(
            c,
            explanation=(
                f"{c.other_id!r} belongs to {c.other_manager!r}, which the DSS reports Down and which did not "
                "give its details: it is assumed to cover the whole area, "
                + (
                    "with the lowest priority, since it is only Accepted (SCD0005)"
                    if c.other_priority == LOWEST_BOUND_PRIORITY
                    else "with the highest priority, since it may be flying (SCD0010)"
                    if c.other_kind.value == "operational_intent"
                    else "as a constraint"
                )
                + f"; {c.explanation}"
            ),
        )
        if c.other_id in down
        else c
        for c in result.conflicts
    )
    return replace(result, conflicts=conflicts)


def _is_key_conflict(error: CallFailed) -> bool:
    return error.status == 409


async def plan(node: PartyNode, request: PlanRequest) -> PlanOutcome:
    """Create or change an operational intent (see the module's steps)."""
    if request.state not in (OpState.ACCEPTED, OpState.ACTIVATED):
        raise InvalidInput(f"an operation is planned Accepted or Activated, not {request.state.value}")
    async with node.lock(request.op_id):
        if request.state is OpState.ACTIVATED and node.repo.get_operation(node.party, request.op_id) is None:
            # A DSS takes a new intent only Accepted (DSS0005 state rules): accept it, then activate.
            first = await _plan_locked(node, replace(request, state=OpState.ACCEPTED))
            if first.outcome is Outcome.REJECTED:
                return first
            second = await _plan_locked(node, replace(request, must_exist=True))
            return replace(second, attempts=first.attempts + second.attempts)
        return await _plan_locked(node, request)


async def _plan_locked(node: PartyNode, request: PlanRequest) -> PlanOutcome:
    current = node.repo.get_operation(node.party, request.op_id)
    if current is not None and current.kind is not OpKind.OPERATIONAL_INTENT:
        raise Conflict(f"{request.op_id!r} is a constraint, not an operation")
    if request.must_exist is True and current is None:
        raise NotFound(f"no operation {request.op_id!r}")
    if request.must_exist is False and current is not None and current.state is not OpState.ENDED:
        raise Conflict(f"operation {request.op_id!r} already exists")
    if current is not None and current.state is OpState.ENDED:
        raise Conflict(f"operation {request.op_id!r} has ended; plan a new operation instead")
    check_transition(request.op_id, current.state if current else None, request.state)
    details = {
        "volumes": request.details["volumes"],
        "off_nominal_volumes": list(request.details.get("off_nominal_volumes") or []),
        "priority": request.details.get("priority", 0),
    }
    if details["off_nominal_volumes"]:
        raise InvalidInput(
            f"off_nominal_volumes: F3548 allows them only in the Nonconforming and Contingent states, "
            f"not {request.state.value}"
        )
    subject = _validate_details(request.op_id, details, request.state, node.manager)
    previous = (
        operation_from_details(current.id, current.details, state=current.state.value, manager=node.manager)
        if current is not None and current.state.nominal
        else None
    )
    volumes = details["volumes"] + details["off_nominal_volumes"]

    attempts = 0
    while True:
        attempts += 1
        found = await _survey(node, request.op_id, volumes)
        result = await asyncio.to_thread(check, subject, found.others, node.policy, previous=previous)
        result = _explain_down(result, found.down)
        if not result.clear:
            return PlanOutcome(Outcome.REJECTED, current, result, attempts, len(found.others))
        params: Json = {
            "extents": volumes,
            "key": found.key,
            "state": request.state.value,
            "uss_base_url": node.base_url,
        }
        if current is not None and current.subscription_id:
            params["subscription_id"] = current.subscription_id
        else:
            params["new_subscription"] = {
                "uss_base_url": node.base_url,
                "notify_for_constraints": node.has_role("constraint_processing"),
            }
        ovn = current.ovn if current is not None and current.state is not OpState.ENDED else None
        try:
            change = await node.dss.put_operational_intent(request.op_id, ovn, params, scopes=[SC])
        except CallFailed as error:
            if _is_key_conflict(error) and attempts < node.planning_attempts:
                log.info("airspace changed while planning; again", extra={"operation": request.op_id})
                await asyncio.sleep(random.uniform(0.0, 0.05 * attempts))
                current = node.repo.get_operation(node.party, request.op_id) if current is not None else None
                continue
            if _is_key_conflict(error):
                raise ContentionExhausted(
                    f"the airspace kept changing while planning {request.op_id!r} "
                    f"({attempts} attempts); try again"
                ) from error
            if error.status in (400, 403):
                raise InvalidInput(f"the DSS refused the operation: {error.message}") from error
            raise upstream(error, "writing to the DSS") from error
        break

    reference = dict(change["operational_intent_reference"])
    now = node.now()
    saved = _store(node, current, request, details, reference, now)
    await notify_subscribers(node, saved, change.get("subscribers", []))
    return PlanOutcome(Outcome.ACCEPTED, saved, result, attempts, len(found.others))


def _store(
    node: PartyNode,
    current: OwnOperation | None,
    request: PlanRequest,
    details: Json,
    reference: Json,
    now: Any,
) -> OwnOperation:
    state = OpState(str(reference.get("state", request.state.value)))
    if current is None:
        op = OwnOperation(
            party=node.party,
            id=request.op_id,
            kind=OpKind.OPERATIONAL_INTENT,
            state=state,
            details=details,
            reference=reference,
            subscription_id=reference.get("subscription_id"),
            meta=dict(request.meta),
            created_at=now,
            updated_at=now,
        )
        return node.repo.save_operation(op, expected_revision=None)
    op = current.with_(
        state=state,
        details=details,
        reference=reference,
        subscription_id=reference.get("subscription_id") or current.subscription_id,
        meta={**current.meta, **request.meta},
        updated_at=now,
        nonconforming_since=None if state.nominal else current.nonconforming_since,
    )
    return node.repo.save_operation(op, expected_revision=current.revision)


def current_volumes(volumes: list[Json], now: datetime) -> list[Json]:
    """``volumes`` without those whose ``time_end`` has passed."""
    out = []
    for v in volumes:
        end = parse_wire_time(v.get("time_end"))
        if end is None or end > now:
            out.append(v)
    return out


async def change_state(
    node: PartyNode,
    op_id: str,
    state: OpState,
    *,
    off_nominal_volumes: Sequence[Json] | None = None,
    only_from: OpState | None = None,
) -> OwnOperation:
    """Move an operation to Nonconforming or Contingent (conformance monitoring): no conflict
    check and no key (the DSS does not require one for off-nominal states), scope
    ``utm.conformance_monitoring_sa``; peers are notified. With ``only_from``, nothing happens
    unless the operation is still in that state."""
    if state not in (OpState.NONCONFORMING, OpState.CONTINGENT):
        raise InvalidInput(f"change_state is for off-nominal states, not {state.value}")
    async with node.lock(op_id):
        current = node.repo.get_operation(node.party, op_id)
        if current is None or current.kind is not OpKind.OPERATIONAL_INTENT:
            raise NotFound(f"no operation {op_id!r}")
        if only_from is not None and current.state is not only_from:
            return current  # it changed meanwhile (conforming again, ended): nothing to do
        check_transition(op_id, current.state, state)
        details = dict(current.details)
        # volumes whose time is over are history: a DSS refuses extents that ended
        details["volumes"] = current_volumes(details.get("volumes") or [], node.now())
        details["off_nominal_volumes"] = current_volumes(details.get("off_nominal_volumes") or [], node.now())
        if off_nominal_volumes is not None:
            details["off_nominal_volumes"] = list(off_nominal_volumes)
        # F3548 OperationalIntentDetails: off-nominal states need an off-nominal volume (the planned
        # ones where none is given); a Contingent intent has no nominal volumes
        if not details.get("off_nominal_volumes"):
            details["off_nominal_volumes"] = list(details["volumes"])
        if state is OpState.CONTINGENT:
            details["volumes"] = []
        params: Json = {
            "extents": details["volumes"] + list(details.get("off_nominal_volumes") or []),
            "key": [],
            "state": state.value,
            "uss_base_url": node.base_url,
        }
        if current.subscription_id:
            params["subscription_id"] = current.subscription_id
        try:
            change = await node.dss.put_operational_intent(op_id, current.ovn, params, scopes=[CMSA])
        except CallFailed as error:
            raise upstream(error, f"moving {op_id} to {state.value} in the DSS") from error
        now = node.now()
        saved = node.repo.save_operation(
            current.with_(
                state=state,
                details=details,
                reference=dict(change["operational_intent_reference"]),
                updated_at=now,
                nonconforming_since=current.nonconforming_since or now,
            ),
            expected_revision=current.revision,
        )
        await notify_subscribers(node, saved, change.get("subscribers", []))
        return saved


async def end(node: PartyNode, op_id: str) -> OwnOperation:
    """End an operation or withdraw a reservation: delete its reference from the DSS, tell the
    subscribers, keep it locally as Ended."""
    async with node.lock(op_id):
        current = node.repo.get_operation(node.party, op_id)
        if current is None:
            raise NotFound(f"no operation {op_id!r}")
        if current.state is OpState.ENDED:
            return current
        subscribers: list[Json] = []
        if current.ovn is not None:
            try:
                if current.kind is OpKind.OPERATIONAL_INTENT:
                    scopes = [CMSA] if current.state.off_nominal else [SC]
                    change = await node.dss.delete_operational_intent(op_id, current.ovn, scopes=scopes)
                else:
                    change = await node.dss.delete_constraint(op_id, current.ovn)
                subscribers = list(change.get("subscribers", []))
            except CallFailed as error:
                if error.status != 404:  # already gone from the DSS (expired): just end it here
                    raise upstream(error, f"removing {op_id} from the DSS") from error
        saved = node.repo.save_operation(
            current.with_(state=OpState.ENDED, updated_at=node.now()), expected_revision=current.revision
        )
        await notify_subscribers(node, saved, subscribers, removed=True)
        return saved


async def notify_subscribers(
    node: PartyNode, op: OwnOperation, subscribers: Sequence[Json], *, removed: bool = False
) -> None:
    """Send the change to every subscriber the DSS named (not to this node itself), all at once;
    failures are logged, not raised: the change is made (F3548 SCD0085)."""
    calls = []
    for subscriber in subscribers:
        url = str(subscriber.get("uss_base_url", ""))
        if not url or node.is_own_base_url(url):
            continue
        subs = [
            {"subscription_id": s["subscription_id"], "notification_index": s.get("notification_index", 0)}
            for s in subscriber.get("subscriptions", [])
        ]
        if op.kind is OpKind.OPERATIONAL_INTENT:
            body: Json = {"operational_intent_id": op.id, "subscriptions": subs}
            if not removed and op.reference is not None:
                body["operational_intent"] = {"reference": op.reference, "details": op.details}
            calls.append(node.peers.notify_operational_intent(url, body, scopes=[SC]))
        else:
            body = {"constraint_id": op.id, "subscriptions": subs}
            if not removed and op.reference is not None:
                body["constraint"] = {"reference": op.reference, "details": op.details}
            calls.append(node.peers.notify_constraint(url, body))
    if not calls:
        return
    results = await asyncio.gather(*calls, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            log.warning("notification not delivered: %s", result, extra={"operation": op.id})


def ensure_operator(node: PartyNode, subject: str) -> None:
    """Only the party's operators (its manager identity by default) may use its operations API."""
    allowed = node.operators or frozenset({node.manager})
    if subject not in allowed:
        raise PermissionDenied(f"{subject!r} is not an operator of party {node.party!r}")
