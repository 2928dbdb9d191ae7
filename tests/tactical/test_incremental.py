"""Incremental mode: after every update, the result equals a full recomputation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.tactical import (
    AllPairsDetector,
    IncrementalDetector,
    InvalidTracks,
    SweptGridDetector,
    TrackBatch,
)
from tests.tactical.strategies import batches


def _moved(batch: TrackBatch, rows: np.ndarray, t: float, rng: np.random.Generator) -> TrackBatch:
    """New reports at time t for ``rows``: the old state nudged (a turn, a climb, a new position)."""
    sub = batch.take(rows)
    k = len(sub)
    return TrackBatch.from_columns(
        sub.ids,
        lat_deg=np.clip(sub.lat_deg + rng.normal(0, 0.02, k), -90, 90),
        lon_deg=(sub.lon_deg + rng.normal(0, 0.02, k) + 180.0) % 360.0 - 180.0,
        alt_m=sub.alt_m + rng.choice([0.0, 0.0, 304.8, -304.8], k),
        gs_mps=sub.gs_mps,
        trk_deg=(sub.trk_deg + rng.normal(0, 20, k)) % 360.0,
        vs_mps=np.where(rng.random(k) < 0.3, rng.uniform(-10, 10, k), sub.vs_mps),
        t_s=t,
        rpz_m=sub.rpz_m,
        hpz_m=sub.hpz_m,
        lookahead_s=sub.lookahead_s,
    )


@settings(max_examples=40, deadline=None)
@given(
    batches(min_n=5, max_n=120, mixed_times=False),
    st.integers(0, 2**32 - 1),
    st.sampled_from([0.0, 20.0, 60.0]),
    st.sampled_from([0, 64]),
)
def test_every_update_equals_a_full_recomputation(
    first: TrackBatch, seed: int, slack_s: float, brute: int
) -> None:
    rng = np.random.default_rng(seed)
    monitor = IncrementalDetector(slack_s=slack_s, brute_force_below=brute)
    full = SweptGridDetector(brute_force_below=0)
    epoch = first.epoch_s
    got = monitor.update(first)
    assert got.identical(full.detect(monitor.tracks, epoch_s=epoch))
    for _ in range(6):
        epoch += float(rng.choice([0.0, 1.0, 10.0, 45.0]))
        rows = np.flatnonzero(rng.random(len(monitor.tracks)) < rng.choice([0.0, 0.1, 0.5]))
        reports = _moved(monitor.tracks, rows, epoch, rng)
        gone = [str(i) for i in monitor.tracks.ids[rng.random(len(monitor.tracks)) < 0.05]]
        got = monitor.update(reports, epoch_s=epoch, remove=gone)
        assert not set(gone) - set(reports.ids.tolist()) & set(monitor.tracks.ids.tolist())
        expected = full.detect(monitor.tracks, epoch_s=epoch)
        assert got.identical(expected)
        assert got.identical(AllPairsDetector().detect(monitor.tracks, epoch_s=epoch))


def test_only_the_reporting_aircraft_are_evaluated_again() -> None:
    rng = np.random.default_rng(1)
    n = 400
    batch = TrackBatch.from_columns(
        [f"A{i}" for i in range(n)],
        lat_deg=rng.uniform(49, 51, n),
        lon_deg=rng.uniform(9, 11, n),
        alt_m=rng.integers(30, 34, n) * 304.8,
        gs_mps=rng.uniform(150, 250, n),
        trk_deg=rng.uniform(0, 360, n),
        vs_mps=np.zeros(n),
    )
    monitor = IncrementalDetector(slack_s=60.0)
    monitor.update(batch)
    assert monitor.last_update.evaluated_rows == n
    reports = _moved(monitor.tracks, np.arange(0, n, 10), 5.0, rng)
    result = monitor.update(reports)
    assert monitor.last_update.evaluated_rows == len(reports) == 40
    assert monitor.last_update.cached_pairs > 0
    assert result.identical(SweptGridDetector().detect(monitor.tracks, epoch_s=5.0))
    # after the slack, everybody is refreshed
    monitor.update(_moved(monitor.tracks, np.arange(1), 70.0, rng))
    assert monitor.last_update.evaluated_rows == n


def test_old_reports_age_out_and_the_epoch_never_goes_back() -> None:
    one = TrackBatch.from_columns(
        ["A", "B"],
        lat_deg=[0, 0],
        lon_deg=[0, 0.01],
        alt_m=[0, 0],
        gs_mps=[0, 0],
        trk_deg=[0, 0],
        vs_mps=[0, 0],
        t_s=[0.0, 50.0],
    )
    monitor = IncrementalDetector()
    assert len(monitor.update(one)) == 1
    empty = one.take(np.zeros(0, dtype=np.intp))
    assert len(monitor.update(empty, epoch_s=100.0, max_age_s=60.0)) == 0
    assert monitor.tracks.ids.tolist() == ["B"]
    assert monitor.last_update.dropped == 1
    with pytest.raises(InvalidTracks):
        monitor.update(empty, epoch_s=99.0)
