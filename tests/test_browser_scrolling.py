# Fixtures imported from tests.live are pytest fixtures: test arguments shadow them by design.
# ruff: noqa: F811
"""Scrolling a long chat in a real browser: Scroll to bottom appears when the person scrolls up,
says when text streams in below, and takes them down; the conversation header stays in view (at
1280 and 390 px, under the phone's top bar); the banner about a lost socket shows wherever the
page is scrolled; and a tab whose person was deactivated, or signed out in another tab, says so,
offers no Send or Stop, and stops reconnecting. Axe finds nothing serious with the button shown;
screenshots at 1280 and 390 px, light and dark (/tmp/shots-item3/)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from fakes import Reply
from tests.helpers import login, serious_violations
from tests.live import LiveApp, live_app, live_fake_api, open_new_chat, send_message  # noqa: F401 (pytest fixtures)

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots-item3")
SENTENCE = "a sentence that fills the line with calm words, "
LONG = "\n\n".join(f"Paragraph {n}: " + SENTENCE * 6 for n in range(40))

# Every socket the page opens, kept in window.sockets; with window.refuseSockets set, new ones go
# to a port where nothing listens (a lost network, as the page sees it).
RECORD_SOCKETS = """
window.sockets = [];
window.WebSocket = class extends WebSocket {
  constructor(url, protocols) {
    super(window.refuseSockets ? "ws://127.0.0.1:9/" : url, protocols);
    window.sockets.push(this);
  }
};
"""


def scroll_button(page: Page):
    return page.get_by_role("button", name="Scroll to bottom")


def at_bottom(page: Page) -> bool:
    return page.evaluate("window.innerHeight + window.scrollY >= document.body.scrollHeight - 40")


def long_chat(page: Page, fake) -> str:
    """A chat whose first reply is many paragraphs long (streamed fast); its URL."""
    fake.reset()
    fake.enqueue(Reply(LONG, tokens_per_second=4000))
    open_new_chat(page)
    reply = send_message(page, "Tell me everything")
    expect(reply).to_have_attribute("data-status", "complete", timeout=30_000)
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    assert page.evaluate("document.body.scrollHeight") > 3 * page.viewport_size["height"]
    return page.url


def signed_in(browser: Browser, app: LiveApp, user: str = "alice", **options) -> Page:
    context = browser.new_context(bypass_csp=True, **options)  # CSP off for axe's script only
    context.set_default_timeout(15_000)
    context.add_init_script(RECORD_SOCKETS)
    page = context.new_page()
    login(page, app, user)
    return page


def test_scroll_to_bottom_shows_when_scrolled_up_marks_new_text_and_takes_you_down(
    browser: Browser, live_app: LiveApp, live_fake_api
):
    page = signed_in(browser, live_app)
    long_chat(page, live_fake_api)
    button = scroll_button(page)
    expect(button).to_be_hidden()  # at the end of the chat

    page.mouse.wheel(0, -1500)
    expect(button).to_be_visible()
    expect(button).to_have_accessible_name("Scroll to bottom")  # nothing new below yet
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    expect(button).to_be_hidden()

    live_fake_api.enqueue(Reply("Slow words arrive one by one " * 8, tokens_per_second=12, first_delay=1.0))
    reply = send_message(page, "And a slow one")
    expect(reply).to_have_attribute("data-status", "streaming")
    page.mouse.wheel(0, -2000)
    expect(button).to_be_visible()
    expect(button).to_have_accessible_name("Scroll to bottom · New text below")
    expect(page.locator("#announcer")).to_have_text("New text below")
    assert not at_bottom(page)

    button.click()
    expect(button).to_be_hidden()
    assert at_bottom(page)
    expect(reply).to_have_attribute("data-status", "complete", timeout=20_000)
    assert at_bottom(page), "it follows the reply to its end again"
    page.context.close()


@pytest.mark.parametrize("width,height", [(1280, 900), (390, 844)])
def test_a_link_to_a_message_lands_on_it_below_the_sticky_header(
    browser: Browser, live_app: LiveApp, live_fake_api, width, height
):
    """A search result links to #message-<id>: the page opens there, not at the end of the chat,
    with the message's top in view below the header (not under it)."""
    page = signed_in(browser, live_app, viewport={"width": width, "height": height})
    url = long_chat(page, live_fake_api)
    first = page.locator("[data-role=user]").first.get_attribute("id")
    live_fake_api.enqueue(Reply("A short answer."))
    reply = send_message(page, "And briefly?")
    expect(reply).to_have_attribute("data-status", "complete", timeout=30_000)
    page.goto(f"{url}#{first}")  # the same page: a hash change
    for _ in ("hash change", "page load"):
        expect(page.locator(f"#{first}")).to_have_class(re.compile(r"\blinked\b"))
        header = page.locator(".conversation-header").bounding_box()
        target = page.locator(f"#{first}").bounding_box()
        assert header and target
        assert header["y"] + header["height"] <= target["y"] < height / 2, (header, target)
        assert not at_bottom(page)
        expect(scroll_button(page)).to_be_visible()
        page.reload()
    page.context.close()


