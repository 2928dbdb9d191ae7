"""A server with the DSS and two party nodes (RED, BLUE) whose map pages have operators, run by
uvicorn in a thread; and Debian's chromium driven by Playwright (the browser tests)."""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from parley.api.ui.auth import hash_password
from parley.bootstrap import build_server
from parley.config import PartySettings, Settings, UiOperator
from parley.devtokens import ensure_dev_keys, mint_token
from parley.storage.sql import migrate
from parley.testing.postgres import free_port

CHROMIUM = os.environ.get("PARLEY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Where the browser tests leave screenshots for a person to look at.
SHOTS = Path(__file__).resolve().parents[2] / "tests" / "output" / "web"

PASSWORDS = {"red": ("rosa", "red-duty-officer-pw"), "blue": ("bill", "blue-duty-officer-pw")}


@dataclass
class UiServer:
    base: str
    private_key: bytes
    clients: list[httpx.Client] = field(default_factory=list)

    def page(self, party: str) -> str:
        return f"{self.base}/parties/{party}/ui/"

    def ops(self, party: str) -> httpx.Client:
        """The party's operator API with a (development) JWT, as its tools call it."""
        token = mint_token(
            self.private_key, sub=party, scopes=["parley.operations"], audience="127.0.0.1", lifetime_s=3600
        )
        client = httpx.Client(
            base_url=f"{self.base}/parties/{party}", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        self.clients.append(client)
        return client


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiServer]:
    root = tmp_path_factory.mktemp("ui")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(
        data_dir=root,
        dev_auth=True,
        host="127.0.0.1",
        port=port,
        public_url=base,
        cleanup_interval_s=0,
        parties=[
            PartySettings(
                id=party,
                name=party.upper(),
                roles=[
                    "strategic_coordination",
                    "constraint_management",
                    "constraint_processing",
                    "conformance_monitoring_sa",
                ],
                ui_operators=[UiOperator(name=name, password_hash=hash_password(password))],
            )
            for party, (name, password) in PASSWORDS.items()
        ],
    )
    migrate.upgrade(settings.effective_database_url)
    private_path, _ = ensure_dev_keys(settings.dev_key_dir)
    server = build_server(settings)
    config = uvicorn.Config(server.app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    runner = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(runner.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not runner.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    token = mint_token(private_path.read_bytes(), sub="test", scopes=["parley.line"], audience="127.0.0.1")
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as c:
        for party in PASSWORDS:  # each line registered with the shared service
            while c.get(f"/line/v1/registry/{party}").status_code != 200:
                assert time.monotonic() < deadline, f"{party}'s line did not register"
                time.sleep(0.05)
    ui = UiServer(base=base, private_key=private_path.read_bytes())
    try:
        yield ui
    finally:
        for client in ui.clients:
            client.close()
        runner.should_exit = True
        thread.join(30)
        server.store.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium, headless, driven by Playwright (no browser download)."""
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium; make system-deps)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
