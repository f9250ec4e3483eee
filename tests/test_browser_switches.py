# Fixtures imported from tests.live are pytest fixtures: test arguments shadow them by design.
# ruff: noqa: F811
"""Browser tests (Chromium via Playwright) for the composer's switches: Web search, Thinking (with
its effort) and Code execution on the New chat page and in every conversation, only where the model
offers them; they apply to the next send without a page load, and the last choice starts the next
new chat. Screenshots at 1280 and 390 px, light and dark."""

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
SWITCHES = ("Web search", "Thinking", "Code execution")


def tool_types(body: dict) -> list[str]:
    return [tool.get("type", "custom") for tool in body.get("tools", [])]


def test_switches_follow_the_model_apply_without_a_page_load_and_are_remembered(
    browser, live_app: LiveApp, live_fake_api: FakeAnthropic
) -> None:
    live_fake_api.reset()
    page = signed_in(browser, live_app, "alice")
    open_new_chat(page)
    for name in SWITCHES:
        expect(page.get_by_role("checkbox", name=name)).to_be_visible()
        expect(page.get_by_role("checkbox", name=name)).not_to_be_checked()
    expect(page.get_by_role("combobox", name="Effort")).to_be_hidden()

    # Haiku 4.5 takes no thinking: its switch goes, and is not sent.
    page.get_by_role("checkbox", name="Thinking").check()
    page.get_by_role("combobox", name="Model").select_option("claude-haiku-4-5")
    expect(page.get_by_role("checkbox", name="Thinking")).to_be_hidden()
    expect(page.get_by_role("combobox", name="Effort")).to_be_hidden()
    expect(page.get_by_role("checkbox", name="Web search")).to_be_visible()
    expect(page.get_by_role("checkbox", name="Code execution")).to_be_visible()
    page.get_by_role("combobox", name="Model").select_option("claude-sonnet-4-6")
    expect(page.get_by_role("combobox", name="Effort")).to_be_visible()

    page.get_by_role("checkbox", name="Web search").check()
    page.get_by_role("combobox", name="Effort").select_option("high")
    live_fake_api.enqueue(Reply("Looked it up."))
    reply = send_message(page, "What is new today?", click=True)
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    expect(reply).to_have_attribute("data-status", "complete", timeout=TIMEOUT)
    body = live_fake_api.message_requests[-1].body
    assert "web_search_20260318" in tool_types(body)  # the first question of a chat can search
    assert body["thinking"]["type"] == "adaptive" and body["output_config"] == {"effort": "high"}

    # In the conversation: switched off for the next send, with no page load in between.
    page.evaluate("window.stillThisPage = true")
    expect(page.get_by_role("checkbox", name="Web search")).to_be_checked()
    page.get_by_role("checkbox", name="Web search").uncheck()
    page.get_by_role("checkbox", name="Code execution").check()
    live_fake_api.enqueue(Reply("Without searching."))
    reply = send_message(page, "And plainly?")
    expect(reply).to_have_attribute("data-status", "complete", timeout=TIMEOUT)
    body = live_fake_api.message_requests[-1].body
    assert "web_search_20260318" not in tool_types(body) and "code_execution_20260521" in tool_types(body)
    assert body["thinking"]["type"] == "adaptive"
    assert page.evaluate("window.stillThisPage") is True
    expect(page.get_by_role("combobox", name="Model")).to_have_count(0)  # in Settings now, not the composer

    # The last choice starts the next new chat.
    open_new_chat(page)
    expect(page.get_by_role("checkbox", name="Web search")).not_to_be_checked()
    expect(page.get_by_role("checkbox", name="Thinking")).to_be_checked()
    expect(page.get_by_role("checkbox", name="Code execution")).to_be_checked()
    expect(page.get_by_role("combobox", name="Effort")).to_have_value("high")
    page.reload()  # and it is the server's memory, not this page's
    expect(page.get_by_role("checkbox", name="Code execution")).to_be_checked()
    page.context.close()


def test_the_switches_fit_and_pass_axe_at_each_size_and_scheme(
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
            page.get_by_role("checkbox", name="Thinking").check()
            expect(page.get_by_role("combobox", name="Effort")).to_be_visible()
            for name in SWITCHES:
                box = page.get_by_role("checkbox", name=name).locator("xpath=..").bounding_box()
                assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, (name, width, box)
            assert page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth") <= 0, width
            # The message box starts as one line and grows with its text, up to about eight.
            box = page.get_by_role("textbox", name="Message")
            one_line = box.bounding_box()["height"]
            box.fill("\n".join(f"line {i}" for i in range(4)))
            four_lines = box.bounding_box()["height"]
            box.fill("\n".join(f"line {i}" for i in range(30)))
            many = box.bounding_box()["height"]
            assert one_line < 60 and four_lines > one_line + 40 and four_lines < many < 8 * 28, (
                one_line,
                four_lines,
                many,
            )
            box.fill("")
            page.screenshot(path=SCREENSHOTS / f"switches-{width}-{scheme}.png")
            assert serious_violations(page) == [], (width, scheme)
            page.context.close()
