"""A party node's live tactical picture: its own aircraft and the tracks of its surveillance feeds,
run through the tactical engine (:class:`parley.tactical.IncrementalDetector`) as reports arrive.

- **Tracks.** Each of the party's aircraft is ``own/{operation id}`` (its telemetry); each track of a
  surveillance feed is ``{source}/{track id}``. A feed's return within :data:`SAME_AIRCRAFT_H_M`
  horizontally and :data:`SAME_AIRCRAFT_V_M` vertically of one of the party's own aircraft reported
  within :data:`SAME_AIRCRAFT_S` is that aircraft seen by the feed, not another one, and is left out
  (else every aircraft would conflict with its own radar return). Velocities the reports do not give
  are estimated from the track's previous position.
- **Updates.** Reports are taken in batches: the first report after a quiet spell wakes the
  picture, which waits :data:`BATCH_S` for the rest of the burst, then updates the detector at the
  node's time (only the aircraft that reported are evaluated again). A track silent for
  ``max_age_s`` leaves the picture. With nothing reported it still updates once a second, for the
  look-ahead moves with time.
- **Conflicts** (pairs predicted to lose separation within the look-ahead, with the time and
  distance of closest approach and the point halfway between the two then) are pushed on the node's
  event stream as they appear and clear (``{"type": "tactical", "event": "conflict" | "cleared"}``);
  one that involves an aircraft of the party's own is an **alarm**, told to its operators once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from parley.domain.operations import TelemetrySample
from parley.services.party.node import PartyNode
from parley.tactical import Conflict, IncrementalDetector, Separation, TrackBatch
from parley.tactical.params import FT_M, NM_M

log = logging.getLogger("parley.picture")
Json = dict[str, Any]

#: How long the picture waits for the rest of a burst of reports, seconds.
BATCH_S = 0.05
#: How often it updates with nothing reported, seconds.
IDLE_S = 1.0
#: A feed's return this close to an own aircraft, at about the same time, is that aircraft.
SAME_AIRCRAFT_H_M = 500.0
SAME_AIRCRAFT_V_M = 300.0
SAME_AIRCRAFT_S = 5.0
OWN = "own/"
_EARTH_M = 6_371_008.8


@dataclass(slots=True)
class _Report:
    t_s: float
    lat: float
    lng: float
    alt_m: float
    gs_mps: float | None
    trk_deg: float | None
    vs_mps: float | None


def _estimate(prev: _Report | None, cur: _Report) -> tuple[float, float, float]:
    """Ground speed, track and vertical speed of ``cur``: its own, or from the previous report."""
    if cur.gs_mps is not None and cur.trk_deg is not None:
        return cur.gs_mps, cur.trk_deg % 360.0, cur.vs_mps or 0.0
    if prev is None or not cur.t_s > prev.t_s:
        return cur.gs_mps or 0.0, (cur.trk_deg or 0.0) % 360.0, cur.vs_mps or 0.0
    dt = cur.t_s - prev.t_s
    north = math.radians(cur.lat - prev.lat) * _EARTH_M
    east = math.radians(cur.lng - prev.lng) * _EARTH_M * math.cos(math.radians((cur.lat + prev.lat) / 2))
    gs = math.hypot(north, east) / dt
    trk = math.degrees(math.atan2(east, north)) % 360.0
    vs = (cur.alt_m - prev.alt_m) / dt if cur.vs_mps is None else cur.vs_mps
    return gs, trk, vs


@dataclass(eq=False)
class Picture:
    """One party node's tactical picture (see the module)."""

    node: PartyNode
    publish: Callable[[Json], None]
    separation: Separation = field(default_factory=Separation)
    max_age_s: float = 30.0
    _detector: IncrementalDetector = field(init=False)
    _pending: dict[str, _Report] = field(default_factory=dict)
    _last: dict[str, _Report] = field(default_factory=dict)
    _previous: dict[str, _Report] = field(default_factory=dict)
    _conflicts: dict[tuple[str, str], Conflict] = field(default_factory=dict)
    _alarmed: set[tuple[str, str]] = field(default_factory=set)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: Wall time the last update took, seconds (figures).
    last_update_s: float = 0.0

    def __post_init__(self) -> None:
        self._detector = IncrementalDetector(self.separation)

    # -- reports ---------------------------------------------------------------------------------------

    def own(self, samples: Sequence[TelemetrySample]) -> None:
        """Position reports of the party's own aircraft (by operation)."""
        for s in sorted(samples, key=lambda s: s.t):
            self._take(
                OWN + s.operation_id,
                _Report(
                    s.t.timestamp(), s.lat, s.lng, s.alt_m, s.speed_mps, s.track_deg, s.vertical_speed_mps
                ),
            )

    def feed(self, source: str, tracks: Sequence[TelemetrySample]) -> None:
        """Returns of a surveillance feed (``operation_id`` is the feed's track id)."""
        own = [(k, r) for k, r in self._latest_own()]
        for s in sorted(tracks, key=lambda s: s.t):
            report = _Report(
                s.t.timestamp(), s.lat, s.lng, s.alt_m, s.speed_mps, s.track_deg, s.vertical_speed_mps
            )
            if any(_same(report, r) for _, r in own):
                continue
            self._take(f"{source}/{s.operation_id}", report)

    def _latest_own(self) -> list[tuple[str, _Report]]:
        merged = {**self._last, **self._pending}
        return [(k, r) for k, r in merged.items() if k.startswith(OWN)]

    def _take(self, ident: str, report: _Report) -> None:
        held = self._pending.get(ident) or self._last.get(ident)
        if held is not None and report.t_s <= held.t_s:
            return
        if held is not None:
            self._previous[ident] = held  # for the velocity when the report gives none
        self._pending[ident] = report
        self._wake.set()

    # -- updates ---------------------------------------------------------------------------------------

    async def update(self) -> list[Json]:
        """Take the reports pending, update the detector at the node's time, and push the conflicts
        that appeared and cleared. Returns the events pushed."""
        async with self._lock:
            pending, self._pending = self._pending, {}
            started = time.perf_counter()
            rows = []
            for ident, report in pending.items():
                gs, trk, vs = _estimate(self._previous.get(ident), report)
                rows.append((ident, report, gs, trk, vs))
                self._last[ident] = report
            epoch = max(self.node.now().timestamp(), max((r.t_s for _, r, *_ in rows), default=-math.inf))
            epoch = max(epoch, self._detector.epoch_s)
            batch = TrackBatch.from_columns(
                [r[0] for r in rows],
                lat_deg=[r[1].lat for r in rows],
                lon_deg=[r[1].lng for r in rows],
                alt_m=[r[1].alt_m for r in rows],
                gs_mps=[r[2] for r in rows],
                trk_deg=[r[3] for r in rows],
                vs_mps=[r[4] for r in rows],
                t_s=[r[1].t_s for r in rows] if rows else 0.0,
            )
            found = await asyncio.to_thread(
                self._detector.update, batch, epoch_s=epoch, max_age_s=self.max_age_s
            )
            gone = [k for k, r in self._last.items() if r.t_s < epoch - self.max_age_s]
            for k in gone:
                del self._last[k]
                self._previous.pop(k, None)
            current = {_key(c.id1, c.id2): c for c in found}
            index = {str(k): n for n, k in enumerate(self._detector.tracks.ids.tolist())}
            events: list[Json] = []
            for key, c in current.items():
                if key not in self._conflicts:
                    events.append(self._event("conflict", c, index))
            for key, c in self._conflicts.items():
                if key not in current:
                    events.append(self._event("cleared", c, index))
                    self._alarmed.discard(key)
            self._conflicts = current
            self.last_update_s = time.perf_counter() - started
        for event in events:
            self.publish(event)
            key = _key(event["aircraft"][0], event["aircraft"][1])
            if event["event"] == "conflict" and event["alarm"] and key not in self._alarmed:
                self._alarmed.add(key)
                self.node.notify_user(
                    "tactical_conflict",
                    f"{event['aircraft'][0]} and {event['aircraft'][1]} lose separation in {event['t_in_s']:.0f} s "
                    f"(closest {event['dcpa_m']:.0f} m in {event['tcpa_s']:.0f} s)",
                    body=event,
                )
        return events

    def _event(self, kind: str, c: Conflict, rows: dict[str, int] | None = None) -> Json:
        own = c.id1.startswith(OWN) or c.id2.startswith(OWN)
        return {
            "type": "tactical",
            "event": kind,
            "aircraft": [c.id1, c.id2],
            "alarm": own,
            "tcpa_s": _finite(c.tcpa_s),
            "dcpa_m": _finite(c.dcpa_m),
            "t_in_s": _finite(c.t_in_s),
            "t_out_s": _finite(c.t_out_s),
            "dist_m": _finite(c.dist_m),
            "cpa": self._cpa(c, rows),
            "epoch": self._detector.epoch_s,
        }

    def _cpa(self, c: Conflict, rows: dict[str, int] | None = None) -> Json | None:
        """The point halfway between the two aircraft at their closest approach (dead reckoned)."""
        tracks = self._detector.tracks
        if rows is None:
            rows = {str(k): n for n, k in enumerate(tracks.ids.tolist())}
        pair = [rows[i] for i in (c.id1, c.id2) if i in rows]
        if len(pair) != 2 or not math.isfinite(c.tcpa_s):
            return None
        points = []
        for r in pair:
            dt = self._detector.epoch_s - float(tracks.t_s[r]) + max(c.tcpa_s, 0.0)
            d = float(tracks.gs_mps[r]) * dt
            trk = math.radians(float(tracks.trk_deg[r]))
            lat = float(tracks.lat_deg[r]) + math.degrees(d * math.cos(trk) / _EARTH_M)
            lng = float(tracks.lon_deg[r]) + math.degrees(
                d * math.sin(trk) / (_EARTH_M * math.cos(math.radians(lat)))
            )
            points.append((lat, lng))
        return {"lat": (points[0][0] + points[1][0]) / 2, "lng": (points[0][1] + points[1][1]) / 2}

    def view(self) -> Json:
        """Every track and conflict now (for the map)."""
        tracks = self._detector.tracks
        index = {str(k): n for n, k in enumerate(tracks.ids.tolist())}
        return {
            "epoch": self._detector.epoch_s if math.isfinite(self._detector.epoch_s) else None,
            "tracks": [
                {
                    "id": str(tracks.ids[k]),
                    "own": str(tracks.ids[k]).startswith(OWN),
                    "t": float(tracks.t_s[k]),
                    "lat": float(tracks.lat_deg[k]),
                    "lng": float(tracks.lon_deg[k]),
                    "alt_m": float(tracks.alt_m[k]),
                    "gs_mps": float(tracks.gs_mps[k]),
                    "trk_deg": float(tracks.trk_deg[k]),
                }
                for k in range(len(tracks))
            ],
            "conflicts": [self._event("conflict", c, index) for c in self._conflicts.values()],
            "separation": {
                "rpz_m": self.separation.rpz_m,
                "hpz_m": self.separation.hpz_m,
                "lookahead_s": self.separation.lookahead_s,
            },
        }

    async def run(self) -> None:
        """Update when reports come (after :data:`BATCH_S`), and at least every :data:`IDLE_S`."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), IDLE_S)
            self._wake.clear()
            await asyncio.sleep(BATCH_S)
            try:
                await self.update()
            except Exception:
                log.exception("tactical picture update failed")


def _same(a: _Report, b: _Report) -> bool:
    if abs(a.t_s - b.t_s) > SAME_AIRCRAFT_S or abs(a.alt_m - b.alt_m) > SAME_AIRCRAFT_V_M:
        return False
    north = math.radians(a.lat - b.lat) * _EARTH_M
    east = math.radians(a.lng - b.lng) * _EARTH_M * math.cos(math.radians(a.lat))
    return math.hypot(north, east) <= SAME_AIRCRAFT_H_M


def _key(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def separation_of(rpz_nm: float | None, hpz_ft: float | None, lookahead_s: float | None) -> Separation:
    """A separation from settings (NM, ft, s; the defaults where None)."""
    base = Separation()
    return Separation(
        rpz_m=base.rpz_m if rpz_nm is None else rpz_nm * NM_M,
        hpz_m=base.hpz_m if hpz_ft is None else hpz_ft * FT_M,
        lookahead_s=base.lookahead_s if lookahead_s is None else lookahead_s,
    )


@contextlib.asynccontextmanager
async def running(pictures: Sequence[Picture]) -> AsyncIterator[None]:
    """Run every picture's loop while the server runs."""
    tasks = [asyncio.create_task(p.run()) for p in pictures]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
