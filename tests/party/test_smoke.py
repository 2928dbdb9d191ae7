"""The in-process world plans across parties (a guard for the fixtures the party tests share)."""

from __future__ import annotations

from tests.party.conftest import World, circle, operation_body, square


def test_a_lower_priority_plan_is_refused_and_a_clear_one_accepted(world: World) -> None:
    red = world.client.post(
        world.ops_url("red", "/operations"),
        json=operation_body(square(8.0, 47.0, 0.02), priority=10, name="Survey"),
        headers=world.operator("red"),
    )
    assert red.status_code == 201, red.text
    blue = world.client.post(
        world.ops_url("blue", "/operations"),
        json=operation_body(circle(8.01, 47.01, 500), priority=0),
        headers=world.operator("blue"),
    )
    assert blue.status_code == 409, blue.text
    assert blue.json()["check"]["conflicts"][0]["reason"] == "higher_priority"
    clear = world.client.post(
        world.ops_url("blue", "/operations"),
        json=operation_body(circle(8.1, 47.1, 500), priority=0),
        headers=world.operator("blue"),
    )
    assert clear.status_code == 201, clear.text


def test_an_operation_asked_for_activated_is_accepted_then_activated(world: World) -> None:
    planned = world.client.post(
        world.ops_url("red", "/operations"),
        json=operation_body(square(9.0, 46.0, 0.01), state="Activated", start_min=-1),
        headers=world.operator("red"),
    )
    assert planned.status_code == 201, planned.text
    body = planned.json()
    assert body["operation"]["state"] == "Activated" and body["operation"]["version"] == 2
    assert body["attempts"] == 2
