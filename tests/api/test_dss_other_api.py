"""Subscriptions, constraints, availability, reports and aux endpoints over HTTP."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import AA, CM, CP, SC, TokenFor
from tests.api.test_dss_operational_intents_api import params, t, vol

SUBS = "/dss/v1/subscriptions"
CRS = "/dss/v1/constraint_references"
OIRS = "/dss/v1/operational_intent_references"


def sub_params(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "extents": vol(1, 120),
        "uss_base_url": "https://uss1.example/utm",
        "notify_for_operational_intents": True,
        "notify_for_constraints": False,
    }
    body.update(over)
    return body


def test_subscription_lifecycle(client: TestClient, token_for: TokenFor) -> None:
    h = token_for("uss1")
    sid = str(uuid.uuid4())
    r = client.put(f"{SUBS}/{sid}", json=sub_params(), headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert "constraint_references" not in body and body["operational_intent_references"] == []
    sub = body["subscription"]
    assert sub["notification_index"] == 0 and sub["implicit_subscription"] is False
    assert sub["dependent_operational_intents"] == []
    assert client.get(f"{SUBS}/{sid}", headers=h).json() == {"subscription": sub}
    assert client.get(f"{SUBS}/{sid}", headers=token_for("uss2")).status_code == 403

    assert client.put(f"{SUBS}/{sid}", json=sub_params(), headers=h).status_code == 409
    assert client.put(f"{SUBS}/{sid}/", json=sub_params(), headers=h).status_code == 400
    assert client.put(f"{SUBS}/{sid}/wrongversion", json=sub_params(), headers=h).status_code == 409
    both_off = sub_params(notify_for_operational_intents=False)
    assert client.put(f"{SUBS}/{sid}", json=both_off, headers=h).status_code == 400

    up = client.put(f"{SUBS}/{sid}/{sub['version']}", json=sub_params(notify_for_constraints=True), headers=h)
    assert up.status_code == 200 and up.json()["constraint_references"] == []
    version = up.json()["subscription"]["version"]
    assert version != sub["version"]

    instant = vol()
    instant["time_end"] = instant["time_start"]
    q = client.post(f"{SUBS}/query", json={"area_of_interest": instant}, headers=h)
    assert q.status_code == 200 and [s["id"] for s in q.json()["subscriptions"]] == [sid]
    assert client.post(
        f"{SUBS}/query", json={"area_of_interest": instant}, headers=token_for("uss2")
    ).json() == {"subscriptions": []}

    assert client.delete(f"{SUBS}/{sid}/", headers=h).status_code == 400
    assert client.delete(f"{SUBS}/{sid}/{sub['version']}", headers=h).status_code == 409
    gone = client.delete(f"{SUBS}/{sid}/{version}", headers=h)
    assert gone.status_code == 200 and gone.json()["subscription"]["version"] == version
    assert client.get(f"{SUBS}/{sid}", headers=h).status_code == 404


def test_constraints_notify_subscribers(client: TestClient, token_for: TokenFor) -> None:
    sid = str(uuid.uuid4())
    sub = client.put(
        f"{SUBS}/{sid}", json=sub_params(notify_for_constraints=True), headers=token_for("uss1", CP)
    )
    assert sub.status_code == 200, sub.text
    cm = token_for("uss2", CM)
    cid = str(uuid.uuid4())
    body = {"extents": [vol()], "uss_base_url": "https://uss2.example/utm"}
    assert client.put(f"{CRS}/{cid}", json=body, headers=token_for("uss2", SC)).status_code == 403
    r = client.put(f"{CRS}/{cid}", json=body, headers=cm)
    assert r.status_code == 201, r.text
    assert r.json()["subscribers"] == [
        {
            "subscriptions": [{"subscription_id": sid, "notification_index": 1}],
            "uss_base_url": "https://uss1.example/utm",
        }
    ]
    ref = r.json()["constraint_reference"]
    assert ref["version"] == 1 and ref["uss_availability"] == "Unknown"
    seen = client.get(f"{CRS}/{cid}", headers=token_for("uss1", CP)).json()["constraint_reference"]
    assert seen["ovn"] == "Available from USS"
    assert client.put(f"{CRS}/{cid}/", json=body, headers=cm).status_code == 400
    up = client.put(f"{CRS}/{cid}/{ref['ovn']}", json=body, headers=cm)
    assert up.status_code == 200 and up.json()["constraint_reference"]["version"] == 2
    new_ovn = up.json()["constraint_reference"]["ovn"]
    q = client.post(f"{CRS}/query", json={"area_of_interest": vol()}, headers=cm)
    assert [c["id"] for c in q.json()["constraint_references"]] == [cid]
    d = client.delete(f"{CRS}/{cid}/{new_ovn}", headers=cm)
    assert d.status_code == 200 and d.json()["subscribers"][0]["subscriptions"][0]["notification_index"] == 3


def test_implicit_subscription_follows_its_intent(client: TestClient, token_for: TokenFor) -> None:
    h = token_for("uss1")
    oid = str(uuid.uuid4())
    r = client.put(f"{OIRS}/{oid}", json=params(), headers=h)
    ref = r.json()["operational_intent_reference"]
    sub = client.get(f"{SUBS}/{ref['subscription_id']}", headers=h).json()["subscription"]
    assert sub["implicit_subscription"] is True and sub["dependent_operational_intents"] == [oid]
    assert sub["time_start"] == ref["time_start"] and sub["time_end"] == ref["time_end"]
    # a subscription with dependents cannot be deleted
    assert client.delete(f"{SUBS}/{sub['id']}/{sub['version']}", headers=h).status_code == 400
    # detaching (no subscription) removes the now-unused implicit subscription
    up = client.put(f"{OIRS}/{oid}/{ref['ovn']}", json=params(new_subscription=None), headers=h)
    assert up.status_code == 200
    assert (
        up.json()["operational_intent_reference"]["subscription_id"] == "00000000-0000-4000-8000-000000000000"
    )
    assert client.get(f"{SUBS}/{sub['id']}", headers=h).status_code == 404


def test_lenient_inputs_standard_outputs(client: TestClient, token_for: TokenFor) -> None:
    h = token_for("uss1")
    v = vol()
    ring = v["volume"]["outline_polygon"]["vertices"]
    ring.append(dict(ring[0]))  # explicitly closed ring
    v["time_start"]["value"] = v["time_start"]["value"].rstrip("Z")  # no offset: read as UTC
    v["time_end"]["value"] = v["time_end"]["value"].rstrip("Z")
    r = client.put(f"{OIRS}/{uuid.uuid4()}", json=params(extents=[v], camelCase="ignored"), headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["operational_intent_reference"]["time_start"]["value"] == v["time_start"]["value"] + "Z"


def test_availability_and_reports(client: TestClient, token_for: TokenFor) -> None:
    aa = token_for("arbiter", AA)
    url = "/dss/v1/uss_availability/uss7"
    first = client.get(url, headers=token_for("uss1", SC))
    assert first.json() == {"status": {"uss": "uss7", "availability": "Unknown"}, "version": ""}
    assert (
        client.put(
            url, json={"old_version": "", "availability": "down"}, headers=token_for("uss1")
        ).status_code
        == 403
    )
    r = client.put(url, json={"old_version": "", "availability": "down"}, headers=aa)
    assert r.status_code == 200 and r.json()["status"]["availability"] == "Down" and r.json()["version"]
    assert client.get(url, headers=aa).json() == r.json()
    assert (
        client.put(url, json={"old_version": "wrong", "availability": "Normal"}, headers=aa).status_code
        == 409
    )
    assert (
        client.put(
            url, json={"old_version": r.json()["version"], "availability": "pUrPlE"}, headers=aa
        ).status_code
        == 400
    )

    report = {
        "exchange": {
            "url": "https://uss2.example/uss/v1/operational_intents/x",
            "method": "GET",
            "headers": [],
            "recorder_role": "Client",
            "request_time": t(0),
            "response_code": 500,
            "problem": "timeout",
        }
    }
    made = client.post("/dss/v1/reports", json=report, headers=token_for("uss1"))
    assert made.status_code == 201 and made.json()["report_id"]
    assert made.json()["exchange"]["problem"] == "timeout"


def test_aux_endpoints(client: TestClient, token_for: TokenFor) -> None:
    v = client.get("/aux/v1/version")
    assert v.status_code == 200 and v.json()["version"].startswith("parley-")
    h = token_for("uss1", "dss.read.identification_service_areas")
    assert client.get("/aux/v1/validate_oauth", headers=h).status_code == 200
    assert client.get("/aux/v1/validate_oauth?owner=uss1", headers=h).status_code == 200
    assert client.get("/aux/v1/validate_oauth?owner=bad_user", headers=h).status_code == 403
    assert client.get("/aux/v1/validate_oauth").status_code == 401


def test_oversized_body_is_413(client: TestClient, token_for: TokenFor) -> None:
    r = client.put(
        f"{OIRS}/{uuid.uuid4()}",
        content=b"{" + b" " * (17 * 1024 * 1024) + b"}",
        headers={**token_for("uss1"), "content-type": "application/json"},
    )
    assert r.status_code == 413 and "larger than" in r.json()["message"]
