"""The 4D check on hand-made cases: sites inside, near and far, in and out of time and altitude;
the demo's convoy, protected where its schedule puts it (passing, stopping, turning back)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest

from parley.domain.geo import Circle, LatLng
from parley.protection import (
    Category,
    ProtectedKind,
    ProtectionConflict,
    ProtectionIndex,
    check,
)
from parley.strategic import InvalidOperation, VolumeRef
from parley.strategic.earth import geod
from tests.protection import ROAD, T0, at, convoy, offset, operation, road, site, square, volume

HOSPITAL = site(ROAD, 300.0, id="hospital")
SECOND = timedelta(seconds=1)


def _only(conflicts: list[ProtectionConflict]) -> ProtectionConflict:
    assert len(conflicts) == 1, conflicts
    return conflicts[0]


def _times(conflicts: list[ProtectionConflict]) -> list[tuple[datetime, datetime]]:
    return [(c.start, c.end) for c in conflicts]


# -- sites -----------------------------------------------------------------------------------------
def test_a_volume_over_a_site_conflicts_at_distance_zero() -> None:
    c = _only(check(operation(volume(Circle(offset(ROAD, 50.0, 0.0), 200.0))), [HOSPITAL]))
    assert (c.volume, c.protected_id, c.kind, c.category) == (
        VolumeRef(False, 0),
        "hospital",
        ProtectedKind.SITE,
        Category.HOSPITAL,
    )
    assert (c.least_distance_m, c.keep_away_m, c.intrusion_m) == (0.0, 300.0, 300.0)
    assert (c.start, c.end) == (T0, at(360))


def test_a_volume_near_a_site_conflicts_and_says_how_near() -> None:
    near = operation(volume(Circle(offset(ROAD, 1_200.0, 0.0), 1_000.0)))
    assert _only(check(near, [HOSPITAL])).least_distance_m == pytest.approx(200.0, abs=0.01)
    assert check(near, [dataclasses.replace(HOSPITAL, radius_m=199.0)]) == []


def test_a_volume_far_from_a_site_does_not_conflict() -> None:
    assert check(operation(volume(Circle(offset(ROAD, 0.0, 1_401.0), 1_100.0))), [HOSPITAL]) == []


def test_polygon_sites_are_buffered_by_their_radius() -> None:
    camp = site(square(ROAD, 500.0), 250.0, id="camp", category=Category.CAMP)
    beside = operation(volume(square(offset(ROAD, 1_000.0, 0.0), 300.0)))  # 200 m from the camp
    assert _only(check(beside, [camp])).least_distance_m == pytest.approx(200.0, abs=0.05)
    assert check(beside, [dataclasses.replace(camp, radius_m=150.0)]) == []
    inside = operation(volume(Circle(offset(ROAD, 100.0, 100.0), 50.0)))  # wholly inside the camp
    assert _only(check(inside, [dataclasses.replace(camp, radius_m=0.0)])).least_distance_m == 0.0
    around = operation(volume(square(ROAD, 2_000.0)))  # the camp wholly inside the volume
    assert _only(check(around, [camp])).least_distance_m == 0.0


def test_a_site_conflicts_only_while_both_windows_are_open() -> None:
    later = dataclasses.replace(HOSPITAL, start=at(400), end=at(500))
    over = volume(Circle(ROAD, 100.0), at(0), at(360))
    assert check(operation(over), [later]) == []
    assert check(operation(dataclasses.replace(over, time_end=at(400))), [later]) == []  # only touch
    assert _times(check(operation(dataclasses.replace(over, time_end=at(450))), [later])) == [
        (at(400), at(450))
    ]
    assert _times(check(operation(dataclasses.replace(over, time_start=None, time_end=None)), [later])) == [
        (at(400), at(500))
    ]


def test_a_volume_above_the_protected_band_does_not_conflict() -> None:
    grounded = dataclasses.replace(HOSPITAL, ground_m=250.0)

    def from_m(lower_m: float | None) -> list[ProtectionConflict]:
        return check(operation(volume(Circle(ROAD, 100.0), lower_m=lower_m, upper_m=5_000.0)), [grounded])

    assert from_m(750.0) == [] and from_m(2_000.0) == []
    assert len(from_m(749.0)) == len(from_m(None)) == len(from_m(-100.0)) == 1
    high = operation(volume(Circle(ROAD, 100.0), lower_m=700.0, upper_m=5_000.0))
    assert check(high, [grounded], protected_height_m=300.0) == []
    assert len(check(high, [grounded], protected_height_m=600.0)) == 1
    assert len(check(high, [dataclasses.replace(grounded, ceiling_m=800.0)])) == 1
    assert (
        len(check(operation(volume(Circle(ROAD, 100.0), lower_m=90_000.0, upper_m=95_000.0)), [HOSPITAL]))
        == 1
    )


def test_off_nominal_volumes_are_checked_and_named() -> None:
    far, over = volume(Circle(offset(ROAD, 0.0, 9_000.0), 100.0)), volume(Circle(ROAD, 100.0))
    c = _only(check(operation(far, off_nominal=[far, over]), [HOSPITAL]))
    assert c.volume == VolumeRef(True, 1) and str(c.volume) == "off_nominal_volumes[1]"


def test_invalid_operations_are_refused() -> None:
    with pytest.raises(InvalidOperation, match=r"volumes\[0\]"):
        check(operation(volume(Circle(ROAD, -5.0))), [HOSPITAL])


# -- the demo's convoy -----------------------------------------------------------------------------
ROUTE = road(60_000.0, 4)
#: 08:00 leaves at 10 m/s; 09:00 stops at 36 km; 10:00 turns back west; 12:00 at 10 km.
CONVOY = convoy(ROUTE, [(120, 0.0), (180, 36_000.0), (240, 36_000.0), (360, 10_000.0)], half_width_m=100.0)
#: RED's reservation over the road around 20 km, 06:00 to 12:00.
RESERVATION = volume(square(offset(ROAD, 20_000.0, 0.0), 1_000.0), at(0), at(360))


def _close(a: datetime, b: datetime, seconds: float = 2.0) -> bool:
    return abs((a - b).total_seconds()) <= seconds


def test_a_convoy_scheduled_elsewhere_does_not_conflict() -> None:
    beyond = volume(Circle(offset(ROAD, 50_000.0, 0.0), 2_000.0), at(0), at(24 * 60))  # never reached
    assert check(operation(beyond), [CONVOY]) == []
    early = dataclasses.replace(RESERVATION, time_end=at(60))  # the convoy sets off at 08:00
    assert check(operation(early), [CONVOY]) == []


def test_the_convoy_conflicts_only_while_it_passes_and_again_when_it_comes_back() -> None:
    out, back = check(operation(RESERVATION), [CONVOY])
    # out: 18.9 to 21.1 km at 10 m/s from 08:00, +- the 10-minute margin
    assert _close(out.start, at(120 + 18_900 / 600 - 10)) and _close(out.end, at(120 + 21_100 / 600 + 10))
    # back: from 36 km at 10:00, west at 26 km per 2 h
    speed = 26_000 / 120
    assert _close(back.start, at(240 + 14_900 / speed - 10)) and _close(
        back.end, at(240 + 17_100 / speed + 10)
    )
    assert out.least_distance_m == back.least_distance_m == 0.0
    assert (out.kind, out.category, out.keep_away_m) == (ProtectedKind.MOVEMENT, None, 100.0)
    exact = check(operation(RESERVATION), [dataclasses.replace(CONVOY, time_margin_s=0.0)])
    assert [(c.end - c.start).total_seconds() for c in exact] == pytest.approx(
        [220.0, 2_200 / speed * 60], abs=2
    )


def test_a_stopped_convoy_is_protected_where_it_stopped() -> None:
    stop = Circle(offset(ROAD, 36_000.0, 0.0), 300.0)
    during = _only(check(operation(volume(stop, at(200), at(220))), [CONVOY]))
    assert (during.start, during.end) == (at(200), at(220))
    leaving = _only(check(operation(volume(stop, at(240), at(260))), [CONVOY]))
    # it moves off at 10:00 and is 400 m away at 216.7 m/min: protected 1.85 + 10 minutes more
    assert leaving.start == at(240) and _close(leaving.end, at(240 + 400 / (26_000 / 120) + 10))
    assert check(operation(volume(stop, at(280), at(300))), [CONVOY]) == []


def test_the_least_distance_is_to_the_convoys_possible_positions() -> None:
    beside = volume(Circle(offset(ROAD, 20_000.0, 250.0), 100.0), at(0), at(360))
    wide = dataclasses.replace(CONVOY, half_width_m=200.0)
    assert [round(c.least_distance_m, 1) for c in check(operation(beside), [wide])] == [150.0, 150.0]
    assert check(operation(beside), [dataclasses.replace(CONVOY, half_width_m=149.0)]) == []


def test_the_convoy_may_be_early_or_late_by_its_margin() -> None:
    before = volume(Circle(ROAD, 50.0), at(100), at(112))  # it leaves at 08:00 (120), may be 10 min early
    assert _times(check(operation(before), [CONVOY])) == [(at(110), at(112))]
    after = volume(Circle(offset(ROAD, 10_000.0, 0.0), 50.0), at(360), at(400))  # arrives 12:00, may be late
    assert _times(check(operation(after), [CONVOY])) == [(at(360), at(370))]


# -- the index ---------------------------------------------------------------------------------------
def test_the_index_gives_the_same_conflicts_and_refuses_other_items() -> None:
    items = [HOSPITAL, CONVOY, site(offset(ROAD, 30_000.0, 400.0), 800.0, id="school")]
    op = operation(RESERVATION, volume(Circle(offset(ROAD, 30_000.0, 0.0), 500.0), at(0), at(360)))
    index = ProtectionIndex.build(items)
    assert check(op, items, index=index) == check(op, items) != []
    assert check(op, list(items), index=index) == check(op, items)
    with pytest.raises(ValueError, match="built over other protected items"):
        check(op, items[:2], index=index)
    assert check(op, [], index=ProtectionIndex.build([])) == [] == check(op, [])


def _east(p: LatLng, metres: float) -> LatLng:
    lng, lat, _ = geod().fwd(p.lng, p.lat, 90.0, metres)
    return LatLng(float(lat), float((lng + 180.0) % 360.0 - 180.0))


@pytest.mark.parametrize("lat", [0.0, 60.0, -84.9, 86.0, 89.99])
def test_sites_across_the_antimeridian_and_near_the_poles_are_found(lat: float) -> None:
    here = LatLng(lat, 179.9999)
    there = _east(here, 300.0)  # across the antimeridian
    assert there.lng < 0.0
    items = [site(there, 250.0, id="there"), site(_east(here, 5_000.0), 250.0, id="far")]
    op = operation(volume(Circle(here, 100.0)))
    index = ProtectionIndex.build(items)
    expected = check(op, items)
    assert [c.protected_id for c in expected] == ["there"]
    assert check(op, items, index=index) == expected
    assert expected[0].least_distance_m == pytest.approx(200.0, abs=0.01)


def test_a_site_across_the_pole_is_found() -> None:
    items = [site(LatLng(89.99, 0.0), 2_300.0, id="across")]
    op = operation(volume(Circle(LatLng(89.99, 180.0), 100.0)))
    across = check(op, items, index=ProtectionIndex.build(items))
    gap = float(geod().inv(0.0, 89.99, 180.0, 89.99)[2]) - 100.0
    assert [round(c.least_distance_m, 2) for c in across] == [round(gap, 2)] and gap < 2_300.0
    assert check(op, [dataclasses.replace(items[0], radius_m=gap - 1.0)]) == []


def test_many_movements_share_one_merge() -> None:
    convoys = [dataclasses.replace(CONVOY, id=f"c{i}", time_margin_s=60.0 * i) for i in range(5)]
    found = check(operation(RESERVATION), convoys)
    assert [c.protected_id for c in found] == ["c4", "c3", "c2", "c1", "c0"] * 2  # by start: wider first
    durations = [(c.end - c.start).total_seconds() for c in found[:5]]
    assert durations == pytest.approx([220.0 + 120.0 * i for i in (4, 3, 2, 1, 0)], abs=2)


def test_a_convoy_deep_inside_a_polygon_is_protected_all_the_way_through() -> None:
    """Regression: the interior of a polygon farther than the keep-away from its boundary counts,
    whether the route's edge ends inside it or crosses it from side to side."""
    field = operation(volume(square(ROAD, 2_000.0)))
    through = convoy(
        [offset(ROAD, -5_000.0, 0.0), offset(ROAD, 5_000.0, 0.0)],
        [(0.0, 0.0), (100.0, 10_000.0)],
        half_width_m=20.0,
        margin_s=0.0,
    )
    c = _only(check(field, [through]))
    assert (
        abs((c.start - at(30.0 - 0.2)).total_seconds()) < 1.0
        and abs((c.end - at(70.0 + 0.2)).total_seconds()) < 1.0
    )
    ending = convoy(
        [offset(ROAD, -5_000.0, 0.0), ROAD], [(0.0, 0.0), (50.0, 5_000.0)], half_width_m=20.0, margin_s=0.0
    )
    c = _only(check(field, [ending]))
    assert abs((c.start - at(30.0 - 0.2)).total_seconds()) < 1.0 and c.end == at(50.0)
