"""Time as a port: services read the clock only through this."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Source of the current time (timezone-aware, UTC)."""

    def now(self) -> datetime: ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that stays where it is set (tests, simulation)."""

    def __init__(self, at: datetime) -> None:
        self._at = at

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = at


class OffsetClock:
    """Another clock shifted by ``offset_s`` seconds (TESTS AND DEMOS ONLY: a node whose clock is
    skewed from its peers', see ``PartySettings.clock_offset_s``)."""

    def __init__(self, base: Clock, offset_s: float) -> None:
        self._base = base
        self._offset = timedelta(seconds=offset_s)

    def now(self) -> datetime:
        return self._base.now() + self._offset
