# Fixtures imported from tests.live are pytest fixtures: test arguments shadow them by design.
# ruff: noqa: F811
"""The details people expect from other chat apps, in a real browser: a code block's header names
its language beside Copy, and code execution's input and output have Copy too; Copy reply on a
cited answer copies its sources after the text; each message's time is in the browser's zone and
language; a message's actions are icons shown on hover or focus with a mouse, always on a touch
screen; ? or Ctrl+/ opens the keyboard shortcuts sheet, which Esc closes. Axe finds nothing
serious; screenshots at 1280 and 390 px, light and dark (test-results/details-*.png)."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from fakes import Cited, Code, FakeAnthropic, GroundedReply, Reply
from fakes import server_tools as fake_tools
from tests.helpers import login, serious_violations
from tests.live import ROOT, LiveApp, live_app, live_fake_api, open_new_chat, send_message  # noqa: F401 (pytest fixtures)

pytestmark = pytest.mark.browser
TIMEOUT = 30_000
SHOTS = ROOT / "test-results"
ZONE = "Asia/Kolkata"  # UTC+5:30: a time left in UTC would show half an hour off any UTC hour
FORECAST = fake_tools.search_result("https://weather.example/paris", "Paris forecast")


def answer() -> GroundedReply:
    return GroundedReply(
        [
            "Run this:\n\n```python\nprint('hello')\n```\n\n",
            Code("echo hello", "hello\n"),
            Cited("Rain on Monday.", [fake_tools.web_citation(FORECAST, "Heavy rain expected.")]),
        ]
    )


def new_page(browser: Browser, app: LiveApp, **options) -> Page:
    context = browser.new_context(bypass_csp=True, timezone_id=ZONE, locale="en-GB", **options)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    login(page, app)
    return page


def two_replies(page: Page, fake: FakeAnthropic):
    """A plain first reply, then a cited one with code and code execution; returns both."""
    fake.enqueue(Reply("Hello! Ask me anything."))
    open_new_chat(page)
    first = send_message(page, "Hi", click=True)
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    expect(first).to_have_attribute("data-status", "complete", timeout=TIMEOUT)
    page.get_by_role("checkbox", name="Code execution").check()  # sent with the next message
    fake.enqueue(answer())
    second = send_message(page, "Weather, and some code?", click=True)
    expect(second).to_have_attribute("data-status", "complete", timeout=TIMEOUT)
    return first, second


def clipboard(page: Page) -> str:
    return page.evaluate("navigator.clipboard.readText()")


def local_hh_mm(time_element) -> re.Pattern:
    """The moment's hour and minute in ZONE, 24-hour; the hour's leading zero is the browser's
    choice (Chromium 156 writes 00:09 as "0:09" in en-GB), so before 10:00 either shows."""
    moment = datetime.fromisoformat(time_element.get_attribute("datetime")).astimezone(ZoneInfo(ZONE))
    return re.compile(rf"^0?{moment.hour}:{moment.minute:02d}$")


def test_code_headers_copies_local_times_hover_actions_and_the_shortcut_sheet(
    browser: Browser, live_app: LiveApp, live_fake_api: FakeAnthropic
) -> None:
    live_fake_api.reset()
    page = new_page(browser, live_app, viewport={"width": 1280, "height": 900})
    first, second = two_replies(page, live_fake_api)

    # The fenced block's header: its language, and Copy.
    fenced = second.locator(".markdown pre")
    expect(fenced.locator(".code-lang")).to_have_text("python")
    fenced_copy = fenced.locator("button.copy")
    expect(fenced_copy).to_have_accessible_name("Copy code")
    fenced_copy.click()
    expect(fenced_copy).to_have_text("Copied")
    expect(fenced_copy).to_have_accessible_name("Copied")  # the name says what shows
    assert serious_violations(page) == []
    assert clipboard(page) == "print('hello')\n"
    # Code execution's input and output copy too; the input says its language.
    ran = second.locator(".block-code pre.code-input")
    expect(ran.locator(".code-lang")).to_have_text("bash")
    ran_copy = ran.locator("button.copy")
    ran_copy.click()
    expect(ran_copy).to_have_text("Copied")
    assert clipboard(page) == "echo hello"
    output_copy = second.get_by_role("button", name="Copy output")
    output_copy.click()
    expect(second.locator(".block-code-result pre button.copy")).to_have_text("Copied")
    assert clipboard(page) == "hello\n"
    expect(fenced_copy).to_have_text("Copy")  # a moment later, back as it was
    expect(fenced_copy).to_have_accessible_name("Copy code")

    # Copy reply on a cited answer: the text, then its sources, numbered.
    copy_reply = second.get_by_role("button", name="Copy reply")
    copy_reply.click()
    expect(copy_reply).to_have_class(re.compile(r"\bcopied\b"))
    copied = clipboard(page)
    assert copied.startswith("Run this:") and "Rain on Monday. [1]" in copied
    assert copied.endswith("Sources:\n\n[1] Paris forecast — <https://weather.example/paris>")

    # Times in the browser's zone (24-hour in en-GB), the full moment on hover.
    for message in [page.locator("[data-role=user]").first, first, second]:
        time = message.locator("time.message-time")
        expect(time).to_have_text(local_hh_mm(time))
        expect(time).to_have_attribute("title", re.compile(r"GMT\+5:30"))

    # Icons with names; on an older message they show on hover, on the newest always.
    older = first.get_by_role("button", name="Copy reply")
    expect(older).to_have_attribute("title", "Copy reply")
    expect(older).to_have_css("opacity", "0")
    expect(first.get_by_role("button", name="Regenerate")).to_have_css("opacity", "0")
    expect(copy_reply).to_have_css("opacity", "1")
    first.hover()
    expect(older).to_have_css("opacity", "1")
    expect(first.locator("time.message-time")).to_have_css("opacity", "1")
    page.mouse.move(0, 0)
    expect(older).to_have_css("opacity", "0")
    older.focus()  # a keyboard reaches them too
    expect(older).to_have_css("opacity", "1")
    SHOTS.mkdir(exist_ok=True)
    first.hover()
    page.screenshot(path=str(SHOTS / "details-1280.png"), full_page=True)

    # The shortcuts sheet: ? outside a text field; Esc closes it and the focus comes back.
    sheet = page.get_by_role("dialog", name="Keyboard shortcuts")
    copy_reply.focus()
    page.keyboard.press("?")
    expect(sheet).to_be_visible()
    expect(sheet).to_contain_text("Send the message")
    expect(sheet).to_contain_text("Stop the reply while it streams")
    assert serious_violations(page) == []
    page.screenshot(path=str(SHOTS / "details-1280-shortcuts.png"))
    page.keyboard.press("Escape")
    expect(sheet).to_be_hidden()
    expect(copy_reply).to_be_focused()
    composer = page.get_by_role("textbox", name="Message")
    composer.focus()
    page.keyboard.press("?")  # typed, in the message
    expect(composer).to_have_value("?")
    expect(sheet).to_be_hidden()
    page.keyboard.press("Control+/")  # from anywhere
    expect(sheet).to_be_visible()
    sheet.get_by_role("button", name="Close").click()
    expect(sheet).to_be_hidden()
    expect(composer).to_be_focused()

    page.emulate_media(color_scheme="dark")
    assert serious_violations(page) == []
    first.hover()
    page.screenshot(path=str(SHOTS / "details-1280-dark.png"), full_page=True)
    page.context.close()


def test_on_a_phone_the_actions_always_show_and_fit(
    browser: Browser, live_app: LiveApp, live_fake_api: FakeAnthropic
) -> None:
    live_fake_api.reset()
    page = new_page(browser, live_app, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    first, second = two_replies(page, live_fake_api)
    assert page.evaluate("matchMedia('(hover: none)').matches")
    for button in [
        first.get_by_role("button", name="Copy reply"),
        first.get_by_role("button", name="Regenerate"),
    ]:
        expect(button).to_have_css("opacity", "1")
        box = button.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390
    expect(first.locator("time.message-time")).to_have_css("opacity", "1")
    expect(page.locator("[data-role=user]").first.get_by_role("button", name="Edit")).to_have_css(
        "opacity", "1"
    )
    assert page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth") <= 0
    SHOTS.mkdir(exist_ok=True)
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        assert serious_violations(page) == []
        suffix = "" if scheme == "light" else "-dark"
        page.screenshot(path=str(SHOTS / f"details-390{suffix}.png"), full_page=True)
    page.context.close()
