"""``parley ui``: the map page's helpers (docs/demo.md)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

app = typer.Typer(help="The map in the browser: operators' passwords.", no_args_is_help=True)


@app.command("hash-password")
def hash_password(
    stdin: Annotated[
        bool, typer.Option("--stdin", help="Read the password from standard input (one line).")
    ] = False,
) -> None:
    """Print the argon2 hash of a password, for ``ui_operators = [{name, password_hash}]`` in a party's
    settings."""
    from parley.api.ui.auth import hash_password as hashed

    if stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        typer.echo("the password is empty", err=True)
        raise typer.Exit(2)
    typer.echo(hashed(password))
