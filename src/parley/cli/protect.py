"""``parley protect``: protected sites and movements (``docs/protection.md``, ADR 0010) from a party
node's ``{node}/protect/v1`` API: notify a site or a movement (each recipient ``--exact`` or
``--check-only``), amend or cancel it, list what the node knows with each recipient's
acknowledgement, check a plan against everything known without committing it, and read an item's
disclosure log.

Connection options as ``parley line`` and ``parley ops`` (``--node``/``PARLEY_NODE``,
``--token``/``PARLEY_TOKEN`` with scope ``parley.operations``, or ``--dev-token`` against a
development server).

Exit codes: 0 done (``check``: with or without conflicts); 2 refused (bad input, an unknown item, a
refused token); 1 the node or the shared service could not be reached or failed (``check``: some
check-only item could not be checked).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Final

import httpx
import typer
from rich.console import Console

from parley.cli import protect_render as show_
from parley.cli.line_input import Window, line_time, load_route, load_volume
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
from parley.cli.ops_client import CONNECT_TIMEOUT_S, UNREACHABLE, Failure, Json, OpsClient, Reply, party_of
from parley.cli.ops_render import say
from parley.cli.protect_input import Movement, Site, describe, movement_members, site_members
from parley.protection.model import Category

app = typer.Typer(
    help="Protected sites and movements: notify them (exact or check-only, per recipient), amend, cancel, "
    "list with acknowledgements, check a plan against them, read who learned what (the party node's "
    "/protect/v1 API).",
    no_args_is_help=True,
)

#: Path of the protection API under a party node's URL.
PROTECT_API: Final = "/protect/v1"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_WHAT = "What is protected"


@dataclass
class ProtectClient(OpsClient):
    """Calls of one node's ``/protect/v1`` with one bearer token (see :class:`OpsClient`)."""

    def __post_init__(self) -> None:
        self._http = httpx.Client(
            base_url=f"{self.node}{PROTECT_API}",
            headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json"},
            timeout=httpx.Timeout(self.timeout_s, connect=min(CONNECT_TIMEOUT_S, self.timeout_s)),
            transport=self.transport,
            follow_redirects=False,
        )

    def __enter__(self) -> ProtectClient:
        return self

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Json | None = None,
        params: dict[str, str] | None = None,
        conflict_ok: bool = False,
    ) -> Reply:
        try:
            return super().call(method, path, body=body, params=params, conflict_ok=conflict_ok)
        except Failure as failure:  # the shared messages name the ops API
            failure.message = failure.message.replace("/ops/v1", PROTECT_API)
            raise


def _client(
    node: str, token: str | None, dev: bool, sub: str | None, data_dir: Path, timeout_s: float
) -> ProtectClient:
    """``parley ops``' connection (URL checks, tokens) aimed at the protection API."""
    with _connect(node, token, dev, sub, data_dir, timeout_s) as ops:
        return ProtectClient(ops.node, ops.token, timeout_s=timeout_s)


def _out() -> Console:
    return Console(highlight=False)


def _print_json(body: Any) -> None:
    typer.echo(json.dumps(body, indent=2, ensure_ascii=False))


def _now() -> datetime:
    return datetime.now(UTC)


def _item_id(client: ProtectClient, given: str) -> str:
    """A full protection id: ``given`` itself, or the one item the node knows whose id starts with it."""
    text = given.strip().lower()
    if _UUID.fullmatch(text):
        return text
    if not re.fullmatch(r"[0-9a-f-]{4,36}", text):
        raise Failure(f"{given!r} is not a protection id (a UUID, or at least its first 4 characters)")
    items = client.call("GET", "/items").body.get("items") or []
    matches = sorted({str(i.get("id")) for i in items if str(i.get("id")).startswith(text)})
    if not matches:
        raise Failure(f"no protected item whose id starts with {given!r} is known to this node")
    if len(matches) > 1:
        raise Failure(f"{given!r} names {len(matches)} protected items: give more of the id")
    return matches[0]


