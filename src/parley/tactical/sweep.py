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

Finding overlapping boxes: every box goes into the altitude bands (of height ``hpz``, centred on flight
levels) it touches, and into one row of a grid over the other coordinates (rows as tall as the widest
pair reach). One sort of the int64 keys ``(slice, band, row, x)`` (x quantised) lays every row out in x
order, so each box finds its partners of its own row and of the next rows (a half stencil: each pair of
rows is visited once) as contiguous ranges ``x +- (h_i + h_max)``, by binary search: a sort and sweep.
The exact box test follows. A pair found in several bands is kept in the band of the lower edge of its
vertical overlap only; a pair found in several slices is kept once (one sort of the pair keys).

Cost: O(N S log(N S)) for the keys plus O(K) for the K candidate pairs; memory O(N S + K). The kernel
(:mod:`parley.tactical.cpa`) then decides exactly, so the result equals the all-pairs detector's. (A
look-ahead so long that aircraft may travel more than about 1 500 km falls back to all pairs.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from parley.tactical.allpairs import AllPairsDetector, all_pairs_blocks
from parley.tactical.conflicts import Conflicts
from parley.tactical.cpa import BoolArray, PairEvaluation, evaluate_pairs
from parley.tactical.errors import InvalidTracks
from parley.tactical.geometry import Kinematics, min_curvature_radius_m, prepare
from parley.tactical.params import DEFAULT_SEPARATION, Geometry, Separation
from parley.tactical.tracks import FloatArray, IntArray, TrackBatch

#: At most this many time slices (more slices: tighter boxes but more keys).
MAX_SLICES = 8
#: A slice lasts as long as the fastest aircraft takes to fly this many rpz.
SLICE_RPZ = 2.0
#: Source entries per chunk of the pair search (bounds the temporaries; a few hundred thousand pairs).
_SOURCE_CHUNK = 1 << 15
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


def _plane_basis(kin: Kinematics) -> list[FloatArray]:
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
    return [e1, e2, up] if wide else [e1, e2]


def _out_of_plane_m(kin: Kinematics, horizon_s: float, age_s: float, rpz_m: float) -> float | None:
    """Bound on ``|d(t) . n|``: how far the chord between two aircraft that can come within ``rpz`` sticks
    out of the pair's tangent plane during the look-ahead; ``None`` when the look-ahead is too long for
    the bound (more than about 1 500 km of travel).

    The chord is at most ``L = rpz + e + 2 vmax T'`` long (``T'``: look-ahead plus the age of the oldest
    report, ``e``: this bound); the two normals are at most ``theta = 1.01 L / rho_min`` apart; each
    velocity leans out of the pair's plane by at most ``theta / 2``, and on the ellipsoid the chord leaves
    the plane by at most ``0.01 L theta`` (``e^2 = 0.0067``; zero on a sphere). Solved by fixed-point
    iteration; a property test checks the chord term against random pairs.
    """
    vmax = float(kin.gs_mps.max())
    t_eff = horizon_s + age_s
    rho = min_curvature_radius_m(kin.geometry)
    bound = 0.0
    for _ in range(4):
        chord = 1.01 * (rpz_m + bound + 2.0 * vmax * t_eff) + 100.0
        if chord > 0.25 * rho:
            return None
        theta = 1.01 * chord / rho
        ellipsoid = 0.01 * chord * theta if kin.geometry is Geometry.WGS84 else 0.0
        bound = ellipsoid + 2.0 * vmax * (theta / 2.0) * t_eff
    return 1.01 * bound + 1.0


