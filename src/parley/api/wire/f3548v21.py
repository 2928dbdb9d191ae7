"""ASTM F3548-21 wire models (JSON) and their conversion to and from the domain.

Field names, enum values and shapes mirror the standard's OpenAPI exactly, as typed in
``uas_standards.astm.f3548.v21.api``; ``tests/api/test_wire_matches_standard.py`` checks every model
here against that package, field by field. Requests ignore unknown fields (be liberal in what you
accept); responses carry exactly the standard's fields.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

from parley.domain.entities import NULL_SUBSCRIPTION_ID, OperationalIntentState, UssAvailabilityState
from parley.domain.entities import ConstraintReference as DomainConstraintReference
from parley.domain.entities import OperationalIntentReference as DomainOperationalIntentReference
from parley.domain.entities import SubscriberToNotify as DomainSubscriberToNotify
from parley.domain.errors import InvalidInput
from parley.domain.geo import Circle as DomainCircle
from parley.domain.geo import LatLng
from parley.domain.geo import Polygon as DomainPolygon
from parley.domain.geo import Volume3D as DomainVolume3D
from parley.domain.geo import Volume4D as DomainVolume4D


class _Request(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Response(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimeFormat(StrEnum):
    RFC3339 = "RFC3339"


class AltitudeReference(StrEnum):
    W84 = "W84"


class Units(StrEnum):
    M = "M"


# ---------------------------------------------------------------------------------------------
# Shared value objects (used in both directions)


class Time(BaseModel):
    """RFC 3339 time; the DSS writes UTC with a 'Z'."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    value: datetime
    format: TimeFormat = TimeFormat.RFC3339

    @field_serializer("value")
    def _rfc3339(self, value: datetime) -> str:
        return format_time(value)


