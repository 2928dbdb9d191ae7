"""A throwaway local PostgreSQL server, for the test suite and the benchmarks.

``initdb`` into a temporary directory, started with ``pg_ctl`` on a free 127.0.0.1 port (as the
``postgres`` user when running as root, since PostgreSQL refuses to run as root), trust
authentication on localhost only, stopped and removed on exit. Not for production: it is a
disposable server for measurements and tests.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

PG_USER = "postgres"

#: Settings of a test server: durability traded for speed.
FAST_OPTIONS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
#: Settings of a benchmark server: durable, as production would run it.
DURABLE_OPTIONS = ("fsync=on", "synchronous_commit=on", "full_page_writes=on")


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries are missing or the server did not start."""


def postgres_bindir() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``.

    Raises :class:`PostgresUnavailable` saying how to install them when they are not found.
    """
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
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) not found; run `make system-deps` "
        "(installs the Debian `postgresql` package) and try again."
    )


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class PostgresServer:
    """A running throwaway server: where it listens and how to run its tools."""

    bindir: Path
    root: Path
    port: int
    as_postgres_user: bool

    def command(self, *args: str) -> list[str]:
        """A command line for this server's tools, as the ``postgres`` user when we are root."""
        prefix = ["runuser", "-u", PG_USER, "--"] if self.as_postgres_user else []
        return [*prefix, *args]

    def tool(self, name: str) -> str:
        """Path of one of the server's programs (``psql``, ``pgbench``, ...)."""
        return str(self.bindir / name)

    def url(self, database: str) -> str:
        """SQLAlchemy URL of ``database`` on this server."""
        return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create an empty database (dropping one of that name); return its URL."""
        engine = sa.create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
                connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        finally:
            engine.dispose()
        return self.url(name)


@contextlib.contextmanager
def temporary_postgres(
    *, options: tuple[str, ...] = FAST_OPTIONS, max_connections: int = 100
) -> Iterator[PostgresServer]:
    """Run a PostgreSQL server for the duration of the ``with`` block.

    ``options`` are ``name=value`` server settings (:data:`FAST_OPTIONS` for tests,
    :data:`DURABLE_OPTIONS` for honest benchmarks).
    """
    bindir = postgres_bindir()
    as_root = os.geteuid() == 0
    root = Path(tempfile.mkdtemp(prefix="parley-pg-"))
    server = PostgresServer(bindir, root, free_port(), as_root)
    data, sockets, log = root / "data", root / "sockets", root / "server.log"
    try:
        sockets.mkdir()
        if as_root:
            entry = pwd.getpwnam(PG_USER)
            for path in (root, sockets):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        initdb = server.command(
            server.tool("initdb"), "-D", str(data), "-U", PG_USER, "-A", "trust",
            "-E", "UTF8", "--no-locale", "--no-sync",
        )  # fmt: skip
        result = subprocess.run(initdb, capture_output=True, text=True)
        if result.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {result.stderr.strip()}")
        settings = " ".join(f"-c {option}" for option in options)
        server_options = (
            f"-p {server.port} -k {sockets} -c listen_addresses=127.0.0.1 {settings} "
            f"-c max_connections={max_connections:d} -c deadlock_timeout=100ms"
        )
        pg_ctl = server.tool("pg_ctl")
        start = server.command(
            pg_ctl, "-D", str(data), "-l", str(log), "-o", server_options, "-w", "-t", "60", "start"
        )
        result = subprocess.run(start, capture_output=True, text=True)
        if result.returncode != 0:
            server_log = log.read_text() if log.exists() else ""
            raise PostgresUnavailable(f"PostgreSQL did not start: {result.stderr}\n{server_log}")
        try:
            yield server
        finally:
            subprocess.run(
                server.command(pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"),
                check=False,
                capture_output=True,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
