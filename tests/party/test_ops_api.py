"""A party node's native operations API (``/parties/{id}/ops/v1``), as its operators use it.

The life cycle of an operation (plan, modify, activate, end) with its states and OVNs; volumes as
GeoJSON in and out (and F3548 ``Volume4D`` in); every malformed input a 400 that names what is
wrong; the API for the party's own operators only; reservations (F3548 constraints) published,
enforced on others and withdrawn; priorities; and a planning race, where the DSS refuses the first
write because the airspace changed meanwhile (astm.f3548.v21.SCD0035, SCD0040 in spirit).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from parley.services.party import planning
from parley.services.party.node import PartyNode
from tests.party.conftest import World, circle, iso, operation_body, square

CP = "utm.constraint_processing"


def post(world: World, party: str, path: str, body: Any = None) -> Any:
    return world.client.post(world.ops_url(party, path), json=body, headers=world.operator(party))


def get(world: World, party: str, path: str) -> Any:
    return world.client.get(world.ops_url(party, path), headers=world.operator(party))


def put(world: World, party: str, path: str, body: Any) -> Any:
    return world.client.put(world.ops_url(party, path), json=body, headers=world.operator(party))


def planned(world: World, party: str, body: dict[str, Any]) -> dict[str, Any]:
    r = post(world, party, "/operations", body)
    assert r.status_code == 201, r.text
    op: dict[str, Any] = r.json()["operation"]
    return op


def reservation_body(*features: dict[str, Any], **extra: Any) -> dict[str, Any]:
    body = operation_body(*features, **extra)
    del body["priority"]
    return body


# -- life cycle ----------------------------------------------------------------------------------


def test_plan_get_list_modify_activate_end(world: World) -> None:
    r = post(world, "red", "/operations", operation_body(square(8.0, 47.0), name="Survey", priority=3))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["outcome"] == "accepted" and body["attempts"] == 1 and body["check"]["clear"]
    op = body["operation"]
    uuid.UUID(op["id"])
    assert (op["kind"], op["name"], op["state"], op["priority"], op["version"]) == (
        "operational_intent",
        "Survey",
        "Accepted",
        3,
        1,
    )
    assert op["ovn"] and op["subscription_id"]
    assert op["f3548"]["reference"]["ovn"] == op["ovn"]

    got = get(world, "red", f"/operations/{op['id']}")
    assert got.status_code == 200 and got.json()["operation"] == op
    listed = get(world, "red", "/operations").json()["operations"]
    assert [o["id"] for o in listed] == [op["id"]]

    # modify: new volumes and priority, a new OVN and version, the same subscription
    changed = operation_body(square(8.001, 47.001), name="Survey 2", priority=4)
    r = put(world, "red", f"/operations/{op['id']}", changed)
    assert r.status_code == 200, r.text
    modified = r.json()["operation"]
    assert (modified["state"], modified["priority"], modified["version"], modified["name"]) == (
        "Accepted",
        4,
        2,
        "Survey 2",
    )
    assert modified["ovn"] != op["ovn"] and modified["subscription_id"] == op["subscription_id"]
    assert modified["volumes"]["features"][0]["geometry"]["coordinates"][0][0] == [8.001, 47.001]

    r = post(world, "red", f"/operations/{op['id']}/activate")
    assert r.status_code == 200, r.text
    active = r.json()["operation"]
    assert active["state"] == "Activated" and active["ovn"] not in (op["ovn"], modified["ovn"])
    assert active["version"] == 3

    # an Activated operation cannot go back to Accepted
    r = put(world, "red", f"/operations/{op['id']}", {**changed, "state": "Accepted"})
    assert r.status_code == 400 and "Accepted" in r.json()["message"]

    r = post(world, "red", f"/operations/{op['id']}/end")
    assert r.status_code == 200, r.text
    assert r.json()["operation"]["state"] == "Ended"
    assert get(world, "red", "/operations").json()["operations"] == []
    ended = get(world, "red", "/operations?include_ended=true").json()["operations"]
    assert [(o["id"], o["state"]) for o in ended] == [(op["id"], "Ended")]
    assert get(world, "red", f"/operations/{op['id']}").json()["operation"]["state"] == "Ended"

    # ending twice changes nothing; activating or modifying an ended operation is a conflict
    again = post(world, "red", f"/operations/{op['id']}/end")
    assert again.status_code == 200 and again.json()["operation"] == r.json()["operation"]
    r = post(world, "red", f"/operations/{op['id']}/activate")
    assert r.status_code == 409 and "ended" in r.json()["message"]
    r = put(world, "red", f"/operations/{op['id']}", changed)
    assert r.status_code == 409, r.text


def test_an_operation_may_be_planned_activated_at_once(world: World) -> None:
    r = post(world, "red", "/operations", operation_body(square(8.0, 47.0), start_min=0, state="Activated"))
    assert r.status_code == 201, r.text
    op = r.json()["operation"]
    assert op["state"] == "Activated"
    assert op["f3548"]["reference"]["state"] == "Activated"
    sc = world.token("blue", "utm.strategic_coordination")
    details = world.client.get(world.uss_url("red", f"/operational_intents/{op['id']}"), headers=sc)
    assert details.json()["operational_intent"]["reference"]["state"] == "Activated"


def test_off_nominal_volumes_only_off_nominal(world: World) -> None:
    # F3548 OperationalIntentDetails: "May not contain any items when the operational intent is
    # Accepted or Activated"
    body = operation_body(square(8.0, 47.0), off_nominal_volumes=[circle(8.0, 47.0, 500)])
    r = post(world, "blue", "/operations", body)
    assert r.status_code == 400 and "off_nominal_volumes" in r.json()["message"]
    # a Nonconforming operation activated again by its operator sheds its off-nominal volumes
    op = planned(world, "blue", operation_body(square(8.0, 47.0, 0.02), start_min=0))
    post(world, "blue", f"/operations/{op['id']}/activate")
    stray = {"time": iso(datetime.now(UTC)), "lat": 47.5, "lng": 8.5, "alt_m": 50.0}
    r = post(world, "blue", f"/operations/{op['id']}/telemetry", {"samples": [stray]})
    assert r.json()["state"] == "Nonconforming"
    assert (
        len(
            get(world, "blue", f"/operations/{op['id']}").json()["operation"]["off_nominal_volumes"][
                "features"
            ]
        )
        == 1
    )
    r = post(world, "blue", f"/operations/{op['id']}/activate")
    assert r.status_code == 200, r.text
    assert r.json()["operation"]["state"] == "Activated"
    assert r.json()["operation"]["off_nominal_volumes"]["features"] == []
    sc = world.token("red", "utm.strategic_coordination")
    served = world.client.get(world.uss_url("blue", f"/operational_intents/{op['id']}"), headers=sc).json()
    assert served["operational_intent"]["details"]["off_nominal_volumes"] == []


def test_a_given_id_is_used_and_a_second_plan_with_it_is_a_conflict(world: World) -> None:
    op_id = str(uuid.uuid4())
    op = planned(world, "red", operation_body(square(8.0, 47.0), id=op_id))
    assert op["id"] == op_id
    r = post(world, "red", "/operations", operation_body(square(9.0, 47.0), id=op_id))
    assert r.status_code == 409, r.text


def test_unknown_operations(world: World) -> None:
    unknown = str(uuid.uuid4())
    assert get(world, "red", f"/operations/{unknown}").status_code == 404
    assert put(world, "red", f"/operations/{unknown}", operation_body(square(8.0, 47.0))).status_code == 404
    assert post(world, "red", f"/operations/{unknown}/activate").status_code == 404
    assert post(world, "red", f"/operations/{unknown}/end").status_code == 404
    assert (
        world.client.delete(
            world.ops_url("red", f"/reservations/{unknown}"), headers=world.operator("red")
        ).status_code
        == 404
    )
    # an operation of another party is unknown here
    op = planned(world, "blue", operation_body(square(8.0, 47.0)))
    assert get(world, "red", f"/operations/{op['id']}").status_code == 404
    assert post(world, "red", f"/operations/{op['id']}/end").status_code == 404
    # the path and the body must name the same operation
    r = put(world, "blue", f"/operations/{op['id']}", operation_body(square(8.0, 47.0), id=unknown))
    assert r.status_code == 400 and "id" in r.json()["message"]


def test_telemetry_of_an_unknown_or_malformed_operation(world: World) -> None:
    sample = {"time": iso(datetime.now(UTC)), "lat": 47.0, "lng": 8.0, "alt_m": 50.0}
    assert (
        post(world, "red", f"/operations/{uuid.uuid4()}/telemetry", {"samples": [sample]}).status_code == 404
    )
    op = planned(world, "red", operation_body(square(8.0, 47.0)))
    for body, field in [
        ({"samples": []}, "samples"),
        ({"samples": [{**sample, "lat": "north"}]}, "lat"),
        ({"samples": [{**sample, "time": iso(datetime.now(UTC) + timedelta(hours=1))}]}, "future"),
        ({"samples": [{**sample, "lat": 147.0}]}, "latitude"),
        ({"samples": [{**sample, "speed_mps": -1}]}, "speed_mps"),
        ({"samples": [{**sample, "colour": "red"}]}, "colour"),
    ]:
        r = post(world, "red", f"/operations/{op['id']}/telemetry", body)
        assert r.status_code == 400, (body, r.text)
        assert field in r.json()["message"], (field, r.json()["message"])
    r = post(world, "red", f"/operations/{op['id']}/telemetry", {"samples": [sample]})
    assert r.status_code == 200 and r.json() == {
        "accepted": 1,
        "verdict": "not_monitored",
        "state": "Accepted",
    }


# -- GeoJSON -------------------------------------------------------------------------------------


def test_geojson_round_trip(world: World) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=10)
    cest = timezone(timedelta(hours=2))
    open_ring = square(8.0, 47.0, 0.01, altitude_lower_m=10.0)
    open_ring["geometry"]["coordinates"][0].pop()  # not closed: accepted, closed on the way out
    body = {
        "name": "Round trip",
        "altitude_lower_m": 0.0,
        "altitude_upper_m": 120.0,
        "time_start": start.astimezone(cest).isoformat(),
        "time_end": (start + timedelta(hours=1)).astimezone(cest).isoformat(),
        "volumes": {
            "type": "FeatureCollection",
            "features": [
                square(8.0, 47.0, 0.01),
                circle(8.5, 47.5, 250.0, altitude_upper_m=60.0),
                open_ring,
            ],
        },
    }
    op = planned(world, "red", body)
    features = op["volumes"]["features"]
    assert op["volumes"]["type"] == "FeatureCollection" and len(features) == 3
    ring = square(8.0, 47.0, 0.01)["geometry"]["coordinates"]
    assert features[0]["geometry"] == {"type": "Polygon", "coordinates": ring}
    assert features[2]["geometry"] == {"type": "Polygon", "coordinates": ring}
    assert features[1]["geometry"] == {"type": "Point", "coordinates": [8.5, 47.5]}
    assert features[1]["properties"]["radius_m"] == 250.0
    expected_times = (iso(start), iso(start + timedelta(hours=1)))
    for i, (lower, upper) in enumerate([(0.0, 120.0), (0.0, 60.0), (10.0, 120.0)]):
        props = features[i]["properties"]
        assert (props["altitude_lower_m"], props["altitude_upper_m"]) == (lower, upper)
        assert props["altitude_reference"] == "W84" and props["index"] == i and not props["off_nominal"]
        assert (props["time_start"], props["time_end"]) == expected_times
    assert op["off_nominal_volumes"] == {"type": "FeatureCollection", "features": []}
    # what went in is what peers are given, in F3548 terms
    volume = op["f3548"]["details"]["volumes"][1]
    assert volume["volume"]["outline_circle"] == {
        "center": {"lat": 47.5, "lng": 8.5},
        "radius": {"value": 250.0, "units": "M"},
    }
    assert volume["time_start"]["value"].endswith("Z")
    # the volumes read back plan the same operation again
    again = planned(world, "green", {"volumes": op["volumes"], "priority": 100})
    assert again["volumes"]["features"] == features


def test_a_single_feature_and_a_list_of_features_are_volumes_too(world: World) -> None:
    body = operation_body()
    body["volumes"] = square(8.0, 47.0)
    assert len(planned(world, "red", body)["volumes"]["features"]) == 1
    body["volumes"] = [square(9.0, 47.0), circle(9.5, 47.0, 100)]
    assert len(planned(world, "red", body)["volumes"]["features"]) == 2


def test_f3548_volumes_are_accepted(world: World) -> None:
    now = datetime.now(UTC)
    volume = {
        "volume": {
            "outline_circle": {"center": {"lat": 47.0, "lng": 8.0}, "radius": {"value": 300, "units": "M"}},
            "altitude_lower": {"value": 20, "reference": "W84", "units": "M"},
            "altitude_upper": {"value": 90, "reference": "W84", "units": "M"},
        },
        "time_start": {"value": iso(now + timedelta(minutes=5)), "format": "RFC3339"},
        "time_end": {"value": iso(now + timedelta(minutes=50)), "format": "RFC3339"},
    }
    op = planned(world, "red", {"volumes": [volume], "priority": 1})
    feature = op["volumes"]["features"][0]
    assert feature["geometry"] == {"type": "Point", "coordinates": [8.0, 47.0]}
    assert (feature["properties"]["altitude_lower_m"], feature["properties"]["altitude_upper_m"]) == (20, 90)
    assert op["f3548"]["details"]["volumes"][0]["volume"]["outline_circle"]["radius"]["value"] == 300


def test_altitudes_in_feet_are_converted_to_metres(world: World) -> None:
    feature = square(8.0, 47.0, altitude_upper={"value": 400, "reference": "W84", "units": "FT"})
    body = operation_body(feature)
    del body["altitude_upper_m"]
    op = planned(world, "red", body)
    assert op["volumes"]["features"][0]["properties"]["altitude_upper_m"] == pytest.approx(121.92)
    upper = op["f3548"]["details"]["volumes"][0]["volume"]["altitude_upper"]
    assert upper["units"] == "M" and upper["value"] == pytest.approx(121.92)


def test_a_features_own_altitude_object_wins_over_the_collections_default(world: World) -> None:
    feature = circle(8.0, 47.0, 100, altitude_lower={"value": 100, "units": "FT"})
    op = planned(world, "red", operation_body(feature, lower=5.0, upper=90.0))
    props = op["volumes"]["features"][0]["properties"]
    assert props["altitude_lower_m"] == pytest.approx(30.48) and props["altitude_upper_m"] == 90.0


def _without(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in keys}


def _bad_inputs() -> list[tuple[str, dict[str, Any], str]]:
    """(what, body, a word the 400's message must contain)."""
    ok = operation_body(square(8.0, 47.0))
    holed = square(8.0, 47.0, 0.02)
    holed["geometry"]["coordinates"].append(square(8.005, 47.005, 0.005)["geometry"]["coordinates"][0])
    now = datetime.now(UTC)
    return [
        ("no volumes", _without(ok, "volumes"), "volumes"),
        ("volumes a string", {**ok, "volumes": "everywhere"}, "volumes"),
        ("a geometry, not a feature", {**ok, "volumes": square(8.0, 47.0)["geometry"]}, "volumes"),
        ("features not a list", {**ok, "volumes": {"type": "FeatureCollection", "features": {}}}, "features"),
        ("empty collection", {**ok, "volumes": {"type": "FeatureCollection", "features": []}}, "volume"),
        ("properties not an object", operation_body({**square(8.0, 47.0), "properties": "x"}), "properties"),
        ("geometry not an object", operation_body({**square(8.0, 47.0), "geometry": [8, 47]}), "geometry"),
        (
            "rings not lists",
            operation_body({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [5]}}),
            "Polygon",
        ),
        (
            "a line",
            {
                **ok,
                "volumes": [
                    {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[8, 47], [9, 47]]}}
                ],
            },
            "LineString",
        ),
        ("hole in polygon", operation_body(holed), "holes"),
        (
            "two vertices",
            operation_body(
                {
                    "type": "Feature",
                    "geometry": {"type": "Polygon", "coordinates": [[[8, 47], [8.1, 47], [8, 47]]]},
                }
            ),
            "3",
        ),
        ("longitude out of range", operation_body(square(181.0, 47.0)), "longitude"),
        (
            "Point without radius",
            operation_body({"type": "Feature", "geometry": {"type": "Point", "coordinates": [8, 47]}}),
            "radius_m",
        ),
        ("negative radius", operation_body(circle(8.0, 47.0, -5)), "radius"),
        ("missing lower altitude", _without(ok, "altitude_lower_m"), "altitude_lower"),
        ("missing upper altitude", _without(ok, "altitude_upper_m"), "altitude_upper"),
        ("missing start", _without(ok, "time_start"), "time_start"),
        ("missing end", _without(ok, "time_end"), "time_end"),
        (
            "altitude not a number",
            operation_body(square(8.0, 47.0, altitude_lower_m="low")),
            "altitude_lower",
        ),
        (
            "non-W84 altitude",
            _without(
                operation_body(
                    square(8.0, 47.0, altitude_lower={"value": 0, "reference": "SFC", "units": "M"})
                ),
                "altitude_lower_m",
            ),
            "W84",
        ),
        (
            "unknown altitude units",
            _without(
                operation_body(
                    square(8.0, 47.0, altitude_lower={"value": 0, "reference": "W84", "units": "km"})
                ),
                "altitude_lower_m",
            ),
            "units",
        ),
        (
            "both altitude forms",
            operation_body(square(8.0, 47.0, altitude_lower={"value": 0}, altitude_lower_m=0.0)),
            "altitude_lower",
        ),
        ("floor above ceiling", operation_body(square(8.0, 47.0), lower=200.0, upper=100.0), "altitude"),
        (
            "time without offset",
            {**ok, "time_start": (now + timedelta(minutes=5)).replace(tzinfo=None).isoformat()},
            "time_start",
        ),
        ("time not a time", {**ok, "time_end": "soon"}, "time_end"),
        ("end before start", {**ok, "time_start": ok["time_end"], "time_end": ok["time_start"]}, "time"),
        ("volume already over", operation_body(square(8.0, 47.0), start_min=-120, minutes=60), "time_end"),
        ("priority above 100", {**ok, "priority": 101}, "priority"),
        ("priority below 0", {**ok, "priority": -1}, "priority"),
        ("priority not an integer", {**ok, "priority": 1.5}, "priority"),
        ("unknown field", {**ok, "colour": "red"}, "colour"),
        ("unknown state", {**ok, "state": "Nonconforming"}, "state"),
        ("id not a UUID", {**ok, "id": "my-flight"}, "id"),
        ("name too long", {**ok, "name": "x" * 201}, "name"),
    ]


