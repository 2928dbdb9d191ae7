from __future__ import annotations

import itertools

import pytest

from parley.ports.clock import FixedClock
from parley.services.context import DssContext
from parley.storage.memory import MemoryStore
from tests.factories import T0


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def ctx(clock: FixedClock) -> DssContext:
    counter = itertools.count(1)

    def random_bytes(n: int) -> bytes:
        return next(counter).to_bytes(n, "big")

    store = MemoryStore()
    return DssContext(uow_factory=store.unit_of_work, clock=clock, random_bytes=random_bytes)
