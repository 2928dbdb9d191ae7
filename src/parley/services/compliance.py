"""Verified compliance on a party node: what accepting a ``vacate`` or ``hold_clear`` costs, the
watch of an accepted one, the certificate that proves it kept, and the requester's verdict.

The pure parts live in :mod:`parley.compliance` (zones, affected aircraft, exit routes, the watch,
certificates); this module runs them against the node's store, telemetry and line:

**The obligor** (the party that accepts).

- :meth:`Compliance.assess` (the what-if, before answering): the request's zone (its volume plus
  the requested buffer, or the defaults), the party's operations that meet it during its window or
  whose aircraft is inside now (:func:`parley.compliance.affected.affected`), and for each aircraft
  inside an exit route within its performance, avoiding the zones of the party's other open
  obligations where it can.
- :meth:`Compliance.accept`: signs the acceptance with ``affected`` (the aircraft it will watch: those
  of the affected operations that are flying and reported within :data:`LIVE_S`), opens the watch
  (stored: a restarted node resumes it), and re-plans the affected operations through the DSS so that
  none meets the zone from the deadline (or the window's start, if later) to the window's end.
- Each position report (:meth:`Compliance.observe`) and each second (:meth:`Compliance.tick`) feed the
  watch; its events become line entries: at the all-clear a signed ``certificate`` (with the track
  samples as evidence), at the deadline with an aircraft not out an ``overdue`` alarm, during a
  hold a re-entry a ``violation`` alarm with its samples. Crossings, re-entries and silences go to the
  node's event stream and, for silences, to the operators.

**The requester** (the party that asked).

- Every certificate received is verified (:func:`parley.compliance.certificate.verify_certificate`)
  against the requester's *own* geometry (its request's volume and buffer), the samples shared,
  the deadline and the aircraft the acceptance named; where the requester has its own surveillance
  of the time (``POST /ops/v1/surveillance``), the samples are cross-checked against it. The verdict
  is signed onto the line, answering the request.
- At the deadline, an accepted obligation with no certificate raises an ``overdue`` alarm on the
  requester's side too.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import shapely

from parley.compliance.affected import Affected, AircraftState, affected
from parley.compliance.certificate import (
    build_certificate,
)
from parley.compliance.exits import ExitRoute, Performance, exit_route
from parley.compliance.judge import inside, judge, near, zone_of
from parley.compliance.samples import Sample, samples_to_json
from parley.compliance.watch import (
    AllClear,
    Crossed,
    ObligationKind,
    Overdue,
    Reentered,
    Silent,
    Violation,
    Watch,
    WatchEvent,
)
from parley.compliance.zone import Zone
from parley.domain.errors import InvalidInput, PermissionDenied
from parley.domain.geo import Circle, LatLng, Polygon, Volume3D, Volume4D
from parley.domain.operations import OpKind, OpState, OwnOperation, TelemetrySample
from parley.line.bodies import OBLIGATING, RequestType
from parley.line.entry import Entry, Kind
from parley.line.lifecycle import Status, Thread
from parley.line.times import format_time
from parley.protection.model import ProtectedMovement, ProtectedSite
from parley.services.line import node as line_svc
from parley.services.line.node import LineNode
from parley.services.party.areas import parse_wire_time, wire_time
from parley.services.party.node import PartyNode
from parley.services.party.planning import Outcome, PlanRequest, current_volumes, plan
from parley.strategic import Operation
from parley.strategic.f3548 import constraint_from_details, operation_from_details

log = logging.getLogger("parley.compliance")

Json = dict[str, Any]

#: How often the watches are told the time, seconds.
TICK_S = 1.0
#: A position report older than this is not a live position: its operation is affected by plan only.
LIVE_S = 120.0
#: States in which an operation's aircraft is flying.
FLYING = frozenset({OpState.ACTIVATED, OpState.NONCONFORMING, OpState.CONTINGENT})
#: States of operations that hold airspace.
HELD = FLYING | {OpState.ACCEPTED}
#: How far beyond the buffered zone a re-planned volume keeps, metres (covers geodesic edges'
#: departure from their chords in the zone's frame).
REPLAN_MARGIN_M = 50.0
#: Vertices of a circle footprint cut by a zone.
_CIRCLE_VERTICES = 64
#: How long after a deadline the requester waits for a certificate signed in time before its own
#: overdue alarm, seconds (delivery).
CERTIFICATE_GRACE_S = 5.0
#: Reported ground speeds below this (hovering, taxiing) leave the node's default performance.
MIN_EXIT_SPEED_MPS = 3.0
#: Most zones an exit route is asked to avoid.
MAX_AVOID = 200
#: Aircraft named by a requester's overdue alarm when the acceptance named none.
_UNNAMED = "unnamed"


def _sample(s: TelemetrySample) -> Sample:
    return Sample(s.t, s.lat, s.lng, s.alt_m)


@dataclass(eq=False)
class _Watched:
    """An open watch of this node: the thread, the requester, the zone and the watch itself."""

    thread: str
    requester: str
    zone: Zone
    watch: Watch


@dataclass(frozen=True, slots=True)
class Impact:
    """What accepting a request costs the party (see :meth:`Compliance.assess`)."""

    thread: str
    zone: Zone
    deadline: datetime
    affected: tuple[Affected, ...]
    watched: tuple[str, ...]
    exits: Mapping[str, ExitRoute]

    def to_json(self) -> Json:
        outline = self.zone.to_volume4d().volume.outline
        ring = [[p.lng, p.lat] for p in outline.vertices]  # type: ignore[union-attr]
        aircraft = []
        for a in self.affected:
            route = self.exits.get(a.operation_id)
            aircraft.append(
                {
                    "id": a.operation_id,
                    "inside_now": a.inside_now,
                    "watched": a.operation_id in self.watched,
                    "position": None
                    if a.state is None
                    else {
                        "t": format_time(a.state.t),
                        "lat": a.state.lat,
                        "lng": a.state.lng,
                        "alt_m": a.state.alt_m,
                    },
                    "planned": [
                        {
                            "volume": p.volume.index,
                            "off_nominal": p.volume.off_nominal,
                            "time_start": None if p.time_start is None else format_time(p.time_start),
                            "time_end": None if p.time_end is None else format_time(p.time_end),
                            "altitude_lower_m": p.altitude_lower_m,
                            "altitude_upper_m": p.altitude_upper_m,
                        }
                        for p in a.planned
                    ],
                    "exit": None if route is None else route.to_geojson(),
                }
            )
        return {
            "thread": self.thread,
            "deadline": format_time(self.deadline),
            "zone": {
                "buffer_h_m": self.zone.buffer_h_m,
                "buffer_v_m": self.zone.buffer_v_m,
                "outline": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
                "alt_lower_m": self.zone.floor_m,
                "alt_upper_m": self.zone.ceiling_m,
                "start": format_time(self.zone.start),
                "end": format_time(self.zone.end),
            },
            "aircraft": aircraft,
            "replan": sorted(a.operation_id for a in self.affected if a.planned),
        }


@dataclass(eq=False)
class Compliance:
    """One party's compliance service: its node, its line, its aircraft's performance."""

    party: PartyNode
    line: LineNode
    performance: Performance = field(default_factory=Performance)
    #: Re-plan affected operations through the DSS on acceptance.
    replan: bool = True
    #: The protected sites and movements the node holds exactly (exit routes avoid them).
    protected: Callable[[], Sequence[ProtectedSite | ProtectedMovement]] = lambda: ()
    _watches: dict[str, _Watched] = field(default_factory=dict)
    _loaded: bool = False
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    #: Certificates judged (or being judged) by this process.
    _judging: set[str] = field(default_factory=set)
    #: Deadlines up to this time have been looked at for the requester's overdue alarms.
    _overdue_until: datetime | None = None
    #: Threads whose overdue check failed, looked at again at the next tick.
    _overdue_retry: set[str] = field(default_factory=set)

    @property
    def name(self) -> str:
        return self.line.party

    def now(self) -> datetime:
        return self.line.now()

    # -- the obligor ---------------------------------------------------------------------------------

    def _thread_for_obligor(self, thread_id: str) -> Thread:
        thread = line_svc.thread_of(self.line, thread_id)
        if thread.type not in OBLIGATING:
            raise InvalidInput(
                f"thread {thread_id}: a {thread.type.value} is not an obligation (vacate, hold_clear)"
            )
        if self.name not in thread.legs:
            raise PermissionDenied(f"{self.name!r} is not a recipient of this request")
        return thread

    def _operations(self) -> dict[str, tuple[OwnOperation, Operation]]:
        out: dict[str, tuple[OwnOperation, Operation]] = {}
        for op in self.party.repo.list_operations(self.party.party):
            if op.kind is not OpKind.OPERATIONAL_INTENT or op.state not in HELD:
                continue
            try:
                out[op.id] = (
                    op,
                    operation_from_details(op.id, {**op.details, "priority": op.details.get("priority", 0)}),
                )
            except Exception:  # an operation the engine cannot read cannot be assessed: say so
                log.warning("operation %s: volumes unreadable, left out of the assessment", op.id)
        return out

    def _states(
        self, ops: Mapping[str, tuple[OwnOperation, Operation]], now: datetime
    ) -> list[AircraftState]:
        states = []
        for op_id, (op, _) in ops.items():
            if op.state not in FLYING:
                continue
            latest = self.party.repo.latest_telemetry(self.party.party, op_id)
            if latest is not None and (now - latest.t).total_seconds() <= LIVE_S:
                states.append(AircraftState.from_sample(latest))
        return states

    def performance_of(self, state: AircraftState) -> Performance:
        """The performance an exit route is planned with: the node's (``performance``), at the ground
        speed the aircraft reports when it reports one (a drone at 15 m/s is not a 40 m/s aircraft)."""
        speed = state.speed_mps
        if speed is None or not math.isfinite(speed) or speed < MIN_EXIT_SPEED_MPS:
            return self.performance
        return dataclasses.replace(self.performance, speed_mps=speed)

    def _avoid(self, thread: Thread, zone: Zone) -> list[Zone]:
        """What exit routes stay out of where they can: the zones of the party's other open
        obligations, other parties' constraints this node knows of, and the protected sites and
        movements it holds exactly (a movement where its schedule puts it now), each in force
        between now and the deadline; at most :data:`MAX_AVOID` of them."""
        now, until = self.now(), thread.deadline
        out = [w.zone for t, w in self._watches.items() if t != thread.id]
        for peer in self.party.repo.list_peers(self.party.party):
            if peer.kind is not OpKind.CONSTRAINT or not peer.details:
                continue
            try:
                constraint = constraint_from_details(peer.id, peer.details)
            except Exception:
                continue
            for v in constraint.volumes:
                if (
                    v.time_start is not None
                    and v.time_end is not None
                    and v.time_start <= until
                    and v.time_end > now
                ):
                    with contextlib.suppress(InvalidInput):
                        out.append(
                            Zone.from_volume4d(
                                v, buffer_h_m=0.0, buffer_v_m=0.0, name=f"constraint {peer.id}"
                            )
                        )
        for item in self.protected():
            with contextlib.suppress(InvalidInput):
                avoid = _protected_zone(item, now, until)
                if avoid is not None:
                    out.append(avoid)
        return out[:MAX_AVOID]

    def _assess(self, thread: Thread) -> Impact:
        zone = zone_of(thread.request)
        now = self.now()
        ops = self._operations()
        states = self._states(ops, now)
        found = affected(zone, states, {k: v[1] for k, v in ops.items()}, now=now, deadline=thread.deadline)
        watched = tuple(
            a.operation_id for a in found if a.state is not None and ops[a.operation_id][0].state in FLYING
        )
        avoid = self._avoid(thread, zone)
        exits = {}
        for a in found:
            if a.state is not None and a.inside_now:
                state = a.state
                # what the aircraft is in already cannot be avoided (the requester's own reservation)
                around = [z for z in avoid if not z.contains(state.lat, state.lng, state.alt_m)]
                try:
                    exits[a.operation_id] = exit_route(
                        zone, state, self.performance_of(state), deadline=thread.deadline, avoid=around
                    )
                except InvalidInput as error:
                    log.warning("no exit route for %s: %s", a.operation_id, error.message)
        return Impact(thread.id, zone, thread.deadline, tuple(found), watched, exits)

    async def assess(self, thread_id: str) -> Impact:
        """What accepting ``thread_id`` would cost: the affected operations and aircraft, the exit
        routes. :class:`InvalidInput` for a request that is not an obligation."""
        thread = self._thread_for_obligor(thread_id)
        await self._load()
        return await asyncio.to_thread(self._assess, thread)

    async def accept(self, thread_id: str, body: Mapping[str, Any]) -> tuple[Entry, Impact | None]:
        """Accept ``thread_id`` (any request). An obligation's acceptance names the aircraft watched
        (``affected``), opens the watch and re-plans the affected operations."""
        thread = line_svc.thread_of(self.line, thread_id)
        if thread.type not in OBLIGATING or self.name not in thread.legs:
            return await line_svc.answer(self.line, thread_id, Kind.ACCEPT, dict(body)), None
        await self._load()
        impact = await asyncio.to_thread(self._assess, thread)
        signed = {**{k: v for k, v in body.items() if k != "affected"}, "affected": sorted(impact.watched)}
        async with self._lock:
            entry = await line_svc.answer(self.line, thread_id, Kind.ACCEPT, signed)
            if impact.watched:
                zone = impact.zone
                watch = Watch(
                    thread.request.hash,
                    ObligationKind(thread.type.value),
                    accepted_at=entry.time,
                    deadline=thread.deadline,
                    hold=(zone.start, zone.end) if thread.type is RequestType.HOLD_CLEAR else None,
                    affected=impact.watched,
                    inside=inside(zone),
                    near=near(zone),
                )
                watched = _Watched(thread_id, thread.sender, zone, watch)
                self._watches[thread_id] = watched
                self._save(watched)
                self._event("watching", thread_id, aircraft=list(impact.watched))
        if self.replan and any(a.planned for a in impact.affected):
            self._spawn(self._replan(impact))
        return entry, impact

    def observe(self, samples: Sequence[TelemetrySample]) -> None:
        """Feed position reports of the party's aircraft to the open watches (in the background;
        the caller is not held up)."""
        if self._watches or not self._loaded:
            self._spawn(self._observe(list(samples)))

    async def _observe(self, samples: list[TelemetrySample]) -> None:
        await self._load()
        async with self._lock:
            for watched in list(self._watches.values()):
                events: list[WatchEvent] = []
                for s in sorted(samples, key=lambda s: s.t):
                    if s.operation_id in watched.watch.affected:
                        events += watched.watch.observe(s.operation_id, _sample(s))
                if any(s.operation_id in watched.watch.affected for s in samples):
                    await self._handle(watched, events)
                    self._save(watched)

    async def tick(self) -> None:
        """Tell every watch the time; the requester's overdue alarms."""
        await self._load()
        now = self.now()
        async with self._lock:
            for watched in list(self._watches.values()):
                events = watched.watch.tick(now)
                if events or watched.watch.done:
                    await self._handle(watched, events)
                    self._save(watched)
        await self._requester_overdue(now)

    async def _handle(self, watched: _Watched, events: Iterable[WatchEvent]) -> None:
        thread_id = watched.thread
        for event in events:
            try:
                if isinstance(event, Crossed):
                    self._event(
                        "crossed",
                        thread_id,
                        aircraft=[event.aircraft_id],
                        at=format_time(event.crossing.crossed_at),
                    )
                elif isinstance(event, Reentered):
                    self._event(
                        "reentered", thread_id, aircraft=[event.aircraft_id], at=format_time(event.sample.t)
                    )
                elif isinstance(event, Silent):
                    self._event(
                        "silent", thread_id, aircraft=[event.aircraft_id], since=format_time(event.since)
                    )
                    self.party.notify_user(
                        "compliance_silent",
                        f"no telemetry from {event.aircraft_id} since {format_time(event.since)}: the obligation of "
                        f"thread {thread_id} stays open",
                        operation_id=event.aircraft_id,
                    )
                elif isinstance(event, AllClear):
                    await self._certify(watched, event)
                elif isinstance(event, Overdue):
                    await self._alarm(watched.thread, {**event.alarm(), "recipient": self.name}, None)
                elif isinstance(event, Violation):
                    evidence = json.dumps(
                        {event.aircraft_id: samples_to_json(event.samples)}, separators=(",", ":")
                    )
                    await self._alarm(watched.thread, {**event.alarm(), "recipient": self.name}, evidence)
            except Exception:
                log.exception("compliance event %s of thread %s", type(event).__name__, thread_id)

    async def _certify(self, watched: _Watched, event: AllClear) -> None:
        thread = line_svc.thread_of(self.line, watched.thread)
        zone = watched.zone
        body = build_certificate(
            thread.request.hash,
            event.crossings,
            zone.buffer_h_m,
            zone.buffer_v_m,
            hold_until=zone.end if thread.type is RequestType.HOLD_CLEAR else None,
        )
        evidence = json.dumps(
            {c.aircraft_id: samples_to_json(c.samples) for c in event.crossings}, separators=(",", ":")
        )
        await line_svc.record(self.line, thread.id, Kind.CERTIFICATE, body, evidence=evidence)
        log.info("certificate issued", extra={"party": self.name, "thread": thread.id, "late": event.late})

    async def _alarm(self, thread_id: str, body: Json, evidence: str | None) -> Entry:
        entry = await line_svc.record(self.line, thread_id, Kind.ALARM, body, evidence=evidence)
        self.party.notify_user(
            "compliance_alarm", f"{body['type']} on thread {thread_id}: {body.get('reason', '')}"
        )
        return entry

    def _save(self, watched: _Watched) -> None:
        self.line.repo.save_watch(
            self.name,
            watched.thread,
            json.dumps(watched.watch.to_json()),
            active=not watched.watch.done,
            now=self.now(),
        )
        if watched.watch.done:
            self._watches.pop(watched.thread, None)

    async def _load(self) -> None:
        """Resume the watches stored (once per process)."""
        if self._loaded:
            return
        async with self._lock:
            if self._loaded:
                return
            for thread_id, state in self.line.repo.active_watches(self.name):
                try:
                    thread = line_svc.thread_of(self.line, thread_id)
                    zone = zone_of(thread.request)
                    watch = Watch.from_json(json.loads(state), inside=inside(zone), near=near(zone))
                except Exception:
                    log.exception("watch of thread %s could not be resumed", thread_id)
                    continue
                self._watches[thread_id] = _Watched(thread_id, thread.sender, zone, watch)
            self._loaded = True

    async def resume(self) -> None:
        """Resume the watches stored, if this process has not yet."""
        await self._load()

    def watches(self) -> list[Json]:
        """The open watches, for the operators."""
        out = []
        for w in self._watches.values():
            state = w.watch.to_json()
            out.append(
                {
                    "thread": w.thread,
                    "requester": w.requester,
                    "kind": w.watch.kind.value,
                    "phase": w.watch.phase.value,
                    "deadline": format_time(w.watch.deadline),
                    "overdue": w.watch.overdue,
                    "aircraft": {a: w.watch.presence(a).value for a in w.watch.affected},
                    "clear_at": state.get("clear_at"),
                }
            )
        return out

    # -- re-planning ---------------------------------------------------------------------------------

    async def _replan(self, impact: Impact) -> None:
        zone = impact.zone
        cut_from = max(zone.start, impact.deadline)
        for a in impact.affected:
            if not a.planned:
                continue
            op = self.party.repo.get_operation(self.party.party, a.operation_id)
            if op is None or op.state not in HELD:
                continue
            try:
                volumes = cut_volumes(
                    current_volumes(list(op.details.get("volumes") or []), self.now()), zone, cut_from
                )
                if volumes == op.details.get("volumes"):
                    continue
                if not volumes:
                    self.party.notify_user(
                        "compliance_replan",
                        f"{op.meta.get('name') or op.id}: wholly inside the vacated zone from {format_time(cut_from)}; "
                        "end it or move it",
                        operation_id=op.id,
                    )
                    continue
                state = op.state if op.state in (OpState.ACCEPTED, OpState.ACTIVATED) else OpState.ACTIVATED
                details = {**op.details, "volumes": volumes}
                if op.state is not OpState.ACCEPTED:
                    details["off_nominal_volumes"] = op.details.get("off_nominal_volumes") or []
                outcome = await plan(
                    self.party, PlanRequest(op.id, details, state, meta=op.meta, must_exist=True)
                )
                ok = outcome.outcome is Outcome.ACCEPTED
                self.party.notify_user(
                    "compliance_replan",
                    f"{op.meta.get('name') or op.id}: re-planned out of the zone of thread {impact.thread} "
                    f"from {format_time(cut_from)}" if ok else
                    f"{op.meta.get('name') or op.id}: re-planning out of the zone of thread {impact.thread} "
                    f"failed ({outcome.outcome.value}); plan it by hand",
                    operation_id=op.id,
                )  # fmt: skip
                self._event("replanned" if ok else "replan_failed", impact.thread, aircraft=[op.id])
            except Exception:
                log.exception("re-planning %s out of thread %s failed", a.operation_id, impact.thread)
                self.party.notify_user(
                    "compliance_replan",
                    f"re-planning {a.operation_id} out of the zone of thread {impact.thread} failed; plan it by hand",
                    operation_id=a.operation_id,
                )

    # -- the requester -------------------------------------------------------------------------------

    def received(self, entry: Entry) -> None:
        """Listener of the line: a certificate for a request of this party is judged."""
        if entry.kind is Kind.CERTIFICATE and entry.hash not in self._judging:
            self._judging.add(entry.hash)
            self._spawn(self._judge(entry))

    async def _judge(self, certificate: Entry) -> None:
        try:
            thread = line_svc.thread_of(self.line, certificate.thread or "")
            if thread.sender != self.name:
                return
            leg = thread.legs.get(certificate.party)
            if leg is None or leg.certificate != certificate.hash or leg.verdict is not None:
                return
            body = await asyncio.to_thread(self.judgement, thread, certificate)
            await line_svc.record(self.line, thread.id, Kind.VERDICT, body)
            self._event("verdict", thread.id, outcome=body["outcome"], obligor=certificate.party)
            if body["outcome"] == "failed":
                self.party.notify_user(
                    "compliance_failed",
                    f"the certificate of {certificate.party} for thread {thread.id} failed: "
                    + "; ".join(body.get("reasons", [])),
                )
        except Exception:
            log.exception("judging certificate %s failed", certificate.short)
            self._judging.discard(certificate.hash)

    def judgement(self, thread: Thread, certificate: Entry) -> Json:
        """The verdict body on ``certificate`` (see the module)."""
        return judge(
            thread,
            certificate,
            accept=self._accept_body(thread, certificate.party),
            evidence=self.line.repo.evidence(self.name, [certificate.hash]).get(certificate.hash),
            surveillance=lambda start, end: self.party.repo.surveillance(self.party.party, start, end),
        )

    def _accept_body(self, thread: Thread, recipient: str) -> Mapping[str, Any] | None:
        leg = thread.legs[recipient]
        if leg.answer is None:
            return None
        stored = self.line.repo.get(self.name, leg.answer)
        return None if stored is None else self.line.entry(stored).body

    async def _requester_overdue(self, now: datetime) -> None:
        """Threads whose deadline passed (more than :data:`CERTIFICATE_GRACE_S` ago: a certificate
        signed in time may still be on its way) since the last look (all of them at the first)."""
        until = now - timedelta(seconds=CERTIFICATE_GRACE_S)
        since, self._overdue_until = self._overdue_until, until
        due = self.line.repo.threads_due(self.name, until, since=since)
        retry, self._overdue_retry = self._overdue_retry, set()
        for thread_id in [*due, *sorted(retry - set(due))]:
            try:
                await self._requester_overdue_of(thread_id, now)
            except Exception:
                log.exception("overdue check of thread %s failed (tried again)", thread_id)
                self._overdue_retry.add(thread_id)

    async def _requester_overdue_of(self, thread_id: str, now: datetime) -> None:
        thread = line_svc.thread_of(self.line, thread_id)
        if thread.sender != self.name or thread.type not in OBLIGATING:
            return
        for recipient, leg in thread.legs.items():
            if leg.status is not Status.ACCEPTED or leg.certificate is not None:
                continue
            if any(self._mine(h) for h in leg.alarms):
                continue
            accept = self._accept_body(thread, recipient) or {}
            named = list(accept.get("affected", [_UNNAMED]))
            if not named:
                continue  # nothing affected: nothing to certify
            await self._alarm(
                thread_id,
                {
                    "recipient": recipient,
                    "type": "overdue",
                    "aircraft": named,
                    "observed_at": format_time(now),
                    "reason": f"no clearance certificate from {recipient} by the deadline "
                    f"{format_time(thread.deadline)}",
                },
                None,
            )

    def _mine(self, entry_hash: str) -> bool:
        stored = self.line.repo.get(self.name, entry_hash)
        return stored is not None and stored.author == self.name

    # -- plumbing ------------------------------------------------------------------------------------

    def _event(self, kind: str, thread: str, **data: Any) -> None:
        self.line.events.publish(
            {"type": "compliance", "event": kind, "thread": thread, "holder": self.name, **data}
        )

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self) -> None:
        """Wait for the background work started so far (tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def run(self, interval_s: float = TICK_S) -> None:
        """The node's housekeeping loop: :meth:`tick` every ``interval_s``."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.tick()
            except Exception:
                log.exception("compliance tick failed")


