"""Run a use case in a serializable transaction, retrying when it loses a race.

Storage adapters raise :class:`~parley.ports.repositories.TransientConflict` when the database
aborts a transaction because of a concurrent one (PostgreSQL serialization failure, SQLite busy).
The whole use case is then run again on fresh data, so the retry sees what the winner wrote (and,
for example, now answers 409 because the key misses the winner's OVN). Domain errors are not retried.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from parley.domain.errors import ContentionExhausted
from parley.ports.repositories import DssRepository, TransientConflict, UnitOfWorkFactory

T = TypeVar("T")

#: First back-off before a retry, seconds; doubles each attempt, with jitter, up to the cap.
_BACKOFF_S = 0.002
_BACKOFF_CAP_S = 0.1


def transact(
    uow_factory: UnitOfWorkFactory,
    work: Callable[[DssRepository], T],
    *,
    retries: int,
    readonly: bool = False,
) -> T:
    """Run ``work`` in a unit of work and commit; retry up to ``retries`` times on conflicts.

    ``readonly``: ``work`` only reads (a get or a query), so it may run on a snapshot.
    """
    delay = _BACKOFF_S
    for attempt in range(retries + 1):
        try:
            with uow_factory(readonly=readonly) as uow:
                result = work(uow.repo)
                uow.commit()
                return result
        except TransientConflict:
            if attempt == retries:
                break
            time.sleep(random.uniform(0.0, delay))
            delay = min(delay * 2.0, _BACKOFF_CAP_S)
    raise ContentionExhausted(
        "Despite repeated attempts, the DSS was unable to complete the update because of other "
        "simultaneous changes; retry the request"
    )
