"""`parley tactical`: conflict detection on track snapshots and replays of recorded traffic."""

from __future__ import annotations

import enum
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, TextIO

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from parley.tactical import (
    FT_M,
    NM_M,
    AllPairsDetector,
    Conflicts,
    Geometry,
    IncrementalDetector,
    InvalidTracks,
    Separation,
    SweptGridDetector,
)
from parley.tactical.io import format_utc, read_frames, read_tracks, write_conflicts
from parley.tactical.replay import replay as run_replay

app = typer.Typer(help="Tactical conflict detection over live tracks.", no_args_is_help=True)


class GeometryChoice(enum.StrEnum):
    wgs84 = "wgs84"
    sphere = "sphere"
    flat = "flat"


RpzNm = Annotated[float, typer.Option(help="Horizontal protected-zone radius, NM")]
HpzFt = Annotated[float, typer.Option(help="Vertical protected-zone half-height, ft")]
LookaheadS = Annotated[float, typer.Option(help="Look-ahead, s")]
VerticalTolerance = Annotated[
    float,
    typer.Option(help="Aircraft exactly hpz apart minus this (m) are separated; 0 = strict |dalt| < hpz"),
]
GeometryOpt = Annotated[
    GeometryChoice, typer.Option(help="Earth model (flat = BlueSky's approximation, all-pairs only)")
]
Out = Annotated[Path | None, typer.Option("--out", "-o", help="Write the conflicts as CSV to this file")]


def _separation(rpz_nm: float, hpz_ft: float, lookahead_s: float, vertical_tolerance_m: float) -> Separation:
    try:
        return Separation(rpz_nm * NM_M, hpz_ft * FT_M, lookahead_s, vertical_tolerance_m)
    except InvalidTracks as exc:
        raise typer.BadParameter(str(exc)) from exc


def _progress(console: Console, *, bar: bool) -> Progress:
    columns = [SpinnerColumn(), TextColumn("{task.description}")]
    if bar:
        columns += [BarColumn(), MofNCompleteColumn()]
    return Progress(*columns, TimeElapsedColumn(), console=console, transient=False)


def _table(conflicts: Conflicts, limit: int) -> Table:
    # A snapshot without times (id,lat,lon,... columns only) is at epoch 0: say "now" rather than 1970.
    when = format_utc(conflicts.epoch_s) if conflicts.epoch_s else "the snapshot's time"
    table = Table(title=f"{len(conflicts)} conflicts at {when}")
    for name in ("id1", "id2", "tcpa s", "dcpa m", "t_in s", "t_out s", "dalt@cpa m", "dist m"):
        table.add_column(name, justify="left" if name.startswith("id") else "right")
    for k, c in enumerate(conflicts):
        if k >= limit:
            break
        table.add_row(
            c.id1,
            c.id2,
            *(f"{v:.1f}" for v in (c.tcpa_s, c.dcpa_m, c.t_in_s, c.t_out_s, c.dalt_cpa_m, c.dist_m)),
        )
    return table


@app.command()
def detect(
    tracks: Annotated[
        Path, typer.Argument(help="Snapshot CSV: id,lat,lon,alt_m,gs_mps,trk_deg,vs_mps", exists=True)
    ],
    out: Out = None,
    csv_stdout: Annotated[bool, typer.Option("--csv", help="Print CSV instead of a table")] = False,
    limit: Annotated[int, typer.Option(help="Rows of the table to print")] = 50,
    rpz_nm: RpzNm = 5.0,
    hpz_ft: HpzFt = 1000.0,
    lookahead_s: LookaheadS = 300.0,
    vertical_tolerance_m: VerticalTolerance = 1e-3,
    geometry: GeometryOpt = GeometryChoice.wgs84,
    reference: Annotated[bool, typer.Option(help="Use the all-pairs reference detector (O(N^2))")] = False,
) -> None:
    """Find every pair of TRACKS in conflict within the look-ahead."""
    separation = _separation(rpz_nm, hpz_ft, lookahead_s, vertical_tolerance_m)
    geo = Geometry(geometry.value)
    err = Console(stderr=True)
    try:
        with _progress(err, bar=False) as progress:
            task = progress.add_task(f"reading {tracks.name}", total=None)
            batch = read_tracks(tracks)
            progress.update(task, description=f"detecting among {len(batch)} aircraft")
            t0 = time.perf_counter()
            detector = AllPairsDetector(geo) if reference or geo is Geometry.FLAT else SweptGridDetector(geo)
            conflicts = detector.detect(batch, separation)
            elapsed = time.perf_counter() - t0
            progress.update(task, description=f"{len(conflicts)} conflicts among {len(batch)} aircraft")
    except InvalidTracks as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    err.print(f"detection took {elapsed * 1000:.1f} ms ({type(detector).__name__})")
    if out is not None:
        with open(out, "w", newline="") as fh:
            write_conflicts(fh, [conflicts])
        err.print(f"wrote {out}")
    elif csv_stdout:
        write_conflicts(sys.stdout, [conflicts])
    else:
        Console().print(_table(conflicts, limit))


