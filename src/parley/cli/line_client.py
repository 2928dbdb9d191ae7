"""The HTTP side of ``parley line``: :class:`LineClient`, ``parley ops``' client aimed at a party
node's ``/line/v1`` (same token, errors and exit codes), and :func:`follow_events`, which reads the
node's server-sent events (``GET events``) with httpx streaming.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Final

import httpx

from parley.cli.ops_client import (
    CONNECT_TIMEOUT_S,
    UNREACHABLE,
    Failure,
    Json,
    OpsClient,
    Reply,
    _failure,
    _json_object,
    _transport_reason,
)

#: Path of the line's API under a party node's URL.
LINE_API: Final = "/line/v1"
#: Pause before reconnecting to the event stream when the node does not say (``retry``), seconds.
DEFAULT_RETRY_S: Final = 2.0


@dataclass
class LineClient(OpsClient):
    """Calls of one node's ``/line/v1`` with one bearer token (see :class:`OpsClient`)."""

    def __post_init__(self) -> None:
        self._http = httpx.Client(
            base_url=f"{self.node}{LINE_API}",
            headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json"},
            timeout=httpx.Timeout(self.timeout_s, connect=min(CONNECT_TIMEOUT_S, self.timeout_s)),
            transport=self.transport,
            follow_redirects=False,
        )

    def __enter__(self) -> LineClient:
        return self

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Json | None = None,
        params: dict[str, str] | None = None,
        conflict_ok: bool = False,
    ) -> Reply:
        try:
            return super().call(method, path, body=body, params=params, conflict_ok=conflict_ok)
        except Failure as failure:  # the shared messages name the ops API
            failure.message = failure.message.replace("/ops/v1", LINE_API)
            raise


@dataclass(frozen=True, slots=True)
class ServerEvent:
    """One server-sent event: its ``event`` name and its ``data`` parsed as JSON (else as text)."""

    name: str
    data: Json


async def _events(response: httpx.Response, on_retry: Callable[[float], None]) -> AsyncIterator[ServerEvent]:
    """The events of an ``text/event-stream`` response (WHATWG rules: fields per line, a blank
    line ends an event, ``:`` starts a comment)."""
    name = "message"
    data: list[str] = []
    async for line in response.aiter_lines():
        if not line:
            if data:
                text = "\n".join(data)
                try:
                    parsed = json.loads(text)
                except json.JSONDecodeError:
                    parsed = {"text": text}
                yield ServerEvent(name, parsed if isinstance(parsed, dict) else {"value": parsed})
            name, data = "message", []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
        elif field == "retry" and value.isdigit():
            on_retry(int(value) / 1000.0)


async def follow_events(
    node: httpx.URL,
    token: str,
    on_event: Callable[[ServerEvent], None],
    *,
    on_status: Callable[[str], None] = lambda _message: None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> None:
    """Follow ``GET {node}/line/v1/events`` until cancelled, calling ``on_event`` for each event.
    The stream is reopened (after the node's ``retry`` pause) when it ends or breaks once it has
    been open; a first connection that fails, or a refusal, is a :class:`Failure`."""
    retry_s = DEFAULT_RETRY_S
    connected = False

    def set_retry(seconds: float) -> None:
        nonlocal retry_s
        retry_s = seconds

    async with httpx.AsyncClient(
        base_url=f"{node}{LINE_API}",
        headers={"Authorization": f"Bearer {token}", "Accept": "text/event-stream"},
        timeout=httpx.Timeout(None, connect=CONNECT_TIMEOUT_S),
        transport=transport,
    ) as http:
        while True:
            try:
                async with http.stream("GET", "/events") as response:
                    if response.status_code != 200:
                        await response.aread()
                        payload = _json_object(response) or {"message": response.reason_phrase}
                        raise _failure("GET", "/events", response.status_code, payload, node)
                    connected = True
                    on_status(f"following {node}{LINE_API}/events")
                    async for event in _events(response, set_retry):
                        on_event(event)
                on_status(f"the stream ended; reconnecting in {retry_s:g} s")
            except httpx.TransportError as error:
                if not connected:
                    raise Failure(
                        f"cannot reach the node at {node}: {_transport_reason(error)}", UNREACHABLE
                    ) from None
                on_status(f"the stream broke ({_transport_reason(error)}); reconnecting in {retry_s:g} s")
            await asyncio.sleep(retry_s)
