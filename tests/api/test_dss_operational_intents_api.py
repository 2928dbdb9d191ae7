"""/dss/v1/operational_intent_references over HTTP: wire shapes, status codes, errors."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import CMSA, SC, TokenFor

BASE = "/dss/v1/operational_intent_references"


def t(minutes: float) -> dict[str, str]:
    value = (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")
    return {"value": value, "format": "RFC3339"}


def vol(start_min: float = 5, end_min: float = 65, lat: float = 46.0, lng: float = 7.0) -> dict[str, Any]:
    d = 0.01
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
        "time_start": t(start_min),
        "time_end": t(end_min),
    }


def params(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "extents": [vol()],
        "key": [],
        "state": "Accepted",
        "uss_base_url": "https://uss1.example/utm",
        "new_subscription": {"uss_base_url": "https://uss1.example/utm", "notify_for_constraints": False},
    }
    body.update(over)
    return body


def create(client: TestClient, headers: dict[str, str], **over: Any) -> tuple[str, dict[str, Any]]:
    entity = str(uuid.uuid4())
    r = client.put(f"{BASE}/{entity}", json=params(**over), headers=headers)
    assert r.status_code == 201, r.text
    return entity, r.json()


def test_create_get_query_update_delete_round_trip(client: TestClient, token_for: TokenFor) -> None:
    h = token_for("uss1")
    entity, body = create(client, h)
    ref = body["operational_intent_reference"]
    assert set(ref) == {
        "id",
        "manager",
        "uss_availability",
        "version",
        "state",
        "ovn",
        "time_start",
        "time_end",
        "uss_base_url",
        "subscription_id",
    }
    assert ref["id"] == entity and ref["manager"] == "uss1" and ref["version"] == 1
    assert ref["uss_availability"] == "Unknown" and ref["state"] == "Accepted"
    assert ref["time_start"]["format"] == "RFC3339" and ref["time_start"]["value"].endswith("Z")
    assert body["subscribers"][0]["uss_base_url"] == "https://uss1.example/utm"

    got = client.get(f"{BASE}/{entity}", headers=h)
    assert got.status_code == 200 and got.json()["operational_intent_reference"]["ovn"] == ref["ovn"]

    other = client.get(f"{BASE}/{entity}", headers=token_for("uss2"))
    assert other.json()["operational_intent_reference"]["ovn"] == "Available from USS"

    q = client.post(f"{BASE}/query", json={"area_of_interest": vol()}, headers=token_for("uss2"))
    assert q.status_code == 200
    assert [r["id"] for r in q.json()["operational_intent_references"]] == [entity]

    up = client.put(f"{BASE}/{entity}/{ref['ovn']}", json=params(state="Activated"), headers=h)
    assert up.status_code == 200, up.text
    new_ref = up.json()["operational_intent_reference"]
    assert new_ref["version"] == 2 and new_ref["state"] == "Activated" and new_ref["ovn"] != ref["ovn"]

    stale = client.delete(f"{BASE}/{entity}/{ref['ovn']}", headers=h)
    assert stale.status_code == 409
    gone = client.delete(f"{BASE}/{entity}/{new_ref['ovn']}", headers=h)
    assert gone.status_code == 200
    assert client.get(f"{BASE}/{entity}", headers=h).status_code == 404


def test_missing_key_is_409_with_airspace_conflict_response(client: TestClient, token_for: TokenFor) -> None:
    first, body = create(client, token_for("uss1"))
    entity = str(uuid.uuid4())
    r = client.put(f"{BASE}/{entity}", json=params(), headers=token_for("uss2"))
    assert r.status_code == 409
    conflict = r.json()
    assert conflict["message"]
    assert [o["id"] for o in conflict["missing_operational_intents"]] == [first]
    assert conflict["missing_operational_intents"][0]["ovn"] == "Available from USS"
    assert conflict["missing_constraints"] == []
    ovn = body["operational_intent_reference"]["ovn"]
    ok = client.put(f"{BASE}/{entity}", json=params(key=[ovn]), headers=token_for("uss2"))
    assert ok.status_code == 201


def test_bad_input_is_400_with_a_message(client: TestClient, token_for: TokenFor) -> None:
    h = token_for("uss1")
    cases = {
        "not-a-uuid": params(),
        str(uuid.uuid4()): params(extents=[]),
        str(uuid.uuid4()) + "x": params(),
    }
    for entity, body in cases.items():
        r = client.put(f"{BASE}/{entity}", json=body, headers=h)
        assert r.status_code == 400, (entity, r.text)
        assert r.json()["message"]
    bad_units = vol()
    bad_units["volume"]["altitude_lower"]["units"] = "FT"
    bad_time = vol(30, 10)
    both = vol()
    both["volume"]["outline_circle"] = {
        "center": {"lat": 46, "lng": 7},
        "radius": {"value": 100, "units": "M"},
    }
    no_radius = vol()
    del no_radius["volume"]["outline_polygon"]
    no_radius["volume"]["outline_circle"] = {
        "center": {"lat": 46, "lng": 7},
        "radius": {"value": 0, "units": "M"},
    }
    bowtie = vol()
    bowtie["volume"]["outline_polygon"]["vertices"][1], bowtie["volume"]["outline_polygon"]["vertices"][2] = (
        bowtie["volume"]["outline_polygon"]["vertices"][2],
        bowtie["volume"]["outline_polygon"]["vertices"][1],
    )
    lat_out = vol(lat=95.0)
    for v in (bad_units, bad_time, both, no_radius, bowtie, lat_out):
        r = client.put(f"{BASE}/{uuid.uuid4()}", json=params(extents=[v]), headers=h)
        assert r.status_code == 400, r.text
    malformed = client.put(
        f"{BASE}/{uuid.uuid4()}", content=b"{not json", headers={**h, "content-type": "application/json"}
    )
    assert malformed.status_code == 400
    huge = vol(lat=46.0)
    d = 0.5
    huge["volume"]["outline_polygon"]["vertices"] = [
        {"lat": 46 - d, "lng": 7 - d},
        {"lat": 46 - d, "lng": 7 + d},
        {"lat": 46 + d, "lng": 7 + d},
        {"lat": 46 + d, "lng": 7 - d},
    ]
    r = client.put(f"{BASE}/{uuid.uuid4()}", json=params(extents=[huge]), headers=h)
    assert r.status_code == 400 and "exceeds the limit" in r.json()["message"]
    q = client.post(f"{BASE}/query", json={}, headers=h)
    assert q.status_code == 400 and "area_of_interest" in q.json()["message"]


def test_update_of_unknown_is_400_and_create_existing_is_409(client: TestClient, token_for: TokenFor) -> None:
    h = token_for("uss1")
    r = client.put(f"{BASE}/{uuid.uuid4()}/{'o' * 20}", json=params(), headers=h)
    assert r.status_code == 400  # PUT declares no 404 in F3548
    entity, _ = create(client, h)
    again = client.put(f"{BASE}/{entity}", json=params(), headers=h)
    assert again.status_code == 409 and "missing_operational_intents" in again.json()


def test_auth_is_required_and_scoped(client: TestClient, token_for: TokenFor) -> None:
    entity = str(uuid.uuid4())
    assert client.get(f"{BASE}/{entity}").status_code == 401
    r = client.get(f"{BASE}/{entity}", headers={"Authorization": "Bearer nonsense"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    wrong_aud = token_for("uss1", SC, audience="elsewhere.example")
    assert client.get(f"{BASE}/{entity}", headers=wrong_aud).status_code == 401
    wrong_scope = token_for("uss1", "utm.constraint_management")
    assert client.get(f"{BASE}/{entity}", headers=wrong_scope).status_code == 403
    cmsa_only = token_for("uss1", CMSA)
    assert client.get(f"{BASE}/{entity}", headers=cmsa_only).status_code == 404