@pytest.mark.parametrize(("what", "body", "word"), _bad_inputs(), ids=[w for w, _, _ in _bad_inputs()])
def test_a_bad_operation_is_400_naming_the_field(
    world: World, what: str, body: dict[str, Any], word: str
) -> None:
    r = post(world, "red", "/operations", body)
    assert r.status_code == 400, (what, r.status_code, r.text)
    assert word in r.json()["message"], (what, r.json()["message"])
    assert get(world, "red", "/operations?include_ended=true").json()["operations"] == []


def test_a_body_that_is_not_an_object_is_400(world: World) -> None:
    for body in ([], "plan", 3):
        assert post(world, "red", "/operations", body).status_code == 400
    r = world.client.post(
        world.ops_url("red", "/operations"),
        content=b"{not json",
        headers={**world.operator("red"), "Content-Type": "application/json"},
    )
    assert r.status_code == 400


def test_bad_path_ids_are_400(world: World) -> None:
    for path in ["/operations/x", "/operations/x/activate", "/operations/x/end", "/operations/x/telemetry"]:
        r = post(world, "red", path, {"samples": []}) if path.count("/") > 2 else get(world, "red", path)
        assert r.status_code == 400, (path, r.text)
    r = world.client.delete(world.ops_url("red", "/reservations/x"), headers=world.operator("red"))
    assert r.status_code == 400


