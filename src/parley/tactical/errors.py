"""Errors of the tactical engine: bad input is refused with a message saying what and where."""

from __future__ import annotations


class InvalidTracks(ValueError):
    """A track batch, a parameter or a file that the engine cannot use, and why."""
