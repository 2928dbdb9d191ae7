"""``parley token``: mint a DEVELOPMENT access token (registered by the root app)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from parley.devtokens import algorithm_for_key, ensure_dev_keys, mint_token


def token(
    sub: Annotated[str, typer.Option("--sub", help="The caller's identity (the F3548 `manager`).")],
    scope: Annotated[
        list[str],
        typer.Option("--scope", help="A scope to grant, e.g. utm.strategic_coordination (repeatable)."),
    ],
    aud: Annotated[
        str, typer.Option("--aud", help="The audience: the host name the DSS is addressed by.")
    ] = "localhost",
    lifetime: Annotated[
        int, typer.Option("--lifetime", min=1, help="Seconds until the token expires.")
    ] = 3600,
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="Data directory; the dev keys live in DATA_DIR/dev-keys.")
    ] = Path("var"),
    key: Annotated[
        Path | None,
        typer.Option(
            "--key", help="Sign with this PEM private key (RSA or EC P-256) instead of the dev key."
        ),
    ] = None,
) -> None:
    """Print a DEVELOPMENT ONLY access token, signed with the dev key (trusted when dev_auth is on)."""
    if not scope:
        raise typer.BadParameter("give at least one --scope", param_hint="--scope")
    if key is not None:
        try:
            private_pem = key.read_bytes()
        except OSError as exc:
            raise typer.BadParameter(f"cannot read {key}: {exc.strerror or exc}", param_hint="--key") from exc
    else:
        private_path, _ = ensure_dev_keys(data_dir / "dev-keys")
        private_pem = private_path.read_bytes()
    try:
        signed = mint_token(
            private_pem,
            sub=sub,
            scopes=scope,
            audience=aud,
            lifetime_s=lifetime,
            algorithm=algorithm_for_key(private_pem),
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    typer.echo("parley token: development only: never trust these keys in a real deployment", err=True)
    typer.echo(signed)
