"""The native API's JSON: operations (GeoJSON volumes), conflict reports, notifications."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from parley.api.party.geojson import feature_collection
from parley.domain.operations import OwnOperation, PeerEntity, UserNotification
from parley.services.party.planning import PlanOutcome
from parley.strategic import CheckResult, OperationConflict

Json = dict[str, Any]


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def operation(op: OwnOperation) -> Json:
    ref = op.reference or {}
    return {
        "id": op.id,
        "kind": op.kind.value,
        "name": op.name,
        "state": op.state.value,
        "priority": op.priority if op.kind.value == "operational_intent" else None,
        "ovn": op.ovn,
        "version": ref.get("version"),
        "subscription_id": op.subscription_id,
        "flight_plan_id": op.meta.get("flight_plan_id"),
        "created_at": _iso(op.created_at),
        "updated_at": _iso(op.updated_at),
        "nonconforming_since": _iso(op.nonconforming_since),
        "volumes": feature_collection(list(op.details.get("volumes") or [])),
        "off_nominal_volumes": feature_collection(
            list(op.details.get("off_nominal_volumes") or []), off_nominal=True
        ),
        "f3548": {"reference": op.reference, "details": op.details},
    }


def peer(entity: PeerEntity) -> Json:
    details = entity.details or {}
    return {
        "id": entity.id,
        "kind": entity.kind.value,
        "manager": entity.manager,
        "state": entity.reference.get("state"),
        "priority": details.get("priority"),
        "version": entity.reference.get("version"),
        "updated_at": _iso(entity.updated_at),
        "volumes": feature_collection(list(details.get("volumes") or [])),
        "off_nominal_volumes": feature_collection(
            list(details.get("off_nominal_volumes") or []), off_nominal=True
        ),
    }


def conflict(c: OperationConflict) -> Json:
    return {
        "other_id": c.other_id,
        "other_kind": c.other_kind.value,
        "other_manager": c.other_manager,
        "other_priority": c.other_priority,
        "blocking": c.blocking,
        "reason": c.reason.value,
        "explanation": c.explanation,
        "overlaps": [
            {
                "volume": str(o.subject_volume),
                "other_volume": str(o.other_volume),
                "altitude_lower_m": o.altitude_lower_m,
                "altitude_upper_m": o.altitude_upper_m,
                "time_start": _iso(o.time_start),
                "time_end": _iso(o.time_end),
                "footprint": o.footprint,
            }
            for o in c.overlaps
        ],
    }


def check_result(result: CheckResult) -> Json:
    return {
        "clear": result.clear,
        "conflicts": [conflict(c) for c in result.conflicts],
        "volume_pairs_considered": result.pairs_considered,
    }


def outcome(o: PlanOutcome) -> Json:
    body: Json = {
        "outcome": o.outcome.value,
        "attempts": o.attempts,
        "others_considered": o.considered,
        "check": check_result(o.check),
    }
    if o.operation is not None:
        body["operation"] = operation(o.operation)
    return body


def notification(n: UserNotification) -> Json:
    return {
        "seq": n.seq,
        "at": _iso(n.at),
        "kind": n.kind,
        "operation_id": n.operation_id,
        "message": n.message,
        "details": n.body,
    }
