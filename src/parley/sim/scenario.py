"""Scenario files: parties, aircraft, ground movements, surveillance feeds, timed actions and the
expectations checked at the end (``docs/scenarios.md``).

A scenario is YAML. :func:`load_scenario` parses it, validates every field (types, ranges, units) and
every cross-reference (parties, aircraft, requests, reservations, notices named before they are used),
and raises :class:`ScenarioError` naming the file, the line and the field of each problem, e.g.::

    desert.yaml:42: aircraft[1].flight.speed_mps: must be greater than 0
    desert.yaml:77: actions[4].accept.request: no request 'R9' is sent before 00:40:00

Times in a scenario are durations from its start (``90s``, ``5m``, ``1h30m``, ``2h``); positions are
``[longitude, latitude]`` (WGS84 degrees); altitudes metres above the WGS84 ellipsoid; distances
metres; speeds metres per second. Areas are ``{polygon: [[lng, lat], ...]}`` or
``{circle: {center: [lng, lat], radius_m: R}}``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml  # type: ignore[import-untyped]
from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from parley.domain.errors import InvalidInput

PARTY_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
LABEL = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$"
_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s)?\s*$")
#: Longest scenario, and latest time anything in it may happen.
MAX_DURATION = timedelta(days=2)


class ScenarioError(InvalidInput):
    """A scenario that does not validate: every problem, one per line (``FILE:LINE: FIELD: what``)."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(problems))


def parse_duration(value: object) -> timedelta:
    """``90`` (seconds), ``90s``, ``5m``, ``1h30m``, ``2.5h`` as a duration; never negative."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("expected a duration such as 90s, 5m, 1h30m")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.fullmatch(value)
        if match is None or not any(match.groups()):
            raise ValueError(f"{value!r} is not a duration (such as 90s, 5m, 1h30m)")
        h, m, s = (float(g) if g else 0.0 for g in match.groups())
        seconds = h * 3600 + m * 60 + s
    if seconds < 0:
        raise ValueError("must not be negative")
    return timedelta(seconds=seconds)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _position(value: object) -> tuple[float, float]:
    if isinstance(value, Mapping) and set(value) == {"lng", "lat"}:
        value = [value["lng"], value["lat"]]
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        raise ValueError("expected a position [longitude, latitude]")
    lng, lat = float(value[0]), float(value[1])
    if not (-180.0 <= lng <= 180.0 and -90.0 <= lat <= 90.0):
        raise ValueError(f"[{lng}, {lat}]: longitude or latitude out of range")
    return lng, lat


Position = Annotated[tuple[float, float], BeforeValidator(_position)]


def _band(value: object) -> tuple[float, float]:
    """``0-6000m``, ``[0, 6000]`` or ``{lower: 0, upper: 6000}`` (metres W84)."""
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*-\s*(-?\d+(?:\.\d+)?)\s*m?\s*", value)
        if match is None:
            raise ValueError(f"{value!r} is not an altitude band (such as 0-6000m)")
        lo, hi = float(match.group(1)), float(match.group(2))
    elif isinstance(value, Mapping) and set(value) == {"lower", "upper"}:
        lo, hi = float(value["lower"]), float(value["upper"])
    elif isinstance(value, list | tuple) and len(value) == 2:
        lo, hi = float(value[0]), float(value[1])
    else:
        raise ValueError("expected an altitude band: 0-6000m, [0, 6000] or {lower, upper}")
    if not -1_000.0 <= lo < hi <= 100_000.0:
        raise ValueError("lower must be below upper, both within -1000 to 100000 m")
    return lo, hi


Band = Annotated[tuple[float, float], BeforeValidator(_band)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Circle(_Model):
    center: Position
    radius_m: float = Field(gt=0, le=200_000)


class Area(_Model):
    """A polygon (a ring of at least 3 positions, closed or not) or a circle."""

    polygon: list[Position] | None = Field(default=None, min_length=3, max_length=1000)
    circle: Circle | None = None

    @model_validator(mode="after")
    def _one(self) -> Area:
        if (self.polygon is None) == (self.circle is None):
            raise ValueError("give exactly one of polygon or circle")
        return self

    def feature(self, band: tuple[float, float], start: str, end: str) -> dict[str, Any]:
        """The area as the line's GeoJSON volume Feature."""
        props: dict[str, Any] = {"alt_lower_m": band[0], "alt_upper_m": band[1], "start": start, "end": end}
        if self.circle is not None:
            lng, lat = self.circle.center
            props["radius_m"] = self.circle.radius_m
            return {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [lng, lat]},
                "properties": props,
            }
        assert self.polygon is not None
        ring = [list(p) for p in self.polygon]
        if ring[0] != ring[-1]:
            ring.append(ring[0])
        return {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": props,
        }


