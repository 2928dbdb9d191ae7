"""How ``parley protect`` shows the node's answers: what each recipient was given, the items the node
knows with each recipient's acknowledgement (accepted, waiting, OVERDUE past the deadline), the
conflicts of a check, and an item's disclosure log. Text from the node is shown as text (never as
markup); times are UTC.

>>> acknowledgements([{"legs": {"blue": "read", "red": "accepted"}, "overdue": ["blue"]}])
{'blue': 'OVERDUE', 'red': 'accepted'}
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from rich.table import Table
from rich.text import Text

from parley.cli.line_render import _t, _table, clock
from parley.cli.ops_client import Json
from parley.cli.ops_render import window

#: How each acknowledgement state shows.
ACK_STYLES = {
    "accepted": "green",
    "waiting": "yellow",
    "OVERDUE": "bold red reverse",
    "declined": "red",
    "countered": "yellow",
    "withdrawn": "dim",
}
#: What each kind of recipient learns (ADR 0010).
GIVEN = {
    "exact": "exact: geometry, schedule, category, window, name, vehicles, markings",
    "check_only": "check-only: existence, kind, category, window, coarse 0.25° cells",
}


def acknowledgements(notices: Iterable[Any]) -> dict[str, str]:
    """Per recipient, the state of the latest notice addressed to it: ``accepted``, ``waiting``,
    ``OVERDUE`` (its deadline passed unanswered), or ``declined`` (which does not end a
    protection)."""
    out: dict[str, str] = {}
    for notice in notices:
        if not isinstance(notice, dict) or not isinstance(notice.get("legs"), dict):
            continue
        overdue = set(notice.get("overdue") or [])
        for party, status in notice["legs"].items():
            if party in overdue:
                out[party] = "OVERDUE"
            elif status in ("accepted", "declined", "countered", "withdrawn"):
                out[party] = str(status)
            else:
                out[party] = "waiting"
    return out


def ack_text(states: dict[str, str]) -> Text:
    text = Text()
    for i, (party, state) in enumerate(sorted(states.items())):
        if i:
            text.append(", ")
        text.append(f"{party} ")
        text.append(state, style=ACK_STYLES.get(state, ""))
    return text


def notified_table(done: Json, headline: str) -> Table:
    """Who was given what, on which thread."""
    table = _table(headline)
    for column in ("recipient", "given", "thread"):
        table.add_column(column)
    threads = done.get("threads") if isinstance(done.get("threads"), dict) else {}
    assert isinstance(threads, dict)
    for form in ("exact", "check_only"):
        for party in done.get(form) or []:
            table.add_row(_t(party), _t(GIVEN[form]), _t(threads.get(form)))
    return table


def items_table(items: Iterable[Any], party: str) -> Table:
    """One row per item: id, kind, category, name, window, from whom, how held, acknowledgements."""
    table = _table(f"Protected sites and movements known to {party}")
    for column in ("id", "kind", "category", "name", "window (UTC)", "from", "held", "acknowledgements"):
        table.add_column(column)
    for item in items:
        if not isinstance(item, dict):
            continue
        held = str(item.get("held"))
        notifier = item.get("notifier")
        table.add_row(
            _t(item.get("id")),
            _t(item.get("kind")),
            _t(item.get("category") or ""),
            _t(item.get("name") or ("(not disclosed)" if held == "check_only" else "")),
            _t(window(item.get("start"), item.get("end"))),
            _t("this party" if notifier == party else notifier),
            _t(held, "dim" if held == "cancelled" else ""),
            ack_text(acknowledgements(item.get("notices") or [])),
        )
    return table


def items_geojson(items: Iterable[Any]) -> Json:
    """The items as one FeatureCollection: the exact geometry, or the coarse area (check-only)."""
    features = []
    for item in items:
        if not isinstance(item, dict):
            continue
        props = {k: v for k, v in item.items() if k not in ("geojson", "coarse_area")}
        props["acknowledgements"] = acknowledgements(item.get("notices") or [])
        geometry = None
        exact = item.get("geojson")
        if isinstance(exact, dict):
            shape = exact.get("volume") or exact.get("route") or {}
            geometry = shape.get("geometry")
            props["protected"] = exact.get("protected")
            props["shape"] = shape.get("properties")
        elif isinstance(item.get("coarse_area"), dict):
            geometry = item["coarse_area"].get("geometry")
        features.append({"type": "Feature", "id": item.get("id"), "geometry": geometry, "properties": props})
    return {"type": "FeatureCollection", "features": features}


def _metres(value: Any) -> str:
    return f"{value:,.0f} m" if isinstance(value, int | float) else "—"


def conflicts_table(conflicts: Iterable[Any]) -> Table:
    """Each conflict: the item, when the plan meets it, how close (exact items) or only the distance
    to keep (check-only items)."""
    table = _table("Conflicts with protected sites and movements")
    for column in (
        "item",
        "kind",
        "category",
        "from",
        "held",
        "volume",
        "time overlap (UTC)",
        "least distance",
        "keep away",
    ):
        table.add_column(column)
    for c in conflicts:
        if not isinstance(c, dict):
            continue
        volume = c.get("volume") if isinstance(c.get("volume"), dict) else None
        which = (
            ""
            if volume is None
            else f"{'off-nominal ' if volume.get('off_nominal') else ''}#{volume.get('index')}"
        )
        least = c.get("least_distance_m")
        table.add_row(
            _t(c.get("protected")),
            _t(c.get("kind")),
            _t(c.get("category") or ""),
            _t(c.get("notifier") or ""),
            _t(c.get("disclosure")),
            _t(which),
            _t(window(c.get("start"), c.get("end"), seconds=True)),
            _t(_metres(least) if least is not None else "not disclosed", "" if least is not None else "dim"),
            _t(_metres(c.get("keep_away_m")), "bold"),
        )
    return table


def _detail(kind: str, detail: Any) -> str:
    if not isinstance(detail, dict):
        return ""
    if kind == "registered":
        return (
            f"exact: {', '.join(detail.get('exact') or []) or '—'}; "
            f"check-only: {', '.join(detail.get('check_only') or []) or '—'}"
        )
    if kind == "check":
        found = [c for c in detail.get("conflicts") or [] if isinstance(c, dict)]
        text = f"{detail.get('volumes')} volume(s) checked"
        if found:
            text += "; conflicted " + ", ".join(window(c.get("start"), c.get("end")) for c in found[:3])
            text += f" (+{len(found) - 3} more)" if len(found) > 3 else ""
        else:
            text += "; no conflict"
        return text
    if kind == "refused":
        return f"over the rate: {detail.get('volumes')} volume(s) not checked"
    return json.dumps(detail, ensure_ascii=False) if detail else ""


_LEARNT = {
    "registered": "notified (registered at the shared service)",
    "exact": "given the exact geometry",
    "check_only": "told it exists (check-only)",
    "check": "checked a plan against it",
    "refused": "refused a check (rate)",
    "cancelled": "cancelled",
}


def disclosures_table(log: Json) -> Table:
    """Who learned what of an item, and when."""
    table = _table(f"Disclosures of {log.get('id')}")
    for column in ("#", "time (UTC)", "party", "what", "details"):
        table.add_column(column)
    for d in log.get("disclosures") or []:
        if not isinstance(d, dict):
            continue
        kind = str(d.get("kind"))
        table.add_row(
            _t(d.get("seq")),
            _t(clock(d.get("at"))),
            _t(d.get("party")),
            _t(_LEARNT.get(kind, kind), "bold" if kind in ("check", "refused") else ""),
            _t(_detail(kind, d.get("detail"))),
        )
    return table
