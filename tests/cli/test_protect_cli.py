"""``parley protect`` end to end: ``parley db upgrade`` and ``parley serve --config`` (the DSS with the
line's shared registry, the protection shared service and three parties: red, blue, and green, an aid
organisation; dev auth) in a subprocess, driven through the CLI's commands with typer's runner, over
real HTTP. One server for the module; each test notifies its own items in its own patch of ground.
"""

from __future__ import annotations

import doctest
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from typer.testing import CliRunner, Result

from parley.cli import protect_input, protect_render
from parley.cli.main import app
from parley.devtokens import PRIVATE_KEY_NAME, mint_token
from parley.testing.postgres import free_port

runner = CliRunner()
ENV = {"COLUMNS": "260", "PARLEY_NODE": None, "PARLEY_TOKEN": None}
T = TypeVar("T")
PARTIES = ("red", "blue", "green")


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
    data_dir = tmp_path_factory.mktemp("protect-cli")
    files = tmp_path_factory.mktemp("protect-cli-files")
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
roles = ["strategic_coordination", "constraint_management", "constraint_processing"]

[[parties]]
id = "blue"
name = "Blue drone services"

[[parties]]
id = "green"
name = "Green aid organisation"
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
                    for party in PARTIES
                )
            except httpx.TransportError:
                return False

        eventually(registered, "red, blue and green registered on the line", timeout_s=60)
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


def protect(server: Server, party: str, *args: str) -> Result:
    """``parley protect ARGS --node <party's URL> --dev-token --data-dir <server's>``."""
    return runner.invoke(app, ["protect", *args, *server.connection(party)], env=ENV)


def line(server: Server, party: str, *args: str) -> Result:
    return runner.invoke(app, ["line", *args, *server.connection(party)], env=ENV)


def point(lng: float, lat: float) -> dict[str, Any]:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lng, lat]}, "properties": {}}


def square(lng: float, lat: float, d: float = 0.005) -> dict[str, Any]:
    ring = [
        [lng - d, lat - d],
        [lng + d, lat - d],
        [lng + d, lat + d],
        [lng - d, lat + d],
        [lng - d, lat - d],
    ]
    return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}, "properties": {}}


def hospital(server: Server, tag: str, lng: float, lat: float, *extra: str) -> dict[str, Any]:
    """Green notifies a hospital (300 m around the point) exact to blue, check-only to red."""
    site = server.write(f"{tag}-site.geojson", point(lng, lat))
    result = ok(
        protect(
            server, "green", "notify", "--site", str(site), "--radius", "300", "--category", "hospital",
            "--name", f"{tag} hospital", "--until", "6h", "--exact", "blue", "--check-only", "red", "--json",
            *extra,
        )
    )  # fmt: skip
    done: dict[str, Any] = json.loads(result.stdout)
    for party in ("red", "blue"):
        eventually(lambda p=party: done["id"] in protect(server, p, "list").stdout, f"{party} holds it")
    return done


def items(server: Server, party: str) -> dict[str, dict[str, Any]]:
    collection = json.loads(ok(protect(server, party, "list", "--json")).stdout)
    assert collection["type"] == "FeatureCollection"
    return {f["id"]: f for f in collection["features"]}


def row(output: str, item_id: str) -> str:
    return next(line for line in output.splitlines() if item_id in line)


# -- without a node ---------------------------------------------------------------------------------
@pytest.mark.parametrize("module", [protect_input, protect_render])
def test_docstring_examples(module: Any) -> None:
    assert doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed == 0


def test_bad_input_is_one_line_and_nothing_is_sent(server: Server) -> None:
    site = server.write("bad-point.geojson", point(36.0, 35.0))
    crossed = square(36.0, 35.0)
    crossed["geometry"]["coordinates"][0][1:3] = crossed["geometry"]["coordinates"][0][2:0:-1]
    bowtie = server.write("bowtie.geojson", crossed)
    road = server.write("road.geojson", {"type": "LineString", "coordinates": [[36.0, 35.0], [36.1, 35.0]]})
    common = ["--name", "x", "--exact", "blue"]
    cases = [
        (
            ["--site", str(server.files / "missing.geojson"), "--radius", "9", "--category", "camp"],
            "does not exist",
        ),
        (["--site", str(site), "--category", "camp"], "needs --radius"),
        (["--site", str(site), "--radius", "9"], "needs --category"),
        (["--site", str(bowtie), "--category", "camp"], "not sent: body.volume"),
        (
            ["--site", str(road), "--radius", "9", "--category", "camp"],
            "is not a GeoJSON Feature (or a Point or Polygon",
        ),
        (["--site", str(site), "--radius", "9", "--category", "camp", "--until", "tomorrow"], "--until"),
        (
            ["--site", str(site), "--radius", "9", "--category", "camp", "--half-width", "5"],
            "--half-width applies",
        ),
        (["--movement", str(road), "--half-width", "50"], "needs a schedule"),
        (["--movement", str(road), "--half-width", "50", "--at", "+1h=0", "--at", "soon=900"], "--at"),
        (["--movement", str(road), "--half-width", "50", "--at", "+2h=0", "--at", "+1h=900"], "not sent:"),
        (["--movement", str(road), "--site", str(site)], "--site FILE"),
    ]
    for args, says in cases:
        message = refused(protect(server, "green", "notify", *args, *common))
        assert says in message, (args, message)
    assert "at least one recipient" in refused(
        protect(
            server,
            "green",
            "notify",
            "--site",
            str(site),
            "--radius",
            "9",
            "--category",
            "camp",
            "--name",
            "x",
        )
    )
    assert ok(protect(server, "green", "list", "--json")).stdout.count('"Feature"') == 0


