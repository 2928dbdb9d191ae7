#!/usr/bin/env python3
"""The live tactical picture of a party node: how long an update takes with N tracks reporting at 1 Hz.

A party node's picture (:mod:`parley.services.party.picture`) runs the incremental tactical engine
over its own aircraft and its surveillance feeds' returns. Here N synthetic aircraft (random
positions at the tactical benchmark's density, 0.02 aircraft per km2, on flight levels FL100-FL400,
cruise speeds; every 50th pair converging so that conflicts exist) report once a second for ``--seconds`` seconds, as one surveillance feed's batch per
second (``Picture.feed``); each second the picture updates (``Picture.update``: the reports taken,
the detector updated at the epoch, conflicts diffed and pushed). Reported: the update's wall time
(p50/p95/max) and the time from the batch handed in to the conflicts pushed, per N.

This is the server side of the picture; the time to render in the browser is the map's benchmark.

Usage::

    python bench/picture_latency.py                   # N = 10,000 and 100,000, 20 seconds each
    python bench/picture_latency.py --n 1000 --seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import Progress

from parley.domain.operations import TelemetrySample
from parley.ports.clock import FixedClock
from parley.services.party.picture import Picture

console = Console(stderr=True)


class _Node:
    """What the picture needs of a party node: its clock and its operators' notifications."""

    def __init__(self, clock: FixedClock) -> None:
        self.clock = clock
        self.party = "bench"
        self.told = 0

    def now(self) -> datetime:
        return self.clock.now()

    def notify_user(self, *args: Any, **kwargs: Any) -> None:
        self.told += 1


def _fleet(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    # the tactical benchmark's density (0.02 aircraft per km2: 10,000 over a 707 km square), flight
    # levels 1000 ft apart from FL100 to FL400
    side_km = math.sqrt(n / 0.02)
    lat0, lng0 = 45.0, 5.0
    lat = lat0 + rng.uniform(0.0, side_km / 111.2, n)
    lng = lng0 + rng.uniform(0.0, side_km / (111.2 * math.cos(math.radians(lat0 + side_km / 222.4))), n)
    alt = rng.choice(np.arange(100, 401, 10) * 100 * 0.3048, n)
    gs = rng.uniform(120.0, 250.0, n)
    trk = rng.uniform(0.0, 360.0, n)
    # every 50th aircraft heads straight at its neighbour, at its altitude: conflicts to find
    for i in range(0, n - 1, 50):
        lat[i + 1], lng[i + 1], alt[i + 1] = lat[i], lng[i] + 0.4, alt[i]
        trk[i], trk[i + 1] = 90.0, 270.0
    return {"lat": lat, "lng": lng, "alt": alt, "gs": gs, "trk": trk}


def run(n: int, seconds: int, seed: int) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        t0 = datetime(2026, 12, 8, 12, tzinfo=UTC)
        clock = FixedClock(t0)
        node = _Node(clock)
        events: list[dict[str, Any]] = []
        picture = Picture(node, events.append)  # type: ignore[arg-type]
        fleet = _fleet(n, seed)
        updates, latencies = [], []
        ids = [f"t{i}" for i in range(n)]
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"{n:,} tracks", total=seconds)
            for s in range(seconds):
                t = t0 + timedelta(seconds=s)
                clock.set(t)
                d = fleet["gs"] * s
                rad = np.radians(fleet["trk"])
                lat = fleet["lat"] + np.degrees(d * np.cos(rad) / 6_371_000.0)
                lng = fleet["lng"] + np.degrees(d * np.sin(rad) / (6_371_000.0 * np.cos(np.radians(lat))))
                samples = [
                    TelemetrySample(ids[i], t, float(lat[i]), float(lng[i]), float(fleet["alt"][i]),
                                    float(fleet["gs"][i]), float(fleet["trk"][i]), 0.0)
                    for i in range(n)
                ]  # fmt: skip
                handed = time.perf_counter()
                picture.feed("radar", samples)
                await picture.update()
                latencies.append(time.perf_counter() - handed)
                updates.append(picture.last_update_s)
                progress.advance(task)
        steady = updates[2:] or updates  # the first updates evaluate every pair
        lat_steady = latencies[2:] or latencies
        q = sorted(lat_steady)
        return {
            "tracks": n,
            "seconds": seconds,
            "conflicts": len(picture.view()["conflicts"]),
            "first_update_s": updates[0],
            "update_p50_s": statistics.median(steady),
            "update_p95_s": sorted(steady)[min(len(steady) - 1, math.ceil(0.95 * len(steady)) - 1)],
            "handed_to_pushed_p50_s": statistics.median(q),
            "handed_to_pushed_p95_s": q[min(len(q) - 1, math.ceil(0.95 * len(q)) - 1)],
            "handed_to_pushed_max_s": q[-1],
            "events": len(events),
        }

    return asyncio.run(go())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--n", type=int, action="append", help="tracks (repeatable; default 10,000 and 100,000)"
    )
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = [run(n, args.seconds, args.seed) for n in (args.n or [10_000, 100_000])]
    for r in results:
        print(
            f"{r['tracks']:>7,} tracks at 1 Hz: update p50 {r['update_p50_s'] * 1000:.0f} ms, p95 "
            f"{r['update_p95_s'] * 1000:.0f} ms (first {r['first_update_s']:.2f} s); batch handed in -> conflicts "
            f"pushed p50 {r['handed_to_pushed_p50_s'] * 1000:.0f} ms, p95 {r['handed_to_pushed_p95_s'] * 1000:.0f} ms, "
            f"max {r['handed_to_pushed_max_s'] * 1000:.0f} ms; {r['conflicts']} conflicts"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
