"""Party node planning round trip: what an operator waits for when planning an operation.

One ``parley serve --config FILE`` serves the DSS and four party nodes (a planner and three peers,
``peer1``-``peer3``) on one database, authenticating to one another with the development key in
DATA_DIR/dev-keys. An operator client plans operations through the planner's native API
(``POST /parties/planner/ops/v1/operations``) and times the whole HTTP round trip, during which
the planner:

1. queries the DSS with the operation's bounding area;
2. obtains the details of each intent found from its managing peer
   (``GET /parties/peerK/uss/v1/operational_intents/{id}``), all at once, or from its cache when
   ``cache_peer_details`` is on and the DSS reports the same version;
3. checks the operation against them (``parley.strategic.check``);
4. writes the reference to the DSS with the key and an implicit subscription;
5. stores it and notifies the subscribers the DSS named (the three peers) before answering.

The scene, in one S2 level-13 cell (so that the DSS's cell search finds every intent): the planner
plans a 100 m square, 0-120 m, from 10 to 40 minutes ahead; each peer holds K intents on a
100 m square beside it (west, north, east; 20 m gaps), in K altitude bands that split 0-120 m,
for 6 hours from 2 minutes ahead. Every peer intent meets the DSS query's 4D box and none
conflicts exactly with the plan, so each plan is ``accepted`` with ``others_considered == 3 K``
(checked). After each timed plan the operation is ended (untimed, reported apart) so that the
airspace stays the same from one plan to the next.

Configurations: ``cache_peer_details`` off (3 K peer fetches in every plan, the worst case) and
on (details fetched once, then served from the cache while the version is unchanged); SQLite
(WAL, in the data directory) by default, a throwaway *durable* PostgreSQL (fsync and synchronous
commit on) with ``--postgres``; server workers ``--workers`` (repeatable, default 2). Each
configuration gets a fresh data directory and database (``parley db upgrade``), a fresh server,
a warm-up, then ``--n`` timed plans, one at a time, over one keep-alive connection.

Figures: p50/p95/p99/mean/max of the round trip in milliseconds, plans per second (one at a time:
1000 / mean), the server's CPU time per call (all ``parley serve`` processes, from /proc; not
PostgreSQL's), and the machine's load average before and after (other work on the machine
inflates the figures). ``--profile DIR`` samples the server with py-spy (its own figures are then
slower) and writes collapsed stacks per configuration.

Usage::

    python bench/party_planning.py                        # SQLite, 2 workers, cache off and on
    python bench/party_planning.py --workers 1 --workers 2 --postgres --sqlite
    python bench/party_planning.py --peer-intents 4 --n 500
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import s2geometry as s2
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from parley.devtokens import ensure_dev_keys, mint_token
from parley.domain.cells import CELL_LEVEL, cover_outline
from parley.domain.geo import LatLng, Polygon
from parley.testing.postgres import DURABLE_OPTIONS, PostgresServer, free_port, temporary_postgres

console = Console(stderr=True)

HOST = "127.0.0.1"
PLANNER = "planner"
PEERS = ("peer1", "peer2", "peer3")
OPS_SCOPE = "parley.operations"
#: Near Bern; moved to the centre of its S2 cell so that the whole scene lies in that one cell.
ANCHOR = (46.5, 7.0)
SQUARE_M = 100.0
GAP_M = 20.0
CEILING_M = 120.0
#: The peers' side squares: (east, north) offsets of their centres from the planner's, in squares.
PEER_OFFSETS = ((-1.0, 0.0), (0.0, 1.0), (1.0, 0.0))
M_PER_DEG_LAT = 111_320.0


# -- the scene ------------------------------------------------------------------------------------
def scene_centre() -> tuple[float, float]:
    cell = s2.S2CellId(s2.S2LatLng.FromDegrees(*ANCHOR)).parent(CELL_LEVEL)
    centre = cell.ToLatLng()
    return centre.lat().degrees(), centre.lng().degrees()


def square(lat: float, lng: float, east_m: float, north_m: float) -> list[tuple[float, float]]:
    """Corners (lng, lat) of a SQUARE_M square centred ``east_m``, ``north_m`` from (lat, lng)."""
    m_per_deg_lng = M_PER_DEG_LAT * math.cos(math.radians(lat))
    clat, clng = lat + north_m / M_PER_DEG_LAT, lng + east_m / m_per_deg_lng
    dlat, dlng = SQUARE_M / 2 / M_PER_DEG_LAT, SQUARE_M / 2 / m_per_deg_lng
    return [
        (clng - dlng, clat - dlat),
        (clng + dlng, clat - dlat),
        (clng + dlng, clat + dlat),
        (clng - dlng, clat + dlat),
    ]


def feature(corners: list[tuple[float, float]], **props: Any) -> dict[str, Any]:
    ring = [list(c) for c in [*corners, corners[0]]]
    return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}, "properties": props}


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Scene:
    planner: list[tuple[float, float]]
    peers: list[list[tuple[float, float]]]

    @classmethod
    def build(cls) -> Scene:
        lat, lng = scene_centre()
        step = SQUARE_M + GAP_M
        scene = cls(
            planner=square(lat, lng, 0.0, 0.0),
            peers=[square(lat, lng, e * step, n * step) for e, n in PEER_OFFSETS],
        )
        # The DSS finds intents by shared S2 cells (then altitude and time): make sure it will.
        planner_cells = _cells(scene.planner)
        for k, corners in enumerate(scene.peers):
            if not _cells(corners) & planner_cells:
                raise RuntimeError(f"peer {k + 1}'s square shares no S2 cell with the planner's")
        return scene

    def plan_body(self, now: datetime) -> dict[str, Any]:
        start = now + timedelta(minutes=10)
        return {
            "name": "bench",
            "priority": 0,
            "altitude_lower_m": 0.0,
            "altitude_upper_m": CEILING_M,
            "time_start": iso(start),
            "time_end": iso(start + timedelta(minutes=30)),
            "volumes": {"type": "FeatureCollection", "features": [feature(self.planner)]},
        }

    def peer_body(self, peer: int, band: int, bands: int, now: datetime) -> dict[str, Any]:
        """Peer ``peer``'s intent in altitude band ``band`` of ``bands`` (1 m apart)."""
        height = CEILING_M / bands
        return {
            "name": f"peer{peer + 1}-{band}",
            "priority": 0,
            "altitude_lower_m": band * height,
            "altitude_upper_m": (band + 1) * height - (1.0 if band + 1 < bands else 0.0),
            "time_start": iso(now + timedelta(minutes=2)),
            "time_end": iso(now + timedelta(hours=6)),
            "volumes": {"type": "FeatureCollection", "features": [feature(self.peers[peer])]},
        }


