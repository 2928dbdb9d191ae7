"""Every DSS operation against the scopes the standard allows it (astm.f3548.v21.DSS0210,A2-7-2,7).

The F3548-21 OpenAPI (``utm.yaml`` of astm-utm/Protocol, the API that ``uas_standards`` types) gives
each operation a ``security`` list: alternative sets of ``Authority`` scopes, any one of which
suffices. ``uas_standards.astm.f3548.v21.api.OPERATIONS`` carries each operation's id, path and
verb but not its security, so the lists are transcribed below from utm.yaml (astm-utm/Protocol
commit cb7cf96) and the table is checked against ``OPERATIONS`` to cover every DSS operation.

For each operation, every subset of the five F3548 scopes (plus a scope the standard does not
know, which must grant nothing) is tried on an entity that does not exist: 403 exactly when no
allowed set is held, checked before existence (a 403, not the 404/400 an unknown id would get);
otherwise the operation's own answer. No token, or a token that does not verify, is 401.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from uas_standards.astm.f3548.v21.api import OPERATIONS

from parley.devtokens import mint_token
from tests.api.conftest import AA, CM, CMSA, CP, SC
from tests.api.test_dss_operational_intents_api import params, t, vol

F3548_SCOPES = (SC, CM, CP, CMSA, AA)
#: A scope of another standard (F3411 remote ID): it must grant nothing here.
FOREIGN_SCOPE = "dss.read.identification_service_areas"


def _sets(*alternatives: tuple[str, ...]) -> tuple[frozenset[str], ...]:
    return tuple(frozenset(a) for a in alternatives)


#: ``security`` of each DSS operation in F3548-21's utm.yaml.
STANDARD_SECURITY: dict[str, tuple[frozenset[str], ...]] = {
    "queryOperationalIntentReferences": _sets((SC,), (CMSA,)),
    "getOperationalIntentReference": _sets((SC,), (CMSA,)),
    "createOperationalIntentReference": _sets((SC,), (SC, CP), (CMSA,)),
    "updateOperationalIntentReference": _sets((SC,), (SC, CP), (CMSA,)),
    "deleteOperationalIntentReference": _sets((SC,), (CMSA,)),
    "queryConstraintReferences": _sets((CM,), (CP,)),
    "getConstraintReference": _sets((CM,), (CP,)),
    "createConstraintReference": _sets((CM,)),
    "updateConstraintReference": _sets((CM,)),
    "deleteConstraintReference": _sets((CM,)),
    "querySubscriptions": _sets((CP,), (SC,)),
    "getSubscription": _sets((CP,), (SC,)),
    "createSubscription": _sets((CP,), (SC,)),
    "updateSubscription": _sets((CP,), (SC,)),
    "deleteSubscription": _sets((CP,), (SC,)),
    "makeDssReport": _sets((CM,), (CP,), (SC,), (CMSA,), (AA,)),
    "setUssAvailability": _sets((AA,)),
    "getUssAvailability": _sets((AA,), (SC,), (CMSA,)),
}
#: The InterUSS auxiliary token check: any valid token (interuss.dss.hosting.ExposeAux).
AUX_SECURITY: dict[str, tuple[frozenset[str], ...]] = {"validateOauth": _sets(())}

OIRS = "/dss/v1/operational_intent_references"
CRS = "/dss/v1/constraint_references"
SUBS = "/dss/v1/subscriptions"
STALE_OVN = "o" * 20


@dataclass(frozen=True)
class Call:
    """How to call an operation on entities that do not exist, and what it answers when allowed."""

    verb: str
    template: str
    path: Callable[[int], str]
    body: Callable[[int], dict[str, Any] | None]
    allowed_status: int


def _new() -> str:
    return str(uuid.uuid4())


def _area(i: int) -> dict[str, Any]:
    """A volume of its own for request ``i`` (creates never meet one another)."""
    return vol(lat=-40.0 + 0.05 * (i % 400), lng=100.0 + 0.05 * (i // 400))


def _sub(i: int) -> dict[str, Any]:
    return {
        "extents": vol(1, 120, lat=-30.0, lng=100.0 + 0.05 * i),
        "uss_base_url": "https://uss1.example/utm",
        "notify_for_operational_intents": True,
        "notify_for_constraints": False,
    }


def _constraint(i: int) -> dict[str, Any]:
    return {"extents": [_area(i)], "uss_base_url": "https://uss1.example/utm"}


def _report(i: int) -> dict[str, Any]:
    return {
        "exchange": {
            "url": "https://uss2.example/uss/v1/operational_intents/x",
            "method": "GET",
            "headers": [],
            "recorder_role": "Client",
            "request_time": t(0),
            "response_code": 500,
            "problem": f"timeout {i}",
        }
    }


CALLS: dict[str, Call] = {
    "queryOperationalIntentReferences": Call(
        "POST", f"{OIRS}/query", lambda i: f"{OIRS}/query", lambda i: {"area_of_interest": vol()}, 200
    ),
    "getOperationalIntentReference": Call(
        "GET", f"{OIRS}/{{entityid}}", lambda i: f"{OIRS}/{_new()}", lambda i: None, 404
    ),
    "createOperationalIntentReference": Call(
        "PUT", f"{OIRS}/{{entityid}}", lambda i: f"{OIRS}/{_new()}", lambda i: params(extents=[_area(i)]), 201
    ),
    # an update of an unknown intent is 400: the standard declares no 404 on this PUT
    "updateOperationalIntentReference": Call(
        "PUT",
        f"{OIRS}/{{entityid}}/{{ovn}}",
        lambda i: f"{OIRS}/{_new()}/{STALE_OVN}",
        lambda i: params(),
        400,
    ),
    "deleteOperationalIntentReference": Call(
        "DELETE",
        f"{OIRS}/{{entityid}}/{{ovn}}",
        lambda i: f"{OIRS}/{_new()}/{STALE_OVN}",
        lambda i: None,
        404,
    ),
    "queryConstraintReferences": Call(
        "POST", f"{CRS}/query", lambda i: f"{CRS}/query", lambda i: {"area_of_interest": vol()}, 200
    ),
    "getConstraintReference": Call(
        "GET", f"{CRS}/{{entityid}}", lambda i: f"{CRS}/{_new()}", lambda i: None, 404
    ),
    "createConstraintReference": Call(
        "PUT", f"{CRS}/{{entityid}}", lambda i: f"{CRS}/{_new()}", _constraint, 201
    ),
    "updateConstraintReference": Call(
        "PUT", f"{CRS}/{{entityid}}/{{ovn}}", lambda i: f"{CRS}/{_new()}/{STALE_OVN}", _constraint, 400
    ),
    "deleteConstraintReference": Call(
        "DELETE", f"{CRS}/{{entityid}}/{{ovn}}", lambda i: f"{CRS}/{_new()}/{STALE_OVN}", lambda i: None, 404
    ),
    "querySubscriptions": Call(
        "POST", f"{SUBS}/query", lambda i: f"{SUBS}/query", lambda i: {"area_of_interest": vol()}, 200
    ),
    "getSubscription": Call(
        "GET", f"{SUBS}/{{subscriptionid}}", lambda i: f"{SUBS}/{_new()}", lambda i: None, 404
    ),
    "createSubscription": Call("PUT", f"{SUBS}/{{subscriptionid}}", lambda i: f"{SUBS}/{_new()}", _sub, 200),
    "updateSubscription": Call(
        "PUT", f"{SUBS}/{{subscriptionid}}/{{version}}", lambda i: f"{SUBS}/{_new()}/{STALE_OVN}", _sub, 400
    ),
    "deleteSubscription": Call(
        "DELETE",
        f"{SUBS}/{{subscriptionid}}/{{version}}",
        lambda i: f"{SUBS}/{_new()}/{STALE_OVN}",
        lambda i: None,
        404,
    ),
    "makeDssReport": Call("POST", "/dss/v1/reports", lambda i: "/dss/v1/reports", _report, 201),
    "setUssAvailability": Call(
        "PUT",
        "/dss/v1/uss_availability/{uss_id}",
        lambda i: f"/dss/v1/uss_availability/uss-{_new()}",
        lambda i: {"old_version": "", "availability": "Normal"},
        200,
    ),
    "getUssAvailability": Call(
        "GET",
        "/dss/v1/uss_availability/{uss_id}",
        lambda i: f"/dss/v1/uss_availability/uss-{_new()}",
        lambda i: None,
        200,
    ),
    "validateOauth": Call(
        "GET", "/aux/v1/validate_oauth", lambda i: "/aux/v1/validate_oauth", lambda i: None, 200
    ),
}

ALL_SECURITY = {**STANDARD_SECURITY, **AUX_SECURITY}


def _send(client: TestClient, call: Call, i: int, headers: dict[str, str]) -> Any:
    return client.request(call.verb, call.path(i), json=call.body(i), headers=headers)


def test_the_table_is_every_dss_operation_of_the_standard() -> None:
    dss = {op.id: op for op in OPERATIONS.values() if op.path.startswith("/dss/")}
    assert set(STANDARD_SECURITY) == set(dss)
    for op_id, op in dss.items():
        assert (CALLS[op_id].verb, CALLS[op_id].template) == (op.verb, op.path), op_id


def test_the_served_api_has_every_operation_at_its_path(client: TestClient) -> None:
    served = {
        op["operationId"]: (verb.upper(), path)
        for path, item in client.app.openapi()["paths"].items()  # type: ignore[attr-defined]
        for verb, op in item.items()
    }
    for op_id, call in CALLS.items():
        verb, path = served[op_id]
        # FastAPI writes the OVN/version converter into the path: /{ovn} is /{ovn:path} there
        assert (verb, path.replace(":path}", "}")) == (call.verb, call.template), op_id


SUBSETS = [
    frozenset(c) for r in range(len(F3548_SCOPES) + 1) for c in itertools.combinations(F3548_SCOPES, r)
]


@pytest.fixture(scope="module")
def tokens(signing_key: tuple[bytes, Path]) -> dict[frozenset[str], dict[str, str]]:
    """Headers with a token for every subset of the F3548 scopes (plus a foreign one), minted once."""
    return {
        held: {
            "Authorization": "Bearer "
            + mint_token(
                signing_key[0], sub="uss1", scopes=(*sorted(held), FOREIGN_SCOPE), audience="testserver"
            )
        }
        for held in SUBSETS
    }


@pytest.mark.parametrize("op_id", sorted(ALL_SECURITY))
def test_no_valid_token_is_401(
    client: TestClient, op_id: str, tokens: dict[frozenset[str], dict[str, str]]
) -> None:
    call = CALLS[op_id]
    valid = tokens[frozenset(F3548_SCOPES)]["Authorization"]
    for i, headers in enumerate(
        [
            {},
            {"Authorization": "Bearer not-a-jwt"},
            {"Authorization": "Basic dXNzMTpwYXNz"},
            {"Authorization": valid[:-4] + "AAAA"},  # signature broken
        ]
    ):
        r = _send(client, call, i, headers)
        assert r.status_code == 401, (op_id, headers, r.text)
        assert r.headers["www-authenticate"] == "Bearer" and r.json()["message"]


@pytest.mark.parametrize("op_id", sorted(ALL_SECURITY))
def test_scopes_allowed_by_the_standard_and_only_those(
    client: TestClient, op_id: str, tokens: dict[frozenset[str], dict[str, str]]
) -> None:
    call = CALLS[op_id]
    allowed = ALL_SECURITY[op_id]
    for i, held in enumerate(SUBSETS):
        r = _send(client, call, i, tokens[held])
        if any(required <= held for required in allowed):
            assert r.status_code == call.allowed_status, (op_id, sorted(held), r.text)
        else:
            assert r.status_code == 403, (op_id, sorted(held), r.text)
            assert "scope" in r.json()["message"]
