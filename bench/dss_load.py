"""DSS load benchmark: N live operational intents over a realistic region, then timed create,
update, query and delete traffic over real HTTP, on SQLite and on PostgreSQL.

What it does, for each backend and each N:

1. a fresh database (a SQLite file; a throwaway, *durable* PostgreSQL server: fsync and
   synchronous commit on), migrated with ``parley db upgrade``;
2. prefilled with N Accepted operational intents, each with its implicit subscription, as USSs
   plan them: 20 USSs, small polygons (300 m - 1.5 km across) scattered over a 220 x 340 km region
   (roughly Switzerland), 0-120 m, starting in the next 6 hours, lasting 10-60 minutes. The prefill
   writes through the storage port in batches (the same rows the API would write);
3. ``parley serve --workers W`` started on it, and C client threads on this same machine, each with
   its own USS identity and RS256 token, run in phases:
   - **query**: POST .../query over a 2 x 2 km area and a 1 hour window, as a planner does first;
   - **create**: query, then PUT a new intent with the key (the OVNs of everything it intersects,
     known to the client as if fetched from their USSs), retrying on 409 (airspace changed);
   - **update**: PUT {id}/{ovn} moving each created intent 5 minutes later, with its key;
   - **delete**: DELETE {id}/{ovn} of each created intent.
   Throughput is operations / wall time of the phase; latencies are per request as the client
   saw them (p50/p95/p99). The clients share the machine's cores with the server, so they cost as
   little as they can: keep-alive HTTP/1.1 on plain sockets, JSON by msgspec (the same requests
   and answers as any HTTP client's).
4. For comparison, raw PostgreSQL insert throughput on the same server settings with ``pgbench``
   (one-row INSERT transactions, the same number of clients).

Where the time goes: each phase also reports the CPU it cost per operation, split between the
server's processes, PostgreSQL's and the client's own (``cpu ms/op``: server / database / client),
from /proc. ``--profile DIR`` samples the server with py-spy (then slower) and writes collapsed
stacks there.

Usage: ``python bench/dss_load.py --n 10000 --n 100000`` (``make bench-dss N=100000``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import msgspec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from parley.devtokens import mint_token
from parley.domain.entities import (
    EntityId,
    Manager,
    OperationalIntentReference,
    OperationalIntentState,
    Subscription,
)
from parley.domain.footprint import volume_extent
from parley.domain.geo import LatLng, Polygon, Volume3D, Volume4D
from parley.domain.ovn import mint_ovn
from parley.services.dss_operational_intents import OIR_RULES
from parley.storage.sql import migrate
from parley.storage.sql.uow import SqlStore
from parley.testing.postgres import DURABLE_OPTIONS, PostgresServer, free_port, temporary_postgres

console = Console(stderr=True)

# The region: roughly Switzerland.
LAT_MIN, LAT_MAX = 45.8, 47.8
LNG_MIN, LNG_MAX = 6.0, 10.5
USS_COUNT = 20
AUDIENCE = "parley-bench"
SC = "utm.strategic_coordination"
OIR = "/dss/v1/operational_intent_references"
PREFILL_BATCH = 500
M_PER_DEG_LAT = 111_320.0


# -- the traffic model ----------------------------------------------------------------------------
def polygon(rng: random.Random, lat: float, lng: float) -> list[tuple[float, float]]:
    """An irregular convex octagon, 300 m to 1.5 km across, counter-clockwise."""
    radius_m = rng.uniform(150, 750)
    dlat = radius_m / M_PER_DEG_LAT
    dlng = dlat / math.cos(math.radians(lat))
    phase = rng.uniform(0, 2 * math.pi / 8)
    points = []
    for k in range(8):
        angle = phase + 2 * math.pi * k / 8
        scale = rng.uniform(0.8, 1.0)
        points.append((lat + dlat * scale * math.sin(angle), lng + dlng * scale * math.cos(angle)))
    return points


def random_plan(rng: random.Random, now: datetime) -> tuple[list[tuple[float, float]], datetime, datetime]:
    lat, lng = rng.uniform(LAT_MIN, LAT_MAX), rng.uniform(LNG_MIN, LNG_MAX)
    start = now + timedelta(minutes=rng.uniform(1, 360))
    return polygon(rng, lat, lng), start, start + timedelta(minutes=rng.uniform(10, 60))


def wire_time(t: datetime) -> dict[str, str]:
    return {"value": t.astimezone(UTC).isoformat().replace("+00:00", "Z"), "format": "RFC3339"}


def wire_volume(vertices: list[tuple[float, float]], start: datetime, end: datetime) -> dict[str, Any]:
    return {
        "volume": {
            "outline_polygon": {"vertices": [{"lat": a, "lng": b} for a, b in vertices]},
            "altitude_lower": {"value": 0, "reference": "W84", "units": "M"},
            "altitude_upper": {"value": 120, "reference": "W84", "units": "M"},
        },
        "time_start": wire_time(start),
        "time_end": wire_time(end),
    }


def box(lat: float, lng: float, half_m: float) -> list[tuple[float, float]]:
    dlat = half_m / M_PER_DEG_LAT
    dlng = dlat / math.cos(math.radians(lat))
    return [
        (lat - dlat, lng - dlng),
        (lat - dlat, lng + dlng),
        (lat + dlat, lng + dlng),
        (lat + dlat, lng - dlng),
    ]


# -- prefill through the storage port -------------------------------------------------------------
def prefill(url: str, n: int, seed: int, ovns: dict[str, str]) -> float:
    """Write ``n`` live intents (and their implicit subscriptions); return intents per second."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    store = SqlStore(url)
    started = time.perf_counter()
    try:
        with _progress() as progress:
            task = progress.add_task(f"prefill {n:,} intents", total=n)
            done = 0
            while done < n:
                batch = min(PREFILL_BATCH, n - done)
                with store.unit_of_work() as uow:
                    for _ in range(batch):
                        vertices, start, end = random_plan(rng, now)
                        outline = Polygon(tuple(LatLng(a, b) for a, b in vertices))
                        extent = volume_extent(
                            Volume4D(Volume3D(outline, 0.0, 120.0), start, end), OIR_RULES, now
                        )
                        manager = Manager(f"uss{rng.randrange(USS_COUNT)}")
                        oir_id, sub_id = EntityId(str(uuid.uuid4())), EntityId(str(uuid.uuid4()))
                        salt = rng.randbytes(16)
                        base_url = f"https://{manager}.example/utm"
                        uow.repo.upsert_subscription(
                            Subscription(
                                id=sub_id, manager=manager, version=mint_ovn(sub_id, 1, now, salt),
                                notification_index=0, extent=extent, uss_base_url=base_url,
                                notify_for_operational_intents=True, notify_for_constraints=False,
                                implicit=True,
                            )
                        )  # fmt: skip
                        ovn = mint_ovn(oir_id, 1, now, salt)
                        uow.repo.upsert_operational_intent(
                            OperationalIntentReference(
                                id=oir_id, manager=manager, version=1,
                                state=OperationalIntentState.ACCEPTED, ovn=ovn, extent=extent,
                                uss_base_url=base_url, subscription_id=sub_id,
                            )
                        )  # fmt: skip
                        ovns[oir_id] = ovn
                    uow.commit()
                done += batch
                progress.update(task, completed=done)
        rate = n / (time.perf_counter() - started)
        # Planner statistics, as autovacuum (PostgreSQL) or `PRAGMA optimize` (SQLite) keep them
        # on a database in service: a freshly bulk-loaded one has none.
        with store.engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()
    finally:
        store.dispose()
    return rate


