"""The line as users run it, over real HTTP: two `parley serve` processes from settings files, the
shared service (registry and witness) with RED and AID on the first, BLUE alone on the second; on
SQLite and on PostgreSQL. The demo scenario's exchanges: RED's vacate to BLUE accepted within its
deadline; AID's notice of a protected movement acknowledged by RED and BLUE; BLUE's free text to RED
left to expire. Then each party exports what it holds and verifies it offline (`parley line verify`
semantics), and a tampered copy fails naming the entry."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from parley.devtokens import mint_token
from parley.line.times import format_time
from parley.line.transcript import verify_transcript
from parley.testing.postgres import PostgresServer, free_port
from tests.e2e.test_party_http import HOST, _key, _start, _stop, parley

pytestmark = pytest.mark.slow

PARTIES = ("red", "aid", "blue")


@dataclass
class Line:
    shared: str
    urls: dict[str, str]
    operator_key: bytes
    party_keys: dict[str, bytes]
    clients: list[httpx.Client] = field(default_factory=list)

    def ops(self, party: str) -> httpx.Client:
        token = mint_token(self.operator_key, sub=party, scopes=["parley.operations"], audience=HOST)
        client = httpx.Client(
            base_url=f"{self.urls[party]}/line/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        self.clients.append(client)
        return client

    def line_token(self, party: str) -> dict[str, str]:
        token = mint_token(self.party_keys[party], sub=party, scopes=["parley.line"], audience=HOST)
        return {"Authorization": f"Bearer {token}"}


def _config(root: Path, name: str, keys: dict[str, Any], trusted: str, port: int, db: str, body: str) -> Path:
    path = root / f"{name}.toml"
    path.write_text(
        f'database_url = "{db}"\ndata_dir = "{root / name}"\nport = {port}\nworkers = 1\n'
        f'public_url = "http://{HOST}:{port}"\npublic_key_files = {trusted}\n{body}'
    )
    return path


def _party(name: str, key_file: Path, **extra: str) -> str:
    lines = ["", "[[parties]]", f'id = "{name}"', f'name = "{name.upper()}"']
    lines += [f'{k} = "{v}"' for k, v in extra.items()]
    lines += ["[parties.token_source]", 'kind = "private_key"', f'private_key_file = "{key_file}"']
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def line(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Line]:
    root = tmp_path_factory.mktemp(f"line-{request.param}")
    keys = {name: _key(root, name) for name in (*PARTIES, "operators")}
    trusted = "[" + ", ".join(f'"{k[2]}"' for k in keys.values()) + "]"
    port_a, port_b = free_port(), free_port()
    if request.param == "sqlite":
        db_a = f"sqlite:///{root / 'a' / 'parley.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        db_a = server.create_database("parley_e2e_line")
    db_b = f"sqlite:///{root / 'b' / 'parley.db'}"
    for db in (db_a, db_b):
        done = parley("db", "upgrade", "--database-url", db)
        assert done.returncode == 0, done.stderr
    config_a = _config(
        root, "a", keys, trusted, port_a, db_a, _party("red", keys["red"][1]) + _party("aid", keys["aid"][1])
    )
    config_b = _config(
        root, "b", keys, trusted, port_b, db_b,
        "serve_dss = false\n" + _party("blue", keys["blue"][1], dss_url=f"http://{HOST}:{port_a}"),
    )  # fmt: skip
    a = _start(config_a, root / "a.log", f"http://{HOST}:{port_a}/aux/v1/version")
    try:
        b = _start(config_b, root / "b.log", f"http://{HOST}:{port_b}/parties")
        try:
            deployed = Line(
                shared=f"http://{HOST}:{port_a}",
                urls={
                    "red": f"http://{HOST}:{port_a}/parties/red",
                    "aid": f"http://{HOST}:{port_a}/parties/aid",
                    "blue": f"http://{HOST}:{port_b}/parties/blue",
                },
                operator_key=keys["operators"][0],
                party_keys={name: keys[name][0] for name in PARTIES},
            )
            for party in PARTIES:
                _eventually(
                    lambda p=party: (
                        httpx.get(
                            f"{deployed.shared}/line/v1/registry/{p}", headers=deployed.line_token(p)
                        ).status_code
                        == 200
                    ),
                    f"{party} registered",
                )
            yield deployed
            for client in deployed.clients:
                client.close()
        finally:
            _stop(b)
    finally:
        _stop(a)


def _eventually(probe: Any, what: str, timeout_s: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        assert time.monotonic() < deadline, f"not within {timeout_s} s: {what}"
        time.sleep(0.1)


def _when(minutes: float) -> str:
    return format_time(datetime.now(UTC) + timedelta(minutes=minutes))


def _area(lng: float, lat: float, hours: float = 6) -> dict[str, Any]:
    ring = [[lng, lat], [lng + 0.1, lat], [lng + 0.1, lat + 0.08], [lng, lat + 0.08], [lng, lat]]
    return {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {"alt_lower_m": 0, "alt_upper_m": 6000, "start": _when(0), "end": _when(hours * 60)},
    }


def _thread(client: httpx.Client, thread_id: str) -> dict[str, Any]:
    answer = client.get(f"/threads/{thread_id}")
    return dict(answer.json()) if answer.status_code == 200 else {}


def test_the_demo_exchanges_and_every_party_verifies_its_own_log(line: Line) -> None:
    red, aid, blue = line.ops("red"), line.ops("aid"), line.ops("blue")

    # RED asks BLUE to vacate the assault area within 30 minutes; BLUE reads and accepts.
    vacate = red.post("/requests", json={
        "to": ["blue"], "type": "vacate", "subject": "Vacate the area east of the town",
        "reason": "Ground operation", "deadline": _when(30), "volume": _area(40.1, 35.0),
    })  # fmt: skip
    assert vacate.status_code == 201, vacate.text
    vacate_id = vacate.json()["id"]
    _eventually(lambda: _thread(blue, vacate_id), "BLUE holds the vacate")
    assert blue.post(f"/threads/{vacate_id}/read").status_code == 200
    accepted = blue.post(f"/threads/{vacate_id}/accept", json={"conditions": "both orbits out within 20 min"})
    assert accepted.status_code == 200, accepted.text
    _eventually(
        lambda: _thread(red, vacate_id)["legs"]["blue"]["status"] == "accepted", "RED sees the acceptance"
    )
    assert [(o["obligor"], o["beneficiary"]) for o in _thread(red, vacate_id)["obligations"]] == [
        ("blue", "red")
    ]

    # AID notifies a protected movement to RED and BLUE; both acknowledge.
    route = {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": [[39.6, 35.2], [40.0, 35.05], [40.2, 35.05]]},
        "properties": {"half_width_m": 500, "start": _when(0), "end": _when(240)},
    }
    notice = aid.post("/requests", json={
        "to": ["red", "blue"], "type": "notice", "subject": "Food and water convoy", "reason": "Protected movement",
        "deadline": _when(20), "what": "6 trucks, white, UN markings", "route": route,
    })  # fmt: skip
    assert notice.status_code == 201, notice.text
    notice_id = notice.json()["id"]
    for client in (red, blue):
        _eventually(lambda c=client: _thread(c, notice_id), "the notice arrives")
        assert client.post(f"/threads/{notice_id}/accept", json={}).status_code == 200
    _eventually(
        lambda: {leg["status"] for leg in _thread(aid, notice_id)["legs"].values()} == {"accepted"},
        "AID sees both acknowledgements",
    )

    # BLUE asks RED in free text; RED never answers; both record the expiry.
    question = blue.post("/requests", json={
        "to": ["red"], "type": "free_text", "subject": "Civilians on the buses",
        "reason": "Protection of civilians", "deadline": _when(0.05),
        "text": "Separate civilians from fighters on the buses before any action.",
    })  # fmt: skip
    assert question.status_code == 201, question.text
    question_id = question.json()["id"]

    def both_expired() -> bool:
        kinds = [e["kind"] for e in _thread(blue, question_id).get("entries", [])]
        return kinds.count("expired") == 2

    _eventually(both_expired, "the expiry recorded by both sides", timeout_s=30)
    assert _thread(blue, question_id)["legs"]["red"]["status"] == "expired"

    # Each party exports what it holds and verifies it alone, trusting only the service's key.
    witness_key = httpx.get(f"{line.shared}/line/v1/service").json()["witness_key"]
    transcripts = {}
    for party, client in (("red", red), ("aid", aid), ("blue", blue)):
        transcripts[party] = client.get("/export").json()
        report = verify_transcript(transcripts[party], trusted_witness_keys=[witness_key])
        assert report.ok, f"{party}: " + "\n".join(report.lines())
        assert transcripts[party]["witness"], f"{party}'s head was countersigned"
    assert verify_transcript(transcripts["blue"]).threads[question_id].legs["red"].status.value == "expired"

    # A tampered copy fails, naming the entry changed.
    forged = copy.deepcopy(transcripts["red"])
    target = next(e for e in forged["entries"] if e["kind"] == "accept" and e["party"] == "blue")
    target["body"]["conditions"] = "no conditions"
    report = verify_transcript(forged, trusted_witness_keys=[witness_key])
    assert not report.ok and report.defect is not None
    assert report.defect.entry.startswith(f"blue#{target['seq']}")
