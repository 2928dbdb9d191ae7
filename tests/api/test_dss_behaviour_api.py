"""DSS behaviour over HTTP that the round-trip tests leave out: an update refused by the key rule,
constraint 404/409, requested OVN suffixes, off-nominal states, notifications after a
subscription's deletion, contention, and the periodic removal of ended entities."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

import pytest
from fastapi.testclient import TestClient

from parley.api.app import create_app
from parley.api.auth import TokenVerifier
from parley.ports.clock import FixedClock
from parley.ports.repositories import TransientConflict, UnitOfWork
from parley.services.context import DssContext
from parley.storage.memory import MemoryStore
from tests.api.conftest import AA, CM, CMSA, CP, SC, TokenFor
from tests.api.test_dss_operational_intents_api import create, params, t, vol
from tests.api.test_dss_other_api import sub_params

OIRS = "/dss/v1/operational_intent_references"
CRS = "/dss/v1/constraint_references"
SUBS = "/dss/v1/subscriptions"
HIDDEN = "Available from USS"


def subscription_ids(body: dict[str, Any]) -> set[str]:
    return {s["subscription_id"] for subscriber in body["subscribers"] for s in subscriber["subscriptions"]}


# -- the key rule on updates (astm.f3548.v21.DSS0210,A2-7-2,2b) ----------------------------------
def test_update_missing_a_newer_intersecting_ovn_is_409(client: TestClient, token_for: TokenFor) -> None:
    h1, h2 = token_for("uss1"), token_for("uss2")
    a_id, a = create(client, h1)
    a_ovn = a["operational_intent_reference"]["ovn"]
    b_id, b = create(client, h2, key=[a_ovn])
    b_ovn = b["operational_intent_reference"]["ovn"]

    # the intent's own OVN does not stand in for the newcomer's
    for key in ([], [a_ovn]):
        r = client.put(f"{OIRS}/{a_id}/{a_ovn}", json=params(state="Activated", key=key), headers=h1)
        assert r.status_code == 409, r.text
        conflict = r.json()
        assert conflict["message"]
        assert [(o["id"], o["ovn"]) for o in conflict["missing_operational_intents"]] == [(b_id, HIDDEN)]
        assert conflict["missing_constraints"] == []
    unchanged = client.get(f"{OIRS}/{a_id}", headers=h1).json()["operational_intent_reference"]
    assert (unchanged["version"], unchanged["ovn"], unchanged["state"]) == (1, a_ovn, "Accepted")

    ok = client.put(f"{OIRS}/{a_id}/{a_ovn}", json=params(state="Activated", key=[b_ovn]), headers=h1)
    assert ok.status_code == 200, ok.text
    assert ok.json()["operational_intent_reference"]["version"] == 2


# -- constraint references: unknown and stale (astm.f3548.v21.DSS0005,3) ---------------------------
def test_constraint_unknown_is_404_and_stale_ovn_is_409(client: TestClient, token_for: TokenFor) -> None:
    cm, other_cm = token_for("uss2", CM), token_for("uss3", CM)
    unknown = str(uuid.uuid4())
    for r in (
        client.get(f"{CRS}/{unknown}", headers=cm),
        client.get(f"{CRS}/{unknown}", headers=token_for("uss1", CP)),
        client.delete(f"{CRS}/{unknown}/{'o' * 20}", headers=cm),
    ):
        assert r.status_code == 404 and unknown in r.json()["message"]

    cid = str(uuid.uuid4())
    body = {"extents": [vol()], "uss_base_url": "https://uss2.example/utm"}
    first = client.put(f"{CRS}/{cid}", json=body, headers=cm).json()["constraint_reference"]
    second = client.put(f"{CRS}/{cid}/{first['ovn']}", json=body, headers=cm).json()["constraint_reference"]
    assert second["version"] == 2 and second["ovn"] != first["ovn"]

    stale = client.delete(f"{CRS}/{cid}/{first['ovn']}", headers=cm)
    assert stale.status_code == 409 and stale.json()["message"]
    assert client.put(f"{CRS}/{cid}/{first['ovn']}", json=body, headers=cm).status_code == 409
    assert client.delete(f"{CRS}/{cid}/{second['ovn']}", headers=other_cm).status_code == 403
    assert client.get(f"{CRS}/{cid}", headers=cm).json()["constraint_reference"] == second

    assert client.delete(f"{CRS}/{cid}/{second['ovn']}", headers=cm).status_code == 200
    assert client.get(f"{CRS}/{cid}", headers=cm).status_code == 404


# -- requested_ovn_suffix (interuss.f3548.ovn_request.ImplementAPI) --------------------------------
def uuid7_at(when: datetime) -> str:
    """A UUIDv7 (RFC 9562) carrying ``when`` to the millisecond, random otherwise."""
    millis = int(when.timestamp() * 1000)
    rand_a, rand_b = secrets.randbits(12), secrets.randbits(62)
    return str(uuid.UUID(int=(millis << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b))


def test_requested_ovn_suffix_sets_the_ovn(client: TestClient, token_for: TokenFor) -> None:
    h1, h2 = token_for("uss1"), token_for("uss2")
    entity = str(uuid.uuid4())
    suffix = uuid7_at(datetime.now(UTC))
    r = client.put(f"{OIRS}/{entity}", json=params(requested_ovn_suffix=suffix), headers=h1)
    assert r.status_code == 201, r.text
    ovn = r.json()["operational_intent_reference"]["ovn"]
    assert ovn == f"{entity}_{suffix}"
    assert client.get(f"{OIRS}/{entity}", headers=h1).json()["operational_intent_reference"]["ovn"] == ovn

    # on an update too; the requested OVN is the one keys and paths then use
    suffix2 = uuid7_at(datetime.now(UTC) + timedelta(seconds=30))
    up = client.put(f"{OIRS}/{entity}/{ovn}", json=params(requested_ovn_suffix=suffix2), headers=h1)
    assert up.status_code == 200, up.text
    ovn2 = up.json()["operational_intent_reference"]["ovn"]
    assert ovn2 == f"{entity}_{suffix2}" and up.json()["operational_intent_reference"]["version"] == 2
    refused = client.put(f"{OIRS}/{uuid.uuid4()}", json=params(key=[ovn]), headers=h2)
    assert [o["id"] for o in refused.json()["missing_operational_intents"]] == [entity]
    assert client.put(f"{OIRS}/{uuid.uuid4()}", json=params(key=[ovn2]), headers=h2).status_code == 201
    assert client.delete(f"{OIRS}/{entity}/{ovn2}", headers=h1).status_code == 200

    # `{entityid}_{requested_ovn_suffix}`: the suffix as sent (hex digits may be upper-case)
    upper = uuid7_at(datetime.now(UTC)).upper()
    other = str(uuid.uuid4())
    r = client.put(
        f"{OIRS}/{other}", json=params(requested_ovn_suffix=upper, extents=[vol(lat=47.0)]), headers=h1
    )
    assert r.status_code == 201, r.text
    assert r.json()["operational_intent_reference"]["ovn"] == f"{other}_{upper}"


@pytest.mark.parametrize(
    ("make_suffix", "fragment"),
    [
        (lambda: str(uuid.uuid4()), "not version 7"),
        (lambda: uuid7_at(datetime.now(UTC) - timedelta(minutes=10)), "away from the DSS's time"),
        (lambda: uuid7_at(datetime.now(UTC) + timedelta(minutes=10)), "away from the DSS's time"),
        (lambda: "not-a-uuid", "not a UUID"),
    ],
    ids=["uuid4", "10-min-old", "10-min-ahead", "garbage"],
)
def test_invalid_requested_ovn_suffix_is_400(
    client: TestClient, token_for: TokenFor, make_suffix: Callable[[], str], fragment: str
) -> None:
    suffix = make_suffix()
    h = token_for("uss1")
    entity = str(uuid.uuid4())
    r = client.put(f"{OIRS}/{entity}", json=params(requested_ovn_suffix=suffix), headers=h)
    assert r.status_code == 400 and "requested_ovn_suffix" in r.json()["message"]
    assert fragment in r.json()["message"]
    assert client.get(f"{OIRS}/{entity}", headers=h).status_code == 404


# -- off-nominal states (astm.f3548.v21.SCD0100) --------------------------------------------------
def test_off_nominal_states_need_the_cmsa_scope_and_no_key(client: TestClient, token_for: TokenFor) -> None:
    sc, sc_cmsa, cmsa = token_for("uss1", SC), token_for("uss1", SC, CMSA), token_for("uss1", CMSA)
    a_id, a = create(client, sc)
    a_ovn = a["operational_intent_reference"]["ovn"]
    _, b = create(client, token_for("uss2"), key=[a_ovn])
    b_ovn = b["operational_intent_reference"]["ovn"]

    for state in ("Nonconforming", "Contingent"):
        r = client.put(f"{OIRS}/{a_id}/{a_ovn}", json=params(state=state), headers=sc)
        assert r.status_code == 403 and CMSA in r.json()["message"]
    same = client.get(f"{OIRS}/{a_id}", headers=sc).json()["operational_intent_reference"]
    assert (same["state"], same["version"]) == ("Accepted", 1)

    # with the scope, no key is needed even though uss2's intersecting intent is not in it
    nc = client.put(f"{OIRS}/{a_id}/{a_ovn}", json=params(state="Nonconforming"), headers=sc_cmsa)
    assert nc.status_code == 200, nc.text
    nc_ref = nc.json()["operational_intent_reference"]
    assert (nc_ref["state"], nc_ref["version"]) == ("Nonconforming", 2)
    ct = client.put(f"{OIRS}/{a_id}/{nc_ref['ovn']}", json=params(state="Contingent"), headers=cmsa)
    assert ct.status_code == 200 and ct.json()["operational_intent_reference"]["state"] == "Contingent"
    ct_ovn = ct.json()["operational_intent_reference"]["ovn"]

    # back to a nominal state: the key rule applies again
    back = client.put(f"{OIRS}/{a_id}/{ct_ovn}", json=params(state="Activated"), headers=sc)
    assert back.status_code == 409 and back.json()["missing_operational_intents"]
    ok = client.put(f"{OIRS}/{a_id}/{ct_ovn}", json=params(state="Activated", key=[b_ovn]), headers=sc)
    assert ok.status_code == 200 and ok.json()["operational_intent_reference"]["state"] == "Activated"

    # a first version must be Accepted, whatever the scopes
    first = client.put(f"{OIRS}/{uuid.uuid4()}", json=params(state="Nonconforming"), headers=sc_cmsa)
    assert first.status_code == 400 and "must be Accepted" in first.json()["message"]


# -- a deleted subscription is no longer notified (astm.f3548.v21.DSS0210,A2-7-2,5b, 5c) ------------
def test_deleted_subscription_is_no_longer_notified(client: TestClient, token_for: TokenFor) -> None:
    h1, h3, h2, cm = token_for("uss1"), token_for("uss3"), token_for("uss2"), token_for("uss4", CM)
    both = {"notify_for_operational_intents": True, "notify_for_constraints": True}
    gone_id, kept_id = str(uuid.uuid4()), str(uuid.uuid4())
    gone = client.put(f"{SUBS}/{gone_id}", json=sub_params(**both), headers=h1).json()["subscription"]
    kept = client.put(
        f"{SUBS}/{kept_id}", json=sub_params(uss_base_url="https://uss3.example/utm", **both), headers=h3
    ).json()["subscription"]
    assert kept["id"] == kept_id

    x_id, x = create(client, h2, new_subscription=None)
    assert {gone_id, kept_id} <= subscription_ids(x)  # both are told while both exist

    deleted = client.delete(f"{SUBS}/{gone_id}/{gone['version']}", headers=h1)
    assert deleted.status_code == 200
    assert client.get(f"{SUBS}/{gone_id}", headers=h1).status_code == 404

    x_ovn = x["operational_intent_reference"]["ovn"]
    updated = client.put(f"{OIRS}/{x_id}/{x_ovn}", json=params(new_subscription=None), headers=h2)
    assert updated.status_code == 200, updated.text
    cid = str(uuid.uuid4())
    constraint = client.put(
        f"{CRS}/{cid}", json={"extents": [vol()], "uss_base_url": "https://uss4.example"}, headers=cm
    )
    assert constraint.status_code == 201, constraint.text
    new_x_ovn = updated.json()["operational_intent_reference"]["ovn"]
    removed = client.delete(f"{OIRS}/{x_id}/{new_x_ovn}", headers=h2)
    for change in (updated.json(), constraint.json(), removed.json()):
        ids = subscription_ids(change)
        assert gone_id not in ids and kept_id in ids
    # the kept subscription counted every change: the intent's create, update and delete, the constraint
    assert client.get(f"{SUBS}/{kept_id}", headers=h3).json()["subscription"]["notification_index"] == 4


# -- contention (services/transact.py): retried, then 409 as the standard says ----------------------
class AlwaysContended:
    """A unit-of-work factory whose transactions always lose a race (as under extreme contention)."""

    def __init__(self) -> None:
        self.attempts = 0

    def __call__(self, *, readonly: bool = False) -> AlwaysContended:
        return self

    def __enter__(self) -> UnitOfWork:
        self.attempts += 1
        raise TransientConflict("could not serialize access due to concurrent update")

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None


@pytest.fixture
def contended(verifier: TokenVerifier) -> Iterator[tuple[TestClient, AlwaysContended]]:
    factory = AlwaysContended()
    ctx = DssContext(uow_factory=factory, clock=FixedClock(datetime.now(UTC)), max_retries=2)
    with TestClient(create_app(ctx, verifier), base_url="http://testserver") as c:
        yield c, factory


def test_contention_exhausted_is_409_where_declared_else_429(
    contended: tuple[TestClient, AlwaysContended], token_for: TokenFor
) -> None:
    """F3548 declares 409 for "Despite repeated attempts, the DSS was unable to complete the update
    because of other simultaneous changes" on the changes that declare 409; where 409 is not
    declared (reads, reports), 429 (retry later) rather than 400 (which says the request is wrong)."""
    client, factory = contended
    h = token_for("uss1", SC, CM, CP, AA)
    e, ovn = str(uuid.uuid4()), "o" * 20
    sub = sub_params()
    cons = {"extents": [vol()], "uss_base_url": "https://uss1.example/utm"}
    report = {
        "exchange": {
            "url": "https://uss2.example/x",
            "method": "GET",
            "headers": [],
            "recorder_role": "Client",
            "request_time": t(0),
            "response_code": 500,
            "problem": "timeout",
        }
    }
    cases: list[tuple[Callable[[], Any], int]] = [
        (lambda: client.put(f"{OIRS}/{e}", json=params(), headers=h), 409),
        (lambda: client.put(f"{OIRS}/{e}/{ovn}", json=params(), headers=h), 409),
        (lambda: client.delete(f"{OIRS}/{e}/{ovn}", headers=h), 409),
        (lambda: client.put(f"{CRS}/{e}", json=cons, headers=h), 409),
        (lambda: client.put(f"{CRS}/{e}/{ovn}", json=cons, headers=h), 409),
        (lambda: client.delete(f"{CRS}/{e}/{ovn}", headers=h), 409),
        (lambda: client.put(f"{SUBS}/{e}", json=sub, headers=h), 409),
        (lambda: client.put(f"{SUBS}/{e}/{ovn}", json=sub, headers=h), 409),
        (lambda: client.delete(f"{SUBS}/{e}/{ovn}", headers=h), 409),
        (
            lambda: client.put(
                "/dss/v1/uss_availability/uss1", json={"old_version": "", "availability": "Down"}, headers=h
            ),
            409,
        ),
        (lambda: client.post("/dss/v1/reports", json=report, headers=h), 429),
        (lambda: client.get(f"{OIRS}/{e}", headers=h), 429),
        (lambda: client.post(f"{OIRS}/query", json={"area_of_interest": vol()}, headers=h), 429),
        (lambda: client.get(f"{CRS}/{e}", headers=h), 429),
        (lambda: client.post(f"{CRS}/query", json={"area_of_interest": vol()}, headers=h), 429),
        (lambda: client.get(f"{SUBS}/{e}", headers=h), 429),
        (lambda: client.post(f"{SUBS}/query", json={"area_of_interest": vol()}, headers=h), 429),
        (lambda: client.get("/dss/v1/uss_availability/uss1", headers=h), 429),
    ]
    for i, (send, status) in enumerate(cases):
        before = factory.attempts
        r = send()
        assert r.status_code == status, (i, r.text)
        assert "simultaneous changes" in r.json()["message"]
        assert factory.attempts - before == 3  # the first attempt and max_retries=2 more
    conflict = client.put(f"{OIRS}/{e}", json=params(), headers=h).json()
    assert conflict["missing_operational_intents"] == [] and conflict["missing_constraints"] == []


# -- the periodic removal of ended entities (astm.f3548.v21.DSS0210,A2-7-2,4d; api/app.py::_sweep) --
def _wait_for(condition: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def _populate(client: TestClient, token_for: TokenFor) -> dict[str, str]:
    """An intent ending in 30 min (with its implicit subscription), one ending in 90 min, a
    subscription ending in 40 min and a constraint ending in 30 min; their GET paths by name."""
    h, cm = token_for("uss1", SC), token_for("uss2", CM)
    short_id, short = create(client, h, extents=[vol(5, 30, lat=40.0)])
    long_id, long = create(client, h, extents=[vol(5, 90, lat=41.0)])
    sid, cid = str(uuid.uuid4()), str(uuid.uuid4())
    assert (
        client.put(f"{SUBS}/{sid}", json=sub_params(extents=vol(1, 40, lat=42.0)), headers=h).status_code
        == 200
    )
    constraint = {"extents": [vol(5, 30, lat=43.0)], "uss_base_url": "https://uss2.example"}
    assert client.put(f"{CRS}/{cid}", json=constraint, headers=cm).status_code == 201
    return {
        "short": f"{OIRS}/{short_id}",
        "short's subscription": f"{SUBS}/{short['operational_intent_reference']['subscription_id']}",
        "long": f"{OIRS}/{long_id}",
        "long's subscription": f"{SUBS}/{long['operational_intent_reference']['subscription_id']}",
        "subscription": f"{SUBS}/{sid}",
        "constraint": f"{CRS}/{cid}",
    }


def _statuses(client: TestClient, paths: dict[str, str], token_for: TokenFor) -> dict[str, int]:
    h = token_for("uss1", SC, CM)
    return {name: client.get(path, headers=h).status_code for name, path in paths.items()}


def test_the_running_app_removes_ended_entities(verifier: TokenVerifier, token_for: TokenFor) -> None:
    now = datetime.now(UTC)
    clock = FixedClock(now)
    store = MemoryStore()
    ctx = DssContext(uow_factory=store.unit_of_work, clock=clock)
    with TestClient(create_app(ctx, verifier, cleanup_interval_s=0.02), base_url="http://testserver") as c:
        paths = _populate(c, token_for)
        time.sleep(0.2)  # several sweeps: nothing live is removed
        assert set(_statuses(c, paths, token_for).values()) == {200}

        clock.set(now + timedelta(minutes=60))
        assert _wait_for(lambda: not store.constraints.rows and len(store.operational_intents.rows) == 1)
        assert _wait_for(lambda: len(store.subscriptions.rows) == 1)
        assert _statuses(c, paths, token_for) == {
            "short": 404,
            "short's subscription": 404,
            "long": 200,
            "long's subscription": 200,
            "subscription": 404,
            "constraint": 404,
        }

        clock.set(now + timedelta(minutes=120))
        assert _wait_for(lambda: not store.operational_intents.rows and not store.subscriptions.rows)


def test_no_sweep_without_an_interval(verifier: TokenVerifier, token_for: TokenFor) -> None:
    now = datetime.now(UTC)
    clock = FixedClock(now)
    store = MemoryStore()
    ctx = DssContext(uow_factory=store.unit_of_work, clock=clock)
    with TestClient(create_app(ctx, verifier), base_url="http://testserver") as c:
        paths = _populate(c, token_for)
        clock.set(now + timedelta(minutes=120))
        time.sleep(0.2)
        # ended entities are still stored (the sweep, not the reads, removes them)
        assert set(_statuses(c, paths, token_for).values()) == {200}
