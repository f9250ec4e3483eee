# Fixtures imported from tests.live are pytest fixtures: test arguments shadow them by design.
# ruff: noqa: F811
"""Browser tests (Chromium via Playwright) for what follows a failed reply: the page says that
Retry, or a new message, sends the unanswered question again; after a new message it says it went
with it (and offers no Retry there); a reply that failed with nothing has no Copy reply.
Screenshots at 1280 and 390 px, light and dark."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from fakes import FakeAnthropic, HttpError, Reply
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


def test_the_page_says_what_the_next_send_carries_after_a_failure(
    browser, live_app: LiveApp, live_fake_api: FakeAnthropic
) -> None:
    live_fake_api.reset()
    SCREENSHOTS.mkdir(exist_ok=True)
    for width, height, scheme in (
        (1280, 900, "light"),
        (1280, 900, "dark"),
        (390, 844, "light"),
        (390, 844, "dark"),
    ):
        page = signed_in(
            browser,
            live_app,
            "alice",
            viewport={"width": width, "height": height},
            color_scheme=scheme,
            axe=True,
        )
        open_new_chat(page)
        live_fake_api.enqueue(HttpError(400, message="Your request was refused."))
        failed = send_message(page, f"First question at {width} {scheme}", click=True)
        page.wait_for_url(re.compile(r"/c/\d+/$"))
        expect(failed).to_have_attribute("data-status", "error", timeout=TIMEOUT)
        note = failed.locator(".notice.unanswered")
        expect(note).to_have_text(
            "Retry sends this question again. A new message sends it too, before yours."
        )
        expect(failed.get_by_role("button", name="Retry")).to_be_visible()
        expect(failed.get_by_role("button", name="Copy reply")).to_have_count(0)
        page.screenshot(path=SCREENSHOTS / f"after-failure-{width}-{scheme}.png")
        assert serious_violations(page) == [], (width, scheme)

        live_fake_api.enqueue(Reply("Both questions answered."))
        answered = send_message(page, "Second question")
        expect(answered).to_have_attribute("data-status", "complete", timeout=TIMEOUT)
        expect(note).to_have_text("This question was sent again, before your next message.")
        expect(failed.get_by_role("button", name="Retry")).to_have_count(0)
        expect(answered.get_by_role("button", name="Copy reply")).to_have_count(1)
        turns = live_fake_api.message_requests[-1].body["messages"]
        texts = [block["text"] for block in turns[0]["content"] if block["type"] == "text"]
        assert len(turns) == 1 and texts == [f"First question at {width} {scheme}", "Second question"]
        page.context.close()