def _boxes(kin: Kinematics, epoch_s: float, horizon_s: float) -> _Boxes | None:
    """The boxes of every aircraft in every slice, or ``None`` when the look-ahead is too long for the
    pruning bound (then every pair is a candidate)."""
    n = kin.n
    rpz = float(kin.rpz_m.max())
    hpz = float(kin.hpz_m.max())
    vmax = float(kin.gs_mps.max())
    dt = epoch_s - kin.t_s
    age = float(np.abs(dt).max())
    out_of_plane = _out_of_plane_m(kin, horizon_s, age, rpz)
    if out_of_plane is None:
        return None
    # SLICE_RPZ = 2 was measured near the optimum from 1000 to 100 000 aircraft (the cost is flat around it)
    slices = int(min(MAX_SLICES, max(1, math.ceil(vmax * horizon_s / (SLICE_RPZ * rpz)))))
    tau = horizon_s / slices
    r0 = math.hypot(rpz, out_of_plane) * (1.0 + 1e-9) + 1e-3
    half_h = 0.5 * r0 + 0.5 * tau * kin.gs_mps
    half_v = 0.5 * (hpz - kin.vertical_tolerance_m) + 0.5 * tau * np.abs(kin.vs_mps) + 1e-6
    basis = _plane_basis(kin)
    mids = (np.arange(slices) + 0.5) * tau
    coords = []
    for e in basis:
        c0 = (kin.px + kin.vx * dt) * e[0] + (kin.py + kin.vy * dt) * e[1] + (kin.pz + kin.vz * dt) * e[2]
        cv = kin.vx * e[0] + kin.vy * e[1] + kin.vz * e[2]
        coords.append((c0[:, None] + cv[:, None] * mids[None, :]).reshape(n * slices))
    alt0 = kin.alt_m + kin.vs_mps * dt
    alt = (alt0[:, None] + kin.vs_mps[:, None] * mids[None, :]).reshape(n * slices)
    return _Boxes(slices, coords, alt, half_h, half_v, 2.0 * float(half_h.max()), hpz)


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


def _sort_keys(key: npt.NDArray[np.int64], key_bits: int) -> tuple[npt.NDArray[np.int64], IntArray]:
    """``(sorted keys, permutation)`` of non-negative keys below ``2**key_bits``; packs the entry index
    into the low bits when it fits, so that one plain sort of int64 values does it (several times
    faster than an argsort)."""
    n = key.shape[0]
    idx_bits = max(1, int(n - 1).bit_length())
    if key_bits + idx_bits <= 62:
        packed = np.sort((key << idx_bits) | np.arange(n, dtype=np.int64))
        return packed >> idx_bits, (packed & ((1 << idx_bits) - 1)).astype(np.intp)
    order = np.argsort(key, kind="stable")
    return key[order], order


