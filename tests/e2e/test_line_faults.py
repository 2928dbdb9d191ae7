"""The line under faults, over real HTTP with real processes: two `parley serve` processes from
settings files, on SQLite.

- server A: the shared service of the line (registry and witness, on the DSS host) and party **red**,
  two worker processes (so two outbox loops for red, as in production);
- server B: party **blue** alone, its own database, using server A's shared service.

The faults (issue 6, "Done means"): the receiver down while the sender sends (delivered when it
returns, exactly once); ``kill -9`` of either server in the middle of a burst of :data:`BURST`
requests from concurrent senders (nothing acknowledged is lost, no entry twice, both chains whole,
both transcripts verify, blue's receipts held by red); the two nodes' clocks 4 s apart (red +2 s,
blue -2 s, and the other way round: requests, receipts, reads, answers before the deadline, an
answer between the two sides' idea of the deadline, a late answer; both transcripts verify).

The outbox's back-off is capped at :data:`BACKOFF_S` (``line_max_backoff_s``) so a returning node
is served within a second or so; everything else is as deployed.
"""

from __future__ import annotations

import collections
import functools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from parley.devtokens import mint_token
from parley.line.entry import Entry, Kind
from parley.line.times import format_time
from parley.line.transcript import Report, verify_transcript
from parley.storage.sql import migrate
from parley.testing.postgres import free_port
from tests.e2e.test_party_http import HOST, _key, _toml_list

pytestmark = pytest.mark.slow

