"""The strategic check: which of the others' volumes an operation's volumes conflict with, and
whether F3548's priority rules let the operation go ahead.

:func:`check` finds every conflicting pair of volumes (:mod:`parley.strategic.intersect`), groups
them by the other operation, and decides for each other operation whether the conflict blocks:

============================================  ==========  =========================================
situation                                     blocks?     reason
============================================  ==========  =========================================
the subject is Nonconforming or Contingent    no          ``off_nominal`` (conflicts are only
                                                          forbidden to nominal intents)
the subject is a constraint                   no          ``subject_is_constraint``
the other is a constraint                     by policy   ``constraint`` (F3548 leaves it to the
                                                          USS; Parley blocks by default)
subject priority > other's                    no          ``lower_priority`` (astm.f3548.v21.SCD0015
                                                          allows the higher priority to conflict)
equal priorities                              by policy   ``same_priority`` (SCD0035/40/45 when the
                                                          regulator forbids it)
subject priority < other's                    yes         ``higher_priority`` (SCD0015/20/25)
both Activated, and the version being         no          ``pre_existing`` (SCD0030)
modified already conflicted with it
============================================  ==========  =========================================

Every conflict is reported, blocking or not, with each pair of volumes and where and when they
overlap (GeoJSON footprint, altitude band, time window).

>>> from datetime import UTC, datetime
>>> from parley.domain.geo import Circle, LatLng, Volume3D, Volume4D
>>> t0, t1 = datetime(2026, 1, 1, 10, tzinfo=UTC), datetime(2026, 1, 1, 11, tzinfo=UTC)
>>> def disc(lng: float) -> Volume4D:
...     return Volume4D(Volume3D(Circle(LatLng(47.0, lng), 500.0), 0.0, 120.0), t0, t1)
>>> mine = Operation("mine", (disc(8.0),), priority=0)
>>> theirs = Operation("theirs", (disc(8.01),), priority=10)
>>> result = check(mine, [theirs])
>>> [(c.other_id, c.blocking, c.reason.value) for c in result.conflicts]
[('theirs', True, 'higher_priority')]
>>> result.conflicts[0].overlaps[0].altitude_upper_m
120.0
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray
from uas_standards.astm.f3548.v21.constants import IntersectionMinimumPrecisionCm

from parley.strategic.earth import ecef_to_geodetic
from parley.strategic.geojson import GeoJson, to_geojson_batch
from parley.strategic.intersect import Exact, broad_phase, exact_phase, stack
from parley.strategic.model import IntentState, Operation, OperationKind, VolumeRef
from parley.strategic.prepared import PreparedOperation, datetime_of, prepare, prepare_all

I64 = NDArray[np.int64]

#: F3548's intersection precision, metres.
PRECISION_M = IntersectionMinimumPrecisionCm / 100.0


class SamePriorityPolicy(StrEnum):
    """Whether intents of equal priority may conflict (the regulator decides; F3548 Priority)."""

    CONFLICTS_ALLOWED = "conflicts_allowed"
    BLOCKED = "blocked"


class ConstraintPolicy(StrEnum):
    """What a conflict with a constraint (an airspace reservation) does to a plan."""

    BLOCKED = "blocked"
    REPORTED = "reported"


@dataclass(frozen=True, slots=True)
class CheckPolicy:
    """The rules a check applies; ``precision_m`` is F3548's 1 cm unless a test says otherwise."""

    same_priority: SamePriorityPolicy = SamePriorityPolicy.BLOCKED
    constraints: ConstraintPolicy = ConstraintPolicy.BLOCKED
    precision_m: float = PRECISION_M

    def __post_init__(self) -> None:
        if not (math.isfinite(self.precision_m) and self.precision_m > 0.0):
            raise ValueError(f"precision_m must be a positive number of metres, got {self.precision_m}")


class Reason(StrEnum):
    """Why a conflict blocks or not (see the module's table)."""

    HIGHER_PRIORITY = "higher_priority"
    SAME_PRIORITY = "same_priority"
    LOWER_PRIORITY = "lower_priority"
    OFF_NOMINAL = "off_nominal"
    PRE_EXISTING = "pre_existing"
    CONSTRAINT = "constraint"
    SUBJECT_IS_CONSTRAINT = "subject_is_constraint"


class _Footprints:
    """The footprint overlaps of one check's conflicting pairs, drawn together on first demand
    (one inverse projection for all), so that a check that only needs verdicts does not pay."""

    def __init__(self, exact: Exact, pairs: I64) -> None:
        self._exact: Exact | None = exact
        self._pairs = pairs
        self._shapes: list[GeoJson] = []
        self._lock = threading.Lock()

    def get(self, n: int) -> GeoJson:
        with self._lock:
            if self._exact is not None:  # first demand: draw them all, then let the geometry go
                exact = self._exact
                regions = exact.regions(self._pairs)
                self._shapes = to_geojson_batch(list(regions), exact.frames, exact.frame_of[self._pairs])
                self._exact = None
            return self._shapes[n]


