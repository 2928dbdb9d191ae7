"""How ``parley line`` shows the node's answers: the inbox, one thread (its request, legs,
obligations and entries in order), the node's status and the live table of events. Text from the
node is shown as text (never as markup). Times are UTC; deadlines come with a countdown."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from parley.cli.line_client import ServerEvent
from parley.cli.ops_client import Json
from parley.cli.ops_render import band, window
from parley.line.entry import Entry
from parley.line.errors import LineError

_STYLES = {
    "sent": "cyan",
    "delivered": "cyan",
    "read": "bold cyan",
    "accepted": "green",
    "declined": "red",
    "countered": "yellow",
    "withdrawn": "dim",
    "expired": "red dim",
}
#: The state an entry of each kind leads to (for its colour).
_STATUS_OF_KIND = {
    "accept": "accepted",
    "decline": "declined",
    "counter": "countered",
    "withdraw": "withdrawn",
}
#: States in which a request still waits for the recipient's answer.
OPEN = frozenset({"sent", "delivered", "read"})


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


def clock(value: Any) -> str:
    """``2030-01-01 10:00:00Z`` (seconds; the line's microseconds dropped)."""
    t = _time(value)
    return f"{t:%Y-%m-%d %H:%M:%S}Z" if t else str(value)


def _span(seconds: float) -> str:
    seconds = int(abs(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    shown = [f"{n}{u}" for n, u in parts if n][:2]
    return " ".join(shown) or "0s"


def countdown(deadline: Any, now: datetime) -> str:
    """``in 29m 58s`` or ``passed 2m 3s ago``.

    >>> countdown("2030-01-01T00:30:00.000000Z", datetime(2030, 1, 1, tzinfo=UTC))
    'in 30m'
    >>> countdown("2030-01-01T00:00:00.000000Z", datetime(2030, 1, 1, 1, 0, 5, tzinfo=UTC))
    'passed 1h 5s ago'
    """
    t = _time(deadline)
    if t is None:
        return "?"
    left = (t - now).total_seconds()
    return f"in {_span(left)}" if left > 0 else f"passed {_span(left)} ago"


def _legs(thread: Json) -> dict[str, Json]:
    legs = thread.get("legs")
    return {str(k): v for k, v in legs.items() if isinstance(v, dict)} if isinstance(legs, dict) else {}


def leg_status(leg: Mapping[str, Any]) -> str:
    """``accepted (late)``."""
    return f"{leg.get('status')}{' (late)' if leg.get('late') else ''}"


def is_open(thread: Json) -> bool:
    """Whether some recipient has yet to answer (and the deadline has not been recorded as passed)."""
    return any(leg.get("status") in OPEN for leg in _legs(thread).values())


def _statuses(thread: Json) -> Text:
    text = Text()
    for i, (party, leg) in enumerate(_legs(thread).items()):
        if i:
            text.append(", ")
        text.append(f"{party} ")
        text.append(leg_status(leg), style=_STYLES.get(str(leg.get("status")), ""))
    return text


def _deadline(thread: Json, now: datetime) -> Text:
    text = Text(clock(thread.get("deadline")))
    style = "bold" if is_open(thread) else "dim"
    text.append(f" ({countdown(thread.get('deadline'), now)})", style=style)
    return text


def inbox_table(threads: Iterable[Json], now: datetime, title: str) -> Table:
    """One row per thread: who, what, each recipient's status and the deadline's countdown."""
    table = _table(title)
    table.add_column("id", no_wrap=True)
    table.add_column("dir")
    table.add_column("type")
    table.add_column("with")
    table.add_column("subject")
    table.add_column("status")
    table.add_column("deadline (UTC)", no_wrap=True)
    for thread in threads:
        outgoing = thread.get("direction") == "out"
        others = ", ".join(map(str, thread.get("to") or [])) if outgoing else thread.get("sender")
        table.add_row(
            _t(thread.get("id")),
            _t("out →" if outgoing else "← in"),
            _t(thread.get("type")),
            _t(f"to {others}" if outgoing else f"from {others}"),
            _t(thread.get("subject")),
            _statuses(thread),
            _deadline(thread, now),
        )
    return table


def _shape(feature: Any) -> str:
    """``Polygon (5 vertices), 0–6000 m, 2030-01-01 10:00–11:00Z``."""
    if not isinstance(feature, dict):
        return "?"
    geometry = feature.get("geometry") if isinstance(feature.get("geometry"), dict) else {}
    props = feature.get("properties") if isinstance(feature.get("properties"), dict) else {}
    assert isinstance(geometry, dict) and isinstance(props, dict)
    kind = geometry.get("type")
    coords = geometry.get("coordinates")
    if kind == "Point" and isinstance(coords, list):
        what = f"circle r={props.get('radius_m')} m around {coords[1]}, {coords[0]}"
    elif kind == "LineString" and isinstance(coords, list):
        what = f"route of {len(coords)} points, ±{props.get('half_width_m')} m"
    elif kind == "Polygon" and isinstance(coords, list):
        what = f"polygon of {sum(len(r) for r in coords if isinstance(r, list))} vertices"
    elif kind == "MultiPolygon" and isinstance(coords, list):
        what = f"{len(coords)} polygons"
    else:
        what = str(kind)
    parts = [what]
    if "alt_lower_m" in props:
        parts.append(band(props.get("alt_lower_m"), props.get("alt_upper_m")))
    parts.append(window(props.get("start"), props.get("end"), seconds=True))
    return ", ".join(parts)


def thread_details(thread: Json, now: datetime) -> Table:
    """The request: who sent what to whom, its subject, reason, deadline and shapes."""
    request = thread.get("request") if isinstance(thread.get("request"), dict) else {}
    assert isinstance(request, dict)
    body = request.get("body") if isinstance(request.get("body"), dict) else {}
    assert isinstance(body, dict)
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    rows: list[tuple[str, Text | str]] = [
        ("thread", _t(thread.get("id"))),
        (
            "request",
            f"{thread.get('type')} from {thread.get('sender')} to {', '.join(thread.get('to') or [])}",
        ),
        ("subject", _t(thread.get("subject"))),
        ("reason", _t(thread.get("reason"))),
        ("sent", clock(thread.get("sent_at"))),
        ("deadline", _deadline(thread, now)),
    ]
    ref = body.get("ref")
    if isinstance(ref, dict):
        rows.append(("about", f"{ref.get('kind')} {ref.get('id')}"))
    if "volume" in body:
        rows.append(("volume", _shape(body["volume"])))
    if "route" in body:
        rows.append(("route", _shape(body["route"])))
    if "what" in body:
        rows.append(("what", _t(body["what"])))
    if "text" in body:
        rows.append(("text", _t(body["text"])))
    rows += _protection_rows(thread, body, now)
    for name, value in rows:
        table.add_row(name, value)
    return table


def _protection_rows(thread: Json, body: Mapping[str, Any], now: datetime) -> list[tuple[str, Text | str]]:
    """A protection notice's item (docs/protection.md) and each recipient's acknowledgement."""
    protected = body.get("protected") if isinstance(body.get("protected"), dict) else None
    if protected is None and "cancels" not in body:
        return []
    rows: list[tuple[str, Text | str]] = []
    if protected is None:
        rows.append(("cancels", _t(f"protected item {body.get('cancels')}")))
    else:
        assert isinstance(protected, dict)
        kind = protected.get("kind")
        text = f"{kind} {protected.get('id') or thread.get('id')}"
        if protected.get("category"):
            text += f" ({protected['category']})"
        area = protected.get("check_only")
        if isinstance(area, dict):
            cells: list[Any] = area["cells"] if isinstance(area.get("cells"), list) else []
            text += (
                f", check-only: {window(area.get('start'), area.get('end'))}, "
                f"{len(cells)} coarse 0.25° cell(s); no geometry"
            )
        elif kind == "site":
            text += f" {protected.get('name')!r}, keep {protected.get('radius_m')} m away"
        else:
            text += (
                f" {protected.get('name')!r}: {protected.get('vehicles')} vehicle(s), "
                f"{len(protected.get('schedule') or [])} waypoints, margin {protected.get('time_margin_s')} s"
            )
        if body.get("amends"):
            text += " (amended version)"
        rows.append(("protected", _t(text)))
    passed = (_time(thread.get("deadline")) or now) <= now
    acks = Text()
    for i, (party, leg) in enumerate(_legs(thread).items()):
        status = str(leg.get("status"))
        if status == "accepted":
            state, style = "acknowledged", "green"
        elif status in ("declined", "countered", "withdrawn"):
            state, style = status, _STYLES.get(status, "")
        elif passed:
            state, style = "OVERDUE", "bold red"
        else:
            state, style = "waiting", "yellow"
        acks.append(("; " if i else "") + f"{party} ")
        acks.append(state, style=style)
    rows.append(("acknowledged", acks))
    return rows


def legs_table(thread: Json) -> Table:
    table = _table("Recipients")
    for column in ("recipient", "status", "delivered", "read", "conditions", "certificate", "alarms"):
        table.add_column(column)
    for party, leg in _legs(thread).items():
        certified = leg.get("certificate")
        verdict = leg.get("verdict")
        table.add_row(
            _t(party),
            _t(leg_status(leg), _STYLES.get(str(leg.get("status")), "")),
            _t("yes" if leg.get("delivered") else "no"),
            _t("yes" if leg.get("read") else "no"),
            _t(leg.get("conditions")),
            _t(
                "" if not certified else f"{verdict or 'not judged yet'}",
                "bold red" if verdict == "failed" else "",
            ),
            _t(str(len(leg.get("alarms") or [])) if leg.get("alarms") else "", "bold red"),
        )
    return table


def impact_view(impact: Json) -> Table:
    """What accepting an obligation costs: each affected aircraft, its exit route, the re-planning."""
    zone = impact.get("zone") if isinstance(impact.get("zone"), dict) else {}
    assert isinstance(zone, dict)
    table = _table(
        f"Affected by accepting (zone + {zone.get('buffer_h_m')} m / {zone.get('buffer_v_m')} m; "
        f"deadline {clock(impact.get('deadline'))})"
    )
    for column in (
        "aircraft (operation)",
        "inside now",
        "watched",
        "planned overlaps",
        "exit",
        "clear by deadline",
    ):
        table.add_column(column)
    for a in impact.get("aircraft") or []:
        if not isinstance(a, dict):
            continue
        route = a.get("exit") if isinstance(a.get("exit"), dict) else None
        props = route.get("properties", {}) if route is not None else {}
        exit_text = (
            "—"
            if route is None
            else f"{props.get('kind')}: {float(props.get('length_m') or 0):.0f} m, out at {clock(props.get('eta'))}"
        )
        clear = props.get("clear_by_deadline")
        table.add_row(
            _t(a.get("id")),
            _t("yes" if a.get("inside_now") else "no"),
            _t("yes" if a.get("watched") else "no"),
            _t(str(len(a.get("planned") or []))),
            _t(exit_text),
            _t(
                "" if clear is None else ("yes" if clear else "NO"),
                "" if clear in (None, True) else "bold red",
            ),
        )
    replan = impact.get("replan") or []
    table.caption = (
        f"re-planned out of the zone: {', '.join(map(str, replan))}" if replan else "nothing to re-plan"
    )
    return table


def obligations_list(items: Iterable[Any]) -> Table:
    """The obligations this node watches."""
    table = _table("Obligations watched")
    for column in ("thread", "kind", "requester", "phase", "deadline (UTC)", "aircraft", "overdue"):
        table.add_column(column)
    for o in items:
        if not isinstance(o, dict):
            continue
        aircraft = o.get("aircraft") if isinstance(o.get("aircraft"), dict) else {}
        assert isinstance(aircraft, dict)
        table.add_row(
            _t(o.get("thread")),
            _t(o.get("kind")),
            _t(o.get("requester")),
            _t(o.get("phase")),
            _t(clock(o.get("deadline"))),
            _t(", ".join(f"{k} {v}" for k, v in aircraft.items())),
            _t("OVERDUE" if o.get("overdue") else "", "bold red"),
        )
    return table


def obligations_table(thread: Json) -> Table | None:
    obligations = [o for o in thread.get("obligations") or [] if isinstance(o, dict)]
    if not obligations:
        return None
    table = _table("Obligations (to be checked against tracks)")
    for column in ("obligor", "beneficiary", "acceptance"):
        table.add_column(column)
    for o in obligations:
        table.add_row(_t(o.get("obligor")), _t(o.get("beneficiary")), _t(str(o.get("acceptance"))[:23]))
    return table


def _what(kind: str, body: Mapping[str, Any]) -> str:
    """A few words on an entry's body."""
    if kind == "request":
        return f"{body.get('type')}: {body.get('subject')!r}"
    if kind == "accept":
        return f"conditions: {body['conditions']!r}" if "conditions" in body else ""
    if kind == "decline":
        return f"reason: {body.get('reason')!r}"
    if kind == "counter":
        parts = []
        if "volume" in body:
            parts.append(f"volume {_shape(body['volume'])}")
        if isinstance(body.get("window"), dict):
            parts.append(
                f"window {window(body['window'].get('start'), body['window'].get('end'), seconds=True)}"
            )
        if "reason" in body:
            parts.append(f"reason: {body['reason']!r}")
        return "; ".join(parts)
    if kind == "withdraw":
        return f"reason: {body['reason']!r}" if "reason" in body else ""
    if kind == "expired":
        return f"no answer from {body.get('recipient')}"
    if kind == "certificate":
        aircraft: list[Any] = body["aircraft"] if isinstance(body.get("aircraft"), list) else []
        return f"{len(aircraft)} aircraft clear at {clock(body.get('clear_at'))}"
    if kind == "verdict":
        reasons = body.get("reasons") if isinstance(body.get("reasons"), list) else []
        agreement = body.get("agreement") if isinstance(body.get("agreement"), dict) else None
        text = f"{body.get('outcome')}"
        if agreement is not None:
            text += f" ({agreement.get('matched')}/{agreement.get('total')} samples matched own surveillance"
            if "max_difference_m" in agreement:
                text += f", largest difference {agreement['max_difference_m']} m"
            text += ")"
        return text + (f": {'; '.join(map(str, reasons[:3]))}" if reasons else "")
    if kind == "waiver":
        ref = body.get("ref") if isinstance(body.get("ref"), dict) else {}
        assert isinstance(ref, dict)
        found: list[Any] = body["conflicts"] if isinstance(body.get("conflicts"), list) else []
        unchecked: list[Any] = body["unchecked"] if isinstance(body.get("unchecked"), list) else []
        text = f"{ref.get('kind')} {ref.get('id')} goes on despite {len(found)} protection conflict(s)"
        if unchecked:
            text += f", {len(unchecked)} item(s) unchecked"
        return text + f": {body.get('reason')!r}"
    if kind == "alarm":
        named: list[Any] = body["aircraft"] if isinstance(body.get("aircraft"), list) else []
        return f"{body.get('type')}: {', '.join(map(str, named))} — {body.get('reason', '')}"
    return ""


def _entry_hash(raw: Json) -> str:
    try:
        return Entry.from_json(raw).hash[:15]
    except LineError:
        return "?"


def entries_table(entries: Iterable[Any]) -> Table:
    """Every entry of the thread, in time order: when, who (``PARTY#seq``), what, late marks."""
    rows = sorted(
        (e for e in entries if isinstance(e, dict)),
        key=lambda e: (
            str(e.get("at")),
            str(e.get("party")),
            e.get("seq") if isinstance(e.get("seq"), int) else 0,
        ),
    )
    table = _table("Entries")
    for column in ("time (UTC)", "author", "kind", "", "details", "hash"):
        table.add_column(column)
    for e in rows:
        body = e.get("body") if isinstance(e.get("body"), dict) else {}
        assert isinstance(body, dict)
        kind = str(e.get("kind"))
        table.add_row(
            _t(clock(e.get("at"))),
            _t(f"{e.get('party')}#{e.get('seq')}"),
            _t(kind, _STYLES.get(_STATUS_OF_KIND.get(kind, kind), "")),
            _t("LATE" if body.get("late") is True else "", "bold red"),
            _t(_what(kind, body)),
            _t(_entry_hash(e), "dim"),
        )
    return table


def thread_view(thread: Json, now: datetime) -> Group:
    parts: list[Any] = [thread_details(thread, now), Text(""), legs_table(thread)]
    if isinstance(thread.get("impact"), dict):
        parts.append(impact_view(thread["impact"]))
    obligations = obligations_table(thread)
    if obligations is not None:
        parts.append(obligations)
    if isinstance(thread.get("entries"), list):
        parts.append(entries_table(thread["entries"]))
    return Group(*parts)


def status_lines(body: Json) -> list[str]:
    head = body.get("head")
    head_text = (
        f"#{head.get('seq')} {head.get('hash')}" if isinstance(head, dict) else "none yet (not started)"
    )
    return [
        f"party: {body.get('party')}",
        f"key: {body.get('key')}",
        f"head: {head_text}",
        f"entries held: {body.get('entries')}",
        f"outbox pending: {body.get('outbox_pending')}",
    ]


def events_table(events: Iterable[tuple[datetime, ServerEvent]], title: str) -> Table:
    """The latest events of the node's stream, oldest first."""
    table = _table(title)
    for column in ("received", "event", "kind", "author", "thread", "at (UTC)", "", "message"):
        table.add_column(column)
    for received, event in events:
        data = event.data
        author = f"{data.get('party')}#{data['seq']}" if "seq" in data else _t(data.get("party"))
        mine = data.get("mine")
        table.add_row(
            _t(f"{received:%H:%M:%S}"),
            _t(event.name, "bold red" if event.name in ("warning", "fork") else ""),
            _t(data.get("entry"), _STYLES.get(_STATUS_OF_KIND.get(str(data.get("entry")), ""), "")),
            _t(author),
            _t(data.get("thread")),
            _t(clock(data["at"]) if "at" in data else ""),
            _t("" if mine is None else ("out" if mine else "in")),
            _t(data.get("message") or data.get("key")),
        )
    return table
