"""The pair kernel: closest point of approach and loss-of-separation interval, vectorised over pairs.

For a pair (a, b), both aircraft fly straight lines from their reported states. The pair is evaluated
at its reference time ``t_p = max(t_a, t_b)`` (each aircraft dead-reckoned to it), in the plane
tangent to the earth at the pair (see :mod:`parley.tactical.geometry`): relative position ``d`` and
relative velocity ``w`` (b minus a) in that plane, relative altitude ``dalt`` and vertical speed ``dvs``.

Horizontal, with ``R = max(rpz_a, rpz_b)``::

    tcpa = -(d . w) / |w|^2          dcpa^2 = |d|^2 - (d . w)^2 / |w|^2
    inside R for t in (tcpa - s, tcpa + s),  s = sqrt((R^2 - dcpa^2) / |w|^2),  when dcpa < R

(with ``|w| = 0``: tcpa = 0 and the whole time line if ``|d| < R``, never otherwise).

Vertical, with ``H = max(hpz_a, hpz_b) - vertical_tolerance``: ``|dalt + dvs t| < H`` on
``(min(t1, t2), max(t1, t2))``, ``t1 = (-H - dalt) / dvs``, ``t2 = (H - dalt) / dvs`` (with ``dvs = 0``:
the whole time line if ``|dalt| < H``, never otherwise).

Loss of separation is the intersection ``(t_in, t_out)`` of the two open intervals; the pair is **in
conflict** when it is not empty and meets the look-ahead window ``[0, T]``, ``T = max(la_a, la_b)``,
measured from the epoch of the batch: ``t_in < t_out``, ``t_out > 0``, ``t_in < T``. Pairs already in
loss of separation (``t_in < 0``) are conflicts. Reported times are relative to the epoch.

Every operation is written so that swapping a and b gives bit-identical results (negation is exact in
IEEE arithmetic), so the result does not depend on the order of the input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

from parley.tactical.geometry import SPHERE_R_M, Kinematics
from parley.tactical.params import Geometry
from parley.tactical.tracks import FloatArray, IntArray

BoolArray = npt.NDArray[np.bool_]

#: Squared relative speeds at or below this (m^2/s^2) count as zero relative motion (1e-9 m/s).
W2_ZERO = 1e-18
#: Pairs per chunk: bounds the temporaries' memory; large enough that numpy's per-call cost vanishes.
CHUNK_PAIRS = 1 << 17


@dataclass(frozen=True, slots=True, eq=False)
class PairEvaluation:
    """Kernel output for pairs ``(i[k], j[k])``, independent of the epoch.

    Times are relative to the pair's reference time ``t_ref_s`` (the later of its two reports);
    :meth:`window` and :meth:`at_epoch` relate them to an epoch. ``horizontal`` says whether the
    closest approach is within ``rpz``. ``t_in_s`` may be ``-inf`` and ``t_out_s`` ``+inf`` (no relative
    motion: the pair stays in loss of separation). ``d2``, ``dw``, ``w2`` are ``|d|^2``, ``d . w`` and
    ``|w|^2`` at ``t_ref_s`` (for the distance at another time).
    """

    i: IntArray
    j: IntArray
    t_ref_s: FloatArray
    lookahead_s: FloatArray
    horizontal: BoolArray
    tcpa_s: FloatArray
    dcpa_m: FloatArray
    t_in_s: FloatArray
    t_out_s: FloatArray
    dalt_cpa_m: FloatArray
    d2: FloatArray
    dw: FloatArray
    w2: FloatArray

    def __len__(self) -> int:
        return int(self.i.shape[0])

    def renumber(self, rows: IntArray) -> PairEvaluation:
        """The same pairs with ``i`` and ``j`` mapped through ``rows`` (evaluated on reordered rows)."""
        return PairEvaluation(rows[self.i], rows[self.j], *(getattr(self, name) for name in _FIELDS[2:]))

    def select(self, index: BoolArray | IntArray) -> PairEvaluation:
        return PairEvaluation(*(getattr(self, name)[index] for name in _FIELDS))

    @staticmethod
    def concat(parts: Sequence[PairEvaluation]) -> PairEvaluation:
        if not parts:
            return empty_evaluation()
        if len(parts) == 1:
            return parts[0]
        return PairEvaluation(*(np.concatenate([getattr(p, name) for p in parts]) for name in _FIELDS))

    def window(self, epoch_s: float, extra_s: float = 0.0) -> BoolArray:
        """Which pairs are in conflict at ``epoch_s``: loss of separation meets ``[epoch, epoch + T]``
        (``T + extra_s`` to look further ahead)."""
        lo = epoch_s - self.t_ref_s
        hi = lo + self.lookahead_s
        if extra_s:
            hi = hi + extra_s
        return self.horizontal & (self.t_in_s < self.t_out_s) & (self.t_out_s > lo) & (self.t_in_s < hi)

    def at_epoch(self, epoch_s: float) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """``(tcpa, t_in, t_out, dist)``: the times relative to ``epoch_s`` and the horizontal distance
        then."""
        lo = epoch_s - self.t_ref_s
        dist2 = self.d2 + lo * (2.0 * self.dw + lo * self.w2)
        return self.tcpa_s - lo, self.t_in_s - lo, self.t_out_s - lo, np.sqrt(np.maximum(dist2, 0.0))


_FIELDS = tuple(f.name for f in fields(PairEvaluation))


def empty_evaluation() -> PairEvaluation:
    z = np.zeros(0)
    e = np.zeros(0, dtype=np.intp)
    return PairEvaluation(e, e, z, z, np.zeros(0, dtype=np.bool_), z, z, z, z, z, z, z, z)


def _pair_time(kin: Kinematics, i: IntArray, j: IntArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Reference time of each pair and how far each aircraft is dead-reckoned to reach it."""
    ta, tb = kin.t_s[i], kin.t_s[j]
    tp = np.maximum(ta, tb)
    return tp, tp - ta, tp - tb


