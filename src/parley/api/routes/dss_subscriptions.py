"""/dss/v1/subscriptions: parse, call the use case, serialise."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from parley.api.auth import Principal
from parley.api.deps import CP, SC, DssDep, authorize
from parley.api.routes._responses import errors, respond
from parley.api.wire import f3548v21 as wire
from parley.domain.entities import Manager, parse_entity_id
from parley.domain.errors import InvalidInput
from parley.services import dss_subscriptions as svc

router = APIRouter(prefix="/dss/v1/subscriptions", tags=["Subscriptions"])

Caller = Annotated[Principal, Depends(authorize([CP], [SC]))]


def subscription_to_wire(view: svc.SubscriptionView) -> wire.Subscription:
    sub = view.subscription
    return wire.Subscription(
        id=sub.id,
        version=sub.version,
        notification_index=sub.notification_index,
        time_start=wire.time_to_wire(sub.time_start),
        time_end=wire.time_to_wire(sub.time_end),
        uss_base_url=sub.uss_base_url,
        notify_for_operational_intents=sub.notify_for_operational_intents,
        notify_for_constraints=sub.notify_for_constraints,
        implicit_subscription=sub.implicit,
        dependent_operational_intents=list(view.dependent_operational_intents),
    )


def _version(version: str) -> str:
    if not version:
        raise InvalidInput("Missing subscription version")
    return version


def _put(
    subscriptionid: str,
    version: str | None,
    body: wire.PutSubscriptionParameters,
    caller: Principal,
    dss: DssDep,
) -> JSONResponse:
    request = svc.PutSubscription(
        subscription_id=parse_entity_id(subscriptionid, "subscription ID"),
        version=version,
        extents=wire.volume4d_to_domain(body.extents, "extents"),
        uss_base_url=body.uss_base_url,
        notify_for_operational_intents=body.notify_for_operational_intents,
        notify_for_constraints=body.notify_for_constraints,
    )
    result = svc.put_subscription(dss, requester=Manager(caller.sub), request=request)
    response = wire.PutSubscriptionResponse(
        subscription=subscription_to_wire(result.subscription),
        operational_intent_references=(
            [wire.oir_to_wire(v.reference, v.uss_availability) for v in result.operational_intents]
            if result.operational_intents is not None
            else None
        ),
        constraint_references=(
            [wire.constraint_to_wire(v.reference, v.uss_availability) for v in result.constraints]
            if result.constraints is not None
            else None
        ),
    )
    return JSONResponse(content=response.model_dump(mode="json", exclude_none=True))


@router.post(
    "/query",
    operation_id="querySubscriptions",
    response_model=wire.QuerySubscriptionsResponse,
    responses=errors(400, 401, 403, 413, 429),
    summary="Query the caller's subscriptions in the specified area/volume/time.",
)
async def query(body: wire.QuerySubscriptionParameters, dss: DssDep, caller: Caller) -> JSONResponse:
    if body.area_of_interest is None:
        raise InvalidInput("Missing area_of_interest")
    views = svc.query_subscriptions(
        dss,
        requester=Manager(caller.sub),
        area=wire.volume4d_to_domain(body.area_of_interest, "area_of_interest"),
    )
    return respond(wire.QuerySubscriptionsResponse(subscriptions=[subscription_to_wire(v) for v in views]))


@router.get(
    "/{subscriptionid}",
    operation_id="getSubscription",
    response_model=wire.GetSubscriptionResponse,
    responses=errors(400, 401, 403, 404, 429),
    summary="Retrieve the specified subscription.",
)
async def get(subscriptionid: str, dss: DssDep, caller: Caller) -> JSONResponse:
    view = svc.get_subscription(
        dss, requester=Manager(caller.sub), subscription_id=parse_entity_id(subscriptionid, "subscription ID")
    )
    return respond(wire.GetSubscriptionResponse(subscription=subscription_to_wire(view)))


@router.put(
    "/{subscriptionid}",
    operation_id="createSubscription",
    response_model=wire.PutSubscriptionResponse,
    responses=errors(400, 401, 403, 409, 429),
    summary="Create the specified subscription.",
)
async def create(
    subscriptionid: str, body: wire.PutSubscriptionParameters, dss: DssDep, caller: Caller
) -> JSONResponse:
    return _put(subscriptionid, None, body, caller, dss)


@router.put(
    "/{subscriptionid}/{version:path}",
    operation_id="updateSubscription",
    response_model=wire.PutSubscriptionResponse,
    responses=errors(400, 401, 403, 409, 429),
    summary="Update the specified subscription.",
)
async def update(
    subscriptionid: str, version: str, body: wire.PutSubscriptionParameters, dss: DssDep, caller: Caller
) -> JSONResponse:
    return _put(subscriptionid, _version(version), body, caller, dss)


@router.delete(
    "/{subscriptionid}/{version:path}",
    operation_id="deleteSubscription",
    response_model=wire.DeleteSubscriptionResponse,
    responses=errors(400, 401, 403, 404, 409, 429),
    summary="Remove the specified subscription.",
)
async def delete(subscriptionid: str, version: str, dss: DssDep, caller: Caller) -> JSONResponse:
    view = svc.delete_subscription(
        dss,
        requester=Manager(caller.sub),
        subscription_id=parse_entity_id(subscriptionid, "subscription ID"),
        version=_version(version),
    )
    return respond(wire.DeleteSubscriptionResponse(subscription=subscription_to_wire(view)))
