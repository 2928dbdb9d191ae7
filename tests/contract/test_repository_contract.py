"""The storage contract: every adapter (memory, SQLite, PostgreSQL) must pass this one suite.

``uow_factory`` and ``backend`` (tests/conftest.py) run each test once per adapter.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parley.domain.entities import (
    ConstraintReference,
    DssReport,
    EntityId,
    Manager,
    OperationalIntentReference,
    OperationalIntentState,
    Ovn,
    Subscription,
    UssAvailability,
    UssAvailabilityState,
)
from parley.domain.extent import Extent4D
from parley.ports.repositories import DssRepository, UnitOfWorkFactory

UowFactory = UnitOfWorkFactory

MIN_CELL = -(2**63)
MAX_CELL = 2**63 - 1


def t(hour: int, microsecond: int = 0) -> datetime:
    """A moment on 2026-01-01 (UTC)."""
    return datetime(2026, 1, 1, hour, tzinfo=UTC) + timedelta(microseconds=microsecond)


def eid(n: int) -> EntityId:
    return EntityId(f"00000000-0000-4000-8000-{n:012d}")


def extent(
    cells: set[int] | frozenset[int] = frozenset({1, 2}),
    lower: float | None = 100.0,
    upper: float | None = 200.0,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Extent4D:
    return Extent4D(frozenset(cells), lower, upper, start or t(10), end or t(20))


def area(
    cells: set[int] | frozenset[int] = frozenset({2, 3}),
    lower: float | None = None,
    upper: float | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Extent4D:
    return Extent4D(frozenset(cells), lower, upper, start, end)


def oir(n: int, ext: Extent4D | None = None, **changes: object) -> OperationalIntentReference:
    base = OperationalIntentReference(
        id=eid(n),
        manager=Manager("uss1"),
        version=1,
        state=OperationalIntentState.ACCEPTED,
        ovn=Ovn(f"ovn-{n:020d}"),
        extent=ext or extent(),
        uss_base_url="https://uss1.example/dss",
        subscription_id=None,
    )
    return dataclasses.replace(base, **changes)


def constraint(n: int, ext: Extent4D | None = None, **changes: object) -> ConstraintReference:
    base = ConstraintReference(
        id=eid(n),
        manager=Manager("uss2"),
        version=1,
        ovn=Ovn(f"covn-{n:020d}"),
        extent=ext or extent(),
        uss_base_url="https://uss2.example/dss",
    )
    return dataclasses.replace(base, **changes)


def subscription(n: int, ext: Extent4D | None = None, **changes: object) -> Subscription:
    base = Subscription(
        id=eid(n),
        manager=Manager("uss3"),
        version=f"v{n}",
        notification_index=0,
        extent=ext or extent(),
        uss_base_url="https://uss3.example/dss",
        notify_for_operational_intents=True,
        notify_for_constraints=True,
        implicit=False,
    )
    return dataclasses.replace(base, **changes)


# Per entity type: (make, upsert, get, search, delete), so CRUD and search tests run for each.
@dataclasses.dataclass(frozen=True)
class Kind:
    name: str
    make: Callable[..., object]
    upsert: Callable[[DssRepository, object], None]
    get: Callable[[DssRepository, EntityId], object | None]
    search: Callable[[DssRepository, Extent4D], list[object]]
    delete: Callable[[DssRepository, EntityId], None]


KINDS = [
    Kind(
        "operational_intent",
        oir,
        lambda r, e: r.upsert_operational_intent(e),
        lambda r, i: r.get_operational_intent(i),
        lambda r, a: list(r.search_operational_intents(a)),
        lambda r, i: r.delete_operational_intent(i),
    ),
    Kind(
        "constraint",
        constraint,
        lambda r, e: r.upsert_constraint(e),
        lambda r, i: r.get_constraint(i),
        lambda r, a: list(r.search_constraints(a)),
        lambda r, i: r.delete_constraint(i),
    ),
    Kind(
        "subscription",
        subscription,
        lambda r, e: r.upsert_subscription(e),
        lambda r, i: r.get_subscription(i),
        lambda r, a: list(r.search_subscriptions(a)),
        lambda r, i: r.delete_subscription(i),
    ),
]


@pytest.fixture(params=KINDS, ids=lambda k: k.name)
def kind(request: pytest.FixtureRequest) -> Kind:
    return request.param


# -- get / upsert / delete ----------------------------------------------------------------------
def test_get_upsert_delete(uow_factory: UowFactory, kind: Kind) -> None:
    first = kind.make(7, extent(cells={1, 2}))
    with uow_factory() as uow:
        assert kind.get(uow.repo, eid(7)) is None
        kind.upsert(uow.repo, first)
        assert kind.get(uow.repo, eid(7)) == first
        uow.commit()
    with uow_factory() as uow:
        assert kind.get(uow.repo, eid(7)) == first
        # An upsert replaces the whole entity, its cells included.
        second = kind.make(
            7, extent(cells={5}, lower=0.0, upper=50.0), version=2 if kind.name != "subscription" else "v2"
        )
        kind.upsert(uow.repo, second)
        assert kind.get(uow.repo, eid(7)) == second
        assert kind.search(uow.repo, area(cells={1, 2})) == []
        assert kind.search(uow.repo, area(cells={5})) == [second]
        uow.commit()
    with uow_factory() as uow:
        assert kind.get(uow.repo, eid(7)) == second
        kind.delete(uow.repo, eid(7))
        assert kind.get(uow.repo, eid(7)) is None
        kind.delete(uow.repo, eid(7))  # deleting what is not there is a no-op
        kind.delete(uow.repo, eid(8))
        uow.commit()
    with uow_factory() as uow:
        assert kind.get(uow.repo, eid(7)) is None
        assert kind.search(uow.repo, area(cells={5})) == []


def test_entity_types_are_separate(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        uow.repo.upsert_operational_intent(oir(1))
        assert uow.repo.get_constraint(eid(1)) is None
        assert uow.repo.get_subscription(eid(1)) is None
        assert uow.repo.search_constraints(area()) == []
        assert uow.repo.search_subscriptions(area()) == []
        assert [o.id for o in uow.repo.search_operational_intents(area())] == [eid(1)]


# -- search semantics ---------------------------------------------------------------------------
# The stored entity: cells {1, 2}, altitudes [100, 200] m, times [10:00, 20:00].
SEARCH_CASES: list[tuple[str, Extent4D, bool]] = [
    ("shared cell, unbounded", area(cells={2, 3}), True),
    ("all cells shared", area(cells={1, 2}), True),
    ("disjoint cells", area(cells={3, 4}), False),
    ("no cells", area(cells=set()), False),
    ("inside all bounds", area(lower=120.0, upper=150.0, start=t(11), end=t(12)), True),
    ("altitude touches upper bound", area(lower=200.0, upper=300.0), True),
    ("altitude just above", area(lower=200.001, upper=300.0), False),
    ("altitude touches lower bound", area(lower=0.0, upper=100.0), True),
    ("altitude just below", area(lower=0.0, upper=99.999), False),
    ("altitude band encloses", area(lower=0.0, upper=1000.0), True),
    ("time touches end", area(start=t(20), end=t(22)), True),
    ("time one microsecond after end", area(start=t(20, 1), end=t(22)), False),
    ("time touches start", area(start=t(8), end=t(10)), True),
    ("time one microsecond before start", area(start=t(8), end=t(10, -1)), False),
    ("time window encloses", area(start=t(1), end=t(23)), True),
    ("no lower altitude, upper below", area(upper=50.0), False),
    ("no lower altitude, upper at bound", area(upper=100.0), True),
    ("no upper altitude, lower above", area(lower=250.0), False),
    ("no upper altitude, lower inside", area(lower=150.0), True),
    ("no start, end before", area(end=t(9)), False),
    ("no start, end at start", area(end=t(10)), True),
    ("no end, start after", area(start=t(21)), False),
    ("no end, start at end", area(start=t(20)), True),
    (
        "disjoint cells, other bounds match",
        area(cells={9}, lower=120.0, upper=150.0, start=t(11), end=t(12)),
        False,
    ),
]


@pytest.mark.parametrize(
    ("search_area", "found"), [c[1:] for c in SEARCH_CASES], ids=[c[0] for c in SEARCH_CASES]
)
def test_search_semantics(uow_factory: UowFactory, kind: Kind, search_area: Extent4D, found: bool) -> None:
    stored = kind.make(1, extent(cells={1, 2}, lower=100.0, upper=200.0, start=t(10), end=t(20)))
    with uow_factory() as uow:
        kind.upsert(uow.repo, stored)
        uow.commit()
    with uow_factory() as uow:
        assert kind.search(uow.repo, search_area) == ([stored] if found else [])
        assert stored.extent.may_intersect(search_area) is found


def test_search_treats_missing_stored_bounds_as_unbounded(uow_factory: UowFactory, kind: Kind) -> None:
    stored = kind.make(1, Extent4D(frozenset({1}), None, None, t(10), t(20)))
    with uow_factory() as uow:
        kind.upsert(uow.repo, stored)
        assert kind.search(uow.repo, area(cells={1}, lower=1e6, upper=2e6)) == [stored]
        assert kind.search(uow.repo, area(cells={1}, lower=-1e6, upper=-5e5)) == [stored]
        assert kind.search(uow.repo, area(cells={1}, start=t(21))) == []


def test_search_returns_every_match_once_ordered_by_id(uow_factory: UowFactory, kind: Kind) -> None:
    entities = [kind.make(n, extent(cells={n, 100, 101})) for n in (5, 3, 9, 1)]
    with uow_factory() as uow:
        for entity in entities:
            kind.upsert(uow.repo, entity)
        uow.commit()
    with uow_factory() as uow:
        # Shares two cells with every entity: each is still returned once.
        found = kind.search(uow.repo, area(cells={100, 101, 3}))
        assert [e.id for e in found] == [eid(1), eid(3), eid(5), eid(9)]
        assert found == sorted(entities, key=lambda e: e.id)
        assert kind.search(uow.repo, area(cells={3, 9})) == [entities[1], entities[2]]


def test_search_with_many_cells(uow_factory: UowFactory) -> None:
    """Areas of tens of thousands of cells (beyond SQLite's old 999-variable limit and PostgreSQL's
    65535-parameter one) search fine."""
    big = frozenset(range(-40_000, 40_000, 2))
    with uow_factory() as uow:
        uow.repo.upsert_operational_intent(oir(1, extent(cells={39_998})))
        uow.repo.upsert_operational_intent(oir(2, extent(cells={7})))
        stored = oir(3, extent(cells=frozenset(range(0, 3000))))
        uow.repo.upsert_operational_intent(stored)
        uow.commit()
    with uow_factory() as uow:
        assert [o.id for o in uow.repo.search_operational_intents(area(cells=big))] == [eid(1), eid(3)]
        assert uow.repo.get_operational_intent(eid(3)) == stored


def test_search_subscriptions_by_manager(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        uow.repo.upsert_subscription(subscription(1, manager=Manager("alice")))
        uow.repo.upsert_subscription(subscription(2, manager=Manager("bob")))
        uow.repo.upsert_subscription(subscription(3, manager=Manager("alice"), extent=extent(cells={42})))
        uow.commit()
    with uow_factory() as uow:
        assert [s.id for s in uow.repo.search_subscriptions(area(), Manager("alice"))] == [eid(1)]
        assert [s.id for s in uow.repo.search_subscriptions(area(), Manager("bob"))] == [eid(2)]
        assert uow.repo.search_subscriptions(area(), Manager("carol")) == []
        assert [s.id for s in uow.repo.search_subscriptions(area())] == [eid(1), eid(2)]


def test_dependent_operational_intents(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        uow.repo.upsert_subscription(subscription(1))
        uow.repo.upsert_operational_intent(oir(12, subscription_id=eid(1)))
        uow.repo.upsert_operational_intent(oir(11, subscription_id=eid(1)))
        uow.repo.upsert_operational_intent(oir(13, subscription_id=eid(2)))
        uow.repo.upsert_operational_intent(oir(14))
        uow.commit()
    with uow_factory() as uow:
        assert uow.repo.dependent_operational_intents(eid(1)) == [eid(11), eid(12)]
        assert uow.repo.dependent_operational_intents(eid(2)) == [eid(13)]
        assert uow.repo.dependent_operational_intents(eid(3)) == []
        uow.repo.upsert_operational_intent(oir(12, subscription_id=None))
        assert uow.repo.dependent_operational_intents(eid(1)) == [eid(11)]


# -- notifications ------------------------------------------------------------------------------
def test_notify_subscriptions_increments_filters_and_orders(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        # Inserted out of id order; 4 is out of the area, 5 is out of the time window.
        uow.repo.upsert_subscription(
            subscription(3, notify_for_operational_intents=True, notify_for_constraints=False)
        )
        uow.repo.upsert_subscription(
            subscription(1, notify_for_operational_intents=False, notify_for_constraints=True)
        )
        uow.repo.upsert_subscription(subscription(2, notification_index=10))
        uow.repo.upsert_subscription(subscription(4, extent(cells={99})))
        uow.repo.upsert_subscription(subscription(5, extent(start=t(1), end=t(2))))
        uow.commit()
    changed = area(cells={1}, start=t(12), end=t(13))
    with uow_factory() as uow:
        notified = uow.repo.notify_subscriptions(changed, for_operational_intents=True, for_constraints=False)
        assert [(s.id, s.notification_index) for s in notified] == [(eid(2), 11), (eid(3), 1)]
        assert notified[1] == subscription(3, notification_index=1, notify_for_constraints=False)
        uow.commit()
    with uow_factory() as uow:
        notified = uow.repo.notify_subscriptions(changed, for_operational_intents=False, for_constraints=True)
        assert [(s.id, s.notification_index) for s in notified] == [(eid(1), 1), (eid(2), 12)]
        notified = uow.repo.notify_subscriptions(changed, for_operational_intents=True, for_constraints=True)
        assert [(s.id, s.notification_index) for s in notified] == [(eid(1), 2), (eid(2), 13), (eid(3), 2)]
        assert (
            uow.repo.notify_subscriptions(changed, for_operational_intents=False, for_constraints=False) == []
        )
        assert (
            uow.repo.notify_subscriptions(
                area(cells={77}), for_operational_intents=True, for_constraints=True
            )
            == []
        )
        uow.commit()
    with uow_factory() as uow:
        indices = {n: uow.repo.get_subscription(eid(n)) for n in range(1, 6)}
        assert {n: s.notification_index for n, s in indices.items() if s} == {1: 2, 2: 13, 3: 2, 4: 0, 5: 0}
        # The returned subscriptions are complete: cells and bounds as stored.
        assert indices[2] == subscription(2, notification_index=13)


def test_notify_subscriptions_is_rolled_back_with_the_unit_of_work(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        uow.repo.upsert_subscription(subscription(1))
        uow.commit()
    with uow_factory() as uow:
        notified = uow.repo.notify_subscriptions(area(), for_operational_intents=True, for_constraints=False)
        assert [s.notification_index for s in notified] == [1]
    with uow_factory() as uow:
        sub = uow.repo.get_subscription(eid(1))
        assert sub is not None and sub.notification_index == 0


# -- availability and reports -------------------------------------------------------------------
def test_uss_availability(uow_factory: UowFactory) -> None:
    normal = UssAvailability(Manager("uss1"), UssAvailabilityState.NORMAL, "v1")
    with uow_factory() as uow:
        assert uow.repo.get_uss_availability(Manager("uss1")) is None
        uow.repo.set_uss_availability(normal)
        uow.repo.set_uss_availability(UssAvailability(Manager("uss2"), UssAvailabilityState.UNKNOWN, "x"))
        uow.commit()
    with uow_factory() as uow:
        assert uow.repo.get_uss_availability(Manager("uss1")) == normal
        down = UssAvailability(Manager("uss1"), UssAvailabilityState.DOWN, "v2")
        uow.repo.set_uss_availability(down)
        uow.commit()
    with uow_factory() as uow:
        assert uow.repo.get_uss_availability(Manager("uss1")) == down
        assert uow.repo.get_uss_availability(Manager("uss2")) == UssAvailability(
            Manager("uss2"), UssAvailabilityState.UNKNOWN, "x"
        )
        assert uow.repo.get_uss_availability(Manager("uss3")) is None


def test_add_report(backend: Any) -> None:
    report = DssReport(
        eid(1), Manager("uss1"), t(3, 5), {"a": [1, "x", None], "nested": {"k": 1.5, "ü": True}}
    )
    with backend.uow_factory() as uow:
        uow.repo.add_report(report)
    assert backend.stored_reports() == {}  # not committed
    with backend.uow_factory() as uow:
        uow.repo.add_report(report)
        uow.repo.add_report(dataclasses.replace(report, report_id=eid(2), payload={}))
        uow.commit()
    stored = backend.stored_reports()
    assert sorted(stored) == [eid(1), eid(2)]
    assert stored[eid(1)] == report  # DssReport equality leaves the payload out: compare it too
    assert stored[eid(1)].payload == report.payload and stored[eid(2)].payload == {}
    assert stored[eid(1)].received_at == t(3, 5)


# -- housekeeping -------------------------------------------------------------------------------
def test_delete_expired(uow_factory: UowFactory) -> None:
    old, live = extent(start=t(1), end=t(5)), extent(start=t(1), end=t(23))
    with uow_factory() as uow:
        repo = uow.repo
        repo.upsert_operational_intent(oir(1, old))
        repo.upsert_operational_intent(oir(2, live, subscription_id=eid(23)))
        repo.upsert_operational_intent(oir(3, old, subscription_id=eid(24)))
        repo.upsert_operational_intent(oir(4, extent(start=t(1), end=t(10)), subscription_id=eid(25)))
        repo.upsert_constraint(constraint(11, old))
        repo.upsert_constraint(constraint(12, live))
        repo.upsert_subscription(subscription(21, old))  # expired, no dependents: removed
        repo.upsert_subscription(subscription(22, live))  # live: kept
        repo.upsert_subscription(subscription(23, old))  # expired but its dependent lives: kept
        repo.upsert_subscription(subscription(24, live, implicit=True))  # only dependent expired: removed
        repo.upsert_subscription(subscription(25, live, implicit=True))  # implicit with a dependent: kept
        # Implicit and live, never depended on (the services never leave one so): left to expire.
        repo.upsert_subscription(subscription(26, live, implicit=True))
        uow.commit()
    with uow_factory() as uow:
        # Bounds are exclusive: an entity ending exactly at `before` is kept (oir 4 ends at 10:00).
        assert uow.repo.delete_expired(t(10)) == 5
        uow.commit()
    with uow_factory() as uow:
        repo = uow.repo
        remaining_oirs = {n for n in (1, 2, 3, 4) if repo.get_operational_intent(eid(n))}
        remaining_constraints = {n for n in (11, 12) if repo.get_constraint(eid(n))}
        remaining_subs = {n for n in range(21, 27) if repo.get_subscription(eid(n))}
        assert (remaining_oirs, remaining_constraints, remaining_subs) == ({2, 4}, {12}, {22, 23, 25, 26})
        # The deleted entities' cells are gone too: no search finds them.
        assert [o.id for o in repo.search_operational_intents(area())] == [eid(2), eid(4)]
        assert [c.id for c in repo.search_constraints(area())] == [eid(12)]
        assert [s.id for s in repo.search_subscriptions(area())] == [eid(22), eid(23), eid(25), eid(26)]
        assert repo.delete_expired(t(10)) == 0


# -- transactions -------------------------------------------------------------------------------
def _write_everything(repo: DssRepository) -> None:
    repo.upsert_operational_intent(oir(1))
    repo.upsert_constraint(constraint(2))
    repo.upsert_subscription(subscription(3))
    repo.set_uss_availability(UssAvailability(Manager("uss1"), UssAvailabilityState.DOWN, "v"))


def _nothing_stored(repo: DssRepository) -> bool:
    return (
        repo.get_operational_intent(eid(1)) is None
        and repo.get_constraint(eid(2)) is None
        and repo.get_subscription(eid(3)) is None
        and repo.get_uss_availability(Manager("uss1")) is None
        and repo.search_operational_intents(area()) == []
        and repo.search_constraints(area()) == []
        and repo.search_subscriptions(area()) == []
    )


def test_exit_without_commit_rolls_back(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        _write_everything(uow.repo)
        assert not _nothing_stored(uow.repo)  # visible inside the unit of work
    with uow_factory() as uow:
        assert _nothing_stored(uow.repo)


def test_exception_rolls_back_and_propagates(uow_factory: UowFactory) -> None:
    with pytest.raises(RuntimeError, match="boom"), uow_factory() as uow:
        _write_everything(uow.repo)
        raise RuntimeError("boom")
    with uow_factory() as uow:
        assert _nothing_stored(uow.repo)


def test_explicit_rollback_discards_and_unit_of_work_goes_on(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        _write_everything(uow.repo)
        uow.rollback()
        assert _nothing_stored(uow.repo)
        uow.repo.upsert_operational_intent(oir(9))
        uow.commit()
    with uow_factory() as uow:
        assert uow.repo.get_operational_intent(eid(9)) == oir(9)
        assert uow.repo.get_operational_intent(eid(1)) is None


def test_rollback_restores_replaced_and_deleted_entities(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        uow.repo.upsert_operational_intent(oir(1))
        uow.repo.upsert_subscription(subscription(2))
        uow.commit()
    with uow_factory() as uow:
        uow.repo.upsert_operational_intent(oir(1, extent(cells={50}), version=2))
        uow.repo.delete_subscription(eid(2))
        assert uow.repo.delete_expired(t(23)) == 1
    with uow_factory() as uow:
        assert uow.repo.get_operational_intent(eid(1)) == oir(1)
        assert uow.repo.get_subscription(eid(2)) == subscription(2)
        assert uow.repo.search_operational_intents(area(cells={50})) == []


# -- exact round trips --------------------------------------------------------------------------
def test_values_round_trip_exactly(uow_factory: UowFactory) -> None:
    ext = Extent4D(
        frozenset({MIN_CELL, -1, 0, 1, MAX_CELL}),
        -0.1 - 0.2,
        0.1 + 0.2,
        datetime(2026, 3, 4, 5, 6, 7, 123457, tzinfo=UTC),
        datetime(2026, 3, 4, 5, 6, 7, 999999, tzinfo=UTC),
    )
    stored_oir = oir(
        1,
        ext,
        manager=Manager("üss-ʘ/émoji-😀"),
        version=2**31 - 1,
        state=OperationalIntentState.NONCONFORMING,
        ovn=Ovn("x" * 128),
        uss_base_url="https://uss.example/" + "p" * 2000,
        subscription_id=eid(77),
    )
    no_altitudes = dataclasses.replace(ext, altitude_lower_m=None, altitude_upper_m=None)
    stored_constraint = constraint(2, no_altitudes, version=0)
    # A time given in another zone comes back as the same instant (SQL adapters: in UTC).
    zoned = dataclasses.replace(
        ext, time_start=datetime(2026, 3, 4, 7, 6, 7, 1, tzinfo=timezone(timedelta(hours=2)))
    )
    stored_sub = subscription(
        3,
        zoned,
        version="opaque/version",
        notification_index=2**31 - 1,
        implicit=True,
        notify_for_constraints=False,
    )
    with uow_factory() as uow:
        uow.repo.upsert_operational_intent(stored_oir)
        uow.repo.upsert_constraint(stored_constraint)
        uow.repo.upsert_subscription(stored_sub)
        uow.commit()
    with uow_factory() as uow:
        got_oir = uow.repo.get_operational_intent(eid(1))
        got_constraint = uow.repo.get_constraint(eid(2))
        got_sub = uow.repo.get_subscription(eid(3))
    assert got_oir == stored_oir and got_constraint == stored_constraint and got_sub == stored_sub
    assert got_oir is not None and got_constraint is not None and got_sub is not None
    assert got_oir.extent.altitude_lower_m == -0.30000000000000004
    assert got_oir.extent.altitude_upper_m == 0.30000000000000004
    assert got_oir.time_start.microsecond == 123457 and got_oir.time_end.microsecond == 999999
    assert got_constraint.extent.altitude_lower_m is None and got_constraint.extent.altitude_upper_m is None
    assert got_sub.time_start == datetime(2026, 3, 4, 5, 6, 7, 1, tzinfo=UTC)
    for moment in (got_oir.time_start, got_oir.time_end, got_constraint.time_end, got_sub.time_end):
        assert moment.utcoffset() == timedelta(0)
    assert got_sub.time_start.utcoffset() is not None  # the same instant, still timezone-aware
    assert got_sub.implicit is True and got_sub.notify_for_constraints is False


# -- search equals brute force (property) -------------------------------------------------------
_CELLS = st.sampled_from([MIN_CELL, -5, 0, 1, 2, 3, MAX_CELL])
_ALTITUDES = st.one_of(st.none(), st.sampled_from([-10.5, 0.0, 100.0, 100.25, 150.0]))
_TIMES = st.one_of(st.none(), st.sampled_from([t(1), t(2), t(2, 1), t(3), t(5, 999999)]))


@st.composite
def _extents(draw: st.DrawFn, min_cells: int) -> Extent4D:
    return Extent4D(
        frozenset(draw(st.frozensets(_CELLS, min_size=min_cells, max_size=3))),
        draw(_ALTITUDES),
        draw(_ALTITUDES),
        draw(_TIMES),
        draw(_TIMES),
    )


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stored=st.lists(_extents(min_cells=1), max_size=6), search_area=_extents(min_cells=0))
def test_search_equals_brute_force(
    uow_factory: UowFactory, stored: list[Extent4D], search_area: Extent4D
) -> None:
    expected = [eid(n) for n, ext in enumerate(stored) if ext.may_intersect(search_area)]
    # Never committed: each example starts from the empty store.
    with uow_factory() as uow:
        repo = uow.repo
        for n, ext in enumerate(stored):
            repo.upsert_operational_intent(oir(n, ext))
            repo.upsert_constraint(constraint(n, ext))
            repo.upsert_subscription(subscription(n, ext))
        assert [o.id for o in repo.search_operational_intents(search_area)] == expected
        assert [c.id for c in repo.search_constraints(search_area)] == expected
        assert [s.id for s in repo.search_subscriptions(search_area)] == expected
        notified = repo.notify_subscriptions(search_area, for_operational_intents=True, for_constraints=False)
        assert [(s.id, s.notification_index) for s in notified] == [(i, 1) for i in expected]


def test_availabilities_in_one_lookup(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        uow.repo.set_uss_availability(UssAvailability(Manager("uss1"), UssAvailabilityState.DOWN, "v1"))
        uow.repo.set_uss_availability(UssAvailability(Manager("uss2"), UssAvailabilityState.NORMAL, "v2"))
        uow.commit()
    with uow_factory(readonly=True) as uow:
        found = uow.repo.get_uss_availabilities({Manager("uss1"), Manager("uss3")})
        assert found == {Manager("uss1"): UssAvailability(Manager("uss1"), UssAvailabilityState.DOWN, "v1")}
        assert uow.repo.get_uss_availabilities(set()) == {}


def test_search_with_availability_and_get_with_availability(uow_factory: UowFactory) -> None:
    """The combined reads give what their parts give: the intents as ``search_operational_intents``
    finds them and each manager's availability (Unknown where none is set); the intent (or None)
    and one USS's availability. Alone in a read-only unit of work, and inside a write."""
    with uow_factory() as uow:
        uow.repo.upsert_operational_intent(oir(1))
        uow.repo.upsert_operational_intent(oir(2, manager=Manager("uss2")))
        uow.repo.upsert_operational_intent(oir(3, ext=extent({9})))
        uow.repo.set_uss_availability(UssAvailability(Manager("uss2"), UssAvailabilityState.DOWN, "v1"))
        uow.commit()
    for readonly in (True, False):
        with uow_factory(readonly=readonly) as uow:
            found, known = uow.repo.search_operational_intents_with_availability(area())
            assert [o.id for o in found] == [eid(1), eid(2)]
            assert found == uow_search(uow_factory)
            assert known == {
                Manager("uss1"): UssAvailabilityState.UNKNOWN,
                Manager("uss2"): UssAvailabilityState.DOWN,
            }
            uow.commit()
        with uow_factory(readonly=readonly) as uow:
            assert uow.repo.search_operational_intents_with_availability(area({42})) == ([], {})
        with uow_factory(readonly=readonly) as uow:
            got = uow.repo.get_operational_intent_and_availability(eid(2), Manager("uss2"))
            assert got == (oir(2, manager=Manager("uss2")), UssAvailabilityState.DOWN)
        with uow_factory(readonly=readonly) as uow:
            got = uow.repo.get_operational_intent_and_availability(eid(7), Manager("uss1"))
            assert got == (None, UssAvailabilityState.UNKNOWN)
    with uow_factory() as uow:  # inside a write, with other statements around
        uow.repo.get_operational_intent_and_availability(eid(1), Manager("uss1"))
        uow.repo.upsert_operational_intent(oir(4))
        found, _ = uow.repo.search_operational_intents_with_availability(area())
        assert [o.id for o in found] == [eid(1), eid(2), eid(4)]
        uow.commit()


