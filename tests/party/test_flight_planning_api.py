"""The InterUSS flight_planning v1 test interface of a party node, driven as uss_qualifier drives it.

Every response body is checked against the interface's type from ``uas_standards`` (parsed with
``ImplicitDict.parse``, and no field the type does not declare).
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from implicitdict import ImplicitDict
from uas_standards.interuss.automated_testing.flight_planning.v1 import api

from parley.api.party.deps import FP_PLAN, FP_TEST
from parley.domain.operations import OpState, OwnOperation
from parley.line.times import format_time
from tests.party.conftest import World, iso

PLANNER = "uss_qualifier"


# -- helpers ---------------------------------------------------------------------------------------


def url(party: str, path: str) -> str:
    return f"/parties/{party}/flight_planning/v1{path}"


def plan_url(party: str, flight_plan_id: str) -> str:
    return url(party, f"/flight_plans/{flight_plan_id}")


def altitude(value: float, reference: str = "W84") -> dict[str, Any]:
    return {"value": value, "reference": reference, "units": "M"}


def area(
    lng: float,
    lat: float,
    size_deg: float = 0.01,
    *,
    lower: float = 0.0,
    upper: float = 120.0,
    start_min: float = 5,
    minutes: float = 60,
    reference: str = "W84",
) -> dict[str, Any]:
    """An interface ``Volume4D``: a square footprint, an altitude band, a time window."""
    now = datetime.now(UTC)
    vertices = [
        {"lat": lat, "lng": lng},
        {"lat": lat, "lng": lng + size_deg},
        {"lat": lat + size_deg, "lng": lng + size_deg},
        {"lat": lat + size_deg, "lng": lng},
    ]
    return {
        "volume": {
            "outline_polygon": {"vertices": vertices},
            "altitude_lower": altitude(lower, reference),
            "altitude_upper": altitude(upper, reference),
        },
        "time_start": {"value": iso(now + timedelta(minutes=start_min)), "format": "RFC3339"},
        "time_end": {"value": iso(now + timedelta(minutes=start_min + minutes)), "format": "RFC3339"},
    }


def upsert_body(
    *volumes: dict[str, Any],
    usage: str = "Planned",
    uas: str = "Nominal",
    priority: int | None = None,
    style: str = "IfAllowed",
    request_id: str | None = None,
) -> dict[str, Any]:
    flight_plan: dict[str, Any] = {
        "basic_information": {"usage_state": usage, "uas_state": uas, "area": list(volumes)},
        # fields this USS does not use are ignored, as the interface asks
        "uas": {"aircraft_type": "Helicopter", "serial_number": "MFR1C123456789ABC"},
    }
    if priority is not None:
        flight_plan["astm_f3548_21"] = {"priority": priority}
    return {
        "flight_plan": flight_plan,
        "execution_style": style,
        "request_id": request_id or str(uuid.uuid4()),
    }


def valid(response: httpx.Response, type_: type[ImplicitDict], status: int = 200) -> dict[str, Any]:
    """The body of ``response``, checked against the interface's ``type_``."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    ImplicitDict.parse(body, type_)
    assert set(body) <= set(type_.__annotations__), set(body) - set(type_.__annotations__)
    return body


def planner(world: World) -> dict[str, str]:
    return world.token(PLANNER, FP_PLAN)


def director(world: World) -> dict[str, str]:
    return world.token(PLANNER, FP_TEST)


