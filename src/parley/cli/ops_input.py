"""What ``parley ops`` reads: GeoJSON volume files, times (``+10m``, RFC 3339), durations (``1h30m``)
and telemetry files (CSV or JSON lines). Every problem is a :class:`Failure` naming the file and line.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from parley.cli.ops_client import Failure, Json

_UNITS_S: Final = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION: Final = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_GEOMETRIES: Final = ("Polygon", "Point")

#: Columns of a telemetry file without a header row, in order.
TELEMETRY_COLUMNS: Final = ("time", "lat", "lng", "alt_m", "speed_mps", "track_deg")
#: Every field a telemetry sample may carry (see ``parley.api.party.ops.SampleIn``).
TELEMETRY_FIELDS: Final = (
    *TELEMETRY_COLUMNS,
    "vertical_speed_mps",
    "accuracy_h_m",
    "accuracy_v_m",
)


def parse_duration(text: str, what: str = "--duration") -> timedelta:
    """``90s``, ``10m``, ``1h30m``, ``2d``: a positive duration.

    >>> parse_duration("1h30m")
    datetime.timedelta(seconds=5400)
    """
    compact = text.strip().lower().replace(" ", "")
    if not compact or _DURATION.sub("", compact):
        raise Failure(f"{what} {text!r} is not a duration: write e.g. 90s, 10m, 1h30m or 2d")
    seconds = sum(float(n) * _UNITS_S[unit] for n, unit in _DURATION.findall(compact))
    if seconds <= 0:
        raise Failure(f"{what} {text!r} must be longer than zero")
    return timedelta(seconds=seconds)


def parse_when(text: str, now: datetime, what: str = "--start") -> datetime:
    """``now``, ``+10m`` / ``-1h`` (from now), or an RFC 3339 time with an offset or ``Z``.

    >>> t0 = datetime(2030, 1, 1, tzinfo=UTC)
    >>> parse_when("+1h", t0).isoformat()
    '2030-01-01T01:00:00+00:00'
    >>> parse_when("2030-01-01T12:00:00+02:00", t0).isoformat()
    '2030-01-01T10:00:00+00:00'
    """
    value = text.strip()
    if value.lower() == "now":
        return now
    if value[:1] in ("+", "-"):
        delta = parse_duration(value[1:], what)
        return now + delta if value[0] == "+" else now - delta
    t = _rfc3339(value)
    if t is None:
        raise Failure(f"{what} {text!r} is not a time: write now, +10m, -1h or an RFC 3339 time such as "
                      "2030-01-01T12:00:00Z")  # fmt: skip
    return t


def _rfc3339(value: str) -> datetime | None:
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return None if t.tzinfo is None else t.astimezone(UTC)


def wire_time(t: datetime) -> str:
    """RFC 3339 in UTC with ``Z``, as the node writes times."""
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def volume_defaults(
    *,
    now: datetime,
    start: str | None,
    duration: str | None,
    lower_m: float | None,
    upper_m: float | None,
) -> Json:
    """The top-level defaults of a plan or reservation body: they apply to the volumes that lack
    their own ``time_start``, ``time_end``, ``altitude_lower_m`` or ``altitude_upper_m``. Times
    default to now and one hour from the start."""
    begin = parse_when(start, now) if start is not None else now
    length = parse_duration(duration) if duration is not None else timedelta(hours=1)
    defaults: Json = {"time_start": wire_time(begin), "time_end": wire_time(begin + length)}
    if lower_m is not None:
        defaults["altitude_lower_m"] = lower_m
    if upper_m is not None:
        defaults["altitude_upper_m"] = upper_m
    if lower_m is not None and upper_m is not None and lower_m >= upper_m:
        raise Failure(f"--lower {lower_m:g} must be below --upper {upper_m:g}")
    return defaults


def _read_text(path: Path, what: str) -> str:
    if str(path) == "-":
        return sys.stdin.read()
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise Failure(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise Failure(f"{what} {path} is a directory, not a file") from None
    except UnicodeDecodeError:
        raise Failure(f"{what} {path} is not UTF-8 text") from None
    except OSError as error:
        raise Failure(f"cannot read {what} {path}: {error.strerror or error}") from None


def load_volumes(path: Path) -> Json:
    """A GeoJSON FeatureCollection read from ``path`` (``-``: standard input). A single Feature, a
    list of Features or a bare Polygon or Point geometry is wrapped in one. Only the shape is checked
    here; the node checks each volume (and names what is wrong)."""
    text = _read_text(path, "volume file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise Failure(
            f"{path} is not JSON: {error.msg} at line {error.lineno}, column {error.colno}"
        ) from None
    kind = data.get("type") if isinstance(data, dict) else None
    if kind == "FeatureCollection":
        features = data.get("features")
    elif kind == "Feature":
        features = [data]
    elif kind in _GEOMETRIES:
        features = [{"type": "Feature", "geometry": data, "properties": {}}]
    elif isinstance(data, list):
        features = data
    else:
        raise Failure(
            f"{path} is not GeoJSON volumes: a FeatureCollection of Polygon features (or Points with "
            f"properties.radius_m) is expected, not {_describe(data)}"
        )
    if not isinstance(features, list) or not features:
        raise Failure(f"{path} holds no features: at least one volume is needed")
    for i, feature in enumerate(features):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise Failure(f"{path}: feature {i} is not a GeoJSON Feature")
        geometry = feature.get("geometry")
        gkind = geometry.get("type") if isinstance(geometry, dict) else None
        if gkind not in _GEOMETRIES:
            raise Failure(
                f"{path}: feature {i} has a {gkind or 'missing'} geometry; a volume is a Polygon, or a Point "
                "with properties.radius_m"
            )
    return {"type": "FeatureCollection", "features": features}


def _describe(data: Any) -> str:
    if isinstance(data, dict):
        return f"an object of type {data.get('type')!r}" if "type" in data else "an object without a type"
    return f"a JSON {type(data).__name__}"


def load_samples(path: Path) -> list[Json]:
    """Telemetry samples from a CSV file (``time,lat,lng,alt_m[,speed_mps,track_deg]``, with or
    without a header row naming the columns) or JSON lines (one object per line with those keys).
    Times are RFC 3339 with an offset; altitudes are metres above the WGS84 ellipsoid."""
    text = _read_text(path, "telemetry file")
    stripped = text.lstrip()
    if not stripped:
        raise Failure(f"telemetry file {path} is empty")
    samples = _json_lines(text, path) if stripped[0] in "{[" else _csv_rows(text, path)
    if not samples:
        raise Failure(f"telemetry file {path} holds no samples")
    return samples


def _json_lines(text: str, path: Path) -> list[Json]:
    samples: list[Json] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            raise Failure(f"{path} line {number}: not JSON ({error.msg})") from None
        if isinstance(item, list):
            item = dict(zip(TELEMETRY_COLUMNS, item, strict=False))
        if not isinstance(item, dict):
            raise Failure(f"{path} line {number}: a JSON object (time, lat, lng, alt_m, ...) is expected")
        samples.append(_sample(item, path, number))
    return samples


def _csv_rows(text: str, path: Path) -> list[Json]:
    rows = [
        (n, row)
        for n, row in enumerate(csv.reader(io.StringIO(text)), start=1)
        if any(c.strip() for c in row)
    ]
    if not rows:
        return []
    columns: tuple[str, ...] = TELEMETRY_COLUMNS
    first = [c.strip().lower() for c in rows[0][1]]
    if "time" in first:
        columns = tuple(first)
        rows = rows[1:]
    samples = []
    for number, row in rows:
        if len(row) > len(columns):
            raise Failure(
                f"{path} line {number}: {len(row)} values for {len(columns)} columns ({', '.join(columns)})"
            )
        samples.append(_sample(dict(zip(columns, (c.strip() for c in row), strict=False)), path, number))
    return samples


def _sample(item: dict[str, Any], path: Path, number: int) -> Json:
    unknown = sorted(set(item) - set(TELEMETRY_FIELDS))
    if unknown:
        raise Failure(
            f"{path} line {number}: unknown field(s) {', '.join(unknown)}; known: {', '.join(TELEMETRY_FIELDS)}"
        )
    sample: Json = {}
    for key, value in item.items():
        if value is None or value == "":
            continue
        if key == "time":
            t = _rfc3339(str(value))
            if t is None:
                raise Failure(
                    f"{path} line {number}: time {value!r} is not an RFC 3339 time with an offset or Z"
                )
            sample["time"] = wire_time(t)
            continue
        try:
            if isinstance(value, bool):
                raise ValueError
            sample[key] = float(value)
        except (TypeError, ValueError):
            raise Failure(f"{path} line {number}: {key} {value!r} is not a number") from None
    missing = [k for k in ("time", "lat", "lng", "alt_m") if k not in sample]
    if missing:
        raise Failure(
            f"{path} line {number}: missing {', '.join(missing)} (time, lat, lng and alt_m are required)"
        )
    return sample
