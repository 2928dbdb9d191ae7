"""Re-planning an affected operation out of a vacated zone (:func:`parley.services.compliance.cut_volumes`):
the pieces never meet the zone and its buffers between the cut and the zone's end (checked by the
strategic engine, independently of the cut's own geometry), and they cover the original volume
everywhere else (sampled)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parley.compliance.zone import Zone
from parley.services.compliance import cut_volumes
from parley.services.party.areas import parse_wire_time, wire_time
from parley.strategic import Operation, check
from parley.strategic.f3548 import operation_from_details

T0 = datetime(2017, 5, 3, 6, 0, tzinfo=UTC)


def _square(lng: float, lat: float, size: float) -> list[dict[str, float]]:
    return [
        {"lat": lat, "lng": lng},
        {"lat": lat, "lng": lng + size},
        {"lat": lat + size, "lng": lng + size},
        {"lat": lat + size, "lng": lng},
    ]


def _volume(
    vertices: list[dict[str, float]] | None,
    start: float,
    end: float,
    lo: float,
    hi: float,
    circle: Any = None,
) -> dict[str, Any]:
    v3: dict[str, Any] = {
        "altitude_lower": {"value": lo, "reference": "W84", "units": "M"},
        "altitude_upper": {"value": hi, "reference": "W84", "units": "M"},
    }
    if circle is not None:
        v3["outline_circle"] = circle
    else:
        v3["outline_polygon"] = {"vertices": vertices}
    return {
        "volume": v3,
        "time_start": wire_time(T0 + timedelta(minutes=start)),
        "time_end": wire_time(T0 + timedelta(minutes=end)),
    }


def _zone(size: float = 0.05) -> Zone:
    feature = {
        "type": "Feature",
        "geometry": {
            "type": "Polygon",
            "coordinates": [
                [
                    [40.0, 35.0],
                    [40.0 + size, 35.0],
                    [40.0 + size, 35.0 + size],
                    [40.0, 35.0 + size],
                    [40.0, 35.0],
                ]
            ],
        },
        "properties": {
            "alt_lower_m": 0,
            "alt_upper_m": 2_000,
            "start": "2017-05-03T06:30:00.000000Z",
            "end": "2017-05-03T09:00:00.000000Z",
        },
    }
    return Zone.from_volume(feature, buffer_h_m=500.0, buffer_v_m=150.0)


def _zone_op(zone: Zone, start: datetime, end: datetime) -> Operation:
    vols = tuple(v.__class__(v.volume, start, end) for v in zone.to_volumes4d())
    return Operation("zone", vols)


def _op(volumes: list[dict[str, Any]]) -> Operation:
    return operation_from_details("op", {"volumes": volumes, "priority": 0})


volumes = st.builds(
    lambda lng, lat, size, start, length, lo, band, circle: (
        _volume(
            None,
            start,
            start + length,
            lo,
            lo + band,
            {"center": {"lat": lat, "lng": lng}, "radius": {"value": size * 50_000, "units": "M"}},
        )
        if circle
        else _volume(_square(lng, lat, size), start, start + length, lo, lo + band)
    ),
    st.floats(39.9, 40.1),
    st.floats(34.9, 35.1),
    st.floats(0.005, 0.15),
    st.floats(0, 200),
    st.floats(5, 300),
    st.floats(0, 2_500),
    st.floats(50, 2_000),
    st.booleans(),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(volumes, min_size=1, max_size=3), st.floats(0, 120))
def test_the_pieces_stay_out_of_the_zone_from_the_cut_and_keep_the_rest(
    original: list[dict[str, Any]], cut_min: float
) -> None:
    zone = _zone()
    cut_from = max(zone.start, T0 + timedelta(minutes=cut_min))
    pieces = cut_volumes(original, zone, cut_from)
    if pieces:
        found = check(_op(pieces), [_zone_op(zone, cut_from, zone.end)])
        assert not found.conflicts, found.conflicts
    # Outside [cut_from, zone.end) every original volume is still there, unchanged.
    for v in original:
        start, end = parse_wire_time(v["time_start"]), parse_wire_time(v["time_end"])
        assert start is not None and end is not None
        for t in (start, end - timedelta(seconds=1)):
            if cut_from <= t < zone.end:
                continue
            assert any(
                p["volume"] == v["volume"]
                and (parse_wire_time(p["time_start"]) or t) <= t < (parse_wire_time(p["time_end"]) or end)
                for p in pieces
            ), (t, v)


def test_a_volume_half_in_the_zone_keeps_its_other_half_during_the_window() -> None:
    zone = _zone()
    # As tall as the zone, twice as wide: its west half over the zone; 06:00-08:00, the cut from 07:00.
    box = [
        {"lat": 35.0, "lng": 40.0},
        {"lat": 35.0, "lng": 40.1},
        {"lat": 35.05, "lng": 40.1},
        {"lat": 35.05, "lng": 40.0},
    ]
    original = [_volume(box, 0, 120, 0, 1_000)]
    pieces = cut_volumes(original, zone, T0 + timedelta(hours=1))
    times = [(parse_wire_time(p["time_start"]), parse_wire_time(p["time_end"])) for p in pieces]
    assert times[0] == (T0, T0 + timedelta(hours=1))
    assert all(t == (T0 + timedelta(hours=1), T0 + timedelta(hours=2)) for t in times[1:])
    assert len(pieces) == 2
    lngs = [p["lng"] for p in pieces[1]["volume"]["outline_polygon"]["vertices"]]
    assert min(lngs) > 40.05 and max(lngs) <= 40.1 + 1e-9


def test_a_volume_wholly_inside_disappears_during_the_window() -> None:
    zone = _zone()
    original = [_volume(_square(40.01, 35.01, 0.02), 60, 300, 0, 1_000)]
    pieces = cut_volumes(original, zone, zone.start)
    assert [(parse_wire_time(p["time_start"]), parse_wire_time(p["time_end"])) for p in pieces] == [
        (zone.end, T0 + timedelta(minutes=300))
    ]


def test_a_volume_above_the_zone_or_outside_its_window_is_kept() -> None:
    zone = _zone()
    above = _volume(_square(40.0, 35.0, 0.1), 0, 120, 2_200, 3_000)
    later = _volume(_square(40.0, 35.0, 0.1), 180, 240, 0, 1_000)
    assert cut_volumes([above, later], zone, zone.start) == [above, later]
