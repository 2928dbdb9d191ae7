"""Input the engine refuses, with a message naming the operation and the volume; F3548 objects in,
with only W84 metres accepted."""

from __future__ import annotations

import math
from datetime import datetime

import pytest
from implicitdict import ImplicitDict
from uas_standards.astm.f3548.v21 import api

from parley.domain.errors import InvalidInput
from parley.domain.geo import LatLng, Polygon
from parley.strategic import InvalidOperation, OperationKind, UnsupportedAltitudeReference, check, prepare
from parley.strategic.f3548 import constraint_from_details, operation_from_details, volume_from_f3548
from tests.strategic.helpers import HOUR, T0, Plane, circle_at, op, rect, vol

PLANE = Plane(52.0, 4.0)
GOOD = PLANE.polygon(rect(0, 0, 100, 100))
BOWTIE = PLANE.polygon([(0, 0), (100, 100), (100, 0), (0, 100)])


@pytest.mark.parametrize(
    ("volume", "message"),
    [
        (vol(Polygon(GOOD.vertices[:2])), r"volumes\[1\]: a polygon needs 3"),
        (vol(Polygon((*GOOD.vertices, GOOD.vertices[1]))), r"vertices\[4\]: duplicates"),
        (vol(Polygon((*GOOD.vertices[:3], LatLng(91.0, 4.0)))), r"vertices\[3\]: latitude 91.0"),
        (
            vol(Polygon((*GOOD.vertices[:3], LatLng(52.0, math.nan)))),
            r"vertices\[3\]: latitude and longitude",
        ),
        (vol(BOWTIE), r"polygon edges cross"),
        (vol(circle_at(52.0, 4.0, 0.0)), "radius must be a positive"),
        (vol(circle_at(52.0, 4.0, 150_000.0)), "beyond the 100000 m"),
        (vol(GOOD, 100.0, 50.0), "altitude_lower .* is above altitude_upper"),
        (vol(GOOD, 0.0, math.inf), "altitude_upper must be within"),
        (vol(GOOD, start=T0, end=T0), "must be before time_end"),
        (vol(GOOD, start=datetime(2026, 1, 1), end=datetime(2026, 1, 2)), "time zone"),
        (vol(PLANE.polygon([(0, 0), (300_000, 0), (0, 10)])), "beyond the 125 km"),
    ],
)
def test_bad_volumes_are_refused_with_where_and_why(volume: object, message: str) -> None:
    subject = op("plan-7", vol(GOOD), volume)  # type: ignore[arg-type]
    with pytest.raises(InvalidOperation, match=message) as error:
        check(subject, [])
    assert "operation 'plan-7'" in str(error.value) or "plan-7" in str(error.value)
    assert isinstance(error.value, InvalidInput)  # one HTTP mapping: 400


def test_operations_need_a_volume_and_an_integer_priority() -> None:
    with pytest.raises(InvalidOperation, match="at least one volume"):
        prepare(op("empty"))
    with pytest.raises(InvalidOperation, match="priority must be an integer"):
        prepare(op("p", vol(GOOD), priority=1.5))  # type: ignore[arg-type]


def test_a_missing_outline_is_refused() -> None:
    from parley.domain.geo import Volume3D, Volume4D

    with pytest.raises(InvalidOperation, match="a footprint"):
        prepare(op("p", Volume4D(Volume3D(None, 0.0, 10.0), T0, T0 + HOUR)))


def test_others_crossing_polygons_are_refused_only_where_they_matter() -> None:
    far_bowtie = Plane(52.0, 5.0).polygon([(0, 0), (100, 100), (100, 0), (0, 100)])
    assert check(op("mine", vol(GOOD)), [op("theirs", vol(far_bowtie))]).conflicts == ()
    with pytest.raises(InvalidOperation, match=r"operation 'theirs' volumes\[0\]: polygon edges cross"):
        check(op("mine", vol(GOOD)), [op("theirs", vol(BOWTIE))])


def test_long_edges_follow_the_geodesic() -> None:
    """A 200 km edge bulges away from the straight line in lat/lng; the engine follows the geodesic
    (it splits long edges), so a small square just beyond the geodesic does not conflict."""
    plane = Plane(60.0, 10.0)
    big = plane.polygon([(-100_000, 0), (100_000, 0), (0, -50_000)])  # north edge: the geodesic y = 0
    just_north = plane.polygon(rect(-5, 0.02, 5, 10))
    just_south = plane.polygon(rect(-5, -10, 5, -0.02))
    assert not check(op("a", vol(big)), [op("b", vol(just_north))]).conflicts
    assert check(op("a", vol(big)), [op("b", vol(just_south))]).conflicts


