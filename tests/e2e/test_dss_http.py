"""The DSS as a user runs it: `parley db upgrade` then `parley serve` in a subprocess (two worker
processes), over real HTTP, on SQLite and on PostgreSQL, called by two USS identities with RS256
tokens whose public key is handed to the server as a PEM file and whose `aud` is the host name.

Also the race the standard's key rule exists for: many clients, each planning in the same airspace
with the same view of it, at once; exactly one may win each round.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from parley.devtokens import mint_token
from parley.testing.postgres import PostgresServer, free_port

pytestmark = pytest.mark.slow

SC = "utm.strategic_coordination"
CM = "utm.constraint_management"
OIR = "/dss/v1/operational_intent_references"
SUBS = "/dss/v1/subscriptions"
HOST = "localhost"


def parley(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "parley", *args], capture_output=True, text=True, timeout=120, **kwargs
    )


@pytest.fixture(scope="module")
def rsa_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = tmp_path_factory.mktemp("e2e-keys") / "conformance.pem"
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def dss(
    request: pytest.FixtureRequest, rsa_key: tuple[bytes, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Base URL of a `parley serve --workers 2` on a freshly migrated database of each kind."""
    data_dir = tmp_path_factory.mktemp(f"e2e-{request.param}")
    if request.param == "sqlite":
        database_url = f"sqlite:///{data_dir / 'parley.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        database_url = server.create_database("parley_e2e")
    upgraded = parley("db", "upgrade", "--database-url", database_url)
    assert upgraded.returncode == 0, upgraded.stderr
    port = free_port()
    log = (data_dir / "serve.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "parley", "serve", "--database-url", database_url,
            "--data-dir", str(data_dir), "--port", str(port), "--workers", "2",
            "--public-key", str(rsa_key[1]),
        ],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://{HOST}:{port}"
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
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def auth(rsa_key: tuple[bytes, Path], sub: str, *scopes: str, aud: str = HOST) -> dict[str, str]:
    token = mint_token(rsa_key[0], sub=sub, scopes=scopes or (SC,), audience=aud, lifetime_s=600)
    return {"Authorization": f"Bearer {token}"}


