"""Parley's settings: one validated object, read from the environment (``PARLEY_*``) or built in
code, and injected into whatever needs it. Nothing is read at import time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    SerializationInfo,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
from uas_standards.astm.f3548.v21.constants import MaxRecoverableTimeInNonconformingStateSeconds

from parley.strategic.conflicts import ConstraintPolicy, SamePriorityPolicy

#: F3548 roles a party node may take (each grants the DSS and peer scopes of the same name).
Role = Literal[
    "strategic_coordination",
    "constraint_management",
    "constraint_processing",
    "conformance_monitoring_sa",
]


DEFAULT_ROLES: tuple[Role, ...] = (
    "strategic_coordination",
    "constraint_processing",
    "conformance_monitoring_sa",
)


class TokenSourceSettings(BaseModel):
    """Where a party node's outbound access tokens come from.

    ``dev_key`` (DEVELOPMENT ONLY): signed with the key pair of ``parley token`` in DATA_DIR/dev-keys;
    ``private_key``: signed with ``private_key_file`` (PEM, RSA or EC P-256), for services that trust
    its public key; ``client_credentials``: an OAuth 2.0 token endpoint (``token_url``,
    ``client_id``, ``client_secret``).
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["dev_key", "private_key", "client_credentials"] = "dev_key"
    private_key_file: Path | None = None
    issuer: str = "parley"
    token_url: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None

    @field_serializer("client_secret", when_used="json")
    def _secret(self, value: SecretStr | None, info: SerializationInfo) -> str | None:
        """Masked, unless the settings are handed to worker processes (context ``reveal``)."""
        if value is None:
            return None
        context = info.context or {}
        return value.get_secret_value() if context.get("reveal") else str(value)

    @model_validator(mode="after")
    def _complete(self) -> TokenSourceSettings:
        if self.kind == "private_key" and self.private_key_file is None:
            raise ValueError("token_source kind 'private_key' needs private_key_file")
        if self.kind == "client_credentials" and not (
            self.token_url and self.client_id and self.client_secret
        ):
            raise ValueError(
                "token_source kind 'client_credentials' needs token_url, client_id and client_secret"
            )
        return self