# -- options of a notice -------------------------------------------------------------------------
IdArg = Annotated[
    str, typer.Argument(show_default=False, help="The protected item's id (a UUID, or a unique prefix).")
]
SiteOpt = Annotated[
    Path | None,
    typer.Option(
        "--site",
        show_default=False,
        rich_help_panel=_WHAT,
        help="A protected site: GeoJSON Point (with --radius) or Polygon (buffered by --radius, default 0); "
        "properties alt_lower_m (the ground) / alt_upper_m, start/end override --alt/--from/--until.",
    ),
]
MovementOpt = Annotated[
    Path | None,
    typer.Option(
        "--movement",
        show_default=False,
        rich_help_panel=_WHAT,
        help="A protected movement: GeoJSON LineString (its route), with --half-width and a schedule.",
    ),
]
CategoryOpt = Annotated[
    Category | None,
    typer.Option("--category", show_default=False, rich_help_panel=_WHAT, help="A site's category."),
]
NameOpt = Annotated[
    str, typer.Option("--name", show_default=False, rich_help_panel=_WHAT, help="Its name, for people.")
]
RadiusOpt = Annotated[
    float | None,
    typer.Option(
        "--radius",
        min=0.0,
        show_default=False,
        rich_help_panel=_WHAT,
        help="A site's protection radius, metres.",
    ),
]
HalfWidthOpt = Annotated[
    float | None,
    typer.Option(
        "--half-width",
        min=0.0,
        show_default=False,
        rich_help_panel=_WHAT,
        help="A movement's corridor half-width, metres.",
    ),
]
ScheduleOpt = Annotated[
    Path | None,
    typer.Option(
        "--schedule",
        show_default=False,
        rich_help_panel=_WHAT,
        help='A movement\'s schedule: JSON [{"t": TIME, "distance_m": METRES}, ...] (distance along the route).',
    ),
]
AtOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--at",
        show_default=False,
        rich_help_panel=_WHAT,
        help="A movement's waypoint TIME=DISTANCE (metres along the route, or km), e.g. +1h=0 (repeat).",
    ),
]
VehiclesOpt = Annotated[
    int, typer.Option("--vehicles", min=1, rich_help_panel=_WHAT, help="A movement's number of vehicles.")
]
MarkingsOpt = Annotated[
    str, typer.Option("--markings", rich_help_panel=_WHAT, help="A movement's markings, e.g. 'white trucks'.")
]
MarginOpt = Annotated[
    str | None,
    typer.Option(
        "--time-margin",
        show_default=False,
        rich_help_panel=_WHAT,
        help="How early or late the movement may be (e.g. 10m, or seconds). Default: 10m.",
    ),
]
FromOpt = Annotated[
    str | None,
    typer.Option(
        "--from",
        show_default=False,
        help="A site's window start: now, +10m (from now) or RFC 3339. Default: now.",
    ),
]
UntilOpt = Annotated[
    str | None,
    typer.Option(
        "--until",
        show_default=False,
        help="A site's window end: 2h (after --from), +2h (from now) or RFC 3339. Default: an hour after --from.",
    ),
]
AltOpt = Annotated[
    str | None,
    typer.Option(
        "--alt",
        show_default=False,
        help="The protected band: the ground and the ceiling, metres above WGS84, e.g. 210-710m. "
        "Default: every altitude.",
    ),
]
ExactOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--exact", show_default=False, help="A recipient given the exact geometry (repeat for several)."
    ),
]
CheckOnlyOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--check-only",
        show_default=False,
        help="A recipient told only that it exists, where roughly and when; its plans are checked at the "
        "shared service (repeat for several).",
    ),
]
SubjectOpt = Annotated[
    str | None, typer.Option("--subject", show_default=False, help="The notice's subject. Default: its name.")
]
ReasonOpt = Annotated[
    str | None,
    typer.Option("--reason", show_default=False, help="Why, in words. Default: keep away from it."),
]
DeadlineOpt = Annotated[
    str,
    typer.Option("--deadline", help="Acknowledgements wanted by: 30m (from now) or RFC 3339."),
]


