"""The party nodes' store on SQL (SQLite or PostgreSQL): one short transaction per call, on the
same database and engines as the DSS (:class:`~parley.storage.sql.uow.SqlStore`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from parley.domain.errors import AlreadyExists, VersionMismatch
from parley.domain.operations import (
    OpKind,
    OpState,
    OwnOperation,
    PeerEntity,
    TelemetrySample,
    UserNotification,
)
from parley.storage.sql import retry
from parley.storage.sql.mapping import from_us, to_us
from parley.storage.sql.tables import (
    party_notifications,
    party_operations,
    party_peer_entities,
    party_surveillance,
    party_telemetry,
)
from parley.storage.sql.uow import SqlStore

T = TypeVar("T")


def _us(t: datetime | None) -> int | None:
    """Exact microseconds (float timestamps lose some past the 2100s)."""
    return None if t is None else to_us(t)


def _dt(us: int | None) -> datetime | None:
    return None if us is None else from_us(us)


def _dumps(doc: Any) -> str:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True)


def _operation(row: sa.Row[Any]) -> OwnOperation:
    return OwnOperation(
        party=row.party_id,
        id=row.id,
        kind=OpKind(row.kind),
        state=OpState(row.state),
        details=json.loads(row.details),
        reference=json.loads(row.reference) if row.reference is not None else None,
        subscription_id=row.subscription_id,
        meta=json.loads(row.meta),
        created_at=_dt(row.created_us),
        updated_at=_dt(row.updated_us),
        nonconforming_since=_dt(row.nonconforming_since_us),
        revision=row.revision,
    )


def _peer(row: sa.Row[Any]) -> PeerEntity:
    updated = _dt(row.updated_us)
    assert updated is not None
    return PeerEntity(
        party=row.party_id,
        id=row.id,
        kind=OpKind(row.kind),
        reference=json.loads(row.reference),
        details=json.loads(row.details) if row.details is not None else None,
        updated_at=updated,
    )


def _sample(op_id: str, doc: dict[str, Any]) -> TelemetrySample:
    return TelemetrySample(
        operation_id=op_id,
        t=datetime.fromisoformat(doc["t"]),
        lat=doc["lat"],
        lng=doc["lng"],
        alt_m=doc["alt_m"],
        speed_mps=doc.get("speed_mps"),
        track_deg=doc.get("track_deg"),
        vertical_speed_mps=doc.get("vertical_speed_mps"),
        accuracy_h_m=doc.get("accuracy_h_m"),
        accuracy_v_m=doc.get("accuracy_v_m"),
    )


class SqlPartyRepository:
    """:class:`parley.ports.party.PartyRepository` on a :class:`SqlStore`."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self._postgres = store.engine.dialect.name == "postgresql"

    def _run(self, work: Callable[[sa.Connection], T], *, readonly: bool = False) -> T:
        return retry.run(self.store, work, readonly=readonly)

    # -- operations --------------------------------------------------------------------------

    def get_operation(self, party: str, op_id: str) -> OwnOperation | None:
        t = party_operations
        row = self._run(
            lambda c: c.execute(sa.select(t).where(t.c.party_id == party, t.c.id == op_id)).first(),
            readonly=True,
        )
        return _operation(row) if row is not None else None

    def get_operation_by_flight_plan(self, party: str, flight_plan_id: str) -> OwnOperation | None:
        t = party_operations
        row = self._run(
            lambda c: c.execute(
                sa.select(t)
                .where(t.c.party_id == party, t.c.flight_plan_id == flight_plan_id)
                .order_by(t.c.created_us.desc())
            ).first(),
            readonly=True,
        )
        return _operation(row) if row is not None else None

    def list_operations(self, party: str, *, include_ended: bool = False) -> list[OwnOperation]:
        t = party_operations
        query = sa.select(t).where(t.c.party_id == party).order_by(t.c.created_us, t.c.id)
        if not include_ended:
            query = query.where(t.c.state != OpState.ENDED.value)
        rows = self._run(lambda c: c.execute(query).all(), readonly=True)
        return [_operation(r) for r in rows]

    def save_operation(self, op: OwnOperation, *, expected_revision: int | None) -> OwnOperation:
        t = party_operations
        if op.created_at is None or op.updated_at is None:  # else the insert fails as if it existed
            raise ValueError(f"operation {op.id!r}: created_at and updated_at are needed to store it")
        saved = op.with_(revision=(expected_revision or 0) + 1)
        values = {
            "kind": op.kind.value,
            "state": op.state.value,
            "details": _dumps(op.details),
            "reference": _dumps(op.reference) if op.reference is not None else None,
            "subscription_id": op.subscription_id,
            "meta": _dumps(op.meta),
            "flight_plan_id": op.meta.get("flight_plan_id"),
            "created_us": _us(op.created_at),
            "updated_us": _us(op.updated_at),
            "nonconforming_since_us": _us(op.nonconforming_since),
            "revision": saved.revision,
        }

        def work(c: sa.Connection) -> None:
            if expected_revision is None:
                exists = c.execute(sa.select(t.c.id).where(t.c.party_id == op.party, t.c.id == op.id)).first()
                if exists is not None:
                    raise AlreadyExists(f"operation {op.id!r} already exists")
                try:
                    c.execute(sa.insert(t).values(party_id=op.party, id=op.id, **values))
                except sa.exc.IntegrityError as error:  # inserted meanwhile by another process
                    raise AlreadyExists(f"operation {op.id!r} already exists") from error
                return
            result = c.execute(
                sa.update(t)
                .where(t.c.party_id == op.party, t.c.id == op.id, t.c.revision == expected_revision)
                .values(**values)
            )
            if result.rowcount != 1:
                raise VersionMismatch(
                    f"operation {op.id!r} was changed meanwhile (expected revision {expected_revision})"
                )

        self._run(work)
        return saved

    # -- what the node knows of others' ----------------------------------------------------------

    def get_peer(self, party: str, entity_id: str) -> PeerEntity | None:
        t = party_peer_entities
        row = self._run(
            lambda c: c.execute(sa.select(t).where(t.c.party_id == party, t.c.id == entity_id)).first(),
            readonly=True,
        )
        return _peer(row) if row is not None else None

    def list_peers(self, party: str) -> list[PeerEntity]:
        t = party_peer_entities
        rows = self._run(
            lambda c: c.execute(sa.select(t).where(t.c.party_id == party).order_by(t.c.id)).all(),
            readonly=True,
        )
        return [_peer(r) for r in rows]

    def save_peer(self, entity: PeerEntity) -> None:
        t = party_peer_entities
        values = {
            "kind": entity.kind.value,
            "reference": _dumps(entity.reference),
            "details": _dumps(entity.details) if entity.details is not None else None,
            "updated_us": _us(entity.updated_at),
        }

        insert = (postgresql.insert if self._postgres else sqlite.insert)(t).values(
            party_id=entity.party, id=entity.id, **values
        )
        upsert = insert.on_conflict_do_update(index_elements=[t.c.party_id, t.c.id], set_=values)
        self._run(lambda c: c.execute(upsert))

    def delete_peer(self, party: str, entity_id: str) -> None:
        t = party_peer_entities
        self._run(lambda c: c.execute(sa.delete(t).where(t.c.party_id == party, t.c.id == entity_id)))

    # -- telemetry -------------------------------------------------------------------------------

    def add_telemetry(self, party: str, samples: Sequence[TelemetrySample]) -> None:
        if not samples:
            return
        rows = [
            {
                "party_id": party,
                "operation_id": s.operation_id,
                "t_us": _us(s.t),
                "sample": _dumps(
                    {
                        "t": s.t.isoformat(),
                        "lat": s.lat,
                        "lng": s.lng,
                        "alt_m": s.alt_m,
                        "speed_mps": s.speed_mps,
                        "track_deg": s.track_deg,
                        "vertical_speed_mps": s.vertical_speed_mps,
                        "accuracy_h_m": s.accuracy_h_m,
                        "accuracy_v_m": s.accuracy_v_m,
                    }
                ),
            }
            for s in samples
        ]
        self._run(lambda c: c.execute(sa.insert(party_telemetry), rows))

    def add_surveillance(self, party: str, source: str, tracks: Sequence[TelemetrySample]) -> None:
        if not tracks:
            return
        rows = [
            {
                "party_id": party,
                "source": source,
                "track_id": s.operation_id,
                "t_us": _us(s.t),
                "lat": s.lat,
                "lng": s.lng,
                "alt_m": s.alt_m,
            }
            for s in tracks
        ]
        self._run(lambda c: c.execute(sa.insert(party_surveillance), rows))

    def surveillance(self, party: str, start: datetime, end: datetime) -> list[TelemetrySample]:
        t = party_surveillance
        rows = self._run(
            lambda c: c.execute(
                sa.select(t.c.source, t.c.track_id, t.c.t_us, t.c.lat, t.c.lng, t.c.alt_m)
                .where(t.c.party_id == party, t.c.t_us >= _us(start), t.c.t_us <= _us(end))
                .order_by(t.c.t_us, t.c.seq)
            ).all(),
            readonly=True,
        )
        return [
            TelemetrySample(f"{r.source}/{r.track_id}", from_us(r.t_us), r.lat, r.lng, r.alt_m) for r in rows
        ]

    def latest_telemetry(self, party: str, op_id: str) -> TelemetrySample | None:
        t = party_telemetry
        row = self._run(
            lambda c: c.execute(
                sa.select(t.c.sample)
                .where(t.c.party_id == party, t.c.operation_id == op_id)
                .order_by(t.c.t_us.desc(), t.c.seq.desc())
                .limit(1)
            ).first(),
            readonly=True,
        )
        return _sample(op_id, json.loads(row.sample)) if row is not None else None

    # -- notifications ---------------------------------------------------------------------------

    def add_notification(self, notification: UserNotification) -> UserNotification:
        t = party_notifications

        def work(c: sa.Connection) -> int:
            result = c.execute(
                sa.insert(t)
                .values(
                    party_id=notification.party,
                    at_us=_us(notification.at),
                    kind=notification.kind,
                    operation_id=notification.operation_id,
                    message=notification.message,
                    body=_dumps(notification.body),
                )
                .returning(t.c.seq)
            )
            return int(result.scalar_one())

        seq = self._run(work)
        return UserNotification(
            party=notification.party,
            at=notification.at,
            kind=notification.kind,
            message=notification.message,
            operation_id=notification.operation_id,
            body=notification.body,
            seq=seq,
        )

    def list_notifications(
        self, party: str, *, after: datetime | None = None, before: datetime | None = None, limit: int = 1000
    ) -> list[UserNotification]:
        t = party_notifications
        query = sa.select(t).where(t.c.party_id == party)
        if after is not None:
            query = query.where(t.c.at_us >= _us(after))
        if before is not None:
            query = query.where(t.c.at_us <= _us(before))
        query = query.order_by(t.c.at_us, t.c.seq).limit(limit)
        rows = self._run(lambda c: c.execute(query).all(), readonly=True)
        out = []
        for r in rows:
            at = _dt(r.at_us)
            assert at is not None
            out.append(
                UserNotification(
                    party=r.party_id,
                    at=at,
                    kind=r.kind,
                    message=r.message,
                    operation_id=r.operation_id,
                    body=json.loads(r.body),
                    seq=r.seq,
                )
            )
        return out
