"""Protected sites and movements (hospitals, shelters, aid convoys) and the 4D check of operations
against them.

Pure domain code (numpy, shapely, PROJ geodesics; no I/O, no clock). :mod:`~parley.protection.model`
holds the values, :mod:`~parley.protection.notice` their form in a line ``notice`` body,
:func:`check` the conflicts of an operation's volumes with them, :class:`ProtectionIndex` an index
built once over thousands of items. The method and its accuracy are in ``docs/protection.md``.
"""

from parley.protection.check import ProtectionConflict, check
from parley.protection.index import ProtectionIndex
from parley.protection.model import (
    DEFAULT_TIME_MARGIN_S,
    PROTECTED_HEIGHT_M,
    Category,
    Protected,
    ProtectedKind,
    ProtectedMovement,
    ProtectedSite,
    Waypoint,
)
from parley.protection.notice import notice_members, protected_from_notice

__all__ = [
    "DEFAULT_TIME_MARGIN_S",
    "PROTECTED_HEIGHT_M",
    "Category",
    "Protected",
    "ProtectedKind",
    "ProtectedMovement",
    "ProtectedSite",
    "ProtectionConflict",
    "ProtectionIndex",
    "Waypoint",
    "check",
    "notice_members",
    "protected_from_notice",
]
