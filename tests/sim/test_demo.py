"""The seed case played to its end against real party nodes over HTTP, as fast as it goes, on SQLite
and on PostgreSQL: every expectation holds, and the exports verify (``parley demo --headless``)."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from parley.api.ui.auth import check_password
from parley.cli.main import app
from parley.cli.sim import SEED
from parley.line.transcript import verify_transcript
from parley.sim.bundle import verify_bundle
from parley.sim.runner import Runner
from parley.sim.scenario import load_scenario
from parley.testing.postgres import PostgresServer

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_seed_case_plays_to_its_end_with_every_expectation_true(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = None
    if backend == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        url = server.create_database("parley_sim_seed")
    events: list[str] = []
    runner = Runner(load_scenario(SEED), database_url=url, export=tmp_path, on_event=events.append)
    outcome = asyncio.run(runner.run())
    assert outcome.ok, (outcome.problems, [(e.describe(), why) for e, ok, why in outcome.results if not ok])
    assert len(outcome.results) == 6
    assert any("follows its exit route" in e for e in events), events
    for party in ("RED", "BLUE", "AID"):
        report = verify_transcript(json.loads((tmp_path / f"{party}.transcript.json").read_text()))
        assert report.ok, report.outcome
    bundle = json.loads((tmp_path / "replay.json").read_text())
    assert bundle["format"] == "parley-replay/1" and set(bundle["tracks"]) == {"blue-1", "blue-2"}
    assert all(x["held"] for x in bundle["expectations"])
    check = verify_bundle(bundle)
    assert check.ok, check.problems
    assert check.aircraft == 2 and check.samples > 4000 and set(check.reports) == {"red", "blue", "aid"}
    cli = CliRunner().invoke(app, ["replay", str(tmp_path / "replay.json")])
    assert cli.exit_code == 0 and "verified — Desert road: 3 parties' logs verified" in cli.stdout
    # A changed byte in one party's log, tracks out of order, a transcript under another's name: refused.
    changed = copy.deepcopy(bundle)
    changed["lines"]["blue"]["entries"][3]["body"]["x"] = 1
    assert any(p.startswith("lines.blue: DEFECT") for p in verify_bundle(changed).problems)
    shuffled = copy.deepcopy(bundle)
    shuffled["tracks"]["blue-1"][5], shuffled["tracks"]["blue-1"][6] = (
        shuffled["tracks"]["blue-1"][6],
        shuffled["tracks"]["blue-1"][5],
    )
    assert verify_bundle(shuffled).problems == ["tracks.blue-1[6]: not after the sample before"]
    swapped = copy.deepcopy(bundle)
    swapped["lines"]["red"], swapped["lines"]["aid"] = bundle["lines"]["aid"], bundle["lines"]["red"]
    assert "lines.red: exported by 'aid', not 'red'" in verify_bundle(swapped).problems
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(changed))
    refused = CliRunner().invoke(app, ["replay", str(bad)])
    assert refused.exit_code == 2 and "does not verify" in refused.stderr


def test_the_cli_validates_and_refuses_with_the_line(tmp_path: Path) -> None:
    cli = CliRunner()
    ok = cli.invoke(app, ["sim", "validate", str(SEED)])
    assert ok.exit_code == 0 and "valid — Desert road" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(SEED.read_text().replace("speed_mps: 40", "speed_mps: fast"))
    refused = cli.invoke(app, ["sim", "validate", str(bad)])
    assert refused.exit_code == 2
    assert "bad.yaml:28: aircraft[0].flight.speed_mps: Input should be a valid number" in refused.stderr


OTHERS = sorted(p for p in SEED.parent.glob("*.yaml") if p != SEED)


def test_there_are_scenarios_besides_the_seed_case() -> None:
    assert {p.name for p in OTHERS} >= {"city_medevac.yaml", "airlift.yaml"}


@pytest.mark.parametrize("path", OTHERS, ids=lambda p: p.stem)
def test_every_other_scenario_runs_with_every_expectation_true(path: Path) -> None:
    outcome = asyncio.run(Runner(load_scenario(path)).run())
    assert outcome.ok, (outcome.problems, [(e.describe(), why) for e, ok, why in outcome.results if not ok])


SHORT = """\
name: Short
duration: 2m
parties: [{id: red}, {id: blue}]
actions:
  - at: 10s
    party: red
    send: {id: Q, type: free_text, to: [blue], subject: s, reason: r, deadline: 1m, text: hello}
  - {at: 20s, party: blue, accept: {request: Q}}
expectations:
  - {request: Q, status: accepted}
"""


def test_a_run_with_the_maps_makes_up_a_sign_in_for_each_party(tmp_path: Path) -> None:
    announced: list[dict[str, tuple[str, str, str]]] = []
    runner = Runner(load_scenario(SHORT, name="short.yaml"), ui=True, on_ready=announced.append)
    outcome = asyncio.run(runner.run())
    assert outcome.ok, outcome.problems
    assert announced == [runner.logins] and set(runner.logins) == {"red", "blue"}
    for party, (url, name, password) in runner.logins.items():
        assert url.endswith(f"/parties/{party}/ui/") and name == f"{party}-duty" and len(password) >= 12
        operators = [o for p in runner.settings().parties if p.id == party for o in p.ui_operators]
        assert check_password(operators, name, password) is not None
        assert check_password(operators, name, password + "x") is None
    # without the maps nobody may sign in
    plain = Runner(load_scenario(SHORT, name="short.yaml"), data_dir=tmp_path)
    assert plain.logins == {} and all(not p.ui_operators for p in plain.settings().parties)
