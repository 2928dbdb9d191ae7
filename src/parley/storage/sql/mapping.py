"""Conversion between SQL rows and domain entities: the only module where both meet.

Times are stored as integer microseconds since the Unix epoch, UTC, so they round-trip exactly
(to the microsecond, as :class:`datetime.datetime` holds them) on every dialect and compare as
integers; they are read back as timezone-aware UTC datetimes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from parley.domain.entities import (
    ConstraintReference,
    DssReport,
    EntityId,
    Manager,
    OperationalIntentReference,
    OperationalIntentState,
    Ovn,
    Subscription,
    UssAvailability,
    UssAvailabilityState,
)
from parley.domain.extent import Extent4D

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

Row = Mapping[Any, Any]
"""A row as the database returns it (``Row._mapping``) or as it is written (a dict)."""


def to_us(moment: datetime) -> int:
    """Microseconds since the Unix epoch of a timezone-aware datetime.

    >>> to_us(datetime(1970, 1, 1, 0, 0, 1, 5, tzinfo=UTC))
    1000005
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: the DSS stores timezone-aware times only")
    return (moment - _EPOCH) // _MICROSECOND


def from_us(us: int) -> datetime:
    """Inverse of :func:`to_us`: a timezone-aware UTC datetime.

    >>> from_us(1000005).isoformat()
    '1970-01-01T00:00:01.000005+00:00'
    """
    return _EPOCH + timedelta(microseconds=us)


def _opt_to_us(moment: datetime | None) -> int | None:
    return None if moment is None else to_us(moment)


def _opt_from_us(us: int | None) -> datetime | None:
    return None if us is None else from_us(us)


def _opt_float(value: float | None) -> float | None:
    return None if value is None else float(value)


def extent_columns(extent: Extent4D) -> dict[str, Any]:
    """The columns of an extent: its bounds, and its cells as a JSON array (the entity's own copy,
    read back with the row; the ``*_cells`` table holds them again as the spatial index)."""
    return {
        "cells": cells_json(extent.cells),
        "altitude_lower_m": _opt_float(extent.altitude_lower_m),
        "altitude_upper_m": _opt_float(extent.altitude_upper_m),
        "time_start_us": _opt_to_us(extent.time_start),
        "time_end_us": _opt_to_us(extent.time_end),
    }


def cells_json(cells: Iterable[int]) -> str:
    """Cells as stored in an entity row: a sorted JSON array of signed 64-bit ids.

    >>> cells_json({5, -3})
    '[-3,5]'
    """
    return json.dumps(sorted(int(c) for c in cells), separators=(",", ":"))


def extent_from_row(row: Row) -> Extent4D:
    """An extent from a row's bound and cells columns."""
    return Extent4D(
        cells=frozenset(json.loads(row["cells"])),
        altitude_lower_m=_opt_float(row["altitude_lower_m"]),
        altitude_upper_m=_opt_float(row["altitude_upper_m"]),
        time_start=_opt_from_us(row["time_start_us"]),
        time_end=_opt_from_us(row["time_end_us"]),
    )


def cell_rows(entity_id: EntityId, cells: Iterable[int]) -> list[dict[str, Any]]:
    """Rows of a ``*_cells`` table for one entity (sorted, for a deterministic insert order)."""
    return [{"entity_id": entity_id, "cell_id": cell} for cell in sorted(cells)]


# -- operational intents ------------------------------------------------------------------------
def operational_intent_row(oir: OperationalIntentReference) -> dict[str, Any]:
    return {
        "id": oir.id,
        "manager": oir.manager,
        "version": oir.version,
        "state": oir.state.value,
        "ovn": oir.ovn,
        "uss_base_url": oir.uss_base_url,
        "subscription_id": oir.subscription_id,
        **extent_columns(oir.extent),
    }


def operational_intent_from_row(row: Row) -> OperationalIntentReference:
    subscription_id = row["subscription_id"]
    return OperationalIntentReference(
        id=EntityId(row["id"]),
        manager=Manager(row["manager"]),
        version=int(row["version"]),
        state=OperationalIntentState(row["state"]),
        ovn=Ovn(row["ovn"]),
        extent=extent_from_row(row),
        uss_base_url=row["uss_base_url"],
        subscription_id=None if subscription_id is None else EntityId(subscription_id),
    )


# -- constraints --------------------------------------------------------------------------------
def constraint_row(constraint: ConstraintReference) -> dict[str, Any]:
    return {
        "id": constraint.id,
        "manager": constraint.manager,
        "version": constraint.version,
        "ovn": constraint.ovn,
        "uss_base_url": constraint.uss_base_url,
        **extent_columns(constraint.extent),
    }


def constraint_from_row(row: Row) -> ConstraintReference:
    return ConstraintReference(
        id=EntityId(row["id"]),
        manager=Manager(row["manager"]),
        version=int(row["version"]),
        ovn=Ovn(row["ovn"]),
        extent=extent_from_row(row),
        uss_base_url=row["uss_base_url"],
    )


# -- subscriptions ------------------------------------------------------------------------------
def subscription_row(subscription: Subscription) -> dict[str, Any]:
    return {
        "id": subscription.id,
        "manager": subscription.manager,
        "version": subscription.version,
        "notification_index": subscription.notification_index,
        "uss_base_url": subscription.uss_base_url,
        "notify_for_operational_intents": subscription.notify_for_operational_intents,
        "notify_for_constraints": subscription.notify_for_constraints,
        "implicit": subscription.implicit,
        **extent_columns(subscription.extent),
    }


def subscription_from_row(row: Row) -> Subscription:
    return Subscription(
        id=EntityId(row["id"]),
        manager=Manager(row["manager"]),
        version=row["version"],
        notification_index=int(row["notification_index"]),
        extent=extent_from_row(row),
        uss_base_url=row["uss_base_url"],
        notify_for_operational_intents=bool(row["notify_for_operational_intents"]),
        notify_for_constraints=bool(row["notify_for_constraints"]),
        implicit=bool(row["implicit"]),
    )


# -- availability and reports -------------------------------------------------------------------
def availability_row(availability: UssAvailability) -> dict[str, Any]:
    return {
        "uss": availability.uss,
        "availability": availability.availability.value,
        "version": availability.version,
    }


def availability_from_row(row: Row) -> UssAvailability:
    return UssAvailability(
        uss=Manager(row["uss"]),
        availability=UssAvailabilityState(row["availability"]),
        version=row["version"],
    )


def report_row(report: DssReport) -> dict[str, Any]:
    """A report's row; the payload is stored as JSON text (keys sorted)."""
    return {
        "report_id": report.report_id,
        "reporter": report.reporter,
        "received_at_us": to_us(report.received_at),
        "payload": json.dumps(report.payload, sort_keys=True, separators=(",", ":")),
    }


def report_from_row(row: Row) -> DssReport:
    payload = json.loads(row["payload"])
    if not isinstance(payload, dict):
        raise ValueError(f"report {row['report_id']}: payload is not a JSON object")
    return DssReport(
        report_id=EntityId(row["report_id"]),
        reporter=Manager(row["reporter"]),
        received_at=from_us(int(row["received_at_us"])),
        payload=payload,
    )
