"""A party node's F3548 USS peer API (``{uss_base_url}/uss/v1``), called as another USS would.

Security is the standard's: each operation's ``security`` in F3548-21's utm.yaml (astm-utm/Protocol)
is transcribed below and checked against ``uas_standards.astm.f3548.v21.api.OPERATIONS``; every
subset of the five F3548 scopes (plus a scope of another standard, which grants nothing) is tried
on each operation: 403 exactly when no allowed set is held, else the operation's success status.
Bodies served to peers parse into the standard's types and carry nothing the types do not know
(astm.f3548.v21.USS0105 details, SCD0100 telemetry); notifications update the node's picture of
others and tell its operators of new conflicts (SCD0085); malformed notifications are 400 and
change nothing.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from implicitdict import ImplicitDict
from uas_standards.astm.f3548.v21 import api
from uas_standards.astm.f3548.v21.api import OPERATIONS
from uas_standards.astm.f3548.v21.constants import Scope

from parley.domain.operations import OpState
from parley.services.party import planning
from tests.party.conftest import World, iso, make_world, operation_body, square

SC = Scope.StrategicCoordination.value
CM = Scope.ConstraintManagement.value
CP = Scope.ConstraintProcessing.value
CMSA = Scope.ConformanceMonitoringForSituationalAwareness.value
AA = Scope.AvailabilityArbitration.value
F3548_SCOPES = (SC, CM, CP, CMSA, AA)
#: A scope of another standard (F3411 remote ID): it must grant nothing here.
FOREIGN_SCOPE = "dss.read.identification_service_areas"

#: ``security`` of each USS operation in F3548-21's utm.yaml: alternative scope sets.
STANDARD_SECURITY: dict[str, tuple[frozenset[str], ...]] = {
    "getOperationalIntentDetails": (frozenset({SC}),),
    "getOperationalIntentTelemetry": (frozenset({CMSA}),),
    "notifyOperationalIntentDetailsChanged": (frozenset({SC}),),
    "getConstraintDetails": (frozenset({CP}),),
    "notifyConstraintDetailsChanged": (frozenset({CM}),),
    "makeUssReport": tuple(frozenset({s}) for s in F3548_SCOPES),
}
#: Operations of the standard's USS API a party node does not serve (optional log sets).
NOT_SERVED = {"getLogSet"}
UTM_YAML = Path("/tmp/utm.yaml")

SUBSETS = [
    frozenset(c) for r in range(len(F3548_SCOPES) + 1) for c in itertools.combinations(F3548_SCOPES, r)
]


# -- helpers -------------------------------------------------------------------------------------


def exactly(body: Any, cls: type[ImplicitDict]) -> ImplicitDict:
    """``body`` parsed as the standard's ``cls``, asserting that nothing was dropped or changed on
    the way (``ImplicitDict.parse`` ignores fields the type does not know, and adds defaults)."""
    parsed = ImplicitDict.parse(body, cls)
    _same(body, json.loads(json.dumps(parsed)), cls.__name__)
    return parsed


def _same(sent: Any, parsed: Any, where: str) -> None:
    if isinstance(sent, dict):
        assert isinstance(parsed, dict), where
        unknown = set(sent) - set(parsed)
        assert not unknown, f"{where}: fields outside the standard: {sorted(unknown)}"
        for key, value in sent.items():
            _same(value, parsed[key], f"{where}.{key}")
    elif isinstance(sent, list):
        assert isinstance(parsed, list) and len(parsed) == len(sent), where
        for i, (a, b) in enumerate(zip(sent, parsed, strict=True)):
            _same(a, b, f"{where}[{i}]")
    else:
        assert sent == parsed, f"{where}: {sent!r} read as {parsed!r}"


def t(minutes: float) -> dict[str, str]:
    return {"value": iso(datetime.now(UTC) + timedelta(minutes=minutes)), "format": "RFC3339"}


def f3548_volume(
    lng: float, lat: float, size: float = 0.01, *, reference: str = "W84", start: float = 5, end: float = 65
) -> dict[str, Any]:
    return {
        "volume": {
            "outline_polygon": {
                "vertices": [
                    {"lng": lng, "lat": lat},
                    {"lng": lng + size, "lat": lat},
                    {"lng": lng + size, "lat": lat + size},
                    {"lng": lng, "lat": lat + size},
                ]
            },
            "altitude_lower": {"value": 0, "reference": reference, "units": "M"},
            "altitude_upper": {"value": 120, "reference": reference, "units": "M"},
        },
        "time_start": t(start),
        "time_end": t(end),
    }


def intent_notification(
    entity_id: str, volumes: list[dict[str, Any]] | None = None, *, manager: str = "blue", priority: int = 0
) -> dict[str, Any]:
    """A ``PutOperationalIntentDetailsParameters`` from ``manager`` (volumes None: a removal)."""
    body: dict[str, Any] = {
        "operational_intent_id": entity_id,
        "subscriptions": [{"subscription_id": str(uuid.uuid4()), "notification_index": 3}],
    }
    if volumes is not None:
        body["operational_intent"] = {
            "reference": {
                "id": entity_id,
                "manager": manager,
                "uss_availability": "Normal",
                "version": 1,
                "state": "Accepted",
                "ovn": "o" * 20,
                "time_start": volumes[0]["time_start"],
                "time_end": volumes[0]["time_end"],
                "uss_base_url": f"http://testserver/parties/{manager}",
                "subscription_id": str(uuid.uuid4()),
            },
            "details": {"volumes": volumes, "off_nominal_volumes": [], "priority": priority},
        }
    return body


def constraint_notification(
    entity_id: str, volumes: list[dict[str, Any]] | None = None, *, manager: str = "green"
) -> dict[str, Any]:
    """A ``PutConstraintDetailsParameters`` from ``manager`` (volumes None: a removal)."""
    body: dict[str, Any] = {
        "constraint_id": entity_id,
        "subscriptions": [{"subscription_id": str(uuid.uuid4()), "notification_index": 1}],
    }
    if volumes is not None:
        body["constraint"] = {
            "reference": {
                "id": entity_id,
                "manager": manager,
                "uss_availability": "Normal",
                "version": 1,
                "ovn": "c" * 20,
                "time_start": volumes[0]["time_start"],
                "time_end": volumes[0]["time_end"],
                "uss_base_url": f"http://testserver/parties/{manager}",
            },
            "details": {"volumes": volumes, "type": "reservation"},
        }
    return body


def report(problem: str = "timeout") -> dict[str, Any]:
    return {
        "exchange": {
            "url": "http://testserver/parties/red/uss/v1/operational_intents/x",
            "method": "GET",
            "headers": ["Accept: application/json"],
            "recorder_role": "Client",
            "request_time": t(0),
            "response_code": 500,
            "problem": problem,
        }
    }


def plan(world: World, party: str, body: dict[str, Any]) -> dict[str, Any]:
    r = world.client.post(world.ops_url(party, "/operations"), json=body, headers=world.operator(party))
    assert r.status_code == 201, r.text
    op: dict[str, Any] = r.json()["operation"]
    return op


def activate(world: World, party: str, op_id: str) -> dict[str, Any]:
    r = world.client.post(
        world.ops_url(party, f"/operations/{op_id}/activate"), headers=world.operator(party)
    )
    assert r.status_code == 200, r.text
    op: dict[str, Any] = r.json()["operation"]
    return op


def stray_sample(world: World, party: str, op_id: str, **extra: Any) -> dict[str, Any]:
    """Send a position far outside the operation's volumes; the node's answer."""
    sample = {"time": iso(datetime.now(UTC)), "lat": 47.5, "lng": 8.5, "alt_m": 50.0, **extra}
    r = world.client.post(
        world.ops_url(party, f"/operations/{op_id}/telemetry"),
        json={"samples": [sample]},
        headers=world.operator(party),
    )
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


def publish(world: World, party: str, *features: dict[str, Any]) -> dict[str, Any]:
    body = operation_body(*features)
    del body["priority"]
    r = world.client.post(world.ops_url(party, "/reservations"), json=body, headers=world.operator(party))
    assert r.status_code == 201, r.text
    reservation: dict[str, Any] = r.json()["reservation"]
    return reservation


def others(world: World, party: str) -> list[dict[str, Any]]:
    r = world.client.get(world.ops_url(party, "/others"), headers=world.operator(party))
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["others"]
    return items


def notifications(world: World, party: str, kind: str | None = None) -> list[dict[str, Any]]:
    r = world.client.get(world.ops_url(party, "/notifications"), headers=world.operator(party))
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["notifications"]
    return [n for n in items if kind is None or n["kind"] == kind]


# -- the standard's table ------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    verb: str
    template: str
    path: Callable[[Shared], str]
    body: Callable[[Shared], dict[str, Any] | None]
    success: int


@dataclass(frozen=True)
class Shared:
    """A world where red has a Nonconforming operation with telemetry and a reservation."""

    world: World
    op_id: str
    constraint_id: str


CALLS: dict[str, Call] = {
    "getOperationalIntentDetails": Call(
        "GET",
        "/uss/v1/operational_intents/{entityid}",
        lambda s: f"/operational_intents/{s.op_id}",
        lambda s: None,
        200,
    ),
    "getOperationalIntentTelemetry": Call(
        "GET",
        "/uss/v1/operational_intents/{entityid}/telemetry",
        lambda s: f"/operational_intents/{s.op_id}/telemetry",
        lambda s: None,
        200,
    ),
    "notifyOperationalIntentDetailsChanged": Call(
        "POST",
        "/uss/v1/operational_intents",
        lambda s: "/operational_intents",
        lambda s: intent_notification(str(uuid.uuid4())),
        204,
    ),
    "getConstraintDetails": Call(
        "GET",
        "/uss/v1/constraints/{entityid}",
        lambda s: f"/constraints/{s.constraint_id}",
        lambda s: None,
        200,
    ),
    "notifyConstraintDetailsChanged": Call(
        "POST",
        "/uss/v1/constraints",
        lambda s: "/constraints",
        lambda s: constraint_notification(str(uuid.uuid4())),
        204,
    ),
    "makeUssReport": Call("POST", "/uss/v1/reports", lambda s: "/reports", lambda s: report(), 201),
}


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    with contextlib.contextmanager(make_world)(tmp_path_factory.mktemp("uss-api")) as world:
        op = plan(world, "red", operation_body(square(8.0, 47.0, 0.02), start_min=0, name="Survey"))
        activate(world, "red", op["id"])
        assert stray_sample(world, "red", op["id"])["state"] == "Nonconforming"
        reservation = publish(world, "red", square(9.0, 47.0, 0.02))
        yield Shared(world, op["id"], reservation["id"])


@pytest.fixture(scope="module")
def calm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A world where red has one operation and knows of nothing else: malformed notifications,
    which must change nothing, share it."""
    with contextlib.contextmanager(make_world)(tmp_path_factory.mktemp("uss-calm")) as world:
        plan(world, "red", operation_body(square(8.0, 47.0, 0.02)))
        yield world