def test_notifications_in_order_and_after_a_time(world: World) -> None:
    report = {
        "exchange": {
            "url": "http://testserver/x",
            "method": "GET",
            "recorder_role": "Client",
            "request_time": {"value": iso(datetime.now(UTC)), "format": "RFC3339"},
        }
    }
    sc = world.token("blue", "utm.strategic_coordination")
    first = world.client.post(world.uss_url("red", "/reports"), json=report, headers=sc).json()["report_id"]
    middle = datetime.now(UTC)
    second = world.client.post(world.uss_url("red", "/reports"), json=report, headers=sc).json()["report_id"]
    items = get(world, "red", "/notifications").json()["notifications"]
    assert [n["details"]["report_id"] for n in items] == [first, second]
    assert items[0]["seq"] < items[1]["seq"] and items[0]["at"] <= items[1]["at"]
    after = world.client.get(
        world.ops_url("red", "/notifications"), params={"after": iso(middle)}, headers=world.operator("red")
    )
    assert [n["details"]["report_id"] for n in after.json()["notifications"]] == [second]
    limited = get(world, "red", "/notifications?limit=1").json()["notifications"]
    assert [n["details"]["report_id"] for n in limited] == [first]
    assert get(world, "red", "/notifications?limit=0").status_code == 400
    assert get(world, "red", "/notifications?after=yesterday").status_code == 400
    naive = get(world, "red", "/notifications?after=2026-01-01T00:00:00")  # no offset: which zone?
    assert naive.status_code == 400 and "after" in naive.json()["message"]
    assert get(world, "blue", "/notifications").json()["notifications"] == []


