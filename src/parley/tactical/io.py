"""CSV files in and out: the file adapter of the tactical engine (the rest of the package does no I/O).

Snapshot CSV (one row per aircraft, SI units, WGS84 degrees)::

    id,lat,lon,alt_m,gs_mps,trk_deg,vs_mps[,t_s|t_utc][,rpz_m,hpz_m,lookahead_s]

A series or report file adds a time column, ``t_utc`` (ISO 8601, e.g. ``2021-10-07T12:00:00Z``) or
``t_s`` (seconds); each distinct time is one frame. Files ending in ``.gz`` are read through gzip. ``lat_deg``/``lon_deg`` are accepted for
``lat``/``lon``. Conflict files have the columns of :data:`parley.tactical.conflicts.CONFLICT_COLUMNS`,
preceded by ``t_utc`` for a replay.
"""

from __future__ import annotations

import csv
import gzip
import math
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TextIO

import numpy as np

from parley.tactical.conflicts import CONFLICT_COLUMNS, Conflicts
from parley.tactical.errors import InvalidTracks
from parley.tactical.tracks import FloatArray, StrArray, TrackBatch, last_rows

_ALIASES = {"lat_deg": "lat", "lon_deg": "lon"}
_REQUIRED = ("id", "lat", "lon", "alt_m", "gs_mps", "trk_deg", "vs_mps")
_OPTIONAL_FLOATS = ("rpz_m", "hpz_m", "lookahead_s")


def parse_utc(text: str) -> float:
    """Seconds since 1970-01-01T00:00:00Z of an ISO 8601 time (UTC when no offset is given)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidTracks(f"not an ISO 8601 time: {text!r}") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def format_utc(t_s: float) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` (fractions of a second when there are any)."""
    value = datetime.fromtimestamp(t_s, tz=UTC)
    text = value.isoformat(timespec="milliseconds" if t_s % 1 else "seconds")
    return text.replace("+00:00", "Z")


class _Columns:
    """The columns of a CSV file as arrays (floats parsed), with the time as seconds if present."""

    def __init__(self, rows: Iterable[dict[str, str]], source: str) -> None:
        rows = list(rows)
        if not rows:
            self.n = 0
            self.ids: StrArray = np.zeros(0, dtype=np.str_)
            self.values: dict[str, FloatArray] = {c: np.zeros(0) for c in _REQUIRED[1:]}
            self.t_s: FloatArray | None = None
            return
        names = {(_ALIASES.get(k, k) if k is not None else k): k for k in rows[0]}
        missing = [c for c in _REQUIRED if c not in names]
        if missing:
            raise InvalidTracks(f"{source}: missing column(s) {', '.join(missing)}")
        self.n = len(rows)
        self.ids = np.array([r[names["id"]] for r in rows], dtype=np.str_)
        self.values = {}
        for col in (*_REQUIRED[1:], *(c for c in _OPTIONAL_FLOATS if c in names)):
            key = names[col]
            try:
                self.values[col] = np.array([float(r[key]) for r in rows])
            except (TypeError, ValueError) as exc:
                raise InvalidTracks(f"{source}: column {col}: {exc}") from exc
        self.t_s = None
        if "t_s" in names:
            self.t_s = np.array([float(r[names["t_s"]]) for r in rows])
        elif "t_utc" in names:
            stamps = [r[names["t_utc"]] for r in rows]
            seconds = {t: parse_utc(t) for t in set(stamps)}  # series repeat each time many times
            self.t_s = np.array([seconds[t] for t in stamps])

    def batch(self, index: FloatArray | np.ndarray | slice = slice(None)) -> TrackBatch:
        v = self.values
        return TrackBatch.from_columns(
            self.ids[index],
            lat_deg=v["lat"][index],
            lon_deg=v["lon"][index],
            alt_m=v["alt_m"][index],
            gs_mps=v["gs_mps"][index],
            trk_deg=v["trk_deg"][index],
            vs_mps=v["vs_mps"][index],
            t_s=0.0 if self.t_s is None else self.t_s[index],
            rpz_m=v["rpz_m"][index] if "rpz_m" in v else None,
            hpz_m=v["hpz_m"][index] if "hpz_m" in v else None,
            lookahead_s=v["lookahead_s"][index] if "lookahead_s" in v else None,
        )


def _read(source: str | Path | TextIO) -> _Columns:
    if isinstance(source, str | Path):
        opener = gzip.open if str(source).endswith(".gz") else open
        with opener(source, "rt", newline="") as fh:
            return _Columns(csv.DictReader(fh), str(source))
    return _Columns(csv.DictReader(source), getattr(source, "name", "<stream>"))


def read_tracks(source: str | Path | TextIO) -> TrackBatch:
    """A snapshot: one row per aircraft (ids must be unique)."""
    return _read(source).batch()


def read_frames(source: str | Path | TextIO) -> list[tuple[float, TrackBatch]]:
    """A series or report file as ``(t_s, frame)`` in time order; within a frame an id reported twice
    keeps its last row. A file without a time column is one frame at ``t = 0``."""
    cols = _read(source)
    if cols.n == 0:
        return []
    if cols.t_s is None:
        return [(0.0, cols.batch())]
    order = np.lexsort((np.arange(cols.n), cols.t_s))
    t_sorted = cols.t_s[order]
    bounds = np.flatnonzero(np.diff(t_sorted)) + 1
    frames = []
    for rows in np.split(order, bounds):
        rows = rows[last_rows(cols.ids[rows])]
        frames.append((float(cols.t_s[rows[0]]), cols.batch(rows)))
    return frames


def _fmt(x: float) -> str:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.3f}"


def conflict_rows(conflicts: Conflicts, with_time: bool = False) -> Iterator[list[str]]:
    """CSV rows (strings) of ``conflicts``, with the epoch as ``t_utc`` first if ``with_time``."""
    head = [format_utc(conflicts.epoch_s)] if with_time else []
    for c in conflicts:
        yield [
            *head,
            c.id1,
            c.id2,
            *(_fmt(getattr(c, name)) for name in CONFLICT_COLUMNS[2:]),
        ]


def write_conflicts(
    out: IO[str], batches: Iterable[Conflicts], with_time: bool = False, header: bool = True
) -> int:
    """Write the header (unless ``header`` is false) and the rows of every batch; return the number of
    rows."""
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow((["t_utc"] if with_time else []) + list(CONFLICT_COLUMNS))
    count = 0
    for conflicts in batches:
        for row in conflict_rows(conflicts, with_time):
            writer.writerow(row)
            count += 1
    return count