def upsert(world: World, party: str, flight_plan_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = world.client.put(plan_url(party, flight_plan_id), json=body, headers=planner(world))
    return valid(response, api.UpsertFlightPlanResponse)


def operation(world: World, party: str, flight_plan_id: str) -> OwnOperation:
    op = world.server.nodes[party].repo.get_operation_by_flight_plan(party, flight_plan_id)
    assert op is not None
    return op


def new_id() -> str:
    return str(uuid.uuid4())


# -- status and auth -------------------------------------------------------------------------------


def test_status_is_ready_for_the_test_director(world: World) -> None:
    body = valid(world.client.get(url("red", "/status"), headers=director(world)), api.StatusResponse)
    assert body == {
        "status": "Ready",
        "api_name": "Flight Planning Automated Testing Interface",
        "api_version": f"v{api.API_VERSION}",
    }


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("GET", "/status", FP_PLAN),
        ("POST", "/clear_area_requests", FP_PLAN),
        ("PUT", "/flight_plans/{id}", FP_TEST),
        ("GET", "/user_notifications?after=2024-01-01T00:00:00Z", FP_TEST),
        ("DELETE", "/flight_plans/{id}", "utm.strategic_coordination"),
    ],
)
def test_a_wrong_scope_is_403_and_no_token_401(world: World, method: str, path: str, scope: str) -> None:
    target = url("red", path.format(id=new_id()))
    body = upsert_body(area(8.0, 47.0)) if method == "PUT" else None
    if method == "POST":
        body = {"request_id": "r", "extent": area(8.0, 47.0)}
    wrong = world.client.request(method, target, json=body, headers=world.token(PLANNER, scope))
    assert wrong.status_code == 403, wrong.text
    anonymous = world.client.request(method, target, json=body)
    assert anonymous.status_code == 401, anonymous.text
    assert world.server.nodes["red"].repo.list_operations("red") == []


# -- planning --------------------------------------------------------------------------------------


def test_a_lower_priority_conflicting_plan_is_rejected_without_a_dss_write_and_a_clear_one_completes(
    world: World,
) -> None:
    red_plan = new_id()
    red = upsert(world, "red", red_plan, upsert_body(area(8.0, 47.0, 0.02), priority=10))
    assert red["planning_result"] == "Completed"
    assert red["flight_plan_status"] == "Planned"
    assert red["includes_advisories"] == "NoAdvisoriesOrConditions"
    red_op = operation(world, "red", red_plan)
    assert red_op.state is OpState.ACCEPTED and red_op.priority == 10

    blue_plan = new_id()
    blue = upsert(world, "blue", blue_plan, upsert_body(area(8.01, 47.01), priority=0))
    assert blue["planning_result"] == "Rejected"
    assert blue["flight_plan_status"] == "NotPlanned"
    assert red_op.id in blue["notes"] and "higher priority 10" in blue["notes"]
    assert world.server.nodes["blue"].repo.list_operations("blue", include_ended=True) == []

    clear = upsert(world, "blue", blue_plan, upsert_body(area(8.1, 47.1), priority=0))
    assert clear["planning_result"] == "Completed"
    assert clear["flight_plan_status"] == "Planned"
    assert operation(world, "blue", blue_plan).state is OpState.ACCEPTED


