"""``parley sim``: validate and play scenario files; ``parley demo``: the seed case."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from parley.sim.runner import Outcome

app = typer.Typer(help="Scenarios: validate them, play them against real party nodes.", no_args_is_help=True)

#: The seed case (MISSION.md's demo scenario), shipped with the package.
SEED = Path(__file__).resolve().parent.parent / "sim" / "scenarios" / "desert_road.yaml"


def _speed(text: str) -> float | None:
    if text == "max":
        return None
    try:
        value = float(text.removesuffix("x"))
    except ValueError:
        raise typer.BadParameter("a factor such as 1, 10 or 60, or max") from None
    if not 0 < value <= 10_000:
        raise typer.BadParameter("a factor between 0 and 10000, or max")
    return value


FileArg = Annotated[
    Path, typer.Argument(help="A scenario file (YAML; see docs/scenarios.md).", show_default=False)
]
SpeedOpt = Annotated[
    str,
    typer.Option(
        "--speed", help="Scenario seconds per wall second (1 = real time), or max: as fast as it goes."
    ),
]
ExportOpt = Annotated[
    Path | None,
    typer.Option(
        "--export", help="Write each party's transcript and the replay bundle here.", show_default=False
    ),
]
DbOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="postgresql://... (default: SQLite in a temporary directory)",
        show_default=False,
    ),
]


@app.command("validate")
def validate(file: FileArg) -> None:
    """Check a scenario file; print every problem with its line and field, exit 2 if any."""
    from parley.sim.scenario import ScenarioError, load_scenario

    try:
        scenario = load_scenario(file)
    except ScenarioError as error:
        for problem in error.problems:
            typer.echo(problem, err=True)
        raise typer.Exit(2) from None
    typer.echo(
        f"{file}: valid — {scenario.name}: {len(scenario.parties)} parties, {len(scenario.aircraft)} aircraft, "
        f"{len(scenario.movements)} movements, {len(scenario.actions)} actions, "
        f"{len(scenario.expectations)} expectations over {scenario.duration}"
    )


@app.command("run")
def run(
    file: FileArg,
    speed: SpeedOpt = "max",
    export: ExportOpt = None,
    database_url: DbOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the expectations.")] = False,
) -> None:
    """Play a scenario against real party nodes over HTTP and check its expectations (exit 1 if one fails)."""
    play(file, _speed(speed), export, database_url, quiet)


def play(
    file: Path,
    speed: float | None,
    export: Path | None,
    database_url: str | None,
    quiet: bool,
    *,
    port: int | None = None,
    ui: bool = False,
) -> None:
    from parley.sim.runner import Runner
    from parley.sim.scenario import ScenarioError, load_scenario

    try:
        scenario = load_scenario(file)
    except ScenarioError as error:
        for problem in error.problems:
            typer.echo(problem, err=True)
        raise typer.Exit(2) from None
    # The nodes' own warnings (a line not yet registered while the server binds its port, a peer
    # retried) are not the run's business: what fails shows in the run's problems and expectations.
    logging.getLogger("parley").setLevel(logging.ERROR)
    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[clock]}"), TimeElapsedColumn(),
        console=console, transient=True, disable=quiet,
    ) as progress:  # fmt: skip
        task = progress.add_task(scenario.name, total=scenario.duration.total_seconds(), clock="00:00:00")

        def advanced(done: float, total: float) -> None:
            s = int(done)
            progress.update(task, completed=done, clock=f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}")

        def said(text: str) -> None:
            if not quiet:
                progress.console.print(text, highlight=False)

        def ready(logins: dict[str, tuple[str, str, str]]) -> None:
            if not logins:
                return
            progress.console.print("Sign in to each party's map (made up for this run):", highlight=False)
            for party, (url, name, password) in logins.items():
                progress.console.print(
                    f"  {party:>8}  {url}  name: {name}  password: {password}",
                    highlight=False,
                    soft_wrap=True,
                )

        done: list[Outcome] = []

        def finished(outcome: Outcome) -> None:
            done.append(outcome)
            _report(scenario.name, outcome, progress.console)

        runner = Runner(
            scenario,
            speed=speed,
            database_url=database_url,
            export=export,
            on_progress=advanced,
            on_event=said,
            port=port,
            ui=ui,
            on_ready=ready,
            linger=ui,
            on_done=finished,
        )
        try:
            outcome = asyncio.run(runner.run())
        except KeyboardInterrupt:
            if not done:
                raise typer.Exit(130) from None
            raise typer.Exit(0 if done[0].ok else 1) from None
    _report(scenario.name, outcome, Console())
    if not outcome.ok:
        raise typer.Exit(1)


def _report(name: str, outcome: Outcome, out: Console) -> None:
    table = Table(title=f"{name}: expectations", title_justify="left")
    table.add_column("")
    table.add_column("expectation")
    table.add_column("found")
    for expectation, ok, why in outcome.results:
        table.add_row("[green]✓[/]" if ok else "[red]✗[/]", expectation.describe(), why)
    out.print(table)
    for problem in outcome.problems:
        out.print(f"[red]problem:[/] {problem}", highlight=False)
    for path in outcome.exported:
        out.print(f"wrote {path}", highlight=False)
    held = sum(ok for _, ok, _ in outcome.results)
    out.print(f"{held}/{len(outcome.results)} expectations held in {outcome.wall_s:.1f} s", highlight=False)


def demo(
    headless: Annotated[
        bool, typer.Option("--headless", help="Play the seed case to its end and stop (no map, no sign-in).")
    ] = False,
    speed: SpeedOpt = "1",
    export: ExportOpt = None,
    database_url: DbOpt = None,
    port: Annotated[
        int, typer.Option("--port", help="Where the parties' maps are served (127.0.0.1).")
    ] = 8082,
) -> None:
    """The seed case (a desert road, a vacate, a convoy, a question left unanswered), played against
    real party nodes. Each party's map is served at http://127.0.0.1:PORT/parties/ID/ui/ with a
    sign-in made up for this run (printed); after the scenario's end the nodes keep running until
    Ctrl-C. --headless plays it to the end and stops (with --speed max: as fast as it goes)."""
    if headless:
        play(SEED, _speed(speed), export, database_url, quiet=False)
        return
    play(SEED, _speed(speed), export, database_url, quiet=False, port=port, ui=True)


def replay(
    bundle: Annotated[
        Path, typer.Argument(help="A replay bundle (replay.json of --export).", show_default=False)
    ],
) -> None:
    """Verify a replay bundle: every party's log, their agreement, the tracks (exit 2 with the reasons
    if it fails). The map to replay it on comes with the live picture."""
    import json

    from parley.sim.bundle import summary, verify_bundle

    try:
        doc = json.loads(bundle.read_text())
    except OSError as error:
        typer.echo(f"error: {bundle}: cannot read it: {error.strerror or error}", err=True)
        raise typer.Exit(2) from None
    except ValueError as error:
        typer.echo(f"error: {bundle}: not JSON: {error}", err=True)
        raise typer.Exit(2) from None
    check = verify_bundle(doc)
    if not check.ok:
        typer.echo(f"error: {bundle} does not verify:", err=True)
        for problem in check.problems:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(2)
    typer.echo(f"{bundle}: verified — {summary(check, doc)}")
