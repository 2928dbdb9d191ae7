"""``parley ops`` end to end: ``parley db upgrade`` and ``parley serve --config`` (the DSS and two
parties, red with every role and blue with the default ones, dev auth) in a subprocess, driven
through the CLI's commands with typer's runner, over real HTTP. One server for the module; each test
plans in its own patch of sky so that the tests do not depend on one another.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from parley.cli.main import app
from parley.cli.ops_client import Failure
from parley.cli.ops_input import load_samples, parse_duration, parse_when
from parley.devtokens import mint_token
from parley.testing.postgres import free_port

runner = CliRunner()
ENV = {"COLUMNS": "240", "PARLEY_NODE": None, "PARLEY_TOKEN": None}


@dataclass(frozen=True)
class Server:
    base: str
    data_dir: Path
    files: Path

    def node(self, party: str) -> str:
        return f"{self.base}/parties/{party}"

    def ops(self, party: str, *args: str, dev: bool = True) -> Result:
        """``parley ops ARGS --node <party's URL> --dev-token --data-dir <server's>``."""
        connection = ["--node", self.node(party)]
        if dev:
            connection += ["--dev-token", "--data-dir", str(self.data_dir)]
        return runner.invoke(app, ["ops", *args, *connection], env=ENV)

    def write(self, name: str, content: Any) -> Path:
        path = self.files / name
        path.write_text(content if isinstance(content, str) else json.dumps(content))
        return path


def _parley(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "parley", *args], capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("ops-cli")
    files = tmp_path_factory.mktemp("ops-cli-files")
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
roles = ["strategic_coordination", "constraint_management", "constraint_processing",
         "conformance_monitoring_sa"]

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
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (data_dir / "serve.log").read_text()
            try:
                if httpx.get(f"{base}/aux/v1/version", timeout=2).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "parley serve did not come up in 60 s"
            time.sleep(0.2)
        yield Server(base, data_dir, files)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


# -- volumes --------------------------------------------------------------------------------------
def square(lng: float, lat: float, d: float = 0.01, **props: Any) -> dict[str, Any]:
    ring = [
        [lng - d, lat - d],
        [lng + d, lat - d],
        [lng + d, lat + d],
        [lng - d, lat + d],
        [lng - d, lat - d],
    ]
    return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}, "properties": props}


def circle(lng: float, lat: float, radius_m: float, **props: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lng, lat]},
        "properties": {"radius_m": radius_m, **props},
    }


def collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return result


def planned_id(result: Result) -> str:
    op_id: str = json.loads(ok(result).stdout)["operation"]["id"]
    return op_id


def plan(server: Server, party: str, name: str, feature: dict[str, Any], *args: str) -> str:
    path = server.write(f"{name}.geojson", collection(feature))
    return planned_id(server.ops(party, "plan", str(path), "--name", name, "--lower", "0", "--upper", "120",
                                 "--json", *args))  # fmt: skip


def now_iso(offset_s: float = 0.0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=offset_s)).isoformat().replace("+00:00", "Z")


# -- the node ---------------------------------------------------------------------------------------
def test_status_names_the_party_and_its_roles(server: Server) -> None:
    body = json.loads(ok(server.ops("red", "status", "--json")).stdout)
    assert body["party"] == "red"
    assert "constraint_management" in body["roles"]
    text = ok(server.ops("blue", "status")).stdout
    assert "party: blue" in text and "constraint_management" not in text


# -- planning -------------------------------------------------------------------------------------
def test_a_conflicting_lower_priority_plan_exits_2_and_shows_the_conflict(server: Server) -> None:
    red = plan(server, "red", "survey", square(8.0, 47.0), "--priority", "10")
    blocked = server.write("blocked.geojson", collection(circle(8.005, 47.005, 300)))
    refused = server.ops("blue", "plan", str(blocked), "--priority", "0", "--lower", "50", "--upper", "80")
    assert refused.exit_code == 2
    text = " ".join(refused.stdout.split())  # a block per conflict: who, whether it blocks, where, why
    assert f"✗ blocks red's operation {red}, priority 10 (higher_priority)" in text
    assert "where: 50–80 m" in text and "why:" in text
    assert refused.stderr.startswith("error: not planned")
    assert len(refused.stderr.strip().splitlines()) == 1

    as_json = server.ops("blue", "plan", str(blocked), "--lower", "50", "--upper", "80", "--json")
    assert as_json.exit_code == 2
    conflict = json.loads(as_json.stdout)["check"]["conflicts"][0]
    assert (conflict["other_id"], conflict["other_manager"], conflict["blocking"]) == (red, "red", True)

    clear = server.write("clear.geojson", collection(circle(8.2, 47.2, 300)))
    accepted = ok(server.ops("blue", "plan", str(clear), "--lower", "0", "--upper", "120"))
    assert accepted.stdout.startswith("planned ") and "Accepted, version 1" in accepted.stdout


def test_list_show_and_geojson_output_parse(server: Server) -> None:
    op_id = plan(server, "red", "inspection", square(9.0, 47.0), "--priority", "7", "--start", "+10m",
                 "--duration", "45m")  # fmt: skip
    listed = json.loads(ok(server.ops("red", "list", "--json")).stdout)["operations"]
    mine = next(o for o in listed if o["id"] == op_id)
    assert (mine["name"], mine["priority"], mine["state"]) == ("inspection", 7, "Accepted")
    table = ok(server.ops("red", "list")).stdout
    row = next(line for line in table.splitlines() if op_id in line)
    assert "inspection" in row and "Accepted" in row and "0–120 m" in row

    features = json.loads(ok(server.ops("red", "show", op_id, "--geojson")).stdout)
    assert features["type"] == "FeatureCollection" and len(features["features"]) == 1
    props = features["features"][0]["properties"]
    assert (props["altitude_lower_m"], props["altitude_upper_m"]) == (0, 120)
    start = datetime.fromisoformat(props["time_start"])
    end = datetime.fromisoformat(props["time_end"])
    assert end - start == timedelta(minutes=45)
    assert timedelta(minutes=9) < start - datetime.now(UTC) <= timedelta(minutes=10)
    assert json.loads(ok(server.ops("red", "show", op_id, "--json")).stdout)["operation"]["id"] == op_id
    shown = ok(server.ops("red", "show", op_id)).stdout
    assert "polygon of 4 vertices" in shown and "inspection" in shown


def test_activate_then_end(server: Server) -> None:
    op_id = plan(server, "red", "flight", square(10.0, 47.0))
    activated = ok(server.ops("red", "activate", op_id))
    assert f"activated {op_id}: Activated" in activated.stdout
    ended = ok(server.ops("red", "end", op_id))
    assert f"ended {op_id}: Ended" in ended.stdout
    current = [o["id"] for o in json.loads(ok(server.ops("red", "list", "--json")).stdout)["operations"]]
    everything = json.loads(ok(server.ops("red", "list", "--all", "--json")).stdout)["operations"]
    assert op_id not in current
    assert any(o["id"] == op_id and o["state"] == "Ended" for o in everything)


def test_modify_keeps_what_is_not_given(server: Server) -> None:
    op_id = plan(server, "blue", "patrol", circle(11.0, 47.0, 500), "--priority", "5", "--activate")
    body = json.loads(ok(server.ops("blue", "modify", op_id, "--priority", "20", "--json")).stdout)
    assert (body["operation"]["priority"], body["operation"]["state"]) == (20, "Activated")
    assert body["operation"]["version"] == 3  # planned, activated, modified
    bigger = server.write("bigger.geojson", collection(circle(11.0, 47.0, 900)))
    moved = json.loads(
        ok(
            server.ops("blue", "modify", op_id, str(bigger), "--lower", "10", "--upper", "90", "--json")
        ).stdout
    )["operation"]
    assert moved["priority"] == 20 and moved["name"] == "patrol"
    assert moved["volumes"]["features"][0]["properties"]["radius_m"] == 900
    assert moved["volumes"]["features"][0]["properties"]["altitude_upper_m"] == 90


def test_reserve_blocks_others_and_withdraw(server: Server) -> None:
    area = server.write("reserved.geojson", collection(square(12.0, 47.0)))
    reserved = ok(server.ops("red", "reserve", str(area), "--name", "fire", "--lower", "0", "--upper", "500",
                             "--json"))  # fmt: skip
    reservation = json.loads(reserved.stdout)["reservation"]
    assert reservation["kind"] == "constraint" and reservation["state"] == "Published"

    inside = server.write("inside.geojson", collection(circle(12.0, 47.0, 200)))
    refused = server.ops("blue", "plan", str(inside), "--lower", "0", "--upper", "100", "--priority", "100")
    assert refused.exit_code == 2, refused.stdout
    assert reservation["id"] in refused.stdout and "constraint" in refused.stdout
    others = ok(server.ops("blue", "others")).stdout
    assert reservation["id"] in others and "reservation" in others

    withdrawn = ok(server.ops("red", "withdraw", reservation["id"]))
    assert f"withdrew {reservation['id']}: Ended" in withdrawn.stdout
    ok(server.ops("blue", "plan", str(inside), "--lower", "0", "--upper", "100"))


def test_a_party_without_the_role_cannot_reserve(server: Server) -> None:
    area = server.write("blue-reserve.geojson", collection(square(13.0, 47.0)))
    refused = server.ops("blue", "reserve", str(area), "--lower", "0", "--upper", "100")
    assert refused.exit_code == 2
    assert "constraint management role" in refused.stderr and "(403)" in refused.stderr


def test_telemetry_checks_conformance_and_notifies(server: Server) -> None:
    op_id = plan(server, "red", "tracked", square(14.0, 47.0), "--activate")
    inside = server.write(
        "inside.csv", f"time,lat,lng,alt_m,speed_mps,track_deg\n{now_iso()},47.0,14.0,60,12,90\n"
    )
    conforming = ok(server.ops("red", "telemetry", op_id, str(inside)))
    assert (
        "sent 1 sample(s)" in conforming.stdout and ": conforming; operation Activated" in conforming.stdout
    )

    since = now_iso(-1)
    outside = server.write("outside.jsonl", "\n".join([
        json.dumps({"time": now_iso(-0.5), "lat": 47.0, "lng": 14.0, "alt_m": 60}),
        json.dumps({"time": now_iso(), "lat": 47.5, "lng": 14.5, "alt_m": 60, "speed_mps": 15}),
    ]))  # fmt: skip
    body = json.loads(ok(server.ops("red", "telemetry", op_id, str(outside), "--json")).stdout)
    assert (body["accepted"], body["verdict"], body["state"]) == (2, "nonconforming", "Nonconforming")

    told = json.loads(ok(server.ops("red", "notifications", "--after", since, "--json")).stdout)
    assert any(n["kind"] == "nonconforming" and n["operation_id"] == op_id for n in told["notifications"])
    table = ok(server.ops("red", "notifications", "--after", "-5m")).stdout
    assert "nonconforming" in table and op_id in table


# -- refusals and failures --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not JSON"),
        ('{"type": "LineString", "coordinates": [[0, 0], [1, 1]]}', "is not GeoJSON volumes"),
        ('{"type": "FeatureCollection", "features": []}', "holds no features"),
        (
            json.dumps(collection({"type": "Feature", "geometry": {"type": "LineString"}})),
            "LineString geometry",
        ),
    ],
)
def test_a_bad_volume_file_is_refused_before_any_call(server: Server, content: str, message: str) -> None:
    result = server.ops("red", "plan", str(server.write("bad.geojson", content)))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert "Traceback" not in result.output


def test_what_the_node_refuses_is_one_line_and_exit_2(server: Server) -> None:
    no_altitudes = server.write("no-altitudes.geojson", collection(square(15.0, 47.0)))
    refused = server.ops("red", "plan", str(no_altitudes))
    assert refused.exit_code == 2
    assert (
        "altitude_lower_m and altitude_upper_m are required" in refused.stderr and "(400)" in refused.stderr
    )

    missing = server.ops("red", "plan", str(server.files / "absent.geojson"))
    assert missing.exit_code == 2 and "does not exist" in missing.stderr

    unknown = server.ops("red", "show", "0b4f2a0e-8d1c-4e5f-9a6b-7c8d9e0f1a2b")
    assert unknown.exit_code == 2 and "no operation" in unknown.stderr and "(404)" in unknown.stderr

    bad_times = server.ops("red", "plan", str(no_altitudes), "--start", "tomorrow")
    assert bad_times.exit_code == 2 and "--start 'tomorrow' is not a time" in bad_times.stderr


def test_tokens_the_node_refuses(server: Server) -> None:
    not_an_operator = server.ops("red", "list", "--as", "blue")
    assert not_an_operator.exit_code == 2 and "(403)" in not_an_operator.stderr

    garbage = runner.invoke(app, ["ops", "list", "--node", server.node("red"), "--token", "x.y.z"], env=ENV)
    assert garbage.exit_code == 2 and "refused the token (401)" in garbage.stderr

    none = runner.invoke(app, ["ops", "list", "--node", server.node("red")], env=ENV)
    assert none.exit_code == 2 and "no access token" in none.stderr

    keyless = runner.invoke(
        app,
        ["ops", "list", "--node", server.node("red"), "--dev-token", "--data-dir", str(server.files)],
        env=ENV,
    )
    assert keyless.exit_code == 2 and "no development key" in keyless.stderr


def test_environment_gives_the_node_and_token(server: Server) -> None:
    private_pem = (server.data_dir / "dev-keys" / "private.pem").read_bytes()
    token = mint_token(private_pem, sub="blue", scopes=["parley.operations"], audience="127.0.0.1")
    result = runner.invoke(
        app,
        ["ops", "status", "--json"],
        env={**ENV, "PARLEY_NODE": server.node("blue"), "PARLEY_TOKEN": token},
    )
    assert json.loads(ok(result).stdout)["party"] == "blue"


def test_a_node_url_that_is_not_a_party_node(server: Server) -> None:
    result = runner.invoke(
        app,
        ["ops", "list", "--node", server.node("nobody"), "--dev-token", "--as", "red",
         "--data-dir", str(server.data_dir)],
        env=ENV,
    )  # fmt: skip
    assert result.exit_code == 2 and "is --node a party node URL" in result.stderr


def test_an_unreachable_node_exits_1_without_a_traceback(server: Server) -> None:
    node = f"http://127.0.0.1:{free_port()}/parties/red"
    result = runner.invoke(
        app, ["ops", "list", "--node", node, "--dev-token", "--data-dir", str(server.data_dir)], env=ENV
    )
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: cannot reach the node at {node}")
    process = _parley("ops", "others", "--node", node, "--token", "x")
    assert process.returncode == 1 and "cannot reach the node" in process.stderr
    assert "Traceback" not in process.stderr and len(process.stderr.strip().splitlines()) == 1


# -- input parsing (no server) ----------------------------------------------------------------------
def test_times_and_durations() -> None:
    t0 = datetime(2030, 1, 1, tzinfo=UTC)
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_when("+10m", t0) == t0 + timedelta(minutes=10)
    assert parse_when("-1h", t0) == t0 - timedelta(hours=1)
    assert parse_when("2030-01-01T02:00:00+02:00", t0) == t0
    for bad in ("10", "1x", "0m", ""):
        with pytest.raises(Failure):
            parse_duration(bad)
    with pytest.raises(Failure, match="not a time"):
        parse_when("2030-01-01T00:00:00", t0)  # no offset


def test_telemetry_files_with_and_without_a_header(tmp_path: Path) -> None:
    bare = tmp_path / "bare.csv"
    bare.write_text("2030-01-01T00:00:00Z,47.0,8.0,100\n2030-01-01T00:00:01Z,47.0,8.0,101,5,270\n")
    samples = load_samples(bare)
    assert samples[1] == {"time": "2030-01-01T00:00:00Z".replace(":00Z", ":01Z"), "lat": 47.0, "lng": 8.0,
                          "alt_m": 101.0, "speed_mps": 5.0, "track_deg": 270.0}  # fmt: skip
    headed = tmp_path / "headed.csv"
    headed.write_text("lat,lng,alt_m,time\n47,8,100,2030-01-01T00:00:00+00:00\n")
    assert load_samples(headed) == [{"lat": 47.0, "lng": 8.0, "alt_m": 100.0, "time": "2030-01-01T00:00:00Z"}]
    broken = tmp_path / "broken.csv"
    broken.write_text("2030-01-01T00:00:00Z,47.0,north,100\n")
    with pytest.raises(Failure, match="line 1: lng 'north' is not a number"):
        load_samples(broken)
    lines = tmp_path / "samples.jsonl"
    lines.write_text('{"time": "2030-01-01T00:00:00Z", "lat": 47, "lng": 8}\n')
    with pytest.raises(Failure, match="line 1: missing alt_m"):
        load_samples(lines)