# -- who may call --------------------------------------------------------------------------------


def test_only_the_partys_operators_may_call(world: World) -> None:
    planned(world, "red", operation_body(square(8.0, 47.0)))
    url = world.ops_url("red", "/operations")
    for headers, status in [
        ({}, 401),
        ({"Authorization": "Bearer nonsense"}, 401),
        (world.operator("blue"), 403),  # another party's operator
        (world.token("red", "utm.strategic_coordination"), 403),  # red, but not the operations scope
        (world.token("mallory", "parley.operations"), 403),
        (world.operator("red"), 200),
    ]:
        r = world.client.get(url, headers=headers)
        assert r.status_code == status, (headers, r.text)
        if status == 403:
            assert r.json()["message"]
    r = world.client.post(url, json=operation_body(square(9.0, 47.0)), headers=world.operator("blue"))
    assert r.status_code == 403
    for path in ["/others", "/notifications", "/status", "/reservations"]:
        assert (
            world.client.get(world.ops_url("red", path), headers=world.operator("green")).status_code == 403
        )
        assert world.client.get(world.ops_url("red", path), headers=world.operator("red")).status_code == 200


def test_status(world: World) -> None:
    r = get(world, "blue", "/status")
    assert r.status_code == 200
    assert r.json()["party"] == "blue" and r.json()["uss_base_url"] == "http://testserver/parties/blue"
    assert "constraint_management" not in r.json()["roles"]


