"""``parley line``: a party's duty officers on the line: send signed requests to other parties,
read the inbox and whole threads, answer (read, accept, decline, counter) or withdraw, follow the
node's events, export the party's transcript, and verify a transcript offline.

Every command but ``verify`` talks to the party node's line API (``{node}/line/v1``) with the
connection options of ``parley ops`` (``--node``/``PARLEY_NODE``, ``--token``/``PARLEY_TOKEN`` with
scope ``parley.operations``, or ``--dev-token`` against a development server). ``verify`` needs
nothing but the file.

Exit codes: 0 done (``verify``: the transcript is sound); 2 refused (bad input, a step the
request's life cycle forbids, a refused token, an unknown thread; ``verify``: the first defect,
naming the entry); 1 the node could not be reached or failed.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live

from parley.cli import line_render as show_
from parley.cli.line_client import LineClient, ServerEvent, follow_events
from parley.cli.line_input import Window, checked, line_time, load_route, load_volume, reference
from parley.cli.ops import (
    AsOpt,
    DataDirOpt,
    DevTokenOpt,
    JsonOpt,
    NodeOpt,
    TimeoutOpt,
    TokenOpt,
    _connect,
    _reported,
)
from parley.cli.ops_client import REFUSED, Failure, Json
from parley.cli.ops_input import parse_duration
from parley.cli.ops_render import say
from parley.line.bodies import RequestType
from parley.line.errors import InvalidEntry
from parley.line.transcript import load_transcript, verify_transcript

app = typer.Typer(
    help="The line: signed, acknowledged requests between parties (vacate, hold_clear, passage, notice, "
    "free_text), their answers, and transcripts anyone can verify (the party node's /line/v1 API).",
    no_args_is_help=True,
)

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
#: What each type of request carries besides subject, reason and deadline: (required, optional).
_SHAPES: dict[RequestType, tuple[tuple[str, ...], tuple[str, ...]]] = {
    RequestType.VACATE: (("volume",), ()),
    RequestType.HOLD_CLEAR: (("volume",), ()),
    RequestType.PASSAGE: (("route",), ()),
    RequestType.NOTICE: (("what",), ("volume", "route")),
    RequestType.FREE_TEXT: (("text",), ()),
}
_OPTION_OF = {"volume": "--volume", "route": "--route", "what": "--what", "text": "--text"}

IdArg = Annotated[
    str,
    typer.Argument(show_default=False, help="The thread's id (a UUID, or a unique prefix of one)."),
]
ReasonOpt = Annotated[str | None, typer.Option("--reason", show_default=False, help="Why, in words.")]
VolumeOpt = Annotated[
    Path | None,
    typer.Option(
        "--volume",
        show_default=False,
        help="GeoJSON volume: one Feature (Polygon, MultiPolygon, or Point with properties.radius_m); "
        "properties alt_lower_m/alt_upper_m/start/end override --alt/--from/--until.",
    ),
]
AltOpt = Annotated[
    str | None,
    typer.Option("--alt", show_default=False, help="Altitude band, metres above WGS84, e.g. 0-6000m."),
]
FromOpt = Annotated[
    str | None,
    typer.Option(
        "--from",
        show_default=False,
        help="Start of the window: now, +10m (from now) or RFC 3339. Default: now.",
    ),
]
UntilOpt = Annotated[
    str | None,
    typer.Option(
        "--until",
        show_default=False,
        help="End of the window: 2h (after --from), +2h (from now) or RFC 3339. Default: an hour after --from.",
    ),
]


def _out() -> Console:
    return Console(highlight=False)


def _print_json(body: Any) -> None:
    typer.echo(json.dumps(body, indent=2, ensure_ascii=False))


def _now() -> datetime:
    return datetime.now(UTC)


def _client(
    node: str, token: str | None, dev: bool, sub: str | None, data_dir: Path, timeout_s: float
) -> LineClient:
    """``parley ops``' connection (URL checks, tokens) aimed at the line's API."""
    with _connect(node, token, dev, sub, data_dir, timeout_s) as ops:
        return LineClient(ops.node, ops.token, timeout_s=timeout_s)


def _thread_id(client: LineClient, given: str) -> str:
    """A full thread id: ``given`` itself, or the one thread whose id starts with it."""
    text = given.strip().lower()
    if _UUID.fullmatch(text):
        return text
    if not re.fullmatch(r"[0-9a-f-]{4,36}", text):
        raise Failure(f"{given!r} is not a thread id (a UUID, or at least its first 4 characters)")
    threads = client.call("GET", "/threads", params={"limit": "1000"}).body.get("threads") or []
    matches = [str(t.get("id")) for t in threads if str(t.get("id")).startswith(text)]
    if not matches:
        raise Failure(f"no thread whose id starts with {given!r}")
    if len(matches) > 1:
        raise Failure(f"{given!r} names {len(matches)} threads: give more of the id")
    return matches[0]


def _print_thread(thread: Json, as_json: bool, headline: str | None = None) -> None:
    if as_json:
        _print_json(thread)
        return
    out = _out()
    if headline:
        say(out, headline)
    out.print(show_.thread_view(thread, _now()))


def _buffer(text: str) -> Json:
    """``--buffer 500,150`` (metres; a trailing ``m`` allowed) as the request's ``buffer``."""
    parts = [p.strip().removesuffix("m") for p in text.split(",")]
    try:
        if len(parts) != 2:
            raise ValueError
        h, v = (float(p) for p in parts)
    except ValueError:
        raise Failure(f"--buffer: expected horizontal,vertical metres (e.g. 500,150), not {text!r}") from None
    return {"h_m": h, "v_m": v}