# -- against the node -------------------------------------------------------------------------------
def test_notify_exact_and_check_only_then_list_shows_acknowledgements_including_overdue(
    server: Server,
) -> None:
    done = hospital(server, "ack", 36.2, 35.1)
    assert set(done["threads"]) == {"exact", "check_only"} and done["exact"] == ["blue"]
    site = server.write("ack-site.geojson", point(36.2, 35.1))
    shown = ok(
        protect(
            server, "green", "notify", "--site", str(site), "--radius", "200", "--category", "water",
            "--name", "ack well", "--until", "6h", "--exact", "blue", "--check-only", "red", "--deadline", "2s",
        )
    ).stdout  # fmt: skip
    overdue_id = re.search(r"protection ([0-9a-f-]{36})", shown)[1]  # type: ignore[index]
    assert "exact: geometry" in row(shown, "blue") and "check-only: existence" in row(shown, "red")

    # What each recipient holds: blue the geometry and name, red the coarse area and no name.
    blue_item = items(server, "blue")[done["id"]]
    assert blue_item["geometry"]["type"] == "Point" and blue_item["properties"]["name"] == "ack hospital"
    red_item = items(server, "red")[done["id"]]
    assert red_item["geometry"]["type"] == "MultiPolygon" and "name" not in red_item["properties"]
    assert "(not disclosed)" in row(ok(protect(server, "red", "list")).stdout, done["id"])

    # Blue acknowledges the first; nobody the second, whose deadline passes.
    ok(line(server, "blue", "accept", done["threads"]["exact"]))
    eventually(
        lambda: (
            items(server, "green")[done["id"]]["properties"]["acknowledgements"]
            == {"blue": "accepted", "red": "waiting"}
        ),
        "green sees blue's acknowledgement",
    )
    time.sleep(2.5)
    listing = ok(protect(server, "green", "list")).stdout
    assert re.search(r"blue accepted, red waiting", row(listing, done["id"])), listing
    assert "blue OVERDUE, red OVERDUE" in row(listing, overdue_id), listing
    assert "this party" in row(listing, done["id"]) and "green" in row(
        ok(protect(server, "blue", "list")).stdout, done["id"]
    )
    # The notice's thread shows the item and where each recipient stands.
    thread = ok(line(server, "green", "show", done["threads"]["check_only"])).stdout
    assert f"site {done['id']} (hospital), check-only" in thread and "red waiting" in thread


def test_check_a_volume_or_an_operation_with_and_without_a_conflict(server: Server) -> None:
    # Blue plans an operation over the ground before anything is protected there.
    area = server.write("chk-op.geojson", {"type": "FeatureCollection", "features": [square(36.5, 35.3)]})
    planned = ok(
        runner.invoke(
            app,
            ["ops", "plan", str(area), "--lower", "0", "--upper", "120", "--duration", "2h", "--json",
             *server.connection("blue")],
            env=ENV,
        )
    )  # fmt: skip
    op_id = json.loads(planned.stdout)["operation"]["id"]
    assert "no conflict" in ok(protect(server, "blue", "check", "--operation", op_id)).stdout
    done = hospital(server, "chk", 36.5, 35.3)

    over = server.write("chk-over.geojson", square(36.503, 35.3, 0.001))
    out = ok(
        protect(server, "blue", "check", "--volume", str(over), "--alt", "0-120m", "--until", "1h")
    ).stdout
    assert "1 conflict(s) with 1 protected site(s)" in out and "hospital" in row(out, done["id"])
    assert re.search(r"\d+ m +300 m", row(out, done["id"])), out  # the least distance, then the keep-away
    # Red (check-only): the distance to keep, not how close.
    out = ok(protect(server, "red", "check", "--volume", str(over), "--alt", "0-120m")).stdout
    assert "not disclosed" in row(out, done["id"]) and "check_only" in row(out, done["id"])
    # The operation planned before: it conflicts now.
    found = json.loads(ok(protect(server, "blue", "check", "--operation", op_id, "--json")).stdout)
    assert [c["protected"] for c in found["conflicts"]] == [done["id"]] and found["unchecked"] == []
    # Elsewhere, or later: no conflict, exit 0 too.
    away = server.write("chk-away.geojson", square(36.6, 35.3, 0.001))
    assert (
        "no conflict" in ok(protect(server, "blue", "check", "--volume", str(away), "--alt", "0-120m")).stdout
    )
    later = ok(protect(server, "blue", "check", "--volume", str(over), "--alt", "0-120m", "--from", "+7h"))
    assert "no conflict" in later.stdout
    assert (
        json.loads(
            ok(protect(server, "red", "check", "--volume", str(away), "--alt", "0-120m", "--json")).stdout
        )["conflicts"]
        == []
    )
    # Refusals.
    assert "give what to check" in refused(protect(server, "blue", "check"))
    assert "not both" in refused(
        protect(server, "blue", "check", "--operation", op_id, "--volume", str(over))
    )
    assert "gives no altitudes" in refused(protect(server, "blue", "check", "--volume", str(over)))
    assert "no operation" in refused(protect(server, "red", "check", "--operation", op_id))