def _protected_zone(item: ProtectedSite | ProtectedMovement, now: datetime, until: datetime) -> Zone | None:
    """The zone to avoid for a protected item in force between ``now`` and ``until``: a site's
    outline grown by its radius, over its protected band; a movement's corridor around where its
    schedule puts it now."""
    if isinstance(item, ProtectedSite):
        if not (item.start <= until and item.end > now):
            return None
        outline: Circle | Polygon = (
            Circle(item.outline, item.radius_m) if isinstance(item.outline, LatLng) else item.outline
        )
        grow = 0.0 if isinstance(item.outline, LatLng) else item.radius_m
        volume = Volume4D(
            Volume3D(outline, item.ground_m, item.top_m()), now, max(until, now + timedelta(seconds=1))
        )
        return Zone.from_volume4d(volume, buffer_h_m=grow, buffer_v_m=0.0, name=f"protected {item.name}")
    if not (item.start - item.margin <= until and item.end + item.margin > now):
        return None
    clamped = min(max(now, item.start), item.end)
    volume = Volume4D(
        Volume3D(Circle(item.position_at(clamped), item.half_width_m), item.ground_m, item.top_m()),
        now,
        max(until, now + timedelta(seconds=1)),
    )
    return Zone.from_volume4d(volume, buffer_h_m=0.0, buffer_v_m=0.0, name=f"protected {item.name}")


