"""Replaying a recorded stream through the incremental detector, tick by tick (no I/O).

>>> list(tick_times([0.0, 0.4, 1.0, 2.5], 1.0))
[0.0, 1.0, 2.0, 3.0]
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from parley.tactical.conflicts import Conflicts
from parley.tactical.incremental import IncrementalDetector, UpdateStats
from parley.tactical.tracks import TrackBatch, concat_rows, last_rows


def tick_times(times: Sequence[float], tick_s: float) -> list[float]:
    """The ticks ``k * tick_s`` from the first report's tick to the last report's (inclusive)."""
    if not times:
        return []
    first = math.floor(min(times) / tick_s)
    last = math.ceil(max(times) / tick_s)
    return [k * tick_s for k in range(first, last + 1)]


@dataclass(frozen=True, slots=True)
class Tick:
    """One step of a replay: its epoch, the reports it took, the conflicts then, what the update did."""

    epoch_s: float
    reports: int
    conflicts: Conflicts
    stats: UpdateStats


def replay(
    frames: Sequence[tuple[float, TrackBatch]],
    monitor: IncrementalDetector,
    *,
    tick_s: float | None = None,
    max_age_s: float | None = None,
) -> Iterator[Tick]:
    """Feed ``frames`` (time-ordered ``(t_s, reports)``) to ``monitor``.

    Without ``tick_s``, one update per frame at the frame's time (a series of snapshots). With it, one
    update per tick: the reports since the previous tick, the latest per aircraft, at the tick's time.
    Aircraft not heard from for ``max_age_s`` are dropped.
    """
    if tick_s is None:
        for t, batch in frames:
            conflicts = monitor.update(batch, epoch_s=t, max_age_s=max_age_s)
            yield Tick(t, len(batch), conflicts, monitor.last_update)
        return
    k = 0
    for tick in tick_times([t for t, _ in frames], tick_s):
        pending: list[TrackBatch] = []
        while k < len(frames) and frames[k][0] <= tick:
            pending.append(frames[k][1])
            k += 1
        batch = _latest(pending)
        conflicts = monitor.update(batch, epoch_s=tick, max_age_s=max_age_s)
        yield Tick(tick, len(batch), conflicts, monitor.last_update)


def _latest(batches: list[TrackBatch]) -> TrackBatch:
    """One batch with the last state of each id among ``batches`` (in time order)."""
    if len(batches) == 1:
        return batches[0]
    if not batches:
        return TrackBatch.from_columns([], lat_deg=[], lon_deg=[], alt_m=[], gs_mps=[], trk_deg=[], vs_mps=[])
    return concat_rows(batches, rows=last_rows(np.concatenate([b.ids for b in batches])))
