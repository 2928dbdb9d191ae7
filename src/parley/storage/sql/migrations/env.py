"""Alembic environment: runs the revisions on the connection that :mod:`parley.storage.sql.migrate`
hands over (``config.attributes["connection"]``), or on an engine made from the configured
``sqlalchemy.url``; offline mode (``--sql``) renders the SQL instead.

Alembic executes this module for every command; that is its only work.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from parley.storage.sql import tables
from parley.storage.sql.engine import make_engine, normalise_url


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=tables.metadata,
        # SQLite alters tables by copying them: let future revisions use batch operations.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Run the revisions on a live database."""
    connection = context.config.attributes.get("connection")
    if isinstance(connection, Connection):
        _configure_and_run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("no database: set sqlalchemy.url or pass a connection")
    engine = make_engine(url)
    try:
        with engine.connect() as owned:
            _configure_and_run(owned)
    finally:
        engine.dispose()


def run_offline() -> None:
    """Render the revisions as SQL for the configured URL's dialect."""
    url = context.config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("no database: set sqlalchemy.url")
    context.configure(
        url=normalise_url(url),
        target_metadata=tables.metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
