# Fixtures imported from tests.live are pytest fixtures: test arguments shadow them by design.
# ruff: noqa: F811
"""Browser tests (Chromium via Playwright) for the context gauge under the message box: it follows
each reply's usage without a page load, and turns amber near the model's limit. Screenshots at
1280 and 390 px, light and dark."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from fakes import FakeAnthropic, Reply
from tests.helpers import login, serious_violations
from tests.live import (  # noqa: F401 (pytest fixtures)
    ROOT,
    LiveApp,
    live_app,
    live_fake_api,
    open_new_chat,
    send_message,
)

pytestmark = pytest.mark.browser
TIMEOUT = 30_000
SCREENSHOTS = ROOT / "test-results"


def new_page(browser: Browser, app: LiveApp, user: str, **options) -> Page:
    page = browser.new_context(bypass_csp=True, **options).new_page()  # CSP off for axe's script only
    page.set_default_timeout(15_000)
    login(page, app, user)
    return page


def test_the_gauge_follows_each_reply_and_turns_amber_near_the_limit(
    browser, live_app: LiveApp, live_fake_api: FakeAnthropic
) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    for width, height in ((1280, 900), (390, 844)):
        for scheme in ("light", "dark"):
            page = new_page(
                browser, live_app, "alice", viewport={"width": width, "height": height}, color_scheme=scheme
            )
            open_new_chat(page)
            live_fake_api.enqueue(Reply("A short answer.", input_tokens=20_000))
            reply = send_message(page, f"Gauge at {width} {scheme}", click=True)
            page.wait_for_url(re.compile(r"/c/\d+/$"))
            expect(reply).to_have_attribute("data-status", "complete", timeout=TIMEOUT)
            page.reload()  # the gauge is the conversation page's
            gauge = page.locator("#context-gauge")
            expect(gauge).to_contain_text("10% of 200,000 tokens")
            expect(gauge).not_to_have_class(re.compile(r"\bwarn\b"))

            page.evaluate("window.stillThisPage = true")
            live_fake_api.enqueue(Reply("A long context now.", input_tokens=170_000))
            reply = send_message(page, "And again")
            expect(reply).to_have_attribute("data-status", "complete", timeout=TIMEOUT)
            expect(page.locator("#context-gauge")).to_contain_text("85% of 200,000 tokens", timeout=TIMEOUT)
            expect(page.locator("#context-gauge")).to_have_class(re.compile(r"\bwarn\b"))
            expect(page.locator("#context-gauge")).to_contain_text("nearly full")
            assert page.evaluate("window.stillThisPage") is True
            meter = page.get_by_role("meter", name="Context window used")
            expect(meter).to_have_attribute("value", re.compile(r"^17\d{4}$"))
            box = page.locator("#context-gauge").bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= width
            page.screenshot(path=SCREENSHOTS / f"gauge-{width}-{scheme}.png")
            assert serious_violations(page) == [], (width, scheme)
            page.context.close()
