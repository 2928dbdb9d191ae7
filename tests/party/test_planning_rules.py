"""F3548's planning rules as the node applies them to changes, not only to new plans: a refused
modification or activation changes nothing anywhere (SCD0020, SCD0025), an Activated operation may be
modified despite the conflicts it already had (SCD0030) but not into new ones, and a refusal tells
nobody anything."""

from __future__ import annotations

from typing import Any

from tests.party.conftest import World, operation_body, square

SC = "utm.strategic_coordination"


def _plan(world: World, party: str, body: dict[str, Any]) -> Any:
    return world.client.post(world.ops_url(party, "/operations"), json=body, headers=world.operator(party))


def _dss_version(world: World, party: str, op_id: str) -> int:
    ref = world.client.get(
        f"/dss/v1/operational_intent_references/{op_id}", headers=world.token(party, SC)
    ).json()["operational_intent_reference"]
    return int(ref["version"])


def _others(world: World, party: str) -> set[str]:
    answer = world.client.get(world.ops_url(party, "/others"), headers=world.operator(party))
    return {o["id"] for o in answer.json()["others"]}


def test_a_refused_modification_changes_nothing(world: World) -> None:  # SCD0020
    red = _plan(world, "red", operation_body(square(8.0, 47.0, 0.01), priority=50))
    blue = _plan(world, "blue", operation_body(square(8.05, 47.0, 0.01), priority=0))
    assert red.status_code == blue.status_code == 201
    blue_id = blue.json()["operation"]["id"]
    moved = world.client.put(
        world.ops_url("blue", f"/operations/{blue_id}"),
        json=operation_body(square(8.005, 47.005, 0.01), priority=0),
        headers=world.operator("blue"),
    )
    assert moved.status_code == 409 and moved.json()["check"]["conflicts"][0]["reason"] == "higher_priority"
    kept = world.client.get(
        world.ops_url("blue", f"/operations/{blue_id}"), headers=world.operator("blue")
    ).json()
    ring = kept["operation"]["volumes"]["features"][0]["geometry"]["coordinates"][0]
    assert ring[0] == [8.05, 47.0]  # the old volumes, still
    assert _dss_version(world, "blue", blue_id) == 1


def test_activation_is_checked_again(world: World) -> None:  # SCD0025
    blue = _plan(world, "blue", operation_body(square(8.0, 47.0, 0.01), priority=0, start_min=-1))
    blue_id = blue.json()["operation"]["id"]
    # A higher priority plans over blue's Accepted intent meanwhile (allowed: it outranks it).
    red = _plan(world, "red", operation_body(square(8.005, 47.005, 0.01), priority=50, start_min=-1))
    assert red.status_code == 201 and red.json()["check"]["conflicts"][0]["reason"] == "lower_priority"
    activation = world.client.post(
        world.ops_url("blue", f"/operations/{blue_id}/activate"), headers=world.operator("blue")
    )
    assert activation.status_code == 409, activation.text
    assert activation.json()["check"]["conflicts"][0]["other_id"] == red.json()["operation"]["id"]
    assert activation.json()["operation"]["state"] == "Accepted"
    assert _dss_version(world, "blue", blue_id) == 1


def test_an_activated_operation_keeps_its_pre_existing_conflicts_but_gets_no_new_ones(world: World) -> None:
    # SCD0030: green (priority 10) is flying; red (priority 50) activates over it, as it may.
    green = _plan(
        world, "green", operation_body(square(8.0, 47.0, 0.01), priority=10, start_min=-1, state="Activated")
    )
    assert green.status_code == 201, green.text
    red = _plan(
        world, "red", operation_body(square(8.005, 47.0, 0.01), priority=50, start_min=-1, state="Activated")
    )
    assert red.status_code == 201, red.text
    # Green, Activated, grows a little: its conflict with red existed before, so it does not block.
    green_id = green.json()["operation"]["id"]
    grown = world.client.put(
        world.ops_url("green", f"/operations/{green_id}"),
        json=operation_body(square(8.0, 47.0, 0.011), priority=10, start_min=-1, state="Activated"),
        headers=world.operator("green"),
    )
    assert grown.status_code == 200, grown.text
    (conflict,) = grown.json()["check"]["conflicts"]
    assert (conflict["blocking"], conflict["reason"]) == (False, "pre_existing")
    # A new conflict with another Activated intent of higher priority does block.
    blue = _plan(
        world, "blue", operation_body(square(8.03, 47.0, 0.005), priority=60, start_min=-1, state="Activated")
    )
    assert blue.status_code == 201, blue.text
    stretched = world.client.put(
        world.ops_url("green", f"/operations/{green_id}"),
        json=operation_body(square(8.0, 47.0, 0.04), priority=10, start_min=-1, state="Activated"),
        headers=world.operator("green"),
    )
    assert stretched.status_code == 409, stretched.text
    verdicts = {c["other_id"]: (c["blocking"], c["reason"]) for c in stretched.json()["check"]["conflicts"]}
    assert verdicts[blue.json()["operation"]["id"]] == (True, "higher_priority")
    assert verdicts[red.json()["operation"]["id"]] == (False, "pre_existing")


def test_a_refused_plan_tells_nobody(world: World) -> None:
    red = _plan(world, "red", operation_body(square(8.0, 47.0, 0.01), priority=50))
    red_id = red.json()["operation"]["id"]
    refused = _plan(world, "blue", operation_body(square(8.005, 47.005, 0.01), priority=0))
    assert refused.status_code == 409
    assert _others(world, "red") == set()  # red heard of nothing
    assert _others(world, "green") == set()
    assert red_id in {c["other_id"] for c in refused.json()["check"]["conflicts"]}
    notes = world.client.get(world.ops_url("red", "/notifications"), headers=world.operator("red")).json()
    assert notes["notifications"] == []


def test_an_operation_whose_time_is_over_is_ended(world: World) -> None:
    import time

    planned = _plan(world, "red", operation_body(square(8.0, 47.0, 0.01), start_min=-1, minutes=1.05))
    assert planned.status_code == 201, planned.text
    op_id = planned.json()["operation"]["id"]
    deadline = time.monotonic() + 15
    state = "Accepted"
    while state != "Ended" and time.monotonic() < deadline:
        time.sleep(0.3)
        got = world.client.get(world.ops_url("red", f"/operations/{op_id}"), headers=world.operator("red"))
        state = got.json()["operation"]["state"]
    assert state == "Ended"
    details = world.client.get(
        world.uss_url("red", f"/operational_intents/{op_id}"), headers=world.token("blue", SC)
    )
    assert details.status_code == 404
