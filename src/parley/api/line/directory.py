"""The shared service's line API (``/line/v1`` on the DSS host): registry and witness."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse

from parley.api.auth import Principal
from parley.api.deps import authorize
from parley.clients.line import LINE_SCOPE
from parley.ports.line import Registration
from parley.services.line import directory as svc

router = APIRouter(prefix="/line/v1", tags=["Line: shared registry and witness"])

Caller = Annotated[Principal, Depends(authorize([LINE_SCOPE]))]


async def _directory(request: Request) -> svc.Directory:
    directory: svc.Directory = request.app.state.line_directory
    return directory


DirectoryDep = Annotated[svc.Directory, Depends(_directory)]


def _registration(r: Registration) -> dict[str, Any]:
    return {
        "party": r.party,
        "name": r.display_name,
        "base_url": r.base_url,
        "key": r.key_id,
        "registered_at": r.registered_at.isoformat().replace("+00:00", "Z"),
        "keys": r.keys,
    }


@router.get("/service")
async def service(directory: DirectoryDep) -> JSONResponse:
    """The shared service's witness key (pin it to check countersignatures)."""
    return JSONResponse({"name": directory.name, "witness_key": directory.key.key_id})


@router.get("/registry")
async def registry(directory: DirectoryDep, _caller: Caller) -> JSONResponse:
    return JSONResponse({"parties": [_registration(r) for r in directory.repo.registrations()]})


@router.get("/registry/{party}")
async def registered(party: str, directory: DirectoryDep, _caller: Caller) -> JSONResponse:
    return JSONResponse(_registration(svc.lookup(directory, party)))


@router.put("/registry/{party}")
async def register(
    party: str, directory: DirectoryDep, caller: Caller, body: Annotated[dict[str, Any], Body()]
) -> JSONResponse:
    """Register a party (its key history, base URL, name) or extend its key history."""
    if body.get("party", party) != party:
        return JSONResponse({"message": "party in the body differs from the path"}, status_code=400)
    registration, created = svc.register(directory, caller.sub, {**body, "party": party})
    return JSONResponse(_registration(registration), status_code=201 if created else 200)


@router.post("/witness")
async def witness(
    directory: DirectoryDep, caller: Caller, body: Annotated[dict[str, Any], Body()]
) -> JSONResponse:
    """Countersign the caller's chain head; 409 when it contradicts one countersigned before."""
    return JSONResponse(svc.witness(directory, caller.sub, body))


@router.get("/witness/{party}")
async def witnessed(party: str, directory: DirectoryDep, _caller: Caller) -> JSONResponse:
    return JSONResponse({"witness": [w.countersignature for w in directory.repo.witnessed(party)]})
