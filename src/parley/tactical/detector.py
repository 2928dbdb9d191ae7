"""The detector family: one Protocol, sibling implementations.

- :class:`~parley.tactical.allpairs.AllPairsDetector`: every pair, O(N^2) time; the oracle.
- :class:`~parley.tactical.sweep.SweptGridDetector`: space-time pruning then the same kernel on the
  candidates only, O(N log N + K); the one to run.

Both evaluate pairs with :func:`parley.tactical.cpa.evaluate_pairs`, so for a pair that both evaluate the
numbers are bit-identical; they differ only in which pairs they evaluate.
"""

from __future__ import annotations

from typing import Protocol

from parley.tactical.conflicts import Conflicts
from parley.tactical.params import Separation
from parley.tactical.tracks import TrackBatch


class ConflictDetector(Protocol):
    """Finds every pair of ``tracks`` in conflict within the look-ahead from ``epoch_s``.

    ``epoch_s`` defaults to the latest report time of the batch; every state is extrapolated along its
    straight line, so reports need not share one time.
    """

    def detect(
        self, tracks: TrackBatch, separation: Separation = ..., *, epoch_s: float | None = None
    ) -> Conflicts: ...
