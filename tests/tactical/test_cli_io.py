"""`parley tactical detect|replay` and the CSV adapter."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from parley.cli.main import app
from parley.tactical import InvalidTracks, SweptGridDetector, TrackBatch
from parley.tactical.conflicts import CONFLICT_COLUMNS
from parley.tactical.io import format_utc, parse_utc, read_frames, read_tracks, write_conflicts

FIXTURES = Path(__file__).parent.parent / "fixtures" / "tactical"
runner = CliRunner()


def test_detect_prints_csv_equal_to_the_api(tmp_path: Path) -> None:
    snapshot = FIXTURES / "real_peak_switzerland.csv"
    result = runner.invoke(app, ["tactical", "detect", str(snapshot), "--csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    expected = SweptGridDetector().detect(read_tracks(snapshot))
    assert [(r["id1"], r["id2"]) for r in rows] == [(c.id1, c.id2) for c in expected]
    assert float(rows[0]["tcpa_s"]) == pytest.approx(next(iter(expected)).tcpa_s, abs=1e-3)


def test_detect_writes_a_file_and_prints_a_table(tmp_path: Path) -> None:
    out = tmp_path / "c.csv"
    snapshot = str(FIXTURES / "synthetic_N1000_s0_r1000km_layers.csv")
    result = runner.invoke(app, ["tactical", "detect", snapshot, "-o", str(out), "--rpz-nm", "3"])
    assert result.exit_code == 0, result.output
    with open(out) as fh:
        assert next(csv.reader(fh)) == list(CONFLICT_COLUMNS)
    table = runner.invoke(app, ["tactical", "detect", snapshot, "--reference", "--limit", "3"])
    assert table.exit_code == 0 and "50 conflicts" in table.stdout


def test_replay_verifies_against_full_recomputation(tmp_path: Path) -> None:
    out = tmp_path / "replay.csv"
    series = str(FIXTURES / "real_snapshots_quickstart_60s.csv.gz")
    result = runner.invoke(app, ["tactical", "replay", series, "--verify", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "every tick equals a full recomputation" in result.output
    with open(out) as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 493 and rows[0]["t_utc"].startswith("2021-10-07T")


def test_replay_of_raw_reports_with_ticks() -> None:
    result = runner.invoke(
        app, ["tactical", "replay", str(FIXTURES / "quickstart_reports_10min.csv.gz"), "--tick-s", "5"]
    )
    assert result.exit_code == 0, result.output
    assert "ticks over 0.17 h" in result.output


def test_bad_input_is_refused_with_a_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("id,lat,lon,alt_m,gs_mps,trk_deg,vs_mps\nA,0,0,0,0,0,0\nA,0,1,0,0,0,0\n")
    result = runner.invoke(app, ["tactical", "detect", str(bad)])
    assert result.exit_code == 2 and "duplicate id 'A'" in result.output
    bad.write_text("id,lat,lon\nA,0,0\n")
    result = runner.invoke(app, ["tactical", "detect", str(bad)])
    assert result.exit_code == 2 and "missing column" in result.output


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"lat_deg": [91.0, 0.0]}, "lat_deg"),
        ({"gs_mps": [-1.0, 0.0]}, "gs_mps"),
        ({"alt_m": [np.nan, 0.0]}, "not a finite number"),
        ({"rpz_m": [0.0, 1.0]}, "rpz_m"),
        ({"vs_mps": [0.0]}, "expected 2 values"),
    ],
)
def test_track_batches_are_validated(change: dict[str, list[float]], message: str) -> None:
    cols = {k: [0.0, 0.0] for k in ("lat_deg", "lon_deg", "alt_m", "gs_mps", "trk_deg", "vs_mps")}
    with pytest.raises(InvalidTracks, match=message):
        TrackBatch.from_columns(["A", "B"], **{**cols, **change})


def test_frames_group_reports_by_time_last_report_wins() -> None:
    text = (
        "t_utc,id,lat,lon,alt_m,gs_mps,trk_deg,vs_mps\n"
        "2021-10-07T12:00:01Z,A,0,0,0,0,0,0\n"
        "2021-10-07T12:00:00Z,B,0,0,0,0,0,0\n"
        "2021-10-07T12:00:01Z,A,1,0,0,0,0,0\n"
    )
    frames = read_frames(io.StringIO(text))
    assert [format_utc(t) for t, _ in frames] == ["2021-10-07T12:00:00Z", "2021-10-07T12:00:01Z"]
    assert frames[1][1].ids.tolist() == ["A"] and frames[1][1].lat_deg.tolist() == [1.0]
    assert parse_utc("2021-10-07T12:00:01Z") == parse_utc("2021-10-07T12:00:01+00:00") == 1633608001.0


def test_conflicts_round_trip_with_infinite_times() -> None:
    batch = TrackBatch.from_columns(
        ["A", "B"],
        lat_deg=[0, 0],
        lon_deg=[0, 0.01],
        alt_m=[0, 0],
        gs_mps=[0, 0],
        trk_deg=[0, 0],
        vs_mps=[0, 0],
    )
    buf = io.StringIO()
    assert write_conflicts(buf, [SweptGridDetector().detect(batch)]) == 1
    row = next(iter(csv.DictReader(io.StringIO(buf.getvalue()))))
    assert (row["t_in_s"], row["t_out_s"]) == ("-inf", "inf")
