# Fixtures imported from tests.live are pytest fixtures: test arguments shadow them by design.
# ruff: noqa: F811
"""Browser tests (Chromium via Playwright) for images and PDFs by link: a pasted https:// link to
an image or a PDF is offered as an attachment (Attach from link), becomes a chip that can be
removed, and goes in the request as a `url` source; the message shows it as a link, never loading
it. Screenshots at 1280 and 390 px, light and dark."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

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
PHOTO = "https://images.example.org/cats/tabby%20cat.jpg"
REPORT = "https://docs.example.org/reports/annual-report-2026.pdf"


def paste(page: Page, text: str) -> None:
    """Paste `text` into the message box at its caret, as the browser does for a text paste."""
    page.get_by_role("textbox", name="Message").focus()
    page.evaluate(
        """(text) => {
            const box = document.getElementById("message-input");
            const data = new DataTransfer();
            data.setData("text/plain", text);
            const paste = new ClipboardEvent("paste", {clipboardData: data, bubbles: true, cancelable: true});
            if (box.dispatchEvent(paste)) {
                box.setRangeText(text, box.selectionStart, box.selectionEnd, "end");
                box.dispatchEvent(new Event("input", {bubbles: true}));
            }
        }""",
        text,
    )


def test_a_pasted_link_is_attached_from_the_link_sent_as_a_url_source_and_shown_as_a_link(
    browser, live_app: LiveApp, live_fake_api: FakeAnthropic
) -> None:
    live_fake_api.reset()
    page = signed_in(browser, live_app, "alice")
    open_new_chat(page)
    box = page.get_by_role("textbox", name="Message")
    box.fill("A web page stays text: ")
    paste(page, "https://example.org/about.html")
    expect(page.get_by_role("button", name="Attach from link")).to_have_count(0)

    box.fill("What breed is this? ")
    paste(page, PHOTO)
    attach = page.get_by_role("button", name="Attach from link")
    expect(attach).to_have_count(1)
    expect(box).to_have_value(f"What breed is this? {PHOTO}")  # the link stays until attached
    attach.click()
    expect(box).to_have_value("What breed is this?")
    chips = page.locator("#attachment-list .attachment")
    expect(chips).to_have_count(1)
    expect(chips.first).to_contain_text("Image link · images.example.org · tabby cat.jpg")

    # A second link, attached then removed, like a file.
    paste(page, f" {REPORT}")
    page.get_by_role("button", name="Attach from link").click()
    expect(chips).to_have_count(2)
    expect(chips.nth(1)).to_contain_text("PDF link · docs.example.org · annual-report-2026.pdf")
    page.get_by_role("button", name="Remove annual-report-2026.pdf").click()
    expect(chips).to_have_count(1)

    live_fake_api.enqueue(Reply("A tabby."))
    reply = send_message(page, box.input_value(), click=True)
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    expect(reply).to_have_attribute("data-status", "complete", timeout=TIMEOUT)
    expect(chips).to_have_count(0)
    body = live_fake_api.message_requests[-1].body
    assert body["messages"][0]["content"] == [
        {"type": "image", "source": {"type": "url", "url": PHOTO}},
        {"type": "text", "text": "What breed is this?", "cache_control": {"type": "ephemeral"}},
    ]

    link = page.locator("[data-role=user] .block-link")
    expect(link).to_have_text("Image link · images.example.org · tabby cat.jpg")
    expect(link).to_have_attribute("href", PHOTO)
    expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
    assert page.locator("img[src^='http']").count() == 0  # never loaded from another site
    page.reload()
    expect(page.locator("[data-role=user] .block-link")).to_have_attribute("href", PHOTO)
    page.context.close()


def test_links_in_the_composer_and_on_a_message_fit_and_pass_axe_at_each_size_and_scheme(
    browser, live_app: LiveApp, live_fake_api: FakeAnthropic
) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page = signed_in(browser, live_app, "bob")
    open_new_chat(page)
    paste(page, PHOTO)
    page.get_by_role("button", name="Attach from link").click()
    paste(page, f" {REPORT}")
    page.get_by_role("button", name="Attach from link").click()
    live_fake_api.enqueue(Reply("A cat, and a report about cats."))
    reply = send_message(page, "What do these show?", click=True)
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    expect(reply).to_have_attribute("data-status", "complete", timeout=TIMEOUT)
    chat_url = page.url
    page.context.close()

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
            page.goto(chat_url)
            expect(page.locator("[data-role=user] .block-link")).to_have_count(2)
            page.get_by_role("textbox", name="Message").fill("And this one? ")
            paste(page, "https://images.example.org/cats/a-very-long-file-name-of-a-ginger-cat-asleep.webp")
            paste(page, f" {PHOTO}")
            page.get_by_role("button", name="Attach from link").last.click()
            expect(page.locator("#attachment-list .attachment")).to_have_count(2)
            for element in page.locator("#attachment-list .attachment, [data-role=user] .block-link").all():
                box = element.bounding_box()
                assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, (width, box)
            assert page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth") <= 0, width
            page.screenshot(path=SCREENSHOTS / f"links-{width}-{scheme}.png")
            assert serious_violations(page) == [], (width, scheme)
            page.context.close()
