"""Exact 4D strategic conflict detection, as ASTM F3548-21 requires of a USS before it plans.

Pure domain code (numpy, shapely, PROJ geodesics; no I/O, no clock). Build :class:`Operation`\\ s
from F3548 volumes (:mod:`parley.strategic.f3548` converts the standard's API objects), then call
:func:`check` with the operation being planned and the others' intents and constraints; the
:class:`CheckResult` lists every conflict, with where and when, and whether it blocks. The rules,
the 1 cm precision and the envelope are in ``docs/strategic.md``.
"""

from parley.strategic.conflicts import (
    PRECISION_M,
    CheckPolicy,
    CheckResult,
    ConstraintPolicy,
    OperationConflict,
    Reason,
    SamePriorityPolicy,
    VolumeOverlap,
    check,
    decide,
)
from parley.strategic.errors import InvalidOperation, UnsupportedAltitudeReference
from parley.strategic.model import IntentState, Operation, OperationKind, VolumeRef
from parley.strategic.prepared import PreparedOperation, prepare, prepare_all

__all__ = [
    "PRECISION_M",
    "CheckPolicy",
    "CheckResult",
    "ConstraintPolicy",
    "IntentState",
    "InvalidOperation",
    "Operation",
    "OperationConflict",
    "OperationKind",
    "PreparedOperation",
    "Reason",
    "SamePriorityPolicy",
    "UnsupportedAltitudeReference",
    "VolumeOverlap",
    "VolumeRef",
    "check",
    "decide",
    "prepare",
    "prepare_all",
]
