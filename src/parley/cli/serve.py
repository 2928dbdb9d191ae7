"""`parley serve`: run the DSS."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from parley.bootstrap import SETTINGS_ENV
from parley.config import Settings, default_workers
from parley.storage.sql import migrate


def serve(
    database_url: Annotated[
        str | None, typer.Option(help="sqlite:///PATH or postgresql://...; default SQLite in the data dir")
    ] = None,
    data_dir: Annotated[Path, typer.Option(help="Data directory (embedded database, dev keys)")] = Path(
        "var"
    ),
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8082,
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
        bool, typer.Option("--dev-auth", help="DEVELOPMENT ONLY: accept tokens from `parley token`")
    ] = False,
    require_https: Annotated[
        bool, typer.Option("--require-https", help="Refuse http:// USS base URLs")
    ] = False,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error")] = "warning",
) -> None:
    """Run the DSS (ASTM F3548-21 /dss/v1 and /aux/v1) until interrupted."""
    try:
        settings = Settings(
            database_url=database_url,
            data_dir=data_dir,
            host=host,
            port=port,
            workers=workers or default_workers(),
            public_key_files=public_key or [],
            jwks_file=jwks,
            audiences=audience or [],
            dev_auth=dev_auth,
            allow_http_base_urls=not require_https,
            log_level=log_level,
        )
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
    os.environ[SETTINGS_ENV] = settings.model_dump_json()
    typer.echo(f"Parley DSS on http://{settings.host}:{settings.port} ({_describe(settings)})", err=True)
    uvicorn.run(
        "parley.bootstrap:app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        access_log=settings.log_level == "debug",
    )


def _check_schema(url: str) -> None:
    """Refuse to serve a database that is not migrated to the latest schema."""
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
