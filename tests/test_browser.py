# Fixtures imported from tests.live are pytest fixtures: test arguments shadow them by design.
# ruff: noqa: F811
"""Real-browser tests: Chromium (Playwright) against the real app served by daphne in a subprocess.

The app runs in its own process with its own database (tests/live.py), so nothing here touches the
test database. Replies come from the fake Anthropic server, except in the embedded-model test.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from fakes import FakeAnthropic, Reply
from tests.helpers import login
from tests.live import (  # noqa: F401 (pytest fixtures)
    LiveApp,
    embedded_model,
    live_app,
    live_app_embedded,
    live_fake_api,
    open_new_chat,
)

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ASSISTANT = "[data-role=assistant]"
CONVERSATION_URL = re.compile(r"/c/\d+/$")
STREAM_TIMEOUT = 30_000


def long_text(words: int, tag: str) -> str:
    """Plain prose (no markdown syntax), so the rendered text equals the streamed text."""
    return " ".join(f"{tag}{i}" for i in range(words)) + "."


def squash(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def api(live_fake_api: FakeAnthropic) -> FakeAnthropic:
    """The module's fake API with an empty script queue and request log."""
    live_fake_api.reset()
    return live_fake_api


def start_chat(page: Page, text: str) -> None:
    """From anywhere in the app: New chat, type, Enter; returns once on the conversation page."""
    open_new_chat(page)
    page.wait_for_url(re.compile(r"/new/$"))
    composer = page.get_by_role("textbox", name="Message")
    composer.fill(text)
    composer.press("Enter")
    page.wait_for_url(CONVERSATION_URL)


def reply_text(page: Page, index: int = -1) -> str:
    return squash(page.locator(ASSISTANT).nth(index).locator(".blocks").inner_text())


def wait_for_partial_text(page: Page) -> str:
    """Wait until the last reply shows text or stops streaming; assert it showed text while streaming."""
    seen = page.wait_for_function(
        """(sel) => {
            const all = document.querySelectorAll(sel);
            const el = all[all.length - 1];
            if (!el) return false;
            const text = el.querySelector(".blocks").innerText.trim();
            return text.length > 0 || el.dataset.status !== "streaming"
                ? { status: el.dataset.status, text: text }
                : false;
        }""",
        arg=ASSISTANT,
        timeout=STREAM_TIMEOUT,
    ).json_value()
    assert seen["status"] == "streaming", (
        f"no text was shown while streaming; the reply went {seen['status']!r} with {seen['text'][:60]!r}…"
    )
    return squash(seen["text"])


def expect_reply(
    page: Page, status: str, text: str | None = None, index: int = -1, timeout: float = STREAM_TIMEOUT
) -> None:
    reply = page.locator(ASSISTANT).nth(index)
    expect(reply).to_have_attribute("data-status", status, timeout=timeout)
    if text is not None:
        assert reply_text(page, index) == squash(text)


# --------------------------------------------------------------------------- tests


def test_send_streams_then_persists(page: Page, live_app: LiveApp, api: FakeAnthropic) -> None:
    full = long_text(120, "alpha")  # ~4 s at 30 tokens/s
    api.enqueue(Reply(full, tokens_per_second=30))
    login(page, live_app)

    open_new_chat(page)
    expect(page.get_by_role("combobox", name="Model")).to_have_value("claude-sonnet-4-6")
    composer = page.get_by_role("textbox", name="Message")
    composer.fill("Tell me a long story")
    composer.press("Enter")
    page.wait_for_url(CONVERSATION_URL)

    # The reply is visibly streaming: partial text, status streaming, Stop offered.
    partial = wait_for_partial_text(page)
    assert 0 < len(partial) < len(full)
    assert squash(full).startswith(partial), partial
    expect(page.get_by_role("button", name="Stop")).to_be_visible()

    expect_reply(page, "complete", full)
    expect(page.get_by_role("button", name="Stop")).to_be_hidden()
    expect(page.locator("[data-role=user]")).to_have_count(1)
    assert "Tell me a long story" in page.locator("[data-role=user]").inner_text()

    page.reload()
    expect_reply(page, "complete", full)
    expect(page.locator(ASSISTANT)).to_have_count(1)

    # Shift+Enter is a newline; Enter then sends both lines as one message.
    composer = page.get_by_role("textbox", name="Message")
    composer.click()
    composer.press_sequentially("line one")
    composer.press("Shift+Enter")
    composer.press_sequentially("line two")
    expect(composer).to_have_value("line one\nline two")
    composer.press("Enter")
    expect(page.locator("[data-role=user]")).to_have_count(2)
    expect(page.locator(ASSISTANT)).to_have_count(2)  # before waiting on the last reply: the new one
    expect(composer).to_have_value("")
    expect_reply(page, "complete", "Echo: line one\nline two", index=1)
    assert len(api.message_requests) == 2


