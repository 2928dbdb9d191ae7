"""A client of other USSs' F3548 peer API (``{uss_base_url}/uss/v1``)."""

from __future__ import annotations

from typing import Any

from uas_standards.astm.f3548.v21.constants import Scope

from parley.clients.utm import Json, UtmHttp

SC = Scope.StrategicCoordination.value
CP = Scope.ConstraintProcessing.value
CM = Scope.ConstraintManagement.value
CMSA = Scope.ConformanceMonitoringForSituationalAwareness.value


class PeerClient:
    """Calls to the USS whose base URL is given with each call."""

    def __init__(self, utm: UtmHttp) -> None:
        self.utm = utm

    @staticmethod
    def _url(base_url: str, path: str) -> str:
        return f"{base_url.rstrip('/')}/uss/v1/{path}"

    async def operational_intent(self, base_url: str, entity_id: str) -> Json:
        """``GetOperationalIntentDetailsResponse.operational_intent``: ``{reference, details}``."""
        _, body = await self.utm.call(
            "GET", self._url(base_url, f"operational_intents/{entity_id}"), [SC], ok=(200,)
        )
        return dict(body["operational_intent"])

    async def constraint(self, base_url: str, entity_id: str) -> Json:
        """``GetConstraintDetailsResponse.constraint``: ``{reference, details}``."""
        _, body = await self.utm.call("GET", self._url(base_url, f"constraints/{entity_id}"), [CP], ok=(200,))
        return dict(body["constraint"])

    async def telemetry(self, base_url: str, entity_id: str) -> Json:
        _, body = await self.utm.call(
            "GET", self._url(base_url, f"operational_intents/{entity_id}/telemetry"), [CMSA], ok=(200,)
        )
        return dict(body)

    async def notify_operational_intent(self, base_url: str, params: Json, *, scopes: list[str]) -> Any:
        """POST ``PutOperationalIntentDetailsParameters`` (no ``operational_intent``: it was removed)."""
        _, body = await self.utm.call(
            "POST", self._url(base_url, "operational_intents"), scopes, body=params, ok=(204, 200)
        )
        return body

    async def notify_constraint(self, base_url: str, params: Json) -> Any:
        _, body = await self.utm.call(
            "POST", self._url(base_url, "constraints"), [CM], body=params, ok=(204, 200)
        )
        return body
