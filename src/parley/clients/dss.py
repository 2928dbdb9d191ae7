"""A client of any ASTM F3548-21 DSS (``/dss/v1``): the calls a USS makes, JSON in and out.

Bodies and answers are the standard's JSON (``uas_standards.astm.f3548.v21.api`` names). Errors
raise :class:`~parley.clients.utm.CallFailed`; a 409 on an operational intent PUT carries the
``AirspaceConflictResponse`` in ``body``.
"""

from __future__ import annotations

from typing import Any

from uas_standards.astm.f3548.v21.constants import Scope

from parley.clients.utm import Json, UtmHttp

SC = Scope.StrategicCoordination.value
CM = Scope.ConstraintManagement.value
CP = Scope.ConstraintProcessing.value
CMSA = Scope.ConformanceMonitoringForSituationalAwareness.value


class DssClient:
    """Calls to the DSS at ``base_url`` (without ``/dss/v1``)."""

    def __init__(self, utm: UtmHttp, base_url: str) -> None:
        self.utm = utm
        self.base_url = base_url.rstrip("/")

    def _url(self, path: str) -> str:
        return f"{self.base_url}/dss/v1/{path}"

    # -- operational intents ---------------------------------------------------------------------

    async def query_operational_intents(self, area: Json) -> list[Json]:
        """References whose extents may intersect ``area`` (an F3548 Volume4D)."""
        _, body = await self.utm.call(
            "POST",
            self._url("operational_intent_references/query"),
            [SC],
            body={"area_of_interest": area},
            ok=(200,),
        )
        return list(body.get("operational_intent_references", []))

    async def put_operational_intent(
        self, entity_id: str, ovn: str | None, params: Json, *, scopes: list[str]
    ) -> Json:
        """Create (``ovn`` None) or update; the ``ChangeOperationalIntentReferenceResponse``."""
        path = f"operational_intent_references/{entity_id}" + (f"/{ovn}" if ovn else "")
        _, body = await self.utm.call("PUT", self._url(path), scopes, body=params, ok=(200, 201))
        return dict(body)

    async def delete_operational_intent(self, entity_id: str, ovn: str, *, scopes: list[str]) -> Json:
        _, body = await self.utm.call(
            "DELETE", self._url(f"operational_intent_references/{entity_id}/{ovn}"), scopes, ok=(200,)
        )
        return dict(body)

    async def get_operational_intent(self, entity_id: str) -> Json:
        _, body = await self.utm.call(
            "GET", self._url(f"operational_intent_references/{entity_id}"), [SC], ok=(200,)
        )
        return dict(body["operational_intent_reference"])

    # -- constraints -------------------------------------------------------------------------------

    async def query_constraints(self, area: Json) -> list[Json]:
        _, body = await self.utm.call(
            "POST",
            self._url("constraint_references/query"),
            [CP],
            body={"area_of_interest": area},
            ok=(200,),
        )
        return list(body.get("constraint_references", []))

    async def put_constraint(self, entity_id: str, ovn: str | None, params: Json) -> Json:
        path = f"constraint_references/{entity_id}" + (f"/{ovn}" if ovn else "")
        _, body = await self.utm.call("PUT", self._url(path), [CM], body=params, ok=(200, 201))
        return dict(body)

    async def delete_constraint(self, entity_id: str, ovn: str) -> Json:
        _, body = await self.utm.call(
            "DELETE", self._url(f"constraint_references/{entity_id}/{ovn}"), [CM], ok=(200,)
        )
        return dict(body)

    # -- subscriptions -----------------------------------------------------------------------------

    async def put_subscription(
        self, subscription_id: str, version: str | None, params: Json, *, scopes: list[str]
    ) -> Json:
        path = f"subscriptions/{subscription_id}" + (f"/{version}" if version else "")
        _, body = await self.utm.call("PUT", self._url(path), scopes, body=params, ok=(200,))
        return dict(body)

    async def delete_subscription(self, subscription_id: str, version: str, *, scopes: list[str]) -> Any:
        _, body = await self.utm.call(
            "DELETE", self._url(f"subscriptions/{subscription_id}/{version}"), scopes, ok=(200,)
        )
        return body
