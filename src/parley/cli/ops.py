"""``parley ops``: a party's operators plan, change, activate and end operations, publish
reservations and read what the node knows, through the party node's native API (``{node}/ops/v1``).

Every command takes the node's URL (``--node``, or ``PARLEY_NODE``) and a bearer token with scope
``parley.operations`` whose subject is one of the party's operators (``--token``, or
``PARLEY_TOKEN``); against a development server (``dev_auth``), ``--dev-token`` mints one with the
dev key in ``--data-dir``. Tables by default; ``--json`` prints the node's JSON answer.

Exit codes: 0 done; 2 refused (bad input, a conflict, a refused token, an unknown operation);
1 the node could not be reached or failed.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, ParamSpec
from urllib.parse import quote

import typer
from rich.console import Console

from parley.cli import ops_render as show_
from parley.cli.ops_client import REFUSED, Failure, Json, OpsClient, Reply, dev_token, node_url, party_of
from parley.cli.ops_input import load_samples, load_volumes, parse_when, volume_defaults, wire_time

app = typer.Typer(
    help="A party's operations: plan, modify, activate and end them; reserve airspace; read others' "
    "operations and notifications (the party node's /ops/v1 API).",
    no_args_is_help=True,
)

P = ParamSpec("P")

#: Samples sent per telemetry request (the node takes at most 10,000).
TELEMETRY_BATCH = 10_000

_CONNECTION = "Connection"

# -- options every command takes -----------------------------------------------------------------
NodeOpt = Annotated[
    str,
    typer.Option(
        "--node",
        envvar="PARLEY_NODE",
        show_default=False,
        rich_help_panel=_CONNECTION,
        help="The party node's URL, e.g. http://127.0.0.1:8082/parties/red.",
    ),
]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="PARLEY_TOKEN",
        show_default=False,
        rich_help_panel=_CONNECTION,
        help="Bearer access token with scope parley.operations for one of the party's operators.",
    ),
]
DevTokenOpt = Annotated[
    bool,
    typer.Option(
        "--dev-token",
        rich_help_panel=_CONNECTION,
        help="DEVELOPMENT ONLY: mint a token with the dev key in --data-dir (servers run with dev_auth); "
        "takes precedence over --token.",
    ),
]
AsOpt = Annotated[
    str | None,
    typer.Option(
        "--as",
        show_default=False,
        rich_help_panel=_CONNECTION,
        help="DEVELOPMENT ONLY (with --dev-token): the token's subject; default: the party id "
        "(the node URL's last segment).",
    ),
]
DataDirOpt = Annotated[
    Path,
    typer.Option(
        "--data-dir",
        rich_help_panel=_CONNECTION,
        help="DEVELOPMENT ONLY (with --dev-token): the server's data directory, holding dev-keys/.",
    ),
]
TimeoutOpt = Annotated[
    float,
    typer.Option(
        "--timeout", min=0.1, max=600.0, rich_help_panel=_CONNECTION, help="Seconds to wait for the node."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the node's JSON answer instead of tables.")]

# -- options of plans and reservations ----------------------------------------------------------
FileArg = Annotated[
    Path,
    typer.Argument(
        show_default=False,
        help="GeoJSON volumes ('-': standard input): a FeatureCollection of Polygons, or Points with "
        "properties.radius_m; properties altitude_lower_m/altitude_upper_m (WGS84) and "
        "time_start/time_end override the options below.",
    ),
]
NameOpt = Annotated[str, typer.Option("--name", help="A name for people.")]
StartOpt = Annotated[
    str | None,
    typer.Option(
        "--start",
        show_default=False,
        help="Start of the volumes without time_start: RFC 3339, now, or +10m (from now). Default: now.",
    ),
]
DurationOpt = Annotated[
    str | None,
    typer.Option(
        "--duration",
        show_default=False,
        help="Length of the volumes without time_end, e.g. 45m or 1h30m. Default: 1h.",
    ),
]
LowerOpt = Annotated[
    float | None,
    typer.Option("--lower", show_default=False, help="Floor of volumes without one, metres above WGS84."),
]
UpperOpt = Annotated[
    float | None,
    typer.Option("--upper", show_default=False, help="Ceiling of volumes without one, metres above WGS84."),
]
IdArg = Annotated[str, typer.Argument(show_default=False, help="The operation's id (UUID).")]


def _reported(command: Callable[P, None]) -> Callable[P, None]:
    """Turn a :class:`Failure` into one line on stderr and its exit code."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            command(*args, **kwargs)
        except Failure as failure:
            typer.echo(f"error: {failure.message}", err=True)
            raise typer.Exit(failure.exit_code) from None

    return run


