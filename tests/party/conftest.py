"""An in-process world of party nodes: the DSS and three parties (red, blue, green) in one app, on
a migrated SQLite database, with real JWT verification (the dev key pair of a temporary data
directory). The nodes' outbound calls (to the DSS and to each other) go through an httpx client
whose transport is the app itself, so the whole F3548 exchange runs without a socket; the e2e
tests run the same over real HTTP.

``world.operator("red")`` gives headers for red's operations API; ``world.token(sub, *scopes)``
any other caller's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from parley.bootstrap import Server, build_server
from parley.config import PartySettings, Settings
from parley.devtokens import ensure_dev_keys, mint_token
from parley.storage.sql import migrate

HOST = "testserver"
ALL_ROLES = [
    "strategic_coordination",
    "constraint_management",
    "constraint_processing",
    "conformance_monitoring_sa",
]


class LateAsgiTransport(httpx.AsyncBaseTransport):
    """An ASGI transport whose app is given after the client was made (the app needs the client)."""

    def __init__(self) -> None:
        self.app: Any = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await httpx.ASGITransport(app=self.app).handle_async_request(request)


@dataclass
class World:
    client: TestClient
    server: Server
    settings: Settings
    private_pem: bytes

    def token(self, sub: str, *scopes: str) -> dict[str, str]:
        token = mint_token(self.private_pem, sub=sub, scopes=list(scopes), audience=HOST)
        return {"Authorization": f"Bearer {token}"}

    def operator(self, party: str) -> dict[str, str]:
        return self.token(party, "parley.operations")

    def ops_url(self, party: str, path: str = "") -> str:
        return f"/parties/{party}/ops/v1{path}"

    def uss_url(self, party: str, path: str = "") -> str:
        return f"/parties/{party}/uss/v1{path}"


def party_settings(**overrides: Any) -> list[PartySettings]:
    base = {
        "red": {"id": "red", "name": "Red air cell", "roles": ALL_ROLES, "nonconforming_recovery_s": 2.0},
        "blue": {"id": "blue", "name": "Blue drone services"},
        "green": {"id": "green", "name": "Green aid flights", "roles": ALL_ROLES},
    }
    for party, changes in overrides.items():
        base[party].update(changes)
    return [PartySettings(**p) for p in base.values()]


def make_world(tmp_path: Path, parties: list[PartySettings] | None = None) -> Iterator[World]:
    url = f"sqlite:///{tmp_path / 'parley.db'}"
    migrate.upgrade(url)
    settings = Settings(
        data_dir=tmp_path,
        database_url=url,
        dev_auth=True,
        public_url=f"http://{HOST}",
        cleanup_interval_s=0,
        parties=parties if parties is not None else party_settings(),
    )
    private_path, _ = ensure_dev_keys(settings.dev_key_dir)
    transport = LateAsgiTransport()
    http = httpx.AsyncClient(transport=transport)
    server = build_server(settings, http=http)
    transport.app = server.app
    try:
        with TestClient(server.app, base_url=f"http://{HOST}") as client:
            yield World(client, server, settings, private_path.read_bytes())
    finally:
        server.store.dispose()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path)


# -- volumes -------------------------------------------------------------------------------------


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def window(start_min: float = 5, minutes: float = 60) -> tuple[str, str]:
    now = datetime.now(UTC)
    return iso(now + timedelta(minutes=start_min)), iso(now + timedelta(minutes=start_min + minutes))


def square(lng: float, lat: float, size_deg: float = 0.01, **props: Any) -> dict[str, Any]:
    ring = [
        [lng, lat],
        [lng + size_deg, lat],
        [lng + size_deg, lat + size_deg],
        [lng, lat + size_deg],
        [lng, lat],
    ]
    return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}, "properties": props}


def circle(lng: float, lat: float, radius_m: float, **props: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lng, lat]},
        "properties": {"radius_m": radius_m, **props},
    }


def operation_body(
    *features: dict[str, Any],
    priority: int = 0,
    lower: float = 0.0,
    upper: float = 120.0,
    start_min: float = 5,
    minutes: float = 60,
    **extra: Any,
) -> dict[str, Any]:
    start, end = window(start_min, minutes)
    return {
        "priority": priority,
        "altitude_lower_m": lower,
        "altitude_upper_m": upper,
        "time_start": start,
        "time_end": end,
        "volumes": {"type": "FeatureCollection", "features": list(features)},
        **extra,
    }