def test_modify_activate_go_off_nominal_and_close(world: World) -> None:
    plan_id = new_id()
    first = upsert(world, "red", plan_id, upsert_body(area(8.0, 47.0), priority=5))
    assert (first["planning_result"], first["flight_plan_status"]) == ("Completed", "Planned")
    op_id = operation(world, "red", plan_id).id

    moved = upsert(world, "red", plan_id, upsert_body(area(8.02, 47.0)))
    assert (moved["planning_result"], moved["flight_plan_status"]) == ("Completed", "Planned")
    op = operation(world, "red", plan_id)
    assert op.id == op_id  # the same operation, modified
    assert op.details["volumes"][0]["volume"]["outline_polygon"]["vertices"][0]["lng"] == 8.02
    assert op.priority == 5  # kept when the request gives none

    active = upsert(world, "red", plan_id, upsert_body(area(8.02, 47.0), usage="InUse"))
    assert (active["planning_result"], active["flight_plan_status"]) == ("Completed", "OkToFly")
    assert operation(world, "red", plan_id).state is OpState.ACTIVATED

    wider = area(8.02, 47.0, 0.03)
    off = upsert(world, "red", plan_id, upsert_body(wider, usage="InUse", uas="OffNominal"))
    assert (off["planning_result"], off["flight_plan_status"]) == ("Completed", "OffNominal")
    op = operation(world, "red", plan_id)
    assert op.state is OpState.NONCONFORMING
    assert len(op.details["off_nominal_volumes"]) == 1
    assert op.details["off_nominal_volumes"][0]["volume"]["outline_polygon"]["vertices"][2][
        "lng"
    ] == pytest.approx(8.05)

    again = upsert(world, "red", plan_id, upsert_body(area(8.02, 47.0), usage="InUse"))
    assert (again["planning_result"], again["flight_plan_status"]) == ("Completed", "OkToFly")
    assert operation(world, "red", plan_id).details["off_nominal_volumes"] == []

    contingent = upsert(world, "red", plan_id, upsert_body(area(8.02, 47.0), usage="InUse", uas="Contingent"))
    assert (contingent["planning_result"], contingent["flight_plan_status"]) == ("Completed", "OffNominal")
    assert operation(world, "red", plan_id).state is OpState.CONTINGENT

    back = upsert(world, "red", plan_id, upsert_body(area(8.02, 47.0), usage="Planned"))
    assert (back["planning_result"], back["flight_plan_status"]) == ("Rejected", "OffNominal")
    assert "Contingent" in back["notes"]

    closed = valid(
        world.client.delete(plan_url("red", plan_id), headers=planner(world)), api.DeleteFlightPlanResponse
    )
    assert (closed["planning_result"], closed["flight_plan_status"]) == ("Completed", "Closed")
    assert operation(world, "red", plan_id).state is OpState.ENDED
    assert world.server.nodes["red"].repo.list_operations("red") == []


def test_deleting_an_unknown_or_closed_flight_plan_is_404_with_the_interfaces_body(world: World) -> None:
    unknown = world.client.delete(plan_url("red", new_id()), headers=director(world))
    assert unknown.status_code == 404, unknown.text
    body = unknown.json()
    ImplicitDict.parse(body, api.DeleteFlightPlanResponse)
    assert (body["planning_result"], body["flight_plan_status"]) == ("Failed", "NotPlanned")
    assert "no open flight plan" in body["message"]

    plan_id = new_id()
    upsert(world, "red", plan_id, upsert_body(area(8.0, 47.0)))
    closed = upsert(world, "red", plan_id, upsert_body(area(8.0, 47.0), usage="Closed"))
    assert (closed["planning_result"], closed["flight_plan_status"]) == ("Completed", "Closed")
    again = world.client.delete(plan_url("red", plan_id), headers=director(world))
    assert again.status_code == 404 and again.json()["flight_plan_status"] == "Closed"

    # a flight plan id used again after closing plans a new operation
    old = operation(world, "red", plan_id).id
    reopened = upsert(world, "red", plan_id, upsert_body(area(8.0, 47.0)))
    assert reopened["planning_result"] == "Completed"
    assert operation(world, "red", plan_id).id != old


def test_off_nominal_needs_a_flight_in_use(world: World) -> None:
    plan_id = new_id()
    fresh = upsert(world, "red", plan_id, upsert_body(area(8.0, 47.0), usage="InUse", uas="OffNominal"))
    assert (fresh["planning_result"], fresh["flight_plan_status"]) == ("NotSupported", "NotPlanned")
    upsert(world, "red", plan_id, upsert_body(area(8.0, 47.0)))
    planned = upsert(world, "red", plan_id, upsert_body(area(8.0, 47.0), usage="InUse", uas="Contingent"))
    assert (planned["planning_result"], planned["flight_plan_status"]) == ("Rejected", "Planned")
    assert "not in use yet" in planned["notes"]


def test_hypothetical_is_not_supported_and_changes_nothing(world: World) -> None:
    plan_id = new_id()
    body = upsert(world, "red", plan_id, upsert_body(area(8.0, 47.0), style="Hypothetical"))
    assert (body["planning_result"], body["flight_plan_status"]) == ("NotSupported", "NotPlanned")
    assert "Hypothetical" in body["notes"]
    assert world.server.nodes["red"].repo.list_operations("red") == []


