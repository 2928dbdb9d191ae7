"""Play a scenario against real party nodes over real HTTP.

One ``parley serve`` equivalent runs in this process (the DSS, the line's shared service and every
party of the scenario; on SQLite under a fresh data directory, or on a PostgreSQL database), served by
uvicorn on a local port; every action goes through the parties' HTTP APIs with development tokens,
exactly as their operators' tools would call them.

**Time.** The nodes read a :class:`SimClock`. At a finite ``speed`` it runs ``speed`` times faster than
the wall clock from the scenario's start. At ``speed=None`` ("max") it stands still while the runner
works and moves forward a step at a time: the runner sets it, sends what the step's second brought
(position reports, radar returns, due actions), lets the nodes finish what that caused (deliveries,
certificates, verdicts, expiries, alarms) and moves on. Either way a run is deterministic for a seed
up to the order the nodes interleave their work.

**What is simulated.** Aircraft fly their flights (:mod:`parley.sim.kinematics`) under an operation
planned and activated at their start, reporting once a second (batched per step at speed max); a
party's surveillance feed reports them with noise; an accepted vacate or hold_clear diverts the
aircraft it names along the exit routes the obligor's node proposed, then a few kilometres on. Ground
movements exist through the protection notices that carry their schedules.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import secrets
import shutil
import socket
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import shapely
import uvicorn
from pyproj import Proj

from parley.api.ui.auth import hash_password
from parley.bootstrap import Server, build_server
from parley.config import PartySettings, Settings, UiOperator
from parley.devtokens import ensure_dev_keys, mint_token
from parley.line.times import format_time, parse_time
from parley.line.transcript import verify_transcript
from parley.services.line import node as line_svc
from parley.sim.kinematics import GEOD, AircraftTrack, ConvoyTrack, Radar, State
from parley.sim.scenario import Action, Aircraft, Expectation, Scenario
from parley.storage.sql import migrate

log = logging.getLogger("parley.sim")
Json = dict[str, Any]

#: Seconds of scenario time one step covers at speed max.
MAX_STEP_S = 10.0
#: How long (wall seconds) the runner waits for the nodes to settle after a step at most.
SETTLE_S = 5.0
#: How far an aircraft flies on past the end of its exit route, metres.
EXIT_RUN_ON_M = 3_000.0


class SimClock:
    """The nodes' clock (see the module): ``speed`` times the wall clock from ``start``, or, with
    ``speed`` None, wherever the runner :meth:`set` it."""

    def __init__(self, start: datetime, speed: float | None) -> None:
        self.start = start
        self.speed = speed
        self._at = start
        self._wall0 = time.monotonic()

    def now(self) -> datetime:
        if self.speed is None:
            return self._at
        return self.start + timedelta(seconds=(time.monotonic() - self._wall0) * self.speed)

    def set(self, at: datetime) -> None:
        self._at = max(self._at, at)

    def elapsed_s(self) -> float:
        return (self.now() - self.start).total_seconds()


@dataclass
class Outcome:
    """What a run found: each expectation with whether it held and why not; the exports written."""

    scenario: str
    results: list[tuple[Expectation, bool, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    exported: list[Path] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems and all(ok for _, ok, _ in self.results)


@dataclass
class _Request:
    label: str
    sender: str
    kind: str
    threads: dict[str, str]  # recipient -> thread id
    deadline: datetime
    item: str | None = None  # a notice: the protection id


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def operation_polygon(track: AircraftTrack, margin_m: float) -> list[list[float]]:
    """The footprint of a flight widened by ``margin_m``: a ring of ``[lng, lat]`` (closed)."""
    points = track.path.footprint()
    lng0 = float(np.mean([p[0] for p in points]))
    lat0 = float(np.mean([p[1] for p in points]))
    proj = Proj(f"+proj=aeqd +lat_0={lat0} +lon_0={lng0} +ellps=WGS84")
    x, y = proj([p[0] for p in points], [p[1] for p in points])
    hull = shapely.convex_hull(shapely.multipoints(np.stack([np.asarray(x), np.asarray(y)], axis=-1)))
    grown = shapely.buffer(hull, margin_m, quad_segs=8)
    ring = np.asarray(grown.exterior.coords)
    lng, lat = proj(ring[:, 0], ring[:, 1], inverse=True)
    return [[float(a), float(b)] for a, b in zip(lng, lat, strict=True)]


class Runner:
    """One run of a scenario (see the module)."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        speed: float | None = None,
        database_url: str | None = None,
        data_dir: Path | None = None,
        export: Path | None = None,
        on_progress: Callable[[float, float], None] | None = None,
        on_event: Callable[[str], None] | None = None,
        port: int | None = None,
        ui: bool = False,
        on_ready: Callable[[dict[str, tuple[str, str, str]]], None] | None = None,
        linger: bool = False,
        on_done: Callable[[Outcome], None] | None = None,
    ) -> None:
        self.s = scenario
        self.speed = speed
        self.export_dir = export
        self.on_progress = on_progress or (lambda done, total: None)
        self.on_event = on_event or (lambda text: None)
        #: A data directory made here (removed after the run).
        self._tmp: Path | None = None
        if data_dir is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="parley-sim-"))
            data_dir = self._tmp
        self.data_dir = data_dir
        self.database_url = database_url or f"sqlite:///{data_dir / 'parley.db'}"
        self.start = scenario.starts_at(datetime.now(UTC).replace(microsecond=0))
        self.clock = SimClock(self.start, speed)
        self.port = port or _free_port()
        #: Sign in to each party's map: party -> (URL, operator name, password), made up for this run.
        self.logins: dict[str, tuple[str, str, str]] = {}
        self.ui = ui
        self.on_ready = on_ready or (lambda logins: None)
        #: Keep the nodes running once the scenario has ended (until interrupted).
        self.linger = linger
        self.on_done = on_done or (lambda outcome: None)
        self.base = f"http://127.0.0.1:{self.port}"
        self._operators: dict[str, list[UiOperator]] = {}
        if ui:
            for p in scenario.parties:
                name, password = f"{p.id}-duty", secrets.token_urlsafe(9)
                self.logins[p.id] = (f"{self.base}/parties/{p.id}/ui/", name, password)
                self._operators[p.id] = [UiOperator(name=name, password_hash=hash_password(password))]
        self.tracks = {a.id: AircraftTrack(a) for a in scenario.aircraft}
        self.convoys = {m.id: ConvoyTrack(m) for m in scenario.movements}
        self.radars = [Radar(f, scenario.seed) for f in scenario.surveillance]
        self.operations: dict[str, str] = {}  # aircraft id -> operation id
        self.aircraft_of: dict[str, str] = {}  # operation id -> aircraft id
        self.requests: dict[str, _Request] = {}
        self.reservations: dict[str, Json] = {}  # label -> {id, feature, warned: [protection ids]}
        self.last_report: dict[str, float] = {}
        self.last_radar: dict[str, float] = {}
        self.flown: dict[str, list[tuple[float, float, float, float]]] = {a.id: [] for a in scenario.aircraft}
        self.outcome = Outcome(scenario.name)
        self._private: bytes = b""
        self._clients: dict[str, httpx.AsyncClient] = {}
        self.server: Server | None = None

    # -- the server ----------------------------------------------------------------------------------

    def settings(self) -> Settings:
        operators = self._operators
        return Settings(
            data_dir=self.data_dir,
            database_url=self.database_url,
            dev_auth=True,
            host="127.0.0.1",
            port=self.port,
            public_url=self.base,
            cleanup_interval_s=0,
            parties=[
                PartySettings(
                    id=p.id,
                    name=p.name or p.id.upper(),
                    roles=list(p.roles),
                    ui_operators=operators.get(p.id, []),
                )
                for p in self.s.parties
            ],
        )

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[None]:
        settings = self.settings()
        await asyncio.to_thread(migrate.upgrade, self.database_url)
        private_path, _ = ensure_dev_keys(settings.dev_key_dir)
        self._private = private_path.read_bytes()
        self.server = build_server(settings, clock=self.clock)
        config = uvicorn.Config(
            self.server.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        try:
            deadline = time.monotonic() + 60
            while not server.started:
                if task.done():
                    task.result()
                    raise RuntimeError("the server stopped while starting")
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not start in 60 s")
                await asyncio.sleep(0.05)
            for p in self.s.parties:
                token = mint_token(
                    self._private,
                    sub=p.id,
                    scopes=["parley.operations"],
                    audience="127.0.0.1",
                    lifetime_s=24 * 3600,
                )
                self._clients[p.id] = httpx.AsyncClient(
                    base_url=f"{self.base}/parties/{p.id}",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=60,
                )
            await self._registered()
            self.on_ready(self.logins)
            yield
        finally:
            for client in self._clients.values():
                await client.aclose()
            server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 30)
            if self.server is not None:
                self.server.store.dispose()

    async def _registered(self) -> None:
        token = mint_token(self._private, sub="sim", scopes=["parley.line"], audience="127.0.0.1")
        async with httpx.AsyncClient(base_url=self.base, headers={"Authorization": f"Bearer {token}"}) as c:
            deadline = time.monotonic() + 60
            for p in self.s.parties:
                while (await c.get(f"/line/v1/registry/{p.id}")).status_code != 200:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{p.id}'s line did not register")
                    await asyncio.sleep(0.05)

    def client(self, party: str) -> httpx.AsyncClient:
        return self._clients[party]

    def at(self, seconds: float) -> datetime:
        return self.start + timedelta(seconds=seconds)

    # -- the run -------------------------------------------------------------------------------------

    async def run(self) -> Outcome:
        wall0 = time.monotonic()
        async with self.serving():
            total = self.s.duration.total_seconds()
            actions = sorted(self.s.actions, key=lambda a: a.at)
            pending = list(actions)
            t = 0.0
            started: set[str] = set()
            while t <= total:
                if self.speed is None:
                    self.clock.set(self.at(t))
                else:
                    await self._wait_until(t)
                for a in self.s.aircraft:
                    if a.id not in started and a.start.total_seconds() <= t:
                        started.add(a.id)
                        await self._launch(a)
                await self._report(t)
                while pending and pending[0].at.total_seconds() <= t:
                    action = pending.pop(0)
                    try:
                        await self._act(action, t)
                    except Exception as error:
                        self.outcome.problems.append(
                            f"{_clock(action.at)} {action.party} {action.kind}: {error}"
                        )
                        log.exception("action failed")
                await self._settle()
                self.on_progress(t, total)
                if t >= total:
                    break
                nxt = t + (MAX_STEP_S if self.speed is None else 1.0)
                if pending:
                    nxt = min(nxt, pending[0].at.total_seconds())
                t = min(max(nxt, t + 1.0), total)
            await self._settle()
            await self._check()
            if self.export_dir is not None:
                await self._export()
            if self.linger:
                self.outcome.wall_s = time.monotonic() - wall0
                self.on_done(self.outcome)
                self.on_event("the scenario has ended; the nodes keep running (Ctrl-C to stop)")
                await asyncio.Event().wait()
        self.outcome.wall_s = time.monotonic() - wall0
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
        return self.outcome

    async def _wait_until(self, t: float) -> None:
        while self.clock.elapsed_s() < t:
            await asyncio.sleep(min(0.05, max(0.0, (t - self.clock.elapsed_s()) / (self.speed or 1.0))))

    async def _settle(self) -> None:
        """Let the nodes finish what the step caused: deadlines and watches looked at, every outbox
        empty, every compliance task done (at most :data:`SETTLE_S`)."""
        assert self.server is not None
        deadline = time.monotonic() + SETTLE_S
        for party, service in self.server.compliance.items():
            await service.tick()
            await line_svc.expire_due(self.server.lines[party])
        while time.monotonic() < deadline:
            busy = any(c._tasks for c in self.server.compliance.values())
            pending = sum(line.repo.pending(party) for party, line in self.server.lines.items())
            if not busy and not pending:
                return
            for line in self.server.lines.values():
                line.wake_outbox()
            await asyncio.sleep(0.01)

    # -- aircraft ------------------------------------------------------------------------------------

    async def _launch(self, a: Aircraft) -> None:
        track = self.tracks[a.id]
        start = self.at(track.start_s)
        end = self.at(
            track.end_s if math.isfinite(track.end_s) else self.s.duration.total_seconds()
        ) + timedelta(minutes=30)
        band = a.operation.altitude or (a.flight.altitude_m - 300.0, a.flight.altitude_m + 300.0)
        ring = operation_polygon(track, a.operation.margin_m)
        body = {
            "name": a.operation.name or a.id,
            "priority": a.operation.priority,
            "state": "Activated",
            "altitude_lower_m": band[0],
            "altitude_upper_m": band[1],
            "time_start": format_time(start),
            "time_end": format_time(end),
            "volumes": {"type": "FeatureCollection", "features": [
                {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}, "properties": {}}
            ]},
        }  # fmt: skip
        r = await self.client(a.party).post("/ops/v1/operations", json=body)
        if r.status_code != 201:
            raise RuntimeError(
                f"aircraft {a.id}: its operation was not planned ({r.status_code}): {r.text[:300]}"
            )
        op_id = r.json()["operation"]["id"]
        self.operations[a.id] = op_id
        self.aircraft_of[op_id] = a.id
        self.on_event(f"{_clock(a.start)} {a.party}: {a.id} airborne (operation {op_id[:8]})")

    async def _report(self, t: float) -> None:
        """Position reports and radar returns for the seconds since the last step, up to ``t``."""
        for a in self.s.aircraft:
            op = self.operations.get(a.id)
            if op is None:
                continue
            since = self.last_report.get(a.id, a.start.total_seconds() - 1.0)
            samples = []
            for second in _seconds(since, t):
                state = self.tracks[a.id].at(second)
                if state is None:
                    continue
                self.flown[a.id].append((second, state.lat, state.lng, state.alt_m))
                samples.append(_sample(self.at(second), state))
            self.last_report[a.id] = t
            if samples:
                r = await self.client(a.party).post(
                    f"/ops/v1/operations/{op}/telemetry", json={"samples": samples}
                )
                if r.status_code != 200:
                    self.outcome.problems.append(f"telemetry of {a.id}: {r.status_code} {r.text[:600]}")
        for radar in self.radars:
            feed = radar.feed
            since = self.last_radar.get(feed.source, -1.0)
            tracks = []
            for second in _seconds(since, t, feed.period_s):
                for a in self.s.aircraft:
                    if feed.sees is not None and a.id not in feed.sees:
                        continue
                    state = self.tracks[a.id].at(second)
                    if state is None:
                        continue
                    lat, lng, alt = radar.observe(state)
                    tracks.append(
                        {
                            "track_id": f"{feed.source}-{a.id}",
                            "time": format_time(self.at(second)),
                            "lat": lat,
                            "lng": lng,
                            "alt_m": alt,
                        }
                    )
            self.last_radar[feed.source] = t
            if tracks:
                r = await self.client(feed.party).post(
                    "/ops/v1/surveillance", json={"source": feed.source, "tracks": tracks}
                )
                if r.status_code != 201:
                    self.outcome.problems.append(f"radar {feed.source}: {r.status_code} {r.text[:200]}")

    # -- actions -------------------------------------------------------------------------------------

    async def _act(self, action: Action, t: float) -> None:
        now = self.at(t)
        party = action.party
        client = self.client(party)
        if action.reserve is not None:
            res = action.reserve
            end = now + res.duration
            feature = res.area.feature(res.altitude, format_time(now), format_time(end))
            body = {
                "name": res.name or res.id,
                "altitude_lower_m": res.altitude[0],
                "altitude_upper_m": res.altitude[1],
                "time_start": format_time(now),
                "time_end": format_time(end),
                "volumes": {"type": "FeatureCollection", "features": [{**feature, "properties": {}}]},
            }
            r = await client.post("/ops/v1/reservations", json=body)
            warned: list[str] = []
            if r.status_code == 409 and "protection_conflicts" in r.json():
                warned = sorted({c["protected"] for c in r.json()["protection_conflicts"]})
                self.on_event(
                    f"{_clock(action.at)} {party}: reservation {res.id} warned about protected {', '.join(warned)}"
                )
                if res.protection_reason:
                    r = await client.post(
                        "/ops/v1/reservations", json=body, params={"protection_reason": res.protection_reason}
                    )
            if r.status_code not in (200, 201):
                raise RuntimeError(f"reservation {res.id}: {r.status_code} {r.text[:300]}")
            self.reservations[res.id] = {
                "id": r.json()["reservation"]["id"],
                "feature": feature,
                "warned": warned,
            }
            self.on_event(f"{_clock(action.at)} {party}: reserved {res.id}")
        elif action.send is not None:
            send = action.send
            ask: Json = {"to": send.to, "type": send.type, "subject": send.subject, "reason": send.reason,
                          "deadline": format_time(now + send.deadline)}  # fmt: skip
            if send.reservation is not None:
                ask["volume"] = self.reservations[send.reservation]["feature"]
            elif send.area is not None:
                assert send.altitude is not None and send.duration is not None
                ask["volume"] = send.area.feature(
                    send.altitude, format_time(now), format_time(now + send.duration)
                )
            if send.buffer_m is not None:
                ask["buffer"] = {"h_m": send.buffer_m[0], "v_m": send.buffer_m[1]}
            if send.text is not None:
                ask["text"] = send.text
            if send.protection_reason is not None:
                ask["protection_reason"] = send.protection_reason
            r = await client.post("/line/v1/requests", json=ask)
            if r.status_code != 201:
                raise RuntimeError(f"request {send.id}: {r.status_code} {r.text[:300]}")
            thread = r.json()["id"]
            self.requests[send.id] = _Request(
                send.id, party, send.type, dict.fromkeys(send.to, thread), now + send.deadline
            )
            self.on_event(f"{_clock(action.at)} {party} -> {', '.join(send.to)}: {send.type} {send.id}")
        elif action.notify is not None:
            await self._notify(action, now)
        elif action.accept is not None or action.decline is not None:
            answer = action.accept or action.decline
            assert answer is not None
            request = self.requests[answer.request]
            thread = request.threads.get(party)
            if thread is None:
                raise RuntimeError(f"{answer.request} was not sent to {party}")
            await self._delivered(party, thread)
            step = "accept" if action.accept is not None else "decline"
            payload: Json = {}
            if answer.conditions:
                payload["conditions"] = answer.conditions
            if answer.reason:
                payload["reason"] = answer.reason
            r = await self.client(party).post(f"/line/v1/threads/{thread}/{step}", json=payload)
            if r.status_code != 200:
                raise RuntimeError(f"{step} {answer.request}: {r.status_code} {r.text[:300]}")
            self.on_event(f"{_clock(action.at)} {party}: {step}ed {answer.request}")
            impact = r.json().get("impact")
            if impact is not None:
                self._divert(impact, t)
        elif action.ignore is not None:
            self.on_event(f"{_clock(action.at)} {party}: leaves {action.ignore.request} unanswered")

    async def _delivered(self, party: str, thread: str) -> None:
        deadline = time.monotonic() + 10
        while (await self.client(party).get(f"/line/v1/threads/{thread}")).status_code != 200:
            if time.monotonic() > deadline:
                raise RuntimeError(f"thread {thread} never reached {party}")
            await asyncio.sleep(0.02)

    async def _notify(self, action: Action, now: datetime) -> None:
        n = action.notify
        assert n is not None
        if n.movement is not None:
            convoy = self.convoys[n.movement]
            m = convoy.movement
            schedule = convoy.schedule(self.start)
            route = {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [list(p) for p in m.route]},
                "properties": {
                    "half_width_m": m.half_width_m,
                    "start": format_time(schedule[0][0]),
                    "end": format_time(schedule[-1][0]),
                },
            }
            protected = {
                "kind": "movement",
                "schedule": [{"t": format_time(at), "distance_m": d} for at, d in schedule],
                "time_margin_s": m.time_margin_s,
                "vehicles": m.vehicles,
                "markings": m.markings,
                "name": n.name or m.name,
            }
            shape: Json = {"route": route}
            what = m.name
        else:
            assert n.site is not None and n.duration is not None
            radius = n.site.circle.radius_m if n.site.circle is not None else 0.0
            feature = n.site.feature((-1000.0, 100000.0), format_time(now), format_time(now + n.duration))
            protected = {"kind": "site", "category": n.category, "radius_m": radius, "name": n.name or n.id}
            shape = {"volume": feature}
            what = n.name or n.id
        body = {"exact": n.exact, "check_only": n.check_only, "subject": f"Protected: {what}", "reason": "Protection",
                "deadline": format_time(now + n.deadline), "what": what, "protected": protected, **shape}  # fmt: skip
        r = await self.client(action.party).post("/protect/v1/notify", json=body)
        if r.status_code != 201:
            raise RuntimeError(f"notice {n.id}: {r.status_code} {r.text[:300]}")
        done = r.json()
        threads: dict[str, str] = {}
        for kind, recipients in (("exact", n.exact), ("check_only", n.check_only)):
            for who in recipients:
                threads[who] = done["threads"][kind]
        self.requests[n.id] = _Request(
            n.id, action.party, "notice", threads, now + n.deadline, item=done["id"]
        )
        self.on_event(
            f"{_clock(action.at)} {action.party}: notified {n.id} (exact: {', '.join(n.exact) or '-'}; check-only: {', '.join(n.check_only) or '-'})"
        )

    def _divert(self, impact: Json, t: float) -> None:
        for a in impact.get("aircraft") or []:
            aircraft = self.aircraft_of.get(a.get("id"))
            route = a.get("exit")
            if aircraft is None or route is None or route.get("geometry") is None:
                continue
            if not self.tracks[aircraft].aircraft.follows_exit_routes:
                continue
            coords = route["geometry"]["coordinates"]
            times = [parse_time(x, "t") for x in route["properties"]["times"]]
            t0 = times[0]
            points = [
                ((tt - t0).total_seconds(), c[1], c[0], c[2]) for tt, c in zip(times, coords, strict=True)
            ]
            if len(points) >= 2:
                (_, lat0, lng0, _), (s1, lat1, lng1, alt1) = points[-2], points[-1]
                az, _, _ = GEOD.inv(lng0, lat0, lng1, lat1)
                lng2, lat2, _ = GEOD.fwd(lng1, lat1, az, EXIT_RUN_ON_M)
                speed = self.tracks[aircraft].aircraft.flight.speed_mps
                points.append((s1 + EXIT_RUN_ON_M / speed, float(lat2), float(lng2), alt1))
            self.tracks[aircraft].divert(t, points)
            self.on_event(
                f"{_clock(timedelta(seconds=t))} {aircraft} follows its exit route ({len(points)} points)"
            )

    # -- expectations --------------------------------------------------------------------------------

    async def _thread(self, party: str, thread: str) -> Json:
        r = await self.client(party).get(f"/line/v1/threads/{thread}")
        return dict(r.json()) if r.status_code == 200 else {}

    async def _check(self) -> None:
        for e in self.s.expectations:
            try:
                ok, why = await self._holds(e)
            except Exception as error:
                ok, why = False, f"could not be checked: {error}"
            self.outcome.results.append((e, ok, why))

    async def _holds(self, e: Expectation) -> tuple[bool, str]:
        if e.request is not None:
            req = self.requests[e.request]
            view = await self._thread(req.sender, next(iter(req.threads.values())))
            legs = view.get("legs", {})
            bad = {r: leg["status"] for r, leg in legs.items() if leg["status"] != e.status}
            if bad:
                return False, ", ".join(f"{r} {s}" for r, s in bad.items())
            if e.before_deadline is not None and any(
                leg["late"] == e.before_deadline for leg in legs.values()
            ):
                return False, "late" if e.before_deadline else "not late"
            return True, ""
        if e.certificate is not None:
            req = self.requests[e.certificate]
            view = await self._thread(req.sender, next(iter(req.threads.values())))
            verdicts = {r: leg.get("verdict") for r, leg in view.get("legs", {}).items()}
            wrong = {r: v for r, v in verdicts.items() if v != e.outcome}
            return (not wrong), ", ".join(f"{r}: {v or 'no verdict'}" for r, v in wrong.items())
        if e.alarm is not None:
            req = self.requests[e.alarm]
            view = await self._thread(req.sender, next(iter(req.threads.values())))
            kinds = [x["body"]["type"] for x in view.get("entries", []) if x["kind"] == "alarm"]
            return (e.type in kinds), f"alarms: {', '.join(kinds) or 'none'}"
        if e.notice is not None:
            req = self.requests[e.notice]
            missing = []
            for who in e.acknowledged_by or []:
                thread = req.threads.get(who)
                view = await self._thread(req.sender, thread) if thread else {}
                if view.get("legs", {}).get(who, {}).get("status") != "accepted":
                    missing.append(who)
            return (not missing), f"not acknowledged by {', '.join(missing)}" if missing else ""
        if e.reservation is not None:
            warned = set(self.reservations[e.reservation]["warned"])
            wanted = {self.requests[label].item for label in e.warned_about or []}
            return warned == wanted, f"warned about {sorted(warned) or 'nothing'}"
        if e.operation is not None:
            op = self.operations.get(e.operation)
            if op is None:
                return False, "never planned"
            aircraft = next(a for a in self.s.aircraft if a.id == e.operation)
            r = await self.client(aircraft.party).get(f"/ops/v1/operations/{op}")
            state = r.json()["operation"]["state"] if r.status_code == 200 else f"HTTP {r.status_code}"
            return state == e.state, f"{state}"
        # logs_verify
        failures = []
        for p in self.s.parties:
            transcript = (await self.client(p.id).get("/line/v1/export")).json()
            report = await asyncio.to_thread(verify_transcript, transcript)
            if not report.ok:
                failures.append(f"{p.id}: {report.outcome}")
        return (not failures), "; ".join(failures)

    async def _export(self) -> None:
        assert self.export_dir is not None
        out = self.export_dir
        out.mkdir(parents=True, exist_ok=True)
        lines: dict[str, Json] = {}
        for p in self.s.parties:
            transcript = (await self.client(p.id).get("/line/v1/export")).json()
            path = out / f"{p.id.upper()}.transcript.json"
            path.write_text(json.dumps(transcript))
            lines[p.id] = transcript
            self.outcome.exported.append(path)
        bundle = {
            "format": "parley-replay/1",
            "scenario": self.s.name,
            "start": format_time(self.start),
            "end": format_time(self.at(self.s.duration.total_seconds())),
            "parties": [p.id for p in self.s.parties],
            "tracks": {
                a: [[format_time(self.at(s)), lat, lng, alt] for s, lat, lng, alt in pts]
                for a, pts in self.flown.items()
            },
            "operations": self.operations,
            "movements": {
                k: [[format_time(at), d] for at, d in c.schedule(self.start)] for k, c in self.convoys.items()
            },
            "lines": lines,
            "expectations": [
                {"expectation": e.describe(), "held": ok, "why": why} for e, ok, why in self.outcome.results
            ],
        }
        path = out / "replay.json"
        path.write_text(json.dumps(bundle))
        self.outcome.exported.append(path)


def _seconds(since: float, until: float, period: float = 1.0) -> list[float]:
    """The whole multiples of ``period`` in ``(since, until]``."""
    first = math.floor(since / period) + 1
    last = math.floor(until / period)
    return [k * period for k in range(first, last + 1)]


def _sample(at: datetime, state: State) -> Json:
    return {
        "time": format_time(at),
        "lat": state.lat,
        "lng": state.lng,
        "alt_m": state.alt_m,
        "speed_mps": state.speed_mps,
        "track_deg": state.track_deg % 360.0,
        "vertical_speed_mps": state.vertical_mps,
    }


def _clock(at: timedelta) -> str:
    seconds = int(at.total_seconds())
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
