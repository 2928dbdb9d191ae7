"""F3548 API objects (``uas_standards.astm.f3548.v21.api`` or their JSON) into strategic operations.

A party node receives the others' operational intent and constraint details from their USS API;
these functions turn them into :class:`~parley.strategic.model.Operation`\\ s, refusing what the
engine does not compare: altitudes in a reference other than ``W84`` or a unit other than ``M``
(:class:`~parley.strategic.errors.UnsupportedAltitudeReference`), radii not in metres, a volume
with both or neither outline.

>>> details = {"priority": 10, "volumes": [{
...     "volume": {"outline_circle": {"center": {"lat": 47.0, "lng": 8.0}, "radius": {"value": 300, "units": "M"}},
...                "altitude_lower": {"value": 0, "reference": "W84", "units": "M"},
...                "altitude_upper": {"value": 120, "reference": "W84", "units": "M"}},
...     "time_start": {"value": "2026-01-01T10:00:00Z", "format": "RFC3339"},
...     "time_end": {"value": "2026-01-01T11:00:00Z", "format": "RFC3339"}}]}
>>> op = operation_from_details("oi-1", details, state="Accepted")
>>> op.priority, op.state.value, op.volumes[0].volume.outline.radius_m
(10, 'Accepted', 300.0)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from parley.domain.geo import Circle, LatLng, Polygon, Volume3D, Volume4D
from parley.strategic.errors import InvalidOperation, UnsupportedAltitudeReference
from parley.strategic.model import IntentState, Operation, OperationKind

Json = Mapping[str, Any]


def _code(value: Any) -> str:
    """An enumerated F3548 code as its string (``AltitudeReference.W84`` -> ``'W84'``)."""
    return str(getattr(value, "value", value))


def _altitude(alt: Json | None, where: str) -> float | None:
    if alt is None:
        return None
    reference, units = _code(alt.get("reference", "W84")), _code(alt.get("units", "M"))
    if reference != "W84":
        raise UnsupportedAltitudeReference(
            f"{where}: altitude reference {reference!r} is not supported; F3548 volumes are compared in "
            "'W84' (metres above the WGS84 ellipsoid), and converting needs a geoid or terrain model"
        )
    if units != "M":
        raise UnsupportedAltitudeReference(f"{where}: altitude units {units!r} are not supported; use 'M'")
    return float(alt["value"])


def _time(t: Json | None, where: str) -> datetime | None:
    if t is None:
        return None
    if _code(t.get("format", "RFC3339")) != "RFC3339":
        raise InvalidOperation(f"{where}: time format {t.get('format')!r} is not RFC3339")
    value = t["value"]
    if isinstance(value, datetime):
        return value
    if hasattr(value, "datetime"):  # implicitdict.StringBasedDateTime
        return value.datetime  # type: ignore[no-any-return]
    try:
        return datetime.fromisoformat(str(value))
    except ValueError as error:
        raise InvalidOperation(f"{where}: {value!r} is not an RFC 3339 time") from error


def _point(p: Json) -> LatLng:
    return LatLng(float(p["lat"]), float(p["lng"]))


def volume_from_f3548(v: Json, where: str = "volume") -> Volume4D:
    """An F3548 ``Volume4D`` (API object or its JSON) as a domain volume."""
    v3 = v["volume"]
    circle, polygon = v3.get("outline_circle"), v3.get("outline_polygon")
    if (circle is None) == (polygon is None):
        raise InvalidOperation(f"{where}: exactly one of outline_circle and outline_polygon is required")
    outline: Circle | Polygon
    if circle is not None:
        radius = circle["radius"]
        if _code(radius.get("units", "M")) != "M":
            raise InvalidOperation(
                f"{where}: circle radius units {radius.get('units')!r} are not supported; use 'M'"
            )
        outline = Circle(_point(circle["center"]), float(radius["value"]))
    else:
        outline = Polygon(tuple(_point(p) for p in polygon["vertices"]))
    return Volume4D(
        Volume3D(
            outline,
            _altitude(v3.get("altitude_lower"), f"{where}.altitude_lower"),
            _altitude(v3.get("altitude_upper"), f"{where}.altitude_upper"),
        ),
        _time(v.get("time_start"), f"{where}.time_start"),
        _time(v.get("time_end"), f"{where}.time_end"),
    )


def _volumes(items: Sequence[Json] | None, where: str) -> tuple[Volume4D, ...]:
    return tuple(volume_from_f3548(v, f"{where}[{i}]") for i, v in enumerate(items or ()))


def operation_from_details(
    op_id: str, details: Json, *, state: str | None = None, manager: str | None = None
) -> Operation:
    """An F3548 ``OperationalIntentDetails`` (with the reference's ``state``) as an operation."""
    where = f"operational intent {op_id!r}"
    return Operation(
        id=op_id,
        volumes=_volumes(details.get("volumes"), f"{where} volumes"),
        off_nominal_volumes=_volumes(details.get("off_nominal_volumes"), f"{where} off_nominal_volumes"),
        priority=int(details.get("priority", 0)),
        state=IntentState(state) if state is not None else None,
        manager=manager,
    )


def constraint_from_details(op_id: str, details: Json, *, manager: str | None = None) -> Operation:
    """An F3548 ``ConstraintDetails`` as an operation of kind constraint."""
    return Operation(
        id=op_id,
        volumes=_volumes(details.get("volumes"), f"constraint {op_id!r} volumes"),
        kind=OperationKind.CONSTRAINT,
        manager=manager,
    )