#: Requests in each kill -9 burst (the issue asks for 1,000; this machine runs them in seconds).
BURST = 1000
#: Concurrent senders of a burst.
SENDERS = 8
#: Acknowledged requests after which the server is killed (and restarted at once), each time.
KILL_AT = (BURST // 3, 2 * BURST // 3)
#: Requests sent while the receiver is down.
WHILE_DOWN = 50
#: The outbox's longest back-off in these deployments (``line_max_backoff_s``), seconds.
BACKOFF_S = 1.0
#: How long the outboxes may take to drain once both nodes are up, seconds.
DRAIN_S = 60.0


# -- deployment ------------------------------------------------------------------------------------


@dataclass
class Server:
    """One `parley serve` process group (the supervisor and its workers), restartable on its data."""

    config: Path
    log: Path
    probe: str
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        self.starts += 1
        log_path = self.log.with_suffix(f".{self.starts}.log")
        with log_path.open("w") as log:  # the child keeps its own descriptor
            process = subprocess.Popen(
                [sys.executable, "-m", "parley", "serve", "--config", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill -9 takes the workers too
            )
        self.process = process
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log_path.read_text()
            try:
                if httpx.get(self.probe, timeout=2).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"parley serve did not come up: {log_path.read_text()}"
            time.sleep(0.1)

    def kill(self) -> None:
        """``kill -9`` of the whole server: supervisor and workers, no chance to finish anything."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=20)
        self.process = None

    def stop(self) -> None:
        """A graceful stop (SIGTERM), then kill -9 if it hangs."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=20)
        self.process = None


@dataclass
class Line:
    a: Server
    b: Server
    urls: dict[str, str]
    operator_key: bytes
    #: Each party's clock offset, seconds.
    offsets: dict[str, float] = field(default_factory=dict)
    clients: list[httpx.Client] = field(default_factory=list)

    def ops(self, party: str, timeout_s: float = 30.0) -> httpx.Client:
        """A client of ``party``'s line API as its operator (closed with the deployment)."""
        token = mint_token(self.operator_key, sub=party, scopes=["parley.operations"], audience=HOST)
        client = httpx.Client(
            base_url=f"{self.urls[party]}/line/v1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout_s,
        )
        self.clients.append(client)
        return client

    def status(self, party: str) -> dict[str, Any]:
        answer = self.ops(party).get("/status")
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def export(self, party: str) -> dict[str, Any]:
        answer = self.ops(party, timeout_s=120).get("/export")
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def close(self) -> None:
        for client in self.clients:
            client.close()
        self.clients.clear()


def _deploy(root: Path, offsets: dict[str, float] | None = None) -> Line:
    offsets = offsets or {}
    keys = {name: _key(root, name) for name in ("red", "blue", "operators")}
    trusted = _toml_list([k[2] for k in keys.values()])
    port_a, port_b = free_port(), free_port()
    url_a, url_b = f"sqlite:///{root / 'a' / 'parley.db'}", f"sqlite:///{root / 'b' / 'parley.db'}"
    for url in (url_a, url_b):
        migrate.upgrade(url)

    def party(name: str, **extra: object) -> str:
        lines = [
            "[[parties]]",
            f'id = "{name}"',
            f"line_max_backoff_s = {BACKOFF_S}",
            f"clock_offset_s = {offsets.get(name, 0.0)}",
            *(f'{k} = "{v}"' for k, v in extra.items()),
            "[parties.token_source]",
            'kind = "private_key"',
            f'private_key_file = "{keys[name][1]}"',
        ]
        return "\n".join(lines) + "\n"

    def server(name: str, port: int, url: str, workers: int, more: str) -> Path:
        path = root / f"{name}.toml"
        path.write_text(
            f'database_url = "{url}"\ndata_dir = "{root / name}"\nport = {port}\nworkers = {workers}\n'
            f'public_url = "http://{HOST}:{port}"\npublic_key_files = {trusted}\ncleanup_interval_s = 0\n'
            + more
        )
        return path

    config_a = server("a", port_a, url_a, 2, party("red"))
    config_b = server(
        "b", port_b, url_b, 1, "serve_dss = false\n\n" + party("blue", dss_url=f"http://{HOST}:{port_a}")
    )
    line = Line(
        a=Server(config_a, root / "a.log", f"http://{HOST}:{port_a}/aux/v1/version"),
        b=Server(config_b, root / "b.log", f"http://{HOST}:{port_b}/parties"),
        urls={"red": f"http://{HOST}:{port_a}/parties/red", "blue": f"http://{HOST}:{port_b}/parties/blue"},
        operator_key=keys["operators"][0],
        offsets={p: offsets.get(p, 0.0) for p in ("red", "blue")},
    )
    line.a.start()
    line.b.start()
    return line


@pytest.fixture(scope="module")
def line(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Line]:
    deployed = _deploy(tmp_path_factory.mktemp("line-faults"))
    try:
        # Both nodes registered, keys pinned, a first exchange through.
        thread = _send(deployed.ops("red"), "first contact")
        _eventually(lambda: _leg(deployed.ops("red"), thread)["delivered"], "the first receipt", 30)
        yield deployed
    finally:
        deployed.close()
        deployed.b.stop()
        deployed.a.stop()


# -- helpers ---------------------------------------------------------------------------------------


def _eventually(probe: Callable[[], Any], what: str, timeout_s: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        assert time.monotonic() < deadline, f"not seen within {timeout_s} s: {what}"
        time.sleep(0.1)


def _request(subject: str, deadline: datetime | None = None) -> dict[str, Any]:
    deadline = deadline or datetime.now(UTC) + timedelta(hours=1)
    return {
        "to": ["blue"],
        "type": "free_text",
        "subject": subject,
        "reason": "fault test",
        "deadline": format_time(deadline),
        "text": f"{subject}: please acknowledge",
    }


def _send(client: httpx.Client, subject: str, deadline: datetime | None = None) -> str:
    answer = client.post("/requests", json=_request(subject, deadline))
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _thread(client: httpx.Client, thread: str) -> dict[str, Any]:
    answer = client.get(f"/threads/{thread}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _leg(client: httpx.Client, thread: str) -> dict[str, Any]:
    return dict(_thread(client, thread)["legs"]["blue"])


def _status_is(client: httpx.Client, thread: str, status: str) -> bool:
    return bool(_leg(client, thread)["status"] == status)


def _drained(line: Line) -> bool:
    try:
        return bool(line.status("red")["outbox_pending"] == 0 and line.status("blue")["outbox_pending"] == 0)
    except httpx.TransportError:
        return False


def _verified(transcript: dict[str, Any]) -> Report:
    report = verify_transcript(transcript)
    assert report.ok, f"{transcript['party']}'s transcript: {report.defect}"
    return report


def _check_both(line: Line, acknowledged: set[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Once the outboxes are empty: both transcripts verify; no entry twice anywhere; red's chain
    whole, and held whole by blue (every red entry is addressed to blue); every request red wrote
    (acknowledged or not) held by blue with exactly one receipt, which red holds too."""
    _eventually(lambda: _drained(line), "both outboxes drained", DRAIN_S)
    red, blue = line.export("red"), line.export("blue")
    reports = {"red": _verified(red), "blue": _verified(blue)}

    def all_entries(transcript: dict[str, Any]) -> list[Entry]:
        raw = [e for history in transcript["keys"].values() for e in history] + transcript["entries"]
        return [Entry.from_json(e) for e in raw]

    held: dict[str, dict[str, list[Entry]]] = {}
    for name, transcript in (("red", red), ("blue", blue)):
        entries = all_entries(transcript)
        positions = collections.Counter((e.party, e.seq) for e in entries)
        twice = [p for p, n in positions.items() if n > 1]
        assert not twice, f"{name} holds entries twice: {twice[:5]}"
        assert len({e.hash for e in entries}) == len(entries), f"{name} holds an entry twice"
        by_author: dict[str, list[Entry]] = {}
        for e in entries:
            by_author.setdefault(e.party, []).append(e)
        for chain in by_author.values():
            chain.sort(key=lambda e: e.seq)
        held[name] = by_author

    for author in ("red", "blue"):  # each chain whole, and the same on both sides
        mine = [e.seq for e in held[author][author]]
        assert mine == list(range(1, len(mine) + 1)), f"{author}'s chain has a gap"
        other = "blue" if author == "red" else "red"
        assert [e.hash for e in held[other][author]] == [e.hash for e in held[author][author]], (
            f"{other} does not hold {author}'s chain exactly"
        )

    requests = {str(e.thread): e for e in held["red"]["red"] if e.kind is Kind.REQUEST}
    assert acknowledged <= set(requests), "a request red acknowledged is not in its chain"
    receipts = collections.Counter(e.answers for e in held["blue"]["blue"] if e.kind is Kind.DELIVERED)
    missing = [t for t, e in requests.items() if receipts[e.hash] == 0]
    assert not missing, f"{len(missing)} requests without blue's receipt, e.g. {missing[:3]}"
    receipted_twice = [h for h, n in receipts.items() if n > 1]
    assert not receipted_twice, f"requests receipted twice: {receipted_twice[:3]}"
    assert set(receipts) == {e.hash for e in requests.values()}
    for name in ("red", "blue"):  # the legs as each side's transcript makes them
        threads = reports[name].threads
        assert all(threads[t].legs["blue"].delivered for t in requests), f"{name}: a leg not delivered"
    return red, blue


@dataclass
class Burst:
    """Concurrent senders of ``total`` requests from red to blue; a request whose call failed
    (the server gone) is sent again as a new one once the server answers: ``acknowledged`` are the
    threads answered 201, ``failed`` the calls that got no answer."""

    line: Line
    total: int
    tag: str
    acknowledged: set[str] = field(default_factory=set)
    failed: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, during: Callable[[], None], at: Sequence[int]) -> None:
        """Send; call ``during`` (in this thread) each time the acknowledged requests reach one of ``at``."""
        reached = threading.Condition(self._lock)
        token = mint_token(self.line.operator_key, sub="red", scopes=["parley.operations"], audience=HOST)
        items = iter(range(self.total))
        take = threading.Lock()
        # The senders may run a little past each fault point, so that requests are in flight when
        # the fault strikes, but not to the end of the burst before it (the line is fast).
        gates = {threshold: threading.Event() for threshold in at}
        slack = 5 * SENDERS

        def sender() -> None:
            with httpx.Client(
                base_url=f"{self.line.urls['red']}/line/v1",
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            ) as client:
                while True:
                    with take:
                        i = next(items, None)
                    if i is None:
                        return
                    for threshold, gate in gates.items():
                        if i >= threshold + slack:
                            gate.wait(180)
                    give_up = time.monotonic() + 90
                    while True:
                        try:
                            answer = client.post("/requests", json=_request(f"{self.tag} {i}"))
                        except httpx.TransportError:
                            with self._lock:
                                self.failed += 1
                            assert time.monotonic() < give_up, f"request {i}: red did not come back"
                            time.sleep(0.2)
                            continue
                        assert answer.status_code == 201, answer.text
                        with reached:
                            self.acknowledged.add(answer.json()["id"])
                            reached.notify_all()
                        break

        with ThreadPoolExecutor(SENDERS) as pool:
            futures = [pool.submit(sender) for _ in range(SENDERS)]
            for threshold in at:

                def there(n: int = threshold) -> bool:
                    return len(self.acknowledged) >= n or all(f.done() for f in futures)

                with reached:
                    reached.wait_for(there, 120)
                assert len(self.acknowledged) < self.total, "the burst ended before the fault"
                during()
                gates[threshold].set()
            for f in futures:
                f.result()
        assert len(self.acknowledged) == self.total


# -- the tests -------------------------------------------------------------------------------------


def test_a_request_to_a_node_that_is_down_is_delivered_when_it_returns_once(line: Line) -> None:
    red = line.ops("red")
    line.b.stop()
    try:
        threads = [_send(red, f"while blue is down {i}") for i in range(WHILE_DOWN)]
        time.sleep(2 * BACKOFF_S)  # the outbox has tried, and failed, meanwhile
        status = line.status("red")
        assert status["outbox_pending"] >= WHILE_DOWN, status
        assert all(_leg(red, t)["status"] == "sent" for t in threads)
    finally:
        line.b.start()
    returned = time.monotonic()
    blue = line.ops("blue")
    _eventually(
        lambda: all(_leg(red, t)["delivered"] for t in threads),
        "red holds every receipt",
        10 * BACKOFF_S + 10,
    )
    took = time.monotonic() - returned
    assert took < 5 * BACKOFF_S + 5, f"{took:.1f} s to deliver after blue returned"
    assert all(_leg(blue, t)["status"] == "delivered" for t in threads)
    _check_both(line, set(threads))


@pytest.mark.parametrize("victim", ["blue", "red"])
def test_kill_9_in_the_middle_of_a_burst_loses_nothing_and_duplicates_nothing(
    line: Line, victim: str
) -> None:
    server = line.b if victim == "blue" else line.a
    burst = Burst(line, BURST, f"burst, {victim} killed")
    started = time.monotonic()

    down_s: list[float] = []

    def kill_and_restart() -> None:
        killed = time.monotonic()
        server.kill()
        time.sleep(0.5)
        server.start()
        down_s.append(round(time.monotonic() - killed, 1))

    burst.run(kill_and_restart, at=KILL_AT)
    sent_s = time.monotonic() - started
    red, _ = _check_both(line, burst.acknowledged)
    print(
        f"\n{victim} killed after {KILL_AT} of {BURST} acknowledged, back {down_s} s later: all sent in "
        f"{sent_s:.1f} s, {burst.failed} calls unanswered; drained and checked "
        f"{time.monotonic() - started - sent_s:.1f} s later; red holds {len(red['entries'])} entries"
    )


# -- clock skew --------------------------------------------------------------------------------------


@pytest.fixture(params=[(2.0, -2.0), (-2.0, 2.0)], ids=["red+2s,blue-2s", "red-2s,blue+2s"])
def skewed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Line]:
    red_s, blue_s = request.param
    deployed = _deploy(tmp_path_factory.mktemp("line-skew"), {"red": red_s, "blue": blue_s})
    try:
        yield deployed
    finally:
        deployed.close()
        deployed.b.stop()
        deployed.a.stop()


def test_clock_skew_of_2_s_either_way_between_nodes_is_handled(skewed: Line) -> None:
    line = skewed
    red, blue = line.ops("red"), line.ops("blue")
    red_ahead = line.offsets["red"] > line.offsets["blue"]
    now = datetime.now(UTC)
    # 1. answered well before the deadline; 2. answered right after the first side (by its own
    # clock) recorded the expiry; 3. answered after both sides recorded it: late.
    in_time = _send(red, "answered in time", now + timedelta(seconds=30))
    window = _send(red, "answered between the two clocks' deadlines", now + timedelta(seconds=5))
    late = _send(red, "answered late", now + timedelta(seconds=5))
    deadline = now + timedelta(seconds=5)
    threads = (in_time, window, late)
    for t in threads:
        _eventually(functools.partial(_status_is, red, t, "delivered"), "red holds blue's receipt")
        read = blue.post(f"/threads/{t}/read")
        assert read.status_code == 200, read.text

    accepted = blue.post(f"/threads/{in_time}/accept", json={"conditions": "after the current sortie"})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["legs"]["blue"]["status"] == "accepted"
    assert accepted.json()["legs"]["blue"]["late"] is False

    # The side whose clock is ahead records the expiry first (2 s before the real deadline).
    first, first_client = ("red", red) if red_ahead else ("blue", blue)
    _eventually(
        functools.partial(_status_is, first_client, window, "expired"), f"{first} records the expiry", 15
    )
    answered = blue.post(f"/threads/{window}/accept")
    assert answered.status_code == 200, answered.text
    in_window = answered.json()["legs"]["blue"]
    # Red ahead: blue's clock (4 s behind) still says before the deadline; blue ahead: it is after.
    assert (in_window["status"], in_window["late"]) == ("accepted", not red_ahead)

    # Past the deadline by both clocks (and a sweep of each expiry loop): both sides have recorded
    # the expiry of the third, and blue's answer is late by every clock.
    time.sleep(max(0.0, (deadline + timedelta(seconds=3.5) - datetime.now(UTC)).total_seconds()))
    assert _leg(red, late)["status"] == "expired" and _leg(blue, late)["status"] == "expired"
    declined = blue.post(f"/threads/{late}/decline", json={"reason": "the message came too late"})
    assert declined.status_code == 200, declined.text
    assert (declined.json()["legs"]["blue"]["status"], declined.json()["legs"]["blue"]["late"]) == (
        "declined",
        True,
    )

    # Red sees what blue answered, each side's records hold, and both transcripts verify.
    expected = {in_time: ("accepted", False), window: ("accepted", not red_ahead), late: ("declined", True)}
    for t, (status, is_late) in expected.items():
        _eventually(functools.partial(_status_is, red, t, status), f"red sees blue's answer to {t}")
        assert _leg(red, t)["late"] is is_late
    _eventually(lambda: _drained(line), "both outboxes drained", DRAIN_S)
    for party in ("red", "blue"):
        report = _verified(line.export(party))
        for t, (status, is_late) in expected.items():
            leg = report.threads[t].legs["blue"]
            assert (leg.status.value, leg.late, leg.delivered, leg.read) == (status, is_late, True, True), (
                f"{party}: {t}"
            )
        assert report.threads[late].legs["blue"].expired_by, f"{party}: the expiry of {late} is not recorded"
