"""The party node's live tactical picture (``GET {party}/ops/v1/picture``): every track (its own
aircraft and its surveillance feeds' returns) and every predicted conflict; conflicts as they appear
and clear also go on the event stream (``/line/v1/events``, type ``tactical``). See
:mod:`parley.services.party.picture`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from parley.api.party.deps import Operator
from parley.services.party.picture import Picture

router = APIRouter(prefix="/ops/v1", tags=["Operations (native)"])


@router.get("/picture")
async def picture(request: Request, _op: Operator) -> JSONResponse:
    """Tracks and conflicts now, with the separation minima applied."""
    live: Picture = request.app.state.picture
    return JSONResponse(live.view())
