"""/aux/v1: operator endpoints the reference DSS serves beside the standard (version, token check)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from parley import __version__
from parley.api.auth import AuthorizationError, Principal
from parley.api.deps import authorize

router = APIRouter(prefix="/aux/v1", tags=["Auxiliary"])


@router.get("/version", operation_id="getVersion", summary="The version of this DSS.")
async def version() -> JSONResponse:
    return JSONResponse(content={"version": f"parley-{__version__}"})


@router.get(
    "/validate_oauth",
    operation_id="validateOauth",
    summary="Check that an access token is accepted by this DSS (and, with `owner`, whose it is).",
)
async def validate_oauth(
    caller: Annotated[Principal, Depends(authorize())],
    owner: Annotated[str | None, Query(description="Expected `sub` of the token")] = None,
) -> JSONResponse:
    if owner is not None and owner != caller.sub:
        raise AuthorizationError(f"Token owner `{caller.sub}` does not match the expected owner `{owner}`")
    return JSONResponse(content={})