# -- sending -------------------------------------------------------------------------------------
@app.command("send")
@_reported
def send(
    kind: Annotated[RequestType, typer.Argument(show_default=False, help="The type of request.")],
    node: NodeOpt,
    to: Annotated[
        list[str], typer.Option("--to", show_default=False, help="A recipient party (repeat for several).")
    ],
    subject: Annotated[str, typer.Option("--subject", show_default=False, help="What it is about, briefly.")],
    reason: Annotated[str, typer.Option("--reason", show_default=False, help="Why it is asked.")],
    deadline: Annotated[
        str,
        typer.Option("--deadline", show_default=False, help="Answer wanted by: 30m (from now) or RFC 3339."),
    ],
    volume: VolumeOpt = None,
    alt: AltOpt = None,
    start: FromOpt = None,
    until: UntilOpt = None,
    route: Annotated[
        Path | None,
        typer.Option(
            "--route",
            show_default=False,
            help="GeoJSON route: a LineString Feature; properties half_width_m/start/end/alt_* override options.",
        ),
    ] = None,
    half_width_m: Annotated[
        float | None,
        typer.Option("--half-width", min=0.0, show_default=False, help="Route corridor half-width, metres."),
    ] = None,
    what: Annotated[
        str | None, typer.Option("--what", show_default=False, help="A notice's site or movement.")
    ] = None,
    text: Annotated[
        str | None, typer.Option("--text", show_default=False, help="A free_text's text.")
    ] = None,
    ref: Annotated[
        str | None,
        typer.Option("--ref", show_default=False, help="What it concerns: operation:ID or constraint:ID."),
    ] = None,
    buffer: Annotated[
        str | None,
        typer.Option(
            "--buffer",
            show_default=False,
            help="vacate, hold_clear: the buffer around the volume, horizontal,vertical metres (default 500,150).",
        ),
    ] = None,
    as_json: JsonOpt = False,
    token: TokenOpt = None,
    dev: DevTokenOpt = False,
    sub: AsOpt = None,
    data_dir: DataDirOpt = Path("var"),
    timeout_s: TimeoutOpt = 30.0,
) -> None:
    """Send a signed request to one or more parties; prints the new thread.

    Example: parley line send vacate --to blue --subject "Clear sector 4" --reason "Medevac"
    --deadline 30m --volume area.geojson --alt 0-6000m --until 2h"""
    now = _now()
    required, optional = _SHAPES[kind]
    given = {"volume": volume, "route": route, "what": what, "text": text}
    misplaced = [_OPTION_OF[n] for n, v in given.items() if v is not None and n not in required + optional]
    if misplaced:
        raise Failure(f"{', '.join(misplaced)} does not apply to a {kind.value} request")
    missing = [_OPTION_OF[n] for n in required if given[n] is None]
    if missing:
        raise Failure(f"a {kind.value} request needs {', '.join(missing)}")
    if kind is RequestType.NOTICE and volume is None and route is None:
        raise Failure("a notice needs --volume or --route (the site or the movement)")
    if half_width_m is not None and route is None:
        raise Failure("--half-width applies to --route")
    body: Json = {
        "type": kind.value,
        "subject": subject,
        "reason": reason,
        "deadline": line_time(deadline, now, "--deadline"),
    }
    if ref is not None:
        body["ref"] = reference(ref)
    if buffer is not None:
        if kind not in (RequestType.VACATE, RequestType.HOLD_CLEAR):
            raise Failure("--buffer applies to a vacate or a hold_clear")
        body["buffer"] = _buffer(buffer)
    window = Window(start, until, alt)
    if volume is not None:
        body["volume"] = load_volume(volume, window, now)
    if route is not None:
        body["route"] = load_route(route, window, half_width_m, now)
    if what is not None:
        body["what"] = what
    if text is not None:
        body["text"] = text
    checked("request", body)
    with _client(node, token, dev, sub, data_dir, timeout_s) as client:
        thread = client.call("POST", "/requests", body={"to": to, **body}).body
    _print_thread(thread, as_json, f"sent {kind.value} {thread.get('id')} to {', '.join(to)}")