def _notice(
    site: Path | None,
    movement: Path | None,
    category: Category | None,
    name: str,
    radius_m: float | None,
    half_width_m: float | None,
    schedule: Path | None,
    at: list[str] | None,
    vehicles: int,
    markings: str,
    time_margin: str | None,
    start: str | None,
    until: str | None,
    alt: str | None,
    exact: list[str] | None,
    check_only: list[str] | None,
    subject: str | None,
    reason: str | None,
    deadline: str,
) -> Json:
    """The body of ``POST notify`` (or ``amend``) from the options (see ``notify``)."""
    now = _now()
    if (site is None) == (movement is None):
        raise Failure("give --site FILE (a protected site) or --movement FILE (a protected movement)")
    if not exact and not check_only:
        raise Failure("name at least one recipient: --exact PARTY and/or --check-only PARTY")
    if site is not None:
        misplaced = [
            option
            for option, value in (
                ("--half-width", half_width_m),
                ("--schedule", schedule),
                ("--at", at or None),
                ("--time-margin", time_margin),
            )
            if value is not None
        ]
        if misplaced:
            raise Failure(f"{', '.join(misplaced)} applies to a --movement, not a --site")
        members = site_members(
            Site(site, None if category is None else category.value, radius_m),
            name,
            Window(start, until, alt),
            now,
        )
    else:
        assert movement is not None
        misplaced = [
            option
            for option, value in (
                ("--category", category),
                ("--radius", radius_m),
                ("--from", start),
                ("--until", until),
            )
            if value is not None
        ]
        if misplaced:
            raise Failure(
                f"{', '.join(misplaced)} applies to a --site, not a --movement (its window is its schedule)"
            )
        members = movement_members(
            Movement(movement, half_width_m, schedule, tuple(at or ()), vehicles, markings, time_margin),
            name,
            alt,
            now,
        )
    what = describe(members)
    return {
        "exact": list(exact or []),
        "check_only": list(check_only or []),
        "subject": subject or f"Protected {what}",
        "reason": reason or f"Keep away from the protected {what}",
        "deadline": line_time(deadline, now, "--deadline"),
        "what": what,
        **members,
    }


def _report_notified(done: Json, verb: str, what: str, as_json: bool) -> None:
    if as_json:
        _print_json(done)
        return
    _out().print(show_.notified_table(done, f"{verb} {what}: protection {done.get('id')}"))


# -- commands ------------------------------------------------------------------------------------
@app.command("notify")
@_reported
def notify(
    node: NodeOpt,
    name: NameOpt,
    site: SiteOpt = None,
    movement: MovementOpt = None,
    category: CategoryOpt = None,
    radius_m: RadiusOpt = None,
    half_width_m: HalfWidthOpt = None,
    schedule: ScheduleOpt = None,
    at: AtOpt = None,
    vehicles: VehiclesOpt = 1,
    markings: MarkingsOpt = "",
    time_margin: MarginOpt = None,
    start: FromOpt = None,
    until: UntilOpt = None,
    alt: AltOpt = None,
    exact: ExactOpt = None,
    check_only: CheckOnlyOpt = None,
    subject: SubjectOpt = None,
    reason: ReasonOpt = None,
    deadline: DeadlineOpt = "1h",
    as_json: JsonOpt = False,
    token: TokenOpt = None,
    dev: DevTokenOpt = False,
    sub: AsOpt = None,
    data_dir: DataDirOpt = Path("var"),
    timeout_s: TimeoutOpt = 30.0,
) -> None:
    """Notify a protected site or movement; prints its id, the threads and what each recipient was given.

    Exact recipients get the geometry; check-only ones that it exists, its category, window and coarse
    area, and have their plans checked at the shared service.

    Example: parley protect notify --site hospital.geojson --radius 300 --category hospital
    --name "Al-Noor" --until 30d --exact blue --check-only red"""
    body = _notice(
        site, movement, category, name, radius_m, half_width_m, schedule, at, vehicles, markings,
        time_margin, start, until, alt, exact, check_only, subject, reason, deadline,
    )  # fmt: skip
    with _client(node, token, dev, sub, data_dir, timeout_s) as client:
        done = client.call("POST", "/notify", body=body).body
    _report_notified(done, "notified", str(body["what"]), as_json)


