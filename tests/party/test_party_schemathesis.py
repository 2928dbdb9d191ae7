"""Fuzz one party node's served OpenAPI with schemathesis: no input, however malformed, gets a 5xx.

The schema is red's, as served under its mount (``/parties/red/openapi.json``), so the requests
go through the server's whole app. Every operation is called with a token of one of red's own
operators that also holds every F3548 scope and the flight-planning test scopes, so that requests
reach the handlers (peer API, native API and test interface alike); bodies, path parameters and
query strings are generated from the schema, valid and not. The nodes' outbound calls (to the DSS
and to one another) are real, in-process.
"""

from __future__ import annotations

import contextlib

import httpx
import schemathesis
from hypothesis import HealthCheck, given, reject, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi

from parley.api.party.deps import FP_PLAN, FP_TEST, OPERATE
from tests.party.conftest import World
from tests.party.test_uss_api import F3548_SCOPES

#: Examples per operation: enough to reach each handler's branches, few enough for < 60 s.
EXAMPLES = 25


def test_no_server_errors(world: World) -> None:
    schema = schemathesis.openapi.from_asgi("/parties/red/openapi.json", world.server.app)
    headers = world.token("red", OPERATE, *F3548_SCOPES, FP_PLAN, FP_TEST, "parley.line")
    # The event stream never ends: it is tested on its own.
    operations = [result.ok() for result in schema.get_all_operations()]
    operations = [op for op in operations if op.path != "/line/v1/events"]
    paths = {op.path for op in operations}
    assert {"/uss/v1/operational_intents", "/ops/v1/operations", "/ops/v1/reservations"} <= paths
    assert len(operations) >= 20  # the six F3548 USS operations, the native API, the test interface

    try:
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(
                max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
            )
            def fuzz(case: schemathesis.Case) -> None:
                try:
                    response = case.call(headers=headers)
                except httpx.InvalidURL:  # a control character in a path: no request can carry it
                    reject()
                case.validate_response(response, checks=[not_a_server_error])

            fuzz()
    finally:
        # schemathesis started the app's lifespan (the nodes' housekeeping) for the process:
        # stop it while the world's store is still there
        with contextlib.suppress(Exception):
            asgi.shutdown_lifespans()