def test_in_reality_a_refused_area_makes_the_flight_nonconforming(world: World) -> None:
    blue_plan = new_id()
    assert upsert(world, "blue", blue_plan, upsert_body(area(8.1, 47.0), priority=10))["planning_result"] == (
        "Completed"
    )
    red_plan = new_id()
    flying = upsert(
        world, "red", red_plan, upsert_body(area(8.0, 47.0), usage="InUse")
    )  # planned, then activated
    assert (flying["planning_result"], flying["flight_plan_status"]) == ("Completed", "OkToFly")
    refused = upsert(world, "red", red_plan, upsert_body(area(8.1, 47.0), usage="InUse"))
    assert (refused["planning_result"], refused["flight_plan_status"]) == ("Rejected", "OkToFly")

    real = upsert(world, "red", red_plan, upsert_body(area(8.1, 47.0), usage="InUse", style="InReality"))
    assert (real["planning_result"], real["flight_plan_status"]) == ("Completed", "OffNominal")
    assert real["includes_advisories"] == "AtLeastOneAdvisoryOrCondition"
    op = operation(world, "red", red_plan)
    assert op.state is OpState.NONCONFORMING
    assert op.details["off_nominal_volumes"][0]["volume"]["outline_polygon"]["vertices"][0]["lng"] == 8.1


def test_an_invalid_plan_is_rejected_not_refused(world: World) -> None:
    backwards = area(8.0, 47.0)
    backwards["time_start"], backwards["time_end"] = backwards["time_end"], backwards["time_start"]
    body = upsert(world, "red", new_id(), upsert_body(backwards))
    assert (body["planning_result"], body["flight_plan_status"]) == ("Rejected", "NotPlanned")
    assert body["notes"]
    too_high = upsert(world, "red", new_id(), upsert_body(area(8.0, 47.0), priority=101))
    assert too_high["planning_result"] == "Rejected" and "priority" in too_high["notes"]
    empty = upsert(world, "red", new_id(), upsert_body())
    assert empty["planning_result"] == "Rejected" and "no area" in empty["notes"]
    assert world.server.nodes["red"].repo.list_operations("red") == []


def test_a_repeated_request_id_gets_the_first_response(world: World) -> None:
    plan_id = new_id()
    first = upsert(world, "red", plan_id, upsert_body(area(8.0, 47.0), request_id="req-1"))
    repeat = upsert(world, "red", plan_id, upsert_body(area(8.0, 47.0), usage="InUse", request_id="req-1"))
    assert repeat == first
    assert operation(world, "red", plan_id).state is OpState.ACCEPTED
    elsewhere = world.client.put(
        plan_url("red", new_id()),
        json=upsert_body(area(9.0, 47.0), request_id="req-1"),
        headers=planner(world),
    )
    assert elsewhere.status_code == 409, elsewhere.text


# -- malformed requests ----------------------------------------------------------------------------


def _without(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != key}


def _both_outlines() -> dict[str, Any]:
    volume = area(8.0, 47.0)
    volume["volume"]["outline_circle"] = {
        "center": {"lat": 47.0, "lng": 8.0},
        "radius": {"value": 100, "units": "M"},
    }
    return upsert_body(volume)


def _circle_without_radius() -> dict[str, Any]:
    volume = area(8.0, 47.0)
    volume["volume"] = {**volume["volume"], "outline_circle": {"center": {"lat": 47.0, "lng": 8.0}}}
    del volume["volume"]["outline_polygon"]
    return upsert_body(volume)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (_without(upsert_body(area(8.0, 47.0)), "execution_style"), "execution_style"),
        (upsert_body(area(8.0, 47.0), style="Eventually"), "execution_style"),
        (upsert_body(area(8.0, 47.0), usage="Maybe"), "usage_state"),
        (upsert_body(area(8.0, 47.0, reference="SFC")), "'SFC' is not supported"),
        (_both_outlines(), "exactly one of outline_circle and outline_polygon"),
        (_circle_without_radius(), "a center and a radius"),
        ({"flight_plan": "nope", "execution_style": "IfAllowed", "request_id": "r"}, "flight_plan"),
        ([1, 2, 3], "body"),
    ],
)
def test_a_malformed_upsert_is_400_with_a_clear_message(world: World, body: Any, says: str) -> None:
    response = world.client.put(plan_url("red", new_id()), json=body, headers=planner(world))
    assert response.status_code == 400, response.text
    assert says in response.json()["message"]
    assert world.server.nodes["red"].repo.list_operations("red") == []


