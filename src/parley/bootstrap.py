"""The composition root: the only module that knows every concrete part and wires them."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI

from parley.api.app import create_app
from parley.api.auth import KeySet, TokenVerifier
from parley.config import Settings
from parley.ports.clock import Clock, SystemClock
from parley.services.context import DssContext
from parley.storage.sql.uow import SqlStore


@dataclass
class Dss:
    """A wired DSS: its store (to dispose of) and its web application."""

    store: SqlStore
    app: FastAPI


def build_dss(settings: Settings, *, clock: Clock | None = None) -> Dss:
    """Wire a DSS over the configured database (which must be migrated: ``parley db upgrade``)."""
    store = SqlStore(settings.effective_database_url)
    ctx = DssContext(
        uow_factory=store.unit_of_work,
        clock=clock or SystemClock(),
        allow_http_base_urls=settings.allow_http_base_urls,
        max_retries=settings.max_retries,
    )
    verifier = TokenVerifier(KeySet.from_settings(settings), settings.audiences)
    app = create_app(ctx, verifier, cleanup_interval_s=settings.cleanup_interval_s)
    return Dss(store=store, app=app)


#: Environment variable through which `parley serve` hands its settings to worker processes.
SETTINGS_ENV = "PARLEY_SETTINGS_JSON"


def app_from_env() -> FastAPI:
    """uvicorn factory for worker processes: settings from :data:`SETTINGS_ENV` (else PARLEY_*)."""
    import os

    raw = os.environ.get(SETTINGS_ENV)
    settings = Settings.model_validate_json(raw) if raw else Settings()
    return build_dss(settings).app