def when(minutes: float) -> dict[str, str]:
    value = (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")
    return {"value": value, "format": "RFC3339"}


def extent(lat: float, lng: float, d: float = 0.005) -> dict[str, Any]:
    return {
        "volume": {
            "outline_polygon": {
                "vertices": [
                    {"lat": lat - d, "lng": lng - d},
                    {"lat": lat - d, "lng": lng + d},
                    {"lat": lat + d, "lng": lng + d},
                    {"lat": lat + d, "lng": lng - d},
                ]
            },
            "altitude_lower": {"value": 0, "reference": "W84", "units": "M"},
            "altitude_upper": {"value": 120, "reference": "W84", "units": "M"},
        },
        "time_start": when(5),
        "time_end": when(35),
    }


def plan(uss: str, lat: float, lng: float, key: list[str]) -> dict[str, Any]:
    base_url = f"https://{uss}.example/utm"
    return {
        "extents": [extent(lat, lng)],
        "key": key,
        "state": "Accepted",
        "uss_base_url": base_url,
        "new_subscription": {"uss_base_url": base_url, "notify_for_constraints": False},
    }


def area(lat: float, lng: float) -> dict[str, Any]:
    return {"area_of_interest": extent(lat, lng, d=0.02)}


def test_two_uss_plan_through_the_key_rule(dss: str, rsa_key: tuple[bytes, Path]) -> None:
    uss1, uss2 = auth(rsa_key, "uss1"), auth(rsa_key, "uss2")
    lat, lng = 46.5 + (hash(dss) % 100) / 1000, 7.5
    with httpx.Client(base_url=dss, timeout=30) as http:
        # An observer's explicit subscription over the area.
        sub_id = str(uuid.uuid4())
        r = http.put(
            f"{SUBS}/{sub_id}",
            json={
                "extents": extent(lat, lng, d=0.02),
                "uss_base_url": "https://observer.example/utm",
                "notify_for_operational_intents": True,
                "notify_for_constraints": False,
            },
            headers=auth(rsa_key, "observer"),
        )
        assert r.status_code == 200, r.text

        first = str(uuid.uuid4())
        r = http.put(f"{OIR}/{first}", json=plan("uss1", lat, lng, []), headers=uss1)
        assert r.status_code == 201, r.text
        created = r.json()
        ovn1 = created["operational_intent_reference"]["ovn"]
        notified = {s["uss_base_url"] for s in created["subscribers"]}
        assert "https://observer.example/utm" in notified

        # uss2 does not know about uss1's intent: 409 naming it (without its OVN).
        second = str(uuid.uuid4())
        r = http.put(f"{OIR}/{second}", json=plan("uss2", lat, lng, []), headers=uss2)
        assert r.status_code == 409, r.text
        missing = r.json()["missing_operational_intents"]
        assert [m["id"] for m in missing] == [first]
        assert missing[0]["ovn"] == "Available from USS"

        # It queries, learns the OVN (from uss1, here: the create answer) and plans with the key.
        r = http.post(f"{OIR}/query", json=area(lat, lng), headers=uss2)
        assert r.status_code == 200, r.text
        assert first in {o["id"] for o in r.json()["operational_intent_references"]}
        r = http.put(f"{OIR}/{second}", json=plan("uss2", lat, lng, [ovn1]), headers=uss2)
        assert r.status_code == 201, r.text
        ovn2 = r.json()["operational_intent_reference"]["ovn"]

        # Ownership: uss2 may not delete uss1's intent; uss1 may, with the right OVN only.
        assert http.delete(f"{OIR}/{first}/{ovn1}", headers=uss2).status_code == 403
        assert http.delete(f"{OIR}/{first}/{ovn2}", headers=uss1).status_code == 409
        r = http.delete(f"{OIR}/{first}/{ovn1}", headers=uss1)
        assert r.status_code == 200, r.text
        assert http.get(f"{OIR}/{first}", headers=uss1).status_code == 404

        # The observer's subscription counted every change it was told about.
        r = http.get(f"{SUBS}/{sub_id}", headers=auth(rsa_key, "observer"))
        assert r.status_code == 200, r.text
        assert r.json()["subscription"]["notification_index"] == 3


def test_auth_failures_over_http(dss: str, rsa_key: tuple[bytes, Path]) -> None:
    with httpx.Client(base_url=dss, timeout=30) as http:
        some = f"{OIR}/{uuid.uuid4()}"
        assert http.get(some).status_code == 401
        assert http.get(some, headers=auth(rsa_key, "uss1", aud="elsewhere.example")).status_code == 401
        assert http.get(some, headers=auth(rsa_key, "uss1", CM)).status_code == 403
        r = http.get(some, headers=auth(rsa_key, "uss1"))
        assert r.status_code == 404
        assert "message" in r.json()
        # Bad input: 400 with a message, over the wire too.
        r = http.put(some, content=b"{not json", headers=auth(rsa_key, "uss1"))
        assert r.status_code == 400, r.text
        assert r.json()["message"]


def test_concurrent_planners_never_both_win(dss: str, rsa_key: tuple[bytes, Path]) -> None:
    """Rounds of 8 clients, each planning into the same airspace with the same key: one wins."""
    lat, lng = 45.5 + (hash(dss) % 100) / 1000, 6.5
    clients = 8
    with httpx.Client(base_url=dss, timeout=60) as http:
        key: list[str] = []
        for _round in range(4):

            def attempt(n: int, key: list[str] = key) -> tuple[int, str]:
                uss = f"uss{n}"
                r = http.put(
                    f"{OIR}/{uuid.uuid4()}", json=plan(uss, lat, lng, key), headers=auth(rsa_key, uss)
                )
                ovn = r.json().get("operational_intent_reference", {}).get("ovn", "")
                return r.status_code, ovn

            with ThreadPoolExecutor(clients) as pool:
                results = list(pool.map(attempt, range(clients)))
            statuses = sorted(status for status, _ in results)
            assert statuses == [201] + [409] * (clients - 1), statuses
            key = [*key, next(ovn for status, ovn in results if status == 201)]


def test_cli_token_and_db(tmp_path: Path) -> None:
    """`parley token` mints a dev token that `parley serve --dev-auth` accepts; `parley db` migrates
    up and down; `parley serve` refuses an unmigrated database and missing keys."""
    data_dir = tmp_path / "data"
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    refused = parley("serve", "--database-url", url, "--data-dir", str(data_dir), "--dev-auth")
    assert refused.returncode == 2
    assert "parley db upgrade" in refused.stderr
    no_keys = parley("serve", "--database-url", url, "--data-dir", str(data_dir))
    assert no_keys.returncode != 0
    assert "--public-key" in no_keys.stderr
    assert parley("db", "upgrade", "--database-url", url).returncode == 0
    assert parley("db", "downgrade", "base", "--database-url", url).returncode == 0
    assert parley("db", "upgrade", "--database-url", url).returncode == 0

    minted = parley("token", "--sub", "uss9", "--scope", SC, "--data-dir", str(data_dir))
    assert minted.returncode == 0, minted.stderr
    assert "development only" in minted.stderr
    token = minted.stdout.strip()
    assert token.count(".") == 2

    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable, "-m", "parley", "serve", "--database-url", url, "--data-dir",
            str(data_dir), "--port", str(port), "--dev-auth",
        ],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180  # a loaded machine starts slowly
        while True:
            try:
                r = httpx.get(
                    f"http://{HOST}:{port}/dss/v1/operational_intent_references/{uuid.uuid4()}",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=2,
                )
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        assert r.status_code == 404, r.text
    finally:
        process.terminate()
        process.wait(timeout=20)
