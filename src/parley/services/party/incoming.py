"""What peers ask of a party node and tell it (the F3548 USS API's use cases).

- details of the party's operational intents and constraints (SCD0045-style: only what is
  published in the DSS, i.e. not ended);
- telemetry of an operation in an off-nominal state (astm.f3548.v21.SCD0100 spirit: peers monitoring
  a Nonconforming or Contingent operation may ask where the aircraft is);
- notifications of others' changes: the node's picture of others is updated, and each of the
  party's own operations that now conflicts with the changed one is reported to its operators;
- reports of errors seen by peers, kept as notifications for the operators.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta
from typing import Any

from parley.domain.errors import Conflict, InvalidInput, NoTelemetry, NotFound, PermissionDenied
from parley.domain.operations import OpKind, OpState, OwnOperation, PeerEntity, TelemetrySample
from parley.services.party.areas import wire_time
from parley.services.party.node import PartyNode
from parley.strategic import Operation, check
from parley.strategic.f3548 import constraint_from_details, operation_from_details
from parley.strategic.model import validate_operation

log = logging.getLogger("parley.party.incoming")

Json = dict[str, Any]

#: How soon a peer may ask again for telemetry, seconds (F3548 ``next_telemetry_opportunity``).
TELEMETRY_INTERVAL_S = 1.0


def _published(node: PartyNode, entity_id: str, kind: OpKind) -> OwnOperation:
    op = node.repo.get_operation(node.party, entity_id)
    if op is None or op.kind is not kind or op.state is OpState.ENDED or op.reference is None:
        what = "operational intent" if kind is OpKind.OPERATIONAL_INTENT else "constraint"
        raise NotFound(f"{what} {entity_id} is not managed by this USS")
    return op


def operational_intent_details(node: PartyNode, entity_id: str) -> Json:
    """``GetOperationalIntentDetailsResponse``."""
    op = _published(node, entity_id, OpKind.OPERATIONAL_INTENT)
    return {"operational_intent": {"reference": op.reference, "details": op.details}}


def constraint_details(node: PartyNode, entity_id: str) -> Json:
    """``GetConstraintDetailsResponse``."""
    op = _published(node, entity_id, OpKind.CONSTRAINT)
    return {"constraint": {"reference": op.reference, "details": op.details}}


def _accuracy_h(metres: float | None) -> str:
    if metres is None:
        return "HAUnknown"
    for limit, code in ((1, "HA1m"), (3, "HA3m"), (10, "HA10m"), (30, "HA30m"), (92.6, "HA005NM")):
        if metres < limit:
            return code
    for limit_nm, code in ((0.1, "HA01NM"), (0.3, "HA03NM"), (0.5, "HA05NM"), (1, "HA1NM"), (2, "HA2NM")):
        if metres < limit_nm * 1852:
            return code
    return "HA4NM" if metres < 4 * 1852 else ("HA10NM" if metres < 10 * 1852 else "HA10NMPlus")


def _accuracy_v(metres: float | None) -> str:
    if metres is None:
        return "VAUnknown"
    for limit, code in (
        (1, "VA1m"),
        (3, "VA3m"),
        (10, "VA10m"),
        (25, "VA25m"),
        (45, "VA45m"),
        (150, "VA150m"),
    ):
        if metres < limit:
            return code
    return "VA150mPlus"


def telemetry_json(sample: TelemetrySample) -> Json:
    """An F3548 ``VehicleTelemetry``."""
    body: Json = {
        "time_measured": wire_time(sample.t),
        "position": {
            "longitude": sample.lng,
            "latitude": sample.lat,
            "accuracy_h": _accuracy_h(sample.accuracy_h_m),
            "accuracy_v": _accuracy_v(sample.accuracy_v_m),
            "extrapolated": False,
            "altitude": {"value": sample.alt_m, "reference": "W84", "units": "M"},
        },
    }
    if sample.speed_mps is not None:
        body["velocity"] = {"speed": sample.speed_mps, "units_speed": "MetersPerSecond"}
        if sample.track_deg is not None:  # optional in F3548: not invented when not reported
            body["velocity"]["track"] = sample.track_deg
    return body


def operational_intent_telemetry(node: PartyNode, entity_id: str) -> Json:
    """``GetOperationalIntentTelemetryResponse`` for a Nonconforming or Contingent operation."""
    op = _published(node, entity_id, OpKind.OPERATIONAL_INTENT)
    if not op.state.off_nominal:
        raise Conflict(
            f"operational intent {entity_id} is {op.state.value}: telemetry is given for Nonconforming "
            "or Contingent operations"
        )
    sample = node.repo.latest_telemetry(node.party, entity_id)
    if sample is None:
        raise NoTelemetry(f"no telemetry has been received for operational intent {entity_id} yet")
    return {
        "operational_intent_id": entity_id,
        "telemetry": telemetry_json(sample),
        "next_telemetry_opportunity": wire_time(node.now() + timedelta(seconds=TELEMETRY_INTERVAL_S)),
    }


async def receive_operational_intent(node: PartyNode, body: Json, sender: str) -> None:
    """A peer's ``PutOperationalIntentDetailsParameters``: learn the change and tell the party's
    operators which of their operations it now conflicts with."""
    entity_id = str(body["operational_intent_id"])
    intent = body.get("operational_intent")
    known = _known(node, entity_id, sender)
    if intent is None:
        if known is not None:
            node.repo.delete_peer(node.party, entity_id)
            node.notify_user(
                "peer_operation_removed",
                f"operational intent {entity_id} of {known.manager!r} was removed",
                body={"operational_intent_id": entity_id, "manager": known.manager},
            )
        return
    reference, details = dict(intent["reference"]), dict(intent["details"])
    if str(reference.get("id", entity_id)) != entity_id:
        raise InvalidInput("operational_intent.reference.id differs from operational_intent_id")
    reference.setdefault("manager", sender)
    if reference["manager"] != sender:
        raise PermissionDenied(
            f"the reference names {reference['manager']!r} as its manager, but the notification comes from {sender!r}"
        )
    try:
        other = operation_from_details(
            entity_id, details, state=str(reference.get("state")), manager=str(reference.get("manager"))
        )
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidInput(f"operational_intent.details cannot be read: {error!r}") from error
    validate_operation(other)
    if known is not None:
        _check_version(known, reference, other)
    node.repo.save_peer(
        PeerEntity(node.party, entity_id, OpKind.OPERATIONAL_INTENT, reference, details, node.now())
    )
    await _report_conflicts(node, other)


async def receive_constraint(node: PartyNode, body: Json, sender: str) -> None:
    """A peer's ``PutConstraintDetailsParameters``."""
    entity_id = str(body["constraint_id"])
    constraint = body.get("constraint")
    known = _known(node, entity_id, sender)
    if constraint is None:
        if known is not None:
            node.repo.delete_peer(node.party, entity_id)
            node.notify_user(
                "peer_constraint_removed",
                f"constraint {entity_id} of {known.manager!r} was removed",
                body={"constraint_id": entity_id, "manager": known.manager},
            )
        return
    reference, details = dict(constraint["reference"]), dict(constraint["details"])
    if str(reference.get("id", entity_id)) != entity_id:
        raise InvalidInput("constraint.reference.id differs from constraint_id")
    reference.setdefault("manager", sender)
    if reference["manager"] != sender:
        raise PermissionDenied(
            f"the reference names {reference['manager']!r} as its manager, but the notification comes from {sender!r}"
        )
    try:
        other = constraint_from_details(entity_id, details, manager=str(reference.get("manager")))
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidInput(f"constraint.details cannot be read: {error!r}") from error
    validate_operation(other)
    if known is not None:
        _check_version(known, reference, other)
    node.repo.save_peer(PeerEntity(node.party, entity_id, OpKind.CONSTRAINT, reference, details, node.now()))
    await _report_conflicts(node, other)