@dataclass(frozen=True, slots=True)
class Region:
    """A footprint overlap, as GeoJSON when asked (see :attr:`VolumeOverlap.footprint`)."""

    source: _Footprints | GeoJson = field(repr=False, compare=False)
    index: int = 0

    def geojson(self) -> GeoJson:
        return self.source.get(self.index) if isinstance(self.source, _Footprints) else self.source


@dataclass(frozen=True, slots=True)
class VolumeOverlap:
    """Where and when one volume of the subject and one of the other operation overlap.

    The altitude band and time window are the intersections of the two volumes' (``None``:
    unbounded); :attr:`footprint` is a GeoJSON ``Polygon``/``MultiPolygon`` of the footprints'
    overlap, drawn on first access.
    """

    subject_volume: VolumeRef
    other_volume: VolumeRef
    altitude_lower_m: float | None
    altitude_upper_m: float | None
    time_start: datetime | None
    time_end: datetime | None
    region: Region = field(repr=False, compare=False)

    @property
    def footprint(self) -> GeoJson:
        """GeoJSON of the footprints' overlap (RFC 7946: lng/lat, exterior counterclockwise)."""
        return self.region.geojson()


@dataclass(frozen=True, slots=True)
class OperationConflict:
    """The subject conflicts with another operation: how, and whether that blocks it."""

    other_id: str
    other_kind: OperationKind
    other_priority: int
    other_manager: str | None
    blocking: bool
    reason: Reason
    explanation: str
    overlaps: tuple[VolumeOverlap, ...]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """Every conflict of the subject; it may go ahead when none blocks.

    ``pairs_considered`` counts volume pairs; ``pairs_exact`` those that passed the broad phase.
    """

    subject_id: str
    conflicts: tuple[OperationConflict, ...]
    pairs_considered: int = 0
    pairs_exact: int = 0

    @property
    def blocking(self) -> tuple[OperationConflict, ...]:
        return tuple(c for c in self.conflicts if c.blocking)

    @property
    def clear(self) -> bool:
        """No conflict blocks the subject."""
        return not self.blocking


def decide(subject: Operation, other: Operation, policy: CheckPolicy) -> tuple[bool, Reason, str]:
    """Whether a conflict of ``subject`` with ``other`` blocks ``subject``, why, and in words."""
    state = subject.state or IntentState.ACCEPTED
    if not state.nominal:
        return (
            False,
            Reason.OFF_NOMINAL,
            f"the subject is {state.value}: conflicts are only forbidden to nominal intents",
        )
    if subject.kind is OperationKind.CONSTRAINT:
        return (
            False,
            Reason.SUBJECT_IS_CONSTRAINT,
            "a constraint is published over intents, which are told of it",
        )
    if other.kind is OperationKind.CONSTRAINT:
        blocks = policy.constraints is ConstraintPolicy.BLOCKED
        return (
            blocks,
            Reason.CONSTRAINT,
            f"constraint {other.id!r} reserves this airspace"
            + ("" if blocks else " (reported, not blocking, by policy)"),
        )
    if subject.priority > other.priority:
        return (
            False,
            Reason.LOWER_PRIORITY,
            f"priority {subject.priority} may conflict with {other.id!r} of lower priority {other.priority}",
        )
    if subject.priority == other.priority:
        blocks = policy.same_priority is SamePriorityPolicy.BLOCKED
        return (
            blocks,
            Reason.SAME_PRIORITY,
            f"{other.id!r} has the same priority {other.priority}, and conflicts between equal priorities are "
            + ("not permitted" if blocks else "permitted")
            + " here",
        )
    return (
        True,
        Reason.HIGHER_PRIORITY,
        f"{other.id!r} has higher priority {other.priority} than {subject.priority}: a lower priority may not "
        "conflict with a higher one",
    )


def _prepared(op: Operation | PreparedOperation, *, subject: bool) -> PreparedOperation:
    if isinstance(op, PreparedOperation):
        return op
    return prepare(op, check_simple=subject)