def _connect(
    node: str, token: str | None, dev: bool, sub: str | None, data_dir: Path, timeout_s: float
) -> OpsClient:
    url = node_url(node)
    if dev:
        token = dev_token(url, sub or party_of(url), data_dir)
    elif sub is not None:
        raise Failure("--as only applies with --dev-token")
    if not token:
        raise Failure(
            "no access token: give --token (or set PARLEY_TOKEN), or --dev-token against a development server"
        )
    return OpsClient(url, token, timeout_s=timeout_s)


def _out() -> Console:
    return Console(highlight=False)


def _print_json(body: Any) -> None:
    typer.echo(json.dumps(body, indent=2, ensure_ascii=False))


def _path(op_id: str) -> str:
    """An id as one path segment."""
    if not op_id.strip() or op_id in (".", ".."):
        raise Failure(f"{op_id!r} is not an id")
    return quote(op_id.strip(), safe="")


def _report_plan(reply: Reply, verb: str, as_json: bool, refused: str = "") -> None:
    """A planning answer: the operation planned, or the conflicts that block it (exit 2, the
    node's message after ``refused``)."""
    body = reply.body
    conflicts = (body.get("check") or {}).get("conflicts") or []
    if as_json:
        _print_json(body)
    if reply.status == 409:
        if not as_json:
            _out().print(show_.conflicts_table(conflicts, "Conflicts that block it"))
        message = str(body.get("message") or "not planned: it conflicts with others")
        raise Failure(f"{refused}: {message}" if refused else message, REFUSED)
    if as_json:
        return
    op = body.get("operation") or {}
    out = _out()
    show_.say(
        out,
        f"{verb} {op.get('id')}: {op.get('state')}, version {op.get('version')}, priority "
        f"{op.get('priority')}; checked against {body.get('others_considered', 0)} other(s)",
    )
    if conflicts:
        out.print(show_.conflicts_table(conflicts, "Conflicts that do not block it"))


# -- commands -------------------------------------------------------------------------------------
@app.command("list")
@_reported
def list_operations(
    node: NodeOpt,
    include_ended: Annotated[bool, typer.Option("--all", help="Include Ended operations.")] = False,
    as_json: JsonOpt = False,
    token: TokenOpt = None,
    dev: DevTokenOpt = False,
    sub: AsOpt = None,
    data_dir: DataDirOpt = Path("var"),
    timeout_s: TimeoutOpt = 30.0,
) -> None:
    """The party's operations and reservations."""
    params = {"include_ended": "true"} if include_ended else None
    with _connect(node, token, dev, sub, data_dir, timeout_s) as client:
        body = client.call("GET", "/operations", params=params).body
    if as_json:
        _print_json(body)
        return
    _out().print(show_.operations_table(body.get("operations") or []))


@app.command("show")
@_reported
def show_operation(
    op_id: IdArg,
    node: NodeOpt,
    geojson: Annotated[
        bool, typer.Option("--geojson", help="Print its volumes as one GeoJSON FeatureCollection.")
    ] = False,
    as_json: JsonOpt = False,
    token: TokenOpt = None,
    dev: DevTokenOpt = False,
    sub: AsOpt = None,
    data_dir: DataDirOpt = Path("var"),
    timeout_s: TimeoutOpt = 30.0,
) -> None:
    """One operation or reservation: its state, version and volumes."""
    with _connect(node, token, dev, sub, data_dir, timeout_s) as client:
        body = client.call("GET", f"/operations/{_path(op_id)}").body
    op: Json = body.get("operation") or {}
    if geojson:
        features = [
            *((op.get("volumes") or {}).get("features") or []),
            *((op.get("off_nominal_volumes") or {}).get("features") or []),
        ]
        _print_json({"type": "FeatureCollection", "features": features})
        return
    if as_json:
        _print_json(body)
        return
    out = _out()
    out.print(show_.operation_details(op))
    out.print(show_.volumes_table(op.get("volumes")))
    if (op.get("off_nominal_volumes") or {}).get("features"):
        out.print(show_.volumes_table(op.get("off_nominal_volumes"), "Off-nominal volumes"))


