# Fixtures imported from tests.live are pytest fixtures: test arguments shadow them by design.
# ruff: noqa: F811
"""Browser test (Chromium via Playwright) of memory: turned on, written by the tool in a chat,
then read, edited and cleared on the Memory page; screenshots at 1280 and 390 px, light and dark."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from fakes import FakeAnthropic, Reply
from tests.helpers import signed_in
from tests.live import LiveApp, live_app, live_fake_api, open_new_chat  # noqa: F401 (pytest fixtures)

pytestmark = pytest.mark.browser
TIMEOUT = 30_000
SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-results"
NOTE = "/memories/preferences/drinks-and-meetings.md"


def chat_that_writes_a_note(page: Page, fake: FakeAnthropic) -> None:
    text = "Prefers green tea to coffee.\nNo meetings before 10:00 on Mondays.\n"
    call = {
        "id": "toolu_mem1",
        "name": "memory",
        "input": {"command": "create", "path": NOTE, "file_text": text},
    }
    fake.enqueue(Reply("", tool_use=call, stop_reason="tool_use"), Reply("Noted for next time."))
    open_new_chat(page)
    page.get_by_label("Message").fill("Remember: green tea, and no meetings before ten on Mondays.")
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    expect(page.locator("[data-role=assistant]")).to_have_attribute(
        "data-status", "complete", timeout=TIMEOUT
    )
    expect(page.get_by_text("Tool call: memory")).to_be_visible()


def test_memory_page_turn_on_read_edit_and_clear(
    browser, live_app: LiveApp, live_fake_api: FakeAnthropic
) -> None:
    live_fake_api.reset()
    page = signed_in(browser, live_app)
    page.get_by_role("link", name="Memory", exact=True).click()
    expect(page.get_by_role("heading", name="Memory", exact=True)).to_be_visible()
    expect(page.get_by_text("Memory is off.")).to_be_visible()
    expect(page.get_by_text("Memory is empty.")).to_be_visible()
    page.get_by_label("Let Claude use memory in my chats").check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Memory is on.")).to_be_visible()

    chat_that_writes_a_note(page, live_fake_api)
    assert {"type": "memory_20250818", "name": "memory"} in live_fake_api.message_requests[0].body["tools"]

    page.get_by_role("link", name="Memory", exact=True).click()
    box = page.get_by_label(f"Contents of {NOTE}")
    expect(box).to_have_value("Prefers green tea to coffee.\nNo meetings before 10:00 on Mondays.\n")
    box.fill("Prefers green tea.\nNo meetings before 10:00 on Mondays or Fridays.")
    page.get_by_role("button", name=f"Save {NOTE}").click()
    expect(page.get_by_role("status").filter(has_text=f"Saved {NOTE}.")).to_be_visible()
    page.reload()
    expect(page.get_by_label(f"Contents of {NOTE}")).to_have_value(
        "Prefers green tea.\nNo meetings before 10:00 on Mondays or Fridays."
    )
    shoot(browser, live_app, "memory")

    page.get_by_text("Clear all memory…").click()
    page.get_by_role("button", name="Yes, clear my memory").click()
    expect(page.get_by_role("status").filter(has_text="Memory cleared.")).to_be_visible()
    expect(page.get_by_text("Memory is empty.")).to_be_visible()
    expect(page.get_by_label(f"Contents of {NOTE}")).to_have_count(0)
    page.context.close()


def shoot(browser: Browser, app: LiveApp, name: str) -> None:
    """The page at 1280 and 390 px, light and dark; nothing wider than the window."""
    SCREENSHOTS.mkdir(exist_ok=True)
    for width, height in [(1280, 800), (390, 844)]:
        for scheme in ["light", "dark"]:
            page = signed_in(browser, app, viewport={"width": width, "height": height}, color_scheme=scheme)
            page.goto(f"{app.url}/memory/")
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, (width, scheme, overflow)
            page.screenshot(path=SCREENSHOTS / f"{name}-{width}-{scheme}.png", full_page=True)
            page.context.close()
