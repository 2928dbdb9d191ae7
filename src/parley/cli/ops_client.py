"""The HTTP side of ``parley ops``: a synchronous client of a party node's native API (``/ops/v1``),
its access token, and the one failure type the commands turn into a message and an exit code.

Exit codes: :data:`REFUSED` (2) when the node or the CLI refused what was asked (bad input, a
conflict, a refused token, an unknown operation); :data:`UNREACHABLE` (1) when the node could not be
reached or failed (transport errors, time-outs, 5xx answers, answers that are not the API's JSON).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx

from parley.devtokens import PRIVATE_KEY_NAME, algorithm_for_key, mint_token

Json = dict[str, Any]

REFUSED: Final = 2
UNREACHABLE: Final = 1

#: Scope of the native operations API (see ``parley.api.party.deps.OPERATE``).
OPERATE_SCOPE: Final = "parley.operations"
#: Lifetime of a development token minted for one command, seconds.
DEV_TOKEN_LIFETIME_S: Final = 600
#: How long to wait for a TCP connection to the node, seconds.
CONNECT_TIMEOUT_S: Final = 5.0


class Failure(Exception):
    """What went wrong, in one line, and the exit code it calls for."""

    def __init__(self, message: str, exit_code: int = REFUSED) -> None:
        super().__init__(message)
        self.message = " ".join(message.split())
        self.exit_code = exit_code


@dataclass(frozen=True, slots=True)
class Reply:
    """A JSON answer of the node: its status and body."""

    status: int
    body: Json


def node_url(value: str) -> httpx.URL:
    """The party node's base URL, e.g. ``http://127.0.0.1:8082/parties/red`` (checked)."""
    try:
        url = httpx.URL(value.strip().rstrip("/"))
    except httpx.InvalidURL as error:
        raise Failure(f"--node {value!r} is not a URL: {error}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise Failure(
            f"--node {value!r} is not an http(s) URL of a party node, e.g. http://127.0.0.1:8082/parties/red"
        )
    return url


def party_of(url: httpx.URL) -> str:
    """The party id a node URL ends with (``.../parties/red`` -> ``red``)."""
    segments = [s for s in url.path.split("/") if s]
    if not segments:
        raise Failure(f"cannot tell the party from --node {str(url)!r}: give --as SUB")
    return segments[-1]


def dev_token(url: httpx.URL, sub: str, data_dir: Path) -> str:
    """DEVELOPMENT ONLY: a token for ``sub`` signed with the dev key in ``data_dir``/dev-keys,
    addressed to the node's host name. The key must exist already (the server creates it): a key
    made here would not be trusted by the node."""
    key_path = data_dir / "dev-keys" / PRIVATE_KEY_NAME
    try:
        private_pem = key_path.read_bytes()
    except FileNotFoundError:
        raise Failure(
            f"no development key at {key_path}: give the server's --data-dir (it is made when a "
            "server with dev_auth starts), or a real token with --token"
        ) from None
    except OSError as error:
        raise Failure(f"cannot read the development key {key_path}: {error.strerror or error}") from None
    try:
        return mint_token(
            private_pem,
            sub=sub,
            scopes=[OPERATE_SCOPE],
            audience=url.host,
            lifetime_s=DEV_TOKEN_LIFETIME_S,
            algorithm=algorithm_for_key(private_pem),
        )
    except ValueError as error:
        raise Failure(f"cannot mint a development token: {error}") from None


@dataclass
class OpsClient:
    """Calls of one node's ``/ops/v1`` with one bearer token; a context manager (closes its
    connection pool)."""

    node: httpx.URL
    token: str
    timeout_s: float = 30.0
    transport: httpx.BaseTransport | None = None
    _http: httpx.Client = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._http = httpx.Client(
            base_url=f"{self.node}/ops/v1",
            headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json"},
            timeout=httpx.Timeout(self.timeout_s, connect=min(CONNECT_TIMEOUT_S, self.timeout_s)),
            transport=self.transport,
            follow_redirects=False,
        )

    def __enter__(self) -> OpsClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._http.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Json | None = None,
        params: dict[str, str] | None = None,
        conflict_ok: bool = False,
    ) -> Reply:
        """One call; a :class:`Failure` unless it succeeded (or, with ``conflict_ok``, answered
        409 with a conflict check, which the caller reports)."""
        try:
            response = self._http.request(method, path, json=body, params=params)
        except httpx.TimeoutException:
            raise Failure(
                f"the node at {self.node} did not answer within {self.timeout_s:g} s", UNREACHABLE
            ) from None
        except httpx.TransportError as error:
            raise Failure(
                f"cannot reach the node at {self.node}: {_transport_reason(error)}", UNREACHABLE
            ) from None
        payload = _json_object(response)
        status = response.status_code
        if payload is None:
            raise Failure(
                f"{method} {path}: the node answered {status} {response.reason_phrase} without the API's "
                f"JSON: is --node a party node URL (e.g. http://127.0.0.1:8082/parties/red)?",
                UNREACHABLE,
            )
        if 200 <= status < 300:
            return Reply(status, payload)
        if status == 409 and conflict_ok and isinstance(payload.get("check"), dict):
            return Reply(status, payload)
        raise _failure(method, path, status, payload, self.node)


def _json_object(response: httpx.Response) -> Json | None:
    try:
        payload = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


def _transport_reason(error: httpx.TransportError) -> str:
    reason = str(error) or type(error).__name__
    if isinstance(error, httpx.ConnectError):
        return f"connection failed ({reason})"
    return reason


def _failure(method: str, path: str, status: int, payload: Json, node: httpx.URL) -> Failure:
    message = str(payload.get("message") or payload.get("detail") or "no message")
    if status == 401:
        return Failure(f"the node refused the token (401): {message}")
    if status == 403:
        return Failure(f"not allowed (403): {message}")
    if status == 404 and message == "Not Found":
        return Failure(
            f"{method} {path}: no such API at {node}/ops/v1 (404): is --node a party node URL, "
            "e.g. http://127.0.0.1:8082/parties/red?"
        )
    if status >= 500:
        return Failure(f"the node failed ({status}): {message}", UNREACHABLE)
    return Failure(f"{message} ({status})")
