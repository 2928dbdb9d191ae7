"""Party nodes as users run them, over real HTTP: two `parley serve` processes from settings files.

- server A: the DSS, party **red** (all roles) and party **green**, two worker processes, on SQLite
  or PostgreSQL;
- server B: party **blue** alone, on its own SQLite database, using server A's DSS (a party node
  pointing at an external DSS).

Each party signs its outbound tokens with its own RSA key (``token_source.kind = "private_key"``);
both servers trust the three parties' public keys and the operators'. The story: plans with
priorities, a conflict refused and reported, a reservation, notifications delivered and visible,
planners racing in the same airspace (409 from the DSS, then a correct retry), an aircraft straying
out of its volume going Nonconforming then Contingent with peers told, and operations ended.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from parley.devtokens import mint_token
from parley.testing.postgres import PostgresServer, free_port
from tests.party.conftest import circle, operation_body, square

pytestmark = pytest.mark.slow

HOST = "localhost"
PARTIES = ("red", "green", "blue")


def parley(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "parley", *args], capture_output=True, text=True, timeout=120
    )


def _key(directory: Path, name: str) -> tuple[bytes, Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    private_path, public_path = directory / f"{name}.key.pem", directory / f"{name}.pub.pem"
    private_path.write_bytes(private)
    private_path.chmod(0o600)
    public_path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, private_path, public_path


def _toml_list(paths: list[Path]) -> str:
    return "[" + ", ".join(f'"{p}"' for p in paths) + "]"


@dataclass
class Deployment:
    dss: str
    urls: dict[str, str]
    operator_key: bytes
    party_keys: dict[str, bytes]
    clients: list[httpx.Client] = field(default_factory=list)

    def ops(self, party: str) -> httpx.Client:
        """A client of ``party``'s operations API as its operator (closed with the deployment)."""
        token = mint_token(self.operator_key, sub=party, scopes=["parley.operations"], audience=HOST)
        client = httpx.Client(
            base_url=f"{self.urls[party]}/ops/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        self.clients.append(client)
        return client

    def as_uss(self, party: str, *scopes: str) -> dict[str, str]:
        token = mint_token(self.party_keys[party], sub=party, scopes=list(scopes), audience=HOST)
        return {"Authorization": f"Bearer {token}"}


def _start(config: Path, log_path: Path, probe: str) -> subprocess.Popen[bytes]:
    with log_path.open("w") as log:  # the child keeps its own descriptor
        process = subprocess.Popen(
            [sys.executable, "-m", "parley", "serve", "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, log_path.read_text()
        try:
            if httpx.get(probe, timeout=2).status_code < 500:
                return process
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"parley serve did not come up: {log_path.read_text()}"
        time.sleep(0.2)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp(f"parties-{request.param}")
    keys = {name: _key(root, name) for name in (*PARTIES, "operators")}
    trusted = _toml_list([k[2] for k in keys.values()])
    port_a, port_b = free_port(), free_port()
    if request.param == "sqlite":
        url_a = f"sqlite:///{root / 'a' / 'parley.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        url_a = server.create_database("parley_e2e_parties")
    url_b = f"sqlite:///{root / 'b' / 'parley.db'}"
    for url in (url_a, url_b):
        done = parley("db", "upgrade", "--database-url", url)
        assert done.returncode == 0, done.stderr

    def party(name: str, roles: list[str], **extra: object) -> str:
        lines = [
            "[[parties]]",
            f'id = "{name}"',
            f"roles = {roles!r}".replace("'", '"'),
            "planning_attempts = 30",
            "nonconforming_recovery_s = 3",
            *(f"{k} = {v!r}".replace("'", '"') for k, v in extra.items()),
            "[parties.token_source]",
            'kind = "private_key"',
            f'private_key_file = "{keys[name][1]}"',
        ]
        return "\n".join(lines) + "\n"

    all_roles = [
        "strategic_coordination",
        "constraint_management",
        "constraint_processing",
        "conformance_monitoring_sa",
    ]
    config_a = root / "a.toml"
    config_a.write_text(
        f'database_url = "{url_a}"\ndata_dir = "{root / "a"}"\nport = {port_a}\nworkers = 2\n'
        f'public_url = "http://{HOST}:{port_a}"\npublic_key_files = {trusted}\n\n'
        + party("red", all_roles)
        + party("green", all_roles)
    )
    config_b = root / "b.toml"
    config_b.write_text(
        f'database_url = "{url_b}"\ndata_dir = "{root / "b"}"\nport = {port_b}\nworkers = 1\nserve_dss = false\n'
        f'public_url = "http://{HOST}:{port_b}"\npublic_key_files = {trusted}\n\n'
        + party("blue", ["strategic_coordination", "constraint_processing", "conformance_monitoring_sa"],
                dss_url=f"http://{HOST}:{port_a}")
    )  # fmt: skip
    a = _start(config_a, root / "a.log", f"http://{HOST}:{port_a}/aux/v1/version")
    try:
        b = _start(config_b, root / "b.log", f"http://{HOST}:{port_b}/parties")
        try:
            deployed = Deployment(
                dss=f"http://{HOST}:{port_a}",
                urls={
                    "red": f"http://{HOST}:{port_a}/parties/red",
                    "green": f"http://{HOST}:{port_a}/parties/green",
                    "blue": f"http://{HOST}:{port_b}/parties/blue",
                },
                operator_key=keys["operators"][0],
                party_keys={name: keys[name][0] for name in PARTIES},
            )
            yield deployed
            for client in deployed.clients:
                client.close()
        finally:
            _stop(b)
    finally:
        _stop(a)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def _eventually(probe: Any, what: str, timeout_s: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        assert time.monotonic() < deadline, f"not seen within {timeout_s} s: {what}"
        time.sleep(0.2)


def _notifications(client: httpx.Client, kind: str, about: str | None = None) -> list[dict[str, Any]]:
    items = client.get("/notifications").json()["notifications"]
    return [n for n in items if n["kind"] == kind and (about is None or about in n["message"])]


def test_priorities_conflicts_and_notifications(deployment: Deployment) -> None:
    red, green, blue = deployment.ops("red"), deployment.ops("green"), deployment.ops("blue")
    # Red plans a survey at priority 10.
    survey = red.post(
        "/operations", json=operation_body(square(8.50, 47.30, 0.02), priority=10, name="survey")
    )
    assert survey.status_code == 201, survey.text
    survey_id = survey.json()["operation"]["id"]

    # Blue (on the other server, using A's DSS) may not plan over it at priority 0: nothing written.
    refused = blue.post(
        "/operations", json=operation_body(circle(8.51, 47.31, 400), priority=0, name="delivery")
    )
    assert refused.status_code == 409, refused.text
    conflict = refused.json()["check"]["conflicts"][0]
    assert (conflict["other_id"], conflict["other_manager"], conflict["blocking"], conflict["reason"]) == (
        survey_id, "red", True, "higher_priority",
    )  # fmt: skip
    overlap = conflict["overlaps"][0]
    assert overlap["footprint"]["type"] == "Polygon"
    assert (overlap["altitude_lower_m"], overlap["altitude_upper_m"]) == (0.0, 120.0)
    assert blue.get("/operations").json()["operations"] == []

    # Blue plans clear of it; green then plans over blue's at a higher priority: allowed, reported,
    # and blue (subscribed through its operation) is told.
    delivery = blue.post(
        "/operations", json=operation_body(circle(8.60, 47.30, 400), priority=0, name="delivery")
    )
    assert delivery.status_code == 201, delivery.text
    delivery_id = delivery.json()["operation"]["id"]
    medevac = green.post(
        "/operations", json=operation_body(circle(8.601, 47.301, 300), priority=20, name="medevac")
    )
    assert medevac.status_code == 201, medevac.text
    medevac_id = medevac.json()["operation"]["id"]
    reported = medevac.json()["check"]["conflicts"]
    assert [(c["other_id"], c["blocking"], c["reason"]) for c in reported] == [
        (delivery_id, False, "lower_priority")
    ]
    told = _eventually(lambda: _notifications(blue, "conflict", medevac_id), "blue told of green's medevac")
    assert told[0]["operation_id"] == delivery_id
    others = {o["id"]: o for o in blue.get("/others").json()["others"]}
    assert others[medevac_id]["manager"] == "green" and others[medevac_id]["priority"] == 20

    # The same priority is blocked by default: red at 20 against green's medevac at 20 (and
    # reported, not blocked, against blue's delivery at 0).
    same = red.post("/operations", json=operation_body(circle(8.6015, 47.3015, 100), priority=20))
    assert same.status_code == 409, same.text
    verdicts = {c["other_id"]: (c["blocking"], c["reason"]) for c in same.json()["check"]["conflicts"]}
    assert verdicts == {medevac_id: (True, "same_priority"), delivery_id: (False, "lower_priority")}


def test_a_reservation_blocks_planners_and_its_details_are_served(deployment: Deployment) -> None:
    red, blue = deployment.ops("red"), deployment.ops("blue")
    body = operation_body(square(8.70, 47.40, 0.02), name="range closure")
    reservation = red.post("/reservations", json={k: v for k, v in body.items() if k != "priority"})
    assert reservation.status_code == 201, reservation.text
    reservation_id = reservation.json()["reservation"]["id"]

    blocked = blue.post("/operations", json=operation_body(circle(8.71, 47.41, 300), priority=100))
    assert blocked.status_code == 409, blocked.text
    conflict = blocked.json()["check"]["conflicts"][0]
    assert (conflict["other_id"], conflict["other_kind"], conflict["reason"]) == (
        reservation_id,
        "constraint",
        "constraint",
    )

    details = httpx.get(
        f"{deployment.urls['red']}/uss/v1/constraints/{reservation_id}",
        headers=deployment.as_uss("blue", "utm.constraint_processing"),
    )
    assert details.status_code == 200
    assert details.json()["constraint"]["reference"]["id"] == reservation_id

    withdrawn = red.delete(f"/reservations/{reservation_id}")
    assert withdrawn.status_code == 200 and withdrawn.json()["reservation"]["state"] == "Ended"
    assert blue.post("/operations", json=operation_body(circle(8.71, 47.41, 300))).status_code == 201


def test_racing_planners_retry_with_the_new_key(deployment: Deployment) -> None:
    """Small squares side by side in one S2 cell: they never conflict exactly, but the DSS demands
    each other's OVNs, so planners racing there get 409s from the DSS and must survey again."""
    clients = {p: deployment.ops(p) for p in PARTIES}
    jobs = [(p, 8.80 + 0.0012 * i, 47.50 + 0.0012 * j) for i in range(4) for j, p in enumerate(PARTIES)]
    retried = 0
    accepted: list[str] = []
    for round_ in range(3):

        def attempt(
            job: tuple[str, float, float], shift: float = 0.006 * round_, tag: int = round_
        ) -> httpx.Response:
            party, lng, lat = job
            body = operation_body(square(lng + shift, lat, 0.001), name=f"race-{tag}")
            return clients[party].post("/operations", json=body)

        with ThreadPoolExecutor(len(jobs)) as pool:
            responses = list(pool.map(attempt, jobs))
        for r in responses:
            assert r.status_code == 201, r.text
            retried += r.json()["attempts"] > 1
            accepted.append(r.json()["operation"]["id"])
        if retried:
            break
    assert retried, "no planner had to retry: the race did not happen"
    # Every accepted plan is in the DSS, with the OVN its party holds.
    for party, client in clients.items():
        for op in client.get("/operations").json()["operations"]:
            if op["id"] in accepted:
                ref = httpx.get(
                    f"{deployment.dss}/dss/v1/operational_intent_references/{op['id']}",
                    headers=deployment.as_uss(party, "utm.strategic_coordination"),
                ).json()["operational_intent_reference"]
                assert ref["ovn"] == op["ovn"] and ref["manager"] == party


def test_modifications_raced_by_other_parties_retry_with_the_new_key(deployment: Deployment) -> None:
    """Operations side by side in one S2 cell, modified by their three parties at once: each
    modification needs the others' current OVNs, so the DSS refuses some (409) and their nodes survey
    again and write with the new key."""
    clients = {p: deployment.ops(p) for p in PARTIES}
    spots = [(p, 8.90 + 0.0012 * i, 47.50 + 0.0012 * j) for i in range(4) for j, p in enumerate(PARTIES)]
    ops: list[tuple[str, str, float, float]] = []
    for party, lng, lat in spots:
        planned = clients[party].post("/operations", json=operation_body(square(lng, lat, 0.0009)))
        assert planned.status_code == 201, planned.text
        ops.append((party, planned.json()["operation"]["id"], lng, lat))
    retried = 0
    for round_ in range(4):

        def modify(
            op: tuple[str, str, float, float], size: float = 0.00095 + 0.00001 * round_
        ) -> httpx.Response:
            party, op_id, lng, lat = op
            return clients[party].put(f"/operations/{op_id}", json=operation_body(square(lng, lat, size)))

        with ThreadPoolExecutor(len(ops)) as pool:
            responses = list(pool.map(modify, ops))
        for r in responses:
            assert r.status_code == 200, r.text
            retried += r.json()["attempts"] > 1
        if retried:
            break
    assert retried, "no modification had to retry: the race did not happen"
    for party, op_id, _, _ in ops:
        mine = clients[party].get(f"/operations/{op_id}").json()["operation"]
        ref = httpx.get(
            f"{deployment.dss}/dss/v1/operational_intent_references/{op_id}",
            headers=deployment.as_uss(party, "utm.strategic_coordination"),
        ).json()["operational_intent_reference"]
        assert (ref["ovn"], ref["version"]) == (mine["ovn"], mine["version"]) and ref["version"] >= 2


def test_a_stray_aircraft_goes_nonconforming_then_contingent_and_peers_are_told(
    deployment: Deployment,
) -> None:
    red, blue = deployment.ops("red"), deployment.ops("blue")
    flight = red.post(
        "/operations",
        json=operation_body(square(9.00, 47.60, 0.01), priority=50, start_min=-1, minutes=60, name="patrol"),
    )
    assert flight.status_code == 201, flight.text
    op_id = flight.json()["operation"]["id"]
    # Blue flies above the patrol (no conflict), so its subscription hears of red's changes there.
    above = blue.post(
        "/operations", json=operation_body(square(9.00, 47.60, 0.01), lower=200, upper=300, name="above")
    )
    assert above.status_code == 201, above.text
    assert red.post(f"/operations/{op_id}/activate").json()["operation"]["state"] == "Activated"

    def report(lat: float, lng: float, alt: float) -> dict[str, Any]:
        t = datetime.now(UTC).isoformat()
        sample = {"time": t, "lat": lat, "lng": lng, "alt_m": alt, "speed_mps": 12.0, "track_deg": 90.0}
        answer = red.post(f"/operations/{op_id}/telemetry", json={"samples": [sample]})
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    assert report(47.605, 9.005, 60.0) == {"accepted": 1, "verdict": "conforming", "state": "Activated"}
    stray = report(47.605, 9.005, 150.0)  # above its 120 m ceiling
    assert (stray["verdict"], stray["state"]) == ("nonconforming", "Nonconforming")
    operation = red.get(f"/operations/{op_id}").json()["operation"]
    assert len(operation["off_nominal_volumes"]["features"]) == 1

    # Peers see it Nonconforming and may ask where the aircraft is.
    telemetry = httpx.get(
        f"{deployment.urls['red']}/uss/v1/operational_intents/{op_id}/telemetry",
        headers=deployment.as_uss("blue", "utm.conformance_monitoring_sa"),
    )
    assert telemetry.status_code == 200, telemetry.text
    assert telemetry.json()["telemetry"]["position"]["altitude"]["value"] == 150.0

    def blue_sees(state: str) -> bool:
        others = {o["id"]: o for o in blue.get("/others").json()["others"]}
        return op_id in others and others[op_id]["state"] == state

    _eventually(lambda: blue_sees("Nonconforming"), "blue told the patrol is Nonconforming")
    # Not back within the recovery time (3 s here): Contingent, and blue is told again.
    _eventually(
        lambda: red.get(f"/operations/{op_id}").json()["operation"]["state"] == "Contingent",
        "the patrol becomes Contingent", timeout_s=20,
    )  # fmt: skip
    _eventually(lambda: blue_sees("Contingent"), "blue told the patrol is Contingent")

    def operators_told() -> bool:
        items = red.get("/notifications").json()["notifications"]
        kinds = {n["kind"] for n in items if n["operation_id"] == op_id}
        return {"nonconforming", "contingent"} <= kinds

    _eventually(operators_told, "red's operators told of both changes")

    # Ended: removed from the DSS, and from blue's picture.
    ended = red.post(f"/operations/{op_id}/end")
    assert ended.status_code == 200 and ended.json()["operation"]["state"] == "Ended"
    gone = httpx.get(
        f"{deployment.dss}/dss/v1/operational_intent_references/{op_id}",
        headers=deployment.as_uss("red", "utm.strategic_coordination"),
    )
    assert gone.status_code == 404
    _eventually(
        lambda: op_id not in {o["id"] for o in blue.get("/others").json()["others"]}, "blue forgets it"
    )
    assert red.get("/operations").json()["operations"] and all(
        o["id"] != op_id for o in red.get("/operations").json()["operations"]
    )
