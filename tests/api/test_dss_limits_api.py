"""The DSS's limits over HTTP: at the limit accepted, beyond it 400 with a message saying which
(astm.f3548.v21.DSS0005; constants of ``uas_standards.astm.f3548.v21.constants``; never truncated)."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from uas_standards.astm.f3548.v21 import constants

from parley.api.app import create_app
from parley.api.auth import TokenVerifier
from parley.domain.limits import MAX_EXTENTS, MAX_KEY_LENGTH, MAX_URL_LENGTH
from parley.ports.clock import SystemClock
from parley.services.context import DssContext
from parley.storage.memory import MemoryStore
from tests.api.conftest import CM, SC, TokenFor
from tests.api.test_dss_operational_intents_api import params, vol
from tests.api.test_dss_other_api import sub_params

OIRS = "/dss/v1/operational_intent_references"
CRS = "/dss/v1/constraint_references"
SUBS = "/dss/v1/subscriptions"
MINUTES_PER_DAY = 24 * 60


def ring(n: int, lat: float = 46.0, lng: float = 7.0, radius_deg: float = 0.01) -> list[dict[str, float]]:
    """``n`` vertices on a small circle: a simple convex polygon."""
    return [
        {
            "lat": lat + radius_deg * math.sin(2 * math.pi * k / n),
            "lng": lng + radius_deg * math.cos(2 * math.pi * k / n),
        }
        for k in range(n)
    ]


def with_outline(v: dict[str, Any], vertices: list[dict[str, float]]) -> dict[str, Any]:
    v["volume"]["outline_polygon"]["vertices"] = vertices
    return v


def square(half_deg: float, lat: float = 46.0, lng: float = 7.0) -> list[dict[str, float]]:
    return [
        {"lat": lat - half_deg, "lng": lng - half_deg},
        {"lat": lat - half_deg, "lng": lng + half_deg},
        {"lat": lat + half_deg, "lng": lng + half_deg},
        {"lat": lat + half_deg, "lng": lng - half_deg},
    ]


def constraint(*extents: dict[str, Any], url: str = "https://uss2.example/utm") -> dict[str, Any]:
    return {"extents": list(extents), "uss_base_url": url}


def refused(r: Any, *fragments: str) -> None:
    assert r.status_code == 400, r.text
    message = r.json()["message"]
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_polygon_vertex_limits(client: TestClient, token_for: TokenFor) -> None:
    h, cm = token_for("uss1", SC), token_for("uss2", CM)
    oi_max, cstr_max = constants.OiMaxVertices, constants.CstrMaxVertices
    assert (oi_max, cstr_max) == (10_000, 1_000)
    at_limit = client.put(
        f"{OIRS}/{uuid.uuid4()}", json=params(extents=[with_outline(vol(), ring(oi_max))]), headers=h
    )
    assert at_limit.status_code == 201, at_limit.text
    over = client.put(
        f"{OIRS}/{uuid.uuid4()}",
        json=params(extents=[with_outline(vol(lat=47.0), ring(oi_max + 1, lat=47.0))]),
        headers=h,
    )
    refused(over, f"at most {oi_max} vertices", f"got {oi_max + 1}")
    # a subscription's polygon has the operational intent's limit
    sub = client.put(
        f"{SUBS}/{uuid.uuid4()}",
        json=sub_params(extents=with_outline(vol(1, 120), ring(oi_max + 1))),
        headers=h,
    )
    refused(sub, f"at most {oi_max} vertices")

    ok = client.put(
        f"{CRS}/{uuid.uuid4()}",
        json=constraint(with_outline(vol(lat=45.0), ring(cstr_max, lat=45.0))),
        headers=cm,
    )
    assert ok.status_code == 201, ok.text
    over_c = client.put(
        f"{CRS}/{uuid.uuid4()}", json=constraint(with_outline(vol(), ring(cstr_max + 1))), headers=cm
    )
    refused(over_c, f"at most {cstr_max} vertices", f"got {cstr_max + 1}")


def test_constraint_area_limit_is_its_own(client: TestClient, token_for: TokenFor) -> None:
    h, cm = token_for("uss1", SC), token_for("uss2", CM)
    assert constants.CstrMaxAreaKm2 == 10_000
    # ~3,100 km²: too large for an operational intent (2,500 km²), fine for a constraint
    mid = square(0.3)
    refused(
        client.put(f"{OIRS}/{uuid.uuid4()}", json=params(extents=[with_outline(vol(), mid)]), headers=h),
        "exceeds the limit of 2500 km²",
    )
    ok = client.put(f"{CRS}/{uuid.uuid4()}", json=constraint(with_outline(vol(), mid)), headers=cm)
    assert ok.status_code == 201, ok.text
    # ~12,000 km²: too large for a constraint, and for a constraint query
    big = square(0.6)
    refused(
        client.put(f"{CRS}/{uuid.uuid4()}", json=constraint(with_outline(vol(), big)), headers=cm),
        "exceeds the limit of 10000 km²",
    )
    q = client.post(f"{CRS}/query", json={"area_of_interest": with_outline(vol(), big)}, headers=cm)
    refused(q, "exceeds the limit of 10000 km²")
    q_ok = client.post(f"{CRS}/query", json={"area_of_interest": with_outline(vol(), mid)}, headers=cm)
    assert q_ok.status_code == 200 and len(q_ok.json()["constraint_references"]) == 1


def test_planning_horizons(client: TestClient, token_for: TokenFor) -> None:
    h, cm = token_for("uss1", SC), token_for("uss2", CM)
    oi_days, cstr_days = constants.OiMaxPlanHorizonDays, constants.CstrMaxPlanningHorizonDays
    assert (oi_days, cstr_days) == (30, 56)

    def days(d: float, lat: float) -> dict[str, Any]:
        start = d * MINUTES_PER_DAY
        return vol(start, start + 60, lat=lat)

    assert (
        client.put(
            f"{OIRS}/{uuid.uuid4()}", json=params(extents=[days(oi_days - 1, 40.0)]), headers=h
        ).status_code
        == 201
    )
    refused(
        client.put(f"{OIRS}/{uuid.uuid4()}", json=params(extents=[days(oi_days + 1, 41.0)]), headers=h),
        "extents[0]",
        f"planning horizon of {oi_days} days",
    )
    # a constraint may be published further ahead than an operational intent
    assert (
        client.put(
            f"{CRS}/{uuid.uuid4()}", json=constraint(days(cstr_days - 1, 42.0)), headers=cm
        ).status_code
        == 201
    )
    refused(
        client.put(f"{CRS}/{uuid.uuid4()}", json=constraint(days(cstr_days + 1, 43.0)), headers=cm),
        f"planning horizon of {cstr_days} days",
    )


def test_volume_count_limit(client: TestClient, token_for: TokenFor) -> None:
    h, cm = token_for("uss1", SC), token_for("uss2", CM)
    many = [vol(5 + i * 0.01, 65, lat=44.0) for i in range(MAX_EXTENTS)]
    assert client.put(f"{OIRS}/{uuid.uuid4()}", json=params(extents=many), headers=h).status_code == 201
    too_many = [*many, vol(lat=44.5)]
    refused(
        client.put(f"{OIRS}/{uuid.uuid4()}", json=params(extents=too_many), headers=h),
        f"at most {MAX_EXTENTS} volumes",
        f"got {MAX_EXTENTS + 1}",
    )
    refused(
        client.put(f"{CRS}/{uuid.uuid4()}", json=constraint(*too_many), headers=cm),
        f"at most {MAX_EXTENTS} volumes",
    )


def test_key_length_limit(client: TestClient, token_for: TokenFor) -> None:
    h = token_for("uss1", SC)
    key = [f"unknown-ovn-{i:08d}" for i in range(MAX_KEY_LENGTH)]
    # OVNs the DSS does not know are harmless, up to the limit
    assert client.put(f"{OIRS}/{uuid.uuid4()}", json=params(key=key), headers=h).status_code == 201
    refused(
        client.put(
            f"{OIRS}/{uuid.uuid4()}",
            json=params(key=[*key, "one-ovn-too-many"], extents=[vol(lat=47.0)]),
            headers=h,
        ),
        f"at most {MAX_KEY_LENGTH} OVNs",
        f"got {MAX_KEY_LENGTH + 1}",
    )


BAD_URLS = [
    pytest.param("ftp://uss1.example/utm", "must be an https or http URL", id="ftp"),
    pytest.param("uss1.example/utm", "must be an https or http URL", id="no-scheme"),
    pytest.param("https://", "has no host", id="no-host"),
    pytest.param("", "is required", id="empty"),
    pytest.param(
        "https://uss1.example/" + "u" * MAX_URL_LENGTH, f"longer than {MAX_URL_LENGTH}", id="too-long"
    ),
]


@pytest.mark.parametrize(("url", "expected"), BAD_URLS)
def test_bad_uss_base_urls(client: TestClient, token_for: TokenFor, url: str, expected: str) -> None:
    h, cm = token_for("uss1", SC), token_for("uss2", CM)
    refused(
        client.put(f"{OIRS}/{uuid.uuid4()}", json=params(uss_base_url=url), headers=h),
        "uss_base_url",
        expected,
    )
    implicit = params(new_subscription={"uss_base_url": url, "notify_for_constraints": False})
    refused(
        client.put(f"{OIRS}/{uuid.uuid4()}", json=implicit, headers=h),
        "new_subscription.uss_base_url",
        expected,
    )
    refused(
        client.put(f"{SUBS}/{uuid.uuid4()}", json=sub_params(uss_base_url=url), headers=h),
        "uss_base_url",
        expected,
    )
    refused(
        client.put(f"{CRS}/{uuid.uuid4()}", json=constraint(vol(), url=url), headers=cm),
        "uss_base_url",
        expected,
    )
    # nothing was created by the refused requests
    q = client.post(f"{OIRS}/query", json={"area_of_interest": vol()}, headers=h)
    assert q.json()["operational_intent_references"] == []


@pytest.fixture
def https_only_client(verifier: TokenVerifier) -> Iterator[TestClient]:
    """``parley serve --require-https``: USS base URLs must be https."""
    store = MemoryStore()
    ctx = DssContext(uow_factory=store.unit_of_work, clock=SystemClock(), allow_http_base_urls=False)
    with TestClient(create_app(ctx, verifier), base_url="http://testserver") as c:
        yield c


def test_require_https_refuses_http_base_urls(https_only_client: TestClient, token_for: TokenFor) -> None:
    h = token_for("uss1", SC)
    http = params(uss_base_url="http://uss1.example/utm", new_subscription=None)
    refused(https_only_client.put(f"{OIRS}/{uuid.uuid4()}", json=http, headers=h), "must be an https URL")
    https = params(uss_base_url="https://uss1.example/utm", new_subscription=None)
    assert https_only_client.put(f"{OIRS}/{uuid.uuid4()}", json=https, headers=h).status_code == 201


def test_subscription_update_beyond_24_hours_is_refused(client: TestClient, token_for: TokenFor) -> None:
    """astm.f3548.v21.DSS0015 on the update path: refused, never truncated."""
    h = token_for("uss1", SC)
    sid = str(uuid.uuid4())
    created = client.put(f"{SUBS}/{sid}", json=sub_params(extents=vol(1, 120)), headers=h)
    assert created.status_code == 200, created.text
    version = created.json()["subscription"]["version"]
    limit_min = constants.DSSMaxSubscriptionDurationHours * 60
    too_long = client.put(
        f"{SUBS}/{sid}/{version}", json=sub_params(extents=vol(1, 2 + limit_min)), headers=h
    )
    refused(too_long, f"exceeds {constants.DSSMaxSubscriptionDurationHours} hours")
    unchanged = client.get(f"{SUBS}/{sid}", headers=h).json()["subscription"]
    assert (
        unchanged["version"] == version
        and unchanged["time_end"] == created.json()["subscription"]["time_end"]
    )
    at_limit = client.put(f"{SUBS}/{sid}/{version}", json=sub_params(extents=vol(1, limit_min)), headers=h)
    assert at_limit.status_code == 200, at_limit.text
