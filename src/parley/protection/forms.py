"""The three forms of a protection notice on the line, and the one reader of them.

A line ``notice`` request (``docs/line.md``) that concerns a protected site or movement is in one of
three forms (``docs/protection.md``, ADR 0010):

- **exact** — the geometry in ``volume`` (a site) or ``route`` (a movement) and the ``protected``
  member of :mod:`parley.protection.notice`, with an optional ``protected.id`` (the protection's
  id; absent, the notice's thread id). What ``exact`` recipients receive.
- **check-only** — no ``volume``, no ``route``; ``protected`` is::

      {"kind": "site" | "movement", "id": ID, "category": C,
       "check_only": {"start": T, "end": T, "cells": [[lng, lat], ...]}}

  ``category`` for a site only; ``start``/``end`` the window during which it is protected (a
  movement's schedule widened by its time margin); ``cells`` the coarse area
  (:mod:`parley.protection.coarse`): distinct south-west corners, sorted, at most 4,000. What
  ``check_only`` recipients receive: existence, category, window, coarse area.
- **cancel** — ``cancels``: the protection's id, and neither geometry nor ``protected``.

``amends`` (the protection's id, equal to ``protected.id``) marks an exact or check-only notice as
the new version of an item notified before. Ids are lowercase UUIDs. Every defect is an
:class:`~parley.line.errors.InvalidEntry` naming the member (:func:`check_notice_body`, which the
line's body check calls for every notice with one of these members).

>>> from parley.protection.notice import notice_members
>>> body = {"type": "notice", "what": "cancelled", "cancels": "5f0c1b9e-8a6f-4d2b-9c1e-0a1b2c3d4e5f"}
>>> read_notice(body, thread="0b7e3f4a-1c2d-4e5f-8a9b-0c1d2e3f4a5b").form
'cancel'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from parley.domain.errors import InvalidInput
from parley.line.errors import InvalidEntry
from parley.line.shapes import members
from parley.line.times import format_time, parse_time
from parley.protection.coarse import MAX_CELLS, cell_of_corner, item_cells
from parley.protection.model import Category, ProtectedKind, ProtectedMovement, ProtectedSite
from parley.protection.notice import notice_members, protected_from_notice

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
#: The members of a notice body that make it a protection notice.
MEMBERS = frozenset({"protected", "amends", "cancels"})

Form = Literal["exact", "check_only", "cancel"]


@dataclass(frozen=True, slots=True)
class ProtectionNotice:
    """One protection notice, read: its form, the protection's id, whether it amends an earlier
    one; the item (exact), or what a check-only recipient learns (kind, category, window, cells)."""

    form: Form
    id: str
    amends: bool
    item: ProtectedSite | ProtectedMovement | None = None
    kind: ProtectedKind | None = None
    category: Category | None = None
    start: datetime | None = None
    end: datetime | None = None
    cells: tuple[tuple[float, float], ...] = ()


def _uuid(value: object, where: str) -> str:
    if not isinstance(value, str) or not UUID.fullmatch(value):
        raise InvalidEntry(f"{where}: expected a lowercase UUID (the protection's id)")
    return value


def _check_only(body: Mapping[str, Any], protected: dict[str, Any]) -> ProtectionNotice:
    for member in ("volume", "route"):
        if member in body:
            raise InvalidEntry(f"body.{member}: a check-only notice carries no geometry")
    kind = protected.get("kind")
    if kind == ProtectedKind.SITE.value:
        members(protected, "body.protected", {"kind", "id", "category", "check_only"})
        try:
            category: Category | None = Category(protected["category"])
        except ValueError:
            raise InvalidEntry(f"body.protected.category: expected one of {', '.join(Category)}") from None
    elif kind == ProtectedKind.MOVEMENT.value:
        members(protected, "body.protected", {"kind", "id", "check_only"})
        category = None
    else:
        raise InvalidEntry("body.protected.kind: expected site or movement")
    pid = _uuid(protected["id"], "body.protected.id")
    area = members(protected["check_only"], "body.protected.check_only", {"start", "end", "cells"})
    start = parse_time(area["start"], "body.protected.check_only.start")
    end = parse_time(area["end"], "body.protected.check_only.end")
    if not start < end:
        raise InvalidEntry("body.protected.check_only.end: must be after start")
    cells = area["cells"]
    if not isinstance(cells, list) or not 1 <= len(cells) <= MAX_CELLS:
        raise InvalidEntry(f"body.protected.check_only.cells: expected a list of 1 to {MAX_CELLS} cells")
    previous = None
    for i, corner in enumerate(cells):
        cell = cell_of_corner(corner)
        if cell is None:
            raise InvalidEntry(
                f"body.protected.check_only.cells[{i}]: expected the [lng, lat] south-west corner of a "
                "0.25-degree cell"
            )
        if previous is not None and not previous < cell:
            raise InvalidEntry("body.protected.check_only.cells: cells must be distinct and sorted")
        previous = cell
    return ProtectionNotice(
        "check_only",
        pid,
        amends=False,
        kind=ProtectedKind(kind),
        category=category,
        start=start,
        end=end,
        cells=tuple((float(c[0]), float(c[1])) for c in cells),
    )


def read_notice(body: Mapping[str, Any], *, thread: str) -> ProtectionNotice:
    """The protection notice ``body`` is (see the module); ``thread``: the notice's thread id (the
    id of an exact item notified without one). :class:`InvalidEntry` naming the member otherwise."""
    if "cancels" in body:
        for member in ("protected", "amends", "volume", "route"):
            if member in body:
                raise InvalidEntry(
                    f"body.{member}: a cancellation carries only the protection's id (cancels)"
                )
        return ProtectionNotice("cancel", _uuid(body["cancels"], "body.cancels"), amends=False)
    if "protected" not in body:
        raise InvalidEntry("body.protected: missing (amends needs the new version of the item)")
    protected = body["protected"]
    if type(protected) is not dict:
        raise InvalidEntry("body.protected: expected an object")
    if "check_only" in protected:
        notice = _check_only(body, protected)
    else:
        pid = _uuid(protected["id"], "body.protected.id") if "id" in protected else thread
        try:
            item = protected_from_notice(body, id=pid)
        except InvalidEntry:
            raise
        except InvalidInput as error:
            raise InvalidEntry(error.message) from None
        notice = ProtectionNotice(
            "exact",
            pid,
            amends=False,
            item=item,
            kind=item.kind,
            category=item.category if isinstance(item, ProtectedSite) else None,
            start=window(item)[0],
            end=window(item)[1],
            cells=(),
        )
    if "amends" in body:
        if _uuid(body["amends"], "body.amends") != notice.id or "id" not in protected:
            raise InvalidEntry("body.amends: must equal body.protected.id (the item amended)")
        notice = ProtectionNotice(
            notice.form, notice.id, True, notice.item, notice.kind, notice.category,
            notice.start, notice.end, notice.cells,
        )  # fmt: skip
    return notice


def check_notice_body(body: Mapping[str, Any]) -> int:
    """Check a notice body carrying ``protected``, ``amends`` or ``cancels`` (the line's body
    check calls it); returns the number of positions its cells count for (the geometry members are
    counted by the line itself)."""
    notice = read_notice(body, thread="00000000-0000-0000-0000-000000000000")
    return len(notice.cells)


def window(item: ProtectedSite | ProtectedMovement) -> tuple[datetime, datetime]:
    """When ``item`` is protected: a site's window, a movement's schedule widened by its margin."""
    if isinstance(item, ProtectedMovement):
        margin = timedelta(seconds=item.time_margin_s)
        return item.start - margin, item.end + margin
    return item.start, item.end


def exact_members(item: ProtectedSite | ProtectedMovement, *, amends: bool = False) -> dict[str, Any]:
    """The members of an exact notice of ``item`` (its id written in ``protected.id``)."""
    out = notice_members(item)
    out["protected"] = {**out["protected"], "id": item.id}
    if amends:
        out["amends"] = item.id
    return out


def check_only_members(item: ProtectedSite | ProtectedMovement, *, amends: bool = False) -> dict[str, Any]:
    """The members of the check-only notice of ``item``: kind, id, category, window, cells."""
    start, end = window(item)
    protected: dict[str, Any] = {"kind": item.kind.value, "id": item.id}
    if isinstance(item, ProtectedSite):
        protected["category"] = item.category.value
    try:
        cells = item_cells(item)
    except ValueError as error:
        raise InvalidInput(f"protected: {error}; notify it as several items") from None
    protected["check_only"] = {"start": format_time(start), "end": format_time(end), "cells": cells}
    out: dict[str, Any] = {"protected": protected}
    if amends:
        out["amends"] = item.id
    return out
