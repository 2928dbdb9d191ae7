"""An app over the in-memory store, real JWT verification with a test RSA key, and token helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from parley.api.app import create_app
from parley.api.auth import KeySet, TokenVerifier
from parley.config import Settings
from parley.devtokens import mint_token
from parley.ports.clock import SystemClock
from parley.services.context import DssContext
from parley.storage.memory import MemoryStore

SC = "utm.strategic_coordination"
CM = "utm.constraint_management"
CP = "utm.constraint_processing"
CMSA = "utm.conformance_monitoring_sa"
AA = "utm.availability_arbitration"

TokenFor = Callable[..., dict[str, str]]


@pytest.fixture(scope="session")
def signing_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_path = tmp_path_factory.mktemp("keys") / "public.pem"
    public_path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public_path


@pytest.fixture
def verifier(signing_key: tuple[bytes, Path]) -> TokenVerifier:
    keys = KeySet.from_settings(Settings(public_key_files=[signing_key[1]]))
    return TokenVerifier(keys, audiences=[])


@pytest.fixture
def client(verifier: TokenVerifier) -> Iterator[TestClient]:
    store = MemoryStore()
    ctx = DssContext(uow_factory=store.unit_of_work, clock=SystemClock())
    with TestClient(create_app(ctx, verifier), base_url="http://testserver") as c:
        yield c


@pytest.fixture
def token_for(signing_key: tuple[bytes, Path]) -> TokenFor:
    def make(
        sub: str = "uss1", *scopes: str, audience: str = "testserver", lifetime_s: int = 600
    ) -> dict[str, str]:
        token = mint_token(
            signing_key[0], sub=sub, scopes=scopes or (SC,), audience=audience, lifetime_s=lifetime_s
        )
        return {"Authorization": f"Bearer {token}"}

    return make
