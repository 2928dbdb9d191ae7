"""The key rule as properties (astm.f3548.v21.DSS0210,A2-7-2,2a, 2b; DSS0005,1), over the in-memory store.

Creating or updating an operational intent in Accepted or Activated succeeds iff its key holds the
current OVN of every *relevant* entity, and otherwise raises :class:`MissingOvns` naming exactly the
missing ones, changing nothing. Relevant, as computed here independently of the service and of
the store's cell index:

- every other operational intent in Accepted or Activated, except Accepted intents of a USS
  marked Down, and
- every constraint, when the intent's subscription asks to be told of constraints,

whose footprint *may intersect* the new footprint: a shared level-13 S2 cell (``cover_outline``,
the DSS's covering of each outline), overlapping altitude bands and overlapping time windows, all
bounds closed, over the union of each side's volumes.
"""

from __future__ import annotations

import itertools
import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
import shapely
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from parley.domain.cells import cover_outline
from parley.domain.entities import (
    ConstraintReference,
    EntityId,
    Manager,
    OperationalIntentReference,
    OperationalIntentState,
    Ovn,
    Subscription,
    UssAvailabilityState,
)
from parley.domain.errors import MissingOvns, PermissionDenied, UssDown, VersionMismatch
from parley.domain.geo import LatLng, Polygon, Volume3D, Volume4D
from parley.domain.limits import MAX_AREA_KM2
from parley.ports.clock import FixedClock
from parley.services import dss_availability, dss_constraints
from parley.services import dss_operational_intents as svc
from parley.services.context import DssContext
from parley.storage.memory import MemoryStore
from tests.factories import T0, new_id

ACCEPTED = OperationalIntentState.ACCEPTED
ACTIVATED = OperationalIntentState.ACTIVATED
NONCONFORMING = OperationalIntentState.NONCONFORMING
CONTINGENT = OperationalIntentState.CONTINGENT
USSES = (Manager("uss1"), Manager("uss2"), Manager("uss3"))
SC = frozenset({"utm.strategic_coordination"})
SC_CMSA = SC | {"utm.conformance_monitoring_sa"}
BASE_LAT, BASE_LNG = 46.0, 7.0

PROPERTY_SETTINGS = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


# -- drawn volumes and the oracle -----------------------------------------------------------------
@dataclass(frozen=True)
class Box:
    """A drawn volume: a lat/lng rectangle (degrees), an altitude band (m), minutes after T0."""

    lat: float
    lng: float
    half_lat: float
    half_lng: float
    alt_lo: float
    alt_hi: float
    start_min: int
    end_min: int

    def polygon(self) -> Polygon:
        s, n = self.lat - self.half_lat, self.lat + self.half_lat
        w, e = self.lng - self.half_lng, self.lng + self.half_lng
        return Polygon((LatLng(s, w), LatLng(s, e), LatLng(n, e), LatLng(n, w)))

    def volume(self) -> Volume4D:
        return Volume4D(
            Volume3D(self.polygon(), self.alt_lo, self.alt_hi),
            T0 + timedelta(minutes=self.start_min),
            T0 + timedelta(minutes=self.end_min),
        )

    def shape(self) -> shapely.Polygon:
        return shapely.box(
            self.lng - self.half_lng,
            self.lat - self.half_lat,
            self.lng + self.half_lng,
            self.lat + self.half_lat,
        )

    def overlaps_truly(self, other: Box) -> bool:
        """Positive-area overlap in the plane, overlapping altitudes and times (same volume pair)."""
        return (
            self.shape().intersection(other.shape()).area > 1e-10
            and self.alt_lo <= other.alt_hi
            and other.alt_lo <= self.alt_hi
            and self.start_min <= other.end_min
            and other.start_min <= self.end_min
        )


@dataclass(frozen=True)
class Footprint:
    """The union of some boxes as the DSS indexes it: cells x altitude band x time window."""

    cells: frozenset[int]
    alt_lo: float
    alt_hi: float
    start_min: int
    end_min: int

    @staticmethod
    def of(boxes: Iterable[Box]) -> Footprint:
        items = list(boxes)
        cells: frozenset[int] = frozenset().union(
            *(cover_outline(b.polygon(), max_area_km2=MAX_AREA_KM2) for b in items)
        )
        return Footprint(
            cells,
            min(b.alt_lo for b in items),
            max(b.alt_hi for b in items),
            min(b.start_min for b in items),
            max(b.end_min for b in items),
        )

    def may_intersect(self, other: Footprint) -> bool:
        return (
            bool(self.cells & other.cells)
            and self.alt_lo <= other.alt_hi
            and other.alt_lo <= self.alt_hi
            and self.start_min <= other.end_min
            and other.start_min <= self.end_min
        )

    def matches(self, stored: OperationalIntentReference | ConstraintReference) -> bool:
        e = stored.extent
        return (
            e.cells == self.cells
            and e.altitude_lower_m == self.alt_lo
            and e.altitude_upper_m == self.alt_hi
            and e.time_start == T0 + timedelta(minutes=self.start_min)
            and e.time_end == T0 + timedelta(minutes=self.end_min)
        )


