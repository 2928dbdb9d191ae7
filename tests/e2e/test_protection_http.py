"""Protected movements over real HTTP, as deployed (the deployment of tests/e2e/test_party_http.py:
server A runs the DSS, the line's shared service, red and green; server B runs blue; SQLite and
PostgreSQL): green notifies a convoy exact to blue and check-only to red; both acknowledge
(accept); a plan of each where the convoy passes is warned (blue's checked on its node, red's at the
shared service), the same plan three hours later is not; green reads who learned what."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from parley.devtokens import mint_token
from tests.e2e.test_party_http import HOST, Deployment
from tests.e2e.test_party_http import deployment as deployment  # the fixture
from tests.protection.scenario import notify_body, reservation

pytestmark = pytest.mark.slow


def _client(deployment: Deployment, party: str, api: str) -> httpx.Client:
    token = mint_token(deployment.operator_key, sub=party, scopes=["parley.operations"], audience=HOST)
    client = httpx.Client(
        base_url=f"{deployment.urls[party]}/{api}", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    deployment.clients.append(client)
    return client


def _eventually(probe: Any, what: str, timeout_s: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        assert time.monotonic() < deadline, f"not seen within {timeout_s} s: {what}"
        time.sleep(0.2)


def _items(client: httpx.Client) -> list[dict[str, Any]]:
    answer = client.get("/items")
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def test_a_convoy_notified_exact_and_check_only_acknowledged_and_checked(deployment: Deployment) -> None:
    protect = {p: _client(deployment, p, "protect/v1") for p in ("red", "green", "blue")}
    line = {p: _client(deployment, p, "line/v1") for p in ("red", "green", "blue")}
    _eventually(lambda: line["green"].get("/status").json()["head"] is not None, "green's line started")
    answer = _eventually(
        lambda: (
            (a := protect["green"].post("/notify", json=notify_body(["blue"], ["red"]))).status_code == 201
            and a
        ),
        "notified (every party registered with the shared service)",
    )
    pid = answer.json()["id"]
    for party in ("red", "blue"):
        (item,) = _eventually(lambda p=party: _items(protect[p]), f"{party} holds the notice")
        assert item["id"] == pid and item["held"] == ("exact" if party == "blue" else "check_only")
        thread = item["notices"][0]["thread"]
        accepted = line[party].post(f"/threads/{thread}/accept", json={})
        assert accepted.status_code == 200, accepted.text
    _eventually(
        lambda: all(not n["unacknowledged"] for n in _items(protect["green"])[0]["notices"]),
        "both acknowledged",
    )

    passing, later = reservation(40.14, start_min=95), reservation(40.14, start_min=200)
    # Blue (exact): its plan where the convoy passes is warned, with the least distance.
    blue = deployment.ops("blue")
    answer = blue.post("/operations", json=passing)
    assert answer.status_code == 409, answer.text
    (conflict,) = answer.json()["protection_conflicts"]
    assert conflict["protected"] == pid and 0 < conflict["least_distance_m"] < 500
    assert blue.post("/operations", json=later).status_code == 201
    # Red (check-only): its reservation is warned by the shared service, without a distance.
    red = deployment.ops("red")
    answer = red.post("/reservations", json=passing)
    assert answer.status_code == 409, answer.text
    (conflict,) = answer.json()["protection_conflicts"]
    assert (
        conflict["protected"] == pid
        and conflict["least_distance_m"] is None
        and conflict["keep_away_m"] == 500
    )
    assert red.post("/reservations", json=later).status_code == 201

    log = protect["green"].get(f"/items/{pid}/disclosures")
    assert log.status_code == 200, log.text
    kinds = [(d["party"], d["kind"]) for d in log.json()["disclosures"]]
    assert ("blue", "exact") in kinds and ("red", "check_only") in kinds and ("red", "check") in kinds