# -- reading -------------------------------------------------------------------------------------
@app.command("inbox")
@_reported
def inbox(
    node: NodeOpt,
    show_all: Annotated[
        bool, typer.Option("--all", help="Also the threads every recipient has answered or let expire.")
    ] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="Most recent threads read.")] = 100,
    as_json: JsonOpt = False,
    token: TokenOpt = None,
    dev: DevTokenOpt = False,
    sub: AsOpt = None,
    data_dir: DataDirOpt = Path("var"),
    timeout_s: TimeoutOpt = 30.0,
) -> None:
    """Threads in and out: each recipient's status, the deadline's countdown.

    By default only the threads still waiting for an answer; --all shows every thread."""
    with _client(node, token, dev, sub, data_dir, timeout_s) as client:
        threads = client.call("GET", "/threads", params={"limit": str(limit)}).body.get("threads") or []
    shown = [t for t in threads if isinstance(t, dict) and (show_all or show_.is_open(t))]
    if as_json:
        _print_json({"threads": shown})
        return
    title = "All threads" if show_all else "Threads waiting for an answer"
    _out().print(show_.inbox_table(shown, _now(), f"{title} ({len(shown)})"))


@app.command("show")
@_reported
def show_thread(
    thread_id: IdArg,
    node: NodeOpt,
    as_json: JsonOpt = False,
    token: TokenOpt = None,
    dev: DevTokenOpt = False,
    sub: AsOpt = None,
    data_dir: DataDirOpt = Path("var"),
    timeout_s: TimeoutOpt = 30.0,
) -> None:
    """One whole thread: the request, recipients' states, obligations, entries in order.

    Each entry with its author (PARTY#seq), time, kind, late mark and hash."""
    with _client(node, token, dev, sub, data_dir, timeout_s) as client:
        thread = client.call("GET", f"/threads/{_thread_id(client, thread_id)}").body
    _print_thread(thread, as_json)


# -- steps ---------------------------------------------------------------------------------------
def _step(
    step: str,
    thread_id: str,
    body: Json,
    client: LineClient,
    as_json: bool,
) -> None:
    tid = _thread_id(client, thread_id)
    thread = client.call("POST", f"/threads/{tid}/{step}", body=body).body
    _print_thread(thread, as_json, f"{step}: done on {tid}")


