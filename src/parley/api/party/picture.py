"""The party node's live tactical picture (``GET {party}/ops/v1/picture``): every track (its own
aircraft, its surveillance feeds' returns, the tracks other parties share with it) and every
predicted conflict; conflicts as they appear and clear also go on the event stream
(``/line/v1/events``, type ``tactical``). See :mod:`parley.services.party.picture`.

``POST {party}/line/v1/tracks``: another party's shared aircraft positions (scope ``parley.line``,
``sub`` = that party), taken only from the parties the node accepts them from
(``accept_tracks_from``; :mod:`parley.services.party.sharing`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from parley.api.auth import Principal
from parley.api.deps import authorize
from parley.api.party.deps import Operator
from parley.clients.line import LINE_SCOPE
from parley.domain.errors import PermissionDenied
from parley.domain.operations import TelemetrySample
from parley.services.party.picture import Picture
from parley.services.party.sharing import MAX_SHARED

router = APIRouter(tags=["Operations (native)"])

Peer = Annotated[Principal, Depends(authorize([LINE_SCOPE]))]


@router.get("/ops/v1/picture")
async def picture(request: Request, _op: Operator) -> JSONResponse:
    """Tracks and conflicts now, with the separation minima applied."""
    live: Picture = request.app.state.picture
    return JSONResponse(live.view())


class SharedTrack(BaseModel):
    model_config = ConfigDict(extra="forbid")

    track_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")
    time: AwareDatetime
    lat: float = Field(ge=-90.0, le=90.0)
    lng: float = Field(ge=-180.0, le=180.0)
    alt_m: float = Field(ge=-1_000.0, le=100_000.0)
    speed_mps: float | None = Field(default=None, ge=0.0, le=2_000.0)
    track_deg: float | None = Field(default=None, ge=0.0, lt=360.0)


class SharedTracks(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tracks: list[SharedTrack] = Field(min_length=1, max_length=MAX_SHARED)


@router.post("/line/v1/tracks", status_code=202)
async def shared_tracks(request: Request, body: SharedTracks, peer: Peer) -> JSONResponse:
    """Positions another party shares with this one (only from the parties it accepts them from)."""
    accepted: frozenset[str] = getattr(request.app.state, "accept_tracks_from", frozenset())
    if peer.sub not in accepted:
        raise PermissionDenied(f"tracks from {peer.sub!r} are not accepted here (accept_tracks_from)")
    samples = [
        TelemetrySample(t.track_id, t.time, t.lat, t.lng, t.alt_m, t.speed_mps, t.track_deg)
        for t in body.tracks
    ]
    live: Picture = request.app.state.picture
    live.feed(peer.sub, samples)
    return JSONResponse({"accepted": len(samples)}, status_code=202)