Role = Literal[
    "strategic_coordination", "constraint_management", "constraint_processing", "conformance_monitoring_sa"
]


ALL_ROLES: tuple[Role, ...] = (
    "strategic_coordination",
    "constraint_management",
    "constraint_processing",
    "conformance_monitoring_sa",
)


class Party(_Model):
    id: str = Field(pattern=PARTY_ID)
    name: str = Field(default="", max_length=200)
    roles: list[Role] = Field(default_factory=lambda: list(ALL_ROLES))


class Racetrack(_Model):
    """An orbit: two straight legs ``length_m`` long, ``width_m`` apart, joined by half circles,
    its long axis along ``heading_deg`` through ``center``, flown clockwise."""

    center: Position
    length_m: float = Field(gt=0, le=500_000)
    width_m: float = Field(gt=0, le=100_000)
    heading_deg: float = Field(default=0.0, ge=0, lt=360)


class Waypoint(_Model):
    position: Position
    alt_m: float | None = Field(default=None, ge=-1_000, le=30_000)


class Flight(_Model):
    """How an aircraft flies: along ``waypoints`` (then it stops reporting: landed) or round a
    ``racetrack`` until its end; at ``speed_mps``, climbing or descending at ``climb_mps``."""

    waypoints: list[Waypoint] | None = Field(default=None, min_length=2, max_length=1000)
    racetrack: Racetrack | None = None
    altitude_m: float = Field(ge=-1_000, le=30_000)
    speed_mps: float = Field(gt=0, le=400)
    climb_mps: float = Field(default=5.0, gt=0, le=100)
    turn_rate_dps: float = Field(default=3.0, gt=0, le=30)

    @model_validator(mode="after")
    def _one(self) -> Flight:
        if (self.waypoints is None) == (self.racetrack is None):
            raise ValueError("give exactly one of waypoints or racetrack")
        return self


class OperationSpec(_Model):
    """The operation the aircraft flies under: planned and activated at its start; its volume is the
    flight's footprint widened by ``margin_m`` (default 2 km) over ``altitude`` (default: the flight's
    altitude ± 300 m), from the start to the end."""

    name: str = Field(default="", max_length=200)
    priority: int = Field(default=0, ge=0, le=100)
    margin_m: float = Field(default=2_000.0, gt=0, le=50_000)
    altitude: Band | None = None


class Aircraft(_Model):
    id: str = Field(pattern=LABEL)
    party: str
    start: Duration = timedelta(0)
    end: Duration | None = None
    flight: Flight
    operation: OperationSpec = OperationSpec()
    #: How the aircraft reacts to an accepted vacate naming it: flies the exit route its node proposes.
    follows_exit_routes: bool = True


class ScheduleStep(_Model):
    at: Duration
    distance_m: float = Field(ge=0)


class Movement(_Model):
    """A ground movement (a convoy): its ``route``, the ``schedule`` of where along it (metres from
    its start) it is when (linear between; equal distances are a stop, smaller a turn back)."""

    id: str = Field(pattern=LABEL)
    name: str = Field(min_length=1, max_length=200)
    route: list[Position] = Field(min_length=2, max_length=10_000)
    schedule: list[ScheduleStep] = Field(min_length=2, max_length=1000)
    vehicles: int = Field(default=1, ge=1, le=10_000)
    markings: str = Field(default="", max_length=4000)
    half_width_m: float = Field(default=150.0, gt=0, le=100_000)
    time_margin_s: float = Field(default=600.0, ge=0, le=86_400)

    @model_validator(mode="after")
    def _times(self) -> Movement:
        for a, b in zip(self.schedule, self.schedule[1:], strict=False):
            if not b.at > a.at:
                raise ValueError("schedule: times must increase")
        return self


class Feed(_Model):
    """A party's own surveillance: positions of the aircraft it covers, every ``period_s``, with
    Gaussian noise of ``noise_m`` (horizontal; the vertical is twice), within ``coverage`` (an area;
    everywhere when absent), of the aircraft in ``sees`` (all when absent)."""

    party: str
    source: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    noise_m: float = Field(default=30.0, ge=0, le=10_000)
    period_s: float = Field(default=1.0, gt=0, le=600)
    coverage: Area | None = None
    sees: list[str] | None = None


