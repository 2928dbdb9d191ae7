"""FastAPI dependencies: the DSS context and the authenticated, authorized caller.

Routes state what they need with ``Annotated`` aliases; the objects come from ``app.state``,
put there by :func:`parley.api.app.create_app` (no globals).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from uas_standards.astm.f3548.v21.constants import Scope

from parley.api.auth import Principal, TokenVerifier, bearer_token, require_scopes
from parley.services.context import DssContext

SC = Scope.StrategicCoordination.value
CM = Scope.ConstraintManagement.value
CP = Scope.ConstraintProcessing.value
CMSA = Scope.ConformanceMonitoringForSituationalAwareness.value
AA = Scope.AvailabilityArbitration.value

#: Documents the bearer scheme in the OpenAPI; verification is ours (so errors are ours too).
_bearer = HTTPBearer(auto_error=False, description="JWT access token (RS256 or ES256)")


# Dependencies are coroutines: cheap CPU work, run inline on the event loop (a plain ``def`` would
# cost each request a round trip through the thread pool per dependency).
async def _dss(request: Request) -> DssContext:
    ctx: DssContext = request.app.state.dss
    return ctx


DssDep = Annotated[DssContext, Depends(_dss)]


def authorize(*alternatives: Iterable[str]) -> Callable[..., Awaitable[Principal]]:
    """Dependency: a caller holding all scopes of at least one of ``alternatives``."""
    scope_sets = tuple(frozenset(a) for a in alternatives)

    async def dependency(
        request: Request,
        _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        verifier: TokenVerifier = request.app.state.verifier
        token = bearer_token(request.headers.get("authorization"))
        principal = verifier.verify(token, request_host=request.url.hostname)
        if scope_sets:
            require_scopes(principal, scope_sets)
        return principal

    return dependency