@app.command("plan")
@_reported
def plan_operation(
    file: FileArg,
    node: NodeOpt,
    name: NameOpt = "",
    priority: Annotated[int, typer.Option(min=0, max=100, help="F3548 priority; higher wins.")] = 0,
    start: StartOpt = None,
    duration: DurationOpt = None,
    lower: LowerOpt = None,
    upper: UpperOpt = None,
    activate: Annotated[bool, typer.Option("--activate", help="Activate it once planned.")] = False,
    new_id: Annotated[
        str | None, typer.Option("--id", show_default=False, help="Its id (UUID); default: a new one.")
    ] = None,
    as_json: JsonOpt = False,
    token: TokenOpt = None,
    dev: DevTokenOpt = False,
    sub: AsOpt = None,
    data_dir: DataDirOpt = Path("var"),
    timeout_s: TimeoutOpt = 30.0,
) -> None:
    """Plan a new operation; exit 2 with the conflicts when others' operations block it."""
    now = datetime.now(UTC)
    body: Json = {
        "name": name,
        "priority": priority,
        "state": "Accepted",
        "volumes": load_volumes(file),
        **volume_defaults(now=now, start=start, duration=duration, lower_m=lower, upper_m=upper),
    }
    if new_id is not None:
        body["id"] = new_id
    with _connect(node, token, dev, sub, data_dir, timeout_s) as client:
        reply = client.call("POST", "/operations", body=body, conflict_ok=True)
        if not activate or reply.status == 409:
            _report_plan(reply, "planned", as_json)
            return
        # F3548: an operational intent is created Accepted (the DSS refuses a first version in
        # any other state), then activated.
        op_id = str((reply.body.get("operation") or {}).get("id"))
        if not as_json:
            _report_plan(reply, "planned", as_json)
        activated = client.call("POST", f"/operations/{_path(op_id)}/activate", conflict_ok=True)
    _report_plan(activated, "activated", as_json, refused=f"planned {op_id} (Accepted) but not activated")


@app.command("modify")
@_reported
def modify_operation(
    op_id: IdArg,
    node: NodeOpt,
    file: Annotated[
        Path | None,
        typer.Argument(show_default=False, help="New GeoJSON volumes (as for plan); default: keep them."),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", show_default=False, help="A new name; default: keep it.")
    ] = None,
    priority: Annotated[
        int | None, typer.Option(min=0, max=100, show_default=False, help="A new priority; default: keep it.")
    ] = None,
    start: StartOpt = None,
    duration: DurationOpt = None,
    lower: LowerOpt = None,
    upper: UpperOpt = None,
    activate: Annotated[bool, typer.Option("--activate", help="Also activate it.")] = False,
    as_json: JsonOpt = False,
    token: TokenOpt = None,
    dev: DevTokenOpt = False,
    sub: AsOpt = None,
    data_dir: DataDirOpt = Path("var"),
    timeout_s: TimeoutOpt = 30.0,
) -> None:
    """Change an operation's volumes, priority or name (checked again against everyone's)."""
    volumes = load_volumes(file) if file is not None else None
    if volumes is None and any(v is not None for v in (start, duration, lower, upper)):
        raise Failure("--start, --duration, --lower and --upper apply to the volumes of a FILE: give one")
    with _connect(node, token, dev, sub, data_dir, timeout_s) as client:
        current: Json = client.call("GET", f"/operations/{_path(op_id)}").body.get("operation") or {}
        if current.get("kind") == "constraint":
            raise Failure(f"{op_id} is a reservation: publish its new version with `parley ops reserve --id`")
        keep_activated = current.get("state") in ("Activated", "Nonconforming", "Contingent")
        body: Json = {
            "name": name or "",
            "priority": priority if priority is not None else current.get("priority") or 0,
            "state": "Activated" if activate or keep_activated else "Accepted",
            "volumes": volumes if volumes is not None else current.get("volumes"),
        }
        if volumes is not None:
            body.update(
                volume_defaults(
                    now=datetime.now(UTC), start=start, duration=duration, lower_m=lower, upper_m=upper
                )
            )
        reply = client.call("PUT", f"/operations/{_path(op_id)}", body=body, conflict_ok=True)
    _report_plan(reply, "modified", as_json)


