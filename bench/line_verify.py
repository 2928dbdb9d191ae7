#!/usr/bin/env python3
"""Offline verification speed of a line transcript (target: 100,000 entries in <= 5 s).

Builds once a transcript of ``--n`` entries (default 100,000) between two parties, RED and BLUE:
RED sends vacate requests (a 5-vertex polygon, altitude band, window; 30-minute deadline), BLUE's
node signs the receipt, its duty officer reads and accepts, every fourth with conditions; the
witness countersigns RED's head every 100 requests. The transcript is RED's export, written to
JSON and read back (as ``parley line verify`` would), then :func:`verify_transcript` is timed
``--repeats`` times: in this process (``serial``) and with the per-entry work (parsing, hashing,
Ed25519 verification) spread over ``--workers`` processes (``parallel``; the linear pass over the
chains, cross-references and the life cycle stays in this process). Figures: median wall-clock
seconds, entries per second, and this process's CPU seconds.

    python bench/line_verify.py
    python bench/line_verify.py --n 20000 --repeats 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from parley.line.chain import ChainHead, append, genesis
from parley.line.entry import Entry, Kind
from parley.line.keys import PartyKey
from parley.line.transcript import Parsed, export, verify_transcript
from parley.line.witness import countersign

T0 = datetime(2017, 5, 3, 6, 0, tzinfo=UTC)


def _volume(i: int, start: datetime) -> dict[str, Any]:
    lng, lat = 40.0 + (i % 100) * 0.01, 35.0 + (i // 100 % 100) * 0.01
    ring = [[lng, lat], [lng + 0.05, lat], [lng + 0.06, lat + 0.03], [lng, lat + 0.05], [lng, lat]]
    return {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {
            "alt_lower_m": 0,
            "alt_upper_m": 6000,
            "start": (start + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "end": (start + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        },
    }


def build(n: int) -> dict[str, Any]:
    red_key, blue_key, witness = PartyKey.generate(), PartyKey.generate(), PartyKey.generate()
    red = [genesis("RED", red_key, at=T0, name="Red forces")]
    blue = [genesis("BLUE", blue_key, at=T0, name="Blue air")]
    held: list[Entry] = []
    marks = []
    requests = (n - 2) // 4
    for i in range(requests):
        t = T0 + timedelta(seconds=10 * i + 1)
        body = {
            "type": "vacate",
            "subject": f"assault area {i}",
            "reason": "ground assault: keep the airspace clear",
            "deadline": (t + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "volume": _volume(i, t),
        }
        req = append(
            ChainHead.of(red[-1]),
            red_key,
            at=t,
            kind=Kind.REQUEST,
            body=body,
            thread=str(uuid.uuid4()),
            to=["BLUE"],
        )
        red.append(req)
        held.append(req)
        for k, (kind, answer) in enumerate(
            [
                (Kind.DELIVERED, {}),
                (Kind.READ, {}),
                (Kind.ACCEPT, {"conditions": "exit west"} if i % 4 == 0 else {}),
            ]
        ):
            entry = append(
                ChainHead.of(blue[-1]),
                blue_key,
                at=t + timedelta(seconds=k + 1),
                kind=kind,
                body=answer,
                thread=req.thread,
                answers=req.hash,
            )
            blue.append(entry)
            held.append(entry)
        if i % 100 == 99:
            marks.append(countersign(ChainHead.of(red[-1]), witness, at=t + timedelta(seconds=5)))
    end = T0 + timedelta(seconds=10 * requests + 3600)
    return export("RED", end, [red[0], blue[0], *held], marks)


def _timed(run: Callable[[], Any]) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000, help="entries in the transcript")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    t = time.perf_counter()
    doc = json.loads(json.dumps(build(args.n)))
    entries = len(doc["entries"]) + sum(map(len, doc["keys"].values()))
    print(
        f"built a transcript of {entries:,} entries in {time.perf_counter() - t:.1f} s ({len(json.dumps(doc)) / 1e6:.0f} MB)"
    )
    key = PartyKey.generate()
    public = key.private.public_key()
    raw = key.private.sign(b"x" * 300)
    wall = time.perf_counter()
    for _ in range(2000):
        public.verify(raw, b"x" * 300)
    each = (time.perf_counter() - wall) / 2000
    print(
        f"one Ed25519 verification: {each * 1e6:.0f} µs here; the signatures alone take "
        f"{entries * each:.1f} s in one process, {entries * each / args.workers:.1f} s over {args.workers}"
    )
    print(
        f"{'mode':10} {'median s':>9} {'entries/s':>10} {'CPU s':>7}  (on {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f})"
    )

    def serial() -> Any:
        return verify_transcript(doc)

    with ProcessPoolExecutor(args.workers) as pool:

        def mapper(
            fn: Callable[[list[Any]], list[Parsed]], chunks: list[list[Any]]
        ) -> Iterable[list[Parsed]]:
            return pool.map(fn, chunks)

        def parallel() -> Any:
            return verify_transcript(doc, map_entries=mapper, chunk=max(500, entries // (args.workers * 8)))

        list(pool.map(abs, range(args.workers)))  # start the workers before timing
        for mode, run in (("serial", serial), (f"parallel×{args.workers}", parallel)):
            walls, cpus = [], []
            for _ in range(args.repeats):
                wall, cpu, report = _timed(run)
                assert report.ok, report.defect
                walls.append(wall)
                cpus.append(cpu)
            median = statistics.median(walls)
            print(f"{mode:10} {median:9.2f} {entries / median:10,.0f} {statistics.median(cpus):7.2f}")


if __name__ == "__main__":
    main()
