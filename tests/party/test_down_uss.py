"""Planning against a USS whose details cannot be had: refused (502, naming it) unless the DSS
reports that USS Down; then its Accepted intents count as the lowest priority (SCD0005) and its
flying ones as the highest (SCD0010), over the whole area queried."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.party.conftest import World, operation_body, square

SC = "utm.strategic_coordination"
AA = "utm.availability_arbitration"
OIR = "/dss/v1/operational_intent_references"


def _when(minutes: float) -> dict[str, str]:
    t = (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")
    return {"value": t, "format": "RFC3339"}


def _virtual_intent(world: World, state: str = "Accepted") -> str:
    """An intent of a 'virtual' USS whose base URL answers nothing useful (404)."""
    entity_id = str(uuid.uuid4())
    body: dict[str, Any] = {
        "extents": [
            {
                "volume": {
                    "outline_polygon": {
                        "vertices": [
                            {"lat": 47.0, "lng": 8.0},
                            {"lat": 47.0, "lng": 8.01},
                            {"lat": 47.01, "lng": 8.01},
                            {"lat": 47.01, "lng": 8.0},
                        ]
                    },
                    "altitude_lower": {"value": 0, "reference": "W84", "units": "M"},
                    "altitude_upper": {"value": 120, "reference": "W84", "units": "M"},
                },
                "time_start": _when(1),
                "time_end": _when(90),
            }
        ],
        "key": [],
        "state": "Accepted",
        "uss_base_url": "http://testserver/nowhere",
        "new_subscription": {"uss_base_url": "http://testserver/nowhere"},
    }
    created = world.client.put(f"{OIR}/{entity_id}", json=body, headers=world.token("virtual", SC))
    assert created.status_code == 201, created.text
    if state != "Accepted":
        ovn = created.json()["operational_intent_reference"]["ovn"]
        body |= {"state": state, "key": [ovn]}
        body.pop("new_subscription")
        body["subscription_id"] = created.json()["operational_intent_reference"]["subscription_id"]
        updated = world.client.put(f"{OIR}/{entity_id}/{ovn}", json=body, headers=world.token("virtual", SC))
        assert updated.status_code == 200, updated.text
    return entity_id


def _set_availability(world: World, availability: str) -> None:
    current = world.client.get("/dss/v1/uss_availability/virtual", headers=world.token("arbiter", AA))
    version = current.json()["version"] if current.status_code == 200 else ""
    answer = world.client.put(
        "/dss/v1/uss_availability/virtual",
        json={"old_version": version, "availability": availability},
        headers=world.token("arbiter", AA),
    )
    assert answer.status_code == 200, answer.text


def _plan(world: World, priority: int) -> Any:
    return world.client.post(
        world.ops_url("red", "/operations"),
        json=operation_body(square(8.005, 47.005, 0.01), priority=priority),
        headers=world.operator("red"),
    )


def test_a_peer_that_gives_no_details_fails_the_planning_naming_it(world: World) -> None:
    entity_id = _virtual_intent(world)
    answer = _plan(world, 50)
    assert answer.status_code == 502, answer.text
    assert entity_id in answer.json()["message"] and "'virtual'" in answer.json()["message"]
    assert (
        world.client.get(world.ops_url("red", "/operations"), headers=world.operator("red")).json()[
            "operations"
        ]
        == []
    )


def test_an_accepted_intent_of_a_down_uss_is_the_lowest_priority(world: World) -> None:  # SCD0005
    entity_id = _virtual_intent(world)
    _set_availability(world, "Down")
    answer = _plan(world, 0)
    assert answer.status_code == 201, answer.text
    (conflict,) = answer.json()["check"]["conflicts"]
    assert (conflict["other_id"], conflict["blocking"], conflict["reason"]) == (
        entity_id,
        False,
        "lower_priority",
    )
    assert "reports Down" in conflict["explanation"] and "SCD0005" in conflict["explanation"]


def test_a_flying_intent_of_a_down_uss_is_the_highest_priority(world: World) -> None:  # SCD0010
    entity_id = _virtual_intent(world, "Activated")
    _set_availability(world, "Down")
    for priority, reason in ((50, "higher_priority"), (100, "same_priority")):
        answer = _plan(world, priority)
        assert answer.status_code == 409, answer.text
        (conflict,) = answer.json()["check"]["conflicts"]
        assert (conflict["other_id"], conflict["blocking"], conflict["reason"]) == (entity_id, True, reason)
        assert "SCD0010" in conflict["explanation"]
    # Normal again: its details are needed again, and it still gives none.
    _set_availability(world, "Normal")
    assert _plan(world, 50).status_code == 502
