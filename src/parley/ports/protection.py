"""The shared service's store of check-only protected items and its disclosure log (ADR 0010)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from parley.domain.errors import ParleyError

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class RegisteredItem:
    """A protected item whose exact geometry the shared service holds: ``body`` the exact notice
    members (``volume`` or ``route``, and ``protected``), ``check_only`` the parties that may check
    against it, ``[start, end]`` its protected window."""

    id: str
    notifier: str
    body: Json
    check_only: tuple[str, ...]
    start: datetime
    end: datetime
    registered_at: datetime


@dataclass(frozen=True, slots=True)
class Disclosure:
    """One line of the disclosure log: ``kind`` is ``exact`` (the geometry was notified to
    ``party``), ``check_only`` (``party`` was told it exists), ``check`` (``party`` checked against it;
    ``detail`` says how many volumes and which conflicts) or ``refused`` (a check over the rate)."""

    protected_id: str
    party: str
    kind: str
    at: datetime
    detail: Json
    seq: int = 0


class TooManyChecks(ParleyError):
    """A party checked an item more often than the rate allows (HTTP 429)."""


class ProtectionRegistry(Protocol):
    def put_item(self, item: RegisteredItem, disclosures: Sequence[Disclosure]) -> None:
        """Create or replace ``item`` and log ``disclosures``, in one transaction."""
        ...

    def get_items(self, ids: Sequence[str]) -> list[RegisteredItem]: ...

    def delete_item(self, item_id: str, disclosures: Sequence[Disclosure]) -> None: ...

    def record_checks(self, checks: Sequence[Disclosure], *, since: datetime, limit: int) -> None:
        """Log ``checks`` unless one party already made ``limit`` checks of one of the items at or
        after ``since`` (then :class:`TooManyChecks`, and nothing logged)."""
        ...

    def log(self, disclosures: Sequence[Disclosure]) -> None: ...

    def disclosures(self, protected_id: str) -> list[Disclosure]: ...

    def delete_ended(self, before: datetime) -> int:
        """Forget items whose window ended before ``before`` (their log stays)."""
        ...