@app.command("amend")
@_reported
def amend(
    item_id: IdArg,
    node: NodeOpt,
    name: NameOpt,
    site: SiteOpt = None,
    movement: MovementOpt = None,
    category: CategoryOpt = None,
    radius_m: RadiusOpt = None,
    half_width_m: HalfWidthOpt = None,
    schedule: ScheduleOpt = None,
    at: AtOpt = None,
    vehicles: VehiclesOpt = 1,
    markings: MarkingsOpt = "",
    time_margin: MarginOpt = None,
    start: FromOpt = None,
    until: UntilOpt = None,
    alt: AltOpt = None,
    exact: ExactOpt = None,
    check_only: CheckOnlyOpt = None,
    subject: SubjectOpt = None,
    reason: ReasonOpt = None,
    deadline: DeadlineOpt = "1h",
    as_json: JsonOpt = False,
    token: TokenOpt = None,
    dev: DevTokenOpt = False,
    sub: AsOpt = None,
    data_dir: DataDirOpt = Path("var"),
    timeout_s: TimeoutOpt = 30.0,
) -> None:
    """A new version of an item this party notified (the options of notify, given in full); new threads."""
    body = _notice(
        site, movement, category, name, radius_m, half_width_m, schedule, at, vehicles, markings,
        time_margin, start, until, alt, exact, check_only, subject, reason, deadline,
    )  # fmt: skip
    with _client(node, token, dev, sub, data_dir, timeout_s) as client:
        pid = _item_id(client, item_id)
        done = client.call("POST", f"/items/{pid}/amend", body=body).body
    _report_notified(done, "amended", str(body["what"]), as_json)


@app.command("cancel")
@_reported
def cancel(
    item_id: IdArg,
    node: NodeOpt,
    reason: Annotated[str, typer.Option("--reason", show_default=False, help="Why it ends.")],
    subject: Annotated[
        str, typer.Option("--subject", help="The cancellation's subject.")
    ] = "Protection cancelled",
    deadline: DeadlineOpt = "1h",
    as_json: JsonOpt = False,
    token: TokenOpt = None,
    dev: DevTokenOpt = False,
    sub: AsOpt = None,
    data_dir: DataDirOpt = Path("var"),
    timeout_s: TimeoutOpt = 30.0,
) -> None:
    """Cancel an item this party notified: a cancellation to everyone it was notified to."""
    if not reason.strip():
        raise Failure("a cancellation needs --reason")
    body = {"subject": subject, "reason": reason, "deadline": line_time(deadline, _now(), "--deadline")}
    with _client(node, token, dev, sub, data_dir, timeout_s) as client:
        pid = _item_id(client, item_id)
        done = client.call("POST", f"/items/{pid}/cancel", body=body).body
    if as_json:
        _print_json(done)
        return
    say(
        _out(),
        f"cancelled {done.get('id')}: told {', '.join(done.get('to') or [])} on thread {done.get('thread')}",
    )


@app.command("list")
@_reported
def list_items(
    node: NodeOpt,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the items as a GeoJSON FeatureCollection.")
    ] = False,
    token: TokenOpt = None,
    dev: DevTokenOpt = False,
    sub: AsOpt = None,
    data_dir: DataDirOpt = Path("var"),
    timeout_s: TimeoutOpt = 30.0,
) -> None:
    """The protected items the node knows, its own and those notified to it, with each recipient's
    acknowledgement (accepted, waiting, OVERDUE past the deadline)."""
    with _client(node, token, dev, sub, data_dir, timeout_s) as client:
        items = client.call("GET", "/items").body.get("items") or []
        party = sub or party_of(client.node)
    if as_json:
        _print_json(show_.items_geojson(items))
        return
    _out().print(show_.items_table(items, party))


