"""The composition root: the only module that knows every concrete part and wires them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from parley import __version__
from parley.api.app import MAX_BODY_BYTES, ASGIApp, BodyLimit, PrefixDispatch, create_app
from parley.api.auth import KeySet, TokenVerifier
from parley.api.fast import FastRoutes
from parley.api.line import compliance as compliance_api
from parley.api.line import directory as line_directory_api
from parley.api.line import node as line_node_api
from parley.api.line import protection as protection_api
from parley.api.party import picture as picture_api
from parley.api.party.app import create_party_app, housekeeping
from parley.api.ui import routes as ui_api
from parley.clients.dss import DssClient
from parley.clients.http import AiohttpSession, HttpSession, HttpxSession
from parley.clients.line import DirectoryClient, LinePeerClient
from parley.clients.peers import PeerClient
from parley.clients.tokens import ClientCredentialsTokenSource, SigningKeyTokenSource, TokenSource
from parley.clients.utm import UtmHttp
from parley.config import PartySettings, Settings
from parley.devtokens import ensure_dev_keys
from parley.line.keys import load_or_create
from parley.ports.clock import Clock, OffsetClock, SystemClock
from parley.services.compliance import Compliance
from parley.services.compliance import housekeeping as compliance_housekeeping
from parley.services.context import DssContext
from parley.services.line import node as line
from parley.services.line.directory import Directory
from parley.services.party.node import PartyNode
from parley.services.party.picture import Picture, separation_of
from parley.services.party.picture import running as pictures_running
from parley.services.party.sharing import Sharing
from parley.services.party.sharing import running as sharing_running
from parley.services.protection.desk import ProtectionDesk
from parley.services.protection.shared import SharedProtection
from parley.storage.sql.line import SqlLineRepository
from parley.storage.sql.party import SqlPartyRepository
from parley.storage.sql.protection import SqlProtectionRegistry
from parley.storage.sql.uow import SqlStore
from parley.strategic import CheckPolicy


@dataclass
class Dss:
    """A wired DSS: its store (to dispose of) and its web application."""

    store: SqlStore
    app: FastAPI


def build_dss(settings: Settings, *, clock: Clock | None = None, store: SqlStore | None = None) -> Dss:
    """Wire a DSS over the configured database (which must be migrated: ``parley db upgrade``)."""
    store = store or SqlStore(settings.effective_database_url)
    ctx = DssContext(
        uow_factory=store.unit_of_work,
        clock=clock or SystemClock(),
        allow_http_base_urls=settings.allow_http_base_urls,
        max_retries=settings.max_retries,
    )
    verifier = TokenVerifier(KeySet.from_settings(settings), settings.audiences)
    app = create_app(ctx, verifier, cleanup_interval_s=settings.cleanup_interval_s)
    return Dss(store=store, app=app)


@dataclass
class Server:
    """Everything one server process runs: the DSS (optional) and party nodes, one app."""

    store: SqlStore
    app: FastAPI
    nodes: dict[str, PartyNode] = field(default_factory=dict)
    lines: dict[str, line.LineNode] = field(default_factory=dict)
    compliance: dict[str, Compliance] = field(default_factory=dict)
    pictures: dict[str, Picture] = field(default_factory=dict)


def _token_source(settings: Settings, party: PartySettings, http: HttpSession) -> TokenSource:
    source = party.token_source
    if source.kind == "dev_key":
        private_path, _ = ensure_dev_keys(settings.dev_key_dir)
        return SigningKeyTokenSource(private_path, subject=party.uss_identity, issuer="parley-dev")
    if source.kind == "private_key":
        assert source.private_key_file is not None
        return SigningKeyTokenSource(
            source.private_key_file, subject=party.uss_identity, issuer=source.issuer
        )
    assert source.token_url and source.client_id and source.client_secret
    return ClientCredentialsTokenSource(
        source.token_url,
        client_id=source.client_id,
        client_secret=source.client_secret.get_secret_value(),
        http=http,
    )


def party_clock(party: PartySettings, clock: Clock | None = None) -> Clock:
    """The clock of ``party``'s node: ``clock`` (default: the wall clock), shifted by the party's
    ``clock_offset_s`` when one is set (tests and demos of clock skew only)."""
    base = clock or SystemClock()
    return OffsetClock(base, party.clock_offset_s) if party.clock_offset_s else base


def build_node(
    settings: Settings,
    party: PartySettings,
    store: SqlStore,
    http: HttpSession,
    *,
    clock: Clock | None = None,
) -> PartyNode:
    """Wire one party node."""
    utm = UtmHttp(http, _token_source(settings, party, http), timeout_s=party.peer_timeout_s)
    return PartyNode(
        party=party.id,
        name=party.name or party.id,
        manager=party.uss_identity,
        base_url=settings.party_base_url(party),
        repo=SqlPartyRepository(store),
        dss=DssClient(utm, settings.party_dss_url(party)),
        peers=PeerClient(utm),
        clock=party_clock(party, clock),
        policy=CheckPolicy(same_priority=party.same_priority, constraints=party.constraints),
        roles=frozenset(party.roles),
        operators=frozenset(party.operators or [party.uss_identity]),
        planning_attempts=party.planning_attempts,
        nonconforming_recovery_s=party.nonconforming_recovery_s,
        cache_peer_details=party.cache_peer_details,
    )


def build_server(
    settings: Settings, *, clock: Clock | None = None, http: httpx.AsyncClient | None = None
) -> Server:
    """Wire what ``settings`` asks this process to serve: the DSS at the root (``/dss/v1``,
    ``/aux/v1``) unless ``serve_dss`` is false, and each party node under ``/parties/{id}``.

    ``http`` is the client of the nodes' outbound calls (tests give an httpx client whose
    transport is an app); by default an aiohttp session, closed with the app."""
    store = SqlStore(settings.effective_database_url)
    line_repo = SqlLineRepository(store)
    if settings.serve_dss:
        root = build_dss(settings, clock=clock, store=store).app
        root.state.line_directory = Directory(
            repo=line_repo,
            key=load_or_create(settings.data_dir / "line" / "service.pem"),
            clock=clock or SystemClock(),
        )
        root.include_router(line_directory_api.router)
        root.state.protection_shared = SharedProtection(SqlProtectionRegistry(store), clock or SystemClock())
        root.include_router(protection_api.shared_router)
    else:
        root = FastAPI(title="Parley", version=__version__)
        root.add_middleware(BodyLimit)
    if not settings.parties:
        return Server(store=store, app=root)

    own_client = http is None
    client: HttpSession = AiohttpSession() if http is None else HttpxSession(http)
    verifier = TokenVerifier(KeySet.from_settings(settings), settings.audiences)
    nodes = {p.id: build_node(settings, p, store, client, clock=clock) for p in settings.parties}
    lines = {p.id: build_line(settings, p, line_repo, client, clock=clock) for p in settings.parties}
    compliance = {p.id: Compliance(nodes[p.id], lines[p.id]) for p in settings.parties}
    sharings = {
        p.id: Sharing(lines[p.id], lines[p.id].peers, tuple(p.share_tracks_with)) for p in settings.parties
    }
    settings_of = {p.id: p for p in settings.parties}
    pictures = {
        p.id: Picture(
            nodes[p.id],
            lines[p.id].events.publish,
            separation_of(p.tactical_rpz_nm, p.tactical_hpz_ft, p.tactical_lookahead_s),
            p.tactical_max_age_s,
        )
        for p in settings.parties
    }
    parties = {p.id: p for p in settings.parties}
    party_apps: dict[str, ASGIApp] = {}
    fast: dict[str, FastRoutes] = {}
    for party_id, node in nodes.items():
        app = create_party_app(node, verifier)
        app.state.line = lines[party_id]
        app.state.compliance = compliance[party_id]
        app.state.picture = pictures[party_id]
        app.state.sharing = sharings[party_id]
        app.state.accept_tracks_from = frozenset(settings_of[party_id].accept_tracks_from)
        lines[party_id].listeners.append(compliance[party_id].received)
        app.include_router(line_node_api.router)
        app.state.protection = ProtectionDesk(lines[party_id], store)
        compliance[party_id].protected = app.state.protection.exact_items
        app.include_router(protection_api.node_router)
        app.include_router(compliance_api.router)
        app.state.ui = ui_api.config_of(settings, parties[party_id])
        ui_api.install(app)  # the map page, for the operators signed in (docs/demo.md)
        app.include_router(picture_api.router)
        root.mount(f"/parties/{party_id}", app)  # for the schema and url_for; requests take the fast path
        party_apps[party_id] = BodyLimit(app)
        fast[party_id] = FastRoutes(
            line_node_api.fast_routes(lines[party_id], node, app.state.protection),
            verifier,
            body_limit=MAX_BODY_BYTES,
        )
    root.add_middleware(PrefixDispatch, prefix="/parties/", apps=party_apps, fast=fast)

    @root.get("/parties", include_in_schema=False)
    async def list_parties() -> JSONResponse:
        return JSONResponse(
            {"parties": [{"id": n.party, "name": n.name, "uss_base_url": n.base_url} for n in nodes.values()]}
        )

    inner = root.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(inner(app))
            for node in nodes.values():
                await stack.enter_async_context(housekeeping(node))
            await stack.enter_async_context(compliance_housekeeping(list(compliance.values())))
            await stack.enter_async_context(pictures_running(list(pictures.values())))
            await stack.enter_async_context(sharing_running(list(sharings.values())))
            tasks = [asyncio.create_task(line.run(n)) for n in lines.values()]
            stack.push_async_callback(_cancel, tasks)
            if own_client:
                stack.push_async_callback(client.aclose)
            yield

    root.router.lifespan_context = lifespan
    return Server(store=store, app=root, nodes=nodes, lines=lines, compliance=compliance, pictures=pictures)


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


def build_line(
    settings: Settings,
    party: PartySettings,
    repo: SqlLineRepository,
    http: HttpSession,
    *,
    clock: Clock | None = None,
) -> line.LineNode:
    """Wire one party's line: its Ed25519 key (DATA_DIR/line/ID.pem, created on first start)."""
    utm = UtmHttp(http, _token_source(settings, party, http), timeout_s=party.peer_timeout_s)
    return line.LineNode(
        party=party.uss_identity,
        name=party.name or party.id,
        key=load_or_create(settings.data_dir / "line" / f"{party.id}.pem"),
        key_file=settings.data_dir / "line" / f"{party.id}.pem",
        repo=repo,
        clock=party_clock(party, clock),
        base_url=settings.party_base_url(party),
        directory=DirectoryClient(utm, settings.party_line_url(party)),
        peers=LinePeerClient(utm),
        max_backoff_s=party.line_max_backoff_s,
    )


#: Environment variable through which `parley serve` hands its settings to worker processes.
SETTINGS_ENV = "PARLEY_SETTINGS_JSON"


def app_from_env() -> FastAPI:
    """uvicorn factory for worker processes: settings from :data:`SETTINGS_ENV` (else PARLEY_*)."""
    import os

    raw = os.environ.get(SETTINGS_ENV)
    settings = Settings.model_validate_json(raw) if raw else Settings()
    return build_server(settings).app
