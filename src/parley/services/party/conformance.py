"""Conformance monitoring of the party's own aircraft (ASTM F3548-21 CMSA role).

The node ingests its aircraft's position reports. For an Activated operation, a report outside
every nominal volume (horizontally, vertically or in time) makes the operation **Nonconforming**:
the node publishes an off-nominal volume around the aircraft (a circle reaching as far as it can fly
in the recovery time, 100 m above and below it) and peers are notified. A later report inside the
volumes makes it Activated again, through the normal planning check (it must not conflict). If it
stays Nonconforming for ``nonconforming_recovery_s`` (F3548
``MaxRecoverableTimeInNonconformingStateSeconds``, 60 s, at most), it becomes **Contingent**
(astm.f3548.v21.SCD0090 and SCD0095 in spirit). Containment is decided by the strategic engine
itself: the report is a 50 cm probe, inside when it overlaps a volume by more than the standard's
1 cm precision.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from parley.domain.errors import InvalidInput, NotFound
from parley.domain.geo import Circle, LatLng, Volume3D, Volume4D
from parley.domain.operations import OpKind, OpState, OwnOperation, TelemetrySample
from parley.services.party.areas import time_window, wire_time
from parley.services.party.node import PartyNode
from parley.services.party.planning import Outcome, PlanRequest, change_state, plan
from parley.services.party.planning import end as planning_end
from parley.strategic import Operation, check
from parley.strategic.f3548 import operation_from_details

log = logging.getLogger("parley.party.conformance")

#: Radius of the probe that stands for a reported position, metres.
PROBE_RADIUS_M = 0.5
#: Half-height of an off-nominal volume around a stray aircraft, metres.
OFF_NOMINAL_HALF_HEIGHT_M = 100.0
#: Radius bounds of an off-nominal volume, metres.
OFF_NOMINAL_MIN_RADIUS_M = 250.0
OFF_NOMINAL_MAX_RADIUS_M = 20_000.0
#: How long into the future samples may be stamped (clock skew), seconds.
MAX_FUTURE_S = 5.0


class Verdict(StrEnum):
    CONFORMING = "conforming"
    NONCONFORMING = "nonconforming"
    NOT_MONITORED = "not_monitored"  # the operation is not Activated, Nonconforming or Contingent


@dataclass(frozen=True, slots=True)
class IngestResult:
    operation: OwnOperation
    accepted: int
    verdict: Verdict


def inside(op: OwnOperation, sample: TelemetrySample) -> bool:
    """Whether ``sample`` lies inside one of ``op``'s nominal volumes at its time."""
    subject = operation_from_details(op.id, {"volumes": op.details["volumes"], "priority": 0})
    probe = Operation(
        id="probe",
        volumes=(
            Volume4D(
                Volume3D(
                    Circle(LatLng(sample.lat, sample.lng), PROBE_RADIUS_M),
                    sample.alt_m - PROBE_RADIUS_M,
                    sample.alt_m + PROBE_RADIUS_M,
                ),
                sample.t,
                sample.t + timedelta(milliseconds=1),
            ),
        ),
    )
    return bool(check(probe, [subject]).conflicts)


def _off_nominal_volume(node: PartyNode, sample: TelemetrySample, now: datetime) -> dict[str, object]:
    speed = sample.speed_mps or 0.0
    radius = min(
        OFF_NOMINAL_MAX_RADIUS_M, max(OFF_NOMINAL_MIN_RADIUS_M, speed * node.nonconforming_recovery_s + 100.0)
    )
    return {
        "volume": {
            "outline_circle": {
                "center": {"lat": sample.lat, "lng": sample.lng},
                "radius": {"value": round(radius, 1), "units": "M"},
            },
            "altitude_lower": {
                "value": sample.alt_m - OFF_NOMINAL_HALF_HEIGHT_M,
                "reference": "W84",
                "units": "M",
            },
            "altitude_upper": {
                "value": sample.alt_m + OFF_NOMINAL_HALF_HEIGHT_M,
                "reference": "W84",
                "units": "M",
            },
        },
        "time_start": wire_time(now),
        "time_end": wire_time(now + timedelta(hours=1)),
    }


