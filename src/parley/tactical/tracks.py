"""Track batches: the state of many aircraft as one structure of arrays.

A :class:`TrackBatch` holds, for N aircraft, the last reported state of each: identifier, report time
``t_s`` (seconds on any common time scale, e.g. POSIX), WGS84 position in degrees, altitude in metres,
ground speed in m/s, track over ground in degrees from true north (clockwise), vertical speed in m/s
(positive climbing). Optional per-aircraft minima (``rpz_m``, ``hpz_m``, ``lookahead_s``) override
the detector's defaults for that aircraft; a pair uses the larger value of its two aircraft.

Arrays are float64, contiguous and read-only; ids are unique strings. Construction validates
everything once, so the detectors need not.

>>> batch = TrackBatch.from_columns(["A", "B"], lat_deg=[50.0, 50.1], lon_deg=[10.0, 10.0],
...     alt_m=[10000.0, 10000.0], gs_mps=[230.0, 230.0], trk_deg=[0.0, 180.0], vs_mps=[0.0, 0.0])
>>> len(batch), batch.epoch_s
(2, 0.0)
>>> batch.take([1]).ids.tolist()
['B']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from parley.tactical.errors import InvalidTracks

FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.intp]
StrArray: TypeAlias = npt.NDArray[np.str_]
ArrayLike: TypeAlias = npt.ArrayLike


def _floats(name: str, values: ArrayLike, n: int) -> FloatArray:
    arr = np.array(values, dtype=np.float64, copy=True)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise InvalidTracks(f"{name}: expected {n} values, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise InvalidTracks(f"{name}: value at row {bad} is not a finite number")
    arr.flags.writeable = False
    return arr


def _check_range(name: str, arr: FloatArray, lo: float, hi: float) -> None:
    bad = np.flatnonzero((arr < lo) | (arr > hi))
    if bad.size:
        raise InvalidTracks(f"{name}: value {arr[bad[0]]!r} at row {int(bad[0])} outside [{lo}, {hi}]")


def _override(name: str, values: ArrayLike | None, n: int) -> FloatArray | None:
    if values is None:
        return None
    arr = _floats(name, values, n)
    _check_range(name, arr, float(np.nextafter(0.0, 1.0)), np.inf)
    return arr


@dataclass(frozen=True, slots=True, eq=False)
class TrackBatch:
    """The states of N aircraft (see the module docstring for units). Build with :meth:`from_columns`."""

    ids: StrArray
    t_s: FloatArray
    lat_deg: FloatArray
    lon_deg: FloatArray
    alt_m: FloatArray
    gs_mps: FloatArray
    trk_deg: FloatArray
    vs_mps: FloatArray
    rpz_m: FloatArray | None = None
    hpz_m: FloatArray | None = None
    lookahead_s: FloatArray | None = None

    @classmethod
    def from_columns(
        cls,
        ids: Sequence[str] | StrArray,
        *,
        lat_deg: ArrayLike,
        lon_deg: ArrayLike,
        alt_m: ArrayLike,
        gs_mps: ArrayLike,
        trk_deg: ArrayLike,
        vs_mps: ArrayLike,
        t_s: ArrayLike = 0.0,
        rpz_m: ArrayLike | None = None,
        hpz_m: ArrayLike | None = None,
        lookahead_s: ArrayLike | None = None,
    ) -> TrackBatch:
        """Validate and copy the columns. Scalars broadcast (e.g. one ``t_s`` for a snapshot).

        Raises :class:`InvalidTracks` on a length mismatch, a non-finite value, a duplicate or empty id,
        a latitude outside [-90, 90], a longitude outside [-180, 180] (after no wrapping: give
        normalised longitudes), a negative ground speed or a non-positive override.
        """
        id_arr = np.asarray(ids, dtype=np.str_)
        if id_arr.ndim != 1:
            raise InvalidTracks("ids: expected a one-dimensional sequence of strings")
        n = id_arr.shape[0]
        if n and np.any(id_arr == ""):
            raise InvalidTracks(f"ids: empty id at row {int(np.flatnonzero(id_arr == '')[0])}")
        if np.unique(id_arr).shape[0] != n:
            uniq, counts = np.unique(id_arr, return_counts=True)
            raise InvalidTracks(f"ids: duplicate id {str(uniq[counts > 1][0])!r}")
        id_arr.flags.writeable = False
        cols = {
            "lat_deg": _floats("lat_deg", lat_deg, n),
            "lon_deg": _floats("lon_deg", lon_deg, n),
            "alt_m": _floats("alt_m", alt_m, n),
            "gs_mps": _floats("gs_mps", gs_mps, n),
            "trk_deg": _floats("trk_deg", trk_deg, n),
            "vs_mps": _floats("vs_mps", vs_mps, n),
            "t_s": _floats("t_s", t_s, n),
        }
        _check_range("lat_deg", cols["lat_deg"], -90.0, 90.0)
        _check_range("lon_deg", cols["lon_deg"], -180.0, 180.0)
        _check_range("gs_mps", cols["gs_mps"], 0.0, np.inf)
        return cls(
            ids=id_arr,
            t_s=cols["t_s"],
            lat_deg=cols["lat_deg"],
            lon_deg=cols["lon_deg"],
            alt_m=cols["alt_m"],
            gs_mps=cols["gs_mps"],
            trk_deg=cols["trk_deg"],
            vs_mps=cols["vs_mps"],
            rpz_m=_override("rpz_m", rpz_m, n),
            hpz_m=_override("hpz_m", hpz_m, n),
            lookahead_s=_override("lookahead_s", lookahead_s, n),
        )

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @property
    def epoch_s(self) -> float:
        """The time the batch describes: its latest report (0.0 for an empty batch)."""
        return float(self.t_s.max()) if len(self) else 0.0

    def take(self, index: ArrayLike) -> TrackBatch:
        """The sub-batch of the given rows (indices or boolean mask), in that order."""
        idx = np.asarray(index)
        values: dict[str, Any] = {}
        for f in fields(self):
            arr = getattr(self, f.name)
            if arr is None:
                values[f.name] = None
                continue
            sub = np.ascontiguousarray(arr[idx])
            sub.flags.writeable = False
            values[f.name] = sub
        return TrackBatch(**values)


def concat_rows(
    batches: Sequence[TrackBatch],
    *,
    defaults: Mapping[str, float] | None = None,
    rows: IntArray | None = None,
) -> TrackBatch:
    """The rows of ``batches`` one after the other (then only ``rows`` of them, if given), validated
    again. A per-aircraft minimum that some batches have and others lack is filled from ``defaults``
    (``InvalidTracks`` without them)."""
    pick = slice(None) if rows is None else rows

    def column(name: str) -> FloatArray:
        values: FloatArray = np.concatenate([getattr(b, name) for b in batches])[pick]
        return values

    def override(name: str) -> FloatArray | None:
        parts = [getattr(b, name) for b in batches]
        if all(p is None for p in parts):
            return None
        if any(p is None for p in parts) and (defaults is None or name not in defaults):
            raise InvalidTracks(f"rows with and without {name} and no default for it")
        filled = [
            np.full(len(b), defaults[name]) if p is None and defaults else p
            for b, p in zip(batches, parts, strict=True)
        ]
        values: FloatArray = np.concatenate(filled)[pick]
        return values

    return TrackBatch.from_columns(
        np.concatenate([b.ids for b in batches])[pick],
        t_s=column("t_s"),
        lat_deg=column("lat_deg"),
        lon_deg=column("lon_deg"),
        alt_m=column("alt_m"),
        gs_mps=column("gs_mps"),
        trk_deg=column("trk_deg"),
        vs_mps=column("vs_mps"),
        rpz_m=override("rpz_m"),
        hpz_m=override("hpz_m"),
        lookahead_s=override("lookahead_s"),
    )


def last_rows(ids: StrArray) -> IntArray:
    """The row of the last occurrence of each id, in row order.

    >>> last_rows(np.array(["A", "B", "A"])).tolist()
    [1, 2]
    """
    _, first_of_reversed = np.unique(ids[::-1], return_index=True)
    rows: IntArray = np.sort(ids.shape[0] - 1 - first_of_reversed)
    return rows
