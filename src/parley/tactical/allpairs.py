"""The all-pairs reference detector: evaluates every pair, block by block. The oracle of the tests.

>>> from parley.tactical.tracks import TrackBatch
>>> head_on = TrackBatch.from_columns(["A", "B"], lat_deg=[50.0, 50.2], lon_deg=[10.0, 10.0],
...     alt_m=[10000.0, 10000.0], gs_mps=[200.0, 200.0], trk_deg=[0.0, 180.0], vs_mps=[0.0, 0.0])
>>> c = next(iter(AllPairsDetector().detect(head_on)))
>>> (c.id1, c.id2, round(c.tcpa_s), round(c.dcpa_m), round(c.t_in_s), round(c.t_out_s))
('A', 'B', 56, 0, 32, 79)
"""

from __future__ import annotations

import numpy as np

from parley.tactical.conflicts import Conflicts
from parley.tactical.cpa import PairEvaluation, evaluate_pairs
from parley.tactical.geometry import Kinematics, prepare
from parley.tactical.params import DEFAULT_SEPARATION, Geometry, Separation
from parley.tactical.tracks import IntArray, TrackBatch


def all_pairs_blocks(n: int, block_pairs: int) -> list[tuple[IntArray, IntArray]]:
    """Every pair ``i < j`` of ``range(n)``, in blocks of whole rows of about ``block_pairs`` pairs."""
    blocks: list[tuple[IntArray, IntArray]] = []
    a = 0
    while a < n - 1:
        rows = max(1, block_pairs // max(n - a - 1, 1))
        b = min(n - 1, a + rows)
        counts = n - 1 - np.arange(a, b)
        i = np.repeat(np.arange(a, b), counts)
        starts = np.cumsum(counts) - counts
        j = np.arange(i.shape[0]) - np.repeat(starts, counts) + i + 1
        blocks.append((i, j))
        a = b
    return blocks


class AllPairsDetector:
    """Every pair evaluated by the kernel: O(N^2) time, O(N + block) memory. Any geometry."""

    def __init__(self, geometry: Geometry = Geometry.WGS84, block_pairs: int = 1 << 20) -> None:
        self.geometry = geometry
        self.block_pairs = block_pairs

    def evaluate(self, kin: Kinematics, epoch_s: float, extra_s: float = 0.0) -> PairEvaluation:
        """Every pair of ``kin`` in conflict at ``epoch_s`` (look-ahead longer by ``extra_s``)."""
        parts = [
            evaluate_pairs(kin, i, j, conflicts_at=epoch_s, extra_s=extra_s)
            for i, j in all_pairs_blocks(kin.n, self.block_pairs)
        ]
        return PairEvaluation.concat(parts)

    def detect(
        self, tracks: TrackBatch, separation: Separation = DEFAULT_SEPARATION, *, epoch_s: float | None = None
    ) -> Conflicts:
        epoch = tracks.epoch_s if epoch_s is None else epoch_s
        kin = prepare(tracks, separation, self.geometry)
        return Conflicts.from_evaluation(tracks, self.evaluate(kin, epoch), epoch)