# -- reservations --------------------------------------------------------------------------------


def test_a_reservation_blocks_others_and_is_withdrawn(world: World) -> None:
    r = post(world, "blue", "/reservations", reservation_body(square(8.0, 47.0, 0.02)))
    assert r.status_code == 403 and "constraint management" in r.json()["message"]

    r = post(world, "red", "/reservations", reservation_body(square(8.0, 47.0, 0.02), name="Air show"))
    assert r.status_code == 201, r.text
    reservation = r.json()["reservation"]
    assert (reservation["kind"], reservation["state"], reservation["name"]) == (
        "constraint",
        "Published",
        "Air show",
    )
    assert reservation["priority"] is None and reservation["ovn"]
    listed = get(world, "red", "/reservations").json()["reservations"]
    assert [x["id"] for x in listed] == [reservation["id"]]

    details = world.client.get(
        world.uss_url("red", f"/constraints/{reservation['id']}"), headers=world.token("blue", CP)
    )
    assert details.status_code == 200, details.text
    constraint = details.json()["constraint"]
    assert constraint["reference"]["ovn"] == reservation["ovn"]
    assert constraint["details"]["volumes"] == reservation["f3548"]["details"]["volumes"]

    r = post(world, "blue", "/operations", operation_body(circle(8.01, 47.01, 300), priority=100))
    assert r.status_code == 409, r.text
    conflicts = r.json()["check"]["conflicts"]
    assert [(c["other_id"], c["other_kind"], c["reason"], c["blocking"]) for c in conflicts] == [
        (reservation["id"], "constraint", "constraint", True)
    ]
    assert "not planned" in r.json()["message"]
    assert get(world, "blue", "/operations").json()["operations"] == []

    # republished with the same id: changed in place (200)
    r = post(
        world, "red", "/reservations", {**reservation_body(square(8.0, 47.0, 0.03)), "id": reservation["id"]}
    )
    assert r.status_code == 200, r.text
    assert r.json()["reservation"]["ovn"] != reservation["ovn"]

    r = world.client.delete(
        world.ops_url("red", f"/reservations/{reservation['id']}"), headers=world.operator("red")
    )
    assert r.status_code == 200 and r.json()["reservation"]["state"] == "Ended"
    assert get(world, "red", "/reservations").json()["reservations"] == []
    assert planned(world, "blue", operation_body(circle(8.01, 47.01, 300)))["state"] == "Accepted"
    # withdrawn twice: nothing more happens; an operation is not a reservation
    r = world.client.delete(
        world.ops_url("red", f"/reservations/{reservation['id']}"), headers=world.operator("red")
    )
    assert r.status_code == 200
    op = planned(world, "red", operation_body(square(20.0, 10.0)))
    r = world.client.delete(world.ops_url("red", f"/reservations/{op['id']}"), headers=world.operator("red"))
    assert r.status_code == 404


