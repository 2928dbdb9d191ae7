#!/usr/bin/env python3
"""The line between two party nodes: requests per second and latency to the signed receipt.

Target (issue 6): >= 300 requests/s and p95 <= 50 ms to the receipt, two nodes on SQLite, on the
2-core machine.

Layouts (``--layout``, default both):

- ``one``: one ``parley serve --config`` serves the shared service (DSS host: registry and witness)
  and two party nodes, ``red`` and ``blue``, on one SQLite database;
- ``two``: red (with the shared service) and blue in two ``parley serve`` processes on two SQLite
  files, blue using red's server as its shared service: closer to two real parties.

Each layout gets a fresh data directory (``parley db upgrade``), the servers (``--workers`` worker
processes each, default 1: a line's outbox and its event stream live in one process), and waits until
both lines are registered (``GET /line/v1/registry/{party}``). Red's operator then sends ``free_text``
requests to blue (``POST /parties/red/line/v1/requests``, deadline one hour); blue's node verifies,
stores and signs a ``delivered`` receipt that red's outbox receives in the answer to its delivery.
A request is timed from the moment its POST is sent to the moment red holds blue's receipt: red's
event stream (``GET /parties/red/line/v1/events``, SSE) announces the ``delivered`` entry of the
thread, read here on its own connection by a thread that timestamps each event as it arrives (no
polling; with ``--workers`` above 1 the stream only sees its own process, so ``GET threads/{id}``
is polled until ``legs.blue.delivered`` instead).

- ``sequential``: ``--n`` requests one after the other (each waits for its receipt);
- ``concurrent``: ``--senders`` threads, each on its own keep-alive connection, send ``--total``
  requests between them as fast as the POSTs return; requests per second = total / (last receipt
  - first POST), and latency to the receipt of each (at saturation: mostly the queue the burst builds);
- ``paced``: the same, the requests offered at ``--rate`` per second (default 300, the target): request
  i is due at i / rate and timed from then; the latency the target's rate gets.

Figures: p50/p95/p99/max in milliseconds, requests per second, the servers' CPU time per request
(all their processes, from /proc), this client's CPU, the machine's load average before and after
(other work sharing the two cores inflates the figures), and whether the targets are met.
``--profile DIR`` samples the servers with py-spy (then slower) and writes collapsed stacks.

Usage::

    python bench/line_throughput.py                      # both layouts, 300 sequential, 8 x 1000, 1000 at 300/s
    python bench/line_throughput.py --layout one --n 100 --total 500
    python bench/line_throughput.py --json line.json
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import platform
import queue
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from parley.devtokens import ensure_dev_keys, mint_token
from parley.testing.postgres import free_port

console = Console(stderr=True)

HOST = "127.0.0.1"
RED, BLUE = "red", "blue"
OPS_SCOPE = "parley.operations"
LINE_SCOPE = "parley.line"
TARGET_PER_S = 300.0
TARGET_P95_MS = 50.0


# -- the servers under test -----------------------------------------------------------------------
def settings_toml(
    workdir: Path, database: Path, port: int, workers: int, parties: list[str], dss_url: str | None
) -> str:
    lines = [
        f"data_dir = {json.dumps(str(workdir))}",
        f"database_url = {json.dumps(f'sqlite:///{database}')}",
        f'host = "{HOST}"',
        f"port = {port}",
        f"workers = {workers}",
        "dev_auth = true",
        'log_level = "warning"',
    ]
    if dss_url is not None:
        lines.append("serve_dss = false")
    for party in parties:
        lines += ["", "[[parties]]", f'id = "{party}"']
        if dss_url is not None:
            lines.append(f"dss_url = {json.dumps(dss_url)}")
    return "\n".join(lines) + "\n"


def _py_spy() -> str:
    found = shutil.which("py-spy") or next(
        (str(p) for p in (Path("/tmp/tools/bin/py-spy"),) if p.is_file()), None
    )
    if found is None:
        raise RuntimeError("--profile needs py-spy: python3 -m pip install --target /tmp/tools py-spy")
    return found


@contextlib.contextmanager
def parley_serve(config: Path, log_path: Path, port: int, ready: str, profile: Path | None) -> Iterator[int]:
    """Run ``parley serve --config`` until the block ends (up when ``GET ready`` answers); yields its
    process id."""
    command = [sys.executable, "-m", "parley", "serve", "--config", str(config)]
    if profile is not None:
        command = [_py_spy(), "record", "--subprocesses", "--rate", "250", "--format", "raw",
                   "-o", str(profile), "--", *command]  # fmt: skip
    with log_path.open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 120
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"parley serve exited:\n{log_path.read_text()}")
                with contextlib.suppress(OSError, http.client.HTTPException):
                    connection = http.client.HTTPConnection(HOST, port, timeout=2)
                    connection.request("GET", ready)
                    if connection.getresponse().status < 500:
                        connection.close()
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("parley serve did not come up in 120 s")
                time.sleep(0.2)
            yield process.pid
        finally:
            # as Ctrl-C: the server stops (py-spy, when sampling, writes its file)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class ServerCpu:
    """CPU time (user + system) of server processes and their children, from /proc (Linux)."""

    def __init__(self, pids: list[int]) -> None:
        self.trees = [self._tree(root) for root in pids]
        self.tick_s = 1.0 / os.sysconf("SC_CLK_TCK")

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

    def seconds(self) -> list[float]:
        """Each server's CPU seconds so far (its processes together)."""
        each = []
        for tree in self.trees:
            ticks = 0
            for pid in tree:
                try:
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    ticks = -1
                    break
                ticks += int(fields[11]) + int(fields[12])  # utime, stime
            each.append(ticks * self.tick_s if ticks >= 0 else math.nan)
        return each


