"""The context every party use case runs in: who the party is, its store, its DSS and peers."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from parley.clients.dss import DssClient
from parley.clients.peers import PeerClient
from parley.clients.utm import CallFailed
from parley.domain.errors import UpstreamFailure
from parley.domain.operations import UserNotification
from parley.ports.clock import Clock
from parley.ports.party import PartyRepository
from parley.strategic import CheckPolicy

log = logging.getLogger("parley.party")

Json = dict[str, Any]


@dataclass
class PartyNode:
    """One party's node: identity, policy and the ports its use cases use."""

    party: str
    name: str
    manager: str
    base_url: str
    repo: PartyRepository
    dss: DssClient
    peers: PeerClient
    clock: Clock
    policy: CheckPolicy = field(default_factory=CheckPolicy)
    roles: frozenset[str] = frozenset({"strategic_coordination", "constraint_processing"})
    operators: frozenset[str] = frozenset()
    planning_attempts: int = 5
    nonconforming_recovery_s: float = 60.0
    cache_peer_details: bool = True
    _locks: defaultdict[str, asyncio.Lock] = field(default_factory=lambda: defaultdict(asyncio.Lock))

    def lock(self, op_id: str) -> asyncio.Lock:
        """Serialises this process's changes to one operation."""
        return self._locks[op_id]

    def has_role(self, role: str) -> bool:
        return role in self.roles

    def notify_user(
        self, kind: str, message: str, *, operation_id: str | None = None, body: Json | None = None
    ) -> UserNotification:
        """Record something the party's operators must see."""
        log.info("user notification", extra={"party": self.party, "kind": kind, "operation": operation_id})
        return self.repo.add_notification(
            UserNotification(
                party=self.party,
                at=self.now(),
                kind=kind,
                message=message,
                operation_id=operation_id,
                body=body or {},
            )
        )

    def now(self) -> datetime:
        return self.clock.now()

    def is_own_base_url(self, url: str) -> bool:
        return url.rstrip("/") == self.base_url.rstrip("/")


def upstream(error: CallFailed, what: str) -> UpstreamFailure:
    """A failed outbound call as the error the node answers with (502)."""
    return UpstreamFailure(f"{what}: {error}", status=error.status)
