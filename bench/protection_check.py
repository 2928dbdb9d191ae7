#!/usr/bin/env python3
"""Protection check: one operation of 100 volumes against 10,000 protected sites and movements,
with a prebuilt :class:`parley.protection.ProtectionIndex`.

The scene (seed 0): a 300 x 300 km region centred on 35.0 N 40.0 E (a desert with roads and towns),
one day.

- **Sites** (90%): points (70%, protection radius 50 m to 2 km, log-uniform) and polygons (30%, 6 to 20
  vertices, 50 m to 1 km across, radius 0 to 500 m), scattered uniformly, 30% of them clustered in
  20 towns; 80% notified for weeks, 20% for 1 to 6 hours of the day; 70% give the ground's altitude.
- **Movements** (10%): convoys on routes of 20 to 200 km (random walks, a vertex every 1 to 5 km),
  half-width 20 to 500 m, schedules of 2 to 20 waypoints through the day at 5 to 20 m/s, with stops
  (20% of legs) and turns back (10%), margin 10 minutes.
- **The operation**: 100 volumes, half circles (radius 200 m to 3 km), half polygons (20 to 50
  vertices, 1 to 5 km across), scattered over the region, each 30 to 90 minutes of a 12-hour day,
  from the ground to 120 m to 3 km above it.

Figures: the time to build the 10,000 values (each validates itself), the index build time, and the
check's median and p95 over ``--repeats`` runs (after one untimed run), wall clock and this process's
CPU time; the pairs the index returned, those left after the time and altitude filters, and the
conflicts found. ``--no-index`` also times one check without the index.

    .venv/bin/python bench/protection_check.py
    .venv/bin/python bench/protection_check.py --repeats 50 --no-index
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import time
from datetime import UTC, datetime, timedelta

import numpy as np

from parley.domain.geo import Circle, LatLng, Polygon, Volume3D, Volume4D
from parley.protection import (
    Category,
    ProtectedKind,
    ProtectedMovement,
    ProtectedSite,
    ProtectionIndex,
    Waypoint,
    check,
)
from parley.protection.exact import Footprints
from parley.strategic import Operation, prepare
from parley.strategic.earth import geod

CENTRE = (35.0, 40.0)
HALF_M = 150_000.0
DAY = datetime(2017, 5, 3, tzinfo=UTC)
CATEGORIES = list(Category)


def _places(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points in the region (east/north offsets from the centre, metres)."""
    east, north = rng.uniform(-HALF_M, HALF_M, n), rng.uniform(-HALF_M, HALF_M, n)
    az = np.degrees(np.arctan2(east, north))
    lng, lat, _ = geod().fwd(np.full(n, CENTRE[1]), np.full(n, CENTRE[0]), az, np.hypot(east, north))
    return np.asarray(lat), np.asarray(lng)


def _blob(lat: float, lng: float, radius_m: float, n: int, rng: np.random.Generator) -> Polygon:
    """A star-shaped polygon of ``n`` vertices about a point (radii jittered +-30%)."""
    az = np.sort(rng.uniform(0.0, 360.0, n))
    az = np.linspace(0.0, 360.0, n, endpoint=False) + rng.uniform(0, 360.0 / n * 0.5, n)
    r = radius_m * rng.uniform(0.7, 1.3, n)
    v_lng, v_lat, _ = geod().fwd(np.full(n, lng), np.full(n, lat), az, r)
    return Polygon(tuple(LatLng(float(a), float(o)) for a, o in zip(v_lat, v_lng, strict=True)))


def sites(rng: np.random.Generator, n: int) -> list[ProtectedSite]:
    lat, lng = _places(rng, n)
    towns_lat, towns_lng = _places(rng, 20)
    clustered = rng.random(n) < 0.3
    town = rng.integers(0, 20, n)
    d = rng.exponential(3_000.0, n)
    t_lng, t_lat, _ = geod().fwd(towns_lng[town], towns_lat[town], rng.uniform(0, 360, n), d)
    lat = np.where(clustered, t_lat, lat)
    lng = np.where(clustered, t_lng, lng)
    out = []
    for i in range(n):
        if rng.random() < 0.8:
            start = DAY - timedelta(days=int(rng.integers(1, 30)))
            end = DAY + timedelta(days=int(rng.integers(2, 30)))
        else:
            start = DAY + timedelta(hours=float(rng.uniform(0, 20)))
            end = start + timedelta(hours=float(rng.uniform(1, 6)))
        ground = float(rng.uniform(200, 600)) if rng.random() < 0.7 else None
        outline: LatLng | Polygon
        if rng.random() < 0.7:
            outline = LatLng(float(lat[i]), float(lng[i]))
            radius = float(math.exp(rng.uniform(math.log(50), math.log(2000))))
        else:
            outline = _blob(
                float(lat[i]), float(lng[i]), float(rng.uniform(25, 500)), int(rng.integers(6, 21)), rng
            )
            radius = float(rng.uniform(0, 500))
        out.append(
            ProtectedSite(
                f"site-{i}",
                CATEGORIES[int(rng.integers(0, len(CATEGORIES)))],
                outline,
                radius,
                start,
                end,
                f"site {i}",
                ground_m=ground,
            )
        )
    return out


