"""The operational intent references served below FastAPI (``parley.api.dss_fast``) answer exactly as
the FastAPI routes do: the same requests, success and error, sent to an app with the fast path and
to one without it (same clock, same random bytes, each on its own store) get the same statuses,
headers and bodies, byte for byte; the JSON written by ``parley.api.wire.fast`` is the pydantic
models' dump."""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from parley.api.app import create_app
from parley.api.auth import TokenVerifier
from parley.api.dss_fast import DssFastPath
from parley.api.wire import f3548v21 as wire
from parley.api.wire.fast import encode_change, encode_query
from parley.domain.entities import (
    EntityId,
    Manager,
    OperationalIntentReference,
    OperationalIntentState,
    Ovn,
    SubscriberToNotify,
    UssAvailabilityState,
)
from parley.domain.extent import Extent4D
from parley.ports.clock import FixedClock
from parley.services.context import DssContext
from parley.services.dss_operational_intents import OirChange
from parley.services.views import OirView
from parley.storage.memory import MemoryStore
from tests.api.conftest import AA, CMSA, SC, TokenFor

BASE = "/dss/v1/operational_intent_references"
NOW = datetime.now(UTC).replace(microsecond=0)


def _counter_bytes() -> Callable[[int], bytes]:
    counter = itertools.count(1)
    return lambda n: next(counter).to_bytes(n, "big")


def _client(verifier: TokenVerifier, *, fast: bool) -> TestClient:
    ctx = DssContext(
        uow_factory=MemoryStore().unit_of_work, clock=FixedClock(NOW), random_bytes=_counter_bytes()
    )
    app = create_app(ctx, verifier)
    if not fast:
        app.user_middleware = [m for m in app.user_middleware if m.cls is not DssFastPath]
    return TestClient(app, base_url="http://testserver")


@pytest.fixture
def both(verifier: TokenVerifier) -> Iterator[tuple[TestClient, TestClient]]:
    with _client(verifier, fast=True) as fast, _client(verifier, fast=False) as slow:
        yield fast, slow