def uow_search(uow_factory: UowFactory) -> list[OperationalIntentReference]:
    with uow_factory(readonly=True) as uow:
        return uow.repo.search_operational_intents(area())


def test_upsert_operational_intent_and_notify(uow_factory: UowFactory) -> None:
    """The intent is written (its cells indexed, old ones dropped) and the subscriptions for
    operational intents in the area are notified, as the two calls do one after the other."""
    with uow_factory() as uow:
        uow.repo.upsert_subscription(subscription(1))
        uow.repo.upsert_subscription(subscription(2, notify_for_operational_intents=False))
        uow.repo.upsert_subscription(subscription(3, ext=extent({9})))
        uow.repo.upsert_operational_intent(oir(4, ext=extent({7})))
        uow.commit()
    with uow_factory() as uow:
        notified = uow.repo.upsert_operational_intent_and_notify(oir(4, version=2), area())
        assert [(s.id, s.notification_index) for s in notified] == [(eid(1), 1)]
        uow.commit()
    with uow_factory(readonly=True) as uow:
        assert uow.repo.get_operational_intent(eid(4)) == oir(4, version=2)
        assert [o.id for o in uow.repo.search_operational_intents(area())] == [eid(4)]
        assert uow.repo.search_operational_intents(area({7})) == []
    with uow_factory() as uow:
        assert uow.repo.upsert_operational_intent_and_notify(oir(5), area(set())) == []
        uow.commit()
    with uow_factory(readonly=True) as uow:
        assert uow.repo.get_operational_intent(eid(5)) == oir(5)


