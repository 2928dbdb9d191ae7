"""Two DSS instances over one database answer alike (astm.f3548.v21.DSS0020, DSS0215;
DSS0210,1a-1i, 2a-2f, 3a-3c, A2-7-2,1a-1f, 3a-3d, 5a, 6).

Each instance is its own application over its own store object (its own engine and connection
pool) on one SQLite file, as ``parley serve --workers 2`` runs them in two processes. What one
instance answers to a change, the other answers to a read right after, field by field, including
after deletion; and a key built from one instance's answers is accepted by the other.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from parley.api.app import create_app
from parley.api.auth import TokenVerifier
from parley.ports.clock import SystemClock
from parley.services.context import DssContext
from parley.storage.sql.uow import SqlStore
from tests.api.conftest import AA, CM, CP, SC, TokenFor
from tests.api.test_dss_operational_intents_api import params, vol
from tests.api.test_dss_other_api import sub_params

OIRS = "/dss/v1/operational_intent_references"
CRS = "/dss/v1/constraint_references"
SUBS = "/dss/v1/subscriptions"


@pytest.fixture
def pool(sqlite_url: str, verifier: TokenVerifier) -> Iterator[tuple[TestClient, TestClient]]:
    stores = [SqlStore(sqlite_url), SqlStore(sqlite_url)]
    clients = [
        TestClient(
            create_app(DssContext(uow_factory=s.unit_of_work, clock=SystemClock()), verifier),
            base_url="http://testserver",
        )
        for s in stores
    ]
    with clients[0] as a, clients[1] as b:
        yield a, b
    for s in stores:
        s.engine.dispose()


def _same(a: TestClient, b: TestClient, path: str, headers: dict[str, str], json: Any = None) -> Any:
    method = "POST" if json is not None else "GET"
    ra, rb = (
        a.request(method, path, json=json, headers=headers),
        b.request(method, path, json=json, headers=headers),
    )
    assert (ra.status_code, ra.json()) == (rb.status_code, rb.json()), path
    return ra.json()


def test_instances_of_a_pool_answer_alike(pool: tuple[TestClient, TestClient], token_for: TokenFor) -> None:
    a, b = pool
    h1, h2 = token_for("uss1", SC, CP), token_for("uss2", SC, CM)
    aa = token_for("arbiter", AA)

    # subscriptions (1): created on A, read on B
    sid = str(uuid.uuid4())
    created = a.put(f"{SUBS}/{sid}", json=sub_params(notify_for_constraints=True), headers=h1).json()
    assert _same(a, b, f"{SUBS}/{sid}", h1) == {"subscription": created["subscription"]}
    _same(a, b, f"{SUBS}/query", h1, {"area_of_interest": vol()})

    # references (2): an intent created on B, the key built from B's answer accepted by A
    oid, cid = str(uuid.uuid4()), str(uuid.uuid4())
    first = b.put(f"{OIRS}/{oid}", json=params(), headers=h2).json()
    ref = first["operational_intent_reference"]
    assert _same(a, b, f"{OIRS}/{oid}", h2) == {"operational_intent_reference": ref}
    assert _same(a, b, f"{OIRS}/{oid}", h1)["operational_intent_reference"]["ovn"] == "Available from USS"
    _same(a, b, f"{OIRS}/query", h1, {"area_of_interest": vol()})
    refused = a.put(f"{OIRS}/{uuid.uuid4()}", json=params(), headers=h1)
    assert refused.status_code == 409 and refused.json()["missing_operational_intents"][0]["id"] == oid
    second_id = str(uuid.uuid4())
    second = a.put(f"{OIRS}/{second_id}", json=params(key=[ref["ovn"]]), headers=h1)
    assert second.status_code == 201, second.text
    constraint = a.put(
        f"{CRS}/{cid}", json={"extents": [vol()], "uss_base_url": "https://uss2.example"}, headers=h2
    )
    assert constraint.status_code == 201, constraint.text
    assert _same(a, b, f"{CRS}/{cid}", h2) == {
        "constraint_reference": constraint.json()["constraint_reference"]
    }
    _same(a, b, f"{CRS}/query", h2, {"area_of_interest": vol()})
    # the notification index moved on one instance is the one the other reports
    sub_now = _same(a, b, f"{SUBS}/{sid}", h1)["subscription"]
    assert sub_now["notification_index"] == 3  # uss2's intent, uss1's own second one, the constraint

    # availability (3): set on A, read on B
    url = "/dss/v1/uss_availability/uss2"
    down = a.put(url, json={"old_version": "", "availability": "Down"}, headers=aa).json()
    assert _same(a, b, url, aa) == down
    assert _same(a, b, f"{OIRS}/{oid}", h1)["operational_intent_reference"]["uss_availability"] == "Down"
    back = b.put(url, json={"old_version": down["version"], "availability": "Normal"}, headers=aa)
    assert back.status_code == 200

    # deletion on one instance is seen by the other
    b.delete(f"{CRS}/{cid}/{constraint.json()['constraint_reference']['ovn']}", headers=h2)
    a.delete(f"{OIRS}/{oid}/{ref['ovn']}", headers=h2)
    for path, headers in ((f"{CRS}/{cid}", h2), (f"{OIRS}/{oid}", h2)):
        ra, rb = a.get(path, headers=headers), b.get(path, headers=headers)
        assert ra.status_code == rb.status_code == 404
    version = _same(a, b, f"{SUBS}/{sid}", h1)["subscription"]["version"]
    assert b.delete(f"{SUBS}/{sid}/{version}", headers=h1).status_code == 200
    assert a.get(f"{SUBS}/{sid}", headers=h1).status_code == 404
