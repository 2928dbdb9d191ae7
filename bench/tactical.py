#!/usr/bin/env python3
"""Tactical conflict detection: Parley's fast detector beside BlueSky's C++ detector, same inputs, one run.

For each N (synthetic traffic, 1000 km square, flight levels plus 20 % climbing/descending, seed 0;
5 NM / 1000 ft / 300 s) the snapshot is written to CSV; Parley (``SweptGridDetector``, this venv) and
BlueSky 1.1.1's ``CSTATEBASED`` (``bluesky.traffic.asas.cstatebased.detect``, in a virtualenv of its own
created on first use under ``~/.cache/parley-bench/``) both read that file and are timed; their conflict
sets are compared and every difference is classified:

- ``vtie``: the two aircraft are exactly 1000 ft apart (within 1 mm): BlueSky's strict ``|dalt| < hpz``
  is decided by rounding noise there; Parley separates them (1 mm vertical tolerance, documented);
- ``geometry``: BlueSky's flat-earth geometry, evaluated by Parley on that very pair
  (``Geometry.FLAT``, strict rule), decides like BlueSky: the difference is the earth model's;
- ``other``: anything else (expected: none).

Then Parley alone at ``--big`` aircraft (in the same 1000 km square, and at the density of the largest
N), peak memory measured in a child process; the incremental mode on a stream over the largest N (1 % and
10 % of the aircraft reporting each second) beside a full recomputation; and the replay of a recorded hour
of real ADS-B traffic (``bench/tactical_data.py``), every tick checked against a full recomputation.

    python bench/tactical.py                        # everything (about 3 minutes on 2 cores)
    python bench/tactical.py --ns 1000,2000 --big 0 --no-replay --no-bluesky
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import tactical_data  # noqa: E402

from parley.tactical import (  # noqa: E402
    FT_M,
    Geometry,
    IncrementalDetector,
    Separation,
    SweptGridDetector,
    TrackBatch,
)
from parley.tactical.cpa import evaluate_pairs  # noqa: E402
from parley.tactical.geometry import prepare  # noqa: E402
from parley.tactical.io import read_frames, read_tracks  # noqa: E402
from parley.tactical.replay import replay  # noqa: E402

BLUESKY = "bluesky-simulator==1.1.1"
REPLAYS = (
    ("quickstart", "2021-10-07T13:00:00Z", 1.0),  # Paris region, ~1 s reports, 1 s ticks
    ("switzerland", "2018-08-01T12:00:00Z", 1.0),  # Swiss upper airspace, 10 s reports, 1 s ticks
)


def bluesky_python() -> Path:
    """The BlueSky virtualenv's python, created on first use."""
    venv = Path(os.environ.get("PARLEY_BLUESKY_VENV") or tactical_data.cache_dir() / "bluesky-venv")
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"creating {venv} with {BLUESKY} (once)", file=sys.stderr, flush=True)
        subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", BLUESKY, "numpy"], check=True)
    return python


def run_bluesky(python: Path, snapshot: Path, pairs_out: Path, repeats: int) -> dict:
    cmd = [
        str(python),
        str(HERE / "_bluesky_cd_worker.py"),
        str(snapshot),
        str(pairs_out),
        "--repeats",
        str(repeats),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"BlueSky worker failed ({proc.returncode}): {proc.stderr[-2000:]}")


def read_pairs(path: Path) -> set[tuple[str, str]]:
    with open(path) as fh:
        next(fh)
        return {tuple(line.strip().split(",")) for line in fh if line.strip()}  # type: ignore[misc]


def time_parley(batch: TrackBatch, repeats: int) -> tuple[float, list[float], set[tuple[str, str]]]:
    detector = SweptGridDetector()
    result = detector.detect(batch)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = detector.detect(batch)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, result.pairs()


def classify(
    batch: TrackBatch, differing: set[tuple[str, str]], bluesky: set[tuple[str, str]]
) -> dict[str, int]:
    """Why each pair in ``differing`` is decided differently (see the module docstring)."""
    counts = {"vtie": 0, "geometry": 0, "other": 0}
    if not differing:
        return counts
    row = {str(k): i for i, k in enumerate(batch.ids)}
    pairs = sorted(differing)
    i = np.array([row[a] for a, _ in pairs], dtype=np.intp)
    j = np.array([row[b] for _, b in pairs], dtype=np.intp)
    hpz = 1000 * FT_M
    flat = prepare(batch, Separation(vertical_tolerance_m=0.0), Geometry.FLAT)
    flat_conflict = evaluate_pairs(flat, i, j).window(batch.epoch_s)
    for k, pair in enumerate(pairs):
        dalt = abs(batch.alt_m[j[k]] - batch.alt_m[i[k]])
        if abs(dalt - hpz) < 1e-3 and batch.vs_mps[i[k]] == batch.vs_mps[j[k]]:
            counts["vtie"] += 1
        elif bool(flat_conflict[k]) == (pair in bluesky):
            counts["geometry"] += 1
        else:
            counts["other"] += 1
    return counts