def _horizontal(
    kin: Kinematics, i: IntArray, j: IntArray, dta: FloatArray | None, dtb: FloatArray | None
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``(|d|^2, d . w, |w|^2)`` of each pair in its tangent plane, at the pair's reference time."""
    if kin.geometry is Geometry.FLAT:
        dlon = kin.lon_deg[j] - kin.lon_deg[i]
        dlon = np.where(dlon > 180.0, dlon - 360.0, np.where(dlon < -180.0, dlon + 360.0, dlon))
        la, lb = kin.lat_rad[i], kin.lat_rad[j]
        dx = SPHERE_R_M * np.radians(dlon) * np.cos(0.5 * (la + lb))
        dy = SPHERE_R_M * (lb - la)
        wx = kin.ve_mps[j] - kin.ve_mps[i]
        wy = kin.vn_mps[j] - kin.vn_mps[i]
        if dta is not None and dtb is not None:
            dx = dx + (kin.ve_mps[j] * dtb - kin.ve_mps[i] * dta)
            dy = dy + (kin.vn_mps[j] * dtb - kin.vn_mps[i] * dta)
        return dx * dx + dy * dy, dx * wx + dy * wy, wx * wx + wy * wy
    nx = kin.ux[i] + kin.ux[j]
    ny = kin.uy[i] + kin.uy[j]
    nz = kin.uz[i] + kin.uz[j]
    n2 = nx * nx + ny * ny + nz * nz
    vxa, vya, vza = kin.vx[i], kin.vy[i], kin.vz[i]
    vxb, vyb, vzb = kin.vx[j], kin.vy[j], kin.vz[j]
    if dta is None or dtb is None:
        dx = kin.px[j] - kin.px[i]
        dy = kin.py[j] - kin.py[i]
        dz = kin.pz[j] - kin.pz[i]
    else:
        dx = (kin.px[j] + vxb * dtb) - (kin.px[i] + vxa * dta)
        dy = (kin.py[j] + vyb * dtb) - (kin.py[i] + vya * dta)
        dz = (kin.pz[j] + vzb * dtb) - (kin.pz[i] + vza * dta)
    wx, wy, wz = vxb - vxa, vyb - vya, vzb - vza
    dn = (dx * nx + dy * ny + dz * nz) / n2
    wn = (wx * nx + wy * ny + wz * nz) / n2
    dx, dy, dz = dx - dn * nx, dy - dn * ny, dz - dn * nz
    wx, wy, wz = wx - wn * nx, wy - wn * ny, wz - wn * nz
    return dx * dx + dy * dy + dz * dz, dx * wx + dy * wy + dz * wz, wx * wx + wy * wy + wz * wz


def _vertical(
    kin: Kinematics, i: IntArray, j: IntArray, dta: FloatArray | None, dtb: FloatArray | None
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """``(dalt, dvs, v_in, v_out)``: relative altitude and vertical speed at the reference time, and the
    open interval in which the pair is within the vertical minimum."""
    vsa, vsb = kin.vs_mps[i], kin.vs_mps[j]
    if dta is None or dtb is None:
        dalt = kin.alt_m[j] - kin.alt_m[i]
    else:
        dalt = (kin.alt_m[j] + vsb * dtb) - (kin.alt_m[i] + vsa * dta)
    dvs = vsb - vsa
    h = (
        kin.hpz_m[0] if kin.uniform_minima else np.maximum(kin.hpz_m[i], kin.hpz_m[j])
    ) - kin.vertical_tolerance_m
    level = dvs == 0.0
    safe = np.where(level, 1.0, dvs)
    t1 = (-h - dalt) / safe
    t2 = (h - dalt) / safe
    inside = np.abs(dalt) < h
    v_in = np.where(level, np.where(inside, -np.inf, np.inf), np.minimum(t1, t2))
    v_out = np.where(level, np.where(inside, np.inf, -np.inf), np.maximum(t1, t2))
    return dalt, dvs, v_in, v_out


def _evaluate_chunk(
    kin: Kinematics, i: IntArray, j: IntArray, epoch_s: float | None, extra_s: float, vertical_first: bool
) -> PairEvaluation:
    if kin.uniform_time:
        dta: FloatArray | None = None
        dtb: FloatArray | None = None
        t_ref = np.full(i.shape[0], kin.t_s[0] if kin.n else 0.0)
    else:
        t_ref, dta, dtb = _pair_time(kin, i, j)
    if kin.uniform_minima:
        lookahead = np.full(i.shape[0], kin.lookahead_s[0] if kin.n else 0.0)
    else:
        lookahead = np.maximum(kin.lookahead_s[i], kin.lookahead_s[j])
    dalt, dvs, v_in, v_out = _vertical(kin, i, j, dta, dtb)
    if epoch_s is not None and vertical_first:
        # the vertical interval alone rules most pairs out: finish the others only
        lo = epoch_s - t_ref
        hi = lo + lookahead
        if extra_s:
            hi = hi + extra_s
        keep = np.flatnonzero((v_in < v_out) & (v_out > lo) & (v_in < hi))
        i, j, t_ref, lookahead = i[keep], j[keep], t_ref[keep], lookahead[keep]
        dalt, dvs, v_in, v_out = dalt[keep], dvs[keep], v_in[keep], v_out[keep]
        if dta is not None and dtb is not None:
            dta, dtb = dta[keep], dtb[keep]
    d2, dw, w2 = _horizontal(kin, i, j, dta, dtb)
    moving = w2 > W2_ZERO
    w2s = np.where(moving, w2, 1.0)
    tcpa = np.where(moving, -dw / w2s, 0.0)
    dcpa2 = np.where(moving, np.maximum(d2 + dw * tcpa, 0.0), d2)
    r = kin.rpz_m[0] if kin.uniform_minima else np.maximum(kin.rpz_m[i], kin.rpz_m[j])
    r2 = r * r
    half = np.where(moving, np.sqrt(np.maximum(r2 - dcpa2, 0.0) / w2s), np.inf)
    ev = PairEvaluation(
        i=i,
        j=j,
        t_ref_s=t_ref,
        lookahead_s=lookahead,
        horizontal=dcpa2 < r2,
        tcpa_s=tcpa,
        dcpa_m=np.sqrt(dcpa2),
        t_in_s=np.maximum(tcpa - half, v_in),
        t_out_s=np.minimum(tcpa + half, v_out),
        dalt_cpa_m=np.abs(dalt + dvs * tcpa),
        d2=d2,
        dw=dw,
        w2=w2,
    )
    if epoch_s is None:
        return ev
    return ev.select(np.flatnonzero(ev.window(epoch_s, extra_s)))


def evaluate_pairs(
    kin: Kinematics,
    i: IntArray,
    j: IntArray,
    *,
    conflicts_at: float | None = None,
    extra_s: float = 0.0,
    vertical_first: bool = True,
) -> PairEvaluation:
    """Evaluate pairs ``(i[k], j[k])`` of rows of ``kin`` (see the module docstring).

    With ``conflicts_at`` (an epoch), keep only the pairs in conflict then (with a look-ahead longer by
    ``extra_s``); with ``vertical_first`` too, skip the horizontal computation of the pairs that the
    vertical interval already rules out (worth it unless the pairs were pruned vertically before).
    """
    i = np.asarray(i, dtype=np.intp)
    j = np.asarray(j, dtype=np.intp)
    parts = [
        _evaluate_chunk(
            kin, i[s : s + CHUNK_PAIRS], j[s : s + CHUNK_PAIRS], conflicts_at, extra_s, vertical_first
        )
        for s in range(0, i.shape[0], CHUNK_PAIRS)
    ]
    return PairEvaluation.concat(parts)
