"""The fast detector against the all-pairs oracle, order independence, and the pruning bound."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.tactical import (
    AllPairsDetector,
    ConflictDetector,
    Geometry,
    InvalidTracks,
    Separation,
    SweptGridDetector,
    TrackBatch,
)
from parley.tactical.geometry import WGS84_E2, min_curvature_radius_m, prepare
from parley.tactical.io import read_tracks
from tests.tactical.strategies import batches, encounters, offset

FIXTURES = Path(__file__).parent.parent / "fixtures" / "tactical"
GEOMETRIES = st.sampled_from([Geometry.WGS84, Geometry.SPHERE])
SEPARATIONS = st.sampled_from(
    [
        Separation(),
        Separation(vertical_tolerance_m=0.0),  # strict: aircraft exactly hpz apart in conflict
        Separation(rpz_m=500.0, hpz_m=30.0, lookahead_s=60.0),  # drone-like minima
        Separation(lookahead_s=900.0),
    ]
)


def fast(geometry: Geometry = Geometry.WGS84) -> ConflictDetector:
    return SweptGridDetector(geometry, brute_force_below=0)  # always through the grid


@settings(max_examples=80, deadline=None)
@given(batches(), GEOMETRIES, SEPARATIONS)
def test_fast_equals_all_pairs(batch: TrackBatch, geometry: Geometry, separation: Separation) -> None:
    expected = AllPairsDetector(geometry).detect(batch, separation)
    got = fast(geometry).detect(batch, separation)
    assert got.pairs() == expected.pairs()
    assert got.identical(expected)


@settings(max_examples=40, deadline=None)
@given(batches(), st.floats(0.0, 400.0))
def test_fast_equals_all_pairs_at_a_later_epoch(batch: TrackBatch, ahead_s: float) -> None:
    epoch = batch.epoch_s + ahead_s
    assert fast().detect(batch, epoch_s=epoch).identical(AllPairsDetector().detect(batch, epoch_s=epoch))


@settings(max_examples=40, deadline=None)
@given(batches(), st.randoms(use_true_random=False))
def test_result_does_not_depend_on_input_order(batch: TrackBatch, rnd) -> None:  # type: ignore[no-untyped-def]
    perm = list(range(len(batch)))
    rnd.shuffle(perm)
    shuffled = batch.take(np.array(perm))
    for detector in (fast(), AllPairsDetector()):
        assert detector.detect(shuffled).identical(detector.detect(batch))


@settings(max_examples=30, deadline=None)
@given(batches(min_n=2, max_n=60))
def test_symmetric_conflicts_are_reported_once_with_ordered_ids(batch: TrackBatch) -> None:
    result = fast().detect(batch)
    assert all(a < b for a, b in result.pairs())
    assert len(result.pairs()) == len(result)


def test_fast_equals_all_pairs_on_2000_aircraft() -> None:
    batch = read_tracks(FIXTURES / "synthetic_N2000_s0_r1000km_layers.csv")
    assert SweptGridDetector().detect(batch).identical(AllPairsDetector().detect(batch))


def test_fast_equals_all_pairs_on_dense_real_routes() -> None:
    batch = read_tracks(FIXTURES / "real_collapsed_switzerland.csv")  # real routes, 30x real density
    result = SweptGridDetector().detect(batch)
    assert len(result) > 50
    assert result.identical(AllPairsDetector().detect(batch))


def test_traffic_over_the_whole_globe_uses_three_coordinates_and_stays_exact() -> None:
    rng = np.random.default_rng(7)
    centres_lat = rng.uniform(-85, 85, 30)
    centres_lon = rng.uniform(-180, 180, 30)
    k = rng.integers(0, 30, 1500)
    lat, lon = offset(
        centres_lat[k], centres_lon[k], rng.normal(0, 40_000, 1500), rng.normal(0, 40_000, 1500)
    )
    batch = TrackBatch.from_columns(
        [f"G{i}" for i in range(1500)],
        lat_deg=lat,
        lon_deg=lon,
        alt_m=rng.integers(30, 33, 1500) * 304.8,
        gs_mps=rng.uniform(100, 250, 1500),
        trk_deg=rng.uniform(0, 360, 1500),
        vs_mps=np.zeros(1500),
    )
    result = SweptGridDetector().detect(batch)
    assert len(result) > 100
    assert result.identical(AllPairsDetector().detect(batch))


def test_a_look_ahead_too_long_for_the_pruning_bound_falls_back_to_all_pairs() -> None:
    batch = read_tracks(FIXTURES / "real_peak_switzerland.csv")
    hours = Separation(lookahead_s=4 * 3600.0)  # jets flying 3000 km: straight lines are a fiction
    result = fast().detect(batch, hours)
    assert len(result) > len(fast().detect(batch))
    assert result.identical(AllPairsDetector().detect(batch, hours))


def test_the_fast_detector_refuses_the_flat_approximation() -> None:
    with pytest.raises(InvalidTracks):
        SweptGridDetector(Geometry.FLAT)


def test_minima_overrides_use_the_larger_value_of_the_pair() -> None:
    # a drone (rpz 50 m) 1 km beside an airliner (rpz 5 NM): in conflict through the airliner's zone
    batch = TrackBatch.from_columns(
        ["drone", "jet"],
        lat_deg=[0.0, 0.0],
        lon_deg=[0.0, 0.009],
        alt_m=[100.0, 100.0],
        gs_mps=[0.0, 0.0],
        trk_deg=[0.0, 0.0],
        vs_mps=[0.0, 0.0],
        rpz_m=[50.0, 9260.0],
        hpz_m=[15.0, 304.8],
    )
    assert SweptGridDetector(brute_force_below=0).detect(batch).pairs() == {("drone", "jet")}
    two_drones = TrackBatch.from_columns(
        ["d1", "d2"],
        lat_deg=[0.0, 0.0],
        lon_deg=[0.0, 0.009],
        alt_m=[100.0, 100.0],
        gs_mps=[0.0, 0.0],
        trk_deg=[0.0, 0.0],
        vs_mps=[0.0, 0.0],
        rpz_m=[50.0, 50.0],
    )
    assert len(SweptGridDetector(brute_force_below=0).detect(two_drones, Separation())) == 0


@settings(max_examples=200, deadline=None)
@given(st.floats(-89.9, 89.9), st.floats(-180, 180), st.floats(0, 2 * math.pi), st.floats(1.0, 400_000.0))
def test_chord_leaves_the_pair_plane_by_less_than_the_pruning_bound(
    lat: float, lon: float, bearing: float, dist: float
) -> None:
    la, lo = offset(
        np.array([lat]),
        np.array([lon]),
        np.array([dist * math.cos(bearing)]),
        np.array([dist * math.sin(bearing)]),
    )
    b = TrackBatch.from_columns(
        ["a", "b"],
        lat_deg=[lat, la[0]],
        lon_deg=[lon, lo[0]],
        alt_m=[0, 0],
        gs_mps=[0, 0],
        trk_deg=[0, 0],
        vs_mps=[0, 0],
    )
    k = prepare(b, Separation())
    n = np.array([k.ux.sum(), k.uy.sum(), k.uz.sum()])
    n /= np.linalg.norm(n)
    d = np.array([k.px[1] - k.px[0], k.py[1] - k.py[0], k.pz[1] - k.pz[0]])
    chord = float(np.linalg.norm(d))
    theta = 1.01 * chord / min_curvature_radius_m(Geometry.WGS84)
    assert abs(float(d @ n)) <= 0.01 * chord * theta + 1e-6
    assert WGS84_E2 < 0.01  # the bound's factor covers the ellipsoid's eccentricity


@settings(max_examples=120, deadline=None)
@given(encounters())
def test_designed_encounters_are_found_by_both_detectors(encounter: tuple[str, TrackBatch]) -> None:
    kind, batch = encounter
    expected = AllPairsDetector().detect(batch)
    assert ("A", "B") in expected.pairs(), kind
    got = fast().detect(batch)
    assert got.identical(expected)
    shuffled = batch.take(np.arange(len(batch))[::-1])
    assert fast().detect(shuffled).identical(expected)
