"""What a party node's services need from storage: its operations, what it knows of others', its
aircraft's telemetry and the notifications for its operators. Every method is one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from parley.domain.operations import OwnOperation, PeerEntity, TelemetrySample, UserNotification


class PartyRepository(Protocol):
    """Storage of one or more parties' node state (every call names the party)."""

    def get_operation(self, party: str, op_id: str) -> OwnOperation | None: ...

    def get_operation_by_flight_plan(self, party: str, flight_plan_id: str) -> OwnOperation | None: ...

    def list_operations(self, party: str, *, include_ended: bool = False) -> list[OwnOperation]: ...

    def save_operation(self, op: OwnOperation, *, expected_revision: int | None) -> OwnOperation:
        """Insert (``expected_revision`` None: the id must be new) or replace the operation whose
        stored revision is ``expected_revision``; returns it with the next revision. Raises
        :class:`parley.domain.errors.VersionMismatch` when someone else changed it first."""
        ...

    def get_peer(self, party: str, entity_id: str) -> PeerEntity | None: ...

    def list_peers(self, party: str) -> list[PeerEntity]: ...

    def save_peer(self, entity: PeerEntity) -> None: ...

    def delete_peer(self, party: str, entity_id: str) -> None: ...

    def add_telemetry(self, party: str, samples: Sequence[TelemetrySample]) -> None: ...

    def latest_telemetry(self, party: str, op_id: str) -> TelemetrySample | None: ...

    def add_surveillance(self, party: str, source: str, tracks: Sequence[TelemetrySample]) -> None:
        """Positions from one of the party's own surveillance feeds (``operation_id`` holds the
        feed's own track id)."""
        ...

    def surveillance(self, party: str, start: datetime, end: datetime) -> list[TelemetrySample]:
        """The party's surveillance positions with ``start <= t <= end``, in time order
        (``operation_id`` = ``source/track id``)."""
        ...

    def add_notification(self, notification: UserNotification) -> UserNotification: ...

    def list_notifications(
        self, party: str, *, after: datetime | None = None, before: datetime | None = None, limit: int = 1000
    ) -> list[UserNotification]: ...