def _cells(corners: list[tuple[float, float]]) -> frozenset[int]:
    return cover_outline(Polygon(tuple(LatLng(lat, lng) for lng, lat in corners)), max_area_km2=2500.0)


# -- the server under test ------------------------------------------------------------------------
def settings_toml(workdir: Path, database_url: str, port: int, workers: int, cached: bool) -> str:
    lines = [
        f"data_dir = {json.dumps(str(workdir))}",
        f"database_url = {json.dumps(database_url)}",
        f'host = "{HOST}"',
        f"port = {port}",
        f"workers = {workers}",
        "dev_auth = true",
        'log_level = "warning"',
    ]
    for party in (PLANNER, *PEERS):
        lines += ["", "[[parties]]", f'id = "{party}"']
        if party == PLANNER:
            lines.append(f"cache_peer_details = {'true' if cached else 'false'}")
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def parley_serve(config: Path, log_path: Path, port: int, profile: Path | None = None) -> Iterator[int]:
    """Run ``parley serve --config`` until the block ends; yields its process id."""
    command = [sys.executable, "-m", "parley", "serve", "--config", str(config)]
    if profile is not None:
        # py-spy samples the server and its worker processes; it writes on SIGINT.
        command = [_py_spy(), "record", "--subprocesses", "--rate", "250", "--format", "raw",
                   "-o", str(profile), "--", *command]  # fmt: skip
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=profile is not None
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"parley serve exited:\n{log_path.read_text()}")
                with contextlib.suppress(OSError, http.client.HTTPException):
                    connection = http.client.HTTPConnection(HOST, port, timeout=2)
                    connection.request("GET", "/aux/v1/version")
                    if connection.getresponse().status < 500:
                        connection.close()
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("parley serve did not come up in 120 s")
                time.sleep(0.2)
            yield process.pid
        finally:
            if profile is not None:
                os.killpg(process.pid, signal.SIGINT)  # as Ctrl-C: the server stops, py-spy writes
            else:
                process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _py_spy() -> str:
    found = shutil.which("py-spy") or next(
        (str(p) for p in (Path("/tmp/tools/bin/py-spy"),) if p.is_file()), None
    )
    if found is None:
        raise RuntimeError("--profile needs py-spy: python3 -m pip install --target /tmp/tools py-spy")
    return found


