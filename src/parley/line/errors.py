"""Errors of the line.

Each is also one of the domain's errors (:mod:`parley.domain.errors`), so the one HTTP mapping
answers them unchanged: malformed entries and broken links 400, replays, forks and refused
transitions 409. Catch :class:`LineError` for "anything the line refused"::

    LineError
    ├── InvalidEntry        400  malformed entry: the message names the field
    │   └── BadSignature    400  the signature is not the named key's over the entry
    ├── BrokenChain         400  an entry does not follow its author's previous entry
    ├── Replayed            409  an entry seen before (same hash), or a reused thread id
    ├── ForkDetected        409  two different entries at one (party, seq)
    └── TransitionRefused   409  the request's life cycle does not allow this step now
"""

from __future__ import annotations

from parley.domain.errors import Conflict, InvalidInput, ParleyError


class LineError(ParleyError):
    """Base class of the line's errors."""


class InvalidEntry(LineError, InvalidInput):
    """An entry (or a transcript) is malformed or beyond the limits; the message names the field."""


class BadSignature(InvalidEntry):
    """A signature does not verify with the key the entry names (or that key is not the author's)."""


class BrokenChain(LineError, InvalidInput):
    """An entry does not follow its author's previous entry (party, seq, prev)."""


class Replayed(LineError, Conflict):
    """An entry already held (same hash) offered again, or a thread id already used by a request."""


class ForkDetected(LineError, Conflict):
    """Two different signed entries at one position (party, seq) of a chain."""


class TransitionRefused(LineError, Conflict):
    """The request's life cycle forbids this step in its current state (nothing changes)."""