class Reserve(_Model):
    """An airspace reservation (an F3548 constraint) from now for ``duration``; when the protection
    check warns about it, it goes on only with ``protection_reason`` (signed into the log)."""

    id: str = Field(pattern=LABEL)
    name: str = Field(default="", max_length=200)
    area: Area
    altitude: Band
    duration: Duration
    protection_reason: str | None = Field(default=None, max_length=4000)


RequestKind = Literal["vacate", "hold_clear", "passage", "notice", "free_text"]


class Send(_Model):
    """A line request; ``volume``: an area (with ``altitude`` and ``duration`` from now) or the id of a
    reservation sent before (its area, band and window)."""

    id: str = Field(pattern=LABEL)
    type: RequestKind
    to: list[str] = Field(min_length=1, max_length=32)
    subject: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=4000)
    deadline: Duration
    reservation: str | None = None
    area: Area | None = None
    altitude: Band | None = None
    duration: Duration | None = None
    buffer_m: tuple[float, float] | None = None
    text: str | None = Field(default=None, max_length=16_000)
    #: Go on when the protection check warns about the request's volume (signed into the log).
    protection_reason: str | None = Field(default=None, max_length=4000)

    @model_validator(mode="after")
    def _shape(self) -> Send:
        if self.type in ("vacate", "hold_clear"):
            if (self.reservation is None) == (self.area is None):
                raise ValueError("a vacate or hold_clear needs exactly one of reservation or area")
            if self.area is not None and (self.altitude is None or self.duration is None):
                raise ValueError("an area needs altitude and duration")
        if self.type == "free_text" and not self.text:
            raise ValueError("a free_text needs text")
        if self.type in ("passage", "notice"):
            raise ValueError(
                f"{self.type}: send it with the notify action (notice) or not yet supported (passage)"
            )
        return self


class Answer(_Model):
    request: str
    conditions: str | None = Field(default=None, max_length=4000)
    reason: str | None = Field(default=None, max_length=4000)


class Notify(_Model):
    """A protected movement or site, notified per recipient ``exact`` or ``check_only``."""

    id: str = Field(pattern=LABEL)
    movement: str | None = None
    site: Area | None = None
    category: str = "other"
    name: str = Field(default="", max_length=200)
    duration: Duration | None = None
    exact: list[str] = Field(default_factory=list)
    check_only: list[str] = Field(default_factory=list)
    deadline: Duration = timedelta(minutes=30)

    @model_validator(mode="after")
    def _one(self) -> Notify:
        if (self.movement is None) == (self.site is None):
            raise ValueError("give exactly one of movement or site")
        if self.site is not None and self.duration is None:
            raise ValueError("a site needs a duration")
        if not self.exact and not self.check_only:
            raise ValueError("name recipients: exact and/or check_only")
        return self


_ACTIONS = ("reserve", "send", "accept", "decline", "ignore", "notify")


class Action(_Model):
    at: Duration
    party: str
    reserve: Reserve | None = None
    send: Send | None = None
    accept: Answer | None = None
    decline: Answer | None = None
    ignore: Answer | None = None
    notify: Notify | None = None

    @model_validator(mode="after")
    def _one(self) -> Action:
        given = [name for name in _ACTIONS if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of {', '.join(_ACTIONS)} (given: {', '.join(given) or 'none'})"
            )
        if self.decline is not None and not self.decline.reason:
            raise ValueError("decline: a reason is required")
        return self

    @property
    def kind(self) -> str:
        return next(name for name in _ACTIONS if getattr(self, name) is not None)


_SUBJECTS = ("request", "certificate", "alarm", "notice", "reservation", "operation", "logs_verify")