@app.command("read")
@_reported
def read(
    thread_id: IdArg,
    node: NodeOpt,
    as_json: JsonOpt = False,
    token: TokenOpt = None,
    dev: DevTokenOpt = False,
    sub: AsOpt = None,
    data_dir: DataDirOpt = Path("var"),
    timeout_s: TimeoutOpt = 30.0,
) -> None:
    """Record that the request has been read (signed, sent to the sender)."""
    with _client(node, token, dev, sub, data_dir, timeout_s) as client:
        _step("read", thread_id, {}, client, as_json)


@app.command("accept")
@_reported
def accept(
    thread_id: IdArg,
    node: NodeOpt,
    conditions: Annotated[
        str | None, typer.Option("--conditions", show_default=False, help="Conditions of the acceptance.")
    ] = None,
    as_json: JsonOpt = False,
    token: TokenOpt = None,
    dev: DevTokenOpt = False,
    sub: AsOpt = None,
    data_dir: DataDirOpt = Path("var"),
    timeout_s: TimeoutOpt = 30.0,
) -> None:
    """Accept the request (a vacate or hold_clear accepted becomes an obligation)."""
    body = checked("accept", {} if conditions is None else {"conditions": conditions})
    with _client(node, token, dev, sub, data_dir, timeout_s) as client:
        _step("accept", thread_id, body, client, as_json)


@app.command("impact")
@_reported
def impact(
    thread_id: IdArg,
    node: NodeOpt,
    as_json: JsonOpt = False,
    token: TokenOpt = None,
    dev: DevTokenOpt = False,
    sub: AsOpt = None,
    data_dir: DataDirOpt = Path("var"),
    timeout_s: TimeoutOpt = 30.0,
) -> None:
    """What accepting a vacate or hold_clear would cost: the affected aircraft, their exit routes.

    Nothing is signed; accepting (parley line accept) names the watched aircraft and re-plans."""
    with _client(node, token, dev, sub, data_dir, timeout_s) as client:
        found = client.call("GET", f"/threads/{_thread_id(client, thread_id)}/impact").body
    if as_json:
        _print_json(found)
        return
    _out().print(show_.impact_view(found))


@app.command("obligations")
@_reported
def obligations(
    node: NodeOpt,
    as_json: JsonOpt = False,
    token: TokenOpt = None,
    dev: DevTokenOpt = False,
    sub: AsOpt = None,
    data_dir: DataDirOpt = Path("var"),
    timeout_s: TimeoutOpt = 30.0,
) -> None:
    """The accepted obligations this node watches until its aircraft are out (and, for a hold, stay out)."""
    with _client(node, token, dev, sub, data_dir, timeout_s) as client:
        found = client.call("GET", "/obligations").body.get("obligations") or []
    if as_json:
        _print_json({"obligations": found})
        return
    _out().print(show_.obligations_list(found))


@app.command("decline")
@_reported
def decline(
    thread_id: IdArg,
    node: NodeOpt,
    reason: ReasonOpt = None,
    as_json: JsonOpt = False,
    token: TokenOpt = None,
    dev: DevTokenOpt = False,
    sub: AsOpt = None,
    data_dir: DataDirOpt = Path("var"),
    timeout_s: TimeoutOpt = 30.0,
) -> None:
    """Decline the request; --reason is required."""
    if reason is None or not reason.strip():
        raise Failure("a decline needs --reason")
    body = checked("decline", {"reason": reason})
    with _client(node, token, dev, sub, data_dir, timeout_s) as client:
        _step("decline", thread_id, body, client, as_json)


def _request_window(thread: Json) -> tuple[str | None, str | None, str | None]:
    """The request's own window and altitude band (the defaults of a counter)."""
    body = (thread.get("request") or {}).get("body") or {}
    shape = body.get("volume") or body.get("route") or {}
    props = shape.get("properties") if isinstance(shape, dict) else None
    if not isinstance(props, dict):
        return None, None, None
    lower, upper = props.get("alt_lower_m"), props.get("alt_upper_m")
    alt = f"{lower}-{upper}" if isinstance(lower, int | float) and isinstance(upper, int | float) else None
    return props.get("start"), props.get("end"), alt


