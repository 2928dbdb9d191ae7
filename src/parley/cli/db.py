"""`parley db`: database schema management (Alembic)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Database schema management.", no_args_is_help=True)

DatabaseUrl = Annotated[
    str | None, typer.Option(help="sqlite:///PATH or postgresql://...; default SQLite in the data dir")
]
DataDir = Annotated[Path, typer.Option(help="Data directory")]


@app.command()
def upgrade(
    database_url: DatabaseUrl = None, data_dir: DataDir = Path("var"), revision: str = "head"
) -> None:
    """Create or migrate the schema to REVISION (default: the latest)."""
    from parley.config import Settings
    from parley.storage.sql import migrate

    settings = Settings(database_url=database_url, data_dir=data_dir)
    migrate.upgrade(settings.effective_database_url, revision)
    typer.echo(f"database at {revision}", err=True)


@app.command()
def downgrade(revision: str, database_url: DatabaseUrl = None, data_dir: DataDir = Path("var")) -> None:
    """Migrate the schema down to REVISION ("base" removes every table)."""
    from parley.config import Settings
    from parley.storage.sql import migrate

    settings = Settings(database_url=database_url, data_dir=data_dir)
    migrate.downgrade(settings.effective_database_url, revision)
    typer.echo(f"database at {revision}", err=True)
