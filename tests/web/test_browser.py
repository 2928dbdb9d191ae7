"""The map in a real browser (Debian's chromium, headless, driven by Playwright): sign-in, the
offline basemap with the party's operation, and the line worked live from BLUE's page while RED
sends through its API. Screenshots go to tests/output/web/ for a person to look at."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.web.conftest import PASSWORDS, SHOTS, UiServer
from tests.web.helpers import fly, vacate

pytestmark = pytest.mark.slow


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    said: list[str] = []
    ctx.on("console", lambda m: said.append(f"console {m.type}: {m.text}"))
    ctx.on("weberror", lambda e: said.append(f"error: {e.error}"))
    try:
        yield ctx
    finally:
        print("\n".join(said))  # shown when a test fails
        ctx.close()


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def _sign_in(page: Any, ui: UiServer, party: str, password: str | None = None) -> None:
    name, right = PASSWORDS[party]
    page.goto(ui.page(party))
    page.wait_for_selector("#signin:not([hidden])")
    page.fill("#signin-name", name)
    page.fill("#signin-password", password or right)
    page.click("#signin-submit")


def _offline(context: Any, ui: UiServer) -> list[str]:
    """Refuse every request that leaves the node (the basemap must need none); what was tried."""
    tried: list[str] = []

    def route(r: Any) -> None:
        if r.request.url.startswith(ui.base):
            r.continue_()
        else:
            tried.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    return tried


def test_sign_in_refuses_a_wrong_password_and_enforces_csrf(ui_server: UiServer, context: Any) -> None:
    page = context.new_page()
    _sign_in(page, ui_server, "red", password="not-the-password")
    page.wait_for_selector("#signin-error:not(:empty)")
    assert "wrong name or password" in page.inner_text("#signin-error")
    assert page.is_hidden("#app")
    _shot(page, "01-sign-in-refused")
    page.fill("#signin-password", PASSWORDS["red"][1])
    page.click("#signin-submit")
    page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    cookies = {c["name"]: c for c in context.cookies()}
    session = cookies["parley_ui_session"]
    assert session["httpOnly"] and session["secure"] and session["sameSite"] == "Strict"
    assert session["path"] == "/parties/red/ui"
    # An action without the CSRF header is refused, with it (and the session) it reaches the node.
    base = f"{ui_server.page('red')}api"
    thread = "00000000-0000-4000-8000-000000000000"
    refused = context.request.post(f"{base}/threads/{thread}/withdraw", data={})
    assert refused.status == 403 and "CSRF" in refused.json()["message"]
    csrf = cookies["parley_ui_csrf"]["value"]
    wrong = context.request.post(f"{base}/threads/{thread}/withdraw", data={}, headers={"X-CSRF-Token": "x"})
    assert wrong.status == 403
    allowed = context.request.post(
        f"{base}/threads/{thread}/withdraw", data={}, headers={"X-CSRF-Token": csrf}
    )
    assert allowed.status == 404, allowed.text()  # past the session and CSRF checks: no such thread
    # Another party's page does not take this session.
    assert context.request.get(f"{ui_server.page('blue')}api/session").status == 401


def test_the_map_shows_the_offline_basemap_and_the_partys_operation(
    ui_server: UiServer, context: Any
) -> None:
    tried = _offline(context, ui_server)
    fly(ui_server.ops("blue"), "blue-map")
    page = context.new_page()
    _sign_in(page, ui_server, "blue")
    page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    page.wait_for_selector("body[data-operations]:not([data-operations='0'])")
    page.wait_for_selector("body[data-tracks]:not([data-tracks='0'])")
    # The basemap rendered (countries and places are in the map's style) and the volume is on the map.
    rendered = page.evaluate(
        """() => {
        const canvas = document.querySelector('#map canvas');
        return {w: canvas.width, h: canvas.height};
    }"""
    )
    assert rendered["w"] > 500 and rendered["h"] > 500
    _shot(page, "02-blue-map-offline")
    page.wait_for_selector(".label.place", timeout=10_000)
    page.wait_for_selector(".label.track", timeout=10_000)
    assert "blue-map" in page.inner_text("#map")
    for layer in (
        "operations",
        "reservations",
        "others",
        "protected",
        "requested",
        "exits",
        "tracks",
        "places",
    ):
        assert page.is_checked(f"#layer-{layer}")
    time.sleep(0.5)
    _shot(page, "02-blue-map-offline")
    page.uncheck("#layer-operations")
    assert page.evaluate("() => true")
    page.check("#layer-operations")
    assert tried == [], f"the page reached outside the node: {tried[:5]}"


def test_a_request_from_red_appears_live_on_blues_page_and_accepting_it_changes_reds(
    ui_server: UiServer, context: Any, browser: Any
) -> None:
    blue_ops = ui_server.ops("blue")
    red_ops = ui_server.ops("red")
    fly(blue_ops, "blue-line", alt_m=5_000)
    page = context.new_page()
    _sign_in(page, ui_server, "blue")
    page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    page.wait_for_selector("#live.on", timeout=10_000)
    # RED's duty officer watches its own page in another browser.
    red_context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        red_page = red_context.new_page()
        _sign_in(red_page, ui_server, "red")
        red_page.wait_for_selector("body[data-ready=true]", timeout=30_000)
        sent = vacate(red_ops)
        thread = sent["id"]
        item = f"#inbox li[data-thread='{thread}']"
        page.wait_for_selector(item, timeout=10_000)  # pushed: the page does not poll
        assert "Clear the assault area" in page.inner_text(item)
        assert "left" in page.inner_text(f"{item} .countdown")
        page.click(f"{item} button[data-action=impact]")
        page.wait_for_selector("#impact-aircraft li", timeout=30_000)
        assert "inside now" in page.inner_text("#impact-aircraft")
        time.sleep(0.5)
        _shot(page, "03-blue-inbox-impact")
        page.click(f"{item} button[data-action=accept]")
        page.wait_for_selector(f"{item} .status-accepted", timeout=30_000)
        # RED's node holds the acceptance, and RED's page shows it live.
        deadline = time.monotonic() + 30
        while red_ops.get(f"/line/v1/threads/{thread}").json()["legs"]["blue"]["status"] != "accepted":
            assert time.monotonic() < deadline, "RED never learnt of the acceptance"
            time.sleep(0.2)
        red_item = f"#outbox li[data-thread='{thread}']"
        red_page.wait_for_selector(f"{red_item} .status-accepted", timeout=10_000)
        time.sleep(0.5)
        _shot(page, "04-blue-accepted")
        _shot(red_page, "05-red-sees-accepted")
    finally:
        red_context.close()
