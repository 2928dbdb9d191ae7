#!/usr/bin/env python3
"""Inputs for the tactical benchmark: synthetic traffic and real ADS-B reports.

Synthetic (``synthetic``): seedable uniform traffic in a square region, on flight levels 1000 ft apart
with a fraction climbing or descending, in the snapshot format ``id,lat,lon,alt_m,gs_mps,trk_deg,vs_mps``.
Same recipe as the project's reference generator, so that figures compare with BlueSky's published ones.

Real (``reports``): the ADS-B recordings bundled in the ``traffic`` wheel (xoolive/traffic, MIT licence;
data from the OpenSky Network): ``quickstart`` (Paris region, 2021-10-07 12:00-15:00 UTC, about one
report per second per aircraft) and ``switzerland`` (upper airspace, 2018-08-01, 10 s reports). The wheel
is fetched with ``pip download --no-deps traffic==2.13`` into a cache directory; ``traffic`` itself is not
imported. Output: one row per report, ``t_utc`` then the snapshot columns (SI units), airborne reports
only, implausible ones (altitude outside -1500..60000 ft, ground speed >= 750 kt) dropped.

    python bench/tactical_data.py synthetic --n 20000 --out t20k.csv
    python bench/tactical_data.py reports --sample quickstart --start 2021-10-07T13:00:00Z \\
        --minutes 60 --out quickstart_1h.csv.gz
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import math
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

R_EARTH_M = 6371000.0
FT_M = 0.3048
KT_MPS = 1852.0 / 3600.0
FPM_MPS = FT_M / 60.0
TRAFFIC_WHEEL = "traffic==2.13"
SNAPSHOT_HEADER = ("id", "lat", "lon", "alt_m", "gs_mps", "trk_deg", "vs_mps")


@dataclass
class Snapshot:
    ids: list[str]
    lat: np.ndarray
    lon: np.ndarray
    alt_m: np.ndarray
    gs_mps: np.ndarray
    trk_deg: np.ndarray
    vs_mps: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


def synthetic(
    n: int,
    seed: int = 0,
    region_km: float = 1000.0,
    density_per_km2: float | None = None,
    center_lat: float = 50.0,
    center_lon: float = 10.0,
    frac_vertical: float = 0.2,
) -> Snapshot:
    """Uniform traffic in a square of side ``region_km`` (or ``sqrt(n / density)``) around the centre:
    tracks uniform, ground speed 120-250 m/s, 80 % level on FL100..FL400 (1000 ft steps), 20 % climbing
    or descending at 5-15 m/s at any altitude in that range."""
    if density_per_km2:
        region_km = math.sqrt(n / density_per_km2)
    rng = np.random.default_rng(seed)
    half = region_km * 1000.0 / 2.0
    x = rng.uniform(-half, half, n)
    y = rng.uniform(-half, half, n)
    lat = center_lat + np.degrees(y / R_EARTH_M)
    lon = center_lon + np.degrees(x / (R_EARTH_M * np.cos(np.radians(lat))))
    lon = np.where(np.abs(lon) > 180.0, (lon + 180.0) % 360.0 - 180.0, lon)
    trk = rng.uniform(0.0, 360.0, n)
    gs = rng.uniform(120.0, 250.0, n)
    moving = rng.random(n) < frac_vertical
    alt_cont = rng.uniform(100 * 100 * FT_M, 400 * 100 * FT_M, n)
    levels = rng.integers(10, 41, n) * 1000.0 * FT_M
    alt = np.where(moving, alt_cont, levels)
    vs = np.where(moving, rng.uniform(5.0, 15.0, n) * np.where(rng.random(n) < 0.5, -1.0, 1.0), 0.0)
    return Snapshot([f"AC{i:06d}" for i in range(n)], lat, lon, alt, gs, trk, vs)


def write_snapshot(snap: Snapshot, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(SNAPSHOT_HEADER)
        for k in range(len(snap)):
            w.writerow(
                (
                    snap.ids[k],
                    f"{snap.lat[k]:.7f}",
                    f"{snap.lon[k]:.7f}",
                    f"{snap.alt_m[k]:.3f}",
                    f"{snap.gs_mps[k]:.4f}",
                    f"{snap.trk_deg[k]:.5f}",
                    f"{snap.vs_mps[k]:.4f}",
                )
            )
    return path


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "parley-bench"


def traffic_wheel() -> Path:
    """The ``traffic`` wheel, downloaded once into the cache."""
    target = cache_dir() / "wheels"
    hits = sorted(target.glob("traffic-2.13-*.whl"))
    if hits:
        return hits[0]
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", TRAFFIC_WHEEL, "-d", str(target)],
        check=True,
    )
    return sorted(target.glob("traffic-2.13-*.whl"))[0]


def _iso(t_s: float) -> str:
    return datetime.fromtimestamp(t_s, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def reports(sample: str, start_s: float | None = None, minutes: float | None = None) -> Iterator[tuple]:
    """``(t_utc, id, lat, lon, alt_m, gs_mps, trk_deg, vs_mps)`` of every clean airborne report of a
    bundled sample, time-ordered, optionally limited to ``[start, start + minutes)``."""
    with zipfile.ZipFile(traffic_wheel()) as zf:
        raw = zf.read(f"traffic/data/samples/collections/{sample}.json.gz")
    records = json.loads(gzip.decompress(raw))
    rows = []
    for r in records:
        if r.get("onground"):
            continue
        vals = [r.get(k) for k in ("latitude", "longitude", "altitude", "groundspeed", "track")]
        if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in vals):
            continue
        lat, lon, alt_ft, gs_kt, trk = (float(v) for v in vals)
        if not (-1500.0 < alt_ft < 60000.0 and gs_kt < 750.0):
            continue
        t_s = float(r["timestamp"]) / 1000.0
        if start_s is not None and t_s < start_s:
            continue
        if start_s is not None and minutes is not None and t_s >= start_s + 60.0 * minutes:
            continue
        vr = r.get("vertical_rate")
        vs = 0.0 if vr is None or (isinstance(vr, float) and math.isnan(vr)) else float(vr) * FPM_MPS
        rows.append((t_s, str(r["icao24"]), lat, lon, alt_ft * FT_M, gs_kt * KT_MPS, trk % 360.0, vs))
    rows.sort(key=lambda row: (row[0], row[1]))
    for t_s, icao, lat, lon, alt, gs, trk, vs in rows:
        yield (
            _iso(t_s),
            icao,
            f"{lat:.7f}",
            f"{lon:.7f}",
            f"{alt:.3f}",
            f"{gs:.4f}",
            f"{trk:.5f}",
            f"{vs:.4f}",
        )


def write_reports(rows: Iterator[tuple], path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(("t_utc", *SNAPSHOT_HEADER))
        for row in rows:
            w.writerow(row)
            count += 1
    return count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sy = sub.add_parser("synthetic")
    sy.add_argument("--n", type=int, required=True)
    sy.add_argument("--seed", type=int, default=0)
    sy.add_argument("--region-km", type=float, default=1000.0)
    sy.add_argument("--density", type=float, default=None, help="aircraft per km^2 (overrides --region-km)")
    sy.add_argument("--out", type=Path, required=True)
    rp = sub.add_parser("reports")
    rp.add_argument("--sample", choices=("quickstart", "switzerland"), required=True)
    rp.add_argument("--start", default=None, help="ISO 8601 UTC")
    rp.add_argument("--minutes", type=float, default=None)
    rp.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    if a.cmd == "synthetic":
        print(write_snapshot(synthetic(a.n, a.seed, a.region_km, a.density), a.out))
    else:
        start = datetime.fromisoformat(a.start).timestamp() if a.start else None
        n = write_reports(reports(a.sample, start, a.minutes), a.out)
        print(f"{a.out}: {n} reports")


if __name__ == "__main__":
    main()