class Expectation(_Model):
    """One of: a request's final ``status`` (and ``before_deadline``); a ``certificate``'s verdict;
    an ``alarm`` of a type on a request; a notice ``acknowledged_by`` parties; a reservation
    ``warned_about`` notices (or none); the ``state`` of an aircraft's ``operation`` at the end;
    every party's log verifies (``logs_verify``)."""

    request: str | None = None
    status: Literal["accepted", "declined", "countered", "withdrawn", "expired"] | None = None
    before_deadline: bool | None = None
    certificate: str | None = None
    outcome: Literal["verified", "verified_with_own_surveillance", "failed"] | None = None
    alarm: str | None = None
    type: Literal["overdue", "violation"] | None = None
    notice: str | None = None
    acknowledged_by: list[str] | None = None
    reservation: str | None = None
    warned_about: list[str] | None = None
    operation: str | None = None
    state: Literal["Accepted", "Activated", "Nonconforming", "Contingent", "Ended"] | None = None
    logs_verify: bool | None = None

    @model_validator(mode="after")
    def _one(self) -> Expectation:
        subjects = [n for n in _SUBJECTS if getattr(self, n) is not None]
        if len(subjects) != 1:
            raise ValueError(f"an expectation is about exactly one of {', '.join(_SUBJECTS)}")
        need = {
            "request": "status",
            "certificate": "outcome",
            "alarm": "type",
            "notice": "acknowledged_by",
            "reservation": "warned_about",
            "operation": "state",
        }
        wanted = need.get(subjects[0])
        if wanted is not None and getattr(self, wanted) is None:
            raise ValueError(f"an expectation about a {subjects[0]} says its {wanted}")
        return self

    def describe(self) -> str:
        if self.request is not None:
            when = {True: " before its deadline", False: " after its deadline", None: ""}[
                self.before_deadline
            ]
            return f"request {self.request} {self.status}{when}"
        if self.certificate is not None:
            return f"certificate for {self.certificate} {self.outcome}"
        if self.alarm is not None:
            return f"{self.type} alarm on {self.alarm}"
        if self.notice is not None:
            return f"notice {self.notice} acknowledged by {', '.join(self.acknowledged_by or [])}"
        if self.reservation is not None:
            about = ", ".join(self.warned_about or []) or "nothing"
            return f"reservation {self.reservation} warned about {about}"
        if self.operation is not None:
            return f"operation of {self.operation} {self.state}"
        return "every party's log verifies"


class Scenario(_Model):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=10_000)
    seed: int = 0
    start: AwareDatetime | None = None
    duration: Duration
    parties: list[Party] = Field(min_length=1, max_length=32)
    aircraft: list[Aircraft] = Field(default_factory=list, max_length=20_000)
    movements: list[Movement] = Field(default_factory=list, max_length=1000)
    surveillance: list[Feed] = Field(default_factory=list, max_length=100)
    actions: list[Action] = Field(default_factory=list, max_length=10_000)
    expectations: list[Expectation] = Field(default_factory=list, max_length=1000)

    def starts_at(self, now: datetime) -> datetime:
        return self.start or now


# -- loading -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Marks:
    """The line of each node of the document, by path."""

    lines: dict[tuple[Any, ...], int]

    def line_of(self, path: Sequence[Any]) -> int | None:
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())


def _walk(node: yaml.Node, path: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else str(key)
            lines[(*path, name)] = key.start_mark.line + 1
            _walk(value, (*path, name), lines)
            lines[(*path, name)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), lines)


