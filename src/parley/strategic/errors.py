"""Errors of the strategic conflict engine.

Both are :class:`parley.domain.errors.InvalidInput`, so the one HTTP error mapping answers 400 with
the message, which says which operation and volume and what is wrong.
"""

from __future__ import annotations

from parley.domain.errors import InvalidInput


class InvalidOperation(InvalidInput):
    """An operation or one of its volumes cannot be checked (malformed, or outside the engine's
    envelope: a footprint too large, a crossing polygon, a non-finite coordinate)."""


class UnsupportedAltitudeReference(InvalidOperation):
    """An altitude given in a reference or unit other than F3548's ``W84`` metres.

    Parley converts nothing: comparing a ``W84`` altitude with an ``AMSL`` or ``SFC`` one needs a
    geoid or terrain model, and a wrong guess would hide or invent conflicts.
    """