class LatLngPoint(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    lng: float
    lat: float


class Radius(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    value: float
    units: Units = Units.M


class Altitude(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    value: float
    reference: AltitudeReference = AltitudeReference.W84
    units: Units = Units.M


class Circle(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    center: LatLngPoint | None = None
    radius: Radius | None = None


class Polygon(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    vertices: list[LatLngPoint]


class Volume3D(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    outline_circle: Circle | None = None
    outline_polygon: Polygon | None = None
    altitude_lower: Altitude | None = None
    altitude_upper: Altitude | None = None


class Volume4D(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    volume: Volume3D
    time_start: Time | None = None
    time_end: Time | None = None


def time_to_wire(t: datetime) -> Time:
    """A UTC time as the standard's ``Time``."""
    return Time(value=t.astimezone(UTC), format=TimeFormat.RFC3339)


def format_time(t: datetime) -> str:
    """RFC 3339 in UTC with 'Z' (microseconds when non-zero); naive times are taken as UTC."""
    aware = t if t.tzinfo is not None else t.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


def volume4d_to_domain(v: Volume4D, where: str = "volume") -> DomainVolume4D:
    """The domain volume; shape errors (both outlines, incomplete circle...) are InvalidInput."""
    v3 = v.volume
    if v3.outline_circle is not None and v3.outline_polygon is not None:
        raise InvalidInput(f"{where}: only one of outline_circle and outline_polygon may be given")
    outline: DomainCircle | DomainPolygon | None = None
    if v3.outline_circle is not None:
        c = v3.outline_circle
        if c.center is None or c.radius is None:
            raise InvalidInput(f"{where}.outline_circle needs both center and radius")
        outline = DomainCircle(LatLng(c.center.lat, c.center.lng), c.radius.value)
    elif v3.outline_polygon is not None:
        vertices = [LatLng(p.lat, p.lng) for p in v3.outline_polygon.vertices]
        if len(vertices) > 3 and vertices[0] == vertices[-1]:
            vertices.pop()  # a closed ring: the standard's polygons are implicitly closed
        outline = DomainPolygon(tuple(vertices))
    return DomainVolume4D(
        volume=DomainVolume3D(
            outline=outline,
            altitude_lower_m=v3.altitude_lower.value if v3.altitude_lower else None,
            altitude_upper_m=v3.altitude_upper.value if v3.altitude_upper else None,
        ),
        time_start=_aware(v.time_start, f"{where}.time_start"),
        time_end=_aware(v.time_end, f"{where}.time_end"),
    )


def _aware(t: Time | None, where: str) -> datetime | None:
    if t is None:
        return None
    if t.value.tzinfo is None:  # RFC 3339 requires an offset; as other DSSs, read none as UTC
        return t.value.replace(tzinfo=UTC)
    return t.value.astimezone(UTC)


# ---------------------------------------------------------------------------------------------
# Requests


class ImplicitSubscriptionParameters(_Request):
    uss_base_url: str
    notify_for_constraints: bool = False


class PutOperationalIntentReferenceParameters(_Request):
    extents: list[Volume4D]
    key: list[str] | None = None
    state: OperationalIntentState
    uss_base_url: str
    subscription_id: str | None = None
    new_subscription: ImplicitSubscriptionParameters | None = None
    requested_ovn_suffix: str | None = None


class QueryOperationalIntentReferenceParameters(_Request):
    area_of_interest: Volume4D | None = None


class PutConstraintReferenceParameters(_Request):
    extents: list[Volume4D]
    uss_base_url: str


class QueryConstraintReferenceParameters(_Request):
    area_of_interest: Volume4D | None = None


class PutSubscriptionParameters(_Request):
    extents: Volume4D
    uss_base_url: str
    notify_for_operational_intents: bool = False
    notify_for_constraints: bool = False


class QuerySubscriptionParameters(_Request):
    area_of_interest: Volume4D | None = None


class SetUssAvailabilityStatusParameters(_Request):
    old_version: str = ""
    availability: UssAvailabilityState

    @field_validator("availability", mode="before")
    @classmethod
    def _any_case(cls, value: object) -> object:
        """Accept any letter case ("normal"), answer in the standard's ("Normal")."""
        if isinstance(value, str):
            for state in UssAvailabilityState:
                if state.value.lower() == value.lower():
                    return state
        return value


class ExchangeRecordRecorderRole(StrEnum):
    CLIENT = "Client"
    SERVER = "Server"


class ExchangeRecord(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    url: str
    method: str
    headers: list[str] = Field(default_factory=list)
    recorder_role: ExchangeRecordRecorderRole
    request_time: Time
    request_body: str = ""
    response_time: Time | None = None
    response_body: str = ""
    response_code: int = 0
    problem: str | None = None


class ErrorReport(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    report_id: Annotated[str, Field(max_length=128)] | None = None
    exchange: ExchangeRecord


# ---------------------------------------------------------------------------------------------
# Responses


class ErrorResponse(_Response):
    message: str


class OperationalIntentReference(_Response):
    id: str
    manager: str
    uss_availability: UssAvailabilityState
    version: int
    state: OperationalIntentState
    ovn: str
    time_start: Time
    time_end: Time
    uss_base_url: str
    subscription_id: str


class ConstraintReference(_Response):
    id: str
    manager: str
    uss_availability: UssAvailabilityState
    version: int
    ovn: str
    time_start: Time
    time_end: Time
    uss_base_url: str


class SubscriptionState(_Response):
    subscription_id: str
    notification_index: int


class SubscriberToNotify(_Response):
    subscriptions: list[SubscriptionState]
    uss_base_url: str


class Subscription(_Response):
    id: str
    version: str
    notification_index: int
    time_start: Time
    time_end: Time
    uss_base_url: str
    notify_for_operational_intents: bool
    notify_for_constraints: bool
    implicit_subscription: bool
    dependent_operational_intents: list[str]


class GetOperationalIntentReferenceResponse(_Response):
    operational_intent_reference: OperationalIntentReference


class QueryOperationalIntentReferenceResponse(_Response):
    operational_intent_references: list[OperationalIntentReference]


class ChangeOperationalIntentReferenceResponse(_Response):
    subscribers: list[SubscriberToNotify]
    operational_intent_reference: OperationalIntentReference


class GetConstraintReferenceResponse(_Response):
    constraint_reference: ConstraintReference


class QueryConstraintReferencesResponse(_Response):
    constraint_references: list[ConstraintReference]


class ChangeConstraintReferenceResponse(_Response):
    subscribers: list[SubscriberToNotify]
    constraint_reference: ConstraintReference


class AirspaceConflictResponse(_Response):
    message: str
    missing_operational_intents: list[OperationalIntentReference]
    missing_constraints: list[ConstraintReference]


class GetSubscriptionResponse(_Response):
    subscription: Subscription


class QuerySubscriptionsResponse(_Response):
    subscriptions: list[Subscription]


class PutSubscriptionResponse(_Response):
    subscription: Subscription
    operational_intent_references: list[OperationalIntentReference] | None = None
    constraint_references: list[ConstraintReference] | None = None


class DeleteSubscriptionResponse(_Response):
    subscription: Subscription


class UssAvailabilityStatus(_Response):
    uss: str
    availability: UssAvailabilityState


class UssAvailabilityStatusResponse(_Response):
    version: str
    status: UssAvailabilityStatus


# ---------------------------------------------------------------------------------------------
# Domain -> wire


def oir_to_wire(
    oir: DomainOperationalIntentReference, availability: UssAvailabilityState
) -> OperationalIntentReference:
    return OperationalIntentReference(
        id=oir.id,
        manager=oir.manager,
        uss_availability=availability,
        version=oir.version,
        state=oir.state,
        ovn=oir.ovn,
        time_start=time_to_wire(oir.time_start),
        time_end=time_to_wire(oir.time_end),
        uss_base_url=oir.uss_base_url,
        subscription_id=oir.subscription_id or NULL_SUBSCRIPTION_ID,
    )


def constraint_to_wire(
    constraint: DomainConstraintReference, availability: UssAvailabilityState
) -> ConstraintReference:
    return ConstraintReference(
        id=constraint.id,
        manager=constraint.manager,
        uss_availability=availability,
        version=constraint.version,
        ovn=constraint.ovn,
        time_start=time_to_wire(constraint.time_start),
        time_end=time_to_wire(constraint.time_end),
        uss_base_url=constraint.uss_base_url,
    )


def subscribers_to_wire(subscribers: tuple[DomainSubscriberToNotify, ...]) -> list[SubscriberToNotify]:
    return [
        SubscriberToNotify(
            uss_base_url=s.uss_base_url,
            subscriptions=[
                SubscriptionState(subscription_id=i, notification_index=n) for i, n in s.subscriptions
            ],
        )
        for s in subscribers
    ]


def dump(model: BaseModel) -> dict[str, Any]:
    """JSON-ready dict of a response model."""
    return model.model_dump(mode="json")