def _t(minutes: float) -> dict[str, str]:
    return {
        "value": (NOW + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z"),
        "format": "RFC3339",
    }


def _vol(lat: float = 46.0, start: float = 5, end: float = 65) -> dict[str, Any]:
    d = 0.01
    return {
        "volume": {
            "outline_polygon": {
                "vertices": [
                    {"lat": lat - d, "lng": 7 - d},
                    {"lat": lat - d, "lng": 7 + d},
                    {"lat": lat + d, "lng": 7 + d},
                    {"lat": lat + d, "lng": 7 - d},
                ]
            },
            "altitude_lower": {"value": 0, "reference": "W84", "units": "M"},
            "altitude_upper": {"value": 120, "reference": "W84", "units": "M"},
        },
        "time_start": _t(start),
        "time_end": _t(end),
    }


def _put(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "extents": [_vol()],
        "key": [],
        "state": "Accepted",
        "uss_base_url": "https://uss1.example/utm",
        "new_subscription": {"uss_base_url": "https://uss1.example/utm", "notify_for_constraints": False},
    }
    body.update(over)
    return body


def test_the_fast_path_answers_as_fastapi_does(
    both: tuple[TestClient, TestClient], token_for: TokenFor, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, slow = both
    answered: list[str] = []
    original = DssFastPath._answer

    def counting(self: DssFastPath, operation_id: str, *args: Any) -> tuple[int, bytes]:
        answered.append(operation_id)
        return original(self, operation_id, *args)

    monkeypatch.setattr(DssFastPath, "_answer", counting)
    uss1, uss2 = token_for("uss1", SC), token_for("uss2", SC)
    first, second, unknown = (str(uuid.UUID(int=n, version=4)) for n in (1, 2, 3))
    json_headers = {"Content-Type": "application/json"}
    steps: list[tuple[str, str, Any, dict[str, str]]] = [
        ("PUT", f"{BASE}/{first}", _put(), uss1),
        ("PUT", f"{BASE}/{first}", _put(), uss1),  # exists: 409
        ("PUT", f"{BASE}/{second}", _put(), uss2),  # key misses the first: 409 AirspaceConflictResponse
        ("POST", f"{BASE}/query", {"area_of_interest": _vol()}, uss2),
        ("POST", f"{BASE}/query", {"area_of_interest": _vol()}, uss1),
        ("POST", f"{BASE}/query", {"area_of_interest": _vol(lat=10)}, uss1),
        ("POST", f"{BASE}/query", {}, uss1),  # Missing area_of_interest
        ("POST", f"{BASE}/query", {"area_of_interest": {"volume": 3}}, uss1),  # schema: 400
        ("POST", f"{BASE}/query", b"{not json", uss1),
        ("POST", f"{BASE}/query", b"[]", uss1),
        ("POST", f"{BASE}/query", {"area_of_interest": _vol()}, {}),  # no token: 401
        ("POST", f"{BASE}/query", b"{not json", {}),  # JSON before the token: 400
        ("POST", f"{BASE}/query", {"area_of_interest": _vol()}, token_for("uss1", AA)),  # 403
        ("GET", f"{BASE}/{first}", None, uss2),
        ("GET", f"{BASE}/{unknown}", None, uss1),  # 404
        ("GET", f"{BASE}/not-a-uuid", None, uss1),  # 400
        ("PUT", f"{BASE}/{first}/wrong-ovn-0000000000000", _put(), uss1),  # 409
        ("PUT", f"{BASE}/{first}/{'x' * 20}", _put(), uss2),  # another USS's: 403
        ("PUT", f"{BASE}/{unknown}/{'x' * 20}", _put(), uss1),  # unknown with an OVN: 400 (no 404 declared)
        ("PUT", f"{BASE}/{second}", _put(state="Nonconforming"), uss2),  # first version Accepted: 400
        ("PUT", f"{BASE}/{second}", _put(extents=[]), uss2),
        ("PUT", f"{BASE}/{second}", _put(extents=[_vol(start=-120, end=-60)]), uss2),  # ended
        ("PUT", f"{BASE}/{second}", _put(state="Flying"), uss2),  # enum: 400
        ("PUT", f"{BASE}/{second}", _put(), token_for("uss2", CMSA)),
        ("DELETE", f"{BASE}/{first}/{'x' * 20}", None, uss1),  # wrong OVN: 409
        ("DELETE", f"{BASE}/{unknown}/{'x' * 20}", None, uss1),  # 404
        ("PUT", f"{BASE}/{second}", _put(), {**uss2, "Content-Type": "text/plain"}),
        ("PUT", f"{BASE}/", _put(), uss1),  # empty id: FastAPI decides
        ("PATCH", f"{BASE}/{first}", _put(), uss1),  # 405
    ]
    ovns: dict[str, str] = {}
    for method, path, body, headers in steps:
        answers = []
        for client in (fast, slow):
            content = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
            sent = {**json_headers, **headers} if content is not None else headers
            answers.append(client.request(method, path, content=content, headers=sent))
        a, b = answers
        where = f"{method} {path} {body!r:.80}"
        assert a.status_code == b.status_code, where
        assert a.content == b.content, where
        for header in ("content-type", "www-authenticate", "allow"):
            assert a.headers.get(header) == b.headers.get(header), (where, header)
        if a.status_code in (200, 201) and method == "PUT":
            ovns[path.split("/")[4]] = a.json()["operational_intent_reference"]["ovn"]
    # And the successful update and delete, with the OVN each minted.
    for method, path, body in (
        ("PUT", f"{BASE}/{first}/{ovns[first]}", _put(key=[], extents=[_vol(start=10, end=70)])),
        ("DELETE", f"{BASE}/{first}/{{ovn}}", None),
    ):
        results = []
        for client in (fast, slow):
            real = path.replace("{ovn}", ovns[first])
            r = client.request(method, real, json=body, headers=uss1)
            results.append(r)
        a, b = results
        assert (a.status_code, a.content) == (b.status_code, b.content), method
        assert a.status_code == 200, a.text
        if method == "PUT":
            ovns[first] = a.json()["operational_intent_reference"]["ovn"]
    # The fast path answered all five operations (those it passed on FastAPI answered).
    assert set(answered) == {
        "queryOperationalIntentReferences",
        "getOperationalIntentReference",
        "createOperationalIntentReference",
        "updateOperationalIntentReference",
        "deleteOperationalIntentReference",
    }


_ids = st.builds(lambda n: EntityId(str(uuid.UUID(int=n, version=4))), st.integers(0, 2**64))
_texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)
_times = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC))


@st.composite
def _views(draw: st.DrawFn) -> OirView:
    start = draw(_times)
    reference = OperationalIntentReference(
        id=draw(_ids),
        manager=Manager(draw(_texts)),
        version=draw(st.integers(1, 10**6)),
        state=draw(st.sampled_from(OperationalIntentState)),
        ovn=Ovn(draw(_texts)),
        extent=Extent4D(
            frozenset({1}), 0.0, 1.0, start, start + timedelta(seconds=draw(st.integers(0, 10**6)))
        ),
        uss_base_url=draw(_texts),
        subscription_id=draw(st.none() | _ids),
    )
    return OirView(reference, draw(st.sampled_from(UssAvailabilityState)))


def _pydantic_json(model: Any) -> bytes:
    """What FastAPI's JSONResponse writes for a wire model."""
    return json.dumps(wire.dump(model), ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(_views(), max_size=4),
    st.lists(st.tuples(_texts, st.lists(st.tuples(_ids, st.integers(0, 10**9))))),
)
def test_fast_json_is_the_wire_models_dump(views: list[OirView], subs: list[tuple[str, list[Any]]]) -> None:
    expected = wire.QueryOperationalIntentReferenceResponse(
        operational_intent_references=[wire.oir_to_wire(v.reference, v.uss_availability) for v in views]
    )
    assert encode_query(views) == _pydantic_json(expected)
    if views:
        subscribers = tuple(SubscriberToNotify(url, tuple(items)) for url, items in subs)
        change = OirChange(views[0], subscribers)
        expected_change = wire.ChangeOperationalIntentReferenceResponse(
            subscribers=wire.subscribers_to_wire(subscribers),
            operational_intent_reference=wire.oir_to_wire(views[0].reference, views[0].uss_availability),
        )
        assert encode_change(change) == _pydantic_json(expected_change)
