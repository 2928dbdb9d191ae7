"""F3548 volumes as the node handles them: areas of interest for DSS queries, times on the wire."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

Json = dict[str, Any]

#: Metres per degree of latitude, a little under the shortest (at the equator: 110,574 m), so that
#: boxes computed with it contain what they must.
_M_PER_DEG_LAT = 110_000.0


def wire_time(t: datetime) -> Json:
    """An F3548 ``Time``: RFC 3339 in UTC with a ``Z``."""
    text = t.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    return {"value": text, "format": "RFC3339"}


def parse_wire_time(t: Json | None) -> datetime | None:
    if t is None:
        return None
    return datetime.fromisoformat(str(t["value"]).replace("Z", "+00:00"))


def _box(volume: Json) -> tuple[float, float, float, float]:
    """``(south, west, north, east)`` of a volume's outline, degrees (circles padded by 1 %)."""
    v3 = volume["volume"]
    circle = v3.get("outline_circle")
    if circle is not None:
        lat, lng = float(circle["center"]["lat"]), float(circle["center"]["lng"])
        dlat = float(circle["radius"]["value"]) * 1.01 / _M_PER_DEG_LAT
        dlng = dlat / max(math.cos(math.radians(min(abs(lat) + dlat, 89.9))), 1e-6)
        return lat - dlat, lng - dlng, lat + dlat, lng + dlng
    vertices = v3["outline_polygon"]["vertices"]
    lats = [float(p["lat"]) for p in vertices]
    lngs = [float(p["lng"]) for p in vertices]
    return min(lats), min(lngs), max(lats), max(lngs)


def bounding_volume(volumes: Sequence[Json]) -> Json | None:
    """One F3548 ``Volume4D`` containing all ``volumes`` (a lat/lng box, the lowest floor and
    highest ceiling, the earliest start and latest end), or None where a box does not work (a
    box wider than 180 degrees of longitude: across the antimeridian, or near a pole)."""
    boxes = [_box(v) for v in volumes]
    south = max(-90.0, min(b[0] for b in boxes))
    west = min(b[1] for b in boxes)
    north = min(90.0, max(b[2] for b in boxes))
    east = max(b[3] for b in boxes)
    if east - west >= 180.0 or west < -180.0 or east > 180.0 or north >= 89.9 or south <= -89.9:
        return None
    pad = 1e-6
    area: Json = {
        "volume": {
            "outline_polygon": {
                "vertices": [
                    {"lat": south - pad, "lng": west - pad},
                    {"lat": south - pad, "lng": east + pad},
                    {"lat": north + pad, "lng": east + pad},
                    {"lat": north + pad, "lng": west - pad},
                ]
            }
        }
    }
    lowers = [v["volume"].get("altitude_lower") for v in volumes]
    uppers = [v["volume"].get("altitude_upper") for v in volumes]
    if all(a is not None for a in lowers):
        area["volume"]["altitude_lower"] = {
            "value": min(float(a["value"]) for a in lowers if a is not None),
            "reference": "W84",
            "units": "M",
        }
    if all(a is not None for a in uppers):
        area["volume"]["altitude_upper"] = {
            "value": max(float(a["value"]) for a in uppers if a is not None),
            "reference": "W84",
            "units": "M",
        }
    starts = [parse_wire_time(v.get("time_start")) for v in volumes]
    ends = [parse_wire_time(v.get("time_end")) for v in volumes]
    if all(s is not None for s in starts):
        area["time_start"] = wire_time(min(s for s in starts if s is not None))
    if all(e is not None for e in ends):
        area["time_end"] = wire_time(max(e for e in ends if e is not None))
    return area


def time_window(volumes: Sequence[Json]) -> tuple[datetime | None, datetime | None]:
    """Earliest start and latest end of ``volumes`` (None where one is open)."""
    starts = [parse_wire_time(v.get("time_start")) for v in volumes]
    ends = [parse_wire_time(v.get("time_end")) for v in volumes]
    start = None if any(s is None for s in starts) else min(s for s in starts if s is not None)
    end = None if any(e is None for e in ends) else max(e for e in ends if e is not None)
    return start, end
