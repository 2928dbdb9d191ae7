"""`parley serve`: run the DSS and/or party nodes."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:  # imported where used: every `parley` command loads this module
    from pydantic import ValidationError

    from parley.config import Settings


def serve(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="Settings file (TOML): the DSS, parties, keys; options below override it"
        ),
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help="sqlite:///PATH or postgresql://...; default SQLite in the data dir")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Data directory (embedded database, dev keys); default ./var")
    ] = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on; default 127.0.0.1")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on; default 8082")] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Worker processes (default: one per CPU, at most 8)"),
    ] = None,
    public_key: Annotated[
        list[Path] | None,
        typer.Option("--public-key", help="PEM public key accepted for access tokens (repeatable)"),
    ] = None,
    jwks: Annotated[Path | None, typer.Option(help="JWKS file of accepted token signing keys")] = None,
    audience: Annotated[
        list[str] | None,
        typer.Option(
            "--audience", help="Accepted token audience (repeatable); default: the request's host name"
        ),
    ] = None,
    dev_auth: Annotated[
        bool | None, typer.Option("--dev-auth", help="DEVELOPMENT ONLY: accept tokens from `parley token`")
    ] = None,
    require_https: Annotated[
        bool | None, typer.Option("--require-https", help="Refuse http:// USS base URLs")
    ] = None,
    log_level: Annotated[str | None, typer.Option(help="debug, info, warning or error")] = None,
) -> None:
    """Run the DSS (ASTM F3548-21 /dss/v1 and /aux/v1) and the party nodes of the settings file
    (each under /parties/ID) until interrupted."""
    import uvicorn
    from pydantic import ValidationError

    from parley.bootstrap import SETTINGS_ENV
    from parley.config import Settings, load_settings_file

    values: dict[str, Any] = {}
    try:
        if config is not None:
            values.update(load_settings_file(config))
        overrides = {
            "database_url": database_url,
            "data_dir": data_dir,
            "host": host,
            "port": port,
            "workers": workers,
            "public_key_files": public_key,
            "jwks_file": jwks,
            "audiences": audience,
            "dev_auth": dev_auth,
            "allow_http_base_urls": (not require_https) if require_https is not None else None,
            "log_level": log_level,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = Settings(**values)
    except ValidationError as exc:
        raise typer.BadParameter(_describe_errors(exc)) from None
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if not (settings.public_key_files or settings.jwks_file or settings.dev_auth):
        raise typer.BadParameter("no token keys: give --public-key or --jwks (or --dev-auth for development)")
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    if settings.dev_auth:
        typer.echo("WARNING: development auth enabled: tokens from `parley token` are accepted", err=True)
    _check_schema(settings.effective_database_url)
    os.environ[SETTINGS_ENV] = settings.model_dump_json(context={"reveal": True})
    base = settings.effective_public_url
    if settings.serve_dss:
        typer.echo(f"Parley DSS on {base} ({_describe(settings)})", err=True)
    for party in settings.parties:
        typer.echo(f"Party {party.id!r} on {settings.party_base_url(party)}", err=True)
    uvicorn.run(
        "parley.bootstrap:app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        access_log=settings.log_level == "debug",
    )


def _describe_errors(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:8]:
        loc = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{loc or 'settings'}: {err.get('msg', 'invalid')}")
    return "invalid settings: " + "; ".join(parts)


def _check_schema(url: str) -> None:
    """Refuse to serve a database that is not migrated to the latest schema."""
    from parley.storage.sql import migrate

    try:
        current = migrate.current_revision(url)
    except Exception as error:  # any driver error: the database cannot be reached
        typer.echo(f"error: cannot open the database: {error}", err=True)
        raise typer.Exit(2) from None
    head = migrate.head_revision()
    if current != head:
        state = "not initialised" if current is None else f"at revision {current}, not {head}"
        typer.echo(f"error: the database is {state}: run `parley db upgrade` first", err=True)
        raise typer.Exit(2)


def _describe(settings: Settings) -> str:
    url = settings.effective_database_url
    return "PostgreSQL" if url.startswith("postgres") else f"SQLite at {url.removeprefix('sqlite:///')}"