@st.composite
def boxes(draw: st.DrawFn) -> Box:
    """Small rectangles within ~2 km of one point, on grids that make touching bounds common,
    within two hours and 150 m: many intersect."""
    alt_lo = 30.0 * draw(st.integers(0, 3))
    start = 5 * draw(st.integers(1, 12))
    return Box(
        lat=BASE_LAT + 0.002 * draw(st.integers(-5, 5)),
        lng=BASE_LNG + 0.003 * draw(st.integers(-5, 5)),
        half_lat=0.001 * draw(st.integers(1, 8)),
        half_lng=0.0015 * draw(st.integers(1, 8)),
        alt_lo=alt_lo,
        alt_hi=alt_lo + 30.0 * draw(st.integers(1, 2)),
        start_min=start,
        end_min=start + 5 * draw(st.integers(1, 12)),
    )


box_lists = st.lists(boxes(), min_size=1, max_size=2)


# -- the world the property is checked in ---------------------------------------------------------
@dataclass
class Known:
    """What the test knows of a stored entity, from the answers it was given."""

    id: EntityId
    manager: Manager
    ovn: Ovn
    boxes: tuple[Box, ...]
    footprint: Footprint
    state: OperationalIntentState = ACCEPTED
    stale: list[Ovn] = field(default_factory=list)


@dataclass
class World:
    ctx: DssContext
    store: MemoryStore
    intents: dict[EntityId, Known] = field(default_factory=dict)
    constraints: dict[EntityId, Known] = field(default_factory=dict)
    down: frozenset[Manager] = frozenset()

    def all_ovns(self) -> tuple[Ovn, ...]:
        return tuple(k.ovn for k in itertools.chain(self.intents.values(), self.constraints.values()))

    def snapshot(
        self,
    ) -> tuple[
        dict[EntityId, OperationalIntentReference],
        dict[EntityId, ConstraintReference],
        dict[EntityId, Subscription],
    ]:
        s = self.store
        return dict(s.operational_intents.rows), dict(s.constraints.rows), dict(s.subscriptions.rows)


def new_world() -> World:
    store = MemoryStore()
    return World(DssContext(uow_factory=store.unit_of_work, clock=FixedClock(T0)), store)


def request(
    *,
    entity_id: EntityId,
    ovn: Ovn | None,
    boxes: Iterable[Box],
    key: Iterable[str],
    state: OperationalIntentState,
    manager: Manager,
    notify_for_constraints: bool = False,
) -> svc.PutOperationalIntent:
    url = f"https://{manager}.example/utm"
    return svc.PutOperationalIntent(
        entity_id=entity_id,
        ovn=ovn,
        extents=tuple(b.volume() for b in boxes),
        key=tuple(key),
        state=state,
        uss_base_url=url,
        new_subscription=svc.ImplicitSubscriptionRequest(url, notify_for_constraints),
    )


@dataclass(frozen=True)
class IntentSpec:
    boxes: tuple[Box, ...]
    manager: Manager
    state: OperationalIntentState


intent_specs = st.builds(
    IntentSpec,
    box_lists.map(tuple),
    st.sampled_from(USSES),
    st.sampled_from([ACCEPTED, ACCEPTED, ACTIVATED, NONCONFORMING, CONTINGENT]),
)


