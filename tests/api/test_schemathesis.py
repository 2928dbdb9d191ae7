"""Fuzz the served OpenAPI with schemathesis: no input, however malformed, gets a 5xx.

Every operation is called with a valid token holding every F3548 scope (so requests reach the
handlers); bodies, path parameters and query strings are generated from the schema, valid and not.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from parley.api.app import create_app
from parley.api.auth import KeySet, TokenVerifier
from parley.config import Settings
from parley.devtokens import mint_token
from parley.ports.clock import SystemClock
from parley.services.context import DssContext
from parley.storage.memory import MemoryStore
from tests.api.conftest import AA, CM, CMSA, CP, SC


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[object, str]]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = tmp_path_factory.mktemp("fuzzkeys") / "public.pem"
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    verifier = TokenVerifier(
        KeySet.from_settings(Settings(public_key_files=[public])), audiences=["localhost"]
    )
    store = MemoryStore()
    app = create_app(DssContext(uow_factory=store.unit_of_work, clock=SystemClock()), verifier)
    token = mint_token(private, sub="fuzzer", scopes=[SC, CM, CP, CMSA, AA], audience="localhost")
    yield app, token


def test_no_server_errors(fuzz_app: tuple[object, str]) -> None:
    app, token = fuzz_app
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = {"Authorization": f"Bearer {token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 19  # every F3548 DSS operation and the aux ones

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case: schemathesis.Case) -> None:
            response = case.call(headers=headers)
            case.validate_response(response, checks=[not_a_server_error])

        fuzz()
