"""How ``parley ops`` shows the node's answers: rich tables of operations, volumes, conflicts,
others' operations and notifications. Text from the node is shown as text (never as markup)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from parley.cli.ops_client import Json


def _table(title: str) -> Table:
    return Table(
        title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True
    )


def _t(value: Any, style: str = "") -> Text:
    return Text("" if value is None else str(value), style=style)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def window(start: Any, end: Any, *, seconds: bool = False) -> str:
    """``2030-01-01 10:00–11:00Z`` (UTC; with ``seconds``, ``10:00:00``), or both dates when they
    differ."""
    t0, t1 = _time(start), _time(end)
    if t0 is None or t1 is None:
        return "?"
    clock = "%H:%M:%S" if seconds else "%H:%M"
    if t0.date() == t1.date():
        return f"{t0:%Y-%m-%d {clock}}–{t1:{clock}}Z"
    return f"{t0:%Y-%m-%d {clock}}Z–{t1:%Y-%m-%d {clock}}Z"


def band(lower: Any, upper: Any) -> str:
    """``0–120 m`` (metres above the WGS84 ellipsoid)."""
    if not isinstance(lower, int | float) or not isinstance(upper, int | float):
        return "?"
    return f"{lower:g}–{upper:g} m"


def _features(collection: Any) -> list[Json]:
    if not isinstance(collection, dict):
        return []
    features = collection.get("features")
    return [f for f in features if isinstance(f, dict)] if isinstance(features, list) else []


def _props(feature: Json) -> Json:
    props = feature.get("properties")
    return props if isinstance(props, dict) else {}


def extent(collection: Any) -> tuple[str, str]:
    """The window and altitude band that contain every volume of a FeatureCollection."""
    props = [_props(f) for f in _features(collection)]
    starts = [t for t in (_time(p.get("time_start")) for p in props) if t is not None]
    ends = [t for t in (_time(p.get("time_end")) for p in props) if t is not None]
    lowers = [p["altitude_lower_m"] for p in props if isinstance(p.get("altitude_lower_m"), int | float)]
    uppers = [p["altitude_upper_m"] for p in props if isinstance(p.get("altitude_upper_m"), int | float)]
    when = window(min(starts).isoformat(), max(ends).isoformat()) if starts and ends else "?"
    height = band(min(lowers), max(uppers)) if lowers and uppers else "?"
    return when, height


def operations_table(operations: Iterable[Json], title: str = "Operations") -> Table:
    table = _table(title)
    table.add_column("id", no_wrap=True)
    for name in ("kind", "name", "state", "priority", "version"):
        table.add_column(name)
    table.add_column("window")
    table.add_column("altitude")
    for op in operations:
        when, height = extent(op.get("volumes"))
        kind = "reservation" if op.get("kind") == "constraint" else "operation"
        table.add_row(
            _t(op.get("id")),
            _t(kind),
            _t(op.get("name")),
            _t(op.get("state"), _state_style(op.get("state"))),
            _t(op.get("priority")),
            _t(op.get("version")),
            _t(when),
            _t(height),
        )
    return table


def _state_style(state: Any) -> str:
    return {"Activated": "green", "Nonconforming": "yellow", "Contingent": "red", "Ended": "dim"}.get(
        str(state), ""
    )


def operation_details(op: Json) -> Table:
    table = Table(show_header=False, box=None, title=f"Operation {op.get('id')}", title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")
    rows = (
        ("kind", "reservation" if op.get("kind") == "constraint" else "operation"),
        ("name", op.get("name")),
        ("state", op.get("state")),
        ("priority", op.get("priority")),
        ("version", op.get("version")),
        ("ovn", op.get("ovn")),
        ("created", op.get("created_at")),
        ("updated", op.get("updated_at")),
        ("nonconforming since", op.get("nonconforming_since")),
    )
    for name, value in rows:
        if value not in (None, ""):
            table.add_row(_t(name), _t(value))
    return table


def volumes_table(collection: Any, title: str = "Volumes") -> Table:
    table = _table(title)
    for name in ("#", "shape", "altitude", "window"):
        table.add_column(name, no_wrap=name == "#")
    for i, feature in enumerate(_features(collection)):
        props = _props(feature)
        table.add_row(
            _t(props.get("index", i)),
            _t(_shape(feature)),
            _t(band(props.get("altitude_lower_m"), props.get("altitude_upper_m"))),
            _t(window(props.get("time_start"), props.get("time_end"), seconds=True)),
        )
    return table


def _shape(feature: Json) -> str:
    geometry = feature.get("geometry")
    if not isinstance(geometry, dict):
        return "?"
    coordinates = geometry.get("coordinates")
    if geometry.get("type") == "Point" and isinstance(coordinates, list) and len(coordinates) >= 2:
        radius = _props(feature).get("radius_m")
        return f"circle r={radius:g} m at {coordinates[1]:.6f}, {coordinates[0]:.6f}"
    if geometry.get("type") == "Polygon" and isinstance(coordinates, list) and coordinates:
        ring = coordinates[0]
        vertices = len(ring) - 1 if len(ring) > 1 and ring[0] == ring[-1] else len(ring)
        return f"polygon of {vertices} vertices"
    return str(geometry.get("type", "?"))


def conflicts_table(conflicts: Iterable[Json], title: str = "Conflicts") -> Group:
    """Each conflict as a short block (readable at 80 columns): who and whether it blocks, where
    (altitude band of the overlap, in metres above WGS84) and when, and why."""
    lines: list[Text] = [Text(title, style="bold")]
    for c in conflicts:
        overlaps = [o for o in c.get("overlaps") or [] if isinstance(o, dict)]
        lowers = [
            o["altitude_lower_m"] for o in overlaps if isinstance(o.get("altitude_lower_m"), int | float)
        ]
        uppers = [
            o["altitude_upper_m"] for o in overlaps if isinstance(o.get("altitude_upper_m"), int | float)
        ]
        starts = [t for t in (_time(o.get("time_start")) for o in overlaps) if t is not None]
        ends = [t for t in (_time(o.get("time_end")) for o in overlaps) if t is not None]
        blocking = bool(c.get("blocking"))
        kind = "reservation" if c.get("other_kind") == "constraint" else "operation"
        head = Text(
            "  ✗ blocks  " if blocking else "  ! allowed ", style="bold red" if blocking else "yellow"
        )
        head.append(Text(f"{c.get('other_manager')}'s {kind} {c.get('other_id')}"))
        if kind == "operation":
            head.append(Text(f", priority {c.get('other_priority')}"))
        head.append(Text(f" ({c.get('reason')})", style="dim"))
        lines.append(head)
        where = band(min(lowers), max(uppers)) if lowers and uppers else "unbounded altitudes"
        when = (
            window(min(starts).isoformat(), max(ends).isoformat()) if starts and ends else "unbounded times"
        )
        volumes = ", ".join(sorted({f"{o.get('volume')}×{o.get('other_volume')}" for o in overlaps}))
        lines.append(Text(f"      where: {where}, {when}; volumes {volumes}"))
        lines.append(Text(f"      why:   {c.get('explanation')}"))
    return Group(*lines)


def others_table(others: Iterable[Json]) -> Table:
    table = _table("Others' operations and reservations")
    table.add_column("id", no_wrap=True)
    for name in ("kind", "party", "state", "priority"):
        table.add_column(name)
    table.add_column("window")
    table.add_column("altitude")
    for other in others:
        when, height = extent(other.get("volumes"))
        kind = "reservation" if other.get("kind") == "constraint" else "operation"
        table.add_row(
            _t(other.get("id")),
            _t(kind),
            _t(other.get("manager")),
            _t(other.get("state")),
            _t(other.get("priority")),
            _t(when),
            _t(height),
        )
    return table


def notifications_table(items: Iterable[Json]) -> Table:
    table = _table("Notifications")
    table.add_column("#", no_wrap=True)
    table.add_column("at")
    table.add_column("kind")
    table.add_column("operation", overflow="fold")
    table.add_column("message", overflow="fold")
    for n in items:
        at = _time(n.get("at"))
        table.add_row(
            _t(n.get("seq")),
            _t(f"{at:%Y-%m-%d %H:%M:%S}Z" if at else n.get("at")),
            _t(n.get("kind")),
            _t(n.get("operation_id")),
            _t(n.get("message")),
        )
    return table


def say(console: Console, message: str, style: str = "") -> None:
    """One line of plain text (no markup, no highlighting)."""
    console.print(Text(message, style=style), highlight=False, soft_wrap=True)