def candidate_pairs(
    kin: Kinematics, epoch_s: float, horizon_s: float, focus: BoolArray | None = None
) -> tuple[IntArray, IntArray]:
    """Pairs of rows ``(i, j)``, a superset of every pair that can be in loss of separation at some time
    in ``[epoch_s, epoch_s + horizon_s]`` (see the module docstring). With ``focus``, only pairs with at
    least one focused row. Each pair once, as ``i < j``, sorted."""
    if kin.geometry is Geometry.FLAT:
        raise InvalidTracks("the swept-grid detector needs an earth-centred geometry (WGS84 or SPHERE)")
    empty = np.zeros(0, dtype=np.intp)
    if kin.n < 2 or (focus is not None and not focus.any()):
        return empty, empty
    b = _boxes(kin, epoch_s, horizon_s)
    if b is None:
        i, j = (np.concatenate(parts) for parts in zip(*all_pairs_blocks(kin.n, 1 << 22), strict=True))
        keep = np.ones(i.shape[0], dtype=np.bool_) if focus is None else focus[i] | focus[j]
        return i[keep], j[keep]
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
    # rows: (slice, band, [z,] y-cell); within a row, entries sorted by x (quantised): a sweep
    x, others = b.coords[0], b.coords[1:]
    cell = b.cell_m
    while True:
        cells = [np.floor(c / cell).astype(np.int64) for c in others]
        sizes = [int(c.max() - c.min()) + 3 for c in cells]  # a free cell of padding on each side
        if float(s_count) * n_band_vals * math.prod(sizes) < 2.0**40:
            break
        cell *= 2.0  # coarser cells stay correct, only less selective
    unit_row = np.tile(np.arange(s_count, dtype=np.int64), n) * n_band_vals
    cell_key = np.zeros(n * s_count, dtype=np.int64)
    for c, size in zip(reversed(cells), reversed(sizes), strict=True):  # y innermost
        cell_key = cell_key * size + (c - c.min() + 1)
    per_band = math.prod(sizes)
    ent_row = (np.repeat(unit_row, n_bands) + (ent_band - band_min)) * per_band + np.repeat(cell_key, n_bands)
    row_bits = int(ent_row.max()).bit_length()
    idx_bits = max(1, int(n_ent - 1).bit_length())
    x_bits = 62 - row_bits - idx_bits
    if x_bits < 16:  # too many for one packed sort: argsort instead, finer x
        x_bits = min(40, 62 - row_bits)
    x_min = float(x.min())
    quantum = max((float(x.max()) - x_min) / float((1 << x_bits) - 4), 1e-3)
    xq = np.floor((x - x_min) / quantum).astype(np.int64)
    key = (ent_row << x_bits) | np.repeat(xq, n_bands)
    reach = np.repeat(unit_hh, n_bands) + float(b.half_h.max())
    # neighbour rows, half stencil over the coordinates other than x
    strides = [1]
    for size in sizes[:-1]:
        strides.append(strides[-1] * size)
    forward: list[int] = []
    for offs in np.ndindex(*([3] * len(sizes))):
        delta = [o - 1 for o in offs]
        lead = next((d for d in reversed(delta) if d != 0), 0)  # outermost non-zero offset
        if lead > 0:
            forward.append(sum(d * st for d, st in zip(delta, strides, strict=True)))
    window = _XWindow(x_bits, quantum)
    skey, order = _sort_keys(key, x_bits + row_bits)
    # the pair test reads these in sorted order, so that its gathers stay local
    v_unit = ent_unit[order]
    view = _View(
        ac=unit_ac[v_unit],
        band=ent_band[order],
        coords=[c[v_unit] for c in b.coords],
        half_h=unit_hh[v_unit],
        alt=b.alt[v_unit],
        half_v=unit_hv[v_unit],
    )
    if focus is None:
        # every entry against the ones after it in its row and against the forward rows
        src = np.arange(n_ent, dtype=np.intp)
        rows = forward
    else:
        # the focused entries only, against their whole neighbourhood
        src = np.flatnonzero(focus[view.ac])
        rows = [0, *forward, *(-f for f in forward)]
    lo_q, hi_q = window.bounds(skey[src], reach[order[src]])
    found_a: list[IntArray] = []
    found_b: list[IntArray] = []
    for start in range(0, src.shape[0], _SOURCE_CHUNK):  # in chunks: the temporaries stay small
        part = slice(start, start + _SOURCE_CHUNK)
        s_src, s_lo, s_hi = src[part], lo_q[part], hi_q[part]
        p_parts: list[IntArray] = []
        q_parts: list[IntArray] = []
        if focus is None:
            pp, qq = _ranges_to_pairs(s_src, s_src + 1, np.searchsorted(skey, s_hi, side="right"))
            p_parts.append(pp)
            q_parts.append(qq)
        for off in rows:
            shift = off << x_bits
            lo = np.searchsorted(skey, s_lo + shift, side="left")
            hi = np.searchsorted(skey, s_hi + shift, side="right")
            pp, qq = _ranges_to_pairs(s_src, lo, hi)
            p_parts.append(pp)
            q_parts.append(qq)
        p, q = np.concatenate(p_parts), np.concatenate(q_parts)
        if focus is not None:
            # an entry meets itself, and two focused rows find each other from both sides: keep one
            ia, ib = view.ac[p], view.ac[q]
            keep = np.flatnonzero((ia != ib) & (~focus[ib] | (ia < ib)))
            p, q = p[keep], q[keep]
        ia, ib = view.overlapping(b, p, q)
        found_a.append(ia)
        found_b.append(ib)
    ia, ib = np.concatenate(found_a), np.concatenate(found_b)
    # a pair close in several slices is found in each: keep one of each
    return _unique_pairs(np.minimum(ia, ib), np.maximum(ia, ib), n)