@app.command()
def replay(
    series: Annotated[
        Path,
        typer.Argument(help="Series or report CSV: t_utc (or t_s) then the snapshot columns", exists=True),
    ],
    out: Out = None,
    tick_s: Annotated[
        float | None, typer.Option(help="Update every TICK seconds with the reports since the last tick")
    ] = None,
    max_age_s: Annotated[float, typer.Option(help="Drop aircraft not heard from for this long, s")] = 30.0,
    slack_s: Annotated[float, typer.Option(help="Incremental cache horizon beyond the look-ahead, s")] = 60.0,
    verify: Annotated[bool, typer.Option(help="Check every tick against a full recomputation")] = False,
    rpz_nm: RpzNm = 5.0,
    hpz_ft: HpzFt = 1000.0,
    lookahead_s: LookaheadS = 300.0,
    vertical_tolerance_m: VerticalTolerance = 1e-3,
    geometry: GeometryOpt = GeometryChoice.wgs84,
) -> None:
    """Replay a recorded stream through the incremental detector, tick by tick."""
    separation = _separation(rpz_nm, hpz_ft, lookahead_s, vertical_tolerance_m)
    geo = Geometry(geometry.value)
    if geo is Geometry.FLAT:
        raise typer.BadParameter("replay needs an earth-centred geometry (wgs84 or sphere)")
    err = Console(stderr=True)
    try:
        frames = read_frames(series)
    except InvalidTracks as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if not frames:
        err.print("no reports")
        return
    monitor = IncrementalDetector(separation, geo, slack_s=slack_s)
    full = SweptGridDetector(geo)
    span = frames[-1][0] - frames[0][0]
    n_ticks = len(frames) if tick_s is None else int(span // tick_s) + 2
    ticks = pair_snapshots = peak = evaluated = aircraft = 0
    mismatches: list[str] = []
    t0 = time.perf_counter()
    with ExitStack() as stack:
        sink: TextIO | None = None
        if out is not None:
            sink = stack.enter_context(open(out, "w", newline=""))
        progress = stack.enter_context(_progress(err, bar=True))
        task = progress.add_task(f"replaying {series.name}", total=n_ticks)
        header = True
        for tick in run_replay(frames, monitor, tick_s=tick_s, max_age_s=max_age_s):
            ticks += 1
            pair_snapshots += len(tick.conflicts)
            peak = max(peak, len(tick.conflicts))
            evaluated += tick.stats.evaluated_rows
            aircraft += tick.stats.aircraft
            if sink is not None:
                write_conflicts(sink, [tick.conflicts], with_time=True, header=header)
                header = False
            if verify:
                expected = full.detect(monitor.tracks, separation, epoch_s=tick.epoch_s)
                if not expected.identical(tick.conflicts):
                    mismatches.append(format_utc(tick.epoch_s))
            progress.update(
                task,
                advance=1,
                description=f"{format_utc(tick.epoch_s)} {tick.stats.aircraft:4d} aircraft "
                f"{len(tick.conflicts):3d} conflicts",
            )
        progress.update(task, total=ticks, completed=ticks)
    elapsed = time.perf_counter() - t0
    share = evaluated / aircraft if aircraft else 0.0
    err.print(
        f"{ticks} ticks over {span / 3600:.2f} h in {elapsed:.2f} s; {pair_snapshots} conflict pair-ticks, "
        f"at most {peak} at once; {share:.0%} of aircraft-ticks re-evaluated"
    )
    if verify:
        if mismatches:
            err.print(
                f"[red]{len(mismatches)} ticks differ from a full recomputation[/red]: {mismatches[:5]}"
            )
            raise typer.Exit(1)
        err.print("every tick equals a full recomputation")