def test_a_subscription_written_before_other_statements_is_kept_or_rolled_back(
    uow_factory: UowFactory,
) -> None:
    """A subscription's write (which a store may send with the next statement that reads no
    subscription) is seen by every later read of the unit of work, kept by its commit and dropped by
    its rollback, whatever comes after it."""
    with uow_factory() as uow:
        uow.repo.upsert_subscription(subscription(1))
        assert uow.repo.search_operational_intents(area()) == []
        uow.repo.upsert_subscription(subscription(2))
        assert [s.id for s in uow.repo.search_subscriptions(area())] == [eid(1), eid(2)]
        uow.repo.upsert_subscription(subscription(3))
        found, _ = uow.repo.search_operational_intents_with_availability(area())
        assert found == []
        uow.commit()
    with uow_factory() as uow:
        uow.repo.upsert_subscription(subscription(4))
        assert uow.repo.search_constraints(area()) == []
        uow.rollback()
        uow.repo.upsert_subscription(subscription(5))
        uow.commit()
    with uow_factory() as uow:
        uow.repo.upsert_subscription(subscription(6))
        assert uow.repo.search_operational_intents(area()) == []
        # left without a commit: rolled back
    with uow_factory(readonly=True) as uow:
        kept = [s.id for s in uow.repo.search_subscriptions(area())]
    assert kept == [eid(1), eid(2), eid(3), eid(5)]
