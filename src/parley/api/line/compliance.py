"""Verified compliance on a party node's API (for the party's operators, scope ``parley.operations``).

- ``GET /line/v1/threads/{id}/impact``: what accepting a ``vacate`` or ``hold_clear`` would cost
  (affected operations and aircraft, exit routes as GeoJSON), before answering;
- ``GET /line/v1/obligations``: the obligations this node is watching (phase, each aircraft's
  presence, overdue);
- ``POST /ops/v1/surveillance``: positions from the party's own surveillance feed (a radar picture,
  say), which its node cross-checks the certificates it receives against.

Accepting (``POST /line/v1/threads/{id}/accept``) goes through the compliance service too: see
:mod:`parley.api.line.node`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from parley.api.party.deps import NodeDep, Operator
from parley.domain.entities import parse_entity_id
from parley.domain.operations import TelemetrySample
from parley.services.compliance import Compliance

router = APIRouter(tags=["Compliance"])


async def _compliance(request: Request) -> Compliance:
    service: Compliance = request.app.state.compliance
    return service


ComplianceDep = Annotated[Compliance, Depends(_compliance)]


@router.get("/line/v1/threads/{thread_id}/impact")
async def impact(thread_id: str, service: ComplianceDep, _op: Operator) -> JSONResponse:
    """The what-if of accepting an obligation: affected aircraft and operations, exit routes."""
    found = await service.assess(parse_entity_id(thread_id, "thread id"))
    return JSONResponse(found.to_json())


@router.get("/line/v1/obligations")
async def obligations(service: ComplianceDep, _op: Operator) -> JSONResponse:
    """The obligations this node watches (accepted vacate and hold_clear requests not done)."""
    await service.resume()
    return JSONResponse({"obligations": service.watches()})


class TrackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    track_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")
    time: AwareDatetime
    lat: float = Field(ge=-90.0, le=90.0)
    lng: float = Field(ge=-180.0, le=180.0)
    alt_m: float = Field(ge=-1_000.0, le=100_000.0, description="Metres above the WGS84 ellipsoid.")


class SurveillanceIn(BaseModel):
    """Positions of one surveillance feed, in the telemetry's format plus the feed's track id."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    tracks: list[TrackIn] = Field(min_length=1, max_length=10_000)


@router.post("/ops/v1/surveillance", status_code=201)
async def surveillance(request: Request, body: SurveillanceIn, node: NodeDep, _op: Operator) -> JSONResponse:
    """Positions from one of the party's own surveillance feeds (kept for cross-checks; in the
    tactical picture)."""
    samples = [TelemetrySample(t.track_id, t.time, t.lat, t.lng, t.alt_m) for t in body.tracks]
    node.repo.add_surveillance(node.party, body.source, samples)
    picture = getattr(request.app.state, "picture", None)
    if picture is not None:
        picture.feed(body.source, samples)
    return JSONResponse({"accepted": len(samples)}, status_code=201)