def test_stop_keeps_partial_text(page: Page, live_app: LiveApp, api: FakeAnthropic) -> None:
    full = long_text(300, "beta")  # ~10 s at 30 tokens/s
    api.enqueue(Reply(full, tokens_per_second=30))
    login(page, live_app)
    start_chat(page, "Ramble on, please")

    wait_for_partial_text(page)
    page.get_by_role("button", name="Stop").click()
    expect_reply(page, "stopped")
    kept = reply_text(page)
    assert 0 < len(kept) < len(squash(full))
    assert squash(full).startswith(kept), kept
    expect(page.get_by_role("button", name="Stop")).to_be_hidden()
    expect(page.get_by_role("button", name="Retry")).to_be_visible()

    page.reload()
    expect_reply(page, "stopped", kept)
    expect(page.get_by_role("button", name="Stop")).to_be_hidden()
    expect(page.get_by_role("button", name="Retry")).to_be_visible()
    # Stopping also hung up on the API: it did not stream the rest of the reply.
    assert len(api.replies[-1].text_sent) < len(full)


def test_empty_and_oversized_messages(page: Page, live_app: LiveApp, api: FakeAnthropic) -> None:
    login(page, live_app)
    open_new_chat(page)
    page.wait_for_url(re.compile(r"/new/$"))
    conversations_before = page.locator(".conversation-list a").count()
    composer = page.get_by_role("textbox", name="Message")
    send = page.get_by_role("button", name="Send")
    alert = page.locator("#composer-error")

    send.click()
    expect(alert).to_contain_text("Type a message first")
    alert.evaluate("el => { el.innerHTML = ''; }")  # else the next check passes on this message
    composer.fill("   \n  ")
    composer.press("Enter")
    expect(alert).to_contain_text("Type a message first")

    too_long = "x" * 100_001
    composer.fill(too_long)
    send.click()
    expect(alert).to_contain_text("100,001")
    expect(alert).to_contain_text("limit is 100,000")
    assert composer.input_value() == too_long

    # The server enforces the same limit (here with the browser-side check turned off).
    alert.evaluate("el => { el.innerHTML = ''; }")
    page.evaluate(
        """() => document.addEventListener("htmx:confirm", (e) => e.stopPropagation(), { capture: true })"""
    )
    with page.expect_response(lambda r: r.url.endswith("/new/start/")) as response:
        send.click()
    assert response.value.status == 422
    expect(alert).to_contain_text("limit is 100,000")
    assert composer.input_value() == too_long

    # Nothing was created: still on the new-chat page, no new conversation, no API call.
    assert page.url.endswith("/new/")
    page.reload()
    expect(page.locator(".conversation-list a")).to_have_count(conversations_before)
    assert api.message_requests == []


def test_closing_the_tab_does_not_stop_the_reply(
    page: Page,
    live_app: LiveApp,
    api: FakeAnthropic,
) -> None:
    full = long_text(120, "gamma")  # ~4 s at 30 tokens/s
    api.enqueue(Reply(full, tokens_per_second=30))
    login(page, live_app)
    start_chat(page, "Keep going without me")
    wait_for_partial_text(page)
    url = page.url
    context = page.context
    page.close()

    second = context.new_page()
    second.goto(url)
    # It shows the reply (a snapshot mid-stream, or already complete) and ends complete.
    expect(second.locator(f"{ASSISTANT} .blocks")).not_to_have_text("", timeout=STREAM_TIMEOUT)
    expect_reply(second, "complete", full)
    assert api.replies[-1].text_sent == full


def test_other_user_gets_404(browser, live_app: LiveApp, api: FakeAnthropic) -> None:
    api.enqueue(Reply("Private answer for alice."))
    alice = browser.new_context().new_page()
    bob = browser.new_context().new_page()
    try:
        login(alice, live_app, "alice")
        start_chat(alice, "A secret question")
        expect_reply(alice, "complete", "Private answer for alice.")
        url = alice.url
        conversation_path = url.removeprefix(live_app.url)

        login(bob, live_app, "bob")
        response = bob.goto(url)
        assert response is not None and response.status == 404
        assert "Private answer" not in bob.content()
        # The websocket refuses him too (closed with 4404).
        code = bob.evaluate(
            """(path) => new Promise((resolve) => {
                const ws = new WebSocket("ws://" + location.host + "/ws" + path);
                ws.onclose = (event) => resolve(event.code);
                setTimeout(() => resolve("still open after 10 s"), 10000);
            })""",
            conversation_path,
        )
        assert code == 4404
        bob.goto(f"{live_app.url}/new/")
        expect(bob.locator(".conversation-list")).not_to_contain_text("A secret question")
    finally:
        alice.context.close()
        bob.context.close()


