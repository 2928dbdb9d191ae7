"""Real and reference data: BlueSky's conflict sets, reproduced; real ADS-B replayed incrementally.

Expected pairs (fixtures, see tests/fixtures/tactical/README.md) come from BlueSky 1.1.1's C++
``CSTATEBASED`` (``strict``: ``|dalt| < hpz``) and from the same rule with a 1 mm vertical tolerance
(``robust``). With BlueSky's own flat-earth geometry Parley finds exactly those pairs; with its default
WGS84 geometry the few differences are all decided by the geometry (the flat evaluation of the very same
pair agrees with BlueSky).
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pytest

from parley.tactical import AllPairsDetector, Geometry, IncrementalDetector, Separation, SweptGridDetector
from parley.tactical.io import format_utc, read_frames, read_tracks
from parley.tactical.replay import replay

FIXTURES = Path(__file__).parent.parent / "fixtures" / "tactical"
RULES = {"robust": Separation(), "strict": Separation(vertical_tolerance_m=0.0)}


def expected_pairs(name: str) -> set[tuple[str, ...]]:
    path = FIXTURES / name
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as fh:
        return {((r["t_utc"],) if "t_utc" in r else ()) + (r["id1"], r["id2"]) for r in csv.DictReader(fh)}


@pytest.mark.parametrize("rule", sorted(RULES))
@pytest.mark.parametrize("n", [1000, 2000])
def test_synthetic_traffic_matches_bluesky(n: int, rule: str) -> None:
    batch = read_tracks(FIXTURES / f"synthetic_N{n}_s0_r1000km_layers.csv")
    expected = expected_pairs(f"synthetic_N{n}_s0_r1000km_layers.pairs_{rule}.csv")
    flat = AllPairsDetector(Geometry.FLAT).detect(batch, RULES[rule]).pairs()
    assert flat == expected
    accurate = SweptGridDetector().detect(batch, RULES[rule]).pairs()
    differ = accurate ^ expected
    assert len(differ) <= 2
    # every difference is the geometry's: the flat evaluation decides like BlueSky
    assert differ <= (flat ^ accurate)


@pytest.mark.parametrize("rule", sorted(RULES))
@pytest.mark.parametrize("sample", ["quickstart", "switzerland"])
def test_real_snapshot_series_match_bluesky(sample: str, rule: str) -> None:
    frames = read_frames(FIXTURES / f"real_snapshots_{sample}_60s.csv.gz")
    expected = expected_pairs(f"real_snapshots_{sample}_60s.pairs_{rule}.csv.gz")
    flat_det, fast_det = AllPairsDetector(Geometry.FLAT), SweptGridDetector()
    flat: set[tuple[str, ...]] = set()
    accurate: set[tuple[str, ...]] = set()
    for t, frame in frames:
        stamp = format_utc(t)
        flat |= {(stamp, *p) for p in flat_det.detect(frame, RULES[rule], epoch_s=t).pairs()}
        accurate |= {(stamp, *p) for p in fast_det.detect(frame, RULES[rule], epoch_s=t).pairs()}
    assert flat == expected
    differ = accurate ^ expected
    assert len(differ) <= 0.02 * len(expected)
    assert differ <= (flat ^ accurate)


def test_replaying_real_reports_equals_full_recomputation_at_every_tick() -> None:
    frames = read_frames(FIXTURES / "quickstart_reports_10min.csv.gz")
    assert len(frames) > 500
    monitor = IncrementalDetector(slack_s=30.0)
    full = SweptGridDetector()
    ticks = conflicts = reevaluated = states = 0
    for tick in replay(frames, monitor, tick_s=2.0, max_age_s=30.0):
        assert tick.conflicts.identical(full.detect(monitor.tracks, epoch_s=tick.epoch_s))
        ticks += 1
        conflicts += len(tick.conflicts)
        reevaluated += tick.stats.evaluated_rows
        states += tick.stats.aircraft
    assert ticks >= 300
    assert conflicts > 0
    assert reevaluated < states  # some aircraft are quiet between ticks: their pairs come from the cache


def test_peak_snapshots() -> None:
    for name in ("real_peak_quickstart.csv", "real_peak_switzerland.csv"):
        batch = read_tracks(FIXTURES / name)
        assert (
            SweptGridDetector(brute_force_below=0).detect(batch).identical(AllPairsDetector().detect(batch))
        )