def _conflicting_pairs(
    subject: PreparedOperation, others: list[PreparedOperation], precision_m: float
) -> tuple[dict[int, list[VolumeOverlap]], int, int]:
    """Overlaps of ``subject``'s volumes with each other operation (by index into ``others``), in
    the order of the subject's volumes, then the other's (the broad phase's order)."""
    table = stack([subject, *others])
    split = len(subject)
    i, j = broad_phase(table, split, precision_m)
    found: dict[int, list[VolumeOverlap]] = {}
    if i.size == 0:
        return found, split * (len(table) - split), 0
    lat, lng = ecef_to_geodetic(np.mean(subject.centre_xyz, axis=0, keepdims=True))
    exact = exact_phase(table, i, j, precision_m, (float(lat[0]), float(lng[0])))
    hits = np.flatnonzero(exact.conflict).astype(np.int64)
    footprints = _Footprints(exact, hits)
    a, b = i[hits], j[hits]
    lows = [None if math.isinf(x) else x for x in np.maximum(table.alt_lo[a], table.alt_lo[b]).tolist()]
    highs = [None if math.isinf(x) else x for x in np.minimum(table.alt_hi[a], table.alt_hi[b]).tolist()]
    starts = np.maximum(table.t_start_us[a], table.t_start_us[b])
    ends = np.minimum(table.t_end_us[a], table.t_end_us[b])
    instants = np.unique(np.concatenate([starts, ends]))
    when = dict(zip(instants.tolist(), [datetime_of(t) for t in instants.tolist()], strict=True))
    rows = zip(
        (table.owner[b] - 1).tolist(),
        table.local[a].tolist(),
        table.local[b].tolist(),
        lows,
        highs,
        starts.tolist(),
        ends.tolist(),
        strict=True,
    )
    for n, (other, la, lb, lo, hi, t0, t1) in enumerate(rows):
        found.setdefault(other, []).append(
            VolumeOverlap(
                subject_volume=subject.refs[la],
                other_volume=others[other].refs[lb],
                altitude_lower_m=lo,
                altitude_upper_m=hi,
                time_start=when[t0],
                time_end=when[t1],
                region=Region(footprints, n),
            )
        )
    return found, split * (len(table) - split), int(i.size)


def check(
    subject: Operation | PreparedOperation,
    others: Iterable[Operation | PreparedOperation],
    policy: CheckPolicy | None = None,
    *,
    previous: Operation | PreparedOperation | None = None,
) -> CheckResult:
    """Check ``subject`` (the operation being planned, in the state it is asked to take) against
    ``others`` (intents and constraints from the DSS, with their details).

    ``previous`` is the version of the subject being replaced, if any: when both are Activated,
    conflicts it already had with Activated intents (SCD0030), and with constraints, do not block. Others with the
    subject's id (its own earlier version) are skipped. Raises
    :class:`~parley.strategic.errors.InvalidOperation` for a volume the engine cannot check.
    """
    policy = policy or CheckPolicy()
    subj = _prepared(subject, subject=True)
    op = subj.operation
    given = [o for o in others if (o.operation.id if isinstance(o, PreparedOperation) else o.id) != op.id]
    raw = prepare_all([o for o in given if isinstance(o, Operation)], check_simple=False)
    fresh = iter(raw)
    prepared = [o if isinstance(o, PreparedOperation) else next(fresh) for o in given]
    found, considered, exact = _conflicting_pairs(subj, prepared, policy.precision_m)

    decisions = {k: decide(op, prepared[k].operation, policy) for k in found}
    before = _prepared(previous, subject=False) if previous is not None else None
    if (
        before is not None
        and op.state is IntentState.ACTIVATED
        and before.operation.state is IntentState.ACTIVATED
    ):
        # SCD0030: conflicts the Activated version already had with Activated intents; and, likewise,
        # with constraints (a flying operation must be able to shrink out of a constraint published
        # over it, e.g. to vacate a reserved area)
        candidates = [
            k
            for k, (blocks, _, _) in decisions.items()
            if blocks
            and (
                prepared[k].operation.state is IntentState.ACTIVATED
                or prepared[k].operation.kind is OperationKind.CONSTRAINT
            )
        ]
        if candidates:
            already, _, _ = _conflicting_pairs(before, [prepared[k] for k in candidates], policy.precision_m)
            for n in already:
                k = candidates[n]
                decisions[k] = (
                    False,
                    Reason.PRE_EXISTING,
                    f"the Activated version being modified already conflicted with {prepared[k].operation.id!r}",
                )

    conflicts = []
    for k in sorted(found):
        other = prepared[k].operation
        blocks, reason, why = decisions[k]
        conflicts.append(
            OperationConflict(
                other_id=other.id,
                other_kind=other.kind,
                other_priority=other.priority,
                other_manager=other.manager,
                blocking=blocks,
                reason=reason,
                explanation=why,
                overlaps=tuple(found[k]),
            )
        )
    return CheckResult(
        subject_id=op.id, conflicts=tuple(conflicts), pairs_considered=considered, pairs_exact=exact
    )
