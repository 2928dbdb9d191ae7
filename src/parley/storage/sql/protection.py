"""The shared service's check-only protected items and disclosure log on SQL (``line_protected``,
``line_disclosures``, migration 0004): one short transaction per call."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa

from parley.ports.protection import Disclosure, RegisteredItem, TooManyChecks
from parley.storage.sql import retry
from parley.storage.sql.mapping import from_us, to_us
from parley.storage.sql.tables import line_disclosures, line_entries, line_protected
from parley.storage.sql.uow import SqlStore

T = TypeVar("T")


def _dumps(doc: Any) -> str:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True)


def _item(row: sa.Row[Any]) -> RegisteredItem:
    return RegisteredItem(
        id=row.id,
        notifier=row.notifier,
        body=json.loads(row.body),
        check_only=tuple(json.loads(row.check_only)),
        start=from_us(row.start_us),
        end=from_us(row.end_us),
        registered_at=from_us(row.registered_us),
    )


def _rows(disclosures: Sequence[Disclosure]) -> list[dict[str, Any]]:
    return [
        {
            "protected_id": d.protected_id,
            "party": d.party,
            "kind": d.kind,
            "at_us": to_us(d.at),
            "detail": _dumps(d.detail),
        }
        for d in disclosures
    ]


class SqlProtectionRegistry:
    """:class:`parley.ports.protection.ProtectionRegistry` on a :class:`SqlStore`."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def _run(self, work: Callable[[sa.Connection], T], *, readonly: bool = False) -> T:
        return retry.run(self.store, work, readonly=readonly)

    def put_item(self, item: RegisteredItem, disclosures: Sequence[Disclosure]) -> None:
        t = line_protected
        values = {
            "notifier": item.notifier,
            "body": _dumps(item.body),
            "check_only": _dumps(list(item.check_only)),
            "start_us": to_us(item.start),
            "end_us": to_us(item.end),
            "registered_us": to_us(item.registered_at),
        }

        def work(c: sa.Connection) -> None:
            if c.execute(sa.update(t).where(t.c.id == item.id).values(**values)).rowcount == 0:
                c.execute(sa.insert(t).values(id=item.id, **values))
            if disclosures:
                c.execute(sa.insert(line_disclosures), _rows(disclosures))

        self._run(work)

    def get_items(self, ids: Sequence[str]) -> list[RegisteredItem]:
        t = line_protected
        wanted = sorted(set(ids))
        rows = self._run(
            lambda c: c.execute(sa.select(t).where(t.c.id.in_(wanted)).order_by(t.c.id)).all(), readonly=True
        )
        return [_item(r) for r in rows]

    def delete_item(self, item_id: str, disclosures: Sequence[Disclosure]) -> None:
        def work(c: sa.Connection) -> None:
            c.execute(sa.delete(line_protected).where(line_protected.c.id == item_id))
            if disclosures:
                c.execute(sa.insert(line_disclosures), _rows(disclosures))

        self._run(work)

    def record_checks(self, checks: Sequence[Disclosure], *, since: datetime, limit: int) -> None:
        d = line_disclosures

        def work(c: sa.Connection) -> None:
            for check in checks:
                made = c.execute(
                    sa.select(sa.func.count())
                    .select_from(d)
                    .where(
                        d.c.protected_id == check.protected_id,
                        d.c.party == check.party,
                        d.c.kind == "check",
                        d.c.at_us >= to_us(since),
                    )
                ).scalar_one()
                if made >= limit:
                    raise TooManyChecks(
                        f"{check.party!r} checked protected item {check.protected_id} {made} times in the "
                        f"last minute; at most {limit} checks a minute are answered"
                    )
            if checks:
                c.execute(sa.insert(d), _rows(checks))

        self._run(work)

    def log(self, disclosures: Sequence[Disclosure]) -> None:
        if disclosures:
            self._run(lambda c: c.execute(sa.insert(line_disclosures), _rows(disclosures)))

    def disclosures(self, protected_id: str) -> list[Disclosure]:
        d = line_disclosures
        rows = self._run(
            lambda c: c.execute(sa.select(d).where(d.c.protected_id == protected_id).order_by(d.c.seq)).all(),
            readonly=True,
        )
        return [
            Disclosure(r.protected_id, r.party, r.kind, from_us(r.at_us), json.loads(r.detail), seq=r.seq)
            for r in rows
        ]

    def delete_ended(self, before: datetime) -> int:
        t = line_protected
        return int(self._run(lambda c: c.execute(sa.delete(t).where(t.c.end_us < to_us(before))).rowcount))


def notice_texts(store: SqlStore, holder: str) -> list[tuple[str, str]]:
    """``(hash, entry text)`` of the protection notices ``holder`` holds (requests whose canonical
    body has a ``protected`` or ``cancels`` member; the caller parses and checks them), in the
    order it stored them."""
    t = line_entries
    query = (
        sa.select(t.c.hash, t.c.entry)
        .where(
            t.c.holder == holder,
            t.c.kind == "request",
            sa.or_(t.c.entry.contains('"protected":{'), t.c.entry.contains('"cancels":"')),
        )
        .order_by(t.c.received_us)
    )
    rows = retry.run(store, lambda c: c.execute(query).all(), readonly=True)
    return [(r.hash, r.entry) for r in rows]
