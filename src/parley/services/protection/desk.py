"""A party node's protection desk: the protected items it knows, the notices it sends, and the
check of every plan, reservation and drafted request against them (``docs/protection.md``).

**What the node knows** is read from the line entries it holds: the protection notices it sent and
those addressed to it (:mod:`parley.protection.forms`). Per notifier and protection id the latest
notice of each form counts (an amendment replaces it), a cancellation ends the item; a notice
withdrawn or declined still protects (only the notifier's cancellation ends a protection). Items
held **exact** are checked on the node (:func:`parley.protection.check`); items held **check-only**
whose window and coarse cells meet the plan are checked by the shared service.

**Vetting** a plan: every conflict is a warning, refused (409, the conflicts listed) unless the
planner gives a reason; then a ``waiver`` entry (its reason, the operation, the conflicts) is
signed on the party's chain before the plan goes on. When the shared service cannot be reached
for a check-only item, the plan is refused (503) unless the planner chose to go on unchecked,
which is signed the same way. Nothing is skipped silently.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from parley.clients.line import LINE_SCOPE
from parley.clients.utm import CallFailed
from parley.domain.errors import Conflict, InvalidInput, NotFound, ParleyError, PermissionDenied
from parley.domain.limits import OI_MAX_PLAN_HORIZON
from parley.line.canonical import digest
from parley.line.entry import Entry, Kind
from parley.line.errors import LineError
from parley.line.times import format_time, parse_time
from parley.protection.check import ProtectionConflict, check
from parley.protection.coarse import CELL_DEG, box_cells, cell_of_corner
from parley.protection.exact import Footprints
from parley.protection.forms import ProtectionNotice, check_only_members, exact_members, read_notice, window
from parley.protection.index import ProtectionIndex
from parley.protection.model import ProtectedMovement, ProtectedSite
from parley.protection.notice import protected_from_notice
from parley.protection.volumes import volume_features
from parley.services.line import node as line_svc
from parley.storage.sql.protection import notice_texts
from parley.storage.sql.uow import SqlStore
from parley.strategic.model import Operation
from parley.strategic.prepared import prepare

Json = dict[str, Any]
Protected = ProtectedSite | ProtectedMovement
IfUnchecked = Literal["refuse", "proceed"]


class ProtectionConflicts(Conflict):
    """A plan meets protected items and no reason was given to go on (HTTP 409)."""

    def __init__(self, message: str, conflicts: list[Json]) -> None:
        super().__init__(message)
        self.conflicts = conflicts


class CheckUnavailable(ParleyError):
    """A check-only item could not be checked (the shared service unreachable) and the planner did not
    choose to go on unchecked (HTTP 503)."""

    def __init__(self, message: str, unchecked: list[str]) -> None:
        super().__init__(message)
        self.unchecked = unchecked


@dataclass(frozen=True, slots=True)
class Held:
    """One protected item as this node holds it: the latest notice (per form) and its thread."""

    notifier: str
    id: str
    notice: ProtectionNotice
    thread: str
    to: tuple[str, ...]
    at: str


@dataclass
class Book:
    """What the node knows (see the module): per (notifier, id), the exact and check-only notices."""

    exact: dict[tuple[str, str], Held] = field(default_factory=dict)
    check_only: dict[tuple[str, str], Held] = field(default_factory=dict)
    cancelled: dict[tuple[str, str], Held] = field(default_factory=dict)
    #: Every notice of each item, oldest first (the threads whose acknowledgements show).
    history: dict[tuple[str, str], list[Held]] = field(default_factory=dict)

    def exact_items(self) -> list[Protected]:
        return [h.notice.item for h in self.exact.values() if h.notice.item is not None]

    def check_only_items(self) -> list[Held]:
        return [h for k, h in self.check_only.items() if k not in self.exact]


@dataclass
class ProtectionDesk:
    """One party's protection desk (see the module)."""

    line: line_svc.LineNode
    store: SqlStore
    _parsed: dict[str, tuple[Entry, ProtectionNotice] | None] = field(default_factory=dict)
    _index: tuple[tuple[str, ...], ProtectionIndex] | None = None

    @property
    def party(self) -> str:
        return self.line.party

    # -- what the node knows ----------------------------------------------------------------------

    def book(self) -> Book:
        book = Book()
        for entry_hash, text in notice_texts(self.store, self.party):
            if entry_hash not in self._parsed:
                entry = Entry.from_json(json.loads(text))
                try:
                    parsed = read_notice(entry.body, thread=str(entry.thread))
                except (LineError, InvalidInput):
                    self._parsed[entry_hash] = None  # a body whose text merely looks like one
                    continue
                self._parsed[entry_hash] = (entry, parsed)
            known = self._parsed[entry_hash]
            if known is None:
                continue
            entry, notice = known
            if entry.party != self.party and self.party not in entry.to:
                continue
            key = (entry.party, notice.id)
            held = Held(entry.party, notice.id, notice, str(entry.thread), entry.to, entry.at)
            book.history.setdefault(key, []).append(held)
            if key in book.cancelled:
                continue
            if notice.form == "cancel":
                book.cancelled[key] = held
                book.exact.pop(key, None)
                book.check_only.pop(key, None)
            else:
                shelf = book.exact if notice.form == "exact" else book.check_only
                current = shelf.get(key)
                if current is None or (current.at, current.thread) <= (held.at, held.thread):
                    shelf[key] = held
        return book

    def exact_items(self) -> list[Protected]:
        """The protected sites and movements this node holds exactly (not cancelled)."""
        return self.book().exact_items()

    def _index_of(self, items: list[Protected]) -> ProtectionIndex:
        key = tuple(f"{p.id}:{id(p)}" for p in items)
        if self._index is None or self._index[0] != key:
            self._index = key, ProtectionIndex.build(items)
        return self._index[1]

    # -- checking ---------------------------------------------------------------------------------

    async def check(self, operation: Operation) -> tuple[list[Json], list[str], str | None]:
        """The conflicts of ``operation`` with every item the node knows (exact ones here, check-only
        ones at the shared service); the check-only items that could not be checked, and why."""
        book = self.book()
        items = book.exact_items()
        found: list[Json] = []
        if items:
            found += [_exact_json(c) for c in check(operation, items, index=self._index_of(items))]
        remote = _touching(operation, book.check_only_items())
        if not remote:
            return found, [], None
        try:
            _, answer = await self.line.directory.utm.call(
                "POST",
                f"{self.line.directory.base_url}/line/v1/protected/check",
                [LINE_SCOPE],
                body={"ids": [h.id for h in remote], "volumes": volume_features(operation)},
                ok=(200,),
            )
        except CallFailed as error:
            if error.status is not None and 400 <= error.status < 500 and error.status != 429:
                raise InvalidInput(f"the shared service refused the check: {error.message}") from None
            return found, [h.id for h in remote], str(error)
        refs = operation.refs()
        for c in answer["conflicts"]:
            held = next(h for h in remote if h.id == c["protected"])
            found.append(
                {
                    "protected": c["protected"],
                    "notifier": held.notifier,
                    "disclosure": "check_only",
                    "kind": c["kind"],
                    "category": c["category"],
                    "name": None,
                    "volume": _ref_json(refs[c["volume"]]) if c["volume"] < len(refs) else None,
                    "start": c["start"],
                    "end": c["end"],
                    "least_distance_m": None,
                    "keep_away_m": c["keep_away_m"],
                }
            )
        return found, [], None

    async def vet(
        self,
        operation: Operation,
        *,
        ref: Json,
        reason: str | None,
        if_unchecked: IfUnchecked = "refuse",
    ) -> Json:
        """Check ``operation`` before it is committed (see the module). Returns what was found and
        the waiver signed (``None`` when nothing needed one); raises :class:`ProtectionConflicts`
        or :class:`CheckUnavailable`."""
        conflicts, unchecked, why = await self.check(operation)
        if unchecked and if_unchecked != "proceed":
            raise CheckUnavailable(
                f"not checked against {len(unchecked)} protected item(s) notified check-only: the shared "
                f"service could not be reached ({why}); try again, or go on unchecked "
                "(if_unchecked=proceed), which is signed into the log",
                unchecked,
            )
        if conflicts and not (reason and reason.strip()):
            raise ProtectionConflicts(
                f"conflicts with {len({c['protected'] for c in conflicts})} protected site(s) or "
                "movement(s): "
                + "; ".join(explain(c) for c in conflicts[:10])
                + "; to go on, give a reason (protection_reason), which is signed into the log",
                conflicts,
            )
        waiver = None
        if conflicts or unchecked:
            text = reason.strip() if reason and reason.strip() else f"shared service unreachable: {why}"
            seen: set[tuple[str, str, str]] = set()
            listed: list[Json] = []
            for c in conflicts:
                k = (c["protected"], c["start"], c["end"])
                if k not in seen and len(listed) < 100:
                    seen.add(k)
                    listed.append({"protected": c["protected"], "start": c["start"], "end": c["end"]})
            entry = await line_svc._append_own(
                self.line,
                kind=Kind.WAIVER,
                body={"ref": ref, "reason": text[:4000], "conflicts": listed, "unchecked": unchecked[:100]},
                thread=None,
                answers=None,
            )
            waiver = entry.to_json()
        return {"conflicts": conflicts, "unchecked": unchecked, "waiver": waiver}

    # -- notifying --------------------------------------------------------------------------------

    async def notify(
        self,
        notice: Json,
        *,
        exact: Sequence[str],
        check_only: Sequence[str],
        subject: str,
        reason: str,
        deadline: str,
        what: str,
        amends: str | None = None,
    ) -> Json:
        """Notify a protected item (the exact members ``notice``: ``volume`` or ``route``, and
        ``protected``) to ``exact`` recipients with its geometry and to ``check_only`` ones without
        (ADR 0010); an amendment when ``amends`` names an item this party notified. The shared service
        is told first (it keeps the geometry for the check-only recipients and logs every
        recipient): nothing is sent when it refuses or cannot be reached."""
        exact, check_only = sorted(set(exact)), sorted(set(check_only))
        if not exact and not check_only:
            raise InvalidInput("exact, check_only: name at least one recipient")
        if set(exact) & set(check_only):
            raise InvalidInput("check_only: a party is either exact or check_only, not both")
        if self.party in exact or self.party in check_only:
            raise InvalidInput("exact, check_only: the notifier is not a recipient of its own notice")
        if amends is not None:
            previous = self.book().history.get((self.party, amends))
            if not previous or previous[-1].notice.form == "cancel":
                raise NotFound(f"this party notified no protected item {amends} (or it was cancelled)")
        item_id = amends or str(uuid.uuid4())
        try:
            item = protected_from_notice(notice, id=item_id)
        except LineError as error:
            raise InvalidInput(error.message) from None
        now = self.line.now()
        start, end = window(item)
        if end <= now:
            raise InvalidInput("protected window: it has already ended")
        if start - now > OI_MAX_PLAN_HORIZON:
            raise InvalidInput(
                f"protected window: starts beyond the planning horizon of {OI_MAX_PLAN_HORIZON.days} days"
            )
        parse_time(deadline, "deadline")
        members_exact = exact_members(item, amends=amends is not None)
        members_check = check_only_members(item, amends=amends is not None)
        await self._register(
            item_id,
            {"exact": exact, "check_only": check_only, **({"notice": members_exact} if check_only else {})},
        )
        common = {"type": "notice", "subject": subject, "reason": reason, "deadline": deadline, "what": what}
        threads: Json = {}
        if exact:
            sent = await line_svc.send(self.line, to=exact, body={**common, **members_exact})
            threads["exact"] = sent.thread
        if check_only:
            sent = await line_svc.send(self.line, to=check_only, body={**common, **members_check})
            threads["check_only"] = sent.thread
        return {"id": item_id, "threads": threads, "exact": exact, "check_only": check_only}

    async def cancel(self, item_id: str, *, subject: str, reason: str, deadline: str, what: str) -> Json:
        """Cancel an item this party notified: a cancellation notice to everyone it was notified to;
        the shared service forgets its geometry."""
        history = self.book().history.get((self.party, item_id))
        if not history or history[-1].notice.form == "cancel":
            raise NotFound(f"this party notified no protected item {item_id} (or it was cancelled)")
        recipients = sorted({p for h in history for p in h.to})
        check_only = {p for h in history if h.notice.form == "check_only" for p in h.to}
        if check_only:
            try:
                await self.line.directory.utm.call(
                    "DELETE",
                    f"{self.line.directory.base_url}/line/v1/protected/{item_id}",
                    [LINE_SCOPE],
                    ok=(204, 404),
                )
            except CallFailed as error:
                raise _unavailable(error) from None
        body = {"type": "notice", "subject": subject, "reason": reason, "deadline": deadline, "what": what,
                "cancels": item_id}  # fmt: skip
        sent = await line_svc.send(self.line, to=recipients, body=body)
        return {"id": item_id, "thread": sent.thread, "to": recipients}

    async def _register(self, item_id: str, body: Json) -> None:
        try:
            await self.line.directory.utm.call(
                "PUT",
                f"{self.line.directory.base_url}/line/v1/protected/{item_id}",
                [LINE_SCOPE],
                body=body,
                ok=(200,),
            )
        except CallFailed as error:
            raise _unavailable(error) from None

    async def disclosures(self, item_id: str) -> Json:
        """The disclosure log of an item this party notified (from the shared service)."""
        try:
            _, answer = await self.line.directory.utm.call(
                "GET",
                f"{self.line.directory.base_url}/line/v1/protected/{item_id}/disclosures",
                [LINE_SCOPE],
                ok=(200,),
            )
        except CallFailed as error:
            raise _unavailable(error) from None
        return dict(answer)

    # -- listing ----------------------------------------------------------------------------------

    def listing(self) -> list[Json]:
        """Every item the node knows, with each notice's thread and where each recipient stands."""
        book = self.book()
        out = []
        for key, history in book.history.items():
            notifier, item_id = key
            state = "cancelled" if key in book.cancelled else "exact" if key in book.exact else "check_only"
            current = book.exact.get(key) or book.check_only.get(key) or history[-1]
            notices = []
            for held in history:
                try:
                    thread = line_svc.thread_of(self.line, held.thread)
                except NotFound:
                    continue
                notices.append(
                    {
                        "thread": held.thread,
                        "form": held.notice.form,
                        "amends": held.notice.amends,
                        "sent_at": held.at,
                        "deadline": thread.request.body.get("deadline"),
                        "legs": {r: leg.status.value for r, leg in thread.legs.items()},
                        "unacknowledged": sorted(
                            r for r, leg in thread.legs.items() if leg.status.value not in ("accepted",)
                        ),
                        "overdue": sorted(
                            r
                            for r, leg in thread.legs.items()
                            if leg.status.value not in ("accepted", "declined", "countered", "withdrawn")
                            and thread.deadline <= self.line.now()
                        ),
                    }
                )
            n = current.notice
            view: Json = {
                "id": item_id,
                "notifier": notifier,
                "held": state,
                "kind": None if n.kind is None else n.kind.value,
                "category": None if n.category is None else n.category.value,
                "start": None if n.start is None else format_time(n.start),
                "end": None if n.end is None else format_time(n.end),
                "notices": notices,
            }
            if n.item is not None:
                view["name"] = n.item.name
                view["keep_away_m"] = n.item.keep_away_m
                view["geojson"] = exact_members(n.item)
            elif n.cells:
                view["coarse_area"] = _cells_geojson(n.cells)
            out.append(view)
        return out


