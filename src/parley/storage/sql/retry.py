"""One short transaction, run again when the database aborts it for a concurrent one: the
building block of the stores whose every call is its own transaction (party nodes, the line)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa

from parley.ports.repositories import TransientConflict
from parley.storage.sql.uow import SqlStore, translate_errors

T = TypeVar("T")

#: Tries of one transaction before the lost race is reported.
ATTEMPTS = 10


def run(store: SqlStore, work: Callable[[sa.Connection], T], *, readonly: bool = False) -> T:
    """``work`` in one transaction, committed; run again with a jittered exponential back-off
    (2 ms, 4 ms, ...) on a PostgreSQL serialization failure or a busy SQLite, at most
    :data:`ATTEMPTS` times, then :class:`TransientConflict`."""
    for attempt in range(ATTEMPTS):
        try:
            with store.connection_unit_of_work(readonly=readonly) as uow:
                with translate_errors():
                    result = work(uow.connection)
                uow.commit()
                return result
        except TransientConflict:
            if attempt == ATTEMPTS - 1:
                raise
            time.sleep(random.uniform(0.0, 0.002 * 2**attempt))
    raise AssertionError("unreachable")
