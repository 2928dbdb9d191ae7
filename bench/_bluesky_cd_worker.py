#!/usr/bin/env python3
"""Runs inside the BlueSky virtualenv (see bench/tactical.py): times BlueSky's own C++ state-based
conflict detection, ``bluesky.traffic.asas.cstatebased.detect`` ("CDMETHOD CSTATEBASED"), on a snapshot
CSV, called exactly as BlueSky's ConflictDetection.update() calls it, and writes the unordered
conflicting pairs. No BlueSky code is copied here: it is imported and called.

    python _bluesky_cd_worker.py SNAPSHOT.csv PAIRS_OUT.csv --repeats 3 --max-seconds 60
Prints one line: ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import resource
import statistics
import time

import numpy as np

NM = 1852.0
FT = 0.3048


class Traffic:
    """The attributes detect() reads from BlueSky's ``traf`` object."""

    def __init__(self, path: str) -> None:
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
        self.ntraf = len(rows)
        self.id = [r["id"] for r in rows]
        for attr, col in (
            ("lat", "lat"),
            ("lon", "lon"),
            ("alt", "alt_m"),
            ("gs", "gs_mps"),
            ("trk", "trk_deg"),
            ("vs", "vs_mps"),
        ):
            setattr(self, attr, np.ascontiguousarray([float(r[col]) for r in rows], dtype=np.float64))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("snapshot")
    ap.add_argument("pairs_out")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-seconds", type=float, default=60.0)
    ap.add_argument("--rpz-nm", type=float, default=5.0)
    ap.add_argument("--hpz-ft", type=float, default=1000.0)
    ap.add_argument("--dtlook", type=float, default=300.0)
    a = ap.parse_args()
    with contextlib.redirect_stdout(io.StringIO()):  # BlueSky's import chatter
        from bluesky.traffic.asas import cstatebased
    traf = Traffic(a.snapshot)
    n = traf.ntraf
    rpz, hpz, tl = np.full(n, a.rpz_nm * NM), np.full(n, a.hpz_ft * FT), np.full(n, a.dtlook)
    times = []
    res = None
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        res = cstatebased.detect(traf, traf, rpz, hpz, tl)
        times.append(time.perf_counter() - t0)
        if sum(times) > a.max_seconds:
            break
    assert res is not None
    confpairs = res[0]
    pairs = sorted({(min(p), max(p)) for p in confpairs})
    with open(a.pairs_out, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(("id1", "id2"))
        w.writerows(pairs)
    out = {
        "impl": "bluesky_cstatebased",
        "n": n,
        "times_s": times,
        "median_s": statistics.median(times),
        "pairs": len(pairs),
        "directed": len(confpairs),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }
    print("RESULT " + json.dumps(out))


if __name__ == "__main__":
    main()
