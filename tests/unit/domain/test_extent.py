"""Properties of the DSS's 4D extents: symmetry, union bounds, coverage."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from parley.domain.extent import Extent4D, union
from tests.strategies import extents


@given(extents(), extents())
def test_may_intersect_is_symmetric(a: Extent4D, b: Extent4D) -> None:
    assert a.may_intersect(b) == b.may_intersect(a)


@given(st.lists(extents(), min_size=1, max_size=5))
def test_union_covers_every_member(items: list[Extent4D]) -> None:
    total = union(items)
    for item in items:
        assert total.covers(item)


@given(extents(open_bounds=False), extents(open_bounds=False))
def test_covering_implies_intersecting(a: Extent4D, b: Extent4D) -> None:
    if a.covers(b):
        assert a.may_intersect(b)


@given(extents(), extents())
def test_disjoint_cells_never_intersect(a: Extent4D, b: Extent4D) -> None:
    if a.cells.isdisjoint(b.cells):
        assert not a.may_intersect(b)


def test_union_of_nothing_is_an_error() -> None:
    import pytest

    with pytest.raises(ValueError):
        union([])
