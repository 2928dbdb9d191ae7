"""The standard's declared error responses, per operation (for OpenAPI and the error mapper)."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel

from parley.api.wire.f3548v21 import AirspaceConflictResponse, ErrorResponse

_DESCRIPTIONS = {
    400: "One or more input parameters were missing or invalid.",
    401: "Bearer access token was not provided, could not be decoded, or was invalid.",
    403: "The access token does not grant a scope appropriate to this request, or the entity is another USS's.",
    404: "The requested entity could not be found.",
    409: "Version mismatch, missing OVNs in the key, or concurrent changes.",
    412: "The USS is marked Down in the DSS.",
    413: "The area is too large.",
    429: "The client issued too many requests in a short period of time.",
}


def errors(*codes: int, conflict_model: type = ErrorResponse) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route declaring ``codes`` (409 with ``conflict_model``)."""
    return {
        code: {"model": conflict_model if code == 409 else ErrorResponse, "description": _DESCRIPTIONS[code]}
        for code in codes
    }


AIRSPACE_CONFLICT = AirspaceConflictResponse


def respond(body: BaseModel, status: int = 200) -> JSONResponse:
    """Serialise a wire model (already validated by construction) as the response."""
    return JSONResponse(status_code=status, content=body.model_dump(mode="json"))
