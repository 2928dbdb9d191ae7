"""``parley line`` end to end: ``parley db upgrade`` and ``parley serve --config`` (the DSS with the
line's shared registry and witness, and two parties, red and blue, dev auth) in a subprocess, driven
through the CLI's commands with typer's runner, over real HTTP. One server for the module; each test
opens its own threads, so that the tests do not depend on one another.
"""

from __future__ import annotations

import doctest
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from typer.testing import CliRunner, Result

from parley.cli import line_input, line_render
from parley.cli.main import app
from parley.cli.ops_client import Failure
from parley.devtokens import PRIVATE_KEY_NAME, mint_token
from parley.testing.postgres import free_port

runner = CliRunner()
ENV = {"COLUMNS": "240", "PARLEY_NODE": None, "PARLEY_TOKEN": None}
T = TypeVar("T")


@dataclass(frozen=True)
class Server:
    base: str
    data_dir: Path
    files: Path

    def node(self, party: str) -> str:
        return f"{self.base}/parties/{party}"

    def connection(self, party: str) -> list[str]:
        return ["--node", self.node(party), "--dev-token", "--data-dir", str(self.data_dir)]

    def write(self, name: str, content: Any) -> Path:
        path = self.files / name
        path.write_text(content if isinstance(content, str) else json.dumps(content))
        return path


def _parley(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "parley", *args], capture_output=True, text=True, timeout=120
    )


