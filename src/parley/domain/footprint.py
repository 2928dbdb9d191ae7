"""From a client's 4D volumes to the DSS's indexed extent, with the standard's validation.

Each volume is validated (outline, altitudes, time window) against the limits the caller names,
covered by S2 cells, and the covered volumes are united into one :class:`Extent4D`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from parley.domain.cells import cover_outline
from parley.domain.errors import InvalidInput
from parley.domain.extent import Extent4D, union
from parley.domain.geo import Volume4D, validate_altitudes, validate_outline, validate_time_window


@dataclass(frozen=True, slots=True)
class FootprintRules:
    """What a kind of request demands of its volumes."""

    max_vertices: int
    max_area_km2: float
    require_outline: bool = True
    require_times: bool = True
    require_altitudes: bool = True
    #: Volumes may not end at or before "now" (F3548: "The end time may not be in the past").
    forbid_past_end: bool = True
    #: Latest admissible start, relative to now (planning horizon); None: unlimited.
    max_start_ahead: timedelta | None = None
    #: Longest admissible span from the earliest start to the latest end; None: unlimited.
    max_duration: timedelta | None = None
    #: A window of one instant (start == end) is admissible (search areas).
    allow_instant: bool = False


def volume_extent(volume: Volume4D, rules: FootprintRules, now: datetime, where: str = "volume") -> Extent4D:
    """Validate one volume and cover it."""
    v3 = volume.volume
    if v3.outline is None:
        if rules.require_outline:
            raise InvalidInput(f"{where}: exactly one of outline_circle or outline_polygon is required")
        cells: frozenset[int] = frozenset()
    else:
        validate_outline(v3.outline, max_vertices=rules.max_vertices, where=f"{where}.volume")
        cells = cover_outline(v3.outline, max_area_km2=rules.max_area_km2)
    if rules.require_altitudes and (v3.altitude_lower_m is None or v3.altitude_upper_m is None):
        raise InvalidInput(f"{where}: altitude_lower and altitude_upper are required")
    validate_altitudes(v3.altitude_lower_m, v3.altitude_upper_m, where=f"{where}.volume")
    if rules.require_times and (volume.time_start is None or volume.time_end is None):
        raise InvalidInput(f"{where}: time_start and time_end are required")
    validate_time_window(volume.time_start, volume.time_end, where=where, allow_instant=rules.allow_instant)
    if rules.forbid_past_end and volume.time_end is not None and volume.time_end <= now:
        raise InvalidInput(f"{where}: time_end ({volume.time_end.isoformat()}) is in the past")
    if (
        rules.max_start_ahead is not None
        and volume.time_start is not None
        and volume.time_start > now + rules.max_start_ahead
    ):
        raise InvalidInput(
            f"{where}: time_start is beyond the planning horizon of {rules.max_start_ahead.days} days"
        )
    return Extent4D(cells, v3.altitude_lower_m, v3.altitude_upper_m, volume.time_start, volume.time_end)


def extents_footprint(
    volumes: Sequence[Volume4D], rules: FootprintRules, now: datetime, *, max_volumes: int
) -> Extent4D:
    """Validate and unite a request's ``extents`` (at least one volume)."""
    if not volumes:
        raise InvalidInput("extents: at least one volume is required")
    if len(volumes) > max_volumes:
        raise InvalidInput(f"extents: at most {max_volumes} volumes are accepted, got {len(volumes)}")
    total = union(volume_extent(v, rules, now, f"extents[{i}]") for i, v in enumerate(volumes))
    if rules.max_duration is not None and total.time_start is not None and total.time_end is not None:
        span = total.time_end - total.time_start
        if span > rules.max_duration:
            raise InvalidInput(
                f"extents span {span.total_seconds() / 3600:.2f} h, more than the limit of "
                f"{rules.max_duration.total_seconds() / 3600:g} h"
            )
    return total