def test_malformed_ids_bodies_and_queries_are_400(world: World) -> None:
    bad_id = world.client.put(
        plan_url("red", "not-a-uuid"), json=upsert_body(area(8.0, 47.0)), headers=planner(world)
    )
    assert bad_id.status_code == 400 and "UUID" in bad_id.json()["message"]
    not_json = world.client.put(
        plan_url("red", new_id()),
        content=b"{not json",
        headers={**planner(world), "Content-Type": "application/json"},
    )
    assert not_json.status_code == 400, not_json.text
    no_extent = world.client.post(
        url("red", "/clear_area_requests"), json={"request_id": "r"}, headers=director(world)
    )
    assert no_extent.status_code == 400 and "extent" in no_extent.json()["message"]
    no_after = world.client.get(url("red", "/user_notifications"), headers=planner(world))
    assert no_after.status_code == 400 and "after" in no_after.json()["message"]
    naive = world.client.get(
        url("red", "/user_notifications"), params={"after": "2024-01-01T00:00:00"}, headers=planner(world)
    )
    assert naive.status_code == 400, naive.text
    backwards = world.client.get(
        url("red", "/user_notifications"),
        params={"after": "2024-01-02T00:00:00Z", "before": "2024-01-01T00:00:00Z"},
        headers=planner(world),
    )
    assert backwards.status_code == 400 and "earlier" in backwards.json()["message"]


# -- clear area ------------------------------------------------------------------------------------


def test_clear_area_closes_only_the_flight_plans_that_meet_it(world: World) -> None:
    inside, outside, later = new_id(), new_id(), new_id()
    upsert(world, "red", inside, upsert_body(area(8.0, 47.0)))
    upsert(world, "red", outside, upsert_body(area(8.5, 47.0)))
    upsert(world, "red", later, upsert_body(area(8.0, 47.0, start_min=200, minutes=30), usage="Planned"))
    blue_plan = new_id()
    upsert(world, "blue", blue_plan, upsert_body(area(8.0, 47.0, start_min=300, minutes=30)))

    extent = area(7.99, 46.99, 0.05, lower=-100, upper=1000, start_min=0, minutes=120)
    response = world.client.post(
        url("red", "/clear_area_requests"),
        json={"request_id": "clear-1", "extent": extent},
        headers=director(world),
    )
    body = valid(response, api.ClearAreaResponse)
    assert body["outcome"]["success"] is True
    assert body["outcome"]["details"]["flight_plans_closed"] == [inside]
    assert operation(world, "red", inside).state is OpState.ENDED
    assert operation(world, "red", outside).state is OpState.ACCEPTED
    assert operation(world, "red", later).state is OpState.ACCEPTED  # another time
    assert operation(world, "blue", blue_plan).state is OpState.ACCEPTED  # another USS's

    # an extent without bounds and in another altitude reference clears everything it covers
    unbounded = area(7.9, 46.9, 0.8, reference="SFC")
    del unbounded["time_start"], unbounded["time_end"]
    response = world.client.post(
        url("red", "/clear_area_requests"),
        json={"request_id": "clear-2", "extent": unbounded},
        headers=director(world),
    )
    body = valid(response, api.ClearAreaResponse)
    assert body["outcome"]["success"] is True
    assert sorted(body["outcome"]["details"]["flight_plans_closed"]) == sorted([outside, later])
    assert world.server.nodes["red"].repo.list_operations("red") == []