# -- F3548 objects ---------------------------------------------------------------------------------
def _f3548_volume(reference: str = "W84", units: str = "M", outline: dict | None = None) -> dict:  # type: ignore[type-arg]
    return {
        "volume": outline
        or {
            "outline_polygon": {"vertices": [{"lat": p.lat, "lng": p.lng} for p in GOOD.vertices]},
        }
        | {
            "altitude_lower": {"value": 0, "reference": reference, "units": units},
            "altitude_upper": {"value": 120, "reference": reference, "units": units},
        },
        "time_start": {"value": "2026-01-01T12:00:00Z", "format": "RFC3339"},
        "time_end": {"value": "2026-01-01T13:00:00Z", "format": "RFC3339"},
    }


def test_f3548_objects_become_operations() -> None:
    details = ImplicitDict.parse(
        {"priority": 20, "volumes": [_f3548_volume()], "off_nominal_volumes": [_f3548_volume()]},
        api.OperationalIntentDetails,
    )
    operation = operation_from_details("oi", details, state="Activated", manager="uss1")
    assert operation.priority == 20 and operation.manager == "uss1" and operation.state is not None
    assert len(operation.volumes) == 1 and len(operation.off_nominal_volumes) == 1
    v = operation.volumes[0]
    assert (v.volume.altitude_lower_m, v.volume.altitude_upper_m) == (0.0, 120.0)
    assert v.time_start == T0 and v.time_end == T0 + HOUR
    assert v.volume.outline == GOOD
    constraint = constraint_from_details(
        "c", ImplicitDict.parse({"volumes": [_f3548_volume()]}, api.ConstraintDetails)
    )
    assert constraint.kind is OperationKind.CONSTRAINT
    assert check(operation, [constraint]).conflicts


@pytest.mark.parametrize(("reference", "units"), [("AMSL", "M"), ("SFC", "M"), ("W84", "FT")])
def test_only_w84_metres_are_accepted(reference: str, units: str) -> None:
    with pytest.raises(UnsupportedAltitudeReference, match=reference if reference != "W84" else units):
        volume_from_f3548(_f3548_volume(reference, units))


def test_f3548_outlines_must_be_exactly_one_and_in_metres() -> None:
    both = {
        "outline_circle": {"center": {"lat": 1.0, "lng": 2.0}, "radius": {"value": 5, "units": "M"}},
        "outline_polygon": {"vertices": []},
    }
    with pytest.raises(InvalidOperation, match="exactly one"):
        volume_from_f3548(_f3548_volume(outline=both))
    feet = {"outline_circle": {"center": {"lat": 1.0, "lng": 2.0}, "radius": {"value": 5, "units": "FT"}}}
    with pytest.raises(InvalidOperation, match="radius units"):
        volume_from_f3548(_f3548_volume(outline=feet))


def test_others_repeated_vertices_are_refused() -> None:
    v = GOOD.vertices
    neighbour = Polygon((v[0], v[1], v[1], v[2], v[3]))
    with pytest.raises(
        InvalidOperation, match=r"operation 'theirs' volumes\[0\]\.vertices\[1\]: repeats its neighbour"
    ):
        check(op("mine", vol(GOOD)), [op("theirs", vol(neighbour))])
    pinched = PLANE.polygon([(0, 0), (50, 50), (100, 0), (100, 100), (50, 50), (0, 100)])
    with pytest.raises(
        InvalidOperation, match=r"operation 'theirs' volumes\[0\]: polygon edges cross or touch"
    ):
        check(op("mine", vol(GOOD)), [op("theirs", vol(pinched))])
    with pytest.raises(InvalidOperation, match=r"vertices\[4\]: duplicates an earlier vertex"):
        check(op("mine", vol(pinched)), [])


def test_a_window_mixing_naive_and_aware_times_is_refused_not_crashed() -> None:
    with pytest.raises(InvalidOperation, match="time zone"):
        prepare(op("p", vol(GOOD, start=datetime(2026, 1, 1), end=T0 + HOUR)))