class ServerCpu:
    """CPU time (user + system) of the server: its process and worker processes, from /proc (Linux;
    NaN elsewhere). Clock-tick resolution (10 ms), so only sums over many calls mean something."""

    def __init__(self, pid: int) -> None:
        self.pids = self._tree(pid)
        self.tick_s = 1.0 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else math.nan

    @staticmethod
    def _tree(root: int) -> list[int]:
        parents: dict[int, int] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                parents[int(stat.parent.name)] = int(fields[1])
        tree, frontier = [root], [root]
        while frontier:
            frontier = [pid for pid, parent in parents.items() if parent in frontier]
            tree += frontier
        return tree

    def seconds(self) -> float:
        ticks = 0
        for pid in self.pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                return math.nan
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks * self.tick_s


class Operator:
    """One party's operator on a keep-alive HTTP/1.1 connection (the standard library's client:
    cheap on the CPU the server shares)."""

    def __init__(self, port: int, party: str, private_pem: bytes) -> None:
        token = mint_token(private_pem, sub=party, scopes=[OPS_SCOPE], audience=HOST, lifetime_s=4 * 3600)
        self.port = port
        self.prefix = f"/parties/{party}/ops/v1"
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.connection = http.client.HTTPConnection(HOST, port, timeout=60)

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        payload = None if body is None else json.dumps(body).encode()
        for attempt in range(2):
            try:
                self.connection.request(method, self.prefix + path, body=payload, headers=self.headers)
                response = self.connection.getresponse()
                data = response.read()
                return response.status, json.loads(data) if data else None
            except (http.client.HTTPException, ConnectionError):
                self.connection.close()
                self.connection = http.client.HTTPConnection(HOST, self.port, timeout=60)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.connection.close()


# -- measurement ----------------------------------------------------------------------------------
@dataclass
class Config:
    backend: str
    workers: int
    cached: bool

    @property
    def label(self) -> str:
        return (
            f"{self.backend}, {self.workers} worker(s), peer details {'cached' if self.cached else 'fetched'}"
        )


@dataclass
class Result:
    config: Config
    considered: int
    plan_ms: list[float] = field(default_factory=list)
    end_ms: list[float] = field(default_factory=list)
    #: Server CPU time over the timed plans and over the ends, milliseconds.
    plan_cpu_ms: float = math.nan
    end_cpu_ms: float = math.nan
    #: The machine's 1-minute load average before and after the timed plans (other work on it).
    load: tuple[float, float] = (math.nan, math.nan)

    @staticmethod
    def stats(values: list[float]) -> dict[str, float]:
        ordered = sorted(values)
        count = len(ordered)

        def pct(p: float) -> float:
            return ordered[min(count - 1, math.ceil(p / 100 * count) - 1)]

        return {
            "n": count,
            "p50_ms": pct(50),
            "p95_ms": pct(95),
            "p99_ms": pct(99),
            "mean_ms": statistics.fmean(ordered),
            "max_ms": ordered[-1],
            "per_s": 1000.0 * count / sum(ordered),
        }


def _progress() -> Progress:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    return Progress(*columns, console=console, transient=True)


def prefill(ports: dict[str, Operator], scene: Scene, bands: int) -> None:
    now = datetime.now(UTC)
    with _progress() as progress:
        task = progress.add_task("prefill peers", total=len(PEERS) * bands)
        for k, peer in enumerate(PEERS):
            for band in range(bands):
                status, answer = ports[peer].request(
                    "POST", "/operations", scene.peer_body(k, band, bands, now)
                )
                if status != 201 or answer.get("outcome") != "accepted":
                    raise RuntimeError(f"{peer} could not plan its intent {band}: {status} {answer}")
                progress.advance(task)


