# Fixtures imported from tests.live are pytest fixtures: test arguments shadow them by design.
# ruff: noqa: F811
"""Browser tests (Chromium via Playwright) for the context gauge under the message box: it follows
each reply's usage without a page load, and turns amber near the model's limit. Screenshots at
1280 and 390 px, light and dark."""

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


def test_the_gauge_follows_each_reply_and_turns_amber_near_the_limit(
    browser, live_app: LiveApp, live_fake_api: FakeAnthropic
) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    for width, height in ((1280, 900), (390, 844)):
        for scheme in ("light", "dark"):
            page = signed_in(
                browser,
                live_app,
                "alice",
                viewport={"width": width, "height": height},
                color_scheme=scheme,
                axe=True,
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


def test_a_full_window_offers_a_new_chat_from_a_summary(
    browser, live_app: LiveApp, live_fake_api: FakeAnthropic
) -> None:
    """One click: the New chat page with the summary in the message box, editable, then sent."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page = signed_in(browser, live_app, "bob", viewport={"width": 390, "height": 844}, axe=True)
    open_new_chat(page)
    live_fake_api.enqueue(Reply("Half an answer", stop_reason="model_context_window_exceeded"))
    reply = send_message(page, "Walk me through the whole codebase", click=True)
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    expect(reply).to_have_attribute("data-status", "complete", timeout=TIMEOUT)
    expect(reply.get_by_text("The conversation filled the model's context window")).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "window-full-390-light.png")
    live_fake_api.enqueue(Reply("We were reviewing the billing module; the tests came next."))
    with page.expect_navigation():
        reply.get_by_role("button", name="Continue in a new chat").click()
    box = page.get_by_role("textbox", name="Message")
    expect(box).to_have_value(re.compile(r"We were reviewing the billing module; the tests came next\.$"))
    expect(page.get_by_text("is in the message box: edit it as you like")).to_be_visible()
    assert serious_violations(page) == []
    page.screenshot(path=SCREENSHOTS / "window-full-new-chat-390-light.png")
    box.fill(box.input_value() + " Now write the tests.")
    live_fake_api.enqueue(Reply("Here are the tests."))
    fresh = send_message(page, box.input_value(), click=True)
    expect(fresh).to_have_attribute("data-status", "complete", timeout=TIMEOUT)
    sent = live_fake_api.message_requests[-1].body["messages"][-1]["content"][-1]["text"]
    assert sent.startswith("We are continuing an earlier conversation.") and sent.endswith(
        "Now write the tests."
    )
    page.context.close()
