"""The `parley` command."""

from __future__ import annotations

import typer

from parley.cli import db, line, ops, protect, serve, sim, tactical, ui
from parley.cli.token import token

app = typer.Typer(
    name="parley",
    help="Parley: an open deconfliction line for shared airspace (ASTM F3548-21 DSS).",
    no_args_is_help=True,
    add_completion=False,
)
app.command("serve")(serve.serve)
app.add_typer(db.app, name="db")
app.add_typer(tactical.app, name="tactical")
app.add_typer(ops.app, name="ops")
app.add_typer(line.app, name="line")
app.add_typer(sim.app, name="sim")
app.command("demo")(sim.demo)
app.command("replay")(sim.replay)
app.add_typer(protect.app, name="protect")
app.add_typer(ui.app, name="ui")
app.command("token", help="DEVELOPMENT ONLY: mint an access token signed by the dev key.")(token)


def main() -> None:
    """Entry point of the console script."""
    app()