def eventually(probe: Callable[[], T | None], what: str, timeout_s: float = 15.0) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        assert time.monotonic() < deadline, f"not within {timeout_s} s: {what}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("line-cli")
    files = tmp_path_factory.mktemp("line-cli-files")
    port = free_port()
    config = data_dir / "parley.toml"
    config.write_text(
        f"""
data_dir = "{data_dir}"
dev_auth = true
port = {port}
workers = 1

[[parties]]
id = "red"
name = "Red air cell"

[[parties]]
id = "blue"
name = "Blue drone services"
"""
    )
    upgraded = _parley("db", "upgrade", "--data-dir", str(data_dir))
    assert upgraded.returncode == 0, upgraded.stderr
    log = (data_dir / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "parley", "serve", "--config", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:

        def registered() -> bool:
            assert process.poll() is None, (data_dir / "serve.log").read_text()
            key = data_dir / "dev-keys" / PRIVATE_KEY_NAME
            if not key.exists():
                return False
            token = mint_token(key.read_bytes(), sub="red", scopes=["parley.line"], audience="127.0.0.1")
            try:
                return all(
                    httpx.get(
                        f"{base}/line/v1/registry/{party}",
                        headers={"Authorization": f"Bearer {token}"},
                        timeout=2,
                    ).status_code
                    == 200
                    for party in ("red", "blue")
                )
            except httpx.TransportError:
                return False

        eventually(registered, "red and blue registered on the line", timeout_s=60)
        yield Server(base, data_dir, files)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return result


def refused(result: Result) -> str:
    """The one-line error of a command that exited 2."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def square(lng: float, lat: float, d: float = 0.05) -> dict[str, Any]:
    ring = [
        [lng - d, lat - d],
        [lng + d, lat - d],
        [lng + d, lat + d],
        [lng - d, lat + d],
        [lng - d, lat - d],
    ]
    return {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {"name": "x"},
    }


def send_vacate(server: Server, subject: str, *extra: str) -> dict[str, Any]:
    area = server.write(f"{subject}.geojson", square(36.2, 35.1))
    result = ok(
        at(
            server, "red", "send", "vacate", "--to", "blue", "--subject", subject, "--reason", "Medevac corridor",
            "--deadline", "30m", "--volume", str(area), "--alt", "0-6000m", "--from", "+0m", "--until", "2h",
            "--json", *extra,
        )
    )  # fmt: skip
    thread: dict[str, Any] = json.loads(result.stdout)
    return thread


def at(server: Server, party: str, *args: str) -> Result:
    """``parley line ARGS --node <party's URL> --dev-token --data-dir <server's>``."""
    return runner.invoke(app, ["line", *args, *server.connection(party)], env=ENV)


def show(server: Server, party: str, thread_id: str) -> dict[str, Any] | None:
    result = at(server, party, "show", thread_id, "--json")
    return None if result.exit_code else dict(json.loads(result.stdout))


def leg(server: Server, party: str, thread_id: str, recipient: str = "blue") -> dict[str, Any]:
    view = show(server, party, thread_id) or {}
    legs: dict[str, Any] = view.get("legs") or {}
    return dict(legs.get(recipient) or {})


# -- without a node ---------------------------------------------------------------------------------
@pytest.mark.parametrize("module", [line_input, line_render])
def test_docstring_examples(module: Any) -> None:
    assert doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed == 0


def test_volumes_are_completed_from_the_options_and_respelt(tmp_path: Path) -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    a, b = square(36.0, 35.0), square(36.5, 35.0)
    for f in (a, b):
        f["properties"] = {"time_start": "2030-01-01T01:00:00+01:00", "altitude_upper_m": 300}
    path = tmp_path / "two.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [a, b]}))
    volume = line_input.load_volume(path, line_input.Window(until="90m", alt="0-6000m"), now)
    assert volume["geometry"]["type"] == "MultiPolygon"
    assert volume["properties"] == {
        "start": "2030-01-01T00:00:00.000000Z",  # the file's, in the line's spelling
        "end": "2030-01-01T01:30:00.000000Z",  # --until 90m after --from (default now)
        "alt_lower_m": 0.0,
        "alt_upper_m": 300,
    }
    line_input.checked("request", {"type": "hold_clear", "subject": "s", "reason": "r",
                                   "deadline": "2030-01-01T00:30:00.000000Z", "volume": volume})  # fmt: skip
    with pytest.raises(Failure, match="must be after --from"):
        line_input.Window(start="+2h", until="+1h").times(now)
    with pytest.raises(Failure, match="not an altitude band"):
        line_input.band("high")


def test_verify_refuses_a_file_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text("{nope")
    result = runner.invoke(app, ["line", "verify", str(path)], env=ENV)
    assert result.exit_code == 2 and "is not a JSON transcript" in result.stderr
    missing = runner.invoke(app, ["line", "verify", str(tmp_path / "none.json")], env=ENV)
    assert missing.exit_code == 2 and "does not exist" in missing.stderr


# -- over HTTP ---------------------------------------------------------------------------------------
def test_status_shows_the_chain_head(server: Server) -> None:
    body = json.loads(ok(at(server, "red", "status", "--json")).stdout)
    assert body["party"] == "red" and body["head"]["seq"] >= 1 and body["key"].startswith("ed25519:")
    text = ok(at(server, "blue", "status")).stdout
    assert "party: blue" in text and "head: #" in text


def test_a_vacate_is_delivered_read_accepted_and_shown(server: Server) -> None:
    sent = send_vacate(server, "Clear sector 4")
    tid = sent["id"]
    volume = sent["request"]["body"]["volume"]
    assert volume["properties"]["alt_lower_m"] == 0 and volume["properties"]["alt_upper_m"] == 6000
    assert "name" not in volume["properties"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", sent["deadline"])

    # Blue's inbox shows it once delivered (asynchronous).
    def in_blue_inbox() -> str | None:
        text = ok(at(server, "blue", "inbox")).stdout
        return text if tid in text else None

    row = next(line for line in eventually(in_blue_inbox, "in blue's inbox").splitlines() if tid in line)
    assert "← in" in row and "from red" in row and "Clear sector 4" in row and "in 29m" in row
    ok(at(server, "blue", "read", tid[:8]))
    accepted = ok(at(server, "blue", "accept", tid, "--conditions", "after the last sortie lands"))
    assert "accepted" in accepted.stdout

    eventually(lambda: leg(server, "red", tid).get("status") == "accepted", "red holds the acceptance")
    text = ok(at(server, "red", "show", tid)).stdout
    assert "Clear sector 4" in text and "Obligations" in text
    entries = text[text.index("Entries") :]
    rows = [line.split() for line in entries.splitlines() if re.search(r"\b(red|blue)#\d+\b", line)]
    assert [r[3] for r in rows] == ["request", "delivered", "read", "accept"], entries
    assert "after the last sortie lands" in text
    # Gone from the default inbox, still under --all.
    assert tid not in ok(at(server, "red", "inbox")).stdout
    assert tid in ok(at(server, "red", "inbox", "--all")).stdout


def test_refusals_exit_2_with_one_line(server: Server) -> None:
    tid = send_vacate(server, "Refusals")["id"]
    eventually(lambda: leg(server, "blue", tid, "blue").get("delivered"), "delivered to blue")
    assert "needs --reason" in refused(at(server, "blue", "decline", tid))
    ok(at(server, "blue", "decline", tid, "--reason", "aircraft on station until 0700"))
    eventually(lambda: leg(server, "red", tid).get("status") == "declined", "red holds the decline")
    message = refused(at(server, "red", "withdraw", tid, "--reason", "no longer needed"))
    assert "(409)" in message
    # Input the CLI refuses before sending anything.
    assert "needs --volume" in refused(
        at(
            server,
            "red",
            "send",
            "vacate",
            "--to",
            "blue",
            "--subject",
            "s",
            "--reason",
            "r",
            "--deadline",
            "5m",
        )
    )
    assert "--alt" in refused(
        at(server, "red", "send", "hold_clear", "--to", "blue", "--subject", "s", "--reason", "r",
           "--deadline", "5m", "--volume", str(server.write("noalt.geojson", square(36.0, 35.0))))
    )  # fmt: skip
    assert "unknown party" in refused(
        at(server, "red", "send", "free_text", "--to", "nobody", "--subject", "s", "--reason", "r",
           "--deadline", "5m", "--text", "hello")
    )  # fmt: skip
    assert "no thread" in refused(at(server, "red", "show", "ffffffff"))


def test_a_withdrawn_request_and_a_counter(server: Server) -> None:
    first = send_vacate(server, "To withdraw")["id"]
    withdrawn = ok(at(server, "red", "withdraw", first, "--reason", "no longer needed", "--json"))
    assert json.loads(withdrawn.stdout)["legs"]["blue"]["status"] == "withdrawn"

    second = send_vacate(server, "To counter")["id"]
    eventually(lambda: leg(server, "blue", second, "blue").get("delivered"), "delivered to blue")
    countered = ok(
        at(server, "blue", "counter", second, "--from", "+1h", "--until", "30m", "--reason", "later")
    )
    assert "countered" in countered.stdout
    entry = json.loads(ok(at(server, "blue", "show", second, "--json")).stdout)["entries"][-1]
    assert entry["kind"] == "counter" and set(entry["body"]) == {"window", "reason"}


def test_a_free_text_with_a_short_deadline_expires(server: Server) -> None:
    sent = json.loads(
        ok(
            at(server, "red", "send", "free_text", "--to", "blue", "--subject", "Radio check", "--reason",
               "Testing the line", "--deadline", "2s", "--text", "Reply if you read this", "--json")
        ).stdout
    )  # fmt: skip
    tid = sent["id"]
    eventually(lambda: leg(server, "red", tid).get("status") == "expired", "expired at red", timeout_s=15)
    text = ok(at(server, "red", "show", tid)).stdout
    assert "no answer from blue" in text and "passed" in text


def test_export_and_verify_and_a_tampered_copy_fails(server: Server) -> None:
    send_vacate(server, "For the record")
    outcome: dict[str, Path] = {}
    for party in ("red", "blue"):
        path = server.files / f"{party}.json"
        assert f"wrote {path}" in ok(at(server, party, "export", "--out", str(path))).stdout
        verified = runner.invoke(app, ["line", "verify", str(path)], env=ENV)
        assert verified.exit_code == 0, (verified.stdout, verified.stderr)
        assert verified.stdout.strip().splitlines()[-1].startswith("OK: ")
        assert "request vacate to blue" in verified.stdout
        outcome[party] = path

    doc = json.loads(outcome["red"].read_text())
    assert doc["witness"], "red's head was countersigned"
    witness_key = doc["witness"][0]["witness_key"]
    trusted = runner.invoke(app, ["line", "verify", str(outcome["red"]), "-q", "--witness-key", witness_key])
    assert trusted.exit_code == 0 and trusted.stdout.startswith("OK: "), trusted.stdout
    untrusted = runner.invoke(
        app, ["line", "verify", str(outcome["red"]), "-q", "--witness-key", "ed25519:" + "A" * 43]
    )
    assert untrusted.exit_code == 2 and "not a trusted witness" in untrusted.stderr

    raw = outcome["red"].read_bytes()
    i = raw.index(b'"For the record"') + 1
    tampered = server.files / "tampered.json"
    tampered.write_bytes(raw[:i] + b"f" + raw[i + 1 :])
    failed = runner.invoke(app, ["line", "verify", str(tampered)], env=ENV)
    assert failed.exit_code == 2
    assert failed.stdout.strip().splitlines()[-1].startswith("DEFECT: red#")
    assert re.search(r"fails verification: red#\d+ \(sha256:[0-9a-f]+\)", failed.stderr), failed.stderr
    assert "sig" in failed.stderr


def _watch(server: Server, *args: str) -> subprocess.Popen[str]:
    """``parley line watch`` as blue, in a process; returns once it follows the stream."""
    process = subprocess.Popen(
        [sys.executable, "-m", "parley", "line", "watch", *args, *server.connection("blue")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "240"},
        # Ctrl-C must reach it even when these tests run in a background job, whose shell ignores
        # SIGINT for everything it starts (an ignored signal stays ignored across exec)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert process.stderr is not None
    line = process.stderr.readline()
    assert line.startswith("following "), (line, process.stderr.read() if process.poll() is not None else "")
    return process


def test_watch_prints_events_and_stops_on_its_own_or_on_ctrl_c(server: Server) -> None:
    table = _watch(server, "--for", "10s")  # long enough for the vacate on a busy machine
    lines = _watch(server, "--json")
    assert lines.stdout is not None
    try:
        tid = send_vacate(server, "Watched")["id"]
        seen: set[str] = set()
        while seen < {"request", "delivered"}:
            event = json.loads(lines.stdout.readline())
            if event.get("thread") == tid:
                assert event["event"] == "entry"
                seen.add(event["entry"])
        lines.send_signal(signal.SIGINT)
        try:
            out, err = lines.communicate(timeout=20)
        except subprocess.TimeoutExpired:  # a loaded machine: Ctrl-C again (asyncio's second one interrupts)
            lines.send_signal(signal.SIGINT)
            out, err = lines.communicate(timeout=40)
        assert lines.returncode == 0, err
        out, err = table.communicate(timeout=30)
        assert table.returncode == 0, err
        row = next(line for line in out.splitlines() if tid in line)
        assert "entry" in row and "red#" in row
    finally:
        for process in (table, lines):
            if process.poll() is None:
                process.kill()
            process.communicate()  # reaped, its pipes closed


def test_a_vacate_with_a_buffer_its_impact_and_the_obligations_watched(server: Server) -> None:
    sent = send_vacate(server, "Buffered", "--buffer", "300,100m")
    assert sent["request"]["body"]["buffer"] == {"h_m": 300.0, "v_m": 100.0}
    tid = sent["id"]
    eventually(lambda: show(server, "blue", tid), "blue holds it")
    text = ok(at(server, "blue", "impact", tid[:8])).stdout
    assert "zone + 300.0 m / 100.0 m" in text and "nothing to re-plan" in text  # blue flies nothing
    found = json.loads(ok(at(server, "blue", "impact", tid, "--json")).stdout)
    assert found["aircraft"] == [] and found["zone"]["buffer_h_m"] == 300.0
    accepted = json.loads(ok(at(server, "blue", "accept", tid, "--json")).stdout)
    accept = next(e for e in accepted["entries"] if e["kind"] == "accept")
    assert accept["body"]["affected"] == []  # nothing to watch, nothing to certify
    assert json.loads(ok(at(server, "blue", "obligations", "--json")).stdout) == {"obligations": []}
    assert "Obligations watched" in ok(at(server, "blue", "obligations")).stdout
    assert "--buffer: expected horizontal,vertical metres" in refused(
        at(server, "red", "send", "vacate", "--to", "blue", "--subject", "s", "--reason", "r",
           "--deadline", "30m", "--volume", "x.geojson", "--buffer", "wide")
    )  # fmt: skip
    # Impact is for obligations only: a free text is refused with why.
    question = ok(at(server, "red", "send", "free_text", "--to", "blue", "--subject", "q", "--reason", "r",
                     "--deadline", "30m", "--text", "hello", "--json"))  # fmt: skip
    qid = json.loads(question.stdout)["id"]
    eventually(lambda: show(server, "blue", qid), "blue holds the question")
    assert "is not an obligation" in refused(at(server, "blue", "impact", qid))
