# Fixtures imported from tests.live are pytest fixtures: test arguments shadow them by design.
# ruff: noqa: F811
"""Browser tests (Chromium via Playwright) for Temporary chat: chosen on the New chat page (which
then says what it means), the conversation says it is temporary, is not in the sidebar, and offers
no export or share. Screenshots at 1280 and 390 px, light and dark."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from fakes import FakeAnthropic, Reply
from tests.helpers import serious_violations, signed_in
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


def test_a_temporary_chat_says_so_and_is_not_listed_or_exported(
    browser, live_app: LiveApp, live_fake_api: FakeAnthropic
) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    for width, height in ((1280, 900), (390, 844)):
        for scheme in ("light", "dark"):
            page = signed_in(
                browser,
                live_app,
                "bob",
                viewport={"width": width, "height": height},
                color_scheme=scheme,
                axe=True,
            )
            open_new_chat(page)
            note = page.get_by_text("A temporary chat is not kept in your chats")
            expect(note).to_be_hidden()
            page.get_by_role("checkbox", name="Temporary chat").check()
            expect(note).to_be_visible()
            page.screenshot(path=SCREENSHOTS / f"temporary-new-{width}-{scheme}.png")
            assert serious_violations(page) == [], (width, scheme, "new")

            live_fake_api.enqueue(Reply("Nothing of this is kept."))
            reply = send_message(page, f"Off the record at {width} {scheme}", click=True)
            page.wait_for_url(re.compile(r"/c/\d+/$"))
            expect(reply).to_have_attribute("data-status", "complete", timeout=TIMEOUT)
            expect(page.get_by_text("Temporary chat · deleted when you leave")).to_be_visible()
            expect(page.get_by_role("checkbox", name="Temporary chat")).to_have_count(0)
            sidebar = page.locator(".conversation-list")
            expect(sidebar.get_by_text(f"Off the record at {width} {scheme}")).to_have_count(0)
            page.reload()  # a reload is no leaving: the chat is still there, still unlisted
            expect(page.get_by_text(f"Off the record at {width} {scheme}").first).to_be_visible()
            expect(sidebar.get_by_text(f"Off the record at {width} {scheme}")).to_have_count(0)
            page.locator(".conversation-actions summary").click()
            expect(page.get_by_text("A temporary chat is not exported or shared.")).to_be_visible()
            expect(page.get_by_role("link", name="Export as JSON")).to_have_count(0)
            page.screenshot(path=SCREENSHOTS / f"temporary-chat-{width}-{scheme}.png")
            assert serious_violations(page) == [], (width, scheme, "chat")
            page.context.close()
