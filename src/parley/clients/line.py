"""Clients of the line: the shared service's directory and witness (``{shared}/line/v1``), and
other party nodes' line peer API (``{party base URL}/line/v1``). Calls carry the node's tokens with
scope ``parley.line``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from parley.clients.utm import Json, UtmHttp

#: Scope of every line call between nodes and to the shared service.
LINE_SCOPE = "parley.line"


class DirectoryClient:
    """The shared service at ``base_url`` (the DSS host by default)."""

    def __init__(self, utm: UtmHttp, base_url: str) -> None:
        self.utm = utm
        self.base_url = base_url.rstrip("/")

    def _url(self, path: str) -> str:
        return f"{self.base_url}/line/v1/{path}"

    async def register(self, body: Json) -> Json:
        _, answer = await self.utm.call(
            "PUT",
            self._url(f"registry/{quote(str(body['party']), safe='')}"),
            [LINE_SCOPE],
            body=body,
            ok=(200, 201),
        )
        return dict(answer)

    async def lookup(self, party: str) -> Json:
        _, answer = await self.utm.call(
            "GET", self._url(f"registry/{quote(party, safe='')}"), [LINE_SCOPE], ok=(200,)
        )
        return dict(answer)

    async def witness(self, body: Json) -> Json:
        _, answer = await self.utm.call("POST", self._url("witness"), [LINE_SCOPE], body=body, ok=(200, 201))
        return dict(answer)

    async def service(self) -> Json:
        _, answer = await self.utm.call("GET", self._url("service"), [LINE_SCOPE], ok=(200,))
        return dict(answer)


class LinePeerClient:
    """Other party nodes' line peer API."""

    def __init__(self, utm: UtmHttp) -> None:
        self.utm = utm

    async def deliver(self, base_url: str, entries: list[Json]) -> Any:
        """POST entries; the answer lists the entries the peer signed in return (receipts)."""
        _, answer = await self.utm.call(
            "POST",
            f"{base_url.rstrip('/')}/line/v1/entries",
            [LINE_SCOPE],
            body={"entries": entries},
            ok=(200,),
        )
        return answer

    async def share_tracks(self, base_url: str, body: Json) -> None:
        """POST positions of this party's aircraft to a peer it shares its tracks with."""
        await self.utm.call(
            "POST", f"{base_url.rstrip('/')}/line/v1/tracks", [LINE_SCOPE], body=body, ok=(200, 202)
        )

    async def deliver_texts(
        self, base_url: str, entries: Sequence[str], evidence: Mapping[str, str] | None = None
    ) -> Any:
        """:meth:`deliver` of entries given as JSON texts (as stored: sent without parsing them),
        with the evidence of some (by entry hash: JSON texts, the track samples a certificate or
        an alarm commits to)."""
        extra = ""
        if evidence:
            extra = ',"evidence":{' + ",".join(f'"{h}":{text}' for h, text in evidence.items()) + "}"
        body = ('{"entries":[' + ",".join(entries) + "]" + extra + "}").encode()
        _, answer = await self.utm.call(
            "POST", f"{base_url.rstrip('/')}/line/v1/entries", [LINE_SCOPE], content=body, ok=(200,)
        )
        return answer
