"""The pair kernel: textbook encounters, the scalar re-statement, and exact symmetry."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.tactical import FT_M, NM_M, AllPairsDetector, Geometry, Separation, TrackBatch
from parley.tactical.cpa import evaluate_pairs
from parley.tactical.geometry import prepare
from tests.tactical import scalar_reference as ref
from tests.tactical.strategies import batches, offset

SEP = Separation()
RPZ, HPZ = 5 * NM_M, 1000 * FT_M


def two(a: dict[str, float], b: dict[str, float]) -> TrackBatch:
    cols = {
        k: [a.get(k, 0.0), b.get(k, 0.0)]
        for k in ("lat_deg", "lon_deg", "alt_m", "gs_mps", "trk_deg", "vs_mps")
    }
    return TrackBatch.from_columns(["A", "B"], **cols)


def only(batch: TrackBatch, separation: Separation = SEP, geometry: Geometry = Geometry.WGS84):
    conflicts = list(AllPairsDetector(geometry).detect(batch, separation))
    return conflicts[0] if conflicts else None


def test_head_on_at_the_same_level() -> None:
    lat_b, _ = offset(np.array([50.0]), np.array([10.0]), np.array([40_000.0]), np.array([0.0]))
    c = only(
        two(
            {"lat_deg": 50.0, "lon_deg": 10.0, "alt_m": 10_000.0, "gs_mps": 200.0},
            {
                "lat_deg": float(lat_b[0]),
                "lon_deg": 10.0,
                "alt_m": 10_000.0,
                "gs_mps": 200.0,
                "trk_deg": 180.0,
            },
        )
    )
    assert c is not None
    assert c.tcpa_s == pytest.approx(100.0, rel=2e-3)  # 40 km at 400 m/s (sphere vs ellipsoid: 0.2 %)
    assert c.dcpa_m == pytest.approx(0.0, abs=1.0)
    assert c.t_in_s == pytest.approx(c.tcpa_s - RPZ / 400.0, abs=1e-3)
    assert c.t_out_s == pytest.approx(c.tcpa_s + RPZ / 400.0, abs=1e-3)
    assert c.dist_m == pytest.approx(40_000.0, rel=2e-3)
    assert c.dalt_cpa_m == 0.0


def test_head_on_beyond_the_look_ahead_is_no_conflict() -> None:
    lat_b, _ = offset(np.array([50.0]), np.array([10.0]), np.array([140_000.0]), np.array([0.0]))
    batch = two(
        {"lat_deg": 50.0, "lon_deg": 10.0, "alt_m": 10_000.0, "gs_mps": 200.0},
        {"lat_deg": float(lat_b[0]), "lon_deg": 10.0, "alt_m": 10_000.0, "gs_mps": 200.0, "trk_deg": 180.0},
    )
    assert only(batch) is None  # entry at (140 - 9.26) km / 400 m/s = 327 s > 300 s
    assert only(batch, Separation(lookahead_s=330.0)) is not None


def test_overtaking_on_the_same_track() -> None:
    lat_b, _ = offset(np.array([0.0]), np.array([0.0]), np.array([20_000.0]), np.array([0.0]))
    c = only(
        two(
            {"alt_m": 9000.0, "gs_mps": 250.0}, {"lat_deg": float(lat_b[0]), "alt_m": 9000.0, "gs_mps": 200.0}
        )
    )
    assert c is not None
    # closing at 50 m/s; 20 km on the test's sphere are 0.56 % less on the ellipsoid's equatorial meridian
    assert c.tcpa_s == pytest.approx(400.0 * (1 - 0.0056), rel=1e-3)
    assert c.t_in_s == pytest.approx(c.tcpa_s - RPZ / 50.0, abs=1e-3)


def test_parallel_same_velocity_inside_is_a_permanent_conflict_outside_none() -> None:
    near = two(
        {"alt_m": 9000.0, "gs_mps": 230.0, "trk_deg": 90.0},
        {"lat_deg": 0.05, "alt_m": 9000.0, "gs_mps": 230.0, "trk_deg": 90.0},
    )
    c = only(near)
    assert c is not None
    assert c.t_in_s < 0 < c.t_out_s and c.in_loss_of_separation
    far = two(
        {"alt_m": 9000.0, "gs_mps": 230.0, "trk_deg": 90.0},
        {"lat_deg": 0.2, "alt_m": 9000.0, "gs_mps": 230.0, "trk_deg": 90.0},
    )
    assert only(far) is None


def test_zero_relative_velocity_exactly() -> None:
    c = only(two({"alt_m": 9000.0}, {"lon_deg": 0.01, "alt_m": 9000.0}))  # both standing still
    assert c is not None
    assert (c.tcpa_s, c.t_in_s, c.t_out_s) == (0.0, -math.inf, math.inf)


def test_climbing_through_a_level() -> None:
    # B stands 2 km from A, 3000 ft below and climbing at 10 m/s: inside 1000 ft from 60.96 s to 121.92 s
    c = only(two({"alt_m": 3000 * FT_M + 5000.0}, {"lon_deg": 0.018, "alt_m": 5000.0, "vs_mps": 10.0}))
    assert c is not None
    assert c.t_in_s == pytest.approx(2000 * FT_M / 10.0 + 1e-4, abs=1e-3)
    assert c.t_out_s == pytest.approx(4000 * FT_M / 10.0 - 1e-4, abs=1e-3)


def test_already_in_loss_of_separation_and_diverging() -> None:
    c = only(
        two(
            {"alt_m": 9000.0, "gs_mps": 200.0, "trk_deg": 270.0},
            {"lon_deg": 0.02, "alt_m": 9100.0, "gs_mps": 200.0, "trk_deg": 90.0},
        )
    )
    assert c is not None
    assert c.tcpa_s < 0.0 < c.t_out_s and c.t_in_s < 0.0


def test_adjacent_flight_levels_are_separated_unless_strict() -> None:
    batch = two({"alt_m": 350 * 100 * FT_M}, {"lon_deg": 0.01, "alt_m": 360 * 100 * FT_M})
    assert only(batch) is None
    strict = only(batch, Separation(vertical_tolerance_m=0.0))
    # exactly 1000 ft apart up to rounding: the strict rule is decided by the last bit
    assert strict is None or abs(strict.dalt_cpa_m - HPZ) < 1e-9


def test_across_the_antimeridian_as_elsewhere() -> None:
    def encounter(lon: float) -> tuple[float, float, float]:
        lon_b = lon + 0.2 if lon + 0.2 <= 180.0 else lon + 0.2 - 360.0
        c = only(
            two(
                {"lon_deg": lon, "alt_m": 9000.0, "gs_mps": 200.0, "trk_deg": 90.0},
                {"lon_deg": lon_b, "alt_m": 9000.0, "gs_mps": 200.0, "trk_deg": 270.0},
            )
        )
        assert c is not None
        return c.tcpa_s, c.dcpa_m, c.dist_m

    assert encounter(179.9) == pytest.approx(encounter(9.9), abs=1e-6)


def test_near_the_pole_north_means_towards_each_other() -> None:
    # two aircraft 10 km apart on opposite sides of the North Pole, both flying "north": head-on
    c = only(
        two(
            {"lat_deg": 89.955, "lon_deg": 0.0, "alt_m": 9000.0, "gs_mps": 200.0},
            {"lat_deg": 89.955, "lon_deg": 180.0, "alt_m": 9000.0, "gs_mps": 200.0},
        )
    )
    assert c is not None
    assert c.dcpa_m == pytest.approx(0.0, abs=1.0)
    assert c.tcpa_s == pytest.approx(c.dist_m / 400.0, rel=1e-6)
    # the flat approximation cannot see it
    assert (
        only(
            two(
                {"lat_deg": 89.955, "lon_deg": 0.0, "alt_m": 9000.0, "gs_mps": 200.0},
                {"lat_deg": 89.955, "lon_deg": 180.0, "alt_m": 9000.0, "gs_mps": 200.0},
            ),
            geometry=Geometry.FLAT,
        )
        is None
    )


def _pairs(batch: TrackBatch) -> tuple[np.ndarray, np.ndarray]:
    i, j = np.triu_indices(len(batch), 1)
    return i.astype(np.intp), j.astype(np.intp)


@settings(max_examples=60, deadline=None)
@given(batches(max_n=12))
def test_vectorised_kernel_matches_the_scalar_statement(batch: TrackBatch) -> None:
    kin = prepare(batch, SEP)
    i, j = _pairs(batch)
    ev = evaluate_pairs(kin, i, j)
    epoch = batch.epoch_s
    conflict = ev.window(epoch)
    tcpa, t_in, t_out, _ = ev.at_epoch(epoch)
    for k in range(len(i)):
        a, b = (
            ref.State(
                batch.lat_deg[x],
                batch.lon_deg[x],
                batch.alt_m[x],
                batch.gs_mps[x],
                batch.trk_deg[x],
                batch.vs_mps[x],
                batch.t_s[x],
            )
            for x in (i[k], j[k])
        )
        rpz = max(kin.rpz_m[i[k]], kin.rpz_m[j[k]])
        hpz = max(kin.hpz_m[i[k]], kin.hpz_m[j[k]]) - SEP.vertical_tolerance_m
        la = max(kin.lookahead_s[i[k]], kin.lookahead_s[j[k]])
        out = ref.pair(a, b, rpz, hpz, la, epoch)
        assert ev.dcpa_m[k] == pytest.approx(out.dcpa, rel=1e-6, abs=1e-3)
        if math.isfinite(out.tcpa) and abs(out.tcpa) < 1e7:
            assert tcpa[k] == pytest.approx(out.tcpa, rel=1e-6, abs=1e-3)
        if out.conflict != bool(conflict[k]):
            # only a pair on the edge of a threshold may be decided differently by rounding
            edges = [abs(out.dcpa - rpz), abs(out.t_in - la), abs(out.t_out), abs(out.t_in - out.t_out)]
            assert min(edges) < 1e-4, (k, out, ev.select([k]))
        if out.conflict and conflict[k]:
            assert t_in[k] == pytest.approx(out.t_in, rel=1e-6, abs=1e-3)
            assert t_out[k] == pytest.approx(out.t_out, rel=1e-6, abs=1e-3)


@settings(max_examples=60, deadline=None)
@given(batches(max_n=40), st.sampled_from([Geometry.WGS84, Geometry.SPHERE, Geometry.FLAT]))
def test_swapping_a_pair_gives_bit_identical_numbers(batch: TrackBatch, geometry: Geometry) -> None:
    kin = prepare(batch, SEP, geometry)
    i, j = _pairs(batch)
    ab, ba = evaluate_pairs(kin, i, j), evaluate_pairs(kin, j, i)
    for name in (
        "t_ref_s",
        "lookahead_s",
        "horizontal",
        "tcpa_s",
        "dcpa_m",
        "t_in_s",
        "t_out_s",
        "dalt_cpa_m",
        "d2",
        "dw",
        "w2",
    ):
        assert np.array_equal(getattr(ab, name), getattr(ba, name)), name
