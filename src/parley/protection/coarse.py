"""The coarse area of a protected item: the 0.25° × 0.25° cells (about 28 km) it touches.

A ``check_only`` recipient (ADR 0010) learns this, not the geometry. A cell is named by its
south-west corner ``[lng, lat]`` (degrees, multiples of :data:`CELL_DEG`, ``-180 <= lng < 180``,
``-90 <= lat < 90``). An item's cells are those its protected zone's boxes (everything within the
keep-away distance of its geometry, see :mod:`parley.protection.tables`) meet, so every point an
operation may conflict at lies in one of them: an operation none of whose volumes' boxes meets a
cell of an item cannot conflict with it, and its planner need not ask the shared service.

>>> from datetime import UTC, datetime
>>> from parley.domain.geo import LatLng
>>> from parley.protection.model import Category, ProtectedSite
>>> t0, t1 = datetime(2017, 5, 3, tzinfo=UTC), datetime(2017, 6, 3, tzinfo=UTC)
>>> item_cells(ProtectedSite("h", Category.HOSPITAL, LatLng(35.1, 40.1), 500.0, t0, t1, "clinic"))
[[40.0, 35.0]]
>>> item_cells(ProtectedSite("h", Category.HOSPITAL, LatLng(35.0, 40.0), 500.0, t0, t1, "clinic"))
[[39.75, 34.75], [39.75, 35.0], [40.0, 34.75], [40.0, 35.0]]
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray

from parley.protection.model import ProtectedMovement, ProtectedSite
from parley.protection.tables import build_entries, split_boxes

#: Size of a coarse cell, degrees.
CELL_DEG = 0.25
#: Most cells of one item (a larger area is notified as several items).
MAX_CELLS = 4_000
_COLS, _ROWS = int(360 / CELL_DEG), int(180 / CELL_DEG)

Cell = tuple[int, int]  # (column, row): lng = col * CELL_DEG - 180, lat = row * CELL_DEG - 90


def _index(lng: float, lat: float) -> Cell:
    col = min(max(math.floor((lng + 180.0) / CELL_DEG), 0), _COLS - 1)
    row = min(max(math.floor((lat + 90.0) / CELL_DEG), 0), _ROWS - 1)
    return col, row


def box_cells(box: NDArray[np.float64], *, limit: int = MAX_CELLS) -> set[Cell]:
    """The cells that boxes ``(lng_lo, lat_lo, lng_hi, lat_hi)`` (possibly across the antimeridian)
    meet; ``ValueError`` beyond ``limit`` cells."""
    parts, _ = split_boxes(box)
    out: set[Cell] = set()
    for lng_lo, lat_lo, lng_hi, lat_hi in parts.tolist():
        c0, r0 = _index(lng_lo, lat_lo)
        c1, r1 = _index(lng_hi, lat_hi)
        if len(out) + (c1 - c0 + 1) * (r1 - r0 + 1) > limit:
            raise ValueError(f"the area covers more than {limit} cells of {CELL_DEG} degrees")
        out.update((c, r) for c in range(c0, c1 + 1) for r in range(r0, r1 + 1))
    return out


def item_cells(item: ProtectedSite | ProtectedMovement) -> list[list[float]]:
    """The cells ``item``'s protected zone meets, as sorted ``[lng, lat]`` south-west corners."""
    return cells_json(box_cells(build_entries([item]).box))


def cells_json(cells: Iterable[Cell]) -> list[list[float]]:
    return [[c * CELL_DEG - 180.0, r * CELL_DEG - 90.0] for c, r in sorted(cells)]


def cell_of_corner(corner: object) -> Cell | None:
    """The cell a ``[lng, lat]`` south-west corner names, or ``None`` when it names none."""
    if not isinstance(corner, list) or len(corner) != 2:
        return None
    lng, lat = corner
    if any(isinstance(v, bool) or not isinstance(v, int | float) for v in (lng, lat)):
        return None
    col, row = (lng + 180.0) / CELL_DEG, (lat + 90.0) / CELL_DEG
    if col != int(col) or row != int(row) or not (0 <= col < _COLS and 0 <= row < _ROWS):
        return None
    return int(col), int(row)
