"""Serializability under real concurrency, on real PostgreSQL and on SQLite files: competing
transactions never both commit a decision taken on the same data, and lost races surface as
:class:`TransientConflict` for the caller to retry."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from parley.domain.entities import (
    EntityId,
    Manager,
    OperationalIntentReference,
    OperationalIntentState,
    Ovn,
    Subscription,
)
from parley.domain.extent import Extent4D
from parley.ports.repositories import TransientConflict
from parley.storage.sql.uow import SqlStore, SqlUnitOfWork

THREADS = 8
ATTEMPTS_PER_THREAD = 3
MAX_RETRIES = 200

T0 = datetime(2026, 1, 1, 10, tzinfo=UTC)
T1 = datetime(2026, 1, 1, 11, tzinfo=UTC)
AREA = Extent4D(frozenset({11, 12}), 0.0, 100.0, T0, T1)


def eid(n: int) -> EntityId:
    return EntityId(f"00000000-0000-4000-8000-{n:012d}")


def oir(n: int) -> OperationalIntentReference:
    return OperationalIntentReference(
        id=eid(n),
        manager=Manager(f"uss{n}"),
        version=1,
        state=OperationalIntentState.ACCEPTED,
        ovn=Ovn(f"ovn-{n:020d}"),
        extent=Extent4D(frozenset({12, 13}), 50.0, 60.0, T0, T1),
        uss_base_url="https://uss.example",
        subscription_id=None,
    )


def subscription(n: int) -> Subscription:
    return Subscription(
        id=eid(n),
        manager=Manager("uss"),
        version="v1",
        notification_index=0,
        extent=AREA,
        uss_base_url="https://uss.example",
        notify_for_operational_intents=True,
        notify_for_constraints=False,
        implicit=False,
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A migrated, empty database of each dialect."""
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_url")
    else:
        request.getfixturevalue("postgres_store")  # empties the shared database
        yield request.getfixturevalue("postgres_url")


def _retrying(action: Callable[[], bool], conflicts: list[int]) -> bool:
    """Run ``action`` (one transaction) until it gets through; count the lost races."""
    for _ in range(MAX_RETRIES):
        try:
            return action()
        except TransientConflict:
            conflicts.append(1)
    raise AssertionError(f"still conflicting after {MAX_RETRIES} attempts")


def test_only_one_of_many_concurrent_claims_of_an_empty_area_wins(database_url: str) -> None:
    """Every thread runs "read the area; insert an operational intent only if it is empty", all at
    once (several separate stores, as several DSS processes would): exactly one insert commits."""
    stores = [SqlStore(database_url) for _ in range(THREADS)]
    barrier = threading.Barrier(THREADS)
    conflicts: list[int] = []

    def claim(store: SqlStore, n: int) -> bool:
        with store.unit_of_work() as uow:
            if uow.repo.search_operational_intents(AREA):
                return False
            time.sleep(0.02)  # widen the race: every thread reads before any commits
            uow.repo.upsert_operational_intent(oir(n))
            uow.commit()
            return True

    def worker(thread: int) -> int:
        store = stores[thread]
        barrier.wait()
        wins = 0
        for attempt in range(ATTEMPTS_PER_THREAD):
            n = thread * 100 + attempt
            wins += _retrying(lambda: claim(store, n), conflicts)  # noqa: B023 (called at once)
        return wins

    try:
        with ThreadPoolExecutor(THREADS) as pool:
            wins = sum(pool.map(worker, range(THREADS)))
        with stores[0].unit_of_work() as uow:
            found = uow.repo.search_operational_intents(AREA)
    finally:
        for store in stores:
            store.dispose()
    assert wins == 1
    assert len(found) == 1
    if database_url.startswith("postgresql"):
        # Every transaction read the empty area before any committed: the losers were aborted.
        assert conflicts


def test_concurrent_notifications_are_all_counted(database_url: str) -> None:
    """Notification indices are incremented atomically: no increment is lost under contention."""
    store = SqlStore(database_url)
    rounds = 5
    conflicts: list[int] = []

    def notify() -> bool:
        with store.unit_of_work() as uow:
            notified = uow.repo.notify_subscriptions(
                AREA, for_operational_intents=True, for_constraints=False
            )
            uow.commit()
            return len(notified) == 2

    def worker(_: int) -> bool:
        return all(_retrying(notify, conflicts) for _ in range(rounds))

    try:
        with store.unit_of_work() as uow:
            uow.repo.upsert_subscription(subscription(1))
            uow.repo.upsert_subscription(subscription(2))
            uow.commit()
        with ThreadPoolExecutor(THREADS) as pool:
            assert all(pool.map(worker, range(THREADS)))
        with store.unit_of_work() as uow:
            indices = [uow.repo.get_subscription(eid(n)) for n in (1, 2)]
    finally:
        store.dispose()
    assert [s.notification_index if s else None for s in indices] == [THREADS * rounds] * 2


@pytest.mark.postgres
def test_postgres_write_skew_raises_transient_conflict(postgres_store: SqlStore) -> None:
    """Two interleaved transactions both find the area empty and both insert: the second to finish
    is aborted (SQLSTATE 40001), on its insert or its commit, as TransientConflict."""
    first, second = postgres_store.unit_of_work(), postgres_store.unit_of_work()
    with first, second:
        assert first.repo.search_operational_intents(AREA) == []
        assert second.repo.search_operational_intents(AREA) == []
        first.repo.upsert_operational_intent(oir(1))
        with pytest.raises(TransientConflict) as raised:
            try:
                second.repo.upsert_operational_intent(oir(2))
            finally:
                first.commit()  # the first to commit wins
            second.commit()
    cause = raised.value.__cause__
    assert isinstance(cause, sa.exc.DBAPIError)
    assert getattr(cause.orig, "sqlstate", None) == "40001"
    with postgres_store.unit_of_work() as uow:
        assert [o.id for o in uow.repo.search_operational_intents(AREA)] == [eid(1)]


@pytest.mark.postgres
def test_postgres_deadlock_raises_transient_conflict(postgres_store: SqlStore) -> None:
    """Two transactions each lock one subscription, then want the other's: PostgreSQL aborts one
    (SQLSTATE 40P01), reported as TransientConflict; the other commits."""
    with postgres_store.unit_of_work() as uow:
        uow.repo.upsert_subscription(subscription(1))
        uow.repo.upsert_subscription(subscription(2))
        uow.commit()
    barrier = threading.Barrier(2)

    def cross(mine: int, theirs: int) -> BaseException | None:
        uow: SqlUnitOfWork
        try:
            with postgres_store.unit_of_work() as uow:
                uow.repo.delete_subscription(eid(mine))  # row lock on mine
                barrier.wait()
                uow.repo.delete_subscription(eid(theirs))  # waits for the other: a deadlock
                uow.commit()
        except TransientConflict as error:
            return error
        return None

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(cross, (1, 2), (2, 1)))
    errors = [e for e in outcomes if e is not None]
    assert len(errors) == 1
    cause = errors[0].__cause__
    assert isinstance(cause, sa.exc.DBAPIError)
    assert getattr(cause.orig, "sqlstate", None) == "40P01"
    with postgres_store.unit_of_work() as uow:
        assert uow.repo.get_subscription(eid(1)) is None and uow.repo.get_subscription(eid(2)) is None
