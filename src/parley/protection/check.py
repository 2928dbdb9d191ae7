"""The 4D check of an operation against protected sites and movements.

:func:`check` takes an operation (an operational intent, a reservation, or the volume of a request
being drafted, as a :class:`parley.strategic.Operation`) and the protected items a party knows, and
returns a :class:`ProtectionConflict` for every volume (nominal and off-nominal) and item that meet:

- **altitude**: the volume's lower altitude is below the item's protected ceiling (the ground plus
  ``protected_height_m``, default 500 m, or the notified ceiling; every altitude when the ground is
  unknown; see :mod:`parley.protection.model`);
- **a site**: the windows ``[start, end)`` overlap for some time, and the footprint comes within the
  protection radius of the outline (a point or a polygon, its interior included). The conflict's
  window is the overlap; its distance the least distance between footprint and outline;
- **a movement**: at some time ``t`` of the volume's window, the footprint comes within the corridor
  half-width of a position the convoy may occupy at ``t`` (scheduled for some ``u`` in
  ``[t - margin, t + margin]``). With ``U`` the scheduled times at which the scheduled position is
  within the half-width of the footprint (computed exactly, :mod:`parley.protection.exact`), the
  conflict times are ``(U + [-margin, margin])`` within the volume's window; each maximal interval of
  them is one conflict, with the least distance between the footprint and the sub-route the convoy
  may occupy during it.

Conflicts of no duration (windows that only touch) are not reported. Times are exact to the
microsecond (intervals are rounded outwards to whole microseconds); horizontal distances are exact
up to the frames' scale, below 0.13% in the largest envelope and a millionth for kilometre-sized
footprints (:mod:`parley.protection.exact`), and a report's ``least_distance_m`` never exceeds the
true distance nor the ``keep_away_m``.

With a :class:`~parley.protection.index.ProtectionIndex` built over the items, only entries whose box
meets a volume's box are examined; without one, every entry within a bounding sphere of the volume is
(both are supersets of what conflicts, so both give the same result).

>>> from datetime import UTC, datetime
>>> from parley.domain.geo import Circle, LatLng, Volume3D, Volume4D
>>> from parley.strategic import Operation
>>> from parley.protection.model import Category, ProtectedSite
>>> t0, t1 = datetime(2017, 5, 3, 6, tzinfo=UTC), datetime(2017, 5, 3, 12, tzinfo=UTC)
>>> school = ProtectedSite("s1", Category.SCHOOL, LatLng(35.0, 40.0), 300.0, t0, t1, "school", ground_m=250.0)
>>> def over(lng: float, alt_lower_m: float) -> Operation:
...     v = Volume4D(Volume3D(Circle(LatLng(35.0, lng), 500.0), alt_lower_m, 2000.0), t0, t1)
...     return Operation("op", (v,))
>>> [(c.protected_id, round(c.least_distance_m)) for c in check(over(40.007, 0.0), [school])]
[('s1', 139)]
>>> check(over(40.007, 800.0), [school])  # above the ground + 500 m
[]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from parley.protection.exact import (
    ABS_SLACK_M,
    Footprints,
    merge_intervals,
    movement_hits,
    scale_bound,
    site_distances,
    track_distances,
)
from parley.protection.index import ProtectionIndex
from parley.protection.model import (
    PROTECTED_HEIGHT_M,
    Category,
    ProtectedKind,
    ProtectedMovement,
    ProtectedSite,
)
from parley.protection.tables import BOX_SLACK_M, Entries, Track, build_entries
from parley.strategic.model import Operation, VolumeRef
from parley.strategic.prepared import PreparedOperation, datetime_of, prepare

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

#: Keep-away distances are widened by this factor in the broad phase (more than the frames' scale
#: excess, 1.3e-3 at most; see :mod:`parley.protection.exact`).
BROAD_FACTOR = 1.002


@dataclass(frozen=True, slots=True)
class ProtectionConflict:
    """A volume of the operation meets a protected site or movement.

    ``start``/``end``: when (within the volume's window); ``least_distance_m``: the least horizontal
    distance (metres) between the footprint and the site's outline or the convoy's possible
    positions over that time (0 when the footprint covers them); ``keep_away_m``: the distance the
    planner must keep (protection radius, or corridor half-width). ``category`` is ``None`` for a
    movement.
    """

    volume: VolumeRef
    protected_id: str
    kind: ProtectedKind
    category: Category | None
    name: str
    start: datetime
    end: datetime
    least_distance_m: float
    keep_away_m: float

    @property
    def intrusion_m(self) -> float:
        """How far inside the keep-away distance the footprint comes, metres."""
        return self.keep_away_m - self.least_distance_m


def _sphere_pairs(prep: PreparedOperation, ent: Entries) -> tuple[I64, I64]:
    """All (volume, entry) pairs whose bounding spheres come within the keep-away distance."""
    gap = np.linalg.norm(prep.centre_xyz[:, None, :] - ent.centre_xyz[None, :, :], axis=-1)
    reach = prep.bound_m[:, None] + ent.bound_m[None, :] + ent.keep_m[None, :] * BROAD_FACTOR + BOX_SLACK_M
    v, e = np.nonzero(gap <= reach)
    return v.astype(np.int64), e.astype(np.int64)


def _us(value: float) -> datetime:
    when = datetime_of(value)
    if when is None:  # conflict times are always within an item's finite window
        raise ValueError("an open time where a conflict time was expected")
    return when


def check(
    operation: Operation,
    protected: Sequence[ProtectedSite | ProtectedMovement],
    *,
    index: ProtectionIndex | None = None,
    protected_height_m: float = PROTECTED_HEIGHT_M,
) -> list[ProtectionConflict]:
    """Every conflict between ``operation``'s volumes and the ``protected`` items (see the module),
    sorted by volume, start and item id.

    ``index``, when given, must have been built over ``protected`` (``ValueError`` otherwise).
    The operation is validated as the strategic engine does
    (:class:`parley.strategic.InvalidOperation`, an ``InvalidInput``).
    """
    if index is not None and not index.covers(protected):
        raise ValueError("the index was built over other protected items")
    items = index.items if index is not None else tuple(protected)
    prep = prepare(operation)
    ent = index.entries if index is not None else build_entries(items)
    if len(ent) == 0:
        return []
    fp = Footprints.of(prep)
    v, e = index.query(fp.box) if index is not None else _sphere_pairs(prep, ent)
    live = (
        (ent.t_lo_us[e] < prep.t_end_us[v])
        & (ent.t_hi_us[e] > prep.t_start_us[v])
        & (prep.alt_lo[v] < ent.tops(e, protected_height_m))
    )
    v, e = v[live], e[live]
    k = scale_bound(prep.bound_m[v] + ent.keep_m[e])
    w = k * ent.keep_m[e] + ABS_SLACK_M
    # (volume, item, start, end, frame distance) of each conflict, sites then movements
    site = ent.is_site[e]
    sv, se = v[site], e[site]
    d = site_distances(fp, ent, sv, se)
    hit = np.flatnonzero(d <= w[site])
    sv, se = sv[hit], se[hit]
    found = [
        (
            sv,
            ent.item[se],
            np.maximum(prep.t_start_us[sv], ent.t_lo_us[se]),
            np.minimum(prep.t_end_us[sv], ent.t_hi_us[se]),
            d[hit],
        ),
    ]
    mv, me = v[~site], e[~site]
    row, u1, u2 = movement_hits(fp, ent, mv, me, w[~site])
    if row.size:
        rv, re = mv[row], me[row]
        margin = ent.u_a[re] - ent.t_lo_us[re]
        t1 = np.maximum(np.floor(u1 - margin), prep.t_start_us[rv])
        t2 = np.minimum(np.ceil(u2 + margin), prep.t_end_us[rv])
        real = t2 > t1
        n_items = len(items)
        group = rv[real] * n_items + ent.item[re[real]]
        g, lo, hi = merge_intervals(group, t1[real].astype(np.int64), t2[real].astype(np.int64))
        cv, citem = g // n_items, g % n_items
        tracks: list[Track] = []
        spans: list[tuple[float, float]] = []
        for i in range(g.size):
            track = ent.tracks[int(citem[i])]
            reach = (
                None
                if track is None
                else track.reach(float(lo[i]) - track.margin_us, float(hi[i]) + track.margin_us)
            )
            if track is None or reach is None:  # a conflict lies within its movement's window
                raise ValueError("a movement conflict outside its movement's window")
            tracks.append(track)
            spans.append(reach)
        keep_m = np.array([items[int(c)].keep_away_m for c in citem])
        found.append(
            (
                cv,
                citem,
                lo.astype(np.float64),
                hi.astype(np.float64),
                track_distances(fp, cv, tracks, spans, keep_m),
            )
        )
    cv, citem, lo, hi, dist = (np.concatenate(parts) for parts in zip(*found, strict=True))
    keep = np.array([items[int(i)].keep_away_m for i in citem])
    least = np.minimum(dist / scale_bound(prep.bound_m[cv] + keep), keep)
    out: list[ProtectionConflict] = []
    for vi, ii, t1_us, t2_us, dm, km in zip(
        cv.tolist(), citem.tolist(), lo.tolist(), hi.tolist(), least.tolist(), keep.tolist(), strict=True
    ):
        p = items[ii]
        out.append(
            ProtectionConflict(
                volume=prep.refs[vi],
                protected_id=p.id,
                kind=p.kind,
                category=p.category if isinstance(p, ProtectedSite) else None,
                name=p.name,
                start=_us(t1_us),
                end=_us(t2_us),
                least_distance_m=dm,
                keep_away_m=km,
            )
        )
    out.sort(key=lambda c: (c.volume.off_nominal, c.volume.index, c.start, c.protected_id))
    return out
