"""USS availability arbitration and DSS reports (ASTM F3548-21, /dss/v1/uss_availability, /dss/v1/reports).

An arbitrator marks a USS Normal or Down; a Down USS may not create or modify operational intents
in Accepted or Activated, nor delete one (the DSS answers 412). Every reference carries its
manager's availability (Unknown until set). Reports of communication problems are kept for the
DSS operator and answered with the id assigned to them.
"""

from __future__ import annotations

import uuid
from typing import Any

from parley.domain.entities import DssReport, EntityId, Manager, UssAvailability, UssAvailabilityState
from parley.domain.errors import InvalidInput, VersionMismatch
from parley.domain.ovn import mint_ovn
from parley.ports.repositories import DssRepository
from parley.services.context import DssContext
from parley.services.transact import transact

#: Version reported for a USS whose availability has never been set.
UNSET_VERSION = ""


def _validate_uss_id(uss: str) -> Manager:
    if not uss or len(uss) > 255:
        raise InvalidInput("uss_id must be 1 to 255 characters")
    return Manager(uss)


def get_uss_availability(ctx: DssContext, *, uss: str) -> UssAvailability:
    """The availability of ``uss`` (Unknown, version "" when never set)."""
    manager = _validate_uss_id(uss)

    def work(repo: DssRepository) -> UssAvailability:
        record = repo.get_uss_availability(manager)
        return record or UssAvailability(manager, UssAvailabilityState.UNKNOWN, UNSET_VERSION)

    return transact(ctx.uow_factory, work, retries=ctx.max_retries, readonly=True)


def set_uss_availability(
    ctx: DssContext, *, uss: str, old_version: str, availability: UssAvailabilityState
) -> UssAvailability:
    """Set the availability of ``uss`` if ``old_version`` is its current version."""
    manager = _validate_uss_id(uss)
    now = ctx.clock.now()
    salt = ctx.random_bytes(16)

    def work(repo: DssRepository) -> UssAvailability:
        record = repo.get_uss_availability(manager)
        current = UNSET_VERSION if record is None else record.version
        if old_version != current:
            raise VersionMismatch(
                f"old_version `{old_version}` is not the current version of {uss}'s availability"
            )
        updated = UssAvailability(manager, availability, mint_ovn(EntityId(manager), 0, now, salt))
        repo.set_uss_availability(updated)
        return updated

    return transact(ctx.uow_factory, work, retries=ctx.max_retries)


def make_report(ctx: DssContext, *, reporter: Manager, payload: dict[str, Any]) -> DssReport:
    """Keep a report of a communication problem; return it with its new ``report_id``."""
    report = DssReport(
        report_id=EntityId(str(uuid.UUID(bytes=ctx.random_bytes(16), version=4))),
        reporter=reporter,
        received_at=ctx.clock.now(),
        payload=payload,
    )

    def work(repo: DssRepository) -> DssReport:
        repo.add_report(report)
        return report

    return transact(ctx.uow_factory, work, retries=ctx.max_retries)


def remove_expired(ctx: DssContext) -> int:
    """Delete entities that ended; return how many went (run periodically by the server)."""
    now = ctx.clock.now()
    return transact(ctx.uow_factory, lambda repo: repo.delete_expired(now), retries=ctx.max_retries)