@dataclass(frozen=True, slots=True)
class _View:
    """Per entry, in sorted order: aircraft, band, box centre and half sizes."""

    ac: IntArray
    band: npt.NDArray[np.int64]
    coords: list[FloatArray]
    half_h: FloatArray
    alt: FloatArray
    half_v: FloatArray

    def overlapping(self, b: _Boxes, p: IntArray, q: IntArray) -> tuple[IntArray, IntArray]:
        """The aircraft of the entry pairs ``(p, q)`` whose boxes overlap, each pair in the band of the
        lower edge of its vertical overlap only. One coordinate at a time, keeping the survivors."""
        for coord in self.coords:
            keep = np.flatnonzero(np.abs(coord[p] - coord[q]) <= self.half_h[p] + self.half_h[q])
            p, q = p[keep], q[keep]
        alt, half = self.alt, self.half_v
        lo_edge = np.maximum(alt[p] - half[p], alt[q] - half[q])
        hi_edge = np.minimum(alt[p] + half[p], alt[q] + half[q])
        keep = np.flatnonzero((lo_edge <= hi_edge) & (_band(b, lo_edge) == self.band[p]))
        return self.ac[p[keep]], self.ac[q[keep]]


@dataclass(frozen=True, slots=True)
class _XWindow:
    """Keys are ``row << bits | x quantised``; the window of an entry spans its row's keys from
    ``x - reach`` to ``x + reach`` (one quantum of rounding more on each side)."""

    bits: int
    quantum: float

    def bounds(
        self, key: npt.NDArray[np.int64], reach_m: FloatArray
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        mask = (1 << self.bits) - 1
        xq = key & mask
        row = key - xq
        reach_q = np.ceil(reach_m / self.quantum).astype(np.int64) + 1
        return row | np.maximum(xq - reach_q, 0), row | np.minimum(xq + reach_q, mask)


def _unique_pairs(i: IntArray, j: IntArray, n: int) -> tuple[IntArray, IntArray]:
    """The distinct pairs among ``(i[k], j[k])``, ``i < j < n``, sorted."""
    if i.shape[0] < 2:
        return i, j
    bits = max(1, int(n).bit_length())
    key = np.sort((i.astype(np.int64) << bits) | j)
    first = np.ones(key.shape[0], dtype=np.bool_)
    first[1:] = key[1:] != key[:-1]
    key = key[first]
    return (key >> bits).astype(np.intp), (key & ((1 << bits) - 1)).astype(np.intp)


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
        ``focus``, only pairs involving a focused row), each pair once."""
        if kin.n < self.brute_force_below:
            ev = AllPairsDetector(self.geometry).evaluate(kin, epoch_s, extra_s)
            return ev if focus is None else ev.select(np.flatnonzero(focus[ev.i] | focus[ev.j]))
        horizon = float(kin.lookahead_s.max()) + extra_s
        # work on the aircraft in a spatial order (cache-friendly gathers), report the original rows
        order = kin.locality_order()
        local = kin.take(order)
        i, j = candidate_pairs(local, epoch_s, horizon, None if focus is None else focus[order])
        # the grid has pruned vertically already: no vertical pre-pass
        ev = evaluate_pairs(local, i, j, conflicts_at=epoch_s, extra_s=extra_s, vertical_first=False)
        return ev.renumber(order)

    def detect(
        self, tracks: TrackBatch, separation: Separation = DEFAULT_SEPARATION, *, epoch_s: float | None = None
    ) -> Conflicts:
        epoch = tracks.epoch_s if epoch_s is None else epoch_s
        kin = prepare(tracks, separation, self.geometry)
        return Conflicts.from_evaluation(tracks, self.evaluate(kin, epoch), epoch)