@app.command("check")
@_reported
def check(
    node: NodeOpt,
    volume: Annotated[
        Path | None,
        typer.Option(
            "--volume",
            show_default=False,
            help="GeoJSON volume (as for parley line send): Polygon, MultiPolygon, or Point with "
            "properties.radius_m; properties alt_lower_m/alt_upper_m/start/end override --alt/--from/--until.",
        ),
    ] = None,
    route: Annotated[
        Path | None,
        typer.Option(
            "--route", show_default=False, help="GeoJSON LineString: a corridor (with --half-width)."
        ),
    ] = None,
    half_width_m: Annotated[
        float | None,
        typer.Option(
            "--half-width", min=0.0, show_default=False, help="The --route corridor's half-width, metres."
        ),
    ] = None,
    operation: Annotated[
        str | None,
        typer.Option(
            "--operation", show_default=False, help="An operation or reservation of this party (UUID)."
        ),
    ] = None,
    alt: Annotated[
        str | None,
        typer.Option("--alt", show_default=False, help="Altitude band, metres above WGS84, e.g. 0-120m."),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            "--from", show_default=False, help="Start: now, +10m (from now) or RFC 3339. Default: now."
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            show_default=False,
            help="End: 2h (after --from), +2h (from now) or RFC 3339. Default: an hour after --from.",
        ),
    ] = None,
    as_json: JsonOpt = False,
    token: TokenOpt = None,
    dev: DevTokenOpt = False,
    sub: AsOpt = None,
    data_dir: DataDirOpt = Path("var"),
    timeout_s: TimeoutOpt = 30.0,
) -> None:
    """Check a plan against every protected item the node knows, without committing anything.

    Prints the conflicts (exact items: the least distance; check-only items: only the distance to
    keep) or "no conflict"; exit 0 either way."""
    now = _now()
    body: Json
    if operation is not None:
        if volume is not None or route is not None:
            raise Failure("give --operation, or --volume/--route, not both")
        if alt is not None or start is not None or until is not None:
            raise Failure("--alt, --from and --until apply to --volume and --route, not to --operation")
        body = {"operation": operation.strip()}
    elif volume is None and route is None:
        raise Failure("give what to check: --volume FILE, --route FILE or --operation ID")
    else:
        if half_width_m is not None and route is None:
            raise Failure("--half-width applies to --route")
        window = Window(start, until, alt)
        body = {
            "volumes": [] if volume is None else [load_volume(volume, window, now)],
            "routes": [] if route is None else [load_route(route, window, half_width_m, now)],
        }
    with _client(node, token, dev, sub, data_dir, timeout_s) as client:
        found = client.call("POST", "/check", body=body).body
    conflicts = found.get("conflicts") or []
    unchecked = found.get("unchecked") or []
    if as_json:
        _print_json(found)
    else:
        out = _out()
        if conflicts:
            items = len({c.get("protected") for c in conflicts if isinstance(c, dict)})
            say(
                out, f"{len(conflicts)} conflict(s) with {items} protected site(s) or movement(s)", "bold red"
            )
            out.print(show_.conflicts_table(conflicts))
        elif not unchecked:
            say(out, "no conflict with the protected sites and movements known", "green")
    if unchecked:
        raise Failure(
            f"not checked against {len(unchecked)} protected item(s) notified check-only ({', '.join(unchecked)}): "
            f"the shared service could not be reached ({found.get('unreachable')})",
            UNREACHABLE,
        )


@app.command("disclosures")
@_reported
def disclosures(
    item_id: IdArg,
    node: NodeOpt,
    as_json: JsonOpt = False,
    token: TokenOpt = None,
    dev: DevTokenOpt = False,
    sub: AsOpt = None,
    data_dir: DataDirOpt = Path("var"),
    timeout_s: TimeoutOpt = 30.0,
) -> None:
    """Who learned what of an item this party notified, and when (the notifier only)."""
    with _client(node, token, dev, sub, data_dir, timeout_s) as client:
        log = client.call("GET", f"/items/{_item_id(client, item_id)}/disclosures").body
    if as_json:
        _print_json(log)
        return
    _out().print(show_.disclosures_table(log))
