"""Affected aircraft: inside now, by plan only, neither; windows, bands and buffers respected."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from parley.compliance.affected import AircraftState, PlannedOverlap, affected, latest_states
from parley.compliance.zone import Zone
from parley.domain.geo import Circle, LatLng, Volume3D, Volume4D
from parley.domain.operations import TelemetrySample
from parley.strategic import InvalidOperation, Operation, VolumeRef
from tests.compliance import T0, T1, circle_feature, offset

NOW = T0 - timedelta(minutes=30)
DEADLINE = T0
# the zone: a 5 km circle, 0-3000 m, in force T0..T1 (6 h), requested 30 min ahead
ZONE = Zone.from_volume(circle_feature(35.0, 36.0, 5_000.0))


def _disc(
    km_east: float,
    radius_m: float = 1_000.0,
    start: datetime = T0,
    end: datetime = T1,
    lower: float = 500.0,
    upper: float = 1_500.0,
) -> Volume4D:
    lat, lng = offset(35.0, 36.0, 90.0, km_east * 1_000.0)
    return Volume4D(Volume3D(Circle(LatLng(lat, lng), radius_m), lower, upper), start, end)


def _state(op: str, km_east: float, alt: float = 1_000.0, t: datetime = NOW) -> AircraftState:
    lat, lng = offset(35.0, 36.0, 90.0, km_east * 1_000.0)
    return AircraftState(op, t, lat, lng, alt, 40.0, 90.0, 0.0)


def test_an_aircraft_inside_now_is_affected() -> None:
    [a] = affected(ZONE, [_state("blue-1", 2.0)], {}, now=NOW, deadline=DEADLINE)
    assert (a.operation_id, a.inside_now, a.planned, a.by_plan) == ("blue-1", True, (), False)
    assert a.state == _state("blue-1", 2.0)


def test_the_buffer_counts_and_beyond_it_nothing() -> None:
    assert affected(ZONE, [_state("b", 5.4)], {}, now=NOW, deadline=DEADLINE)[0].inside_now  # 400 m out
    assert affected(ZONE, [_state("b", 5.6)], {}, now=NOW, deadline=DEADLINE) == []  # 600 m out
    assert affected(ZONE, [_state("b", 0.0, alt=3_140.0)], {}, now=NOW, deadline=DEADLINE)[0].inside_now
    assert affected(ZONE, [_state("b", 0.0, alt=3_160.0)], {}, now=NOW, deadline=DEADLINE) == []


def test_an_operation_planned_through_the_zone_is_affected_by_plan_only() -> None:
    ops = {"blue-2": Operation("blue-2", (_disc(20.0), _disc(3.0, start=T0 + timedelta(hours=1))))}
    [a] = affected(ZONE, [], ops, now=NOW, deadline=DEADLINE)
    assert (a.operation_id, a.inside_now, a.state) == ("blue-2", False, None)
    assert a.planned == (PlannedOverlap(VolumeRef(False, 1), T0 + timedelta(hours=1), T1, 500.0, 1_500.0),)


def test_a_planned_volume_in_the_buffer_only_is_affected_and_one_beyond_is_not() -> None:
    # a 1 km disc 6.2 km east: its edge reaches 300 m into the 500 m buffer
    touching = {"op": Operation("op", (_disc(6.2),))}
    assert affected(ZONE, [], touching, now=NOW, deadline=DEADLINE)[0].planned[0].volume == VolumeRef(
        False, 0
    )
    clear = {"op": Operation("op", (_disc(6.6),))}  # edge 100 m beyond the buffer
    assert affected(ZONE, [], clear, now=NOW, deadline=DEADLINE) == []


def test_neither_inside_nor_planned_through_is_not_affected() -> None:
    ops = {"far": Operation("far", (_disc(30.0),))}
    assert affected(ZONE, [_state("far", 30.0)], ops, now=NOW, deadline=DEADLINE) == []


def test_volumes_that_meet_the_zone_only_outside_its_window_are_not_affected() -> None:
    before = _disc(0.0, start=T0 - timedelta(hours=2), end=T0)  # ends as the zone starts
    after = _disc(0.0, start=T1, end=T1 + timedelta(hours=1))  # starts as it ends
    above = _disc(0.0, lower=3_200.0, upper=4_000.0)  # above the band and its 150 m buffer
    ops = {k: Operation(k, (v,)) for k, v in (("before", before), ("after", after), ("above", above))}
    assert affected(ZONE, [], ops, now=NOW, deadline=DEADLINE) == []
    # from now on: a volume of the window's past does not count once the zone is in force
    mid = T0 + timedelta(hours=3)
    early = {"early": Operation("early", (_disc(0.0, start=T0, end=T0 + timedelta(hours=2)),))}
    assert affected(ZONE, [], early, now=mid, deadline=mid + timedelta(minutes=30)) == []
    [a] = affected(ZONE, [], early, now=T0 + timedelta(hours=1), deadline=T0 + timedelta(hours=2))
    assert a.planned[0].time_start == T0 + timedelta(hours=1) and a.planned[0].time_end == T0 + timedelta(
        hours=2
    )


def test_off_nominal_volumes_count_and_are_named_so() -> None:
    op = Operation("op", (_disc(30.0),), off_nominal_volumes=(_disc(30.0), _disc(1.0)))
    [a] = affected(ZONE, [], {"op": op}, now=NOW, deadline=DEADLINE)
    assert [p.volume for p in a.planned] == [VolumeRef(True, 1)]
    assert str(a.planned[0].volume) == "off_nominal_volumes[1]"


def test_inside_now_counts_only_if_the_zone_is_in_force_by_the_deadline() -> None:
    inside = [_state("b", 0.0)]
    assert affected(ZONE, inside, {}, now=NOW, deadline=T0 - timedelta(minutes=1)) == []  # not yet
    assert affected(ZONE, inside, {}, now=NOW, deadline=T0)[0].inside_now  # in force at the deadline
    assert affected(ZONE, inside, {}, now=T1, deadline=T1 + timedelta(hours=1)) == []  # over


def test_the_latest_state_counts() -> None:
    older_inside = _state("b", 0.0, t=NOW - timedelta(minutes=1))
    newer_outside = _state("b", 9.0, t=NOW)
    assert latest_states([newer_outside, older_inside]) == {"b": newer_outside}
    assert affected(ZONE, [newer_outside, older_inside], {}, now=NOW, deadline=DEADLINE) == []
    assert affected(ZONE, [older_inside], {}, now=NOW, deadline=DEADLINE)[0].inside_now


def test_both_reasons_together_and_the_order_is_by_operation_id() -> None:
    ops = {
        "c": Operation("c", (_disc(1.0),)),
        "a": Operation("a", (_disc(2.0),)),
        "z": Operation("z", (_disc(40.0),)),
    }
    states = [_state("d", 1.0), _state("c", 2.0), _state("z", 40.0)]
    result = affected(ZONE, states, ops, now=NOW, deadline=DEADLINE)
    assert [(a.operation_id, a.inside_now, a.by_plan) for a in result] == [
        ("a", False, True),
        ("c", True, True),
        ("d", True, False),
    ]
    assert result[0].state is None and result[1].state == _state("c", 2.0)


def test_the_mapping_key_is_the_operation_id_reported() -> None:
    ops = {"blue-7": Operation("other-name", (_disc(0.0),))}
    assert [a.operation_id for a in affected(ZONE, [], ops, now=NOW, deadline=DEADLINE)] == ["blue-7"]


def test_large_polygon_zones_are_checked_in_pieces() -> None:
    big = Zone.from_volume(circle_feature(35.0, 36.0, 150_000.0))
    ops = {
        "edge": Operation("edge", (_disc(150.3, radius_m=100.0),)),
        "out": Operation("out", (_disc(151.0, radius_m=100.0),)),
    }
    result = affected(big, [], ops, now=NOW, deadline=DEADLINE)
    assert [a.operation_id for a in result] == ["edge"]
    assert len(result[0].planned) == 1


def test_from_sample_and_invalid_operations() -> None:
    sample = TelemetrySample("op", T0, 35.0, 36.0, 1_000.0, 40.0, 90.0, -1.0, accuracy_h_m=3.0)
    assert AircraftState.from_sample(sample) == AircraftState("op", T0, 35.0, 36.0, 1_000.0, 40.0, 90.0, -1.0)
    bad = Operation("bad", (Volume4D(Volume3D(Circle(LatLng(35.0, 36.0), -1.0), 0.0, 10.0), T0, T1),))
    with pytest.raises(InvalidOperation, match="bad"):
        affected(ZONE, [], {"bad": bad}, now=NOW, deadline=DEADLINE)
