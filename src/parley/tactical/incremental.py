"""Incremental detection for streams: only the pairs of aircraft that reported are evaluated again.

The detector keeps a table of the latest state of every aircraft and a cache of evaluated pairs. A
pair's kernel values depend only on the two states (:mod:`parley.tactical.cpa` evaluates it at the later
of its two report times, not at the epoch), so the cached values of a pair whose aircraft did not report
stay exact; only the look-ahead window moves with the epoch, and it is applied afresh at every update.

To find the pairs whose loss of separation enters the window later as the epoch advances, pairs are
cached with a look-ahead longer by ``slack_s``; an aircraft whose pairs were last evaluated more than
``slack_s`` ago is refreshed (evaluated again against everyone) even if it did not report. Hence, at
every update, the result equals a full recomputation on the table at the same epoch: same pairs,
bit-identical numbers (property-tested).

>>> from parley.tactical.tracks import TrackBatch
>>> def state(ids, lat, t):
...     return TrackBatch.from_columns(ids, lat_deg=lat, lon_deg=[10.0] * len(ids), t_s=t,
...         alt_m=[10000.0] * len(ids), gs_mps=[200.0] * len(ids), trk_deg=[0.0, 180.0][: len(ids)],
...         vs_mps=[0.0] * len(ids))
>>> monitor = IncrementalDetector()
>>> len(monitor.update(state(["A", "B"], [50.0, 51.3], 0.0)))  # 145 km apart, closing at 400 m/s
0
>>> len(monitor.update(state(["A"], [50.108], 60.0)))  # A reports again; B dead-reckoned to 60 s
1
>>> monitor.last_update.evaluated_rows
1
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from parley.tactical.conflicts import Conflicts
from parley.tactical.cpa import PairEvaluation, empty_evaluation
from parley.tactical.errors import InvalidTracks
from parley.tactical.geometry import prepare
from parley.tactical.params import DEFAULT_SEPARATION, Geometry, Separation
from parley.tactical.sweep import SweptGridDetector
from parley.tactical.tracks import TrackBatch, concat_rows


@dataclass(frozen=True, slots=True)
class UpdateStats:
    """What the last update did: aircraft in the table, rows whose pairs were evaluated again (those
    that reported plus the refreshed ones), pairs kept from the cache, aircraft dropped."""

    aircraft: int
    evaluated_rows: int
    cached_pairs: int
    dropped: int


class IncrementalDetector:
    """Conflicts over a stream of reports (see the module docstring)."""

    def __init__(
        self,
        separation: Separation = DEFAULT_SEPARATION,
        geometry: Geometry = Geometry.WGS84,
        *,
        slack_s: float = 60.0,
        brute_force_below: int = 64,
    ) -> None:
        if not (math.isfinite(slack_s) and slack_s >= 0.0):
            raise InvalidTracks(f"slack_s must be a finite number >= 0, got {slack_s!r}")
        self.separation = separation
        self.slack_s = slack_s
        self._defaults = {
            "rpz_m": separation.rpz_m,
            "hpz_m": separation.hpz_m,
            "lookahead_s": separation.lookahead_s,
        }
        self._detector = SweptGridDetector(geometry, brute_force_below)
        self._tracks = TrackBatch.from_columns(
            [], lat_deg=[], lon_deg=[], alt_m=[], gs_mps=[], trk_deg=[], vs_mps=[]
        )
        self._cache = empty_evaluation()
        self._evaluated_at = np.zeros(0)
        self._epoch = -math.inf
        self.last_update = UpdateStats(0, 0, 0, 0)

    @property
    def tracks(self) -> TrackBatch:
        """The table: the latest state of every aircraft."""
        return self._tracks

    @property
    def epoch_s(self) -> float:
        return self._epoch

    def update(
        self,
        reports: TrackBatch,
        *,
        epoch_s: float | None = None,
        remove: Iterable[str] = (),
        max_age_s: float | None = None,
    ) -> Conflicts:
        """Take new states (replacing those of the same ids), drop ``remove`` and every aircraft whose
        last report is older than ``max_age_s``, and return the conflicts at ``epoch_s`` (default: the
        later of the current epoch and the latest report). The epoch never goes back."""
        epoch = max(self._epoch, reports.epoch_s) if epoch_s is None else epoch_s
        if epoch < self._epoch:
            raise InvalidTracks(f"epoch {epoch!r} is before the current epoch {self._epoch!r}")
        old = self._tracks
        drop = np.isin(old.ids, reports.ids) | np.isin(old.ids, np.asarray(list(remove), dtype=np.str_))
        stale = np.zeros(len(old), dtype=np.bool_)
        if max_age_s is not None:
            stale = old.t_s < epoch - max_age_s
        keep_rows = np.flatnonzero(~(drop | stale))
        if max_age_s is not None and len(reports):
            reports = reports.take(np.flatnonzero(reports.t_s >= epoch - max_age_s))
        tracks = concat_rows([old.take(keep_rows), reports], defaults=self._defaults)
        # the cached pairs of rows kept, renumbered
        new_row = np.full(len(old), -1, dtype=np.intp)
        new_row[keep_rows] = np.arange(keep_rows.shape[0])
        evaluated_at = np.concatenate([self._evaluated_at[keep_rows], np.full(len(reports), -np.inf)])
        refresh = evaluated_at < epoch - self.slack_s
        cache = self._cache
        i, j = new_row[cache.i], new_row[cache.j]
        alive = (i >= 0) & (j >= 0)
        alive[alive] &= ~(refresh[i[alive]] | refresh[j[alive]])
        # a loss of separation that ended before the epoch can never count again
        alive &= cache.t_out_s > epoch - cache.t_ref_s
        cache = cache.select(np.flatnonzero(alive)).renumber(new_row)
        kin = prepare(tracks, self.separation, self._detector.geometry)
        fresh = self._detector.evaluate(kin, epoch, focus=refresh, extra_s=self.slack_s)
        self._cache = PairEvaluation.concat([cache, fresh])
        evaluated_at[refresh] = epoch
        self._evaluated_at = evaluated_at
        self._tracks = tracks
        self._epoch = epoch
        self.last_update = UpdateStats(
            aircraft=len(tracks),
            evaluated_rows=int(refresh.sum()),
            cached_pairs=len(cache),
            dropped=int(np.count_nonzero(stale & ~drop)),
        )
        return Conflicts.from_evaluation(tracks, self._cache, epoch)