def movements(rng: np.random.Generator, n: int) -> list[ProtectedMovement]:
    lat0, lng0 = _places(rng, n)
    out = []
    for i in range(n):
        length = rng.uniform(20_000, 200_000)
        steps = rng.uniform(1_000, 5_000, int(length // 1_000) + 2)
        steps = steps[: int(np.searchsorted(np.cumsum(steps), length)) + 1]
        heading = rng.uniform(0, 360) + np.cumsum(rng.normal(0, 15, steps.size))
        lat, lng = [float(lat0[i])], [float(lng0[i])]
        for h, s in zip(heading, steps, strict=True):
            x, y, _ = geod().fwd(lng[-1], lat[-1], h, s)
            lng.append(float(x))
            lat.append(float(y))
        route = tuple(LatLng(a, o) for a, o in zip(lat, lng, strict=True))
        total = float(np.sum(steps))
        t = DAY + timedelta(hours=float(rng.uniform(0, 14)))
        d = 0.0
        schedule = [Waypoint(t, 0.0)]
        for _ in range(int(rng.integers(1, 20))):
            r = rng.random()
            leg_s = float(rng.uniform(600, 3600))
            if r < 0.2:
                nd = d  # a stop
            elif r < 0.3:
                nd = max(0.0, d - rng.uniform(5, 20) * leg_s)  # turning back
            else:
                nd = min(total, d + rng.uniform(5, 20) * leg_s)
            t += timedelta(seconds=leg_s)
            d = nd
            schedule.append(Waypoint(t, d))
        out.append(
            ProtectedMovement(
                f"move-{i}",
                route,
                float(rng.uniform(20, 500)),
                tuple(schedule),
                vehicles=int(rng.integers(2, 40)),
                markings="white trucks",
                name=f"convoy {i}",
            )
        )
    return out


def operation(rng: np.random.Generator, n: int = 100) -> Operation:
    lat, lng = _places(rng, n)
    volumes = []
    for i in range(n):
        if i % 2:
            outline: Circle | Polygon = Circle(
                LatLng(float(lat[i]), float(lng[i])), float(rng.uniform(200, 3000))
            )
        else:
            outline = _blob(
                float(lat[i]), float(lng[i]), float(rng.uniform(500, 2500)), int(rng.integers(20, 51)), rng
            )
        start = DAY + timedelta(hours=6) + timedelta(minutes=float(rng.uniform(0, 12 * 60 - 90)))
        ground = float(rng.uniform(200, 600))
        volumes.append(
            Volume4D(
                Volume3D(outline, ground, ground + float(rng.uniform(120, 3000))),
                start,
                start + timedelta(minutes=float(rng.uniform(30, 90))),
            )
        )
    return Operation("bench-op", tuple(volumes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--no-index", action="store_true", help="also time one check without the index")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    t = time.perf_counter()
    n_moves = args.items // 10
    items: list[ProtectedSite | ProtectedMovement] = [
        *sites(rng, args.items - n_moves),
        *movements(rng, n_moves),
    ]
    built_s = time.perf_counter() - t
    op = operation(rng)
    t = time.perf_counter()
    index = ProtectionIndex.build(items)
    index_s = time.perf_counter() - t
    print(f"# {platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs")
    n_vert = sum(len(p.route) if isinstance(p, ProtectedMovement) else 1 for p in items)
    print(
        f"items: {len(items) - n_moves} sites, {n_moves} movements ({n_vert} route points + sites), "
        f"{len(index.entries)} entries; built and validated in {built_s:.2f} s"
    )
    print(f"index build: {index_s * 1000:.0f} ms")
    prep = prepare(op)
    v, e = index.query(Footprints.of(prep).box)
    ent = index.entries
    live = (ent.t_lo_us[e] < prep.t_end_us[v]) & (ent.t_hi_us[e] > prep.t_start_us[v])
    result = check(op, items, index=index)
    n_site = sum(c.kind is ProtectedKind.SITE for c in result)
    print(
        f"operation: {len(op.volumes)} volumes; index pairs {v.size}, live in time {int(live.sum())}; "
        f"conflicts: {n_site} with sites, {len(result) - n_site} with movements"
    )
    wall, cpu = [], []
    for _ in range(args.repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        check(op, items, index=index)
        wall.append((time.perf_counter() - w0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    wall.sort()
    p95 = wall[min(len(wall) - 1, math.ceil(0.95 * len(wall)) - 1)]
    print(
        f"check with index: median {statistics.median(wall):.1f} ms, p95 {p95:.1f} ms "
        f"(cpu median {statistics.median(cpu):.1f} ms) over {args.repeats} runs; target <= 50 ms"
    )
    if args.no_index:
        t = time.perf_counter()
        plain = check(op, items)
        print(
            f"check without index: {(time.perf_counter() - t) * 1000:.0f} ms (same result: {plain == result})"
        )


if __name__ == "__main__":
    main()