def _known(node: PartyNode, entity_id: str, sender: str) -> PeerEntity | None:
    """What this node knows of ``entity_id``; only its manager may change or remove it (F3548:
    403 when the caller "is not the manager of this Entity according to the receiving client's
    records")."""
    own = node.repo.get_operation(node.party, entity_id)
    if own is not None:
        raise PermissionDenied(f"{entity_id} is managed by this USS, not by {sender!r}")
    known = node.repo.get_peer(node.party, entity_id)
    if known is not None and known.manager and known.manager != sender:
        raise PermissionDenied(
            f"{sender!r} is not the manager of {entity_id} (as this USS knows it, {known.manager!r} is)"
        )
    return known


def _check_version(known: PeerEntity, reference: Json, notified: Operation) -> None:
    """F3548 409: a version older than one already received (notifications may arrive out of
    order), or the same version with a different entity. Entities are compared as the conflict
    engine reads them, so that a representation (``47`` or ``47.0``) makes no difference."""
    try:
        version, known_version = int(reference["version"]), int(known.reference["version"])
    except (KeyError, TypeError, ValueError):
        return
    if version < known_version:
        raise Conflict(
            f"version {version} of {known.id} is older than version {known_version} already received"
        )
    if version > known_version or known.details is None:
        return
    try:
        if known.kind is OpKind.OPERATIONAL_INTENT:
            before = operation_from_details(
                known.id, known.details, state=str(known.reference.get("state")), manager=notified.manager
            )
        else:
            before = constraint_from_details(known.id, known.details, manager=notified.manager)
    except (InvalidInput, KeyError, TypeError, ValueError):
        return  # what was known cannot be read: the notification replaces it
    if before != notified:
        raise Conflict(f"version {version} of {known.id} was already received, with different content")


async def _report_conflicts(node: PartyNode, other: Operation) -> None:
    own = [
        op
        for op in node.repo.list_operations(node.party)
        if op.kind is OpKind.OPERATIONAL_INTENT and op.reference is not None
    ]
    for op in own:
        subject = operation_from_details(op.id, op.details, state=op.state.value, manager=node.manager)
        try:
            result = await asyncio.to_thread(check, subject, [other], node.policy)
        except InvalidInput as error:
            log.warning("cannot check a notified change: %s", error)
            return
        for conflict in result.conflicts:
            what = "constraint" if other.kind.value == "constraint" else "operational intent"
            node.notify_user(
                "conflict",
                f"{op.name or op.id} now conflicts with {what} {other.id} of {other.manager!r}: "
                + conflict.explanation,
                operation_id=op.id,
                body={
                    "other_id": other.id,
                    "other_kind": other.kind.value,
                    "other_manager": other.manager,
                    "other_priority": other.priority,
                    "blocking": conflict.blocking,
                    "reason": conflict.reason.value,
                },
            )


def receive_report(node: PartyNode, report: Json, reporter: str) -> Json:
    """A peer's ``ErrorReport``: kept for the operators; answered with its ``report_id``."""
    report_id = str(uuid.uuid4())
    exchange = report.get("exchange") or {}
    node.notify_user(
        "peer_report",
        f"{reporter!r} reported a problem with {exchange.get('method', '?')} {exchange.get('url', '?')}: "
        f"{exchange.get('problem', '')}",
        body={"report_id": report_id, "reporter": reporter, "report": report},
    )
    return {**report, "report_id": report_id}
