"""``transact``: a use case that loses a race is run again on fresh data, up to ``retries`` more
times, then :class:`ContentionExhausted`; domain errors are never retried."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from types import TracebackType
from typing import Literal

import pytest

from parley.domain.entities import Manager, OperationalIntentState, UssAvailability, UssAvailabilityState
from parley.domain.errors import ContentionExhausted, MissingOvns, VersionMismatch
from parley.ports.clock import FixedClock
from parley.ports.repositories import DssRepository, TransientConflict, UnitOfWork
from parley.services import dss_operational_intents as svc
from parley.services import transact as transact_module
from parley.services.context import DssContext
from parley.services.transact import transact
from parley.storage.memory import MemoryStore
from tests.factories import T0, new_id, volume

Where = Literal["enter", "work", "commit"]
USS1, USS2 = Manager("uss1"), Manager("uss2")


@dataclass
class Flaky:
    """A unit-of-work factory over a memory store whose first ``failures`` transactions lose a race
    (on entering, like a SQLite lock timeout; in the work or on commit, like a PostgreSQL
    serialization failure). ``before_failing`` runs just before each loss (a concurrent winner)."""

    store: MemoryStore
    failures: int
    where: Where = "commit"
    before_failing: Callable[[], None] | None = None
    attempts: int = 0
    commits: int = 0
    readonly_flags: list[bool] = field(default_factory=list)

    def __call__(self, *, readonly: bool = False) -> FlakyUnitOfWork:
        self.readonly_flags.append(readonly)
        return FlakyUnitOfWork(self, self.store.unit_of_work(readonly=readonly))

    def lose_now(self, inner: UnitOfWork | None = None) -> bool:
        """Whether this attempt loses; if so, undo it (a database never showed its writes to
        others) and let the concurrent winner commit."""
        if self.attempts > self.failures:
            return False
        if inner is not None:
            inner.rollback()
        if self.before_failing is not None:
            self.before_failing()
        return True


class FlakyUnitOfWork:
    def __init__(self, factory: Flaky, inner: UnitOfWork) -> None:
        self.factory = factory
        self.inner = inner
        self.repo: DssRepository = _FailingRepo(factory, inner)  # type: ignore[assignment]

    def __enter__(self) -> FlakyUnitOfWork:
        self.factory.attempts += 1
        if self.factory.where == "enter" and self.factory.lose_now():
            raise TransientConflict("database is locked")
        self.inner.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.inner.__exit__(exc_type, exc, tb)

    def commit(self) -> None:
        if self.factory.where == "commit" and self.factory.lose_now(self.inner):
            raise TransientConflict("could not serialize access due to read/write dependencies")
        self.inner.commit()
        self.factory.commits += 1

    def rollback(self) -> None:
        self.inner.rollback()


class _FailingRepo:
    """The store's repository, losing the race on its first write when ``where == "work"``."""

    def __init__(self, factory: Flaky, uow: UnitOfWork) -> None:
        self._factory = factory
        self._uow = uow

    def __getattr__(self, name: str) -> object:
        attr = getattr(self._uow.repo, name)
        if name.startswith(("upsert_", "delete_", "set_")) and self._factory.where == "work":

            def write(*args: object, **kwargs: object) -> object:
                result = attr(*args, **kwargs)
                if self._factory.lose_now(self._uow):
                    raise TransientConflict("could not serialize access due to concurrent update")
                return result

            return write
        return attr


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the back-off sleeps instead of sleeping."""
    slept: list[float] = []
    monkeypatch.setattr(transact_module.time, "sleep", slept.append)
    return slept


def _count_work(log: list[int]) -> Callable[[DssRepository], int]:
    """Work that writes a record naming its run, and returns the number of the run."""

    def work(repo: DssRepository) -> int:
        log.append(len(log) + 1)
        repo.set_uss_availability(UssAvailability(USS1, UssAvailabilityState.NORMAL, f"run-{len(log)}"))
        return len(log)

    return work


def _read_work(repo: DssRepository) -> None:
    repo.get_uss_availability(USS1)


@pytest.mark.parametrize("where", ["enter", "work", "commit"])
def test_lost_races_are_retried_until_one_commits(where: Where, no_backoff: list[float]) -> None:
    store = MemoryStore()
    factory = Flaky(store, failures=3, where=where)
    runs = 1 if where == "enter" else 4  # a lock not taken runs no work
    assert transact(factory, _count_work([]), retries=5) == runs
    assert factory.attempts == 4 and factory.commits == 1
    assert len(no_backoff) == 3
    # only the committed run's write is left
    assert store.availability[USS1].version == f"run-{runs}"


@pytest.mark.parametrize("where", ["enter", "work", "commit"])
def test_contention_beyond_the_retries_is_exhausted(where: Where, no_backoff: list[float]) -> None:
    store = MemoryStore()
    factory = Flaky(store, failures=10**6, where=where)
    with pytest.raises(ContentionExhausted, match="simultaneous changes"):
        transact(factory, _count_work([]), retries=4)
    assert factory.attempts == 5 and factory.commits == 0
    assert store.availability == {}
    assert len(no_backoff) == 4  # no sleep after the last attempt
    # the back-off doubles from 2 ms, with jitter, capped at 100 ms
    for i, slept in enumerate(no_backoff):
        assert 0.0 <= slept <= min(0.002 * 2**i, 0.1)


def test_no_retries_means_one_attempt() -> None:
    factory = Flaky(MemoryStore(), failures=1)
    with pytest.raises(ContentionExhausted):
        transact(factory, _count_work([]), retries=0)
    assert factory.attempts == 1


def test_domain_errors_are_not_retried() -> None:
    factory = Flaky(MemoryStore(), failures=0)

    def work(repo: DssRepository) -> None:
        raise VersionMismatch("stale")

    with pytest.raises(VersionMismatch):
        transact(factory, work, retries=5)
    assert factory.attempts == 1 and factory.commits == 0


def test_readonly_is_passed_to_every_attempt() -> None:
    factory = Flaky(MemoryStore(), failures=2, where="enter")
    transact(factory, _read_work, retries=5, readonly=True)
    assert factory.readonly_flags == [True, True, True]
    factory = Flaky(MemoryStore(), failures=0)
    transact(factory, _read_work, retries=5)
    assert factory.readonly_flags == [False]


# -- through a use case ---------------------------------------------------------------------------
SC = frozenset({"utm.strategic_coordination"})
START = T0 + timedelta(minutes=10)


def _put(ctx: DssContext, requester: Manager, key: tuple[str, ...] = ()) -> svc.OirChange:
    url = f"https://{requester}.example/utm"
    request = svc.PutOperationalIntent(
        new_id(),
        None,
        (volume(START),),
        key,
        OperationalIntentState.ACCEPTED,
        url,
        new_subscription=svc.ImplicitSubscriptionRequest(url),
    )
    return svc.put_operational_intent(ctx, requester=requester, scopes=SC, request=request)


def test_a_lost_attempt_leaves_nothing_and_the_retry_succeeds() -> None:
    store = MemoryStore()
    factory = Flaky(store, failures=2, where="work")
    ctx = DssContext(uow_factory=factory, clock=FixedClock(T0))
    change = _put(ctx, USS1)
    # one intent and one implicit subscription, from the attempt that committed
    assert list(store.operational_intents.rows) == [change.operational_intent.reference.id]
    assert len(store.subscriptions.rows) == 1
    assert factory.attempts == 3 and factory.commits == 1


def test_the_retry_sees_what_the_winner_wrote() -> None:
    """uss2 loses a race to uss1 planning in the same airspace: run again, uss2's request is
    refused for want of uss1's OVN instead of being committed beside it."""
    store = MemoryStore()
    winner_ctx = DssContext(uow_factory=store.unit_of_work, clock=FixedClock(T0))
    won: list[svc.OirChange] = []

    def concurrent_winner() -> None:
        if not won:  # commits while the loser's transaction was open (the store's lock is re-entrant)
            won.append(_put(winner_ctx, USS1))

    factory = Flaky(store, failures=1, where="commit", before_failing=concurrent_winner)
    loser_ctx = DssContext(uow_factory=factory, clock=FixedClock(T0))
    with pytest.raises(MissingOvns) as info:
        _put(loser_ctx, USS2)
    assert [o.id for o in info.value.operational_intents] == [won[0].operational_intent.reference.id]
    assert factory.attempts == 2
    assert list(store.operational_intents.rows) == [won[0].operational_intent.reference.id]