def test_a_bad_reservation_is_400(world: World) -> None:
    ok = reservation_body(square(8.0, 47.0))
    for body, word in [
        (_without(ok, "volumes"), "volumes"),
        ({**ok, "volumes": {"type": "FeatureCollection", "features": []}}, "volume"),
        ({**ok, "priority": 3}, "priority"),
        (_without(ok, "time_end"), "time_end"),
        ({**ok, "id": "x"}, "id"),
    ]:
        r = post(world, "red", "/reservations", body)
        assert r.status_code == 400, (body, r.text)
        assert word in r.json()["message"]
    assert get(world, "red", "/reservations").json()["reservations"] == []


# -- priorities ----------------------------------------------------------------------------------


def test_a_higher_priority_plans_over_a_lower_one_and_the_same_is_blocked(world: World) -> None:
    low = planned(world, "blue", operation_body(square(8.0, 47.0, 0.02), priority=0))
    r = post(world, "red", "/operations", operation_body(circle(8.01, 47.01, 300), priority=10))
    assert r.status_code == 201, r.text
    conflicts = r.json()["check"]["conflicts"]
    assert [(c["other_id"], c["reason"], c["blocking"]) for c in conflicts] == [
        (low["id"], "lower_priority", False)
    ]
    assert r.json()["check"]["clear"] is True  # reported, not blocking
    # blue is told of the new conflict through its subscription
    told = get(world, "blue", "/notifications").json()["notifications"]
    assert any(n["kind"] == "conflict" and n["operation_id"] == low["id"] for n in told)

    r = post(world, "green", "/operations", operation_body(circle(8.005, 47.005, 100), priority=0))
    assert r.status_code == 409, r.text
    reasons = {(c["other_id"], c["reason"], c["blocking"]) for c in r.json()["check"]["conflicts"]}
    assert (low["id"], "same_priority", True) in reasons