def unchanged(world: World, before: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> None:
    assert (others(world, "red"), notifications(world, "red")) == before


def send(shared: Shared, call: Call, headers: dict[str, str]) -> Any:
    world = shared.world
    return world.client.request(
        call.verb, world.uss_url("red", call.path(shared)), json=call.body(shared), headers=headers
    )


def test_the_table_is_every_uss_operation_of_the_standard() -> None:
    uss = {op.id: op for op in OPERATIONS.values() if op.path.startswith("/uss/")}
    assert set(STANDARD_SECURITY) | NOT_SERVED == set(uss)
    for op_id, call in CALLS.items():
        assert (call.verb, call.template) == (uss[op_id].verb, uss[op_id].path), op_id


@pytest.mark.skipif(not UTM_YAML.exists(), reason="F3548-21 utm.yaml not at hand")
def test_the_table_is_the_security_of_the_standard_yaml() -> None:
    spec = yaml.safe_load(UTM_YAML.read_text())
    found = {
        op["operationId"]: {frozenset(alt["Authority"]) for alt in op["security"]}
        for path, item in spec["paths"].items()
        if path.startswith("/uss/")
        for op in item.values()
        if isinstance(op, dict) and op.get("security")
    }
    assert found == {op_id: set(alternatives) for op_id, alternatives in STANDARD_SECURITY.items()}


def test_the_served_api_has_every_operation_at_its_path(shared: Shared) -> None:
    r = shared.world.client.get("/parties/red/openapi.json")
    assert r.status_code == 200
    served = {
        op["operationId"]: (verb.upper(), path)
        for path, item in r.json()["paths"].items()
        for verb, op in item.items()
        if path.startswith("/uss/")
    }
    assert served == {op_id: (c.verb, c.template) for op_id, c in CALLS.items()}


@pytest.mark.parametrize("op_id", sorted(STANDARD_SECURITY))
def test_no_valid_token_is_401(shared: Shared, op_id: str) -> None:
    call = CALLS[op_id]
    valid = shared.world.token("blue", *F3548_SCOPES)["Authorization"]
    for headers in [
        {},
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": "Basic Ymx1ZTpwYXNz"},
        {"Authorization": valid[:-4] + "AAAA"},  # signature broken
    ]:
        r = send(shared, call, headers)
        assert r.status_code == 401, (op_id, headers, r.text)
        assert r.headers["www-authenticate"] == "Bearer" and r.json()["message"]


@pytest.mark.parametrize("op_id", sorted(STANDARD_SECURITY))
def test_scopes_allowed_by_the_standard_and_only_those(shared: Shared, op_id: str) -> None:
    call = CALLS[op_id]
    allowed = STANDARD_SECURITY[op_id]
    for held in SUBSETS:
        r = send(shared, call, shared.world.token("blue", *sorted(held), FOREIGN_SCOPE))
        if any(required <= held for required in allowed):
            assert r.status_code == call.success, (op_id, sorted(held), r.text)
        else:
            assert r.status_code == 403, (op_id, sorted(held), r.text)
            assert "scope" in r.json()["message"]


def test_scopes_are_checked_before_the_entity(shared: Shared) -> None:
    world, unknown = shared.world, str(uuid.uuid4())
    for path, scope in [
        (f"/operational_intents/{unknown}", CP),
        (f"/operational_intents/{unknown}/telemetry", SC),
        (f"/constraints/{unknown}", SC),
        ("/operational_intents/not-a-uuid", CP),
    ]:
        r = world.client.get(world.uss_url("red", path), headers=world.token("blue", scope))
        assert r.status_code == 403, (path, r.text)


# -- details -------------------------------------------------------------------------------------


def test_operational_intent_details_are_exactly_the_standard_response(shared: Shared) -> None:
    world = shared.world
    r = world.client.get(
        world.uss_url("red", f"/operational_intents/{shared.op_id}"), headers=world.token("blue", SC)
    )
    assert r.status_code == 200, r.text
    parsed = exactly(r.json(), api.GetOperationalIntentDetailsResponse)
    intent = parsed.operational_intent
    assert intent.reference.id == shared.op_id and intent.reference.manager == "red"
    assert intent.reference.state in ("Nonconforming", "Contingent")  # Contingent after 2 s
    assert intent.reference.uss_base_url == "http://testserver/parties/red"
    assert len(intent.details.off_nominal_volumes) == 1
    assert len(intent.details.volumes) == (1 if intent.reference.state == "Nonconforming" else 0)
    mine = world.client.get(
        world.ops_url("red", f"/operations/{shared.op_id}"), headers=world.operator("red")
    )
    assert mine.json()["operation"]["ovn"] == intent.reference.ovn


def test_constraint_details_are_exactly_the_standard_response(shared: Shared) -> None:
    world = shared.world
    r = world.client.get(
        world.uss_url("red", f"/constraints/{shared.constraint_id}"), headers=world.token("blue", CP)
    )
    assert r.status_code == 200, r.text
    parsed = exactly(r.json(), api.GetConstraintDetailsResponse)
    assert parsed.constraint.reference.id == shared.constraint_id
    assert parsed.constraint.reference.manager == "red"
    assert parsed.constraint.details.type == "reservation"


def test_details_of_what_the_node_does_not_serve_are_404(world: World) -> None:
    op = plan(world, "red", operation_body(square(8.0, 47.0)))
    reservation = publish(world, "red", square(9.0, 47.0))
    sc, cp = world.token("blue", SC), world.token("blue", CP)
    get = world.client.get
    assert get(world.uss_url("red", f"/operational_intents/{op['id']}"), headers=sc).status_code == 200
    # another party's node on the same server does not serve red's operation
    assert get(world.uss_url("blue", f"/operational_intents/{op['id']}"), headers=sc).status_code == 404
    # a constraint is not an operational intent and vice versa
    assert (
        get(world.uss_url("red", f"/operational_intents/{reservation['id']}"), headers=sc).status_code == 404
    )
    assert get(world.uss_url("red", f"/constraints/{op['id']}"), headers=cp).status_code == 404
    for unknown in [str(uuid.uuid4())]:
        r = get(world.uss_url("red", f"/operational_intents/{unknown}"), headers=sc)
        assert r.status_code == 404 and r.json()["message"]
        exactly(r.json(), api.ErrorResponse)
        assert get(world.uss_url("red", f"/constraints/{unknown}"), headers=cp).status_code == 404
    # ended / withdrawn: no longer published
    ended = world.client.post(
        world.ops_url("red", f"/operations/{op['id']}/end"), headers=world.operator("red")
    )
    assert ended.status_code == 200, ended.text
    assert get(world.uss_url("red", f"/operational_intents/{op['id']}"), headers=sc).status_code == 404
    withdrawn = world.client.delete(
        world.ops_url("red", f"/reservations/{reservation['id']}"), headers=world.operator("red")
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert get(world.uss_url("red", f"/constraints/{reservation['id']}"), headers=cp).status_code == 404


def test_served_details_hold_the_volumes_the_standard_asks_in_each_state(world: World) -> None:
    """F3548 ``OperationalIntentDetails``: ``volumes`` at least one item when Accepted, Activated or
    Nonconforming, none when Contingent; ``off_nominal_volumes`` at least one item when
    Nonconforming or Contingent, none when Accepted or Activated."""
    sc, node = world.token("blue", SC), world.server.nodes["red"]

    def served(op_id: str) -> tuple[str, int, int]:
        r = world.client.get(world.uss_url("red", f"/operational_intents/{op_id}"), headers=sc)
        intent = exactly(r.json(), api.GetOperationalIntentDetailsResponse).operational_intent
        return intent.reference.state, len(intent.details.volumes), len(intent.details.off_nominal_volumes)

    op = plan(world, "red", operation_body(square(8.0, 47.0, 0.02), start_min=0))["id"]
    assert served(op) == ("Accepted", 1, 0)
    activate(world, "red", op)
    assert served(op) == ("Activated", 1, 0)
    stray_sample(world, "red", op)
    state, volumes, off_nominal = served(op)
    assert state in ("Nonconforming", "Contingent") and off_nominal == 1
    assert volumes == (1 if state == "Nonconforming" else 0)
    world.client.portal.call(planning.change_state, node, op, OpState.CONTINGENT)  # type: ignore[union-attr]
    assert served(op) == ("Contingent", 0, 1)

    # moved off-nominal without an off-nominal volume given: the planned ones stand for it
    other = plan(world, "red", operation_body(square(9.0, 47.0, 0.02), start_min=0))["id"]
    activate(world, "red", other)
    world.client.portal.call(planning.change_state, node, other, OpState.NONCONFORMING)  # type: ignore[union-attr]
    assert served(other) == ("Nonconforming", 1, 1)
    world.client.portal.call(planning.change_state, node, other, OpState.CONTINGENT)  # type: ignore[union-attr]
    assert served(other) == ("Contingent", 0, 1)


@pytest.mark.parametrize("bad", ["not-a-uuid", "123", "00000000-0000-0000-0000-00000000000g"])
def test_a_bad_entity_id_is_400(world: World, bad: str) -> None:
    for path, scope in [
        (f"/operational_intents/{bad}", SC),
        (f"/operational_intents/{bad}/telemetry", CMSA),
        (f"/constraints/{bad}", CP),
    ]:
        r = world.client.get(world.uss_url("red", path), headers=world.token("blue", scope))
        assert r.status_code == 400, (path, r.text)
        exactly(r.json(), api.ErrorResponse)


# -- telemetry -----------------------------------------------------------------------------------


def test_telemetry_only_of_an_off_nominal_operation_with_a_sample(world: World) -> None:
    cmsa = world.token("blue", CMSA)
    op = plan(world, "red", operation_body(square(8.0, 47.0, 0.02), start_min=0))
    url = world.uss_url("red", f"/operational_intents/{op['id']}/telemetry")
    r = world.client.get(url, headers=cmsa)
    assert r.status_code == 409, r.text  # Accepted
    exactly(r.json(), api.ErrorResponse)
    activate(world, "red", op["id"])
    assert world.client.get(url, headers=cmsa).status_code == 409  # Activated
    assert (
        world.client.get(
            world.uss_url("red", f"/operational_intents/{uuid.uuid4()}/telemetry"), headers=cmsa
        ).status_code
        == 404
    )

    # Nonconforming without any position report (moved there by the node itself)
    node = world.server.nodes["red"]
    moved = world.client.portal.call(planning.change_state, node, op["id"], OpState.NONCONFORMING)  # type: ignore[union-attr]
    assert moved.state is OpState.NONCONFORMING
    r = world.client.get(url, headers=cmsa)
    assert r.status_code == 412, r.text
    exactly(r.json(), api.ErrorResponse)


def test_telemetry_is_the_latest_sample_after_the_aircraft_strays(world: World) -> None:
    cmsa = world.token("blue", CMSA)
    op = plan(world, "red", operation_body(square(8.0, 47.0, 0.02), start_min=0))
    activate(world, "red", op["id"])
    answer = stray_sample(world, "red", op["id"], speed_mps=12.5, accuracy_h_m=2.0, accuracy_v_m=4.0)
    assert answer["verdict"] == "nonconforming" and answer["state"] == "Nonconforming"
    r = world.client.get(world.uss_url("red", f"/operational_intents/{op['id']}/telemetry"), headers=cmsa)
    assert r.status_code == 200, r.text
    parsed = exactly(r.json(), api.GetOperationalIntentTelemetryResponse)
    assert parsed.operational_intent_id == op["id"]
    position = parsed.telemetry.position
    assert (position.latitude, position.longitude) == (47.5, 8.5)
    assert position.altitude.value == 50.0 and position.altitude.reference == "W84"
    assert (position.accuracy_h, position.accuracy_v) == ("HA3m", "VA10m")
    assert parsed.telemetry.velocity.speed == 12.5
    assert "track" not in r.json()["telemetry"]["velocity"]  # not reported, so not invented
    assert parsed.next_telemetry_opportunity.value.datetime > datetime.now(UTC) - timedelta(seconds=5)

    # a later sample is the one served
    later = {
        "time": iso(datetime.now(UTC)),
        "lat": 47.6,
        "lng": 8.6,
        "alt_m": 70.0,
        "track_deg": 90.0,
        "speed_mps": 3.0,
    }
    r = world.client.post(
        world.ops_url("red", f"/operations/{op['id']}/telemetry"),
        json={"samples": [later]},
        headers=world.operator("red"),
    )
    assert r.status_code == 200, r.text
    r = world.client.get(world.uss_url("red", f"/operational_intents/{op['id']}/telemetry"), headers=cmsa)
    parsed = exactly(r.json(), api.GetOperationalIntentTelemetryResponse)
    assert (parsed.telemetry.position.latitude, parsed.telemetry.velocity.track) == (47.6, 90.0)


# -- notifications -------------------------------------------------------------------------------


def post_intent(world: World, body: Any, sender: str = "blue", party: str = "red") -> Any:
    return world.client.post(
        world.uss_url(party, "/operational_intents"), json=body, headers=world.token(sender, SC)
    )


def post_constraint(world: World, body: Any, sender: str = "green", party: str = "red") -> Any:
    return world.client.post(world.uss_url(party, "/constraints"), json=body, headers=world.token(sender, CM))


def test_an_overlapping_intent_is_learnt_and_reported_as_a_conflict(world: World) -> None:
    mine = plan(world, "red", operation_body(square(8.0, 47.0, 0.02), name="Survey"))
    theirs = str(uuid.uuid4())
    r = post_intent(world, intent_notification(theirs, [f3548_volume(8.005, 47.005)], priority=0))
    assert r.status_code == 204, r.text
    assert r.content == b""
    known = others(world, "red")
    assert [(o["id"], o["kind"], o["manager"], o["state"]) for o in known] == [
        (theirs, "operational_intent", "blue", "Accepted")
    ]
    assert known[0]["volumes"]["features"][0]["geometry"]["type"] == "Polygon"
    conflicts = notifications(world, "red", "conflict")
    assert len(conflicts) == 1
    assert conflicts[0]["operation_id"] == mine["id"]
    assert conflicts[0]["details"]["other_id"] == theirs
    assert conflicts[0]["details"]["other_manager"] == "blue"

    # the same intent, changed to somewhere clear (its next version): no new conflict
    moved = intent_notification(theirs, [f3548_volume(10.0, 47.0)])
    moved["operational_intent"]["reference"]["version"] = 2
    r = post_intent(world, moved)
    assert r.status_code == 204, r.text
    assert len(notifications(world, "red", "conflict")) == 1
    assert others(world, "red")[0]["volumes"]["features"][0]["geometry"]["coordinates"][0][0] == [10.0, 47.0]

    # removal
    r = post_intent(world, intent_notification(theirs))
    assert r.status_code == 204, r.text
    assert others(world, "red") == []
    removed = notifications(world, "red", "peer_operation_removed")
    assert len(removed) == 1 and removed[0]["details"]["operational_intent_id"] == theirs
    # removal of something never known: accepted, nothing to say
    assert post_intent(world, intent_notification(str(uuid.uuid4()))).status_code == 204
    assert len(notifications(world, "red", "peer_operation_removed")) == 1


def test_an_older_version_or_the_same_one_changed_is_409(world: World) -> None:
    """F3548 409: "The Entity version specified in this message is lower than a previously-received
    notification, or identical to a previously-received notification and the Entity is different"
    (notifications may arrive out of order)."""
    theirs = str(uuid.uuid4())
    newer = intent_notification(theirs, [f3548_volume(10.0, 47.0)])
    newer["operational_intent"]["reference"]["version"] = 2
    older = intent_notification(theirs, [f3548_volume(8.0, 47.0)])  # version 1, delivered late
    assert post_intent(world, newer).status_code == 204
    r = post_intent(world, older)
    assert r.status_code == 409, r.text
    exactly(r.json(), api.ErrorResponse)
    changed = copy.deepcopy(newer)
    changed["operational_intent"]["details"]["priority"] = 7
    assert post_intent(world, changed).status_code == 409
    # the very same notification again is fine (a retry), however its numbers are written
    again = copy.deepcopy(newer)
    for vertex in again["operational_intent"]["details"]["volumes"][0]["volume"]["outline_polygon"][
        "vertices"
    ]:
        vertex["lng"] = int(vertex["lng"]) if vertex["lng"] == int(vertex["lng"]) else vertex["lng"]
    assert post_intent(world, again).status_code == 204
    known = others(world, "red")
    assert [(o["id"], o["version"], o["priority"]) for o in known] == [(theirs, 2, 0)]
    assert known[0]["volumes"]["features"][0]["geometry"]["coordinates"][0][0] == [10.0, 47.0]
    newest = intent_notification(theirs, [f3548_volume(8.0, 47.0)])
    newest["operational_intent"]["reference"]["version"] = 3
    assert post_intent(world, newest).status_code == 204
    assert others(world, "red")[0]["version"] == 3

    constraint = str(uuid.uuid4())
    newer = constraint_notification(constraint, [f3548_volume(10.0, 47.0)])
    newer["constraint"]["reference"]["version"] = 3
    assert post_constraint(world, newer).status_code == 204
    assert (
        post_constraint(world, constraint_notification(constraint, [f3548_volume(8, 47)])).status_code == 409
    )
    assert {o["id"]: o["version"] for o in others(world, "red")}[constraint] == 3


def test_only_the_manager_may_change_or_remove_what_it_manages(world: World) -> None:
    """F3548 403: "The client identified in the access token is not the manager of this Entity
    according to the receiving client's records"."""
    intent, constraint = str(uuid.uuid4()), str(uuid.uuid4())
    assert post_intent(world, intent_notification(intent, [f3548_volume(10.0, 47.0)])).status_code == 204
    assert (
        post_constraint(world, constraint_notification(constraint, [f3548_volume(11.0, 47.0)])).status_code
        == 204
    )
    before = others(world, "red")
    hijack = intent_notification(intent, [f3548_volume(8.0, 47.0)], manager="green")
    hijack["operational_intent"]["reference"]["version"] = 5
    for body in (hijack, intent_notification(intent)):
        r = post_intent(world, body, sender="green")
        assert r.status_code == 403, r.text
        exactly(r.json(), api.ErrorResponse)
    assert post_constraint(world, constraint_notification(constraint), sender="blue").status_code == 403
    assert others(world, "red") == before
    assert post_constraint(world, constraint_notification(constraint)).status_code == 204  # green's own
    assert post_intent(world, intent_notification(intent)).status_code == 204  # blue's own
    assert others(world, "red") == []


def test_a_clear_intent_is_learnt_without_a_conflict(world: World) -> None:
    plan(world, "red", operation_body(square(8.0, 47.0, 0.02)))
    r = post_intent(world, intent_notification(str(uuid.uuid4()), [f3548_volume(20.0, 10.0)]))
    assert r.status_code == 204, r.text
    assert len(others(world, "red")) == 1
    assert notifications(world, "red", "conflict") == []


def test_an_overlapping_constraint_is_learnt_and_reported(world: World) -> None:
    mine = plan(world, "red", operation_body(square(8.0, 47.0, 0.02)))
    theirs = str(uuid.uuid4())
    r = post_constraint(world, constraint_notification(theirs, [f3548_volume(8.005, 47.005)]))
    assert r.status_code == 204, r.text
    known = others(world, "red")
    assert [(o["id"], o["kind"], o["manager"]) for o in known] == [(theirs, "constraint", "green")]
    conflicts = notifications(world, "red", "conflict")
    assert [(c["operation_id"], c["details"]["other_kind"]) for c in conflicts] == [
        (mine["id"], "constraint")
    ]
    r = post_constraint(world, constraint_notification(theirs))
    assert r.status_code == 204, r.text
    assert others(world, "red") == []
    assert len(notifications(world, "red", "peer_constraint_removed")) == 1


def _bad_intents() -> list[tuple[str, Callable[[dict[str, Any]], Any]]]:
    def drop(*path: str) -> Callable[[dict[str, Any]], Any]:
        def edit(body: dict[str, Any]) -> Any:
            target = body
            for key in path[:-1]:
                target = target[key]
            del target[path[-1]]
            return body

        return edit

    def put(value: Any, *path: str | int) -> Callable[[dict[str, Any]], Any]:
        def edit(body: dict[str, Any]) -> Any:
            target: Any = body
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
            return body

        return edit

    oi, vol0 = ("operational_intent",), ("operational_intent", "details", "volumes", 0)
    ring = (*vol0, "volume", "outline_polygon", "vertices")
    return [
        ("not an object", lambda b: [b]),
        ("no id", drop("operational_intent_id")),
        ("no subscriptions", drop("subscriptions")),
        ("no reference", drop(*oi, "reference")),
        ("no details", drop(*oi, "details")),
        ("no reference version", drop(*oi, "reference", "version")),
        ("no reference manager", drop(*oi, "reference", "manager")),
        ("no reference times", drop(*oi, "reference", "time_start")),
        ("version not a number", put("one", *oi, "reference", "version")),
        ("unknown state", put("Flying", *oi, "reference", "state")),
        ("id not a uuid", put("not-a-uuid", "operational_intent_id")),
        ("reference of another id", put(str(uuid.uuid4()), *oi, "reference", "id")),
        ("volumes not a list", put({"a": 1}, *oi, "details", "volumes")),
        ("priority not a number", put("high", *oi, "details", "priority")),
        ("no outline", drop(*vol0, "volume", "outline_polygon")),
        ("two vertices", put([{"lat": 47.0, "lng": 8.0}, {"lat": 47.1, "lng": 8.1}], *ring)),
        (
            "latitude out of range",
            put([{"lat": 147.0, "lng": 8.0}, {"lat": 47.0, "lng": 8.1}, {"lat": 47.1, "lng": 8.1}], *ring),
        ),
        (
            "lat not a number",
            put([{"lat": "x", "lng": 8.0}, {"lat": 47.0, "lng": 8.1}, {"lat": 47.1, "lng": 8.1}], *ring),
        ),
        (
            "floor above ceiling",
            put({"value": 500, "reference": "W84", "units": "M"}, *vol0, "volume", "altitude_lower"),
        ),
        ("time not RFC 3339", put({"value": "tomorrow", "format": "RFC3339"}, *vol0, "time_start")),
        ("end before start", put(t(-30), *vol0, "time_end")),
        (
            "altitude above ground",
            put({"value": 0, "reference": "SFC", "units": "M"}, *vol0, "volume", "altitude_lower"),
        ),
        (
            "altitude in feet",
            put({"value": 0, "reference": "W84", "units": "FT"}, *vol0, "volume", "altitude_lower"),
        ),
    ]


@pytest.mark.parametrize(("what", "edit"), _bad_intents(), ids=[w for w, _ in _bad_intents()])
def test_a_malformed_intent_notification_is_400_and_changes_nothing(
    calm: World, what: str, edit: Callable[[dict[str, Any]], Any]
) -> None:
    before = others(calm, "red"), notifications(calm, "red")
    body = edit(intent_notification(str(uuid.uuid4()), [f3548_volume(8.005, 47.005)]))
    r = post_intent(calm, body)
    assert r.status_code == 400, (what, r.status_code, r.text)
    exactly(r.json(), api.ErrorResponse)
    unchanged(calm, before)


@pytest.mark.parametrize(
    "what",
    [
        "no id",
        "no subscriptions",
        "no details",
        "no volumes",
        "id not a uuid",
        "reference of another id",
        "bad volume",
        "altitude above ground",
    ],
)
def test_a_malformed_constraint_notification_is_400_and_changes_nothing(calm: World, what: str) -> None:
    before = others(calm, "red"), notifications(calm, "red")
    body = constraint_notification(str(uuid.uuid4()), [f3548_volume(8.005, 47.005)])
    constraint = body["constraint"]
    if what == "no id":
        del body["constraint_id"]
    elif what == "no subscriptions":
        del body["subscriptions"]
    elif what == "no details":
        del constraint["details"]
    elif what == "no volumes":
        del constraint["details"]["volumes"]
    elif what == "id not a uuid":
        body["constraint_id"] = "x"
    elif what == "reference of another id":
        constraint["reference"]["id"] = str(uuid.uuid4())
    elif what == "bad volume":
        constraint["details"]["volumes"][0]["volume"]["outline_polygon"]["vertices"] = []
    elif what == "altitude above ground":
        constraint["details"]["volumes"][0]["volume"]["altitude_upper"]["reference"] = "SFC"
    r = post_constraint(calm, body)
    assert r.status_code == 400, (what, r.status_code, r.text)
    exactly(r.json(), api.ErrorResponse)
    unchanged(calm, before)


def test_a_notification_is_learnt_by_the_addressed_party_only(world: World) -> None:
    assert (
        post_intent(
            world, intent_notification(str(uuid.uuid4()), [f3548_volume(8.0, 47.0)]), party="green"
        ).status_code
        == 204
    )
    assert len(others(world, "green")) == 1
    assert others(world, "red") == [] and others(world, "blue") == []


# -- reports -------------------------------------------------------------------------------------


def test_a_report_is_kept_and_answered_with_its_id(world: World) -> None:
    sent = report("the details did not parse")
    r = world.client.post(world.uss_url("red", "/reports"), json=sent, headers=world.token("blue", CMSA))
    assert r.status_code == 201, r.text
    parsed = exactly(r.json(), api.ErrorReport)
    assert parsed.report_id
    # echoed as sent: nothing invented (no response_body, request_body of the client's own)
    assert {k: v for k, v in r.json().items() if k != "report_id"} == sent
    kept = notifications(world, "red", "peer_report")
    assert len(kept) == 1 and kept[0]["details"]["report_id"] == parsed.report_id
    assert kept[0]["details"]["reporter"] == "blue"
    assert "the details did not parse" in kept[0]["message"]
    again = world.client.post(world.uss_url("red", "/reports"), json=sent, headers=world.token("blue", AA))
    assert again.status_code == 201 and again.json()["report_id"] != parsed.report_id


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"exchange": {}},
        {"exchange": {"url": "x", "method": "GET", "recorder_role": "Judge", "request_time": t(0)}},
        {"exchange": {"url": "x", "method": "GET", "recorder_role": "Client"}},
        {"exchange": {"url": "x", "method": "GET", "recorder_role": "Client", "request_time": "now"}},
        [],
    ],
)
def test_a_malformed_report_is_400(calm: World, body: Any) -> None:
    before = others(calm, "red"), notifications(calm, "red")
    r = calm.client.post(calm.uss_url("red", "/reports"), json=body, headers=calm.token("blue", SC))
    assert r.status_code == 400, r.text
    exactly(r.json(), api.ErrorResponse)
    unchanged(calm, before)


def test_a_notification_must_come_from_the_manager_it_names_and_not_about_our_own(world: World) -> None:
    intent = str(uuid.uuid4())
    spoofed = intent_notification(intent, [f3548_volume(10.0, 47.0)], manager="blue")
    r = post_intent(world, spoofed, sender="green")  # green claims to speak for blue's intent
    assert r.status_code == 403, r.text
    assert "blue" in r.json()["message"] and "green" in r.json()["message"]
    constraint = constraint_notification(str(uuid.uuid4()), [f3548_volume(10.0, 47.0)], manager="green")
    assert post_constraint(world, constraint, sender="blue").status_code == 403
    mine = plan(world, "red", operation_body(square(8.0, 47.0, 0.02)))
    about_ours = intent_notification(mine["id"], [f3548_volume(8.0, 47.0)], manager="blue")
    assert post_intent(world, about_ours, sender="blue").status_code == 403
    assert others(world, "red") == []
