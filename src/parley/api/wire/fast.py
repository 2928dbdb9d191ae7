"""The JSON of the operational intent references' answers, written directly (msgspec) instead of
through the pydantic wire models: the same fields, in the same order, with the same values as
``model_dump(mode="json")`` of :mod:`parley.api.wire.f3548v21`'s models gives
(``tests/api/test_dss_fast_path.py`` compares them). Used by :mod:`parley.api.dss_fast`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from parley.domain.entities import NULL_SUBSCRIPTION_ID, SubscriberToNotify
from parley.services.dss_operational_intents import OirChange
from parley.services.views import OirView

_encoder = msgspec.json.Encoder()


def _time(t: datetime) -> dict[str, str]:
    aware = t if t.tzinfo is not None else t.replace(tzinfo=UTC)
    return {"value": aware.astimezone(UTC).isoformat().replace("+00:00", "Z"), "format": "RFC3339"}


def oir(view: OirView) -> dict[str, Any]:
    """``OperationalIntentReference``."""
    r = view.reference
    return {
        "id": r.id,
        "manager": r.manager,
        "uss_availability": view.uss_availability.value,
        "version": r.version,
        "state": r.state.value,
        "ovn": r.ovn,
        "time_start": _time(r.time_start),
        "time_end": _time(r.time_end),
        "uss_base_url": r.uss_base_url,
        "subscription_id": r.subscription_id or NULL_SUBSCRIPTION_ID,
    }


def subscribers(items: tuple[SubscriberToNotify, ...]) -> list[dict[str, Any]]:
    """``SubscriberToNotify`` list."""
    return [
        {
            "subscriptions": [{"subscription_id": i, "notification_index": n} for i, n in s.subscriptions],
            "uss_base_url": s.uss_base_url,
        }
        for s in items
    ]


def encode_query(views: list[OirView]) -> bytes:
    """``QueryOperationalIntentReferenceResponse``."""
    return _encoder.encode({"operational_intent_references": [oir(v) for v in views]})


def encode_get(view: OirView) -> bytes:
    """``GetOperationalIntentReferenceResponse``."""
    return _encoder.encode({"operational_intent_reference": oir(view)})


def encode_change(change: OirChange) -> bytes:
    """``ChangeOperationalIntentReferenceResponse``."""
    return _encoder.encode(
        {
            "subscribers": subscribers(change.subscribers),
            "operational_intent_reference": oir(change.operational_intent),
        }
    )
