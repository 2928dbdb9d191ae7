"""The one place where errors become HTTP responses.

Domain errors map to the statuses of the closed hierarchy in :mod:`parley.domain.errors`; a status
that the called operation does not declare in the standard (for example 404 on a PUT, or 413 on a
subscription) becomes 400, which every operation declares; contention that outlasted the retries
(:class:`ContentionExhausted`) is 409 where declared, else 429. Authentication errors are 401 with a
``WWW-Authenticate`` header, authorization errors 403. Every body is the standard's
``ErrorResponse`` (``{"message": ...}``), except key conflicts on operational intents, which get
an ``AirspaceConflictResponse``. Unexpected errors are logged and answered 500 without details.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from parley.api.auth import AuthenticationError, AuthorizationError
from parley.api.wire import f3548v21 as wire
from parley.domain.errors import (
    Conflict,
    ContentionExhausted,
    InvalidInput,
    MissingOvns,
    NoTelemetry,
    NotFound,
    ParleyError,
    PermissionDenied,
    UpstreamFailure,
    UssDown,
)
from parley.services.views import constraint_views_of, oir_views_of

log = logging.getLogger("parley.api")


def _status_for(exc: ParleyError) -> int:
    if isinstance(exc, InvalidInput):  # AreaTooLarge included: conformance suites expect 400
        return 400
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, UssDown | NoTelemetry):
        return 412
    if isinstance(exc, UpstreamFailure):
        return 502
    return 400


def _contention_status(route: object) -> int:
    """409 where the operation declares it (F3548: "Despite repeated attempts, the DSS was unable
    to complete the update because of other simultaneous changes"); elsewhere 429, the status every
    operation declares for "retry later", rather than 400, which would call the request invalid."""
    status = _declared(route, 409)
    return status if status == 409 else _declared(route, 429)


def _declared(route: object, status: int) -> int:
    """``status`` if the operation (``route``, the matched route) declares it, else 400."""
    if (
        isinstance(route, APIRoute)
        and route.responses
        and status not in route.responses
        and str(status) not in route.responses
    ):
        return 400
    return status


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"message": message}, headers=headers)


def _conflict_body(route: object, exc: Conflict) -> dict[str, object] | None:
    """AirspaceConflictResponse for operations that declare it (operational intent PUTs)."""
    if not (isinstance(route, APIRoute) and route.operation_id in _AIRSPACE_CONFLICT_OPERATIONS):
        return None
    if isinstance(exc, MissingOvns):
        ops = [
            wire.oir_to_wire(v.reference, v.uss_availability)
            for v in oir_views_of(exc.operational_intents, exc.availability, exc.requester)
        ]
        cons = [
            wire.constraint_to_wire(v.reference, v.uss_availability)
            for v in constraint_views_of(exc.constraints, exc.availability, exc.requester)
        ]
    else:
        ops, cons = [], []
    body = wire.AirspaceConflictResponse(
        message=exc.message, missing_operational_intents=ops, missing_constraints=cons
    )
    return wire.dump(body)


def route_error(exc: Exception, route: object) -> tuple[int, Any, dict[str, str] | None] | None:
    """Status, JSON content and headers of the answer to ``exc`` raised by the operation of
    ``route`` (the matched :class:`~fastapi.routing.APIRoute`): what the handlers installed by
    :func:`install_error_handlers` answer, for the paths that serve an operation below FastAPI
    (:mod:`parley.api.dss_fast`); None for an unexpected error (500)."""
    if isinstance(exc, ParleyError):
        if isinstance(exc, ContentionExhausted):
            status = _contention_status(route)
        else:
            status = _declared(route, _status_for(exc))
        if status == 409 and isinstance(exc, Conflict):
            body = _conflict_body(route, exc)
            if body is not None:
                return 409, body, None
        return status, {"message": exc.message}, None
    if isinstance(exc, AuthenticationError):
        return 401, {"message": exc.message}, {"WWW-Authenticate": "Bearer"}
    if isinstance(exc, AuthorizationError):
        return 403, {"message": exc.message}, None
    return None


_AIRSPACE_CONFLICT_OPERATIONS = frozenset(
    {"createOperationalIntentReference", "updateOperationalIntentReference"}
)


def validation_message(errors: Sequence[Any]) -> str:
    """The 400 message for a request that fails validation (pydantic's errors, FastAPI's or ours)."""
    parts = []
    for err in errors[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{loc or 'body'}: {err.get('msg', 'invalid')}")
    more = len(errors) - 5
    return "Invalid request: " + "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def plain_error(exc: Exception) -> tuple[int, str, dict[str, str] | None] | None:
    """Status, message and headers for an error of a route that declares no particular responses
    (Parley's own APIs): what the handlers below answer there; None for an unexpected error (500)."""
    if isinstance(exc, ParleyError):
        return _status_for(exc), exc.message, None
    if isinstance(exc, AuthenticationError):
        return 401, exc.message, {"WWW-Authenticate": "Bearer"}
    if isinstance(exc, AuthorizationError):
        return 403, exc.message, None
    if isinstance(exc, ValidationError):
        return 400, validation_message(exc.errors()), None
    return None


def install_error_handlers(app: FastAPI) -> None:
    """Register the mapping on ``app``."""

    @app.exception_handler(ParleyError)
    async def domain_error(request: Request, exc: ParleyError) -> JSONResponse:
        answer = route_error(exc, request.scope.get("route"))
        assert answer is not None  # every ParleyError has its answer
        status, content, headers = answer
        return JSONResponse(status_code=status, content=content, headers=headers)

    @app.exception_handler(AuthenticationError)
    async def unauthenticated(request: Request, exc: AuthenticationError) -> JSONResponse:
        return _error(401, exc.message, {"WWW-Authenticate": "Bearer"})

    @app.exception_handler(AuthorizationError)
    async def forbidden(request: Request, exc: AuthorizationError) -> JSONResponse:
        return _error(403, exc.message)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(400, validation_message(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error(500, "Internal server error")
