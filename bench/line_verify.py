#!/usr/bin/env python3
"""Offline verification speed of a line transcript (target: 100,000 entries in <= 5 s).

Builds once a transcript of ``--n`` entries (default 100,000) between two parties, RED and BLUE:
RED sends vacate requests (a 5-vertex polygon, altitude band, window; 30-minute deadline), BLUE's
node signs the receipt, its duty officer reads and accepts, every fourth with conditions; the
witness countersigns RED's head every 100 requests. The transcript is RED's export, written to a
JSON file. Timed ``--repeats`` times: :func:`verify_transcript` of the document already in memory
(``in memory``), and reading the file, decoding it and verifying it, as ``parley line verify`` does
(``from file``). The signatures are checked in batches on a second thread while the entries are
parsed (:mod:`parley.line.transcript`). Figures: median wall-clock seconds, entries per second, and
this process's CPU seconds (all its threads).

    python bench/line_verify.py
    python bench/line_verify.py --n 20000 --repeats 1
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from parley.line import ed25519
from parley.line.chain import ChainHead, append, genesis
from parley.line.entry import Entry, Kind, public_raw
from parley.line.keys import PartyKey
from parley.line.transcript import export, load_transcript, verify_transcript
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
    args = parser.parse_args()

    t = time.perf_counter()
    built = build(args.n)
    entries = len(built["entries"]) + sum(map(len, built["keys"].values()))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "transcript.json"
        path.write_bytes(json.dumps(built).encode())
        doc = json.loads(path.read_bytes())
        print(
            f"built a transcript of {entries:,} entries in {time.perf_counter() - t:.1f} s "
            f"({path.stat().st_size / 1e6:.0f} MB)"
        )
        sample = [Entry.from_json(e) for e in doc["entries"][:2000]]
        items = [(public_raw(e.key), e.signature, e.signed) for e in sample]
        wall = time.perf_counter()
        for public, sig, data in items[:500]:
            ed25519.verify(public, sig, data)
        single = (time.perf_counter() - wall) / 500
        wall = time.perf_counter()
        ed25519.verify_many(items)
        batch = (time.perf_counter() - wall) / len(items)
        print(
            f"Ed25519 here ({'C extension' if ed25519.NATIVE else 'OpenSSL fallback'}): one verification "
            f"{single * 1e6:.0f} µs, in batches {batch * 1e6:.1f} µs per signature; the signatures of "
            f"this transcript alone: {entries * batch:.1f} s of CPU"
        )
        print(f"{'mode':12} {'median s':>9} {'entries/s':>10} {'CPU s':>7}  (on {os.cpu_count()} cores)")

        def in_memory() -> Any:
            return verify_transcript(doc)

        def from_file() -> Any:  # what `parley line verify FILE` does
            return verify_transcript(load_transcript(path))

        for mode, run in (("in memory", in_memory), ("from file", from_file)):
            walls, cpus = [], []
            load = os.getloadavg()[0]
            for _ in range(args.repeats):
                gc.collect()  # each run starts as `parley line verify` does: no garbage of the last one
                wall, cpu, report = _timed(run)
                assert report.ok, report.defect
                walls.append(wall)
                cpus.append(cpu)
            median = statistics.median(walls)
            print(
                f"{mode:12} {median:9.2f} {entries / median:10,.0f} {statistics.median(cpus):7.2f}  "
                f"(load {load:.2f}; target <= 5 s: {'met' if median <= 5 else 'NOT MET'})"
            )


if __name__ == "__main__":
    main()