def build(world: World, intents: Iterable[IntentSpec], constraints: Iterable[tuple[Box, ...]]) -> None:
    """Store the intents (each created with a full key, then moved to its state) and constraints."""
    for spec in intents:
        entity_id = new_id()
        put = request(
            entity_id=entity_id,
            ovn=None,
            boxes=spec.boxes,
            key=world.all_ovns(),
            state=ACCEPTED,
            manager=spec.manager,
        )
        ref = svc.put_operational_intent(world.ctx, requester=spec.manager, scopes=SC, request=put)
        known = Known(
            entity_id,
            spec.manager,
            ref.operational_intent.reference.ovn,
            spec.boxes,
            Footprint.of(spec.boxes),
        )
        if spec.state is not ACCEPTED:
            move = request(
                entity_id=entity_id,
                ovn=known.ovn,
                boxes=spec.boxes,
                key=world.all_ovns(),
                state=spec.state,
                manager=spec.manager,
            )
            moved = svc.put_operational_intent(
                world.ctx, requester=spec.manager, scopes=SC_CMSA, request=move
            )
            known.stale.append(known.ovn)
            known.ovn, known.state = moved.operational_intent.reference.ovn, spec.state
        world.intents[entity_id] = known
    for c_boxes in constraints:
        entity_id = new_id()
        change = dss_constraints.put_constraint(
            world.ctx,
            requester=USSES[2],
            request=dss_constraints.PutConstraint(
                entity_id, None, tuple(b.volume() for b in c_boxes), "https://uss3.example/utm"
            ),
        )
        world.constraints[entity_id] = Known(
            entity_id, USSES[2], change.constraint.reference.ovn, c_boxes, Footprint.of(c_boxes)
        )
    for known in itertools.chain(world.intents.values(), world.constraints.values()):
        stored = world.store.operational_intents.rows.get(known.id) or world.store.constraints.rows[known.id]
        assert known.footprint.matches(stored), "the oracle's footprint is not what the DSS stored"


def mark_down(world: World, managers: Iterable[Manager]) -> None:
    managers = frozenset(managers)
    for m in managers:
        dss_availability.set_uss_availability(
            world.ctx, uss=m, old_version="", availability=UssAvailabilityState.DOWN
        )
    world.down = managers


def some_of(managers: Iterable[Manager]) -> st.SearchStrategy[frozenset[Manager]]:
    """Any subset of ``managers``, each as likely."""
    pool = tuple(managers)
    subsets = [frozenset(c) for r in range(len(pool) + 1) for c in itertools.combinations(pool, r)]
    return st.sampled_from(subsets)


junk_ovns = st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=16, max_size=44)


@st.composite
def keys(draw: st.DrawFn, world: World, extra: Iterable[Ovn] = ()) -> list[str]:
    """Any mix of current OVNs, stale OVNs and OVNs the DSS never minted, in any order."""
    chosen: list[str] = list(extra)
    for known in itertools.chain(world.intents.values(), world.constraints.values()):
        if draw(st.booleans()):
            chosen.append(known.ovn)
        if known.stale and draw(st.booleans()):
            chosen.append(draw(st.sampled_from(known.stale)))
    chosen += draw(st.lists(junk_ovns, max_size=3))
    return draw(st.permutations(chosen))


# -- the property ---------------------------------------------------------------------------------
def expected_missing(
    world: World,
    target: EntityId | None,
    footprint: Footprint,
    key: Iterable[str],
    notify_for_constraints: bool,
) -> tuple[set[EntityId], set[EntityId]]:
    """The oracle: ids of the relevant intents and constraints whose current OVN ``key`` lacks."""
    held = set(key)
    ops = {
        k.id
        for k in world.intents.values()
        if k.id != target
        and k.state in (ACCEPTED, ACTIVATED)
        and not (k.manager in world.down and k.state is ACCEPTED)
        and k.footprint.may_intersect(footprint)
        and k.ovn not in held
    }
    constraints = {
        k.id
        for k in world.constraints.values()
        if notify_for_constraints and k.footprint.may_intersect(footprint) and k.ovn not in held
    }
    return ops, constraints


def check_key_rule(
    world: World,
    *,
    requester: Manager,
    target: Known | None,
    new_boxes: tuple[Box, ...],
    key: list[str],
    state: OperationalIntentState,
    notify_for_constraints: bool,
) -> None:
    footprint = Footprint.of(new_boxes)
    target_id = target.id if target is not None else None
    # the oracle never misses a true overlap (no false negatives through the cell covering)
    for k in world.intents.values():
        if k.id != target_id and any(a.overlaps_truly(b) for a in k.boxes for b in new_boxes):
            assert k.footprint.may_intersect(footprint)
    missing_ops, missing_constraints = expected_missing(
        world, target_id, footprint, key, notify_for_constraints
    )
    exempt = [
        k
        for k in world.intents.values()
        if k.manager in world.down and k.state is ACCEPTED and k.footprint.may_intersect(footprint)
    ]
    event(f"refused: {bool(missing_ops or missing_constraints)}")
    event(f"missing constraints: {bool(missing_constraints)}")
    event(f"down-exempt intersecting intents: {bool(exempt)}")

    def attempt(with_key: list[str]) -> svc.OirChange:
        put = request(
            entity_id=target_id or new_id(),
            ovn=target.ovn if target is not None else None,
            boxes=new_boxes,
            key=with_key,
            state=state,
            manager=requester,
            notify_for_constraints=notify_for_constraints,
        )
        return svc.put_operational_intent(world.ctx, requester=requester, scopes=SC, request=put)

    if missing_ops or missing_constraints:
        before = world.snapshot()
        with pytest.raises(MissingOvns) as info:
            attempt(key)
        assert {o.id for o in info.value.operational_intents} == missing_ops
        assert {c.id for c in info.value.constraints} == missing_constraints
        assert all(o.ovn == world.intents[o.id].ovn for o in info.value.operational_intents)
        assert world.snapshot() == before, "a refused change left something behind"
        # adding exactly the missing OVNs (stale and unknown ones still in the key) is enough
        key = (
            key
            + [world.intents[i].ovn for i in missing_ops]
            + [world.constraints[i].ovn for i in missing_constraints]
        )
    change = attempt(key)
    ref = change.operational_intent.reference
    assert ref.state is state and ref.manager == requester
    assert footprint.matches(world.store.operational_intents.rows[ref.id])
    if target is not None:
        assert ref.id == target.id and ref.ovn != target.ovn and ref.ovn not in target.stale


