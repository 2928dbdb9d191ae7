"""The FastAPI application of one party node, mounted at its base URL by the server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from parley import __version__
from parley.api.auth import TokenVerifier
from parley.api.errors import install_error_handlers
from parley.api.party import flight_planning, ops, tracks, uss
from parley.services.party import conformance
from parley.services.party.node import PartyNode

log = logging.getLogger("parley.party")

#: How often Nonconforming operations are checked for the Contingent deadline, seconds.
SWEEP_INTERVAL_S = 1.0


def create_party_app(node: PartyNode, verifier: TokenVerifier) -> FastAPI:
    """The node's application. It is mounted under the server's app, whose lifespan runs the
    node's housekeeping (:func:`housekeeping`): mounted apps get no lifespan of their own."""
    app = FastAPI(
        title=f"Parley party node: {node.name or node.party}",
        version=__version__,
        description=(
            "An ASTM F3548-21 USS: the peer API (/uss/v1), Parley's operations API (/ops/v1) and the "
            "InterUSS flight-planning test interface (/flight_planning/v1). Every call needs a JWT."
        ),
    )
    app.router.redirect_slashes = False
    app.state.node = node
    app.state.verifier = verifier
    install_error_handlers(app)
    app.include_router(uss.router)
    app.include_router(ops.router)
    app.include_router(tracks.router)
    app.include_router(flight_planning.router)
    return app


@contextlib.asynccontextmanager
async def housekeeping(node: PartyNode, interval_s: float = SWEEP_INTERVAL_S) -> AsyncIterator[None]:
    """Run the node's periodic work (the Contingent deadline of Nonconforming operations)."""
    task = asyncio.create_task(_sweep(node, interval_s)) if interval_s > 0 else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _sweep(node: PartyNode, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            await conformance.sweep(node)
        except Exception:
            log.exception("conformance sweep failed")