class UiOperator(BaseModel):
    """A person who may sign in to a party node's map in the browser (``{party}/ui/``) and act as its
    duty officer: a name and an argon2 hash of the password (``parley ui hash-password``)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
    password_hash: str = Field(pattern=r"^\$argon2(id|i|d)\$", description="argon2 PHC string.")


class PartySettings(BaseModel):
    """One party node served by this process (``[[parties]]`` in the settings file)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="Party id; also its URL path segment.")
    name: str = Field(default="", description="Display name.")
    manager: str | None = Field(
        default=None,
        description="The USS identity (token `sub`) it uses with the DSS and peers; default: id.",
    )
    base_url: str | None = Field(
        default=None, description="Its public USS base URL; default: PUBLIC_URL/parties/ID."
    )
    dss_url: str | None = Field(
        default=None, description="The DSS it uses (base URL, without /dss/v1); default: this server's DSS."
    )
    roles: list[Role] = Field(
        default_factory=lambda: list(DEFAULT_ROLES),
        description="F3548 roles; each grants the scopes of the same name.",
    )
    operators: list[str] = Field(
        default_factory=list,
        description="Token subjects allowed to use its operations API; default: the manager.",
    )
    same_priority: SamePriorityPolicy = SamePriorityPolicy.BLOCKED
    constraints: ConstraintPolicy = ConstraintPolicy.BLOCKED
    token_source: TokenSourceSettings = Field(default_factory=TokenSourceSettings)
    nonconforming_recovery_s: float = Field(
        default=float(MaxRecoverableTimeInNonconformingStateSeconds),
        gt=0.0,
        le=float(MaxRecoverableTimeInNonconformingStateSeconds),
        description="How long an operation may stay Nonconforming before it is Contingent, seconds "
        "(F3548 MaxRecoverableTimeInNonconformingStateSeconds at most).",
    )
    planning_attempts: int = Field(
        default=5, ge=1, le=50, description="DSS writes tried when the airspace changes."
    )
    peer_timeout_s: float = Field(default=10.0, gt=0.0, le=120.0)
    line_url: str | None = Field(
        default=None,
        description="The shared service of the line (registry and witness); default: the DSS URL.",
    )
    line_max_backoff_s: float = Field(
        default=60.0,
        gt=0.0,
        le=3600.0,
        description="Longest pause between two attempts to deliver line entries to a peer that is down, "
        "seconds (the pause doubles from 0.5 s after each failure up to this).",
    )
    clock_offset_s: float = Field(
        default=0.0,
        ge=-3600.0,
        le=3600.0,
        description="TESTS AND DEMOS ONLY: shift this party node's clock (its line entries' times, "
        "deadlines, expiries, planning) by this many seconds from the host's, to show clock skew "
        "between parties; 0 in any real deployment.",
    )
    share_tracks_with: list[str] = Field(
        default_factory=list,
        description="Parties this node sends its aircraft's positions to, once a second (their nodes must accept them).",
    )
    accept_tracks_from: list[str] = Field(
        default_factory=list,
        description="Parties whose shared aircraft positions this node adds to its tactical picture.",
    )
    tactical_rpz_nm: float = Field(
        default=5.0, gt=0.0, le=100.0, description="Tactical picture: horizontal separation minimum, NM."
    )
    tactical_hpz_ft: float = Field(
        default=1000.0, gt=0.0, le=10_000.0, description="Tactical picture: vertical separation minimum, ft."
    )
    tactical_lookahead_s: float = Field(
        default=300.0,
        gt=0.0,
        le=3600.0,
        description="Tactical picture: how far ahead conflicts are predicted, s.",
    )
    tactical_max_age_s: float = Field(
        default=30.0,
        gt=0.0,
        le=3600.0,
        description="Tactical picture: a track silent this long leaves it, s.",
    )
    ui_operators: list[UiOperator] = Field(
        default_factory=list,
        description="Who may sign in to the node's map (PARTY_BASE/ui/); none: nobody can.",
    )
    ui_tile_url: str | None = Field(
        default=None,
        description="An online raster tile URL template for the map ({z}/{x}/{y}); default: the "
        "offline basemap shipped with Parley only.",
    )
    cache_peer_details: bool = Field(
        default=True,
        description="Reuse others' details learnt from notifications or earlier fetches while the DSS "
        "reports the same version; false: fetch them from their USS at every planning.",
    )

    @property
    def uss_identity(self) -> str:
        return self.manager or self.id


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

    # -- what this process serves ---------------------------------------------------------------
    serve_dss: bool = Field(default=True, description="Serve the DSS (/dss/v1, /aux/v1) here.")
    public_url: str | None = Field(
        default=None, description="How others reach this server; default http://HOST:PORT."
    )
    parties: list[PartySettings] = Field(default_factory=list, description="Party nodes served here.")

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

    @model_validator(mode="after")
    def _distinct_parties(self) -> Settings:
        ids = [p.id for p in self.parties]
        if len(ids) != len(set(ids)):
            raise ValueError("party ids must be distinct")
        if not self.serve_dss and any(p.dss_url is None for p in self.parties):
            raise ValueError("a party needs dss_url when this server does not serve the DSS")
        if not self.serve_dss and not self.parties:
            raise ValueError("nothing to serve: serve_dss is false and no parties are configured")
        return self

    @property
    def effective_public_url(self) -> str:
        """The base URL under which others reach this server."""
        if self.public_url is not None:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"

    def party_base_url(self, party: PartySettings) -> str:
        """The USS base URL of ``party``."""
        return (party.base_url or f"{self.effective_public_url}/parties/{party.id}").rstrip("/")

    def party_line_url(self, party: PartySettings) -> str:
        """The line's shared service ``party`` uses."""
        return (party.line_url or self.party_dss_url(party)).rstrip("/")

    def party_dss_url(self, party: PartySettings) -> str:
        """The DSS base URL ``party`` uses."""
        return (party.dss_url or self.effective_public_url).rstrip("/")

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


def load_settings_file(path: Path) -> dict[str, object]:
    """The settings in a TOML file (keys as :class:`Settings` fields; ``[[parties]]`` tables)."""
    import tomllib

    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ValueError(f"settings file {path} does not exist") from None
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"settings file {path} is not valid TOML: {error}") from None