def _unavailable(error: CallFailed) -> ParleyError:
    if error.status is not None and 400 <= error.status < 500:
        message = error.body.get("message") if isinstance(error.body, dict) else error.message
        if error.status == 403:
            return PermissionDenied(f"the shared service refused: {message}")
        if error.status == 404:
            return NotFound(f"the shared service: {message}")
        return InvalidInput(f"the shared service refused: {message}")
    return CheckUnavailable(f"the shared service could not be reached: {error}", [])


def _touching(operation: Operation, held: list[Held]) -> list[Held]:
    """The check-only items whose window and coarse cells meet ``operation``'s volumes."""
    if not held:
        return []
    prep = prepare(operation)
    boxes = Footprints.of(prep).box
    t0, t1 = float(np.min(prep.t_start_us)), float(np.max(prep.t_end_us))
    try:
        cells = box_cells(boxes, limit=1_000_000)
    except ValueError:  # a plan over a continent: every item may be touched
        return held
    out = []
    for h in held:
        n = h.notice
        assert n.start is not None and n.end is not None
        if n.end.timestamp() * 1e6 <= t0 or n.start.timestamp() * 1e6 >= t1:
            continue
        if any(cell_of_corner(list(c)) in cells for c in n.cells):
            out.append(h)
    return out


def _ref_json(ref: Any) -> Json:
    return {"off_nominal": bool(ref.off_nominal), "index": int(ref.index)}