@app.command("counter")
@_reported
def counter(
    thread_id: IdArg,
    node: NodeOpt,
    volume: VolumeOpt = None,
    alt: AltOpt = None,
    start: FromOpt = None,
    until: UntilOpt = None,
    reason: ReasonOpt = None,
    as_json: JsonOpt = False,
    token: TokenOpt = None,
    dev: DevTokenOpt = False,
    sub: AsOpt = None,
    data_dir: DataDirOpt = Path("var"),
    timeout_s: TimeoutOpt = 30.0,
) -> None:
    """Answer with a modified volume (--volume) and/or window (--from/--until).

    What is not given is the request's own (its window, its altitude band)."""
    if volume is None and start is None and until is None:
        raise Failure("a counter needs --volume, or a window (--from and/or --until)")
    now = _now()
    with _client(node, token, dev, sub, data_dir, timeout_s) as client:
        tid = _thread_id(client, thread_id)
        req_start, req_end, req_alt = _request_window(client.call("GET", f"/threads/{tid}").body)
        window = Window(
            start if start is not None else req_start,
            until if until is not None else req_end,
            alt if alt is not None else req_alt,
        )
        body: Json = {}
        if volume is not None:
            body["volume"] = load_volume(volume, window, now)
        else:
            begin, end = window.times(now)
            body["window"] = {"start": begin, "end": end}
        if reason is not None:
            body["reason"] = reason
        checked("counter", body)
        _step("counter", tid, body, client, as_json)


@app.command("withdraw")
@_reported
def withdraw(
    thread_id: IdArg,
    node: NodeOpt,
    reason: ReasonOpt = None,
    as_json: JsonOpt = False,
    token: TokenOpt = None,
    dev: DevTokenOpt = False,
    sub: AsOpt = None,
    data_dir: DataDirOpt = Path("var"),
    timeout_s: TimeoutOpt = 30.0,
) -> None:
    """Withdraw a request this party sent, before it is answered."""
    body = checked("withdraw", {} if reason is None else {"reason": reason})
    with _client(node, token, dev, sub, data_dir, timeout_s) as client:
        _step("withdraw", thread_id, body, client, as_json)


# -- transcripts ---------------------------------------------------------------------------------
@app.command("export")
@_reported
def export(
    node: NodeOpt,
    out: Annotated[
        Path, typer.Option("--out", help="Where to write the transcript ('-': standard output).")
    ] = Path("-"),
    token: TokenOpt = None,
    dev: DevTokenOpt = False,
    sub: AsOpt = None,
    data_dir: DataDirOpt = Path("var"),
    timeout_s: TimeoutOpt = 120.0,
) -> None:
    """Write the party's transcript (for `parley line verify`).

    Everything the party holds on the line: entries, key histories, witness countersignatures."""
    with _client(node, token, dev, sub, data_dir, timeout_s) as client:
        doc = client.call("GET", "/export").body
    text = json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
    if str(out) == "-":
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as error:
        raise Failure(f"cannot write {out}: {error.strerror or error}") from None
    keys = sum(len(v) for v in (doc.get("keys") or {}).values())
    say(
        _out(),
        f"wrote {out}: {doc.get('party')}'s transcript, {len(doc.get('entries') or [])} entries, {keys} key "
        f"entries, {len(doc.get('witness') or [])} witness countersignatures",
    )


