"""What ``parley line`` reads and builds: times (``30m``, ``+10m``, RFC 3339) written as the line
requires, altitude bands (``0-6000m``), references (``operation:UUID``), and the volumes and routes
of request and counter bodies from GeoJSON files, completed from the command's options.

Every problem is a :class:`Failure` (exit 2) naming the option or the file. A body built here is
checked with the line's own rules (:func:`parley.line.bodies.check_body`) before it is sent.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from parley.cli.ops_client import Failure, Json
from parley.cli.ops_input import parse_duration, parse_when
from parley.line.bodies import check_body
from parley.line.errors import InvalidEntry
from parley.line.times import format_time

_NUMBER: Final = r"-?\d+(?:\.\d+)?"
_BAND: Final = re.compile(rf"\s*({_NUMBER})\s*(?:m)?\s*(?:-|–|\.\.|:)\s*({_NUMBER})\s*(?:m)?\s*", re.I)
_ZERO: Final = re.compile(r"[+-]?(?:0+(?:\.0*)?[smhd])+")
_REF_KINDS: Final = ("operation", "constraint")
#: Members a volume's properties may carry, beside ``radius_m`` (Points only).
_VOLUME_PROPS: Final = ("alt_lower_m", "alt_upper_m", "start", "end")
#: Other spellings accepted in files (``parley ops``' volumes), mapped to the line's.
_ALIASES: Final = {
    "altitude_lower_m": "alt_lower_m",
    "altitude_upper_m": "alt_upper_m",
    "time_start": "start",
    "time_end": "end",
}
#: Length of a window given without an end.
DEFAULT_WINDOW: Final = timedelta(hours=1)


def when(text: str, now: datetime, what: str) -> datetime:
    """A time given as ``now``, ``30m`` or ``+30m`` (from now), ``-5m``, or RFC 3339.

    >>> from datetime import UTC
    >>> t0 = datetime(2030, 1, 1, tzinfo=UTC)
    >>> format_time(when("30m", t0, "--deadline"))
    '2030-01-01T00:30:00.000000Z'
    >>> when("+0m", t0, "--from") == t0
    True
    >>> format_time(when("2030-01-01T12:00:00+02:00", t0, "--deadline"))
    '2030-01-01T10:00:00.000000Z'
    """
    value = text.strip()
    if _ZERO.fullmatch(value.lower()):
        return now
    if value[:1].isdigit() and not _looks_like_date(value):
        value = "+" + value
    return parse_when(value, now, what)


def _looks_like_date(value: str) -> bool:
    return re.match(r"\d{4}-\d{2}-\d{2}", value) is not None


def line_time(text: str, now: datetime, what: str) -> str:
    """:func:`when`, written ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (the line's only spelling)."""
    return format_time(when(text, now, what))


def band(text: str) -> tuple[float, float]:
    """An altitude band in metres above the WGS84 ellipsoid, ``LOWER-UPPER[m]``.

    >>> band("0-6000m")
    (0.0, 6000.0)
    >>> band("-50m-120m")
    (-50.0, 120.0)
    """
    match = _BAND.fullmatch(text)
    if match is None:
        raise Failure(f"--alt {text!r} is not an altitude band: write LOWER-UPPER in metres, e.g. 0-6000m")
    lower, upper = float(match[1]), float(match[2])
    if lower > upper:
        raise Failure(f"--alt {text!r}: the lower altitude is above the upper one")
    return lower, upper


def reference(text: str) -> Json:
    """``operation:ID`` or ``constraint:ID``.

    >>> reference("operation:3f1c")
    {'kind': 'operation', 'id': '3f1c'}
    """
    kind, sep, ident = text.partition(":")
    if not sep or kind.strip() not in _REF_KINDS or not ident.strip():
        raise Failure(f"--ref {text!r}: write operation:ID or constraint:ID")
    return {"kind": kind.strip(), "id": ident.strip()}


@dataclass(frozen=True, slots=True)
class Window:
    """The options that complete a volume or a route: ``--from``/``--until`` (as given) and ``--alt``."""

    start: str | None = None
    until: str | None = None
    alt: str | None = None

    def times(self, now: datetime) -> tuple[str, str]:
        """Start (default now) and end (default an hour after the start). A bare duration given to
        ``--until`` counts from the start; ``+2h`` counts from now."""
        begin = when(self.start, now, "--from") if self.start is not None else now
        if self.until is None:
            end = begin + DEFAULT_WINDOW
        elif self.until.strip()[:1].isdigit() and not _looks_like_date(self.until.strip()):
            end = begin + parse_duration(self.until, "--until")
        else:
            end = when(self.until, now, "--until")
        if not begin < end:
            raise Failure(f"--until ({format_time(end)}) must be after --from ({format_time(begin)})")
        return format_time(begin), format_time(end)


def _read_json(path: Path, what: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise Failure(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise Failure(f"{what} {path} is a directory, not a file") from None
    except UnicodeDecodeError:
        raise Failure(f"{what} {path} is not UTF-8 text") from None
    except OSError as error:
        raise Failure(f"cannot read {what} {path}: {error.strerror or error}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise Failure(
            f"{path} is not JSON: {error.msg} at line {error.lineno}, column {error.colno}"
        ) from None


def _one_feature(data: Any, path: Path, kinds: tuple[str, ...]) -> Json:
    """One Feature of one of ``kinds``: a Feature, a bare geometry, or a FeatureCollection of one
    (or, for volumes, of Polygons with equal properties, merged into a MultiPolygon)."""
    if isinstance(data, dict) and data.get("type") in kinds:
        data = {"type": "Feature", "geometry": data, "properties": {}}
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        features = data.get("features")
        if not isinstance(features, list) or not features:
            raise Failure(f"{path} holds no features")
        if len(features) == 1:
            data = features[0]
        elif "MultiPolygon" in kinds and all(
            isinstance(f, dict)
            and isinstance(f.get("geometry"), dict)
            and f["geometry"].get("type") == "Polygon"
            and f.get("properties") == features[0].get("properties")
            for f in features
        ):
            polygons = [f["geometry"].get("coordinates") for f in features]
            data = {
                "type": "Feature",
                "geometry": {"type": "MultiPolygon", "coordinates": polygons},
                "properties": features[0].get("properties") or {},
            }
        else:
            raise Failure(
                f"{path} holds {len(features)} features: give one (several Polygons are merged only when "
                "their properties are the same)"
            )
    if not isinstance(data, dict) or data.get("type") != "Feature":
        raise Failure(f"{path} is not a GeoJSON Feature (or a {' or '.join(kinds)} geometry)")
    geometry = data.get("geometry")
    kind = geometry.get("type") if isinstance(geometry, dict) else None
    if kind not in kinds:
        raise Failure(f"{path}: a {kind or 'missing'} geometry; expected {' or '.join(kinds)}")
    properties = data.get("properties") or {}
    if not isinstance(properties, dict):
        raise Failure(f"{path}: properties must be an object")
    clean = {_ALIASES.get(k, k): v for k, v in properties.items()}
    return {"type": "Feature", "geometry": geometry, "properties": clean}


def _complete(props: Json, window: Window, now: datetime, path: Path, *, alt_required: bool) -> None:
    """Fill what the file lacks from the options; times in the file are re-spelt as the line requires."""
    start, end = window.times(now)
    for name, default in (("start", start), ("end", end)):
        if name not in props:
            props[name] = default
        elif isinstance(props[name], str):
            props[name] = line_time(props[name], now, f"{path}: properties.{name}")
    if "alt_lower_m" not in props and "alt_upper_m" not in props:
        if window.alt is not None:
            props["alt_lower_m"], props["alt_upper_m"] = band(window.alt)
        elif alt_required:
            raise Failure(f"{path} gives no altitudes: add --alt LOWER-UPPER (metres), e.g. --alt 0-6000m")
    elif window.alt is not None and ("alt_lower_m" not in props or "alt_upper_m" not in props):
        lower, upper = band(window.alt)
        props.setdefault("alt_lower_m", lower)
        props.setdefault("alt_upper_m", upper)


def load_volume(path: Path, window: Window, now: datetime) -> Json:
    """The volume of a vacate, hold_clear, notice or counter: one Feature (Polygon, MultiPolygon, or
    Point with ``radius_m``) whose missing altitudes and times come from ``window``; properties the
    line does not know are dropped."""
    feature = _one_feature(_read_json(path, "volume file"), path, ("Polygon", "MultiPolygon", "Point"))
    props = feature["properties"]
    point = feature["geometry"]["type"] == "Point"
    if point and "radius_m" not in props:
        raise Failure(f"{path}: a Point volume needs properties.radius_m (metres)")
    keep = (*_VOLUME_PROPS, "radius_m") if point else _VOLUME_PROPS
    feature["properties"] = props = {k: v for k, v in props.items() if k in keep}
    _complete(props, window, now, path, alt_required=True)
    return feature


def load_route(path: Path, window: Window, half_width_m: float | None, now: datetime) -> Json:
    """The corridor of a passage or notice: a LineString Feature with ``half_width_m`` (from the
    file or ``--half-width``), ``start``/``end`` and, optionally, altitudes."""
    feature = _one_feature(_read_json(path, "route file"), path, ("LineString",))
    props = {k: v for k, v in feature["properties"].items() if k in (*_VOLUME_PROPS, "half_width_m")}
    if "half_width_m" not in props:
        if half_width_m is None:
            raise Failure(f"{path} gives no corridor width: add --half-width METRES")
        props["half_width_m"] = half_width_m
    _complete(props, window, now, path, alt_required=False)
    feature["properties"] = props
    return feature


def checked(kind: str, body: Json) -> Json:
    """``body`` if the line accepts it as the body of an entry of ``kind``; else a :class:`Failure`
    with the line's own message."""
    try:
        check_body(kind, body)
    except InvalidEntry as error:
        raise Failure(f"not sent: {error.message}") from None
    return body
