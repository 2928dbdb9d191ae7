"""Hypothesis strategies for the tactical engine: random traffic batches that actually conflict.

A scenario (drawn by Hypothesis) fixes where the traffic is (anywhere, including near a pole and
across the antimeridian), how dense it is and how it moves; numpy, seeded by Hypothesis, then draws
the aircraft, so shrinking works on the scenario and the batches stay fast to build.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from parley.tactical import FT_M, TrackBatch

R_M = 6371000.0


def _frame(lat: float, lon: float) -> tuple[np.ndarray, np.ndarray]:
    la, lo = np.radians(lat), np.radians(lon)
    east = np.array([-np.sin(lo), np.cos(lo), 0.0])
    north = np.array([-np.sin(la) * np.cos(lo), -np.sin(la) * np.sin(lo), np.cos(la)])
    return north, east


def transported_track(trk_deg: float, lat_a: float, lon_a: float, lat_b: float, lon_b: float) -> float:
    """The track at B of a direction given as a track at A (the 3-D vector projected on B's tangent
    plane): near a pole the two local norths differ a lot."""
    north_a, east_a = _frame(lat_a, lon_a)
    north_b, east_b = _frame(lat_b, lon_b)
    d = np.cos(np.radians(trk_deg)) * north_a + np.sin(np.radians(trk_deg)) * east_a
    return float(np.degrees(np.arctan2(d @ east_b, d @ north_b)) % 360.0)


def offset(
    lat: np.ndarray, lon: np.ndarray, north_m: np.ndarray, east_m: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Positions moved by local east/north offsets (spherical, via earth-centred vectors: valid at the
    poles and across the antimeridian)."""
    la, lo = np.radians(lat), np.radians(lon)
    p = np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])
    e = np.stack([-np.sin(lo), np.cos(lo), np.zeros_like(lo)])
    n = np.stack([-np.sin(la) * np.cos(lo), -np.sin(la) * np.sin(lo), np.cos(la)])
    q = p + (east_m * e + north_m * n) / R_M
    q /= np.linalg.norm(q, axis=0)
    return np.degrees(np.arcsin(np.clip(q[2], -1.0, 1.0))), np.degrees(np.arctan2(q[1], q[0]))


centres = st.one_of(
    st.tuples(st.floats(-70.0, 70.0), st.floats(-180.0, 180.0)),
    st.tuples(st.sampled_from([89.99, -89.95, 88.0, -87.5]), st.floats(-180.0, 180.0)),  # near a pole
    st.tuples(st.floats(-60.0, 60.0), st.sampled_from([179.99, -179.99, 180.0, -180.0])),  # antimeridian
)


@st.composite
def batches(draw: st.DrawFn, min_n: int = 2, max_n: int = 120, mixed_times: bool | None = None) -> TrackBatch:
    """A batch of traffic within ``radius`` of a centre; level on flight levels or climbing, with some
    pairs sharing a velocity (zero relative motion) and optional per-aircraft minima."""
    n = draw(st.integers(min_n, max_n))
    lat0, lon0 = draw(centres)
    radius_m = draw(st.sampled_from([5_000.0, 30_000.0, 150_000.0, 600_000.0]))
    seed = draw(st.integers(0, 2**32 - 1))
    frac_level = draw(st.sampled_from([0.0, 0.5, 0.9, 1.0]))
    max_gs = draw(st.sampled_from([0.0, 30.0, 260.0, 600.0]))
    timed = draw(st.booleans()) if mixed_times is None else mixed_times
    overrides = draw(st.booleans())
    rng = np.random.default_rng(seed)
    r = radius_m * np.sqrt(rng.random(n))
    a = rng.uniform(0.0, 2 * np.pi, n)
    lat, lon = offset(np.full(n, lat0), np.full(n, lon0), r * np.cos(a), r * np.sin(a))
    level = rng.random(n) < frac_level
    alt = np.where(level, rng.integers(10, 14, n) * 1000.0 * FT_M, rng.uniform(2800.0, 4400.0, n))
    vs = np.where(level, 0.0, rng.uniform(-15.0, 15.0, n))
    gs = rng.uniform(0.0, max_gs, n)
    trk = rng.uniform(0.0, 360.0, n)
    twins = rng.random(n) < 0.1  # same velocity as the previous aircraft
    twins[0] = False
    for k in np.flatnonzero(twins):
        gs[k], trk[k], vs[k] = gs[k - 1], trk[k - 1], vs[k - 1]
    t = rng.uniform(-30.0, 0.0, n).round(1) if timed else 0.0
    return TrackBatch.from_columns(
        [f"X{k:04d}" for k in rng.permutation(n)],
        lat_deg=lat,
        lon_deg=lon,
        alt_m=alt,
        gs_mps=gs,
        trk_deg=trk,
        vs_mps=vs,
        t_s=t,
        rpz_m=rng.choice([50.0, 9260.0, 15000.0], n) if overrides else None,
        hpz_m=rng.choice([15.0, 304.8], n) if overrides else None,
        lookahead_s=rng.choice([60.0, 300.0], n) if overrides else None,
    )


