"""Operations and requests for the map tests: BLUE's aircraft flying inside the area RED asks it
to vacate (the seed case's geometry, near 40.2 E 35.07 N)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from parley.line.times import format_time

#: RED's assault area: 40.15-40.25 E, 35.04-35.10 N.
AREA = [[40.15, 35.04], [40.25, 35.04], [40.25, 35.10], [40.15, 35.10], [40.15, 35.04]]
#: BLUE's orbit area, which the assault area cuts into.
ORBIT = [[40.10, 35.00], [40.30, 35.00], [40.30, 35.14], [40.10, 35.14], [40.10, 35.00]]


def when(seconds: float) -> str:
    return format_time(datetime.now(UTC) + timedelta(seconds=seconds))


def fly(blue: httpx.Client, name: str = "blue-1", alt_m: float = 3_000) -> str:
    """Plan and activate BLUE's operation over the orbit, 1,000 m either side of ``alt_m``; report
    one position inside RED's area."""
    r = blue.post(
        "/ops/v1/operations",
        json={
            "name": name,
            "state": "Activated",
            "altitude_lower_m": alt_m - 1_000,
            "altitude_upper_m": alt_m + 1_000,
            "time_start": when(0),
            "time_end": when(3 * 3600),
            "volumes": {
                "type": "FeatureCollection",
                "features": [{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ORBIT]}}],
            },
        },
    )
    assert r.status_code == 201, r.text
    op_id: str = r.json()["operation"]["id"]
    report(blue, op_id, 35.07, 40.20, alt_m)
    return op_id


def report(blue: httpx.Client, op_id: str, lat: float, lng: float, alt_m: float) -> None:
    sample = {"time": when(0), "lat": lat, "lng": lng, "alt_m": alt_m, "speed_mps": 40, "track_deg": 90}
    r = blue.post(f"/ops/v1/operations/{op_id}/telemetry", json={"samples": [sample]})
    assert r.status_code == 200, r.text


def vacate(red: httpx.Client, to: str = "blue", deadline_s: float = 1800) -> dict[str, Any]:
    r = red.post(
        "/line/v1/requests",
        json={
            "to": [to],
            "type": "vacate",
            "subject": "Clear the assault area",
            "reason": "Ground operation",
            "deadline": when(deadline_s),
            "volume": {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [AREA]},
                "properties": {
                    "alt_lower_m": 0,
                    "alt_upper_m": 6_000,
                    "start": when(0),
                    "end": when(6 * 3600),
                },
            },
        },
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body