def child_peak(snapshot: Path) -> dict:
    """Time (median of 3 after a warm-up) and peak resident memory of detection in a fresh process
    (interpreter and numpy included)."""
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", str(snapshot)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def worker(snapshot: Path) -> None:
    batch = read_tracks(snapshot)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    detector = SweptGridDetector()
    detector.detect(batch)  # warm-up, as a live monitor runs detection again and again
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        result = detector.detect(batch)
        times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(
        json.dumps(
            {
                "n": len(batch),
                "median_s": statistics.median(times),
                "times_s": times,
                "conflicts": len(result),
                "peak_rss_mb": peak,
                "rss_before_mb": base,
            }
        )
    )


def run_incremental(n: int, fraction: float, ticks: int = 10) -> dict:
    """A stream over synthetic traffic: each second a fraction of the aircraft report (a new track, as
    after a turn); the incremental update against a full recomputation of the same table."""
    snap = tactical_data.synthetic(n)
    batch = TrackBatch.from_columns(
        snap.ids,
        lat_deg=snap.lat,
        lon_deg=snap.lon,
        alt_m=snap.alt_m,
        gs_mps=snap.gs_mps,
        trk_deg=snap.trk_deg,
        vs_mps=snap.vs_mps,
    )
    rng = np.random.default_rng(1)
    monitor, full = IncrementalDetector(), SweptGridDetector()
    monitor.update(batch)
    t_inc, t_full, same = [], [], True
    for k in range(1, ticks + 1):
        table = monitor.tracks
        sub = table.take(np.flatnonzero(rng.random(len(table)) < fraction))
        reports = TrackBatch.from_columns(
            sub.ids,
            lat_deg=sub.lat_deg,
            lon_deg=sub.lon_deg,
            alt_m=sub.alt_m,
            gs_mps=sub.gs_mps,
            trk_deg=(sub.trk_deg + rng.normal(0.0, 3.0, len(sub))) % 360.0,
            vs_mps=sub.vs_mps,
            t_s=float(k),
        )
        t0 = time.perf_counter()
        got = monitor.update(reports, epoch_s=float(k))
        t_inc.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        expected = full.detect(monitor.tracks, epoch_s=float(k))
        t_full.append(time.perf_counter() - t0)
        same &= expected.identical(got)
    return {
        "n": n,
        "fraction": fraction,
        "incremental_s": statistics.median(t_inc),
        "full_s": statistics.median(t_full),
        "identical": same,
        "conflicts": len(got),
    }