@PROPERTY_SETTINGS
@given(data=st.data())
def test_create_succeeds_iff_the_key_names_every_relevant_entity(data: st.DataObject) -> None:
    world = new_world()
    build(
        world,
        data.draw(st.lists(intent_specs, min_size=1, max_size=6), label="existing intents"),
        data.draw(st.lists(box_lists.map(tuple), max_size=3), label="constraints"),
    )
    requester = data.draw(st.sampled_from(USSES), label="requester")
    mark_down(world, data.draw(some_of(m for m in USSES if m != requester), label="down"))
    check_key_rule(
        world,
        requester=requester,
        target=None,
        new_boxes=tuple(data.draw(st.lists(boxes(), min_size=1, max_size=3), label="new volumes")),
        key=data.draw(keys(world), label="key"),
        state=ACCEPTED,
        notify_for_constraints=data.draw(st.booleans(), label="notify_for_constraints"),
    )


@PROPERTY_SETTINGS
@given(data=st.data())
def test_update_succeeds_iff_the_key_names_every_other_relevant_entity(data: st.DataObject) -> None:
    world = new_world()
    build(
        world,
        data.draw(st.lists(intent_specs, min_size=1, max_size=6), label="existing intents"),
        data.draw(st.lists(box_lists.map(tuple), max_size=3), label="constraints"),
    )
    target = data.draw(st.sampled_from(list(world.intents.values())), label="updated intent")
    mark_down(world, data.draw(some_of(m for m in USSES if m != target.manager), label="down"))
    # the intent's own OVN is never required, whether or not it is in the key
    own = [target.ovn] if data.draw(st.booleans(), label="own OVN in key") else []
    key = [o for o in data.draw(keys(world, own), label="key") if o != target.ovn or own]
    check_key_rule(
        world,
        requester=target.manager,
        target=target,
        new_boxes=tuple(data.draw(st.lists(boxes(), min_size=1, max_size=3), label="new volumes")),
        key=key,
        state=data.draw(st.sampled_from([ACCEPTED, ACTIVATED]), label="new state"),
        notify_for_constraints=data.draw(st.booleans(), label="notify_for_constraints"),
    )


# -- interleavings --------------------------------------------------------------------------------
@dataclass
class Written(Known):
    """An intent as last written: the key it was written with, and who was exempt from it then."""

    key: frozenset[str] = frozenset()
    exempt: frozenset[EntityId] = frozenset()
    seq: int = 0


