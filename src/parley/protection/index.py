"""An index over thousands of protected sites and movements, built once, queried per check.

:meth:`ProtectionIndex.build` cuts the items into entries (:mod:`parley.protection.tables`: a site
is one entry, a movement one entry per piece of at most 10 km of route) and puts their geographic
boxes (each holding everything within the entry's keep-away distance of its geometry, latitude-aware
padding; boxes across the antimeridian cut in two, boxes reaching 85 degrees of latitude span all
longitudes) in a shapely ``STRtree``. :meth:`ProtectionIndex.query` returns the entries whose box
meets a volume's box; the check then filters them on time and altitude with numpy. Boxes contain
what they stand for, so the index drops nothing that could conflict.

>>> from datetime import UTC, datetime
>>> from parley.domain.geo import LatLng
>>> from parley.protection.model import Category, ProtectedSite
>>> t0, t1 = datetime(2017, 5, 3, tzinfo=UTC), datetime(2017, 6, 3, tzinfo=UTC)
>>> h = ProtectedSite("h", Category.HOSPITAL, LatLng(35.0, 179.999), 500.0, t0, t1, "clinic")
>>> index = ProtectionIndex.build([h])
>>> len(index), index.query(np.array([[-180.0, 34.99, -179.99, 35.01]]))
(1, (array([0]), array([0])))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from parley.protection.model import ProtectedMovement, ProtectedSite
from parley.protection.tables import Entries, build_entries, split_boxes

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]


def box_geometries(box: F64) -> NDArray[np.object_]:
    """Shapely rectangles of ``(lng_lo, lat_lo, lng_hi, lat_hi)`` rows."""
    return np.asarray(shapely.box(box[:, 0], box[:, 1], box[:, 2], box[:, 3]), dtype=object)


@dataclass(frozen=True, slots=True, eq=False)
class ProtectionIndex:
    """Entries of ``items`` and an R-tree over their boxes (see the module)."""

    items: tuple[ProtectedSite | ProtectedMovement, ...]
    entries: Entries
    tree: Any  # shapely.STRtree
    box_entry: I64

    @classmethod
    def build(cls, items: Sequence[ProtectedSite | ProtectedMovement]) -> ProtectionIndex:
        """Index ``items`` (validated values; cost grows with their vertices and pieces)."""
        entries = build_entries(items)
        parts, owner = split_boxes(entries.box)
        return cls(tuple(items), entries, shapely.STRtree(box_geometries(parts)), owner)

    def __len__(self) -> int:
        return len(self.items)

    def covers(self, items: Sequence[ProtectedSite | ProtectedMovement]) -> bool:
        """Whether this index was built over ``items`` (equal items, in order; the same objects
        compare at once)."""
        return items is self.items or (len(items) == len(self.items) and tuple(items) == self.items)

    def query(self, box: F64) -> tuple[I64, I64]:
        """Pairs ``(row of box, entry)`` whose boxes meet, each pair once, sorted.

        ``box`` rows are ``(lng_lo, lat_lo, lng_hi, lat_hi)`` as :func:`parley.protection.tables.boxes`
        makes them (longitudes beyond +-180 across the antimeridian).
        """
        if box.shape[0] == 0 or len(self.entries) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        parts, owner = split_boxes(box)
        hits = self.tree.query(box_geometries(parts), predicate="intersects")
        key = np.unique(owner[hits[0]] * len(self.entries) + self.box_entry[hits[1]])
        return key // len(self.entries), key % len(self.entries)
