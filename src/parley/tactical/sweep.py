"""The fast detector: space-time pruning on a sorted grid, then the pair kernel on the candidates only.

Pruning (``candidate_pairs``): the look-ahead window is cut into ``S`` time slices of length ``tau``.
At the middle of each slice every aircraft is a box: horizontally, its position projected on a plane
(orthographic projection of the earth-centred coordinates: 1-Lipschitz, so it never lengthens a
distance; a third coordinate is kept when the traffic spans more than a hemisphere's cap), half-width
``h_i = R0 / 2 + gs_i * tau / 2``; vertically, its altitude, half-height ``r_i = hpz / 2 + |vs_i| * tau / 2``.
``R0`` is the largest ``rpz`` widened by a bound on how far the chord between two aircraft leaves the
pair's tangent plane during the look-ahead. If a pair is in loss of separation at some time of a slice,
its two boxes of that slice overlap (triangle inequality: in half a slice each aircraft moves at most
``gs * tau / 2`` horizontally and ``|vs| * tau / 2`` vertically). Conversely, boxes that overlap in no slice
are never evaluated.

Finding overlapping boxes: every box goes into the altitude bands (of height ``hpz``) it touches and
into one horizontal grid cell (of side ``>=`` the widest pair reach). Keys ``(slice, band, cell)`` are
sorted once; a cell's neighbours one row further are a contiguous range of that order, so each box
finds its partners with a few binary searches (a half stencil: each pair of cells is visited once).
A pair found in several bands is kept in the band of the lower edge of its vertical overlap only; a
pair found in consecutive slices is kept in the first only.

Cost: O(N S log(N S)) for the keys plus O(K) for the K candidate pairs; memory O(N S + K). The kernel
(:mod:`parley.tactical.cpa`) then decides exactly, so the result equals the all-pairs detector's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from parley.tactical.allpairs import all_pairs_blocks
from parley.tactical.conflicts import Conflicts
from parley.tactical.cpa import BoolArray, PairEvaluation, evaluate_pairs
from parley.tactical.errors import InvalidTracks
from parley.tactical.geometry import Kinematics, min_curvature_radius_m, prepare
from parley.tactical.params import DEFAULT_SEPARATION, Geometry, Separation
from parley.tactical.tracks import FloatArray, IntArray, TrackBatch

#: At most this many time slices (more slices: tighter boxes but more keys).
MAX_SLICES = 4
#: Largest key value: keys are packed into int64.
_KEY_LIMIT = 1 << 62
#: Cosine of the angular radius beyond which a third horizontal coordinate is kept (60 degrees).
_CAP_COS = 0.5


@dataclass(frozen=True, slots=True)
class _Boxes:
    """Per (aircraft, slice) unit ``u = i * S + s``: box centre and per-aircraft half sizes."""

    slices: int
    coords: list[FloatArray]  # horizontal coordinates of each unit, 2 or 3 arrays
    alt: FloatArray  # altitude of each unit at mid-slice
    half_h: FloatArray  # per aircraft
    half_v: FloatArray  # per aircraft
    cell_m: float
    band_m: float


def _plane_basis(kin: Kinematics) -> tuple[list[FloatArray], bool]:
    """An orthonormal basis: two vectors spanning the plane normal to the traffic's mean up-vector,
    plus that up-vector when the traffic spreads over more than a 60-degree cap."""
    up = np.array([kin.ux.sum(), kin.uy.sum(), kin.uz.sum()])
    norm = float(np.linalg.norm(up))
    up = up / norm if norm > 1e-9 else np.array([0.0, 0.0, 1.0])
    seed = np.array([1.0, 0.0, 0.0]) if abs(up[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = np.cross(up, seed)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(up, e1)
    wide = bool(float((kin.ux * up[0] + kin.uy * up[1] + kin.uz * up[2]).min()) < _CAP_COS)
    return ([e1, e2, up] if wide else [e1, e2]), wide


def _out_of_plane_m(kin: Kinematics, horizon_s: float, age_s: float, rpz_m: float) -> float:
    """Bound on ``|(d(t)) . n|``: how far the chord between two aircraft that can come within ``rpz``
    sticks out of the pair's tangent plane, over the look-ahead.

    Chord length ``L <= rpz + 2 vmax T'`` (``T'`` look-ahead plus the age of the oldest report), angle
    between the two normals ``theta <= 1.01 L / rho_min``; each velocity leans out of the pair's plane by
    at most ``theta / 2``, and on the ellipsoid the chord leaves the plane by at most ``e^2 L theta``
    (zero on a sphere). A property test checks this against random pairs.
    """
    vmax = float(kin.gs_mps.max())
    t_eff = horizon_s + age_s
    chord = 1.05 * (rpz_m + 2.0 * vmax * t_eff) + 1000.0
    theta = 1.01 * chord / min_curvature_radius_m(kin.geometry)
    ellipsoid = 0.01 * chord * theta if kin.geometry is Geometry.WGS84 else 0.0
    return ellipsoid + 2.0 * vmax * (theta / 2.0) * t_eff


def _boxes(kin: Kinematics, epoch_s: float, horizon_s: float) -> _Boxes:
    n = kin.n
    rpz = float(kin.rpz_m.max())
    hpz = float(kin.hpz_m.max())
    vmax = float(kin.gs_mps.max())
    dt = epoch_s - kin.t_s
    age = float(max(dt.max(), 0.0))
    slices = int(min(MAX_SLICES, max(1, math.ceil(vmax * horizon_s / rpz))))
    tau = horizon_s / slices
    r0 = math.hypot(rpz, _out_of_plane_m(kin, horizon_s, age, rpz)) * (1.0 + 1e-9) + 1e-3
    half_h = 0.5 * r0 + 0.5 * tau * kin.gs_mps
    half_v = 0.5 * (hpz - kin.vertical_tolerance_m) + 0.5 * tau * np.abs(kin.vs_mps) + 1e-6
    basis, _ = _plane_basis(kin)
    mids = (np.arange(slices) + 0.5) * tau
    coords = []
    for e in basis:
        c0 = (kin.px + kin.vx * dt) * e[0] + (kin.py + kin.vy * dt) * e[1] + (kin.pz + kin.vz * dt) * e[2]
        cv = kin.vx * e[0] + kin.vy * e[1] + kin.vz * e[2]
        coords.append((c0[:, None] + cv[:, None] * mids[None, :]).reshape(n * slices))
    alt0 = kin.alt_m + kin.vs_mps * dt
    alt = (alt0[:, None] + kin.vs_mps[:, None] * mids[None, :]).reshape(n * slices)
    return _Boxes(slices, coords, alt, half_h, half_v, 2.0 * float(half_h.max()), hpz)


def _overlap(b: _Boxes, ua: IntArray, ub: IntArray) -> BoolArray:
    """Do the boxes of units ``ua`` and ``ub`` (same slice) overlap? Also returns nothing else."""
    ia, ib = ua // b.slices, ub // b.slices
    hh = b.half_h[ia] + b.half_h[ib]
    ok = np.ones(ua.shape[0], dtype=np.bool_)
    for c in b.coords:
        ok &= np.abs(c[ua] - c[ub]) <= hh
    va, vb = b.alt[ua], b.alt[ub]
    lo = np.maximum(va - b.half_v[ia], vb - b.half_v[ib])
    hi = np.minimum(va + b.half_v[ia], vb + b.half_v[ib])
    ok &= lo <= hi
    return ok


def _band(b: _Boxes, alt_m: FloatArray) -> npt.NDArray[np.int64]:
    """Altitude band of ``alt_m``: bands of height ``hpz`` centred on multiples of ``hpz``, so that level
    traffic on flight levels 1000 ft apart (with the default ``hpz``) falls in one band each."""
    return np.floor((alt_m + 0.5 * b.band_m) / b.band_m).astype(np.int64)


def _ranges_to_pairs(owner: IntArray, lo: IntArray, hi: IntArray) -> tuple[IntArray, IntArray]:
    """All ``(owner[k], q)`` with ``lo[k] <= q < hi[k]``."""
    counts = np.maximum(hi - lo, 0)
    total = int(counts.sum())
    if total == 0:
        e = np.zeros(0, dtype=np.intp)
        return e, e
    nz = counts > 0
    owner, lo, counts = owner[nz], lo[nz], counts[nz]
    starts = np.cumsum(counts) - counts
    p = np.repeat(owner, counts)
    q = np.arange(total, dtype=np.intp) - np.repeat(starts - lo, counts)
    return p, q


def _sort_keys(key: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], IntArray]:
    """``(sorted keys, permutation)``; packs the entry index into the low bits so that one plain sort
    of int64 values does it (several times faster than an argsort)."""
    n = key.shape[0]
    idx_bits = max(1, int(n - 1).bit_length())
    top = int(key.max()) if n else 0
    if top.bit_length() + idx_bits <= 62:
        packed = np.sort((key << idx_bits) | np.arange(n, dtype=np.int64))
        return packed >> idx_bits, (packed & ((1 << idx_bits) - 1)).astype(np.intp)
    order = np.argsort(key, kind="stable")
    return key[order], order


def candidate_pairs(
    kin: Kinematics, epoch_s: float, horizon_s: float, focus: BoolArray | None = None
) -> tuple[IntArray, IntArray]:
    """Pairs of rows ``(i, j)``, a superset of every pair that can be in loss of separation at some time
    in ``[epoch_s, epoch_s + horizon_s]`` (see the module docstring). With ``focus``, only pairs with at
    least one focused row. A pair may appear more than once; order within a pair is arbitrary."""
    if kin.geometry is Geometry.FLAT:
        raise InvalidTracks("the swept-grid detector needs an earth-centred geometry (WGS84 or SPHERE)")
    empty = np.zeros(0, dtype=np.intp)
    if kin.n < 2 or (focus is not None and not focus.any()):
        return empty, empty
    b = _boxes(kin, epoch_s, horizon_s)
    n, s_count = kin.n, b.slices
    unit_ac = np.repeat(np.arange(n, dtype=np.intp), s_count)
    unit_hh = np.repeat(b.half_h, s_count)
    unit_hv = np.repeat(b.half_v, s_count)
    # altitude bands touched by each unit's box: one entry per (unit, band)
    band_lo = _band(b, b.alt - unit_hv)
    band_hi = _band(b, b.alt + unit_hv)
    n_bands = band_hi - band_lo + 1
    n_ent = int(n_bands.sum())
    ent_unit = np.repeat(np.arange(n * s_count, dtype=np.intp), n_bands)
    ent_band = np.repeat(band_lo - (np.cumsum(n_bands) - n_bands), n_bands) + np.arange(n_ent)
    band_min = int(ent_band.min())
    n_band_vals = int(ent_band.max()) - band_min + 1
    # horizontal cells; pack (slice, band, [z,] y, x) into one int64, one free cell of padding per side
    cell = b.cell_m
    while True:
        cells = [np.floor(c / cell).astype(np.int64) for c in b.coords]
        sizes = [int(c.max() - c.min()) + 3 for c in cells]
        if float(s_count) * n_band_vals * math.prod(sizes) < _KEY_LIMIT:
            break
        cell *= 2.0  # coarser cells stay correct, only less selective
    unit_key = np.tile(np.arange(s_count, dtype=np.int64), n) * n_band_vals
    cell_key = np.zeros(n * s_count, dtype=np.int64)
    for c, size in zip(reversed(cells), reversed(sizes), strict=True):  # x innermost
        cell_key = cell_key * size + (c - c.min() + 1)
    row = math.prod(sizes)
    key = (np.repeat(unit_key, n_bands) + (ent_band - band_min)) * row + np.repeat(cell_key, n_bands)
    skey, order = _sort_keys(key)
    sunit = ent_unit[order]
    # what the pair test needs, in sorted order (so that the pair gathers below stay local)
    s_coords = [c[sunit] for c in b.coords]
    s_alt = b.alt[sunit]
    s_hh = unit_hh[sunit]
    s_hv = unit_hv[sunit]
    s_ac = unit_ac[sunit]
    # neighbour rows: offsets of the coordinates other than x (the innermost), half stencil
    strides = [sizes[0]]
    for size in sizes[1:-1]:
        strides.append(strides[-1] * size)
    forward: list[int] = []
    for offs in np.ndindex(*([3] * (len(sizes) - 1))):
        delta = [o - 1 for o in offs]
        lead = next((d for d in reversed(delta) if d != 0), 0)  # outermost non-zero offset
        if lead > 0:
            forward.append(sum(d * st for d, st in zip(delta, strides, strict=True)))
    p_parts: list[IntArray] = []
    q_parts: list[IntArray] = []
    if focus is None:
        src = np.arange(n_ent, dtype=np.intp)
        pp, qq = _ranges_to_pairs(src, src + 1, np.searchsorted(skey, skey + 1, side="right"))
        p_parts.append(pp)
        q_parts.append(qq)
        rows = forward
    else:
        src = np.flatnonzero(focus[s_ac])
        rows = [0, *forward, *(-f for f in forward)]
    ks = skey[src]
    for off in rows:
        lo = np.searchsorted(skey, ks + (off - 1), side="left")
        hi = np.searchsorted(skey, ks + (off + 1), side="right")
        pp, qq = _ranges_to_pairs(src, lo, hi)
        p_parts.append(pp)
        q_parts.append(qq)
    p = np.concatenate(p_parts)
    q = np.concatenate(q_parts)
    if focus is not None:
        # a unit meets itself in its own cell, and two focused rows find each other twice
        ia, ib = s_ac[p], s_ac[q]
        keep = np.flatnonzero((ia != ib) & (~focus[ib] | (ia < ib)))
        p, q = p[keep], q[keep]
    # the exact box test, one coordinate at a time, keeping the survivors only
    for coord in s_coords:
        keep = np.flatnonzero(np.abs(coord[p] - coord[q]) <= s_hh[p] + s_hh[q])
        p, q = p[keep], q[keep]
    lo_edge = np.maximum(s_alt[p] - s_hv[p], s_alt[q] - s_hv[q])
    hi_edge = np.minimum(s_alt[p] + s_hv[p], s_alt[q] + s_hv[q])
    # ... and the band of the lower edge of the vertical overlap only
    band = (skey[p] // row) % n_band_vals + band_min
    keep = np.flatnonzero((lo_edge <= hi_edge) & (_band(b, lo_edge) == band))
    ua, ub = sunit[p[keep]], sunit[q[keep]]
    # the first of consecutive slices only
    later = np.flatnonzero((ua % s_count) > 0)
    prev = np.zeros(ua.shape[0], dtype=np.bool_)
    prev[later] = _overlap(b, ua[later] - 1, ub[later] - 1)
    first = ~prev
    return unit_ac[ua[first]], unit_ac[ub[first]]


class SweptGridDetector:
    """The fast detector (see the module docstring). ``brute_force_below``: batches smaller than this
    go straight to all pairs, which is faster for a handful of aircraft (0 disables)."""

    def __init__(self, geometry: Geometry = Geometry.WGS84, brute_force_below: int = 64) -> None:
        if geometry is Geometry.FLAT:
            raise InvalidTracks("the swept-grid detector needs an earth-centred geometry (WGS84 or SPHERE)")
        self.geometry = geometry
        self.brute_force_below = brute_force_below

    def evaluate(
        self, kin: Kinematics, epoch_s: float, focus: BoolArray | None = None, extra_s: float = 0.0
    ) -> PairEvaluation:
        """Pairs of ``kin`` in conflict at ``epoch_s`` (with a look-ahead longer by ``extra_s``; with
        ``focus``, only pairs involving a focused row), each pair once, as ``i < j``."""
        if kin.n < self.brute_force_below:
            parts = [
                evaluate_pairs(kin, i, j, conflicts_at=epoch_s, extra_s=extra_s)
                for i, j in all_pairs_blocks(kin.n, 1 << 20)
            ]
            ev = PairEvaluation.concat(parts)
            if focus is not None:
                ev = ev.select(np.flatnonzero(focus[ev.i] | focus[ev.j]))
            return ev
        horizon = float(kin.lookahead_s.max()) + extra_s
        i, j = candidate_pairs(kin, epoch_s, horizon, focus)
        lo, hi = np.minimum(i, j), np.maximum(i, j)
        ev = evaluate_pairs(kin, lo, hi, conflicts_at=epoch_s, extra_s=extra_s)
        if len(ev) > 1:
            _, first = np.unique(ev.i.astype(np.int64) * kin.n + ev.j, return_index=True)
            ev = ev.select(first)
        return ev

    def detect(
        self, tracks: TrackBatch, separation: Separation = DEFAULT_SEPARATION, *, epoch_s: float | None = None
    ) -> Conflicts:
        epoch = tracks.epoch_s if epoch_s is None else epoch_s
        kin = prepare(tracks, separation, self.geometry)
        return Conflicts.from_evaluation(tracks, self.evaluate(kin, epoch), epoch)