@contextlib.contextmanager
def _progress() -> Iterator[Progress]:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        yield progress


# -- the server under test ------------------------------------------------------------------------
def _py_spy() -> str:
    found = shutil.which("py-spy") or next(
        (str(p) for p in (Path("/tmp/tools/bin/py-spy"),) if p.is_file()), None
    )
    if found is None:
        raise RuntimeError("--profile needs py-spy: python3 -m pip install --target /tmp/tools py-spy")
    return found


@contextlib.contextmanager
def parley_serve(
    url: str, workdir: Path, public_key: Path, workers: int, profile: Path | None = None
) -> Iterator[tuple[str, int]]:
    """Run ``parley serve`` until the block ends; yields its base URL and process id."""
    port = free_port()
    log_path = workdir / "serve.log"
    command = [
        sys.executable, "-m", "parley", "serve", "--database-url", url,
        "--data-dir", str(workdir), "--port", str(port), "--workers", str(workers),
        "--public-key", str(public_key), "--audience", AUDIENCE,
    ]  # fmt: skip
    if profile is not None:
        command = [_py_spy(), "record", "--subprocesses", "--rate", "250", "--format", "raw",
                   "-o", str(profile), "--", *command]  # fmt: skip
    with log_path.open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"parley serve exited:\n{log_path.read_text()}")
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"{base}/aux/v1/version", timeout=2).status_code < 500:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("parley serve did not come up in 120 s")
                time.sleep(0.2)
            yield base, process.pid
        finally:
            # as Ctrl-C: the server stops (py-spy, when sampling, writes its file)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# -- where the CPU goes ---------------------------------------------------------------------------
_TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


def _proc_stats() -> dict[int, tuple[str, int, float]]:
    """Every process's command name, parent and CPU seconds (user + system), from /proc."""
    stats: dict[int, tuple[str, int, float]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            text = stat.read_text()
            name = text[text.index("(") + 1 : text.rindex(")")]
            fields = text.rsplit(")", 1)[1].split()
            stats[int(stat.parent.name)] = (
                name,
                int(fields[1]),
                (int(fields[11]) + int(fields[12])) * _TICK_S,
            )
    return stats


class CpuMeter:
    """CPU seconds of the server's process tree, of the PostgreSQL server's processes (all of them,
    exited backends included: their parent collects them) and of this client process."""

    def __init__(self, server_pid: int, postgres_root: Path | None) -> None:
        self.server_pid = server_pid
        self.postgres_pid: int | None = None
        if postgres_root is not None:
            pid_file = postgres_root / "data" / "postmaster.pid"
            with contextlib.suppress(OSError, ValueError, IndexError):
                self.postgres_pid = int(pid_file.read_text().split()[0])

    @staticmethod
    def _tree_s(stats: dict[int, tuple[str, int, float]], root: int, *, children_too: bool) -> float:
        tree, frontier = {root}, {root}
        while frontier:
            frontier = {pid for pid, (_, parent, _) in stats.items() if parent in frontier} - tree
            tree |= frontier
        total = sum(stats[pid][2] for pid in tree if pid in stats)
        if children_too and root in stats:  # exited children (PostgreSQL backends), as the parent reaped them
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = Path(f"/proc/{root}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[13]) + int(fields[14])) * _TICK_S  # cutime, cstime
        return total

    def sample(self) -> tuple[float, float, float]:
        """(server, database, client) CPU seconds so far."""
        stats = _proc_stats()
        server = self._tree_s(stats, self.server_pid, children_too=False)
        database = (
            self._tree_s(stats, self.postgres_pid, children_too=True)
            if self.postgres_pid is not None
            else 0.0
        )
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return server, database, usage.ru_utime + usage.ru_stime


# -- the clients ----------------------------------------------------------------------------------
@dataclass
class Phase:
    name: str
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[int, int] = field(default_factory=dict)
    retries: int = 0
    wall_s: float = 0.0
    #: CPU seconds over the phase: server, database, client.
    cpu_s: tuple[float, float, float] = (0.0, 0.0, 0.0)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, started: float, status: int, ok: tuple[int, ...]) -> None:
        elapsed = (time.perf_counter() - started) * 1000
        with self.lock:
            self.latencies_ms.append(elapsed)
            if status not in ok:
                self.errors[status] = self.errors.get(status, 0) + 1

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies_ms)
        count = len(lat)

        def pct(p: float) -> float:
            return lat[min(count - 1, math.ceil(p / 100 * count) - 1)] if count else float("nan")

        return {
            "ops": count,
            "ops_per_s": count / self.wall_s if self.wall_s else 0.0,
            "p50_ms": pct(50),
            "p95_ms": pct(95),
            "p99_ms": pct(99),
            "mean_ms": statistics.fmean(lat) if lat else float("nan"),
            "errors": dict(self.errors),
            "retries": self.retries,
            "cpu_ms_per_op": [round(1000 * c / count, 3) if count else 0.0 for c in self.cpu_s],
        }


@dataclass
class Mine:
    """An intent a client created: what it needs to update and delete it."""

    id: str
    ovn: str
    vertices: list[tuple[float, float]]
    start: datetime
    end: datetime


