"""Shared fixtures: a throwaway PostgreSQL server for the session, migrated SQLite databases, and
``uow_factory``, one unit-of-work factory per storage adapter (memory, SQLite, PostgreSQL), so that
one contract suite runs against every adapter.

The PostgreSQL server is real: ``initdb`` into a temporary directory, started with ``pg_ctl`` on a
free localhost port (as the ``postgres`` user when the tests run as root, since PostgreSQL refuses
to run as root), stopped and removed at the end of the session. Tests share one migrated database
whose tables are emptied before each test that uses it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from parley.domain.entities import DssReport, EntityId
from parley.ports.repositories import UnitOfWork
from parley.storage.memory import MemoryStore
from parley.storage.sql import mapping, migrate, tables
from parley.storage.sql.uow import SqlStore

# -- PostgreSQL server --------------------------------------------------------------------------
_PG_USER = "postgres"


def _postgres_bindir() -> Path:
    """The directory of initdb/pg_ctl, or a test failure saying how to install them."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True)
            candidates.append(Path(out.stdout.strip()))
    candidates.extend(Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True))
    initdb = shutil.which("initdb")
    if initdb is not None:
        candidates.append(Path(initdb).resolve().parent)
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    pytest.fail(
        "PostgreSQL server binaries (initdb, pg_ctl) not found; run `make system-deps` "
        "(installs the Debian `postgresql` package) and try again.",
        pytrace=False,
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclasses.dataclass(frozen=True)
class PostgresServer:
    """A running throwaway server: where it listens and how to run its tools."""

    bindir: Path
    root: Path
    port: int
    as_postgres_user: bool

    def command(self, *args: str) -> list[str]:
        """A command line for this server's tools, as the ``postgres`` user when we are root."""
        prefix = ["runuser", "-u", _PG_USER, "--"] if self.as_postgres_user else []
        return [*prefix, *args]

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{_PG_USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create an empty database; return its URL."""
        engine = sa.create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
                connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        finally:
            engine.dispose()
        return self.url(name)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for this test session (trust authentication on 127.0.0.1 only)."""
    bindir = _postgres_bindir()
    as_root = os.geteuid() == 0
    root = Path(tempfile.mkdtemp(prefix="parley-pg-"))
    server = PostgresServer(bindir, root, _free_port(), as_root)
    data, sockets, log = root / "data", root / "sockets", root / "server.log"
    sockets.mkdir()
    if as_root:
        entry = pwd.getpwnam(_PG_USER)
        for path in (root, sockets):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    initdb = server.command(
        str(bindir / "initdb"), "-D", str(data), "-U", _PG_USER, "-A", "trust",
        "-E", "UTF8", "--no-locale", "--no-sync",
    )  # fmt: skip
    subprocess.run(initdb, check=True, capture_output=True)
    # A test server: durability traded for speed (fsync and synchronous commit off).
    options = (
        f"-p {server.port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100 -c deadlock_timeout=100ms"
    )
    pg_ctl = str(bindir / "pg_ctl")
    start = server.command(pg_ctl, "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start")
    result = subprocess.run(start, capture_output=True, text=True)
    if result.returncode != 0:
        server_log = log.read_text() if log.exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start: {result.stderr}\n{server_log}", pytrace=False)
    try:
        yield server
    finally:
        subprocess.run(
            server.command(pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """URL of a migrated PostgreSQL database shared by the session (see ``postgres_store``)."""
    url = postgres_server.create_database("parley_test")
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def _postgres_session_store(postgres_url: str) -> Iterator[SqlStore]:
    store = SqlStore(postgres_url)
    yield store
    store.dispose()


def _truncate_all(store: SqlStore) -> None:
    names = ", ".join(f'"{t.name}"' for t in tables.ALL_TABLES)
    with store.engine.connect() as connection:
        connection.exec_driver_sql(f"TRUNCATE {names}")
        connection.commit()


@pytest.fixture
def postgres_store(_postgres_session_store: SqlStore) -> SqlStore:
    """The session's PostgreSQL store, every table emptied."""
    _truncate_all(_postgres_session_store)
    return _postgres_session_store


# -- SQLite -------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database file to copy (cheaper than migrating for every test)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "parley.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(_sqlite_template: Path, tmp_path: Path) -> str:
    """URL of a fresh, migrated SQLite database file for this test."""
    path = tmp_path / "db" / "parley.db"
    path.parent.mkdir()
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[SqlStore]:
    store = SqlStore(sqlite_url)
    yield store
    store.dispose()


# -- one factory per adapter --------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Backend:
    """A storage adapter under test: its units of work, and a peek at the stored reports (the port
    can only add them)."""

    name: str
    uow_factory: Callable[[], UnitOfWork]
    stored_reports: Callable[[], dict[EntityId, DssReport]]


def _sql_reports(store: SqlStore) -> Callable[[], dict[EntityId, DssReport]]:
    def read() -> dict[EntityId, DssReport]:
        with store.engine.connect() as connection:
            rows = connection.execute(sa.select(tables.dss_reports)).mappings().all()
            connection.rollback()
        reports = (mapping.report_from_row(row) for row in rows)
        return {r.report_id: r for r in reports}

    return read


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each storage adapter in turn, empty."""
    name: str = request.param
    if name == "memory":
        memory = MemoryStore()
        return Backend(name, memory.unit_of_work, lambda: dict(memory.reports))
    store: SqlStore = request.getfixturevalue(f"{name}_store")
    return Backend(name, store.unit_of_work, _sql_reports(store))


@pytest.fixture
def uow_factory(backend: Backend) -> Callable[[], UnitOfWork]:
    """Makes units of work on each storage adapter in turn (memory, SQLite, PostgreSQL)."""
    return backend.uow_factory