# -- cutting volumes out of a zone ------------------------------------------------------------------


def _footprint_xy(volume: Mapping[str, Any], zone: Zone) -> shapely.Polygon | None:
    v3 = volume["volume"]
    if v3.get("outline_polygon"):
        vertices = v3["outline_polygon"]["vertices"]
        x, y = zone.frame.forward([p["lat"] for p in vertices], [p["lng"] for p in vertices])
        return shapely.Polygon(np.stack([x, y], axis=-1))
    circle = v3.get("outline_circle")
    if not circle:
        return None
    centre = circle["center"]
    radius = float(circle["radius"]["value"]) * (0.3048 if circle["radius"].get("units") == "FT" else 1.0)
    cx, cy = zone.frame.forward(centre["lat"], centre["lng"])
    rho = radius / math.cos(math.pi / _CIRCLE_VERTICES)  # circumscribed: contains the circle
    a = np.linspace(0.0, 2.0 * math.pi, _CIRCLE_VERTICES, endpoint=False)
    return shapely.Polygon(np.stack([cx[0] + rho * np.sin(a), cy[0] + rho * np.cos(a)], axis=-1))


def _altitude(v3: Mapping[str, Any], name: str) -> float | None:
    alt = v3.get(name)
    if not alt:
        return None
    return float(alt["value"]) * (0.3048 if alt.get("units") == "FT" else 1.0)