class KeyRuleMachine(RuleBasedStateMachine):
    """Random interleavings of creates, updates (any state), deletes and availability changes by
    three USSs, each outcome predicted by the oracle; the stored state must follow the model, and
    every two live intersecting intents that must be deconflicted were: the later written one's key
    held the other's current OVN (unless the other was an Accepted intent of a Down USS then)."""

    def __init__(self) -> None:
        super().__init__()
        self.world = new_world()
        self.model: dict[EntityId, Written] = {}
        self.down: set[Manager] = set()
        self.seq = itertools.count()

    def _known(self) -> World:
        self.world.intents = dict[EntityId, Known](self.model)
        self.world.down = frozenset(self.down)
        return self.world

    def _write(
        self,
        data: st.DataObject,
        *,
        requester: Manager,
        target: Written | None,
        new_boxes: tuple[Box, ...],
        state: OperationalIntentState,
        scopes: frozenset[str],
        stale: bool,
    ) -> None:
        world = self._known()
        key = data.draw(keys(world), label="key")
        footprint = Footprint.of(new_boxes)
        target_id = target.id if target is not None else None
        expected: type[Exception] | None = None
        missing: set[EntityId] = set()
        if state.requires_cmsa and "utm.conformance_monitoring_sa" not in scopes:
            expected = PermissionDenied
        elif stale:
            expected = VersionMismatch
        elif requester in self.down and state.requires_key:
            expected = UssDown
        elif state.requires_key:
            missing, _ = expected_missing(world, target_id, footprint, key, False)
            expected = MissingOvns if missing else None
        ovn = None if target is None else (target.stale[-1] if stale else target.ovn)
        entity_id = target_id or new_id()
        put = request(entity_id=entity_id, ovn=ovn, boxes=new_boxes, key=key, state=state, manager=requester)
        before = world.snapshot()
        if expected is not None:
            with pytest.raises(expected) as info:
                svc.put_operational_intent(world.ctx, requester=requester, scopes=scopes, request=put)
            if isinstance(info.value, MissingOvns):
                assert {o.id for o in info.value.operational_intents} == missing
            assert world.snapshot() == before
            return
        ref = svc.put_operational_intent(world.ctx, requester=requester, scopes=scopes, request=put)
        exempt = frozenset(
            k.id for k in self.model.values() if k.manager in self.down and k.state is ACCEPTED
        )
        written = Written(
            entity_id,
            requester,
            ref.operational_intent.reference.ovn,
            new_boxes,
            footprint,
            state,
            [*target.stale, target.ovn] if target is not None else [],
            frozenset(key),
            exempt,
            next(self.seq),
        )
        self.model[entity_id] = written

    @rule(data=st.data(), requester=st.sampled_from(USSES), new_boxes=box_lists)
    def create(self, data: st.DataObject, requester: Manager, new_boxes: list[Box]) -> None:
        self._write(
            data,
            requester=requester,
            target=None,
            new_boxes=tuple(new_boxes),
            state=ACCEPTED,
            scopes=SC,
            stale=False,
        )

    @precondition(lambda self: bool(self.model))
    @rule(
        data=st.data(),
        new_boxes=box_lists,
        state=st.sampled_from(list(OperationalIntentState)),
        scopes=st.sampled_from([SC, SC_CMSA]),
    )
    def update(
        self, data: st.DataObject, new_boxes: list[Box], state: OperationalIntentState, scopes: frozenset[str]
    ) -> None:
        target = data.draw(st.sampled_from(list(self.model.values())), label="target")
        stale = bool(target.stale) and data.draw(st.booleans(), label="stale OVN")
        self._write(
            data,
            requester=target.manager,
            target=target,
            new_boxes=tuple(new_boxes),
            state=state,
            scopes=scopes,
            stale=stale,
        )

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        target = data.draw(st.sampled_from(list(self.model.values())), label="target")
        stale = bool(target.stale) and data.draw(st.booleans(), label="stale OVN")
        ovn = target.stale[-1] if stale else target.ovn
        before = self.world.snapshot()
        if stale or target.manager in self.down:
            with pytest.raises(VersionMismatch if stale else UssDown):
                svc.delete_operational_intent(
                    self.world.ctx, requester=target.manager, entity_id=target.id, ovn=ovn
                )
            assert self.world.snapshot() == before
            return
        svc.delete_operational_intent(self.world.ctx, requester=target.manager, entity_id=target.id, ovn=ovn)
        del self.model[target.id]

    @rule(manager=st.sampled_from(USSES), down=st.booleans())
    def set_availability(self, manager: Manager, down: bool) -> None:
        current = dss_availability.get_uss_availability(self.world.ctx, uss=manager)
        state = UssAvailabilityState.DOWN if down else UssAvailabilityState.NORMAL
        dss_availability.set_uss_availability(
            self.world.ctx, uss=manager, old_version=current.version, availability=state
        )
        (self.down.add if down else self.down.discard)(manager)

    @invariant()
    def store_follows_the_model(self) -> None:
        rows = self.world.store.operational_intents.rows
        assert set(rows) == set(self.model)
        for entity_id, written in self.model.items():
            stored = rows[entity_id]
            assert (stored.ovn, stored.state, stored.manager) == (written.ovn, written.state, written.manager)
            assert written.footprint.matches(stored)

    @invariant()
    def intersecting_live_intents_were_deconflicted(self) -> None:
        live = [w for w in self.model.values() if w.state.requires_key]
        for a, b in itertools.combinations(live, 2):
            if a.footprint.may_intersect(b.footprint):
                later, earlier = (a, b) if a.seq > b.seq else (b, a)
                assert earlier.ovn in later.key or earlier.id in later.exempt, (later.id, earlier.id)


KeyRuleMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TestKeyRuleInterleavings = KeyRuleMachine.TestCase
