"""The DSS's indexed 4D footprint of an entity: S2 cells, an altitude band and a time window.

The DSS keeps references, never details: of an entity's volumes it keeps only the union of their
cell coverings, the lowest and highest altitude and the earliest start and latest end. Two extents
*may intersect* when they share a cell, their altitude bands overlap and their time windows
overlap, all bounds closed; that is the test every search applies. It is deliberately conservative
(an entity touching the area at one instant is returned): false positives are allowed, false
negatives never. Exact geometry is the party node's business.

>>> from datetime import datetime, timezone
>>> t = lambda h: datetime(2026, 1, 1, h, tzinfo=timezone.utc)
>>> a = Extent4D(frozenset({1, 2}), 0.0, 100.0, t(1), t(3))
>>> b = Extent4D(frozenset({2}), 100.0, 200.0, t(2), t(4))
>>> a.may_intersect(b), b.may_intersect(a)
(True, True)
>>> a.may_intersect(Extent4D(frozenset({2}), 0.0, 50.0, t(3), t(4)))
True
>>> a.may_intersect(Extent4D(frozenset({2}), 0.0, 50.0, t(4), t(5)))
False
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Extent4D:
    """Cells (signed S2 ids) x altitude band [lower, upper] m x time window [start, end].

    ``None`` bounds are open (unbounded) and only occur in search areas; stored entities always
    have all four bounds.
    """

    cells: frozenset[int]
    altitude_lower_m: float | None
    altitude_upper_m: float | None
    time_start: datetime | None
    time_end: datetime | None

    def may_intersect(self, other: Extent4D) -> bool:
        """Shared cell, overlapping altitude band and time window (all bounds closed)."""
        return (
            _times_overlap(self.time_start, self.time_end, other.time_start, other.time_end)
            and _altitudes_overlap(
                self.altitude_lower_m, self.altitude_upper_m, other.altitude_lower_m, other.altitude_upper_m
            )
            and not self.cells.isdisjoint(other.cells)
        )

    def covers(self, other: Extent4D) -> bool:
        """True when ``other`` lies wholly within this extent (cells, altitudes and times)."""
        if not other.cells <= self.cells:
            return False
        if self.time_start is not None and (other.time_start is None or other.time_start < self.time_start):
            return False
        if self.time_end is not None and (other.time_end is None or other.time_end > self.time_end):
            return False
        if self.altitude_lower_m is not None and (
            other.altitude_lower_m is None or other.altitude_lower_m < self.altitude_lower_m
        ):
            return False
        return not (
            self.altitude_upper_m is not None
            and (other.altitude_upper_m is None or other.altitude_upper_m > self.altitude_upper_m)
        )


def _times_overlap(
    s1: datetime | None, e1: datetime | None, s2: datetime | None, e2: datetime | None
) -> bool:
    if s1 is not None and e2 is not None and e2 < s1:
        return False
    return not (s2 is not None and e1 is not None and e1 < s2)


def _altitudes_overlap(l1: float | None, u1: float | None, l2: float | None, u2: float | None) -> bool:
    if l1 is not None and u2 is not None and u2 < l1:
        return False
    return not (l2 is not None and u1 is not None and u1 < l2)


def union(extents: Iterable[Extent4D]) -> Extent4D:
    """The smallest extent containing all of ``extents`` (an open bound anywhere stays open).

    >>> from datetime import datetime, timezone
    >>> t = lambda h: datetime(2026, 1, 1, h, tzinfo=timezone.utc)
    >>> u = union([Extent4D(frozenset({1}), 0.0, 10.0, t(1), t(2)), Extent4D(frozenset({5}), 5.0, 50.0, t(3), t(4))])
    >>> sorted(u.cells), u.altitude_lower_m, u.altitude_upper_m, u.time_start.hour, u.time_end.hour
    ([1, 5], 0.0, 50.0, 1, 4)
    """
    items = list(extents)
    if not items:
        raise ValueError("union of no extents")
    cells: frozenset[int] = frozenset().union(*(e.cells for e in items))
    lowers = [e.altitude_lower_m for e in items]
    uppers = [e.altitude_upper_m for e in items]
    starts = [e.time_start for e in items]
    ends = [e.time_end for e in items]
    return Extent4D(
        cells=cells,
        altitude_lower_m=None if any(v is None for v in lowers) else min(v for v in lowers if v is not None),
        altitude_upper_m=None if any(v is None for v in uppers) else max(v for v in uppers if v is not None),
        time_start=None if any(v is None for v in starts) else min(v for v in starts if v is not None),
        time_end=None if any(v is None for v in ends) else max(v for v in ends if v is not None),
    )
