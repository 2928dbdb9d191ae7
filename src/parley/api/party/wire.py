"""Wire models of what peers send to a party node (F3548 ``/uss/v1`` request bodies).

Liberal in what they accept (unknown fields ignored; an OVN may be absent from a reference sent
by another USS), strict in types; field names as ``uas_standards.astm.f3548.v21.api``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from parley.api.wire.f3548v21 import ErrorReport, Time, Volume4D
from parley.domain.entities import OperationalIntentState


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    def json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class SubscriptionState(_In):
    subscription_id: str
    notification_index: int = 0


class OperationalIntentReference(_In):
    id: str
    manager: str
    uss_availability: str | None = None
    version: int
    state: OperationalIntentState
    ovn: str | None = None
    time_start: Time
    time_end: Time
    uss_base_url: str
    subscription_id: str | None = None


class OperationalIntentDetails(_In):
    volumes: list[Volume4D] | None = None
    off_nominal_volumes: list[Volume4D] | None = None
    priority: int | None = None


class OperationalIntent(_In):
    reference: OperationalIntentReference
    details: OperationalIntentDetails


class PutOperationalIntentDetailsParameters(_In):
    operational_intent_id: str
    operational_intent: OperationalIntent | None = None
    subscriptions: list[SubscriptionState]


class ConstraintReference(_In):
    id: str
    manager: str
    uss_availability: str | None = None
    version: int
    ovn: str | None = None
    time_start: Time
    time_end: Time
    uss_base_url: str


class ConstraintDetails(_In):
    volumes: list[Volume4D]
    type: str | None = None
    geozone: dict[str, Any] | None = None


class Constraint(_In):
    reference: ConstraintReference
    details: ConstraintDetails


class PutConstraintDetailsParameters(_In):
    constraint_id: str
    constraint: Constraint | None = None
    subscriptions: list[SubscriptionState]


__all__ = [
    "Constraint",
    "ConstraintDetails",
    "ConstraintReference",
    "ErrorReport",
    "OperationalIntent",
    "OperationalIntentDetails",
    "OperationalIntentReference",
    "PutConstraintDetailsParameters",
    "PutOperationalIntentDetailsParameters",
    "SubscriptionState",
]
