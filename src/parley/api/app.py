"""The FastAPI application factory: routers, error mapping, body limit, housekeeping.

Concurrency model: route handlers are coroutines that call the synchronous use cases directly, so
each worker process runs one DSS transaction at a time on its event loop, and requests are
spread over worker processes (``parley serve --workers``). A DSS transaction is short and bounded
(a handful of indexed statements; reads take no locks; writes wait at most for one other
writer's commit), and handing each one to a thread pool cost more CPU than the transaction itself
(measured: 2.3 ms against 1.2 ms per query). Only the periodic expiry sweep runs in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from fastapi import FastAPI

from parley import __version__
from parley.api.auth import TokenVerifier
from parley.api.dss_fast import DssFastPath
from parley.api.errors import install_error_handlers
from parley.api.fast import FastRoutes
from parley.api.routes import (
    aux,
    dss_availability,
    dss_constraints,
    dss_operational_intents,
    dss_subscriptions,
)
from parley.services.context import DssContext
from parley.services.dss_availability import remove_expired

log = logging.getLogger("parley.api")

#: Largest request body accepted, bytes (a 10,000-vertex polygon is well under 1 MiB).
MAX_BODY_BYTES = 16 * 1024 * 1024

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyLimit:
    """Refuse requests whose declared body is larger than ``limit`` bytes (413, nothing read)."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope.get("headers", ()):
                if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                    body = f'{{"message":"Request body larger than {self.limit} bytes"}}'.encode()
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 413,
                            "headers": [
                                (b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                            ],
                        }
                    )
                    await send({"type": "http.response.body", "body": body})
                    return
        await self.app(scope, receive, send)


class PrefixDispatch:
    """Send requests under ``{prefix}{name}/`` straight to the app mounted under that name, as
    Starlette's ``Mount`` would (``root_path`` extended, the path kept), before the wrapped app's
    router tries its routes one by one: a server with the DSS and several party nodes has some
    hundred routes, and matching them cost more CPU than a line request's own work. The name's
    :class:`~parley.api.fast.FastRoutes`, if any, take their exact paths first. Anything else goes
    to the wrapped app."""

    def __init__(
        self,
        app: ASGIApp,
        prefix: str,
        apps: Mapping[str, ASGIApp],
        fast: Mapping[str, FastRoutes] | None = None,
    ) -> None:
        self.app = app
        self.prefix = prefix
        self.apps = dict(apps)
        self.fast = dict(fast or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            root_path: str = scope.get("root_path", "")
            path: str = scope["path"]
            route_path = path[len(root_path) :] if root_path and path.startswith(root_path) else path
            if route_path.startswith(self.prefix):
                name, slash, rest = route_path[len(self.prefix) :].partition("/")
                target = self.apps.get(name)
                if target is not None and slash:
                    routes = self.fast.get(name)
                    fast = routes.match(scope.get("method", ""), slash + rest) if routes is not None else None
                    if fast is not None and routes is not None:
                        await routes.serve(fast, scope, receive, send)
                        return
                    child = dict(scope)
                    child["app_root_path"] = scope.get("app_root_path", root_path)
                    child["root_path"] = root_path + self.prefix + name
                    await target(child, receive, send)
                    return
        await self.app(scope, receive, send)


def create_app(dss: DssContext, verifier: TokenVerifier, *, cleanup_interval_s: float = 0.0) -> FastAPI:
    """A DSS application over ``dss`` whose callers are authenticated by ``verifier``."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(_sweep(dss, cleanup_interval_s)) if cleanup_interval_s > 0 else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(
        title="Parley DSS",
        version=__version__,
        description=(
            "ASTM F3548-21 discovery and synchronization service (strategic coordination) with the "
            "InterUSS auxiliary endpoints. Every call needs a JWT bearer token."
        ),
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False  # ".../{id}/" is an update with an empty OVN, not a redirect
    app.state.dss = dss
    app.state.verifier = verifier
    install_error_handlers(app)
    for module in (dss_operational_intents, dss_constraints, dss_subscriptions, dss_availability, aux):
        app.include_router(module.router)
    # The operational intent references' operations below FastAPI (ADR 0011), inside the body limit.
    app.add_middleware(
        DssFastPath,
        dss=dss,
        verifier=verifier,
        routes=dss_operational_intents.router.routes,
        body_limit=MAX_BODY_BYTES,
    )
    app.add_middleware(BodyLimit)
    return app


async def _sweep(dss: DssContext, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            removed = await asyncio.to_thread(remove_expired, dss)
            if removed:
                log.info("removed expired entities", extra={"count": removed})
        except Exception:
            log.exception("expired-entity sweep failed")