ENCOUNTERS = ("head-on", "overtaking", "parallel", "crossing", "climbing-through", "in-los")


@st.composite
def encounters(draw: st.DrawFn) -> tuple[str, TrackBatch]:
    """A designed encounter between aircraft ``A`` and ``B`` that must end in loss of separation within
    the default look-ahead (5 NM, 1000 ft, 300 s), anywhere on Earth, among random background traffic."""
    kind = draw(st.sampled_from(ENCOUNTERS))
    lat0, lon0 = draw(centres)
    trk = draw(st.floats(0.0, 360.0, exclude_max=True))
    gs = draw(st.floats(60.0, 250.0))
    alt = draw(st.integers(100, 400)) * 100 * FT_M
    rad = np.radians(trk)
    along, across = np.cos(rad), np.sin(rad)  # unit vector of A's track (north, east components)
    b_alt, b_vs, a_vs = alt, 0.0, 0.0
    if kind == "head-on":
        dist, b_trk, b_gs = draw(st.floats(2_000.0, 40_000.0)), (trk + 180.0) % 360.0, gs
    elif kind == "overtaking":
        dist, b_trk, b_gs = draw(st.floats(2_000.0, 8_000.0)), trk, gs - 20.0
    elif kind == "parallel":  # side by side, same velocity: inside the zone for ever
        dist, b_trk, b_gs = draw(st.floats(100.0, 8_000.0)), trk, gs
        along, across = -across, along  # B abeam
    elif kind == "crossing":  # B crosses A's track at right angles, both reaching the crossing together
        dist, b_trk, b_gs = draw(st.floats(2_000.0, 200.0 * gs)), (trk + 90.0) % 360.0, gs
        along, across = along + across, across - along  # crossing point minus B's velocity direction
    elif kind == "climbing-through":  # B flies beside A, 1500-3000 ft below, climbing at 10 m/s
        dist, b_trk, b_gs = draw(st.floats(100.0, 5_000.0)), trk, gs
        b_alt, b_vs = alt - draw(st.floats(1500.0, 3000.0)) * FT_M, 10.0
    else:  # in-los: already within the zone, diverging
        dist, b_trk, b_gs = draw(st.floats(100.0, 8_000.0)), (trk + 180.0) % 360.0, gs
        along, across = -along, -across
    north, east = dist * along, dist * across
    b_lat, b_lon = offset(np.array([lat0]), np.array([lon0]), np.array([north]), np.array([east]))
    b_trk = transported_track(b_trk, lat0, lon0, float(b_lat[0]), float(b_lon[0]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    k = draw(st.integers(0, 40))
    r = 100_000.0 * np.sqrt(rng.random(k))
    a = rng.uniform(0.0, 2 * np.pi, k)
    bg_lat, bg_lon = offset(np.full(k, lat0), np.full(k, lon0), r * np.cos(a), r * np.sin(a))
    batch = TrackBatch.from_columns(
        ["A", "B", *(f"bg{i}" for i in range(k))],
        lat_deg=np.concatenate([[lat0, b_lat[0]], bg_lat]),
        lon_deg=np.concatenate([[lon0, b_lon[0]], bg_lon]),
        alt_m=np.concatenate([[alt, b_alt], rng.integers(100, 401, k) * 100 * FT_M]),
        gs_mps=np.concatenate([[gs, b_gs], rng.uniform(60.0, 250.0, k)]),
        trk_deg=np.concatenate([[trk, b_trk], rng.uniform(0.0, 360.0, k)]),
        vs_mps=np.concatenate([[a_vs, b_vs], np.zeros(k)]),
    )
    return kind, batch