def plan_once(
    operator: Operator, scene: Scene, expected: int, cpu: ServerCpu | None = None
) -> tuple[float, float, float, float]:
    """Plan one new operation (timed), check the outcome, end it (timed apart); wall-clock and
    server CPU milliseconds of each."""
    body = scene.plan_body(datetime.now(UTC))
    body["id"] = str(uuid.uuid4())
    cpu0 = cpu.seconds() if cpu else math.nan
    started = time.perf_counter()
    status, answer = operator.request("POST", "/operations", body)
    planned = time.perf_counter()
    cpu1 = cpu.seconds() if cpu else math.nan
    if status != 201 or answer.get("outcome") != "accepted" or answer.get("others_considered") != expected:
        raise RuntimeError(
            f"expected 201 accepted with others_considered == {expected}, got {status}: "
            f"{json.dumps(answer)[:2000]}"
        )
    started_end = time.perf_counter()
    status, answer = operator.request("POST", f"/operations/{body['id']}/end")
    ended = time.perf_counter()
    cpu2 = cpu.seconds() if cpu else math.nan
    if status != 200:
        raise RuntimeError(f"ending {body['id']}: {status} {answer}")
    return (
        (planned - started) * 1000.0,
        (ended - started_end) * 1000.0,
        (cpu1 - cpu0) * 1000.0,
        (cpu2 - cpu1) * 1000.0,
    )


def run_config(config: Config, args: argparse.Namespace, postgres: PostgresServer | None) -> Result:
    workdir = Path(tempfile.mkdtemp(prefix="parley-bench-party-"))
    if config.backend == "sqlite":
        url = f"sqlite:///{workdir / 'parley.db'}"
    else:
        assert postgres is not None
        url = postgres.create_database(f"party_{uuid.uuid4().hex[:12]}")
    subprocess.run(
        [sys.executable, "-m", "parley", "db", "upgrade", "--database-url", url, "--data-dir", str(workdir)],
        check=True,
        capture_output=True,
    )
    private_path, _ = ensure_dev_keys(workdir / "dev-keys")
    private_pem = private_path.read_bytes()
    port = free_port()
    config_path = workdir / "parley.toml"
    config_path.write_text(settings_toml(workdir, url, port, config.workers, config.cached))
    scene = Scene.build()
    expected = len(PEERS) * args.peer_intents
    profile = None
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
        name = f"{config.backend}-w{config.workers}-{'cached' if config.cached else 'fetched'}.collapsed.txt"
        profile = args.profile.resolve() / name
    with parley_serve(config_path, workdir / "serve.log", port, profile) as pid:
        operators = {p: Operator(port, p, private_pem) for p in (PLANNER, *PEERS)}
        try:
            prefill(operators, scene, args.peer_intents)
            planner = operators[PLANNER]
            result = Result(config, expected)
            with _progress() as progress:
                task = progress.add_task(f"{config.label}: warm-up", total=args.warmup)
                for _ in range(args.warmup):
                    plan_once(planner, scene, expected)
                    progress.advance(task)
                task = progress.add_task(f"{config.label}: timed", total=args.n)
                cpu = ServerCpu(pid)
                load_before = os.getloadavg()[0]
                plan_cpu_ms = end_cpu_ms = 0.0
                for _ in range(args.n):
                    plan_ms, end_ms, plan_cpu, end_cpu = plan_once(planner, scene, expected, cpu)
                    result.plan_ms.append(plan_ms)
                    result.end_ms.append(end_ms)
                    plan_cpu_ms += plan_cpu
                    end_cpu_ms += end_cpu
                    progress.advance(task)
                result.load = (load_before, os.getloadavg()[0])
                result.plan_cpu_ms, result.end_cpu_ms = plan_cpu_ms, end_cpu_ms
        finally:
            for operator in operators.values():
                operator.close()
    shutil.rmtree(workdir, ignore_errors=True)  # kept (with serve.log) when the run failed
    return result