def test_clear_area_beyond_the_exact_checks_envelope_uses_bounding_boxes(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="parley.party.flight_plans")
    near, far = new_id(), new_id()
    upsert(world, "red", near, upsert_body(area(8.0, 47.0)))
    upsert(world, "red", far, upsert_body(area(20.0, 47.0)))
    huge = area(5.0, 45.0, 5.0, lower=-100, upper=1000, start_min=0, minutes=120)  # ~400 km across
    response = world.client.post(
        url("red", "/clear_area_requests"),
        json={"request_id": "huge", "extent": huge},
        headers=director(world),
    )
    body = valid(response, api.ClearAreaResponse)
    assert body["outcome"]["details"]["flight_plans_closed"] == [near]
    assert operation(world, "red", far).state is OpState.ACCEPTED
    assert "clear area by bounding boxes" in caplog.text


# -- user notifications ----------------------------------------------------------------------------


def test_a_peers_conflicting_plan_is_a_user_notification(world: World) -> None:
    blue_plan = new_id()
    upsert(world, "blue", blue_plan, upsert_body(area(8.0, 47.0), priority=0))
    since = iso(datetime.now(UTC) - timedelta(seconds=1))
    quiet = world.client.get(
        url("blue", "/user_notifications"), params={"after": since}, headers=planner(world)
    )
    assert valid(quiet, api.QueryUserNotificationsResponse)["user_notifications"] == []

    red = upsert(world, "red", new_id(), upsert_body(area(8.005, 47.005), priority=10))
    assert (red["planning_result"], red["flight_plan_status"]) == ("Completed", "Planned")
    assert red["includes_advisories"] == "AtLeastOneAdvisoryOrCondition"
    blue_op = operation(world, "blue", blue_plan)
    assert blue_op.id in red["notes"]

    response = world.client.get(
        url("blue", "/user_notifications"), params={"after": since}, headers=planner(world)
    )
    notifications = valid(response, api.QueryUserNotificationsResponse)["user_notifications"]
    assert [n["conflicts"] for n in notifications] == ["Single"]
    assert blue_op.id in notifications[0]["message"]
    observed = datetime.fromisoformat(notifications[0]["observed_at"]["value"].replace("Z", "+00:00"))
    assert observed >= datetime.fromisoformat(since.replace("Z", "+00:00"))
    for n in notifications:
        ImplicitDict.parse(n, api.UserNotification)

    # the planning user is told of the conflict its plan has too
    red_side = world.client.get(
        url("red", "/user_notifications"), params={"after": since}, headers=planner(world)
    )
    assert [
        n["conflicts"] for n in valid(red_side, api.QueryUserNotificationsResponse)["user_notifications"]
    ] == ["Single"]

    # nothing after 'before'
    earlier = world.client.get(
        url("blue", "/user_notifications"), params={"after": since, "before": since}, headers=planner(world)
    )
    assert valid(earlier, api.QueryUserNotificationsResponse)["user_notifications"] == []


# -- protected sites and movements (docs/protection.md) --------------------------------------------


def _eventually(probe: Any, what: str, timeout_s: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        assert time.monotonic() < deadline, f"not within {timeout_s} s: {what}"
        time.sleep(0.05)


def _hospital(world: World, lng: float, lat: float) -> str:
    """Green notifies a hospital (300 m around the point, every altitude, for 3 hours) exact to
    blue and check-only to red; its id once both hold it."""
    for party in ("red", "blue", "green"):
        _eventually(
            lambda p=party: (
                world.client.get(f"/line/v1/registry/{p}", headers=world.token(p, "parley.line")).status_code
                == 200
            ),
            f"{party} registered on the line",
        )
    now = datetime.now(UTC)
    body = {
        "exact": ["blue"],
        "check_only": ["red"],
        "subject": "Hospital",
        "reason": "Protected site",
        "deadline": iso(now + timedelta(minutes=30)).replace("+00:00", "Z"),
        "what": "hospital",
        "volume": {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [lng, lat]},
            "properties": {
                "radius_m": 300.0,
                "alt_lower_m": -1000.0,
                "alt_upper_m": 100000.0,
                "start": format_time(now),
                "end": format_time(now + timedelta(hours=3)),
            },
        },
        "protected": {"kind": "site", "category": "hospital", "radius_m": 300.0, "name": "Al-Noor"},
    }
    answer = world.client.post("/parties/green/protect/v1/notify", json=body, headers=world.operator("green"))
    assert answer.status_code == 201, answer.text
    item_id = str(answer.json()["id"])
    for party in ("red", "blue"):
        _eventually(
            lambda p=party: world.client.get(
                f"/parties/{p}/protect/v1/items", headers=world.operator(p)
            ).json()["items"],
            f"{party} holds the hospital",
        )
    return item_id


