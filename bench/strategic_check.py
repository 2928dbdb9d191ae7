#!/usr/bin/env python3
"""Strategic conflict check: one operation of 100 volumes (50-vertex polygons) against 1,000
candidate volumes (100 other operations of 10 volumes), timed end to end.

Scenarios (seed 0, around 47.0 N 8.0 E, a 40 km route flown over 2 hours):

- ``typical``: candidates scattered over the route's area (2 km either side), altitude bands
  and time windows drawn at random within the subject's: most pairs fall to the broad phase, a
  few dozen volume pairs conflict;
- ``dense``: every candidate shares the subject's whole time span and altitude band and lies
  within 600 m of the route: every candidate meets one or more subject volumes in 4D boxes, and
  the exact phase carries the load;
- ``circles``: as ``typical`` with half of the candidates circles (F3548 ``outline_circle``);
- ``dense-circles``: as ``dense`` with half of the candidates circles.

Each scenario is timed ``cold`` (the others given as plain operations: validation, ECEF, broad
and exact phases, reports) and ``warm`` (the others prepared and validated beforehand, as a party node
that caches what it learns from peers; the subject is still prepared in the timing). Figures:
median and p95 over ``--repeats`` runs, after one untimed run, and the median CPU time of this
process (close to an idle machine's wall-clock time when other work shares the cores); ``+maps`` is the median of the
check followed by drawing every conflict's GeoJSON footprint (drawn on demand, not by the check).
Columns: volume pairs considered, pairs past the broad phase, conflicting volume pairs,
conflicting operations, blocking ones.

    python bench/strategic_check.py
    python bench/strategic_check.py --repeats 50 --scenarios typical
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import platform
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np

from parley.domain.geo import Circle, LatLng, Polygon, Volume3D, Volume4D
from parley.strategic import CheckResult, Operation, check, prepare_all
from parley.strategic.earth import geod

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
SPAN = timedelta(hours=2)
CENTRE = (47.0, 8.0)
ROUTE_M = 40_000.0
SCENARIOS = ("typical", "dense", "circles", "dense-circles")


def _offset(lat: float, lng: float, east_m: float, north_m: float) -> tuple[float, float]:
    az = math.degrees(math.atan2(east_m, north_m))
    lng2, lat2, _ = geod().fwd(lng, lat, az, math.hypot(east_m, north_m))
    return lat2, lng2


def _blob(lat: float, lng: float, radius_m: float, rng: np.random.Generator, vertices: int = 50) -> Polygon:
    """A star-convex 50-vertex polygon around a point (radius varying by up to 25 %)."""
    az = np.sort(rng.uniform(0.0, 360.0, vertices))
    r = radius_m * (1.0 + 0.25 * np.sin(np.radians(az) * 3 + rng.uniform(0, 6.28)))
    lngs, lats, _ = geod().fwd(np.full(vertices, lng), np.full(vertices, lat), az, r)
    return Polygon(tuple(LatLng(float(a), float(o)) for a, o in zip(lats, lngs, strict=True)))


def _route_point(s: float) -> tuple[float, float]:
    """A point along a gently winding route, ``s`` in [0, 1]."""
    east = (s - 0.5) * ROUTE_M
    north = 3000.0 * math.sin(2.0 * math.pi * s)
    return _offset(*CENTRE, east, north)


def subject_operation(rng: np.random.Generator) -> Operation:
    volumes = []
    step = SPAN / 100
    for k in range(100):
        lat, lng = _route_point((k + 0.5) / 100)
        volumes.append(
            Volume4D(
                Volume3D(_blob(lat, lng, 450.0, rng), 0.0, 150.0),
                T0 + step * k - timedelta(minutes=1),
                T0 + step * (k + 1) + timedelta(minutes=1),
            )
        )
    return Operation("subject", tuple(volumes), priority=10, manager="bench")


def other_operations(rng: np.random.Generator, dense: bool, circles: bool) -> list[Operation]:
    ops = []
    for n in range(100):
        volumes = []
        for _ in range(10):
            lat, lng = _route_point(float(rng.uniform(0.0, 1.0)))
            spread = 600.0 if dense else 2000.0
            lat, lng = _offset(
                lat, lng, float(rng.uniform(-spread, spread)), float(rng.uniform(-spread, spread))
            )
            size = float(rng.uniform(150.0, 500.0))
            outline: Circle | Polygon = (
                Circle(LatLng(lat, lng), size)
                if circles and rng.uniform() < 0.5
                else _blob(lat, lng, size, rng)
            )
            if dense:
                lo, hi, start, end = 0.0, 150.0, T0, T0 + SPAN
            else:
                lo = float(rng.uniform(0.0, 250.0))
                hi = lo + float(rng.uniform(30.0, 150.0))
                start = T0 + timedelta(minutes=float(rng.uniform(0.0, 110.0)))
                end = start + timedelta(minutes=float(rng.uniform(5.0, 30.0)))
            volumes.append(Volume4D(Volume3D(outline, lo, hi), start, end))
        ops.append(Operation(f"other-{n}", tuple(volumes), priority=int(rng.integers(0, 20))))
    return ops


def _timed(fn: Callable[[], object], repeats: int) -> tuple[list[float], list[float], object]:
    """Wall-clock and CPU milliseconds of each run (CPU time is what this process used: on a busy
    machine it stays near what an idle one would show, while wall-clock time grows)."""
    result = fn()
    wall, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - t) * 1000.0)
        cpu.append((time.process_time() - c) * 1000.0)
    return wall, cpu, result


def _draw_after(run: Callable[[], CheckResult]) -> int:
    return _footprints(run())


def _footprints(result: CheckResult) -> int:
    """Draw every conflict's GeoJSON footprint (what a report shows); returns the vertex count."""
    total = 0
    for c in result.conflicts:
        for o in c.overlaps:
            shape = o.footprint
            polygons = [shape["coordinates"]] if shape["type"] == "Polygon" else shape["coordinates"]
            total += sum(len(ring) for rings in polygons for ring in rings)
    return total