@app.command("activate")
@_reported
def activate_operation(
    op_id: IdArg,
    node: NodeOpt,
    as_json: JsonOpt = False,
    token: TokenOpt = None,
    dev: DevTokenOpt = False,
    sub: AsOpt = None,
    data_dir: DataDirOpt = Path("var"),
    timeout_s: TimeoutOpt = 30.0,
) -> None:
    """Activate an Accepted operation (checked again: the airspace may have changed)."""
    with _connect(node, token, dev, sub, data_dir, timeout_s) as client:
        reply = client.call("POST", f"/operations/{_path(op_id)}/activate", conflict_ok=True)
    _report_plan(reply, "activated", as_json)


@app.command("end")
@_reported
def end_operation(
    op_id: IdArg,
    node: NodeOpt,
    as_json: JsonOpt = False,
    token: TokenOpt = None,
    dev: DevTokenOpt = False,
    sub: AsOpt = None,
    data_dir: DataDirOpt = Path("var"),
    timeout_s: TimeoutOpt = 30.0,
) -> None:
    """End an operation: removed from the DSS, others told; kept here as Ended."""
    with _connect(node, token, dev, sub, data_dir, timeout_s) as client:
        body = client.call("POST", f"/operations/{_path(op_id)}/end").body
    if as_json:
        _print_json(body)
        return
    op = body.get("operation") or {}
    show_.say(_out(), f"ended {op.get('id')}: {op.get('state')}")


@app.command("reserve")
@_reported
def reserve(
    file: FileArg,
    node: NodeOpt,
    name: NameOpt = "",
    kind: Annotated[str, typer.Option("--type", help="The reservation's type (F3548 constraint type).")] = (
        "reservation"
    ),
    start: StartOpt = None,
    duration: DurationOpt = None,
    lower: LowerOpt = None,
    upper: UpperOpt = None,
    reservation_id: Annotated[
        str | None,
        typer.Option("--id", show_default=False, help="Its id (UUID): a new one, or one to replace."),
    ] = None,
    as_json: JsonOpt = False,
    token: TokenOpt = None,
    dev: DevTokenOpt = False,
    sub: AsOpt = None,
    data_dir: DataDirOpt = Path("var"),
    timeout_s: TimeoutOpt = 30.0,
) -> None:
    """Publish an airspace reservation (an F3548 constraint; the party needs constraint_management)."""
    body: Json = {
        "name": name,
        "type": kind,
        "volumes": load_volumes(file),
        **volume_defaults(
            now=datetime.now(UTC), start=start, duration=duration, lower_m=lower, upper_m=upper
        ),
    }
    if reservation_id is not None:
        body["id"] = reservation_id
    with _connect(node, token, dev, sub, data_dir, timeout_s) as client:
        reply = client.call("POST", "/reservations", body=body)
    if as_json:
        _print_json(reply.body)
        return
    saved = reply.body.get("reservation") or {}
    verb = "reserved" if reply.status == 201 else "replaced"
    show_.say(_out(), f"{verb} {saved.get('id')}: {saved.get('state')}, version {saved.get('version')}")


