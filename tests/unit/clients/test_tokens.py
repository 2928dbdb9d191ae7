"""Outbound token sources: a locally signed token verifies with the public key and is cached per
audience and scopes; the OAuth client-credentials source talks to a real (local) token endpoint."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from parley.clients.http import AiohttpSession
from parley.clients.tokens import ClientCredentialsTokenSource, SigningKeyTokenSource, TokenError
from parley.clients.utm import CallFailed, UtmHttp, audience_of


@pytest.fixture
def ec_key(tmp_path: Path) -> tuple[Path, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "party.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return path, key.public_key()


def test_signed_tokens_carry_audience_subject_scopes_and_are_cached(ec_key: tuple[Path, Any]) -> None:
    path, public = ec_key
    source = SigningKeyTokenSource(path, subject="red", issuer="red-node")
    first = asyncio.run(source.token("dss.example.org", ["utm.strategic_coordination"]))
    claims = jwt.decode(first, public, algorithms=["ES256"], audience="dss.example.org")
    assert (claims["sub"], claims["iss"], claims["scope"]) == (
        "red",
        "red-node",
        "utm.strategic_coordination",
    )
    assert asyncio.run(source.token("dss.example.org", ["utm.strategic_coordination"])) == first
    other = asyncio.run(source.token("peer.example.org", ["utm.strategic_coordination"]))
    assert other != first and jwt.decode(other, public, algorithms=["ES256"], audience="peer.example.org")


def test_the_audience_is_the_host_name() -> None:
    assert audience_of("https://dss.example.org:8443/dss/v1/x") == "dss.example.org"
    with pytest.raises(ValueError):
        audience_of("/relative/path")


class _TokenEndpoint(BaseHTTPRequestHandler):
    requests: ClassVar[list[dict[str, Any]]] = []
    answer: ClassVar[tuple[int, dict[str, Any]]] = (200, {})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        auth = self.headers.get("Authorization", "")
        user, _, password = base64.b64decode(auth.removeprefix("Basic ")).decode().partition(":")
        type(self).requests.append({"form": form, "client": (user, password)})
        status, body = type(self).answer
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def token_endpoint() -> Iterator[tuple[str, type[_TokenEndpoint]]]:
    handler = type("Endpoint", (_TokenEndpoint,), {"requests": [], "answer": (200, {})})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/token", handler
    finally:
        server.shutdown()
        server.server_close()


async def _tokens(url: str, calls: list[tuple[str, list[str]]], secret: str = "s3cret") -> list[str]:
    http = AiohttpSession()
    try:
        source = ClientCredentialsTokenSource(url, client_id="blue", client_secret=secret, http=http)
        return [await source.token(aud, scopes) for aud, scopes in calls]
    finally:
        await http.aclose()


def test_client_credentials_grant_asks_once_per_audience_and_scopes(
    token_endpoint: tuple[str, type[_TokenEndpoint]],
) -> None:
    url, endpoint = token_endpoint
    endpoint.answer = (200, {"access_token": "abc", "token_type": "Bearer", "expires_in": 3600})
    sc, cp = "utm.strategic_coordination", "utm.constraint_processing"
    got = asyncio.run(
        _tokens(url, [("dss.example.org", [sc]), ("dss.example.org", [sc]), ("dss.example.org", [cp, sc])])
    )
    assert got == ["abc", "abc", "abc"]
    assert len(endpoint.requests) == 2  # the repeated (audience, scopes) came from the cache
    first = endpoint.requests[0]
    assert first["client"] == ("blue", "s3cret")
    assert first["form"] == {
        "grant_type": "client_credentials",
        "scope": sc,
        "audience": "dss.example.org",
        "intended_audience": "dss.example.org",
    }
    assert endpoint.requests[1]["form"]["scope"] == f"{cp} {sc}"


def test_a_token_about_to_expire_is_renewed(token_endpoint: tuple[str, type[_TokenEndpoint]]) -> None:
    url, endpoint = token_endpoint
    soon = jwt.encode({"exp": int(time.time()) + 30}, "k" * 32, algorithm="HS256")
    endpoint.answer = (200, {"access_token": soon})  # no expires_in: the token's exp is read
    asyncio.run(_tokens(url, [("a.example", ["s"]), ("a.example", ["s"])]))
    assert len(endpoint.requests) == 2  # 30 s left is under the renewal margin


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ((401, {"error": "invalid_client"}), "answered 401"),
        ((200, {"token_type": "Bearer"}), "no access_token"),
    ],
)
def test_refusals_are_token_errors(
    token_endpoint: tuple[str, type[_TokenEndpoint]], answer: tuple[int, dict[str, Any]], message: str
) -> None:
    url, endpoint = token_endpoint
    endpoint.answer = answer
    with pytest.raises(TokenError, match=message):
        asyncio.run(_tokens(url, [("a.example", ["s"])]))


def test_an_unreachable_token_endpoint_fails_the_call_cleanly() -> None:
    async def call() -> None:
        http = AiohttpSession()
        try:
            source = ClientCredentialsTokenSource(
                "http://127.0.0.1:9/token", client_id="x", client_secret="y", http=http, timeout_s=2
            )
            await UtmHttp(http, source).call("GET", "http://dss.example.org/dss/v1/x", ["s"])
        finally:
            await http.aclose()

    with pytest.raises(CallFailed, match="no access token"):
        asyncio.run(call())


def test_client_credentials_are_form_encoded_in_basic_auth(
    token_endpoint: tuple[str, type[_TokenEndpoint]],
) -> None:
    """RFC 6749 section 2.3.1: the client id and secret are form-encoded before Basic encoding."""
    url, endpoint = token_endpoint
    endpoint.answer = (200, {"access_token": "abc", "expires_in": 3600})
    asyncio.run(_tokens(url, [("a.example", ["s"])], secret="p:ss w%rd"))
    assert endpoint.requests[0]["client"] == ("blue", "p%3Ass%20w%25rd")