def run_replay(sample: str, start: str, tick_s: float, out_dir: Path) -> dict:
    path = out_dir / f"{sample}_1h_reports.csv.gz"
    if not path.exists():
        start_s = tactical_data.datetime.fromisoformat(start).timestamp()
        tactical_data.write_reports(tactical_data.reports(sample, start_s, 60.0), path)
    frames = read_frames(path)
    monitor = IncrementalDetector()
    full = SweptGridDetector()
    ticks = pair_ticks = peak = evaluated = states = mismatches = 0
    t_inc = t_full = 0.0
    t0 = time.perf_counter()
    for tick in replay(frames, monitor, tick_s=tick_s, max_age_s=30.0):
        t_inc += time.perf_counter() - t0
        ticks += 1
        pair_ticks += len(tick.conflicts)
        peak = max(peak, tick.stats.aircraft)
        evaluated += tick.stats.evaluated_rows
        states += tick.stats.aircraft
        t1 = time.perf_counter()
        if not full.detect(monitor.tracks, epoch_s=tick.epoch_s).identical(tick.conflicts):
            mismatches += 1
        t_full += time.perf_counter() - t1
        t0 = time.perf_counter()
    return {
        "sample": sample,
        "start": start,
        "reports": sum(len(b) for _, b in frames),
        "ticks": ticks,
        "tick_s": tick_s,
        "max_aircraft": peak,
        "conflict_pair_ticks": pair_ticks,
        "replay_s": t_inc,
        "per_tick_ms": 1000 * t_inc / max(ticks, 1),
        "full_recompute_s": t_full,
        "reevaluated_share": evaluated / max(states, 1),
        "ticks_differing_from_full": mismatches,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ns", default="1000,2000,5000,10000,20000")
    ap.add_argument("--big", type=int, default=100_000, help="Parley alone at this N (0: skip)")
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--bluesky-repeats", type=int, default=3)
    ap.add_argument("--no-bluesky", action="store_true")
    ap.add_argument("--no-replay", action="store_true")
    ap.add_argument("--out-dir", type=Path, default=Path("build/bench-tactical"))
    ap.add_argument("--worker", type=Path, default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        worker(a.worker)
        return
    out = a.out_dir
    out.mkdir(parents=True, exist_ok=True)
    env = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
    }
    with open("/proc/cpuinfo") as fh:
        env["cpu"] = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), "?")
    env["load_average_at_start"] = os.getloadavg()[0]
    python = None if a.no_bluesky else bluesky_python()
    rows = []
    ns = [int(x) for x in a.ns.split(",") if x]
    for n in ns:
        snapshot = tactical_data.write_snapshot(tactical_data.synthetic(n), out / f"synthetic_N{n}.csv")
        batch = read_tracks(snapshot)
        median, times, pairs = time_parley(batch, a.repeats)
        row: dict = {
            "n": n,
            "parley_s": median,
            "parley_min_s": min(times),
            "parley_times_s": times,
            "parley_pairs": len(pairs),
        }
        if python is not None:
            bs = run_bluesky(python, snapshot, out / f"pairs_bluesky_N{n}.csv", a.bluesky_repeats)
            bs_pairs = read_pairs(out / f"pairs_bluesky_N{n}.csv")
            row.update(
                bluesky_s=bs["median_s"],
                bluesky_min_s=min(bs["times_s"]),
                bluesky_times_s=bs["times_s"],
                bluesky_pairs=len(bs_pairs),
                speedup=bs["median_s"] / median,
                common=len(pairs & bs_pairs),
                only_parley=len(pairs - bs_pairs),
                only_bluesky=len(bs_pairs - pairs),
                differences=classify(batch, pairs ^ bs_pairs, bs_pairs),
            )
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    big = []
    if a.big and ns:
        dens = ns[-1] / 1000.0**2
        for label, snap in (
            ("1000 km square", tactical_data.synthetic(a.big)),
            (
                f"same density as N={ns[-1]} ({dens:g}/km2)",
                tactical_data.synthetic(a.big, density_per_km2=dens),
            ),
        ):
            path = tactical_data.write_snapshot(snap, out / f"synthetic_N{a.big}_{len(big)}.csv")
            rec = child_peak(path)
            rec["region"] = label
            big.append(rec)
            print(json.dumps(rec), file=sys.stderr, flush=True)
    streams = [run_incremental(ns[-1], f) for f in (0.01, 0.1)] if ns else []
    for r in streams:
        print(json.dumps(r), file=sys.stderr, flush=True)
    replays = [] if a.no_replay else [run_replay(s, start, tick, out) for s, start, tick in REPLAYS]
    for r in replays:
        print(json.dumps(r), file=sys.stderr, flush=True)
    (out / "results.json").write_text(
        json.dumps({"env": env, "rows": rows, "big": big, "streams": streams, "replays": replays}, indent=1)
    )
    print(
        f"\n## Tactical conflict detection, 5 NM / 1000 ft / 300 s ({env['cpu']}, {env['cpus']} CPUs, "
        f"load average {env['load_average_at_start']:.1f} at start, {os.getloadavg()[0]:.1f} at end)\n"
    )
    print(
        "| N | Parley s median (min) | BlueSky CSTATEBASED s median (min) | speed-up of medians | Parley pairs "
        "| BlueSky pairs | common | differ: vtie / geometry / other |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        d = r.get("differences", {})
        print(
            f"| {r['n']} | {r['parley_s']:.4f} ({r['parley_min_s']:.4f}) | "
            f"{r.get('bluesky_s', float('nan')):.3f} ({r.get('bluesky_min_s', float('nan')):.3f}) | "
            f"{r.get('speedup', float('nan')):.0f}x | {r['parley_pairs']} | {r.get('bluesky_pairs', '-')} | "
            f"{r.get('common', '-')} | {d.get('vtie', '-')} / {d.get('geometry', '-')} / {d.get('other', '-')} |"
        )
    if big:
        print("\n| N (Parley alone) | region | median s | conflicts | peak RSS MB (process) |")
        print("|---|---|---|---|---|")
        for b in big:
            print(
                f"| {b['n']} | {b['region']} | {b['median_s']:.3f} | {b['conflicts']} | {b['peak_rss_mb']:.0f} |"
            )
    if streams:
        print(
            "\n| stream: N | reporting per tick | incremental update s | full recomputation s | identical |"
        )
        print("|---|---|---|---|---|")
        for r in streams:
            print(
                f"| {r['n']} | {r['fraction']:.0%} | {r['incremental_s']:.4f} | {r['full_s']:.4f} | {r['identical']} |"
            )
    if replays:
        print(
            "\n| replay (1 recorded hour) | reports | ticks | max aircraft | conflict pair-ticks | replay s | "
            "ms/tick | rows re-evaluated | ticks != full |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for r in replays:
            print(
                f"| {r['sample']} {r['start']} | {r['reports']} | {r['ticks']} | {r['max_aircraft']} | "
                f"{r['conflict_pair_ticks']} | {r['replay_s']:.2f} | {r['per_tick_ms']:.2f} | "
                f"{r['reevaluated_share']:.0%} | {r['ticks_differing_from_full']} |"
            )
    print(f"\nresults: {out / 'results.json'}")


if __name__ == "__main__":
    main()