# -- a planning race -----------------------------------------------------------------------------


class RacedDss:
    """The node's DSS client, but the first write of an operational intent first lets ``rival``
    plan ``rival_request``: the DSS then refuses the write, whose key lacks the rival's OVN."""

    def __init__(self, inner: Any, rival: PartyNode, rival_request: planning.PlanRequest) -> None:
        self._inner = inner
        self._rival = rival
        self._rival_request = rival_request
        self.rival_outcome: planning.PlanOutcome | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def put_operational_intent(self, *args: Any, **kwargs: Any) -> Any:
        if self.rival_outcome is None:
            self.rival_outcome = await planning.plan(self._rival, self._rival_request)
        return await self._inner.put_operational_intent(*args, **kwargs)


def test_a_modification_raced_by_another_plan_is_tried_again(world: World) -> None:
    # red's triangle and, 10 m beyond its long side, blue's small circle: the same DSS cells (so
    # red's key must hold blue's OVN) but apart, so that no conflict blocks either
    triangle = {
        "type": "Feature",
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[8.0, 47.0], [8.02, 47.0], [8.0, 47.02], [8.0, 47.0]]],
        },
        "properties": {},
    }
    op = planned(world, "red", operation_body(triangle, priority=5))
    red, blue = world.server.nodes["red"], world.server.nodes["blue"]
    blue_volumes = planning_volumes(world, circle(8.0101, 47.0101, 5.0))
    rival = planning.PlanRequest(planning.new_operation_id(), {"volumes": blue_volumes, "priority": 5})
    raced = RacedDss(red.dss, blue, rival)
    red.dss = raced  # type: ignore[assignment]
    try:
        r = put(world, "red", f"/operations/{op['id']}", operation_body(triangle, priority=6))
    finally:
        red.dss = raced._inner
    assert raced.rival_outcome is not None and raced.rival_outcome.outcome is planning.Outcome.ACCEPTED
    assert r.status_code == 200, r.text
    assert r.json()["attempts"] >= 2
    assert r.json()["operation"]["priority"] == 6
    assert r.json()["others_considered"] == 1


def planning_volumes(world: World, feature: dict[str, Any]) -> list[dict[str, Any]]:
    """F3548 volumes of ``feature`` (an operation's default window and altitudes)."""
    from parley.api.party.geojson import volumes_from_input

    body = operation_body(feature)
    defaults = {k: body[k] for k in ("altitude_lower_m", "altitude_upper_m", "time_start", "time_end")}
    return volumes_from_input(body["volumes"], "volumes", defaults)