def test_phone_width(browser, live_app: LiveApp, api: FakeAnthropic) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    phone = context.new_page()
    try:
        login(phone, live_app)
        new_chat = phone.get_by_role("link", name="New chat")
        expect(new_chat).to_be_in_viewport()
        new_chat.tap()
        phone.wait_for_url(re.compile(r"/new/$"))

        composer = phone.get_by_role("textbox", name="Message")
        send = phone.get_by_role("button", name="Send")
        for element in (composer, send):
            element.scroll_into_view_if_needed()
            expect(element).to_be_in_viewport()
            # Within the 390 px page itself, not only after scrolling sideways to it.
            left, right = element.evaluate(
                "el => { const r = el.getBoundingClientRect(); return [r.left, r.right]; }"
            )
            left, right = left + phone.evaluate("scrollX"), right + phone.evaluate("scrollX")
            assert left >= 0 and right <= 390, f"{element} spans x {left:.0f}..{right:.0f} on a 390 px screen"
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390, "the page scrolls sideways"

        composer.tap()
        composer.fill("Hello from a phone")
        send.tap()
        phone.wait_for_url(CONVERSATION_URL)
        expect_reply(phone, "complete", "Echo: Hello from a phone")
        composer = phone.get_by_role("textbox", name="Message")
        composer.scroll_into_view_if_needed()
        expect(composer).to_be_in_viewport()
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390, "the page scrolls sideways"
    finally:
        context.close()


# In the page's own clock: Enter's keydown, then the first mutation that shows the reply's text.
TIME_THE_NEXT_REPLY = """(index) => {
    window.sendAt = window.shownAt = null;
    const input = document.getElementById("message-input");
    input.addEventListener("keydown", (e) => { if (e.key === "Enter") window.sendAt = performance.now(); },
                           { capture: true, once: true });
    new MutationObserver((_, observer) => {
        const el = document.querySelectorAll("[data-role=assistant]")[index];
        if (el && el.querySelector(".blocks").innerText.trim()) {
            window.shownAt = performance.now();
            observer.disconnect();
        }
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
}"""


def first_text_ms(page: Page, text: str, index: int) -> float:
    """Send `text` and return the ms from Enter to the reply's first text on screen (over the
    open socket: a send by POST from the new-chat page loads a new page, which has no timer)."""
    expect(page.locator("#messages")).to_have_attribute("data-socket", "open")
    page.evaluate(TIME_THE_NEXT_REPLY, index)
    composer = page.get_by_role("textbox", name="Message")
    composer.fill(text)
    composer.press("Enter")
    page.wait_for_function("() => typeof window.shownAt === 'number'", timeout=60_000)
    # The end only has to come: the embedded model's pace is the CPU's (a busy machine halves it).
    expect_reply(page, "complete", index=index, timeout=120_000)
    assert reply_text(page, index), "the embedded model answered with no text"
    return page.evaluate("window.shownAt - window.sendAt")


@pytest.mark.embedded
def test_embedded_model_first_token(page: Page, live_app_embedded: LiveApp) -> None:
    """With the model warm, a new chat over the page's socket (no page load) and a follow-up."""
    login(page, live_app_embedded)
    open_new_chat(page)
    first_text_ms(page, "Warm up", 0)  # the first request loads the model's weights into memory
    open_new_chat(page)
    page.evaluate("window.samePage = true")
    new_chat_ms = first_text_ms(page, "Say hello", 0)
    assert page.evaluate("window.samePage") is True and CONVERSATION_URL.search(page.url)
    follow_up_ms = first_text_ms(page, "Say hello again", 1)

    lines = [
        f"embedded TTFT in browser, new chat, model warm: {new_chat_ms:.0f} ms (Enter to first text)",
        f"embedded TTFT in browser, follow-up message: {follow_up_ms:.0f} ms",
    ]
    print("\n" + "\n".join(lines))
    out = ROOT / "test-results" / "embedded_ttft.txt"
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(lines) + f"\nmeasured {time.strftime('%Y-%m-%d %H:%M:%S')}\n")


def test_retry_streams_again(page: Page, live_app: LiveApp, api: FakeAnthropic) -> None:
    first, second = long_text(300, "delta"), long_text(120, "epsilon")
    api.enqueue(Reply(first, tokens_per_second=30), Reply(second, tokens_per_second=30))
    login(page, live_app)
    start_chat(page, "Try, stop, try again")
    wait_for_partial_text(page)
    page.get_by_role("button", name="Stop").click()
    expect_reply(page, "stopped")

    page.get_by_role("button", name="Retry").click()
    expect(page.locator(ASSISTANT)).to_have_attribute("data-status", "streaming")
    expect(page.get_by_role("button", name="Stop")).to_be_visible()
    # The retried reply streams visibly, like any other (not only its final text at the end).
    partial = wait_for_partial_text(page)
    assert squash(second).startswith(partial), partial
    expect_reply(page, "complete", second)
    expect(page.locator(ASSISTANT)).to_have_count(1)
    page.reload()
    expect_reply(page, "complete", second)
