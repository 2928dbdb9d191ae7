"""Replay bundles: one scenario run on one timeline (``parley sim run --export DIR`` writes
``DIR/replay.json``), and their verification before anyone relies on them (``parley replay``).

A bundle holds the scenario's name and window, the parties, every aircraft's flown track
(``[time, lat, lng, alt_m]``, one a second), the operations, the movements' schedules, every party's
exported line transcript, and the expectations' results. :func:`verify_bundle` checks, with nothing
else:

- the shape: format, times, parties, tracks in time order within the window, positions in range;
- every party's transcript verifies on its own (signatures, chains, cross-references, witness,
  certificates; ``parley line verify``) and is that party's;
- the transcripts agree with each other: an entry held by several parties is the same entry (one
  hash per author and position), and every thread's request is the same for everyone who holds it.

The tracks and the expectations are not signed: a bundle proves what the parties signed, and shows
the rest as recorded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from parley.line.entry import Entry
from parley.line.errors import LineError
from parley.line.times import parse_time
from parley.line.transcript import Report, verify_transcript

FORMAT = "parley-replay/1"
_TOP = {
    "format",
    "scenario",
    "start",
    "end",
    "parties",
    "tracks",
    "operations",
    "movements",
    "lines",
    "expectations",
}


@dataclass
class BundleCheck:
    """What :func:`verify_bundle` found: ``problems`` (empty when the bundle holds), each party's
    transcript report, and counts for the summary."""

    problems: list[str] = field(default_factory=list)
    reports: dict[str, Report] = field(default_factory=dict)
    aircraft: int = 0
    samples: int = 0
    entries: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def _time(value: object, where: str, problems: list[str]) -> datetime | None:
    try:
        return parse_time(value, where)
    except LineError as error:
        problems.append(error.message)
        return None


def verify_bundle(doc: object) -> BundleCheck:
    """Verify a replay bundle (see the module); never raises for a bad document."""
    check = BundleCheck()
    problems = check.problems
    if not isinstance(doc, Mapping):
        problems.append("bundle: expected a JSON object")
        return check
    missing = sorted(_TOP - set(doc))
    extra = sorted(set(doc) - _TOP)
    if missing or extra:
        said = [f"missing {', '.join(missing)}"] if missing else []
        said += [f"unknown {', '.join(extra)}"] if extra else []
        problems.append("bundle: " + "; ".join(said))
        return check
    if doc["format"] != FORMAT:
        problems.append(f"format: expected {FORMAT!r}")
        return check
    start = _time(doc["start"], "start", problems)
    end = _time(doc["end"], "end", problems)
    if start is not None and end is not None and not start <= end:
        problems.append("end: before start")
    parties = doc["parties"]
    if (
        not isinstance(parties, list)
        or not all(isinstance(p, str) for p in parties)
        or len(set(parties)) != len(parties)
    ):
        problems.append("parties: expected a list of distinct party ids")
        return check
    _tracks(doc["tracks"], start, end, check)
    lines = doc["lines"]
    if not isinstance(lines, Mapping) or sorted(lines) != sorted(parties):
        problems.append("lines: expected one transcript per party")
        return check
    held: dict[tuple[str, int], tuple[str, str]] = {}  # (author, seq) -> (hash, holder)
    requests: dict[str, tuple[str, str]] = {}  # thread -> (request hash, holder)
    for party in parties:
        transcript = lines[party]
        report = verify_transcript(transcript)
        check.reports[party] = report
        if not report.ok:
            problems.append(f"lines.{party}: {report.outcome}")
            continue
        if report.party != party:
            problems.append(f"lines.{party}: exported by {report.party!r}, not {party!r}")
        for raw in transcript["entries"]:
            entry = Entry.from_json(raw)
            check.entries += 1
            other = held.setdefault((entry.party, entry.seq), (entry.hash, party))
            if other[0] != entry.hash:
                problems.append(
                    f"lines: {entry.party}#{entry.seq} differs between {other[1]}'s transcript ({other[0][:15]}) "
                    f"and {party}'s ({entry.hash[:15]}): a fork"
                )
            if entry.kind.value == "request" and entry.thread is not None:
                known = requests.setdefault(entry.thread, (entry.hash, party))
                if known[0] != entry.hash:
                    problems.append(
                        f"lines: thread {entry.thread} has another request in {known[1]}'s transcript than in {party}'s"
                    )
    return check


def _tracks(tracks: object, start: datetime | None, end: datetime | None, check: BundleCheck) -> None:
    problems = check.problems
    if not isinstance(tracks, Mapping):
        problems.append("tracks: expected an object of tracks by aircraft")
        return
    for aircraft, points in tracks.items():
        where = f"tracks.{aircraft}"
        if not isinstance(points, list):
            problems.append(f"{where}: expected a list of [time, lat, lng, alt_m]")
            continue
        check.aircraft += 1
        previous: datetime | None = None
        for i, point in enumerate(points):
            if not (isinstance(point, list) and len(point) == 4):
                problems.append(f"{where}[{i}]: expected [time, lat, lng, alt_m]")
                break
            t = _time(point[0], f"{where}[{i}][0]", problems)
            lat, lng, alt = point[1:]
            numbers = all(
                isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                for v in (lat, lng, alt)
            )
            if not numbers or not (-90 <= lat <= 90 and -180 <= lng <= 180):
                problems.append(f"{where}[{i}]: position out of range")
                break
            if t is None:
                break
            if previous is not None and not t > previous:
                problems.append(f"{where}[{i}]: not after the sample before")
                break
            if (start is not None and t < start) or (end is not None and t > end):
                problems.append(f"{where}[{i}]: outside the bundle's window")
                break
            previous = t
            check.samples += 1


def summary(check: BundleCheck, doc: Mapping[str, Any]) -> str:
    """One line on a bundle that holds."""
    return (
        f"{doc.get('scenario')}: {len(check.reports)} parties' logs verified ({check.entries} entries), "
        f"{check.aircraft} aircraft tracks ({check.samples} positions), {doc.get('start')} to {doc.get('end')}"
    )