@app.command("verify")
@_reported
def verify(
    transcript: Annotated[
        Path, typer.Argument(show_default=False, help="A transcript from `parley line export`.")
    ],
    witness_keys: Annotated[
        list[str] | None,
        typer.Option(
            "--witness-key",
            show_default=False,
            help="Trust only countersignatures by this witness key (ed25519:...; repeat for several).",
        ),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only the outcome, not the timeline.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
) -> None:
    """Check a transcript offline; exit 2 on the first defect, naming the entry.

    Every signature, chain link, cross-reference, deadline and witness countersignature is checked
    with nothing but the file; the readable timeline is printed."""
    try:
        doc = load_transcript(transcript)
    except FileNotFoundError:
        raise Failure(f"{transcript} does not exist") from None
    except OSError as error:
        raise Failure(f"cannot read {transcript}: {error.strerror or error}") from None
    except InvalidEntry as error:
        raise Failure(f"{transcript} is not a JSON transcript: {error.message}") from None
    report = verify_transcript(doc, trusted_witness_keys=witness_keys or None)
    if as_json:
        _print_json(
            {
                "ok": report.ok,
                "party": report.party,
                "defect": None
                if report.defect is None
                else {"entry": report.defect.entry, "message": report.defect.message},
                "entries": report.entries,
                "requests": len(report.threads),
                "open": [t.id for t in report.open_threads],
                "witness_keys": sorted(report.witness_keys),
            }
        )
    else:
        if quiet:
            typer.echo(report.outcome)
        else:
            sys.stdout.write("".join(f"{line}\n" for line in report.lines()))
            sys.stdout.flush()
    if report.defect is not None:
        raise Failure(f"{transcript} fails verification: {report.defect}", REFUSED)


# -- live ------------------------------------------------------------------------------------------
@app.command("watch")
@_reported
def watch(
    node: NodeOpt,
    duration: Annotated[
        str | None,
        typer.Option(
            "--for", show_default=False, help="Stop after this long (e.g. 3s, 10m); default: Ctrl-C."
        ),
    ] = None,
    rows: Annotated[int, typer.Option("--rows", min=1, max=500, help="Latest events shown.")] = 20,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print each event as one JSON line instead.")
    ] = False,
    token: TokenOpt = None,
    dev: DevTokenOpt = False,
    sub: AsOpt = None,
    data_dir: DataDirOpt = Path("var"),
) -> None:
    """Follow the node's events in a live table; Ctrl-C stops.

    Requests, receipts, answers, expiries, key changes, warnings and forks, as they happen."""
    seconds = parse_duration(duration, "--for").total_seconds() if duration is not None else None
    with _client(node, token, dev, sub, data_dir, 30.0) as client:
        url, bearer = client.node, client.token
    latest: collections.deque[tuple[datetime, ServerEvent]] = collections.deque(maxlen=rows)
    title = f"Line events at {url}"
    console = _out()

    async def follow(on_event: Any, on_status: Any) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await follow_events(url, bearer, on_event, on_status=on_status)

    def print_line(event: ServerEvent) -> None:
        typer.echo(json.dumps({"event": event.name, **event.data}, ensure_ascii=False))
        sys.stdout.flush()

    def note(message: str) -> None:  # where no live table shows it: one line on stderr
        typer.echo(message, err=True)

    try:
        if as_json:
            asyncio.run(follow(print_line, note))
            return
        with Live(show_.events_table(latest, title), console=console, refresh_per_second=4) as live:
            status = {"text": "connecting"}

            def render() -> None:
                live.update(show_.events_table(latest, f"{title} — {status['text']}"))

            def on_event(event: ServerEvent) -> None:
                latest.append((datetime.now(UTC), event))
                render()

            def on_status(message: str) -> None:
                status["text"] = message
                render()
                if not console.is_terminal:
                    note(message)

            asyncio.run(follow(on_event, on_status))
            status["text"] = f"{len(latest)} latest events"
            render()
    except KeyboardInterrupt:
        say(console, "stopped")


@app.command("status")
@_reported
def status(
    node: NodeOpt,
    as_json: JsonOpt = False,
    token: TokenOpt = None,
    dev: DevTokenOpt = False,
    sub: AsOpt = None,
    data_dir: DataDirOpt = Path("var"),
    timeout_s: TimeoutOpt = 30.0,
) -> None:
    """The party's line: its key, its chain's head, entries held, deliveries pending."""
    with _client(node, token, dev, sub, data_dir, timeout_s) as client:
        body = client.call("GET", "/status").body
    if as_json:
        _print_json(body)
        return
    out = _out()
    for line in show_.status_lines(body):
        say(out, line)