def client_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- clients --------------------------------------------------------------------------------------
class Client:
    """A keep-alive HTTP/1.1 connection with a bearer token (the standard library's client: cheap on
    the CPU the servers share)."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.connection = http.client.HTTPConnection(HOST, port, timeout=60)

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        payload = None if body is None else json.dumps(body).encode()
        for attempt in range(2):
            try:
                self.connection.request(method, path, body=payload, headers=self.headers)
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


def request_body(i: int) -> dict[str, Any]:
    deadline = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "to": [BLUE],
        "type": "free_text",
        "subject": f"bench {i}",
        "reason": "line throughput benchmark",
        "deadline": deadline,
        "text": "Which frequency tonight?",
    }


class Receipts:
    """When red came to hold blue's receipt for each thread: from red's SSE stream (a thread reading
    it and stamping each ``delivered`` entry event as it arrives), or by polling ``threads/{id}``."""

    def __init__(self, port: int, token: str, prefix: str, poll: bool) -> None:
        self.port, self.token, self.prefix, self.poll = port, token, prefix, poll
        self.at: dict[str, float] = {}
        self._cond = threading.Condition()
        self._stop = False
        self._subscribed = threading.Event()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._poller: Client | None = None
        #: The event stream ended (fell behind): the receipts still missing are then polled for.
        self.dropped = False
        self.polled = 0
        if not poll:
            self._thread = threading.Thread(target=self._read, daemon=True)
            self._thread.start()
            if not self._subscribed.wait(30):
                raise RuntimeError(f"no event stream from red: {self._error}")
        else:
            self._poller = Client(port, token)

    def _read(self) -> None:
        try:
            connection = http.client.HTTPConnection(HOST, self.port, timeout=None)
            connection.request(
                "GET",
                f"{self.prefix}/events",
                headers={"Authorization": f"Bearer {self.token}", "Accept": "text/event-stream"},
            )
            response = connection.getresponse()
            if response.status != 200:
                raise RuntimeError(f"events: {response.status} {response.read()[:500]!r}")
            self._subscribed.set()
            kind = None
            while not self._stop:
                line = response.fp.readline()
                if not line:  # the hub drops a subscriber that falls QUEUE_SIZE events behind
                    self.dropped = True
                    with self._cond:
                        self._cond.notify_all()
                    return
                if line.startswith(b"event:"):
                    kind = line[6:].strip()
                elif line.startswith(b"data:") and kind == b"entry":
                    event = json.loads(line[5:])
                    if event.get("entry") == "delivered" and event.get("party") == BLUE:
                        stamp = time.perf_counter()
                        with self._cond:
                            self.at.setdefault(event["thread"], stamp)
                            self._cond.notify_all()
        except BaseException as error:  # reported by wait()
            self._error = error
            self._subscribed.set()
            with self._cond:
                self._cond.notify_all()

    def wait(self, threads: set[str], timeout_s: float) -> None:
        """Until red holds a receipt for every thread in ``threads``."""
        deadline = time.monotonic() + timeout_s
        if not self.poll:
            with self._cond:
                while not threads <= self.at.keys() and not self.dropped:
                    if self._error is not None:
                        raise RuntimeError(f"event stream: {self._error}")
                    left = deadline - time.monotonic()
                    if left <= 0:
                        missing = len(threads - self.at.keys())
                        raise RuntimeError(f"{missing} receipts missing after {timeout_s:.0f} s")
                    self._cond.wait(left)
        pending = set(threads) - set(self.at)
        if pending:
            if self._poller is None:
                self._poller = Client(self.port, self.token)
            self.polled += len(pending)
            while pending:
                for tid in list(pending):
                    status, view = self._poller.request("GET", f"{self.prefix}/threads/{tid}")
                    if status == 200 and view["legs"][BLUE]["delivered"]:
                        self.at.setdefault(tid, time.perf_counter())
                        pending.discard(tid)
                if pending and time.monotonic() > deadline:
                    raise RuntimeError(f"{len(pending)} receipts missing after {timeout_s:.0f} s")
                if pending:
                    time.sleep(0.001)

    def close(self) -> None:
        self._stop = True
        if self._poller is not None:
            self._poller.close()


# -- measurement ----------------------------------------------------------------------------------
@dataclass
class Phase:
    name: str
    latency_ms: list[float] = field(default_factory=list)
    wall_s: float = math.nan
    #: CPU seconds of each server over the phase.
    server_cpu_s: list[float] = field(default_factory=list)
    client_cpu_s: float = math.nan
    load: tuple[float, float] = (math.nan, math.nan)
    #: Receipts timed by polling ``threads/{id}`` (the event stream had ended, or ``--workers`` > 1).
    polled: int = 0

    def stats(self) -> dict[str, Any]:
        ordered = sorted(self.latency_ms)
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
            "per_s": count / self.wall_s,
            "server_cpu_ms_per_request": 1000.0 * sum(self.server_cpu_s) / count,
            "server_cpu_ms_per_request_each": [1000.0 * c / count for c in self.server_cpu_s],
            "client_cpu_s": self.client_cpu_s,
            "polled": self.polled,
        }


@dataclass
class LayoutResult:
    layout: str
    workers: int
    phases: list[Phase] = field(default_factory=list)


def send(client: Client, prefix: str, i: int) -> str:
    status, answer = client.request("POST", f"{prefix}/requests", request_body(i))
    if status != 201:
        raise RuntimeError(f"POST requests: {status} {json.dumps(answer)[:1000]}")
    return str(answer["id"])


def sequential(
    operator: Client, receipts: Receipts, prefix: str, n: int, cpu: ServerCpu, label: str
) -> Phase:
    phase = Phase(label)
    polled0 = receipts.polled
    load0, cpu0, ccpu0 = os.getloadavg()[0], cpu.seconds(), client_cpu_s()
    began = time.perf_counter()
    for i in range(n):
        started = time.perf_counter()
        tid = send(operator, prefix, i)
        receipts.wait({tid}, 60)
        phase.latency_ms.append((receipts.at[tid] - started) * 1000.0)
    phase.wall_s = time.perf_counter() - began
    phase.server_cpu_s = [b - a for a, b in zip(cpu0, cpu.seconds(), strict=True)]
    phase.client_cpu_s = client_cpu_s() - ccpu0
    phase.load = (load0, os.getloadavg()[0])
    phase.polled = receipts.polled - polled0
    return phase


def concurrent(
    port: int,
    token: str,
    receipts: Receipts,
    prefix: str,
    senders: int,
    total: int,
    cpu: ServerCpu,
    rate: float | None = None,
) -> Phase:
    """``total`` requests from ``senders`` threads: as fast as the POSTs return, or paced at ``rate``
    per second (request i is due at i / rate; timed from when it is due, so that a server slow to take
    the POSTs is not hidden)."""
    phase = Phase(f"concurrent ×{senders}" if rate is None else f"paced {rate:.0f}/s ×{senders}")
    clock: list[float] = []
    work: queue.SimpleQueue[int] = queue.SimpleQueue()
    for i in range(total):
        work.put(i)
    started: dict[str, float] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()
    gate = threading.Barrier(senders + 1)

    def sender() -> None:
        client = Client(port, token)
        try:
            client.request("GET", f"{prefix}/status")  # connect before the clock starts
            gate.wait()
            while True:
                try:
                    i = work.get_nowait()
                except queue.Empty:
                    return
                t = time.perf_counter()
                if rate is not None:
                    due = clock[0] + i / rate
                    if due > t:
                        time.sleep(due - t)
                    t = due
                tid = send(client, prefix, (200_000 if rate else 100_000) + i)
                with lock:
                    started[tid] = t
        except BaseException as error:
            errors.append(error)
        finally:
            client.close()

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(senders)]
    for thread in threads:
        thread.start()
    polled0 = receipts.polled
    load0, cpu0, ccpu0 = os.getloadavg()[0], cpu.seconds(), client_cpu_s()
    clock.append(time.perf_counter())
    gate.wait()
    began = clock[0]
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"a sender failed: {errors[0]}") from errors[0]
    receipts.wait(set(started), 300)
    ended = max(receipts.at[t] for t in started)
    phase.wall_s = ended - began
    phase.server_cpu_s = [b - a for a, b in zip(cpu0, cpu.seconds(), strict=True)]
    phase.client_cpu_s = client_cpu_s() - ccpu0
    phase.load = (load0, os.getloadavg()[0])
    phase.latency_ms = [(receipts.at[t] - s) * 1000.0 for t, s in started.items()]
    phase.polled = receipts.polled - polled0
    return phase


def wait_registered(port: int, token: str, parties: list[str]) -> None:
    client = Client(port, token)
    try:
        deadline = time.monotonic() + 60
        for party in parties:
            while client.request("GET", f"/line/v1/registry/{party}")[0] != 200:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{party}'s line did not register in 60 s")
                time.sleep(0.1)
    finally:
        client.close()


def run_layout(layout: str, args: argparse.Namespace) -> LayoutResult:
    workdir = Path(tempfile.mkdtemp(prefix=f"parley-bench-line-{layout}-"))
    private_path, _ = ensure_dev_keys(workdir / "dev-keys")  # both servers trust it (one data dir)
    private_pem = private_path.read_bytes()
    databases = [workdir / "parley.db"] + ([workdir / "blue.db"] if layout == "two" else [])
    for database in databases:
        subprocess.run(
            [sys.executable, "-m", "parley", "db", "upgrade", "--database-url", f"sqlite:///{database}",
             "--data-dir", str(workdir)],
            check=True, capture_output=True,
        )  # fmt: skip
    red_port = free_port()
    blue_port = free_port() if layout == "two" else red_port
    configs: list[tuple[Path, int, str]] = []
    if layout == "one":
        path = workdir / "parley.toml"
        path.write_text(settings_toml(workdir, databases[0], red_port, args.workers, [RED, BLUE], None))
        configs.append((path, red_port, "/aux/v1/version"))
    else:
        red_cfg, blue_cfg = workdir / "red.toml", workdir / "blue.toml"
        red_cfg.write_text(settings_toml(workdir, databases[0], red_port, args.workers, [RED], None))
        blue_cfg.write_text(
            settings_toml(workdir, databases[1], blue_port, args.workers, [BLUE], f"http://{HOST}:{red_port}")
        )
        configs += [(red_cfg, red_port, "/aux/v1/version"), (blue_cfg, blue_port, "/parties")]
    profile_dir = args.profile.resolve() if args.profile is not None else None
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)

    result = LayoutResult(layout, args.workers)
    prefix = f"/parties/{RED}/line/v1"
    ops_token = mint_token(private_pem, sub=RED, scopes=[OPS_SCOPE], audience=HOST, lifetime_s=4 * 3600)
    line_token = mint_token(private_pem, sub="bench", scopes=[LINE_SCOPE], audience=HOST, lifetime_s=3600)
    with contextlib.ExitStack() as stack:
        pids = []
        for config, port, ready in configs:
            profile = None if profile_dir is None else profile_dir / f"{layout}-{config.stem}.collapsed.txt"
            log = workdir / f"{config.stem}.log"
            pids.append(stack.enter_context(parley_serve(config, log, port, ready, profile)))
        wait_registered(red_port, line_token, [RED, BLUE])
        cpu = ServerCpu(pids)
        receipts = Receipts(red_port, ops_token, prefix, poll=args.workers > 1)
        stack.callback(receipts.close)
        operator = Client(red_port, ops_token)
        stack.callback(operator.close)
        console.print(f"[{layout}] lines registered; warm-up ({args.warmup})")
        sequential(operator, receipts, prefix, args.warmup, cpu, "warm-up")
        console.print(f"[{layout}] sequential: {args.n} requests")
        result.phases.append(sequential(operator, receipts, prefix, args.n, cpu, "sequential"))
        if args.rate > 0:
            console.print(f"[{layout}] paced: {args.total} requests at {args.rate:.0f}/s")
            result.phases.append(
                concurrent(red_port, ops_token, receipts, prefix, args.senders, args.total, cpu, args.rate)
            )
        console.print(f"[{layout}] concurrent: {args.senders} senders, {args.total} requests")
        result.phases.append(concurrent(red_port, ops_token, receipts, prefix, args.senders, args.total, cpu))
        for phase in result.phases:
            s = phase.stats()
            console.print(
                f"[{layout}] {phase.name}: {s['per_s']:.0f}/s  p50 {s['p50_ms']:.1f}  p95 {s['p95_ms']:.1f}  "
                f"p99 {s['p99_ms']:.1f} ms; server CPU ms/request "
                + " + ".join(f"{c:.2f}" for c in s["server_cpu_ms_per_request_each"])
            )
    shutil.rmtree(workdir, ignore_errors=True)  # kept (with the servers' logs) when the run failed
    return result


# -- report ---------------------------------------------------------------------------------------
LAYOUTS = {"one": "one server (shared service + red + blue, one SQLite)",
           "two": "two servers (red + shared service | blue; two SQLite files)"}  # fmt: skip


def _cpu(stats: dict[str, Any]) -> str:
    each = stats["server_cpu_ms_per_request_each"]
    split = f" ({' + '.join(f'{c:.1f}' for c in each)})" if len(each) > 1 else ""
    return f"{stats['server_cpu_ms_per_request']:.1f}{split}"


def print_results(results: list[LayoutResult], args: argparse.Namespace) -> bool:
    title = (
        f"Parley line red -> blue: time from POST to red holding blue's signed receipt "
        f"({os.cpu_count()} CPUs, Python {platform.python_version()}, {args.workers} worker(s) per server)"
    )
    table = Table(title=title)
    for column in ("layout", "phase", "n", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms",
                   "server CPU ms/req", "client CPU s", "load", "polled"):  # fmt: skip
        table.add_column(column, justify="left" if column in ("layout", "phase") else "right")
    met = True
    for r in results:
        for phase in r.phases:
            s = phase.stats()
            table.add_row(
                r.layout, phase.name, str(s["n"]), f"{s['per_s']:.0f}", f"{s['p50_ms']:.1f}",
                f"{s['p95_ms']:.1f}", f"{s['p99_ms']:.1f}", f"{s['max_ms']:.1f}",
                _cpu(s), f"{s['client_cpu_s']:.1f}",
                f"{phase.load[0]:.1f}-{phase.load[1]:.1f}", str(phase.polled),
            )  # fmt: skip
    Console(width=max(130, console.width)).print(table)
    for r in results:
        print(f"{r.layout}: {LAYOUTS[r.layout]}")
    print("sequential: one request at a time (req/s = n / wall time);")
    print(
        "concurrent: as fast as the POSTs return; req/s = total / (last receipt - first POST), the most the"
    )
    print("  line sustains; its latency is mostly the queue such a burst builds;")
    print("paced: the same requests offered at --rate per second, each timed from when it is due;")
    print("server CPU: all server processes' CPU time per request (two: red's server + blue's);")
    print(
        "load: the 1-minute load average before and after (other work on the machine inflates the figures);"
    )
    print("polled: receipts timed by polling threads/{id} (the event stream ended, or several workers).")

    def verdict(ok: bool) -> str:
        return "MET" if ok else "NOT MET"

    for r in results:
        by_name = {p.name.split()[0]: p.stats() for p in r.phases}
        c, seq, paced = by_name["concurrent"], by_name["sequential"], by_name.get("paced")
        ok_rate = c["per_s"] >= TARGET_PER_S
        ok_seq = seq["p95_ms"] <= TARGET_P95_MS
        line = (
            f"target [{r.layout}]: >= {TARGET_PER_S:.0f} requests/s: {c['per_s']:.0f} {verdict(ok_rate)}; "
            f"p95 <= {TARGET_P95_MS:.0f} ms: sequential {seq['p95_ms']:.1f} {verdict(ok_seq)}"
        )
        met = met and ok_rate and ok_seq
        if paced is not None:
            ok_paced = paced["p95_ms"] <= TARGET_P95_MS
            met = met and ok_paced and args.rate >= TARGET_PER_S
            line += f", at {args.rate:.0f}/s offered {paced['p95_ms']:.1f} {verdict(ok_paced)}"
        print(line)
    return met


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=300, help="sequential requests, timed")
    parser.add_argument("--senders", type=int, default=8, help="concurrent senders")
    parser.add_argument("--total", type=int, default=1000, help="requests sent by the concurrent senders")
    parser.add_argument("--warmup", type=int, default=20, help="untimed sequential requests first")
    parser.add_argument(
        "--rate", type=float, default=TARGET_PER_S, help="requests/s offered in the paced phase (0: none)"
    )
    parser.add_argument("--layout", choices=("one", "two", "both"), default="both")
    parser.add_argument("--workers", type=int, default=1, help="worker processes per server (>1: polling)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="sample the servers with py-spy")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when a target is not met (default: report only)"
    )
    args = parser.parse_args()
    if args.n < 1 or args.senders < 1 or args.total < args.senders or args.warmup < 0 or args.workers < 1:
        parser.error("--n, --senders, --workers must be positive, --total >= --senders, --warmup >= 0")
    layouts = ["one", "two"] if args.layout == "both" else [args.layout]
    results = [run_layout(layout, args) for layout in layouts]
    met = print_results(results, args)
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {
                        "layout": r.layout,
                        "workers": r.workers,
                        **{p.name.split()[0]: {**p.stats(), "load": list(p.load)} for p in r.phases},
                    }
                    for r in results
                ],
                indent=2,
            )
        )
    if args.check and not met:
        sys.exit(1)


if __name__ == "__main__":
    main()
