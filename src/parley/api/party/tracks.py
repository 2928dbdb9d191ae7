"""The latest position of each of the party's flying aircraft (``GET {party}/ops/v1/tracks``), from
its telemetry: one aircraft per operation, named by the operation's id (as in compliance)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from parley.api.party.deps import NodeDep, Operator
from parley.domain.operations import OpKind, OpState
from parley.services.party.node import PartyNode

router = APIRouter(prefix="/ops/v1", tags=["Operations (native)"])

#: States in which an operation's aircraft is flying.
FLYING = (OpState.ACTIVATED, OpState.NONCONFORMING, OpState.CONTINGENT)


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def latest_tracks(node: PartyNode) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of Points ``[lng, lat, alt_m]``: per flying operation with
    telemetry, its latest sample (properties: ``operation``, ``name``, ``state``, ``time``, speed,
    track, vertical speed)."""
    features = []
    for op in node.repo.list_operations(node.party):
        if op.kind is not OpKind.OPERATIONAL_INTENT or op.state not in FLYING:
            continue
        s = node.repo.latest_telemetry(node.party, op.id)
        if s is None:
            continue
        features.append(
            {
                "type": "Feature",
                "id": op.id,
                "geometry": {"type": "Point", "coordinates": [s.lng, s.lat, s.alt_m]},
                "properties": {
                    "operation": op.id,
                    "name": op.name,
                    "state": op.state.value,
                    "time": _iso(s.t),
                    "speed_mps": s.speed_mps,
                    "track_deg": s.track_deg,
                    "vertical_speed_mps": s.vertical_speed_mps,
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


@router.get("/tracks")
async def tracks(node: NodeDep, _op: Operator) -> JSONResponse:
    """The latest position of each flying operation's aircraft (GeoJSON)."""
    return JSONResponse(latest_tracks(node))