def _validate(op_id: str, samples: Sequence[TelemetrySample], now: datetime) -> None:
    if not samples:
        raise InvalidInput("at least one telemetry sample is required")
    for i, s in enumerate(samples):
        if s.operation_id != op_id:
            raise InvalidInput(f"samples[{i}] is for another operation")
        if s.t.tzinfo is None:
            raise InvalidInput(f"samples[{i}].time must carry a time zone")
        if s.t > now + timedelta(seconds=MAX_FUTURE_S):
            raise InvalidInput(f"samples[{i}].time {s.t.isoformat()} is in the future")
        if not (-90.0 <= s.lat <= 90.0 and -180.0 <= s.lng <= 180.0):
            raise InvalidInput(f"samples[{i}]: latitude or longitude out of range")
        if not -8000.0 <= s.alt_m <= 100_000.0:
            raise InvalidInput(f"samples[{i}].altitude out of range")


async def ingest(node: PartyNode, op_id: str, samples: Sequence[TelemetrySample]) -> IngestResult:
    """Store position reports of the aircraft flying ``op_id`` and act on the latest."""
    op = node.repo.get_operation(node.party, op_id)
    if op is None or op.kind is not OpKind.OPERATIONAL_INTENT:
        raise NotFound(f"no operation {op_id!r}")
    now = node.now()
    _validate(op_id, samples, now)
    node.repo.add_telemetry(node.party, samples)
    latest = max(samples, key=lambda s: s.t)
    if op.state not in (OpState.ACTIVATED, OpState.NONCONFORMING):
        if op.state is OpState.CONTINGENT:
            return IngestResult(op, len(samples), Verdict.NONCONFORMING)
        return IngestResult(op, len(samples), Verdict.NOT_MONITORED)
    conforming = await asyncio.to_thread(inside, op, latest)
    if op.state is OpState.ACTIVATED and not conforming:
        op = await change_state(
            node,
            op_id,
            OpState.NONCONFORMING,
            off_nominal_volumes=[_off_nominal_volume(node, latest, now)],
            only_from=OpState.ACTIVATED,
        )
        node.notify_user(
            "nonconforming",
            f"{op.name or op.id} is Nonconforming: its aircraft left the operation's volumes at "
            f"{latest.lat:.6f}, {latest.lng:.6f}, {latest.alt_m:.0f} m",
            operation_id=op.id,
        )
    elif op.state is OpState.NONCONFORMING and conforming:
        outcome = await plan(
            node,
            PlanRequest(op_id, {**op.details, "off_nominal_volumes": []}, OpState.ACTIVATED, must_exist=True),
        )
        if outcome.outcome is Outcome.ACCEPTED and outcome.operation is not None:
            op = outcome.operation
            node.notify_user(
                "conforming", f"{op.name or op.id} is conforming again (Activated)", operation_id=op.id
            )
        else:
            log.warning("conforming again, but re-activation conflicts", extra={"operation": op_id})
    elif op.state is OpState.NONCONFORMING:
        op = await _contingent_if_overdue(node, op) or op
    return IngestResult(op, len(samples), Verdict.CONFORMING if conforming else Verdict.NONCONFORMING)


async def _contingent_if_overdue(node: PartyNode, op: OwnOperation) -> OwnOperation | None:
    since = op.nonconforming_since
    if since is None or (node.now() - since).total_seconds() < node.nonconforming_recovery_s:
        return None
    contingent = await change_state(node, op.id, OpState.CONTINGENT, only_from=OpState.NONCONFORMING)
    if contingent.state is not OpState.CONTINGENT:
        return None
    node.notify_user(
        "contingent",
        f"{op.name or op.id} is Contingent: not conforming again within {node.nonconforming_recovery_s:g} s",
        operation_id=op.id,
    )
    return contingent


async def sweep(node: PartyNode) -> int:
    """Periodic work: operations Nonconforming for too long become Contingent, and operations and
    reservations whose every volume has ended are ended (removed from the DSS if still there,
    subscribers told, no longer served to peers). How many changed."""
    changed = 0
    now = node.now()
    for op in node.repo.list_operations(node.party):
        try:
            _, end = time_window(
                list(op.details.get("volumes") or []) + list(op.details.get("off_nominal_volumes") or [])
            )
            if end is not None and end <= now:
                await planning_end(node, op.id)
                changed += 1
            elif op.state is OpState.NONCONFORMING and await _contingent_if_overdue(node, op) is not None:
                changed += 1
        except Exception:
            log.exception("housekeeping of %s failed", op.id)
    return changed