def _without_holes(geometry: shapely.Geometry) -> list[shapely.Polygon]:
    """The polygons of ``geometry``, each with holes cut in two along a vertical line through the
    first hole (F3548 outlines have no holes): together they cover the same area."""
    out: list[shapely.Polygon] = []
    todo = [p for p in shapely.get_parts(geometry) if isinstance(p, shapely.Polygon) and not p.is_empty]
    while todo:
        poly = todo.pop()
        if not poly.interiors:
            out.append(poly)
            continue
        x = shapely.Polygon(poly.interiors[0]).centroid.x
        x0, y0, x1, y1 = poly.bounds
        for box in (
            shapely.box(x0 - 1.0, y0 - 1.0, x, y1 + 1.0),
            shapely.box(x, y0 - 1.0, x1 + 1.0, y1 + 1.0),
        ):
            todo += [
                p
                for p in shapely.get_parts(shapely.intersection(poly, box))
                if isinstance(p, shapely.Polygon) and not p.is_empty
            ]
    return out


def cut_volumes(volumes: list[Json], zone: Zone, cut_from: datetime) -> list[Json]:
    """F3548 volumes that leave out ``zone`` (buffers included, plus :data:`REPLAN_MARGIN_M`) from
    ``cut_from`` to the zone's end: each volume that meets the zone in time and altitude is split in
    time; during the overlap its footprint loses the zone (one volume per part left; none when the
    zone covers it). Volumes that do not meet the zone are kept as they are."""
    out: list[Json] = []
    # the zone as the engine and the DSS see it (its F3548 outline), widened
    hole = shapely.buffer(zone.outline(), REPLAN_MARGIN_M, join_style="mitre", mitre_limit=2.0)
    window_end = zone.end
    for volume in volumes:
        start = parse_wire_time(volume.get("time_start"))
        end = parse_wire_time(volume.get("time_end"))
        v3 = volume["volume"]
        lo, hi = _altitude(v3, "altitude_lower"), _altitude(v3, "altitude_upper")
        meets_band = (lo is None or lo <= zone.ceiling_m) and (hi is None or hi >= zone.floor_m)
        a = cut_from if start is None else max(start, cut_from)
        b = window_end if end is None else min(end, window_end)
        footprint = _footprint_xy(volume, zone)
        if not meets_band or not a < b or footprint is None or not shapely.intersects(footprint, hole):
            out.append(volume)
            continue
        if start is None or start < a:
            out.append({**volume, "time_end": wire_time(a)})
        left = shapely.difference(footprint, hole)
        for part in _without_holes(left):
            if part.area < 1.0:
                continue
            ring = np.asarray(part.exterior.coords)[:-1]
            lat, lng = zone.frame.inverse(ring[:, 0], ring[:, 1])
            piece = {k: val for k, val in v3.items() if k not in ("outline_polygon", "outline_circle")}
            piece["outline_polygon"] = {
                "vertices": [
                    {"lat": float(p), "lng": float(q)}
                    for p, q in zip(lat.tolist(), lng.tolist(), strict=True)
                ]
            }
            out.append({**volume, "volume": piece, "time_start": wire_time(a), "time_end": wire_time(b)})
        if end is None or end > b:
            out.append({**volume, "time_start": wire_time(b)})
    return out


@contextlib.asynccontextmanager
async def housekeeping(services: Sequence[Compliance], interval_s: float = TICK_S) -> Any:
    """Run every compliance service's loop while the server runs."""
    tasks = [asyncio.create_task(s.run(interval_s)) for s in services] if interval_s > 0 else []
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