def _waivers(world: World, party: str) -> list[dict[str, Any]]:
    transcript = world.client.get(f"/parties/{party}/line/v1/export", headers=world.operator(party)).json()
    return [e for e in transcript["entries"] if e["kind"] == "waiver"]


def test_a_flight_plan_over_a_protected_site_is_rejected_with_notes_and_nothing_is_planned(
    world: World,
) -> None:
    hospital = _hospital(world, 8.305, 47.005)
    for party, disclosure, elsewhere in (("blue", "least distance", 8.4), ("red", "keep 0.3 km away", 8.5)):
        plan_id = new_id()
        over = upsert(world, party, plan_id, upsert_body(area(8.3, 47.0)))
        assert (over["planning_result"], over["flight_plan_status"]) == ("Rejected", "NotPlanned"), over
        assert over["notes"].startswith("not planned: it conflicts with 1 protected site(s) or movement(s)")
        assert hospital in over["notes"] and "(hospital)" in over["notes"] and disclosure in over["notes"]
        assert world.server.nodes[party].repo.get_operation_by_flight_plan(party, plan_id) is None
        # In use from the start: refused the same way, before anything is written.
        in_use = upsert(world, party, new_id(), upsert_body(area(8.3, 47.0), usage="InUse"))
        assert (in_use["planning_result"], in_use["flight_plan_status"]) == ("Rejected", "NotPlanned")
        # Clear of it: planned as ever, and nothing signed.
        clear = upsert(world, party, plan_id, upsert_body(area(elsewhere, 47.0)))
        assert (clear["planning_result"], clear["flight_plan_status"]) == ("Completed", "Planned"), clear
        assert clear["includes_advisories"] == "NoAdvisoriesOrConditions" and "notes" not in clear
        # Moving the planned flight over the hospital is refused too; the plan stays as it was.
        moved = upsert(world, party, plan_id, upsert_body(area(8.3, 47.0)))
        assert (moved["planning_result"], moved["flight_plan_status"]) == ("Rejected", "Planned")
        volumes = operation(world, party, plan_id).details["volumes"]
        assert volumes[0]["volume"]["outline_polygon"]["vertices"][0]["lng"] == elsewhere
        assert _waivers(world, party) == []


def test_in_reality_a_flight_in_use_over_a_protected_site_goes_on_signed_and_reported(world: World) -> None:
    hospital = _hospital(world, 8.305, 47.005)
    plan_id = new_id()
    flying = upsert(world, "blue", plan_id, upsert_body(area(8.4, 47.0), usage="InUse"))
    assert (flying["planning_result"], flying["flight_plan_status"]) == ("Completed", "OkToFly"), flying
    refused = upsert(world, "blue", plan_id, upsert_body(area(8.3, 47.0), usage="InUse"))
    assert (refused["planning_result"], refused["flight_plan_status"]) == ("Rejected", "OkToFly")
    real = upsert(world, "blue", plan_id, upsert_body(area(8.3, 47.0), usage="InUse", style="InReality"))
    assert (real["planning_result"], real["flight_plan_status"]) == ("Completed", "OkToFly"), real
    assert real["includes_advisories"] == "AtLeastOneAdvisoryOrCondition"
    assert "in reality it conflicts with 1 protected site(s)" in real["notes"] and hospital in real["notes"]
    (waiver,) = _waivers(world, "blue")
    assert waiver["body"]["ref"] == {"kind": "operation", "id": operation(world, "blue", plan_id).id}
    assert waiver["body"]["conflicts"][0]["protected"] == hospital
    assert "InReality" in waiver["body"]["reason"]