# -- report ---------------------------------------------------------------------------------------
def print_results(results: list[Result], args: argparse.Namespace) -> None:
    title = (
        f"Parley party planning round trip ({args.n} sequential plans, {3 * args.peer_intents} peer intents "
        f"considered each; {os.cpu_count()} CPUs, Python {platform.python_version()})"
    )
    table = Table(title=title)
    for column in ("backend", "workers", "peer details", "call", "p50 ms", "p95 ms", "p99 ms", "mean ms",
                   "max ms", "per s", "CPU ms", "load"):  # fmt: skip
        table.add_column(column, justify="left" if column in ("backend", "peer details", "call") else "right")
    for r in results:
        for call, values, cpu_ms in (("plan", r.plan_ms, r.plan_cpu_ms), ("end", r.end_ms, r.end_cpu_ms)):
            s = Result.stats(values)
            table.add_row(
                r.config.backend, str(r.config.workers),
                "cached" if r.config.cached else f"fetched ({r.considered})", call,
                f"{s['p50_ms']:.1f}", f"{s['p95_ms']:.1f}", f"{s['p99_ms']:.1f}", f"{s['mean_ms']:.1f}",
                f"{s['max_ms']:.1f}", f"{s['per_s']:.1f}", f"{cpu_ms / len(values):.1f}",
                f"{r.load[0]:.1f}-{r.load[1]:.1f}",
            )  # fmt: skip
    Console(width=max(120, console.width)).print(table)
    print(
        "plan: POST .../operations, operator's full HTTP round trip (query, details, check, write, notify);"
    )
    print("end: POST .../operations/{id}/end after each plan (untimed in 'plan'); per s: 1000 / mean;")
    print(
        "CPU ms: the server's CPU time (all its processes) per call, mean; the DSS and all four parties' share;"
    )
    print(
        "load: the 1-minute load average before and after (other work sharing the CPUs inflates the figures)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=200, help="timed plans per configuration")
    parser.add_argument("--warmup", type=int, default=10, help="untimed plans first")
    parser.add_argument("--peer-intents", type=int, default=1, help="intents each peer holds (K)")
    parser.add_argument(
        "--workers", type=int, action="append", help="server worker processes (repeatable); default 2"
    )
    parser.add_argument(
        "--cache", choices=("off", "on", "both"), default="both", help="the planner's cache_peer_details"
    )
    parser.add_argument(
        "--sqlite", action="store_true", help="run on SQLite (the default without --postgres)"
    )
    parser.add_argument("--postgres", action="store_true", help="run on a throwaway durable PostgreSQL")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="sample the server with py-spy; collapsed stacks (flamegraph.pl's input) in DIR",
    )
    args = parser.parse_args()
    if args.n < 1 or args.peer_intents < 1 or args.warmup < 0:
        parser.error("--n and --peer-intents must be positive, --warmup not negative")
    backends = (["sqlite"] if args.sqlite or not args.postgres else []) + (
        ["postgres"] if args.postgres else []
    )
    caches = {"off": [False], "on": [True], "both": [False, True]}[args.cache]
    configs = [Config(b, w, c) for b in backends for w in (args.workers or [2]) for c in caches]

    results: list[Result] = []
    with contextlib.ExitStack() as stack:
        postgres = (
            stack.enter_context(temporary_postgres(options=DURABLE_OPTIONS))
            if "postgres" in backends
            else None
        )
        for config in configs:
            result = run_config(config, args, postgres)
            results.append(result)
            s = Result.stats(result.plan_ms)
            console.print(
                f"{config.label}: plan p50 {s['p50_ms']:.1f}  p95 {s['p95_ms']:.1f}  "
                f"p99 {s['p99_ms']:.1f}  mean {s['mean_ms']:.1f} ms"
            )
    print_results(results, args)
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {
                        "backend": r.config.backend,
                        "workers": r.config.workers,
                        "cache_peer_details": r.config.cached,
                        "others_considered": r.considered,
                        "plan": {**Result.stats(r.plan_ms), "server_cpu_ms": r.plan_cpu_ms / len(r.plan_ms)},
                        "end": {**Result.stats(r.end_ms), "server_cpu_ms": r.end_cpu_ms / len(r.end_ms)},
                        "load_average": list(r.load),
                    }
                    for r in results
                ],
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
