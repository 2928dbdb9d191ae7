"""Properties of the check on random scenes (a few volumes, sites and convoys within ~10 km):

- it agrees with the brute-force sampled reference (:mod:`parley.protection.sampled`): wherever the
  sampled distance is inside the keep-away distance (by more than a tolerance), the check reports a
  conflict at that time, and inside every conflict it reports the sampled distance is within the
  keep-away distance (plus the sampling step), never below the reported least distance;
- a larger radius, half-width or time margin never removes a conflict, nor shortens one;
- with an index it gives what it gives without (anywhere: the antimeridian and the poles included);
- moving the whole scene along longitude or mirroring it across the equator (isometries of the
  ellipsoid) changes nothing.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parley.domain.geo import Circle, LatLng, Polygon, Volume3D, Volume4D
from parley.protection import (
    Category,
    ProtectedMovement,
    ProtectedSite,
    ProtectionConflict,
    ProtectionIndex,
    Waypoint,
    check,
)
from parley.protection.sampled import check_sampled, sampled_distances
from parley.strategic import Operation
from parley.strategic.earth import geod
from tests.protection import at, offset, ring

SETTINGS = settings(
    max_examples=int(__import__("os").environ.get("PROT_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
Item = ProtectedSite | ProtectedMovement
Scene = tuple[Operation, list[Item]]

#: Metres by which the check and the reference may disagree on a distance besides sampling (the
#: check's frames and its linear placement along 10 km edges: well under this).
TOL_M = 0.5
STEP_M = 20.0

ordinary = st.builds(LatLng, st.floats(-70.0, 70.0), st.floats(-180.0, 180.0))
anywhere = st.one_of(
    ordinary,
    st.builds(LatLng, st.floats(-89.9, 89.9), st.sampled_from([-179.99, 179.99, 180.0])),
    st.builds(LatLng, st.sampled_from([-89.95, -86.0, 86.0, 89.95]), st.floats(-180.0, 180.0)),
)
near = st.floats(-4_000.0, 4_000.0)


@st.composite
def outlines(draw: st.DrawFn, place: LatLng, small: float, large: float) -> Circle | Polygon:
    centre = offset(place, draw(near), draw(near))
    if draw(st.booleans()):
        return Circle(centre, draw(st.floats(small, large)))
    n = draw(st.integers(3, 8))
    return ring(
        centre, draw(st.lists(st.floats(small, large), min_size=n, max_size=n)), draw(st.floats(0, 360))
    )


@st.composite
def volumes(draw: st.DrawFn, place: LatLng) -> Volume4D:
    start = at(draw(st.integers(0, 300)))
    lower = draw(st.one_of(st.none(), st.floats(0.0, 800.0)))
    return Volume4D(
        Volume3D(
            draw(outlines(place, 50.0, 3_000.0)),
            lower,
            None if lower is None else lower + draw(st.floats(50.0, 2_000.0)),
        ),
        start,
        start + timedelta(minutes=draw(st.integers(5, 300))),
    )


@st.composite
def sites(draw: st.DrawFn, place: LatLng, id: str) -> ProtectedSite:
    outline = draw(outlines(place, 50.0, 2_000.0))
    start = at(draw(st.integers(0, 360)))
    return ProtectedSite(
        id,
        draw(st.sampled_from(Category)),
        outline.center if isinstance(outline, Circle) else outline,
        draw(st.floats(5.0, 2_000.0)) if isinstance(outline, Circle) else draw(st.floats(0.0, 1_500.0)),
        start,
        start + timedelta(minutes=draw(st.integers(10, 600))),
        f"site {id}",
        ground_m=draw(st.one_of(st.none(), st.floats(0.0, 400.0))),
    )


@st.composite
def movements(draw: st.DrawFn, place: LatLng, id: str) -> ProtectedMovement:
    route = [offset(place, draw(st.floats(-6_000.0, 6_000.0)), draw(st.floats(-6_000.0, 6_000.0)))]
    through = offset(place, draw(near), draw(near))  # the route passes through the scene
    route.append(
        through
        if geod().inv(through.lng, through.lat, route[0].lng, route[0].lat)[2] > 100.0
        else offset(route[0], 200.0, 0.0)
    )
    for _ in range(draw(st.integers(0, 3))):
        bearing = math.radians(draw(st.floats(0.0, 360.0)))
        step = draw(st.floats(500.0, 8_000.0))
        route.append(offset(route[-1], step * math.sin(bearing), step * math.cos(bearing)))
    probe = ProtectedMovement(
        id, tuple(route), 1.0, (Waypoint(at(0), 0.0), Waypoint(at(1), 0.0)), 1, "", "probe"
    )
    n = draw(st.integers(2, 5))
    t = at(draw(st.integers(0, 240)))
    schedule = [Waypoint(t, draw(st.floats(0.0, probe.length_m)))]
    for _ in range(n - 1):
        t += timedelta(minutes=draw(st.integers(2, 120)))
        stop = draw(st.integers(0, 4)) == 0
        schedule.append(
            Waypoint(t, schedule[-1].distance_m if stop else draw(st.floats(0.0, probe.length_m)))
        )
    return ProtectedMovement(
        id,
        tuple(route),
        draw(st.floats(5.0, 800.0)),
        tuple(schedule),
        vehicles=3,
        markings="",
        name=f"convoy {id}",
        time_margin_s=draw(st.one_of(st.sampled_from([0.0, 30.0, 600.0]), st.floats(0.0, 1_800.0))),
        ground_m=draw(st.one_of(st.none(), st.floats(0.0, 400.0))),
        ceiling_m=None,
    )


@st.composite
def scenes(draw: st.DrawFn, places: st.SearchStrategy[LatLng] = ordinary, most: int = 3) -> Scene:
    place = draw(places)
    vols = [draw(volumes(place)) for _ in range(draw(st.integers(1, 2)))]
    items: list[Item] = []
    for i in range(draw(st.integers(1, most))):
        items.append(draw(sites(place, f"p{i}") if draw(st.booleans()) else movements(place, f"p{i}")))
    return Operation("op", tuple(vols[:1]), off_nominal_volumes=tuple(vols[1:])), items


# -- agreement with the sampled reference ----------------------------------------------------------
def _probe_times(lo: datetime, hi: datetime, conflicts: list[ProtectionConflict]) -> list[datetime]:
    n = min(120, max(1, math.ceil((hi - lo).total_seconds() / 30.0)))
    times = [lo + (hi - lo) * (i / n) for i in range(n + 1)]
    two = timedelta(seconds=2)
    for c in conflicts:
        times += [c.start, c.end, c.start + (c.end - c.start) / 2, c.start - two, c.end + two]
    return sorted({t for t in times if lo <= t <= hi})


@SETTINGS
@given(scenes())
def test_the_check_agrees_with_the_sampled_reference(scene: Scene) -> None:
    op, items = scene
    found = check(op, items)
    for ref in op.refs():
        vol = op.volume(ref)
        for item in items:
            mine = [c for c in found if c.volume == ref and c.protected_id == item.id]
            lower = vol.volume.altitude_lower_m
            margin = item.margin if isinstance(item, ProtectedMovement) else timedelta(0)
            lo = max(item.start - margin, vol.time_start or item.start - margin)
            hi = min(item.end + margin, vol.time_end or item.end + margin)
            if (lower is not None and lower >= item.top_m()) or not lo < hi:
                assert mine == []
                continue
            times = _probe_times(lo, hi, mine)
            d = sampled_distances(vol, item, times, step_m=STEP_M)
            keep = item.keep_away_m
            second = timedelta(seconds=1)
            for t, dt in zip(times, d, strict=True):
                inside = [c for c in mine if c.start <= t <= c.end]
                if inside:
                    assert dt <= keep + STEP_M + TOL_M, (t, dt, inside)
                    assert inside[0].least_distance_m <= dt + 1e-6
                elif all(t < c.start - second or t > c.end + second for c in mine):
                    assert dt > keep - TOL_M, (t, dt, mine)
            if isinstance(item, ProtectedSite) and mine:
                assert mine[0].least_distance_m >= float(d.min()) - STEP_M - TOL_M


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenes(most=2))
def test_sampled_conflicts_are_found_by_the_check(scene: Scene) -> None:
    op, items = scene
    found = check(op, items)
    for s in check_sampled(op, items, step_s=60.0, step_m=STEP_M):
        if s.least_distance_m <= s.keep_away_m - TOL_M:
            assert any(c.volume == s.volume and c.protected_id == s.protected_id for c in found)


# -- monotonicity -----------------------------------------------------------------------------------
def _widened(item: Item, factor: float, extra_m: float, extra_s: float) -> Item:
    if isinstance(item, ProtectedSite):
        return dataclasses.replace(item, radius_m=min(item.radius_m * factor + extra_m, 100_000.0))
    return dataclasses.replace(
        item, half_width_m=item.half_width_m * factor + extra_m, time_margin_s=item.time_margin_s + extra_s
    )


@SETTINGS
@given(scenes(), st.floats(1.0, 3.0), st.floats(0.0, 500.0), st.floats(0.0, 1_800.0))
def test_a_wider_keep_away_or_margin_never_removes_a_conflict(
    scene: Scene, factor: float, extra_m: float, extra_s: float
) -> None:
    op, items = scene
    before = check(op, items)
    after = check(op, [_widened(p, factor, extra_m, extra_s) for p in items])
    for c in before:
        assert any(
            d.volume == c.volume
            and d.protected_id == c.protected_id
            and d.start <= c.start
            and d.end >= c.end
            and d.least_distance_m <= c.least_distance_m + 1e-6
            for d in after
        ), c


# -- the index, and isometries ----------------------------------------------------------------------
@SETTINGS
@given(scenes(anywhere, most=4))
def test_the_index_changes_nothing(scene: Scene) -> None:
    op, items = scene
    assert check(op, items, index=ProtectionIndex.build(items)) == check(op, items)


def _moved(op: Operation, items: list[Item], f: Callable[[LatLng], LatLng]) -> Scene:
    def outline(o: Circle | Polygon | LatLng) -> Circle | Polygon | LatLng:
        if isinstance(o, Circle):
            return Circle(f(o.center), o.radius_m)
        if isinstance(o, Polygon):
            return Polygon(tuple(f(v) for v in o.vertices))
        return f(o)

    def vol(v: Volume4D) -> Volume4D:
        shape = v.volume.outline
        assert shape is not None
        moved = outline(shape)
        assert not isinstance(moved, LatLng)
        return dataclasses.replace(v, volume=dataclasses.replace(v.volume, outline=moved))

    moved_op = dataclasses.replace(
        op,
        volumes=tuple(vol(v) for v in op.volumes),
        off_nominal_volumes=tuple(vol(v) for v in op.off_nominal_volumes),
    )
    moved: list[Item] = [
        dataclasses.replace(p, outline=outline(p.outline))  # type: ignore[arg-type]
        if isinstance(p, ProtectedSite)
        else dataclasses.replace(p, route=tuple(f(q) for q in p.route))
        for p in items
    ]
    return moved_op, moved


def _same(a: list[ProtectionConflict], b: list[ProtectionConflict]) -> None:
    assert [(c.volume, c.protected_id) for c in a] == [(c.volume, c.protected_id) for c in b]
    for x, y in zip(a, b, strict=True):
        assert abs((x.start - y.start).total_seconds()) < 1e-3 and abs((x.end - y.end).total_seconds()) < 1e-3
        assert math.isclose(x.least_distance_m, y.least_distance_m, abs_tol=1e-4)


@SETTINGS
@given(scenes(), st.floats(-180.0, 180.0))
def test_moving_the_scene_along_longitude_or_across_the_equator_changes_nothing(
    scene: Scene, shift: float
) -> None:
    op, items = scene
    found = check(op, items)
    _same(found, check(*_moved(op, items, lambda p: LatLng(p.lat, (p.lng + shift + 180.0) % 360.0 - 180.0))))
    _same(found, check(*_moved(op, items, lambda p: LatLng(-p.lat, p.lng))))
