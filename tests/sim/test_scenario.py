"""Scenario files: every file under scenarios/ validates; problems are named by line and field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from parley.sim.scenario import ScenarioError, load_scenario, parse_duration

SCENARIOS = sorted(
    (Path(__file__).resolve().parents[2] / "src" / "parley" / "sim" / "scenarios").glob("*.yaml")
)

GOOD = """\
name: Two parties
duration: 30m
parties:
  - {id: red}
  - {id: blue}
aircraft:
  - id: b1
    party: blue
    flight:
      racetrack: {center: [40.2, 35.07], length_m: 8000, width_m: 3000}
      altitude_m: 3000
      speed_mps: 40
actions:
  - at: 1m
    party: red
    send: {id: R1, type: free_text, to: [blue], subject: s, reason: r, deadline: 5m, text: hello}
  - {at: 2m, party: blue, accept: {request: R1}}
expectations:
  - {request: R1, status: accepted}
"""


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_every_shipped_scenario_validates(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.parties and scenario.expectations


def test_at_least_the_seed_case_is_shipped() -> None:
    assert "desert_road.yaml" in {p.name for p in SCENARIOS}


def test_a_good_scenario() -> None:
    s = load_scenario(GOOD, name="good.yaml")
    assert [a.kind for a in s.actions] == ["send", "accept"]
    assert s.duration == timedelta(minutes=30) and s.aircraft[0].flight.racetrack is not None


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("speed_mps: 40", "speed_mps: -4"),
            "good.yaml:12: aircraft[0].flight.speed_mps: Input should be greater than 0",
        ),
        (
            ("party: blue\n    flight", "party: green\n    flight"),
            "good.yaml:8: aircraft[0].party: no party 'green'",
        ),
        (
            ("request: R1}", "request: R9}"),
            "good.yaml:17: actions[1].accept.request: no request or notice 'R9'",
        ),
        (("duration: 30m", "duration: soon"), "good.yaml:2: duration: 'soon' is not a duration"),
        (("to: [blue]", "to: [red]"), "good.yaml:16: actions[0].send.to[0]: 'red' is not another party"),
        (
            ("  - {request: R1, status: accepted}", "  - {request: R1}"),
            "good.yaml:19: expectations[0]: an expectation about a request says its status",
        ),
        (
            ("      altitude_m: 3000\n", "      altitude_m: 3000\n      colour: red\n"),
            "good.yaml:12: aircraft[0].flight.colour: not a field here",
        ),
        (
            ("center: [40.2, 35.07]", "center: [40.2, 135.07]"),
            "good.yaml:10: aircraft[0].flight.racetrack.center: [40.2, 135.07]: longitude or latitude out of range",
        ),
        (("  - at: 1m", "  - at: 2h"), "good.yaml:14: actions[0].at: after the scenario's end"),
    ],
)
def test_problems_are_named_by_line_and_field(change: tuple[str, str], expected: str) -> None:
    text = GOOD.replace(*change)
    assert text != GOOD
    with pytest.raises(ScenarioError) as caught:
        load_scenario(text, name="good.yaml")
    assert any(p.startswith(expected) for p in caught.value.problems), caught.value.problems


def test_not_yaml_and_not_a_mapping() -> None:
    with pytest.raises(ScenarioError, match=r"x.yaml:2: not YAML"):
        load_scenario("name: a\n  - b: [", name="x.yaml")
    with pytest.raises(ScenarioError, match=r"x.yaml:1: a scenario is a mapping"):
        load_scenario("- 1\n- 2\n", name="x.yaml")
    with pytest.raises(ScenarioError, match="cannot read it"):
        load_scenario(Path("/nonexistent/scenario.yaml"))


def test_every_problem_is_reported_at_once() -> None:
    text = GOOD.replace("party: blue\n    flight", "party: green\n    flight").replace(
        "request: R1}", "request: R9}"
    )
    with pytest.raises(ScenarioError) as caught:
        load_scenario(text, name="good.yaml")
    assert len(caught.value.problems) == 2


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("5m", 300), ("1h30m", 5400), ("2.5h", 9000), (45, 45), ("1h 5s", 3605)],
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "m", "-5m", "5 minutes", True, None])
def test_not_durations(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)
