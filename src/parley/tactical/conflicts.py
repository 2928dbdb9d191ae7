"""The result of a detection: one row per conflicting pair, ordered by ids.

Each pair is reported once, with ``id1 < id2`` (string order), sorted by ``(id1, id2)``, so the result
does not depend on the order of the input. Times are seconds from the epoch; lengths are metres.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields

import numpy as np

from parley.tactical.cpa import PairEvaluation
from parley.tactical.tracks import FloatArray, StrArray, TrackBatch

#: Columns of :meth:`Conflicts.rows`, in order.
CONFLICT_COLUMNS = ("id1", "id2", "tcpa_s", "dcpa_m", "t_in_s", "t_out_s", "dalt_cpa_m", "dist_m")


@dataclass(frozen=True, slots=True)
class Conflict:
    """One conflicting pair.

    - ``tcpa_s``: time of closest horizontal approach (negative: diverging);
    - ``dcpa_m``: horizontal distance at that time;
    - ``t_in_s`` / ``t_out_s``: entry into and exit from loss of separation (``t_in_s < 0``: already in
      loss of separation; infinite when the pair does not move relative to each other);
    - ``dalt_cpa_m``: vertical separation at ``tcpa_s``;
    - ``dist_m``: horizontal distance now.
    """

    id1: str
    id2: str
    tcpa_s: float
    dcpa_m: float
    t_in_s: float
    t_out_s: float
    dalt_cpa_m: float
    dist_m: float

    @property
    def in_loss_of_separation(self) -> bool:
        """Already in loss of separation at the epoch."""
        return self.t_in_s < 0.0


@dataclass(frozen=True, slots=True, eq=False)
class Conflicts:
    """Conflicting pairs as a structure of arrays (see :class:`Conflict` for the fields)."""

    epoch_s: float
    id1: StrArray
    id2: StrArray
    tcpa_s: FloatArray
    dcpa_m: FloatArray
    t_in_s: FloatArray
    t_out_s: FloatArray
    dalt_cpa_m: FloatArray
    dist_m: FloatArray

    @classmethod
    def from_evaluation(cls, tracks: TrackBatch, evaluation: PairEvaluation, epoch_s: float) -> Conflicts:
        """Keep the pairs of ``evaluation`` in conflict at ``epoch_s``; name, orient (``id1 < id2``),
        de-duplicate and sort them."""
        ev = evaluation.select(np.flatnonzero(evaluation.window(epoch_s)))
        tcpa, t_in, t_out, dist = ev.at_epoch(epoch_s)
        # order by id without comparing strings pair by pair: rank the ids involved once
        involved = np.zeros(len(tracks), dtype=np.bool_)
        involved[ev.i] = True
        involved[ev.j] = True
        rows = np.flatnonzero(involved)
        rank = np.empty(len(tracks), dtype=np.int64)
        rank[rows[np.argsort(tracks.ids[rows], kind="stable")]] = np.arange(rows.shape[0])
        ra, rb = rank[ev.i], rank[ev.j]
        lo, hi = np.minimum(ra, rb), np.maximum(ra, rb)
        key = lo * max(rows.shape[0], 1) + hi
        order = np.argsort(key, kind="stable")
        if order.shape[0] > 1:
            sorted_key = key[order]
            first = np.ones(order.shape[0], dtype=np.bool_)
            first[1:] = sorted_key[1:] != sorted_key[:-1]
            order = order[first]
        a, b = ev.i[order], ev.j[order]
        swap = ra[order] > rb[order]
        id1 = tracks.ids[np.where(swap, b, a)]
        id2 = tracks.ids[np.where(swap, a, b)]
        return cls(
            epoch_s=epoch_s,
            id1=id1,
            id2=id2,
            tcpa_s=tcpa[order],
            dcpa_m=ev.dcpa_m[order],
            t_in_s=t_in[order],
            t_out_s=t_out[order],
            dalt_cpa_m=ev.dalt_cpa_m[order],
            dist_m=dist[order],
        )

    def __len__(self) -> int:
        return int(self.id1.shape[0])

    def __iter__(self) -> Iterator[Conflict]:
        for k in range(len(self)):
            yield Conflict(
                str(self.id1[k]),
                str(self.id2[k]),
                float(self.tcpa_s[k]),
                float(self.dcpa_m[k]),
                float(self.t_in_s[k]),
                float(self.t_out_s[k]),
                float(self.dalt_cpa_m[k]),
                float(self.dist_m[k]),
            )

    def pairs(self) -> set[tuple[str, str]]:
        """The conflicting pairs, ``(id1, id2)`` with ``id1 < id2``."""
        return set(zip(self.id1.tolist(), self.id2.tolist(), strict=True))

    def identical(self, other: Conflicts) -> bool:
        """Same epoch, same pairs and bit-identical values (``nan``-free by construction)."""
        return all(
            np.array_equal(getattr(self, f.name), getattr(other, f.name))
            if f.name != "epoch_s"
            else self.epoch_s == other.epoch_s
            for f in fields(self)
        )
