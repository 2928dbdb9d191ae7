"""The shared service's part in need-to-know disclosure (ADR 0010), on the DSS host's ``/line/v1``.

- **Register** (the notifier only): the exact members of a protected item's notice, the parties it
  was notified to ``exact`` and those that may only check against it (``check_only``). The geometry
  is kept only when some party is ``check_only``; every recipient is logged.
- **Check** (a ``check_only`` party only): the volumes of what it is about to plan, against the
  items it names; the answer per conflict: the item's id, kind and category, the time of the
  conflict and the distance to keep — never coordinates, never the least distance. At most
  :data:`CHECKS_PER_MINUTE` checks a minute per party and item (429 beyond, logged as refused).
- **Cancel** (the notifier only): the geometry is forgotten; the log stays.
- **Disclosures** (the notifier only): who learned what, and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from parley.domain.errors import InvalidInput, NotFound, PermissionDenied
from parley.line.bodies import party_id
from parley.line.times import format_time
from parley.ports.clock import Clock
from parley.ports.protection import Disclosure, ProtectionRegistry, RegisteredItem, TooManyChecks
from parley.protection.check import check as check_items
from parley.protection.forms import UUID, window
from parley.protection.notice import protected_from_notice
from parley.protection.volumes import operation_of

Json = dict[str, Any]

#: Checks answered per party and item per minute (ADR 0010).
CHECKS_PER_MINUTE = 60
#: Most items named in one check, volumes in one check, parties in one registration.
MAX_IDS, MAX_VOLUMES, MAX_PARTIES = 100, 1000, 32


@dataclass
class SharedProtection:
    registry: ProtectionRegistry
    clock: Clock
    checks_per_minute: int = CHECKS_PER_MINUTE


def _item_id(value: str) -> str:
    if not UUID.fullmatch(value):
        raise InvalidInput(f"id: {value!r} is not a lowercase UUID (a protection's id)")
    return value


def _parties(value: object, where: str, caller: str) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_PARTIES:
        raise InvalidInput(f"{where}: a list of at most {MAX_PARTIES} party ids is expected")
    parties = [party_id(p, f"{where}[{i}]") for i, p in enumerate(value)]
    if caller in parties or len(set(parties)) != len(parties):
        raise InvalidInput(f"{where}: distinct parties other than the notifier are expected")
    return parties


def _owner(shared: SharedProtection, item_id: str) -> str | None:
    """The party that registered ``item_id`` (from its log), or ``None``."""
    return next((d.party for d in shared.registry.disclosures(item_id) if d.kind == "registered"), None)


def register(shared: SharedProtection, caller: str, item_id: str, body: Json) -> Json:
    """Register or replace the caller's item ``item_id`` (see the module); the body is
    ``{"exact": [parties], "check_only": [parties], "notice": {volume|route, protected}}``, the
    notice required when ``check_only`` is not empty."""
    _item_id(item_id)
    if not isinstance(body, dict) or set(body) - {"exact", "check_only", "notice"}:
        raise InvalidInput("body: expected exact, check_only and (with check_only recipients) notice")
    exact = _parties(body.get("exact", []), "exact", caller)
    check_only = _parties(body.get("check_only", []), "check_only", caller)
    if set(exact) & set(check_only):
        raise InvalidInput("check_only: a party is either exact or check_only, not both")
    owner = _owner(shared, item_id)
    if owner is not None and owner != caller:
        raise PermissionDenied(f"protected item {item_id} was registered by {owner!r}, not {caller!r}")
    now = shared.clock.now()
    logged = [Disclosure(item_id, caller, "registered", now, {"exact": exact, "check_only": check_only})]
    logged += [Disclosure(item_id, p, "exact", now, {}) for p in exact]
    logged += [Disclosure(item_id, p, "check_only", now, {}) for p in check_only]
    notice = body.get("notice")
    if not check_only:
        if notice is not None:
            raise InvalidInput("notice: the geometry is kept only for check_only recipients; none is named")
        shared.registry.delete_item(item_id, logged)  # a version without check-only recipients
        return {"id": item_id, "kept": False}
    if not isinstance(notice, dict) or set(notice) - {"volume", "route", "protected"}:
        raise InvalidInput("notice: the exact notice members (volume or route, and protected) are expected")
    item = protected_from_notice(notice, id=item_id)
    start, end = window(item)
    if end <= now:
        raise InvalidInput("notice: the item's window has already ended")
    shared.registry.put_item(
        RegisteredItem(item_id, caller, notice, tuple(check_only), start, end, now), logged
    )
    return {"id": item_id, "kept": True, "start": format_time(start), "end": format_time(end)}


def cancel(shared: SharedProtection, caller: str, item_id: str) -> None:
    """Forget the caller's item's geometry (the log stays, with the cancellation)."""
    _item_id(item_id)
    owner = _owner(shared, item_id)
    if owner is None:
        raise NotFound(f"no protected item {item_id} is registered")
    if owner != caller:
        raise PermissionDenied(f"protected item {item_id} was registered by {owner!r}, not {caller!r}")
    shared.registry.delete_item(item_id, [Disclosure(item_id, caller, "cancelled", shared.clock.now(), {})])


def check(shared: SharedProtection, caller: str, body: Json) -> Json:
    """Check the caller's volumes against the items it names (see the module):
    ``{"ids": [...], "volumes": [line volume Features]}``."""
    if not isinstance(body, dict) or set(body) != {"ids", "volumes"}:
        raise InvalidInput("body: expected ids (the protected items to check against) and volumes")
    ids, volumes = body["ids"], body["volumes"]
    if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_IDS or not all(isinstance(i, str) for i in ids):
        raise InvalidInput(f"ids: a list of 1 to {MAX_IDS} protection ids is expected")
    if not isinstance(volumes, list) or not 1 <= len(volumes) <= MAX_VOLUMES:
        raise InvalidInput(f"volumes: a list of 1 to {MAX_VOLUMES} volumes is expected")
    wanted = sorted({_item_id(i) for i in ids})
    found = {item.id: item for item in shared.registry.get_items(wanted)}
    for item_id in wanted:
        item = found.get(item_id)
        if item is None or (caller not in item.check_only and caller != item.notifier):
            raise PermissionDenied(
                f"protected item {item_id}: nothing was disclosed to {caller!r} to check against "
                "(not notified to it check_only, cancelled, or ended)"
            )
    operation = operation_of(volumes, id="check")
    items = [protected_from_notice(found[i].body, id=i) for i in wanted]
    conflicts = check_items(operation, items)
    now = shared.clock.now()
    answer = [
        {
            "protected": c.protected_id,
            "kind": c.kind.value,
            "category": None if c.category is None else c.category.value,
            "volume": c.volume.index,
            "start": format_time(c.start),
            "end": format_time(c.end),
            "keep_away_m": c.keep_away_m,
        }
        for c in conflicts
    ]
    logged = [
        Disclosure(
            item_id,
            caller,
            "check",
            now,
            {
                "volumes": len(volumes),
                "conflicts": [
                    {"start": a["start"], "end": a["end"]} for a in answer if a["protected"] == item_id
                ],
            },
        )
        for item_id in wanted
    ]
    try:
        shared.registry.record_checks(
            logged, since=now - timedelta(minutes=1), limit=shared.checks_per_minute
        )
    except TooManyChecks:
        shared.registry.log(
            [Disclosure(i, caller, "refused", now, {"volumes": len(volumes)}) for i in wanted]
        )
        raise
    return {"checked": wanted, "conflicts": answer}


def disclosures(shared: SharedProtection, caller: str, item_id: str) -> Json:
    """The disclosure log of the caller's item."""
    _item_id(item_id)
    log = shared.registry.disclosures(item_id)
    owner = next((d.party for d in log if d.kind == "registered"), None)
    if owner is None:
        raise NotFound(f"no protected item {item_id} is registered")
    if owner != caller:
        raise PermissionDenied(f"only the notifier of protected item {item_id} may read its disclosure log")
    return {
        "id": item_id,
        "disclosures": [
            {"seq": d.seq, "party": d.party, "kind": d.kind, "at": format_time(d.at), "detail": d.detail}
            for d in log
        ],
    }