def _field(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(document)"


def _message(error: Mapping[str, Any]) -> str:
    text = str(error.get("msg", "invalid"))
    text = text.removeprefix("Value error, ")
    if error.get("type") == "extra_forbidden":
        return "not a field here"
    if error.get("type") == "missing":
        return "required"
    return text


def _clean_loc(loc: Sequence[Any]) -> list[Any]:
    # pydantic puts the function name of Annotated validators and union branches in the path
    return [p for p in loc if not (isinstance(p, str) and ("[" in p or p.startswith("function-")))]


def load_scenario(source: Path | str, *, name: str | None = None) -> Scenario:
    """Parse and validate a scenario (a file, or YAML text with ``name`` for messages)."""
    if isinstance(source, Path):
        where = str(source)
        try:
            text = source.read_text()
        except OSError as error:
            raise ScenarioError([f"{where}: cannot read it: {error.strerror or error}"]) from None
    else:
        where, text = name or "<scenario>", source
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ScenarioError([f"{where}{line}: not YAML: {problem}"]) from None
    if not isinstance(data, dict) or node is None:
        raise ScenarioError([f"{where}:1: a scenario is a mapping (name, duration, parties, ...)"])
    lines: dict[tuple[Any, ...], int] = {}
    _walk(node, (), lines)
    marks = _Marks(lines)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        problems = []
        for e in error.errors():
            loc = _clean_loc(e["loc"])
            problems.append(f"{where}:{marks.line_of(loc) or 1}: {_field(loc)}: {_message(e)}")
        raise ScenarioError(problems) from None
    problems = [
        f"{where}:{marks.line_of(loc) or 1}: {_field(loc)}: {what}" for loc, what in _references(scenario)
    ]
    if problems:
        raise ScenarioError(problems)
    return scenario


def _references(s: Scenario) -> Iterator[tuple[list[Any], str]]:
    """Cross-references: every party, aircraft, movement, request, reservation and notice named is
    defined (and, for actions, defined by an earlier or simultaneous action)."""
    parties = {p.id for p in s.parties}
    seen: set[str] = set()
    for i, p in enumerate(s.parties):
        if p.id in seen:
            yield ["parties", i, "id"], f"party {p.id!r} is defined twice"
        seen.add(p.id)
    aircraft = {}
    for i, a in enumerate(s.aircraft):
        if a.party not in parties:
            yield ["aircraft", i, "party"], f"no party {a.party!r}"
        if a.id in aircraft:
            yield ["aircraft", i, "id"], f"aircraft {a.id!r} is defined twice"
        aircraft[a.id] = a
        if a.end is not None and a.end <= a.start:
            yield ["aircraft", i, "end"], "must be after start"
        if a.start > s.duration:
            yield ["aircraft", i, "start"], "after the scenario's end"
    movements = {m.id for m in s.movements}
    for i, f in enumerate(s.surveillance):
        if f.party not in parties:
            yield ["surveillance", i, "party"], f"no party {f.party!r}"
        for k, name in enumerate(f.sees or []):
            if name not in aircraft:
                yield ["surveillance", i, "sees", k], f"no aircraft {name!r}"
    requests: dict[str, tuple[timedelta, str, str]] = {}  # label -> (at, sender, type)
    reservations: dict[str, tuple[timedelta, str]] = {}
    notices: dict[str, tuple[timedelta, str]] = {}
    for i, act in enumerate(s.actions):
        where: list[Any] = ["actions", i]
        if act.party not in parties:
            yield [*where, "party"], f"no party {act.party!r}"
        if act.at > s.duration:
            yield [*where, "at"], "after the scenario's end"
        if act.reserve is not None:
            if act.reserve.id in reservations:
                yield [*where, "reserve", "id"], f"reservation {act.reserve.id!r} is defined twice"
            reservations[act.reserve.id] = (act.at, act.party)
        if act.send is not None:
            send = act.send
            for k, to in enumerate(send.to):
                if to not in parties or to == act.party:
                    yield [*where, "send", "to", k], f"{to!r} is not another party"
            if send.reservation is not None and send.reservation not in reservations:
                yield [*where, "send", "reservation"], f"no reservation {send.reservation!r} before {act.at}"
            if send.id in requests or send.id in notices:
                yield [*where, "send", "id"], f"{send.id!r} is defined twice"
            requests[send.id] = (act.at, act.party, send.type)
        if act.notify is not None:
            n = act.notify
            if n.movement is not None and n.movement not in movements:
                yield [*where, "notify", "movement"], f"no movement {n.movement!r}"
            for key in ("exact", "check_only"):
                for k, to in enumerate(getattr(n, key)):
                    if to not in parties or to == act.party:
                        yield [*where, "notify", key, k], f"{to!r} is not another party"
            if n.id in requests or n.id in notices:
                yield [*where, "notify", "id"], f"{n.id!r} is defined twice"
            notices[n.id] = (act.at, act.party)
        for kind in ("accept", "decline", "ignore"):
            answer = getattr(act, kind)
            if answer is None:
                continue
            label = answer.request
            if label not in requests and label not in notices:
                yield [*where, kind, "request"], f"no request or notice {label!r} is sent before {act.at}"
    for i, e in enumerate(s.expectations):
        for name in ("request", "certificate", "alarm"):
            named: str | None = getattr(e, name)
            if named is not None and named not in requests:
                yield ["expectations", i, name], f"no request {named!r} in the actions"
        if e.notice is not None and e.notice not in notices:
            yield ["expectations", i, "notice"], f"no notice {e.notice!r} in the actions"
        if e.operation is not None and e.operation not in aircraft:
            yield ["expectations", i, "operation"], f"no aircraft {e.operation!r}"
        if e.reservation is not None and e.reservation not in reservations:
            yield ["expectations", i, "reservation"], f"no reservation {e.reservation!r} in the actions"
        for k, label in enumerate(e.warned_about or []):
            if label not in notices:
                yield ["expectations", i, "warned_about", k], f"no notice {label!r} in the actions"
        for k, party in enumerate(e.acknowledged_by or []):
            if party not in parties:
                yield ["expectations", i, "acknowledged_by", k], f"no party {party!r}"
