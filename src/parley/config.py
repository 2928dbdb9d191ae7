"""Parley's settings: one validated object, read from the environment (``PARLEY_*``) or built in
code, and injected into whatever needs it. Nothing is read at import time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything a Parley process is configured with."""

    model_config = SettingsConfigDict(env_prefix="PARLEY_", extra="forbid")

    data_dir: Path = Field(default=Path("var"), description="Where the embedded database and dev keys live.")
    database_url: str | None = Field(
        default=None,
        description="sqlite:///PATH or postgresql://... ; default: SQLite at DATA_DIR/parley.db",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8082, ge=1, le=65535)
    workers: int = Field(default_factory=lambda: default_workers(), ge=1, le=64)
    log_level: Literal["debug", "info", "warning", "error"] = "warning"

    # -- auth --------------------------------------------------------------------------------
    public_key_files: list[Path] = Field(
        default_factory=list, description="PEM public keys (RSA or EC) that sign accepted access tokens."
    )
    jwks_file: Path | None = Field(default=None, description="A JWKS file of accepted signing keys.")
    audiences: list[str] = Field(
        default_factory=list,
        description="Accepted `aud` values; empty: the host name the request was addressed to.",
    )
    dev_auth: bool = Field(
        default=False,
        description="DEVELOPMENT ONLY: trust the key pair in DATA_DIR/dev-keys (see `parley token`).",
    )

    # -- DSS behaviour -------------------------------------------------------------------------
    allow_http_base_urls: bool = Field(
        default=True, description="Accept http:// USS base URLs (local use); false requires https."
    )
    cleanup_interval_s: float = Field(
        default=60.0, ge=0.0, description="Expired-entity sweep period; 0 = off."
    )
    max_retries: int = Field(
        default=20, ge=0, le=1000, description="Retries of a transaction that lost a race."
    )

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://", "postgres://")):
            raise ValueError("database_url must start with sqlite:// or postgresql://")
        return value

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to SQLite in the data directory."""
        if self.database_url is not None:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'parley.db').resolve()}"

    @property
    def dev_key_dir(self) -> Path:
        """Where the development signing key pair lives."""
        return self.data_dir / "dev-keys"


def default_workers() -> int:
    """Worker processes by default: one per CPU (each runs one DSS transaction at a time), at most 8."""
    return max(1, min(8, os.cpu_count() or 1))