def test_amend_cancel_and_the_disclosure_log(server: Server) -> None:
    done = hospital(server, "life", 36.8, 35.5)
    pid = done["id"]
    ok(
        protect(
            server,
            "red",
            "check",
            "--volume",
            str(server.write("life.geojson", square(36.8, 35.5, 0.001))),
            "--alt",
            "0-99m",
        )
    )
    # A new version: a larger radius; blue only now.
    site = server.write("life-site.geojson", point(36.8, 35.5))
    amended = ok(
        protect(
            server, "green", "amend", pid[:8], "--site", str(site), "--radius", "900", "--category", "hospital",
            "--name", "life hospital (new wing)", "--until", "6h", "--exact", "blue",
        )
    ).stdout  # fmt: skip
    assert f"amended hospital 'life hospital (new wing)': protection {pid}" in amended
    eventually(
        lambda: items(server, "blue")[pid]["properties"].get("name") == "life hospital (new wing)",
        "blue holds the new version",
    )
    assert items(server, "blue")[pid]["properties"]["keep_away_m"] == 900.0

    # Who learned what: green's log, not red's.
    log = ok(protect(server, "green", "disclosures", pid)).stdout
    assert "given the exact geometry" in row(log, " blue ") and "told it exists" in log
    assert "checked a plan against it" in log and "1 volume(s) checked" in log
    entries = json.loads(ok(protect(server, "green", "disclosures", pid, "--json")).stdout)["disclosures"]
    assert [(d["party"], d["kind"]) for d in entries].count(("green", "registered")) == 2
    assert "not allowed (403)" in refused(protect(server, "red", "disclosures", pid))

    # Cancelled: everyone told; held as cancelled; no longer checked.
    cancelled = ok(protect(server, "green", "cancel", pid, "--reason", "the hospital moved")).stdout
    assert f"cancelled {pid}: told blue, red" in cancelled
    eventually(
        lambda: items(server, "blue")[pid]["properties"]["held"] == "cancelled", "blue holds the cancellation"
    )
    over = server.write("life-over.geojson", square(36.8, 35.5, 0.001))
    assert (
        "no conflict" in ok(protect(server, "blue", "check", "--volume", str(over), "--alt", "0-99m")).stdout
    )
    assert "cancelled" in row(ok(protect(server, "green", "list")).stdout, pid)
    assert "disclosures" not in refused(protect(server, "green", "cancel", pid, "--reason", "again"))


def test_a_movement_notified_with_a_schedule_and_unknown_items_refused(server: Server) -> None:
    road = server.write(
        "convoy.geojson",
        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[37.0, 35.7], [37.1, 35.7]]},
         "properties": {"half_width_m": 250}},
    )  # fmt: skip
    done = json.loads(
        ok(
            protect(
                server, "green", "notify", "--movement", str(road), "--at", "+1h=0", "--at", "+2h=9km",
                "--vehicles", "12", "--markings", "white trucks", "--time-margin", "5m", "--name", "food convoy",
                "--exact", "blue", "--json",
            )
        ).stdout
    )  # fmt: skip
    assert done["threads"].keys() == {"exact"}
    held = eventually(lambda: items(server, "blue").get(done["id"]), "blue holds the convoy")
    assert held["geometry"]["type"] == "LineString"
    assert (
        held["properties"]["protected"]["vehicles"] == 12
        and held["properties"]["protected"]["time_margin_s"] == 300
    )
    on_road = server.write("convoy-over.geojson", square(37.02, 35.7, 0.001))
    out = ok(
        protect(
            server,
            "blue",
            "check",
            "--volume",
            str(on_road),
            "--alt",
            "0-99m",
            "--from",
            "+1h",
            "--until",
            "1h",
        )
    )
    assert "movement" in row(out.stdout, done["id"])

    unknown = "0b7e3f4a-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
    assert "no protected item" in refused(protect(server, "green", "cancel", unknown, "--reason", "x"))
    assert "no protected item whose id starts with 'ffff'" in refused(
        protect(server, "green", "disclosures", "ffff")
    )
    assert "is not a protection id" in refused(protect(server, "green", "disclosures", "x!"))
    site = server.write("unknown-site.geojson", point(37.0, 35.7))
    amend = protect(
        server, "green", "amend", unknown, "--site", str(site), "--radius", "9", "--category", "camp",
        "--name", "x", "--exact", "blue",
    )  # fmt: skip
    assert "notified no protected item" in refused(amend)
    assert "notified no protected item" in refused(
        protect(server, "blue", "cancel", done["id"], "--reason", "not mine")
    )