@pytest.mark.parametrize("width,height", [(1280, 900), (390, 844)])
def test_the_header_stays_in_view_and_the_button_shows_at_each_width(
    browser: Browser, live_app: LiveApp, live_fake_api, width, height
):
    """Screenshots, light and dark, scrolled up with the button showing; axe finds nothing serious."""
    SHOTS.mkdir(exist_ok=True)
    page = signed_in(browser, live_app, viewport={"width": width, "height": height})
    url = long_chat(page, live_fake_api)
    page.context.close()
    for scheme in ("light", "dark"):
        page = signed_in(browser, live_app, viewport={"width": width, "height": height}, color_scheme=scheme)
        page.goto(url)
        expect(page.locator("#messages")).to_have_attribute("data-socket", "open")
        assert at_bottom(page)
        header = page.locator(".conversation-header")
        top_bar = page.evaluate("document.querySelector('.sidebar').getBoundingClientRect().bottom")
        box = header.bounding_box()
        assert box and box["y"] >= (top_bar if width < 700 else 0) - 1, (box, top_bar)
        assert box["y"] + box["height"] <= height / 3, box
        # Nothing covers it: its title and its ⋯ menu are what is painted there.
        for part in ("#conversation-title", ".conversation-actions summary"):
            assert page.evaluate(
                """(sel) => { const el = document.querySelector(sel), r = el.getBoundingClientRect();
                    return el.contains(document.elementFromPoint(r.x + 4, r.y + r.height / 2)); }""",
                part,
            ), (part, width)
        page.mouse.wheel(0, -height)
        expect(scroll_button(page)).to_be_visible()
        assert header.bounding_box()["y"] >= (top_bar if width < 700 else 0) - 1
        button = scroll_button(page).bounding_box()
        assert button and 0 <= button["x"] and button["x"] + button["width"] <= width
        assert page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth") <= 0
        page.screenshot(path=SHOTS / f"scrolled-up-{width}-{scheme}.png")
        assert serious_violations(page) == [], (width, scheme)
        page.context.close()


def test_the_lost_connection_banner_shows_wherever_the_page_is_scrolled(
    browser: Browser, live_app: LiveApp, live_fake_api
):
    page = signed_in(browser, live_app)
    long_chat(page, live_fake_api)
    expect(page.locator("#messages")).to_have_attribute("data-socket", "open")
    page.evaluate("window.scrollTo(0, document.body.scrollHeight / 2)")
    expect(scroll_button(page)).to_be_visible()
    page.evaluate("window.refuseSockets = true; window.sockets.at(-1).close()")
    banner = page.get_by_role("alert").filter(has_text="Live updates are unavailable")
    expect(banner).to_be_visible(timeout=10_000)
    box = banner.bounding_box()
    assert box and 0 <= box["y"] and box["y"] + box["height"] <= page.viewport_size["height"], box
    page.screenshot(path=SHOTS / "connection-banner-1280-light.png")
    page.context.close()


def test_a_deactivated_account_is_told_it_was_signed_out(browser: Browser, live_app: LiveApp, live_fake_api):
    """bob (deactivated here, so the last to use him): his reply was streaming; the server
    closes his socket with 4401 within CHAT_ACCOUNT_CHECK_INTERVAL (3 s)."""
    page = signed_in(browser, live_app, "bob")
    live_fake_api.reset()
    live_fake_api.enqueue(Reply("A long and slow answer " * 40, tokens_per_second=5))
    open_new_chat(page)
    reply = send_message(page, "Take your time")
    expect(reply).to_have_attribute("data-status", "streaming")
    expect(page.get_by_role("button", name="Stop")).to_be_visible()

    live_app.manage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; "
        "get_user_model().objects.filter(username='bob').update(is_active=False)",
    )
    notice = page.get_by_role("alert").filter(has_text="You were signed out")
    expect(notice).to_be_visible(timeout=10_000)
    expect(notice.get_by_role("link", name="sign in again")).to_have_attribute(
        "href", re.compile(r"^/accounts/login/\?next=%2Fc%2F\d+%2F$")
    )
    expect(page.get_by_role("button", name="Send")).to_be_disabled()
    expect(page.get_by_role("button", name="Stop")).to_be_hidden()
    expect(page.locator("#connection-banner")).to_be_hidden()
    sockets = page.evaluate("window.sockets.length")
    time.sleep(2)  # a reconnect would have come by now (500 ms, then 1 s)
    assert page.evaluate("window.sockets.length") == sockets, "it reconnected"
    page.context.close()


def test_a_tab_signed_out_in_another_tab_says_so_when_its_socket_comes_back(
    browser: Browser, live_app: LiveApp, live_fake_api
):
    page = signed_in(browser, live_app)
    long_chat(page, live_fake_api)
    expect(page.locator("#messages")).to_have_attribute("data-socket", "open")
    other = page.context.new_page()
    other.goto(live_app.url + "/new/")
    other.get_by_role("button", name="Log out").click(force=True)  # in the drawer on a phone; here in view
    other.wait_for_url("**/accounts/login/**")

    page.evaluate("window.sockets.at(-1).close()")  # a network blip: it reconnects, signed out now
    notice = page.get_by_role("alert").filter(has_text="You were signed out")
    expect(notice).to_be_visible(timeout=10_000)
    expect(page.get_by_role("button", name="Send")).to_be_disabled()
    composer = page.get_by_role("textbox", name="Message")
    composer.fill("Still here")
    composer.press("Enter")
    expect(composer).to_have_value("Still here")
    page.context.close()
