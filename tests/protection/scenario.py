"""A convoy and the bodies of the protection API, shared by the in-process and the real-HTTP tests.

The convoy runs east along latitude 35.0 from 40.0 to 40.3 (about 27 km), starting an hour from now
at 10 km/h... fast enough: 27 km in 90 minutes; a reservation over its road at the time it passes
there meets it, the same reservation three hours later does not (the convoy is long gone).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from parley.line.times import format_time

ROUTE = [[40.0, 35.0], [40.1, 35.0], [40.2, 35.0], [40.3, 35.0]]
LENGTH_M = 27_360.0  # a little less than the geodesic length (27,378 m): the schedule ends on the road


def now_plus(minutes: float) -> str:
    return format_time(datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=minutes))


def convoy(start_min: float = 60, minutes: float = 90, margin_s: float = 300) -> dict[str, Any]:
    """The exact notice members of the convoy (``route`` and ``protected``)."""
    t0, t1 = now_plus(start_min), now_plus(start_min + minutes)
    return {
        "route": {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": ROUTE},
            "properties": {"half_width_m": 500.0, "start": t0, "end": t1},
        },
        "protected": {
            "kind": "movement",
            "schedule": [{"t": t0, "distance_m": 0.0}, {"t": t1, "distance_m": LENGTH_M}],
            "time_margin_s": margin_s,
            "vehicles": 17,
            "markings": "white buses, red crescent",
            "name": "evacuation convoy",
        },
    }


def notify_body(exact: list[str], check_only: list[str], **members: Any) -> dict[str, Any]:
    return {
        "exact": exact,
        "check_only": check_only,
        "subject": "Evacuation convoy",
        "reason": "Civilians on the road; keep clear",
        "deadline": now_plus(30),
        "what": "17 buses",
        **(members or convoy()),
    }


def reservation(lng: float, start_min: float, minutes: float = 20) -> dict[str, Any]:
    """A reservation of a 2 km square just north of the road at ``lng`` (its southern edge 100 m
    from the road), from the ground to 300 m."""
    south = 35.0 + 0.0009
    ring = [
        [lng, south],
        [lng + 0.02, south],
        [lng + 0.02, south + 0.018],
        [lng, south + 0.018],
        [lng, south],
    ]
    return {
        "volumes": {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}, "properties": {}}
            ],
        },
        "altitude_lower_m": 0.0,
        "altitude_upper_m": 300.0,
        "time_start": now_plus(start_min).replace("Z", "+00:00"),
        "time_end": now_plus(start_min + minutes).replace("Z", "+00:00"),
    }