def _p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    args = parser.parse_args()

    print(
        f"strategic check: 100 subject volumes (50-vertex polygons) x 1000 candidate volumes, {args.repeats} repeats"
    )
    print(
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}"
    )
    print(f"load average {os.getloadavg()[0]:.2f} (other work on this machine slows every figure)")
    print(
        f"{'scenario':<14} {'mode':<5} {'median ms':>9} {'p95 ms':>7} {'cpu ms':>7} {'+maps ms':>10} "
        f"{'pairs':>7} {'exact':>6} "
        f"{'vol.conf':>8} {'ops':>4} {'blocking':>8}"
    )
    for name in args.scenarios.split(","):
        rng = np.random.default_rng(0)
        subject = subject_operation(rng)
        others = other_operations(rng, dense=name.startswith("dense"), circles=name.endswith("circles"))
        prepared = prepare_all(others)
        for mode, pool in (("cold", others), ("warm", prepared)):
            run = functools.partial(check, subject, pool)
            times, cpu, result = _timed(run, args.repeats)
            with_maps, _, _ = _timed(functools.partial(_draw_after, run), max(3, args.repeats // 3))
            assert isinstance(result, CheckResult)
            conflicts = result.conflicts
            volume_pairs = sum(len(c.overlaps) for c in conflicts)
            print(
                f"{name:<14} {mode:<5} {statistics.median(times):>9.1f} {_p95(times):>7.1f} "
                f"{statistics.median(cpu):>7.1f} "
                f"{statistics.median(with_maps):>10.1f} "
                f"{result.pairs_considered:>7} {result.pairs_exact:>6} {volume_pairs:>8} {len(conflicts):>4} "
                f"{len(result.blocking):>8}"
            )


if __name__ == "__main__":
    main()