@app.command("withdraw")
@_reported
def withdraw(
    reservation_id: Annotated[str, typer.Argument(show_default=False, help="The reservation's id.")],
    node: NodeOpt,
    as_json: JsonOpt = False,
    token: TokenOpt = None,
    dev: DevTokenOpt = False,
    sub: AsOpt = None,
    data_dir: DataDirOpt = Path("var"),
    timeout_s: TimeoutOpt = 30.0,
) -> None:
    """Withdraw a reservation (removed from the DSS; kept here as Ended)."""
    with _connect(node, token, dev, sub, data_dir, timeout_s) as client:
        body = client.call("DELETE", f"/reservations/{_path(reservation_id)}").body
    if as_json:
        _print_json(body)
        return
    saved = body.get("reservation") or {}
    show_.say(_out(), f"withdrew {saved.get('id')}: {saved.get('state')}")


@app.command("others")
@_reported
def others(
    node: NodeOpt,
    as_json: JsonOpt = False,
    token: TokenOpt = None,
    dev: DevTokenOpt = False,
    sub: AsOpt = None,
    data_dir: DataDirOpt = Path("var"),
    timeout_s: TimeoutOpt = 30.0,
) -> None:
    """Other parties' operations and reservations, as the node last learnt them."""
    with _connect(node, token, dev, sub, data_dir, timeout_s) as client:
        body = client.call("GET", "/others").body
    if as_json:
        _print_json(body)
        return
    _out().print(show_.others_table(body.get("others") or []))


@app.command("notifications")
@_reported
def notifications(
    node: NodeOpt,
    after: Annotated[
        str | None,
        typer.Option(
            "--after", show_default=False, help="Only those after this time: RFC 3339, or -10m (ago)."
        ),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 1000,
    as_json: JsonOpt = False,
    token: TokenOpt = None,
    dev: DevTokenOpt = False,
    sub: AsOpt = None,
    data_dir: DataDirOpt = Path("var"),
    timeout_s: TimeoutOpt = 30.0,
) -> None:
    """What the party's operators have been told: conflicts, state changes, others' reports."""
    params = {"limit": str(limit)}
    if after is not None:
        params["after"] = wire_time(parse_when(after, datetime.now(UTC), "--after"))
    with _connect(node, token, dev, sub, data_dir, timeout_s) as client:
        body = client.call("GET", "/notifications", params=params).body
    if as_json:
        _print_json(body)
        return
    _out().print(show_.notifications_table(body.get("notifications") or []))


@app.command("telemetry")
@_reported
def telemetry(
    op_id: IdArg,
    file: Annotated[
        Path,
        typer.Argument(
            show_default=False,
            help="CSV (time,lat,lng,alt_m[,speed_mps,track_deg], header row optional) or JSON lines; "
            "'-': standard input. Altitudes in metres above WGS84.",
        ),
    ],
    node: NodeOpt,
    as_json: JsonOpt = False,
    token: TokenOpt = None,
    dev: DevTokenOpt = False,
    sub: AsOpt = None,
    data_dir: DataDirOpt = Path("var"),
    timeout_s: TimeoutOpt = 30.0,
) -> None:
    """Send position reports of an operation's aircraft; the node checks conformance on the latest."""
    samples = load_samples(file)
    accepted = 0
    last: Json = {}
    with _connect(node, token, dev, sub, data_dir, timeout_s) as client:
        for i in range(0, len(samples), TELEMETRY_BATCH):
            batch = samples[i : i + TELEMETRY_BATCH]
            last = client.call("POST", f"/operations/{_path(op_id)}/telemetry", body={"samples": batch}).body
            accepted += int(last.get("accepted") or 0)
    if as_json:
        _print_json({**last, "accepted": accepted})
        return
    show_.say(
        _out(),
        f"sent {accepted} sample(s) for {op_id}: {last.get('verdict')}; operation {last.get('state')}",
    )


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
    """The node: its party, USS identity, base URL, DSS and roles (also a check of the token)."""
    with _connect(node, token, dev, sub, data_dir, timeout_s) as client:
        body = client.call("GET", "/status").body
    if as_json:
        _print_json(body)
        return
    out = _out()
    for key in ("party", "name", "manager", "uss_base_url", "dss_url"):
        show_.say(out, f"{key}: {body.get(key)}")
    show_.say(out, f"roles: {', '.join(str(r) for r in body.get('roles') or [])}")
