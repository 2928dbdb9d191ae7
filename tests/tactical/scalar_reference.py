"""A plain scalar re-statement of the pair criterion (math module, one pair at a time), written apart
from the vectorised kernel to check it."""

from __future__ import annotations

import math
from dataclasses import dataclass

A = 6378137.0
F = 1.0 / 298.257223563
E2 = F * (2.0 - F)


@dataclass(frozen=True)
class State:
    lat: float
    lon: float
    alt: float
    gs: float
    trk: float
    vs: float
    t: float = 0.0


@dataclass(frozen=True)
class Outcome:
    conflict: bool
    tcpa: float
    dcpa: float
    t_in: float
    t_out: float


def _frame(s: State) -> tuple[list[float], list[float], list[float]]:
    la, lo = math.radians(s.lat), math.radians(s.lon)
    n = A / math.sqrt(1.0 - E2 * math.sin(la) ** 2)
    pos = [n * math.cos(la) * math.cos(lo), n * math.cos(la) * math.sin(lo), n * (1.0 - E2) * math.sin(la)]
    up = [math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la)]
    east = [-math.sin(lo), math.cos(lo), 0.0]
    north = [-math.sin(la) * math.cos(lo), -math.sin(la) * math.sin(lo), math.cos(la)]
    ve, vn = s.gs * math.sin(math.radians(s.trk)), s.gs * math.cos(math.radians(s.trk))
    vel = [ve * e + vn * nn for e, nn in zip(east, north, strict=True)]
    return pos, up, vel


def _dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def pair(a: State, b: State, rpz: float, hpz: float, lookahead: float, epoch: float = 0.0) -> Outcome:
    """The conflict criterion for one pair, times relative to ``epoch``."""
    pa, ua, va = _frame(a)
    pb, ub, vb = _frame(b)
    tref = max(a.t, b.t)
    pa = [p + v * (tref - a.t) for p, v in zip(pa, va, strict=True)]
    pb = [p + v * (tref - b.t) for p, v in zip(pb, vb, strict=True)]
    n = [x + y for x, y in zip(ua, ub, strict=True)]
    norm = math.sqrt(_dot(n, n))
    n = [x / norm for x in n]
    d = [y - x for x, y in zip(pa, pb, strict=True)]
    w = [y - x for x, y in zip(va, vb, strict=True)]
    d = [x - _dot(d, n) * k for x, k in zip(d, n, strict=True)]
    w = [x - _dot(w, n) * k for x, k in zip(w, n, strict=True)]
    w2 = _dot(w, w)
    if w2 > 1e-18:
        tcpa = -_dot(d, w) / w2
        dcpa2 = max(_dot(d, d) - _dot(d, w) ** 2 / w2, 0.0)
        if dcpa2 < rpz * rpz:
            half = math.sqrt((rpz * rpz - dcpa2) / w2)
            h_in, h_out = tcpa - half, tcpa + half
        else:
            h_in, h_out = math.inf, -math.inf
    else:
        tcpa, dcpa2 = 0.0, _dot(d, d)
        h_in, h_out = (-math.inf, math.inf) if dcpa2 < rpz * rpz else (math.inf, -math.inf)
    dalt = (b.alt + b.vs * (tref - b.t)) - (a.alt + a.vs * (tref - a.t))
    dvs = b.vs - a.vs
    if dvs == 0.0:
        v_in, v_out = (-math.inf, math.inf) if abs(dalt) < hpz else (math.inf, -math.inf)
    else:
        t1, t2 = (-hpz - dalt) / dvs, (hpz - dalt) / dvs
        v_in, v_out = min(t1, t2), max(t1, t2)
    t_in, t_out = max(h_in, v_in), min(h_out, v_out)
    lo = epoch - tref
    conflict = t_in < t_out and t_out > lo and t_in < lo + lookahead
    return Outcome(conflict, tcpa - lo, math.sqrt(dcpa2), t_in - lo, t_out - lo)
