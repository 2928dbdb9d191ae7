"""Schema migrations, run programmatically: Alembic configured in code (no ``alembic.ini``), its
scripts in this package's ``migrations/`` directory.

The migrations run on an engine from :func:`parley.storage.sql.engine.make_engine`, so SQLite
databases get the same pragmas (WAL, synchronous=FULL...) as when serving.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from parley.storage.sql.engine import make_engine, normalise_url

#: The Alembic script directory (env.py, script.py.mako, versions/).
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic configuration for the database at ``url`` (for Alembic commands not wrapped here,
    such as ``revision --autogenerate``)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation: a literal "%" in a password must be doubled.
    config.set_main_option("sqlalchemy.url", normalise_url(url).render_as_string(False).replace("%", "%%"))
    return config


def _run(url: str, revision: str, *, up: bool) -> None:
    config = alembic_config(url)
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            config.attributes["connection"] = connection
            if up:
                command.upgrade(config, revision)
            else:
                command.downgrade(config, revision)
            connection.commit()
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision`` (default: the latest)."""
    _run(url, revision, up=True)


def downgrade(url: str, revision: str) -> None:
    """Migrate the database at ``url`` down to ``revision`` (``"base"``: no tables left)."""
    _run(url, revision, up=False)


def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at (None: never migrated)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    """The latest revision of the migration scripts."""
    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
