"""Tactical conflict detection: which pairs of aircraft will lose separation within the look-ahead.

Pure and vectorised (numpy); no I/O except in :mod:`parley.tactical.io`. Start with
:class:`SweptGridDetector` (fast) or :class:`AllPairsDetector` (the O(N^2) reference), both
:class:`ConflictDetector`\\ s, and :class:`IncrementalDetector` for streams. See ``docs/tactical.md``.
"""

from parley.tactical.allpairs import AllPairsDetector
from parley.tactical.conflicts import Conflict, Conflicts
from parley.tactical.detector import ConflictDetector
from parley.tactical.errors import InvalidTracks
from parley.tactical.incremental import IncrementalDetector, UpdateStats
from parley.tactical.params import FT_M, NM_M, Geometry, Separation
from parley.tactical.sweep import SweptGridDetector
from parley.tactical.tracks import TrackBatch

__all__ = [
    "FT_M",
    "NM_M",
    "AllPairsDetector",
    "Conflict",
    "ConflictDetector",
    "Conflicts",
    "Geometry",
    "IncrementalDetector",
    "InvalidTracks",
    "Separation",
    "SweptGridDetector",
    "TrackBatch",
    "UpdateStats",
]