class Http:
    """A minimal keep-alive HTTP/1.1 JSON client on a plain socket (msgspec for the JSON): the load
    generator shares the machine's two cores with the server, so it must cost as little CPU as
    possible. It sends the same requests as any client (method, path, ``Host``, ``Authorization``,
    ``Content-Type``, ``Content-Length``, the JSON body) and reads the status, the headers and the
    ``Content-Length`` body of each answer."""

    def __init__(self, base: str, token: str) -> None:
        url = urllib.parse.urlsplit(base)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 80
        self.headers = (
            f"Host: {self.host}:{self.port}\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\n"
        )
        self.sock: socket.socket | None = None
        self.reader: Any = None

    def _connect(self) -> None:
        self.sock = socket.create_connection((self.host, self.port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.sock.makefile("rb")

    def _exchange(self, request: bytes) -> tuple[int, bytes]:
        if self.sock is None:
            self._connect()
        assert self.sock is not None
        self.sock.sendall(request)
        status_line = self.reader.readline()
        if not status_line:
            raise ConnectionError("connection closed by the server")
        status = int(status_line.split(None, 2)[1])
        length = 0
        close = False
        while True:
            line = self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        data = self.reader.read(length) if length else b""
        if close:
            self.close()
        return status, data

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        payload = b"" if body is None else msgspec.json.encode(body)
        head = f"{method} {path} HTTP/1.1\r\n{self.headers}Content-Length: {len(payload)}\r\n\r\n"
        request = head.encode() + payload
        for attempt in range(2):
            try:
                status, data = self._exchange(request)
                return status, msgspec.json.decode(data) if data else None
            except (OSError, ValueError, IndexError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.reader.close()
                self.sock.close()
        self.sock = self.reader = None


class Client:
    def __init__(self, base: str, uss: str, private_key: bytes, ovns: dict[str, str], seed: int) -> None:
        token = mint_token(private_key, sub=uss, scopes=(SC,), audience=AUDIENCE, lifetime_s=4 * 3600)
        self.http = Http(base, token)
        self.uss = uss
        self.ovns = ovns
        self.rng = random.Random(seed)
        self.mine: list[Mine] = []

    def close(self) -> None:
        self.http.close()

    def query(
        self, phase: Phase, vertices: list[tuple[float, float]], start: datetime, end: datetime
    ) -> list[str]:
        body = {"area_of_interest": wire_volume(vertices, start, end)}
        started = time.perf_counter()
        status, answer = self.http.request("POST", f"{OIR}/query", body)
        phase.record(started, status, (200,))
        if status != 200:
            return []
        return [o["id"] for o in answer["operational_intent_references"]]

    def key_for(self, ids: list[str], exclude: str | None = None) -> list[str]:
        return [self.ovns[i] for i in ids if i != exclude and i in self.ovns]

    def random_query(self, phase: Phase) -> None:
        lat, lng = self.rng.uniform(LAT_MIN, LAT_MAX), self.rng.uniform(LNG_MIN, LNG_MAX)
        start = datetime.now(UTC) + timedelta(minutes=self.rng.uniform(0, 300))
        self.query(phase, box(lat, lng, 1000), start, start + timedelta(hours=1))

    def put(self, phase: Phase, queries: Phase, entity: str, ovn: str | None,
            vertices: list[tuple[float, float]], start: datetime, end: datetime) -> str | None:  # fmt: skip
        base_url = f"https://{self.uss}.example/utm"
        for attempt in range(20):
            ids = self.query(queries, vertices, start, end)
            body: dict[str, Any] = {
                "extents": [wire_volume(vertices, start, end)],
                "key": self.key_for(ids, exclude=entity),
                "state": "Accepted",
                "uss_base_url": base_url,
            }
            if ovn is None:
                body["new_subscription"] = {"uss_base_url": base_url, "notify_for_constraints": False}
            path = f"{OIR}/{entity}" if ovn is None else f"{OIR}/{entity}/{ovn}"
            started = time.perf_counter()
            status, answer = self.http.request("PUT", path, body)
            if status == 409 and attempt < 19 and "missing_operational_intents" in answer:
                # The airspace changed between the query and the write: look again, retry.
                with phase.lock:
                    phase.retries += 1
                phase.record(started, status, (409,))
                continue
            phase.record(started, status, (200, 201))
            if status in (200, 201):
                new_ovn: str = answer["operational_intent_reference"]["ovn"]
                self.ovns[entity] = new_ovn
                return new_ovn
            return None
        return None

    def create(self, phase: Phase, queries: Phase) -> None:
        vertices, start, end = random_plan(self.rng, datetime.now(UTC))
        entity = str(uuid.uuid4())
        ovn = self.put(phase, queries, entity, None, vertices, start, end)
        if ovn is not None:
            self.mine.append(Mine(entity, ovn, vertices, start, end))

    def update(self, phase: Phase, queries: Phase, mine: Mine) -> None:
        start, end = mine.start + timedelta(minutes=5), mine.end + timedelta(minutes=5)
        ovn = self.put(phase, queries, mine.id, mine.ovn, mine.vertices, start, end)
        if ovn is not None:
            mine.ovn, mine.start, mine.end = ovn, start, end

    def delete(self, phase: Phase, mine: Mine) -> None:
        started = time.perf_counter()
        status, _ = self.http.request("DELETE", f"{OIR}/{mine.id}/{mine.ovn}")
        phase.record(started, status, (200,))
        self.ovns.pop(mine.id, None)


def run_phase(
    phase: Phase,
    clients: list[Client],
    per_client: int,
    action: Callable[[Client, int], None],
    meter: CpuMeter | None = None,
) -> None:
    total = per_client * len(clients)
    with _progress() as progress:
        task = progress.add_task(f"{phase.name:<7}", total=total)

        def work(client: Client) -> None:
            for i in range(per_client):
                action(client, i)
                progress.advance(task)

        before = meter.sample() if meter is not None else (0.0, 0.0, 0.0)
        started = time.perf_counter()
        with ThreadPoolExecutor(len(clients)) as pool:
            for future in [pool.submit(work, c) for c in clients]:
                future.result()
        phase.wall_s = time.perf_counter() - started
        after = meter.sample() if meter is not None else (0.0, 0.0, 0.0)
        phase.cpu_s = (after[0] - before[0], after[1] - before[1], after[2] - before[2])


def measure(
    base: str, private_key: bytes, ovns: dict[str, str], args: argparse.Namespace, meter: CpuMeter
) -> dict[str, Any]:
    clients = [
        Client(base, f"bench{k}", private_key, ovns, args.seed * 1000 + k) for k in range(args.clients)
    ]
    try:
        warm = Phase("warm-up")
        run_phase(warm, clients, 20, lambda c, _: c.random_query(warm))
        queries = Phase("query")
        run_phase(queries, clients, args.queries // args.clients, lambda c, _: c.random_query(queries), meter)
        creates, create_queries = Phase("create"), Phase("query (before create)")
        run_phase(
            creates, clients, args.writes // args.clients,
            lambda c, _: c.create(creates, create_queries), meter,
        )  # fmt: skip
        updates, update_queries = Phase("update"), Phase("query (before update)")
        run_phase(
            updates, clients, args.writes // args.clients,
            lambda c, i: c.update(updates, update_queries, c.mine[i]) if i < len(c.mine) else None, meter,
        )  # fmt: skip
        deletes = Phase("delete")
        run_phase(
            deletes, clients, args.writes // args.clients,
            lambda c, i: c.delete(deletes, c.mine[i]) if i < len(c.mine) else None, meter,
        )  # fmt: skip
    finally:
        for client in clients:
            client.close()
    return {p.name: p.summary() for p in (queries, creates, updates, deletes)}


# -- pgbench --------------------------------------------------------------------------------------
def pgbench_inserts(server: PostgresServer, clients: int, seconds: int) -> float:
    """Transactions per second of one-row INSERTs (autocommit), ``clients`` connections."""
    url = server.create_database("pgbench")
    database = url.rsplit("/", 1)[1]
    env = {**os.environ, "PGHOST": "127.0.0.1", "PGPORT": str(server.port), "PGUSER": "postgres"}
    pgbench = server.tool("pgbench")
    subprocess.run(
        server.command(pgbench, "-i", "-q", "-s", "1", database), check=True, capture_output=True, env=env
    )
    script = Path(tempfile.mkdtemp(prefix="parley-pgbench-")) / "insert.sql"
    script.write_text(
        "\\set aid random(1, 100000)\n"
        "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, :aid, 0, CURRENT_TIMESTAMP);\n"
    )
    script.parent.chmod(0o755)
    script.chmod(0o644)
    out = subprocess.run(
        server.command(
            pgbench, "-n", "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(seconds),
            "-f", str(script), database,
        ),
        check=True, capture_output=True, text=True, env=env,
    )  # fmt: skip
    for line in out.stdout.splitlines():
        if line.startswith("tps"):
            return float(line.split("=")[1].split()[0])
    raise RuntimeError(f"no tps in pgbench output:\n{out.stdout}")


# -- main -----------------------------------------------------------------------------------------
def bench_backend(
    backend: str, n: int, args: argparse.Namespace, private_key: bytes, public_key: Path,
    postgres: PostgresServer | None,
) -> dict[str, Any]:  # fmt: skip
    workdir = Path(tempfile.mkdtemp(prefix=f"parley-bench-{backend}-"))
    if backend == "sqlite":
        url = f"sqlite:///{workdir / 'parley.db'}"
    else:
        assert postgres is not None
        url = postgres.create_database(f"bench_{n}")
    migrate.upgrade(url)
    ovns: dict[str, str] = {}
    prefill_rate = prefill(url, n, args.seed, ovns)
    profile = None if args.profile is None else args.profile.resolve() / f"{backend}-{n}.collapsed.txt"
    if profile is not None:
        profile.parent.mkdir(parents=True, exist_ok=True)
    with parley_serve(url, workdir, public_key, args.workers, profile) as (base, pid):
        meter = CpuMeter(pid, postgres.root if postgres is not None and backend == "postgres" else None)
        phases = measure(base, private_key, ovns, args, meter)
    return {"backend": backend, "n": n, "prefill_per_s": prefill_rate, "phases": phases}


def print_results(results: list[dict[str, Any]], pgbench_tps: float | None, args: argparse.Namespace) -> None:
    table = Table(
        title=f"Parley DSS load ({args.clients} clients, {args.workers} server workers, {os.cpu_count()} CPUs)"
    )
    for column in (
        "backend",
        "N live",
        "operation",
        "ops/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "errors",
        "409 retries",
        "cpu ms/op srv/db/cli",
    ):
        table.add_column(column, justify="right" if column not in ("backend", "operation") else "left")
    for result in results:
        for name, s in result["phases"].items():
            table.add_row(
                result["backend"], f"{result['n']:,}", name, f"{s['ops_per_s']:.0f}",
                f"{s['p50_ms']:.1f}", f"{s['p95_ms']:.1f}", f"{s['p99_ms']:.1f}",
                ", ".join(f"{k}: {v}" for k, v in s["errors"].items() if k != 409) or "0",
                str(s["retries"]), "/".join(f"{c:.2f}" for c in s["cpu_ms_per_op"]),
            )  # fmt: skip
    Console().print(table)
    if pgbench_tps is not None:
        print(
            f"pgbench raw one-row INSERT throughput, {args.clients} clients, same server settings: {pgbench_tps:.0f} tps"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--n", type=int, action="append", help="live intents to prefill (repeatable); default 10000"
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres"), action="append", help="default: both")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--queries", type=int, default=4000, help="queries in the query phase")
    parser.add_argument("--writes", type=int, default=2000, help="creates (and updates, deletes)")
    parser.add_argument("--pgbench-seconds", type=int, default=15)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="sample the server with py-spy")
    args = parser.parse_args()
    sizes = args.n or [10_000]
    backends = args.backend or ["sqlite", "postgres"]

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    keydir = Path(tempfile.mkdtemp(prefix="parley-bench-keys-"))
    public_key = keydir / "bench.pem"
    public_key.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )

    results: list[dict[str, Any]] = []
    pgbench_tps: float | None = None
    with contextlib.ExitStack() as stack:
        postgres = (
            stack.enter_context(temporary_postgres(options=DURABLE_OPTIONS, max_connections=200))
            if "postgres" in backends
            else None
        )
        for n in sizes:
            for backend in backends:
                console.print(f"[bold]{backend}[/bold], {n:,} live intents")
                result = bench_backend(backend, n, args, private_key, public_key, postgres)
                results.append(result)
                for name, s in result["phases"].items():
                    console.print(
                        f"  {name:<7} {s['ops_per_s']:7.0f}/s  p50 {s['p50_ms']:6.1f}  "
                        f"p95 {s['p95_ms']:6.1f}  p99 {s['p99_ms']:6.1f} ms  cpu ms/op "
                        + "/".join(f"{c:.2f}" for c in s["cpu_ms_per_op"])
                        + " (server/database/client)"
                    )
        if postgres is not None:
            pgbench_tps = pgbench_inserts(postgres, args.clients, args.pgbench_seconds)
    print_results(results, pgbench_tps, args)
    if args.json:
        args.json.write_text(json.dumps({"results": results, "pgbench_insert_tps": pgbench_tps}, indent=2))


if __name__ == "__main__":
    main()
