"""Tracks a party chooses to share: positions of its own aircraft sent, once a second, to the
parties it names (``share_tracks_with``), whose nodes add them to their tactical pictures if they
accept them (``accept_tracks_from``). Least knowledge: nothing is shared unless both sides say so.

On the wire (``POST {peer}/line/v1/tracks``, scope ``parley.line``, ``sub`` = the sharing party):
``{"tracks": [{"track_id", "time", "lat", "lng", "alt_m", "speed_mps"?, "track_deg"?}]}`` (at most
:data:`MAX_SHARED` per call), the track id being the sender's operation id; they appear in the
receiver's picture as ``{sender}/{track id}``. Sharing is best effort: a peer that cannot be reached
misses those positions (they are live data, not records); the next second's go out anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from parley.clients.line import LinePeerClient
from parley.domain.operations import TelemetrySample
from parley.line.times import format_time
from parley.services.line import node as line_svc
from parley.services.line.node import LineNode

log = logging.getLogger("parley.sharing")

#: Most positions in one call.
MAX_SHARED = 10_000
#: How often shared positions go out, seconds.
PERIOD_S = 1.0


@dataclass(eq=False)
class Sharing:
    """One party's outgoing shared tracks (see the module)."""

    line: LineNode
    peers: LinePeerClient
    to: tuple[str, ...]
    _latest: dict[str, TelemetrySample] = field(default_factory=dict)

    def own(self, samples: Sequence[TelemetrySample]) -> None:
        """The party's aircraft reported: keep each one's latest position for the next sending."""
        if not self.to:
            return
        for s in samples:
            held = self._latest.get(s.operation_id)
            if held is None or s.t > held.t:
                self._latest[s.operation_id] = s

    async def send(self) -> int:
        """Send what is pending to every peer; how many positions went out."""
        if not self._latest:
            return 0
        latest, self._latest = self._latest, {}
        tracks: list[dict[str, Any]] = []
        for s in list(latest.values())[:MAX_SHARED]:
            track: dict[str, Any] = {
                "track_id": s.operation_id,
                "time": format_time(s.t),
                "lat": s.lat,
                "lng": s.lng,
                "alt_m": s.alt_m,
            }
            if s.speed_mps is not None:
                track["speed_mps"] = s.speed_mps
            if s.track_deg is not None:
                track["track_deg"] = s.track_deg
            tracks.append(track)
        for party in self.to:
            try:
                url = await line_svc.address_of(self.line, party)
                await self.peers.share_tracks(url, {"tracks": tracks})
            except Exception as error:
                log.info("tracks not shared with %s: %s", party, error)
        return len(tracks)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(PERIOD_S)
            try:
                await self.send()
            except Exception:
                log.exception("sharing tracks failed")


@contextlib.asynccontextmanager
async def running(sharings: Sequence[Sharing]) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(s.run()) for s in sharings if s.to]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