def _exact_json(c: ProtectionConflict) -> Json:
    return {
        "protected": c.protected_id,
        "notifier": None,
        "disclosure": "exact",
        "kind": c.kind.value,
        "category": None if c.category is None else c.category.value,
        "name": c.name,
        "volume": _ref_json(c.volume),
        "start": format_time(c.start),
        "end": format_time(c.end),
        "least_distance_m": round(c.least_distance_m, 1),
        "keep_away_m": c.keep_away_m,
    }


def explain(c: Json) -> str:
    """One conflict in words: the item, when, the distance to keep (and the least one, when known)."""
    what = f"{c['kind']} {c['protected']}" + (f" ({c['category']})" if c.get("category") else "")
    distance = (
        f", least distance {c['least_distance_m'] / 1000:.2f} km"
        if c.get("least_distance_m") is not None
        else ""
    )
    return f"{what} during {c['start']} to {c['end']}: keep {c['keep_away_m'] / 1000:g} km away{distance}"


def _cells_geojson(cells: Sequence[tuple[float, float]]) -> Json:
    polys = [
        [
            [
                [lng, lat],
                [lng + CELL_DEG, lat],
                [lng + CELL_DEG, lat + CELL_DEG],
                [lng, lat + CELL_DEG],
                [lng, lat],
            ]
        ]
        for lng, lat in cells
    ]
    return {"type": "Feature", "geometry": {"type": "MultiPolygon", "coordinates": polys}, "properties": {}}


def draft_ref(body: Json) -> Json:
    """The ``ref`` of a waiver for a line request being drafted: the digest of its body."""
    return {"kind": "request", "id": digest(body)}
