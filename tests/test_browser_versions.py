# Fixtures imported from tests.live are pytest fixtures: test arguments shadow them by design.
# ruff: noqa: F811
"""Versions in the browser: Edit opens a focused edit box (Escape cancels), an edited middle
message shows "2 / 2", the switcher swaps branches in place, and a regenerated reply streams in
place, all without a page load and with the websocket open. Screenshots at 1280 and 390 px go to
test-results/."""

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from fakes import Reply
from tests.helpers import AXE, login
from tests.live import LiveApp, live_app, live_fake_api, open_new_chat, send_message  # noqa: F401 (pytest fixtures)

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "test-results"
USER = "[data-role=user]"
ASSISTANT = "[data-role=assistant]"
REGENERATED = " ".join(f"again{i}" for i in range(160)) + "."


def three_turns(page: Page, app: LiveApp) -> None:
    login(page, app)
    open_new_chat(page)
    expect(page.locator("#messages")).to_have_attribute("data-socket", "open")
    for text in ["Question one", "Question two", "Question three"]:
        expect(send_message(page, text)).to_have_attribute("data-status", "complete")


def versions_of(message) -> str:
    return message.locator(".version-count").inner_text()


def test_edit_switch_and_regenerate_without_a_page_load(page: Page, live_app: LiveApp, live_fake_api):
    live_fake_api.reset()
    live_fake_api.enqueue(
        Reply("Answer one."),
        Reply("Answer two."),
        Reply("Answer three."),
        Reply("Answer to the edit."),
        Reply(REGENERATED, tokens_per_second=80),
    )
    page.set_viewport_size({"width": 1280, "height": 900})
    three_turns(page, live_app)
    page.evaluate("window.marker = 1")
    middle = page.locator(USER).nth(1)

    # Edit opens a box with the text and the focus; Escape closes it and gives the focus back.
    middle.get_by_role("button", name="Edit").click()
    box = page.get_by_role("textbox", name="Edited text")
    expect(box).to_be_focused()
    expect(box).to_have_value("Question two")
    box.press("Escape")
    expect(box).to_have_count(0)
    expect(middle.get_by_role("button", name="Edit")).to_be_focused()

    middle.get_by_role("button", name="Edit").click()
    expect(box).to_be_focused()
    box.fill("Question two, edited")
    page.screenshot(path=str(SHOTS / "versions-1280-editing.png"), full_page=True)
    page.get_by_role("button", name="Send edited text").click()
    expect(page.locator(USER)).to_have_count(2)  # the new branch: one, then the edit
    expect(page.locator(ASSISTANT).nth(1)).to_have_attribute("data-status", "complete")
    expect(page.locator(ASSISTANT).nth(1)).to_contain_text("Answer to the edit.")
    expect(middle.locator(".version-count")).to_have_text("2 / 2")
    expect(page.get_by_role("textbox", name="Message")).to_be_focused()
    page.screenshot(path=str(SHOTS / "versions-1280-edited.png"), full_page=True)

    # The switcher: the old branch comes back with what followed it, and the focus stays on it.
    middle.get_by_role("button", name="Previous version").click()
    expect(middle.locator(".version-count")).to_have_text("1 / 2")
    expect(page.locator(USER)).to_have_count(3)
    expect(page.locator(ASSISTANT).nth(2)).to_contain_text("Answer three.")
    expect(middle).to_contain_text("Question two")
    middle.get_by_role("button", name="Next version").click()
    expect(middle.locator(".version-count")).to_have_text("2 / 2")
    expect(middle.get_by_role("button", name="Next version")).to_be_focused()
    expect(page.locator(USER)).to_have_count(2)
    assert page.evaluate("window.marker") == 1, "the page reloaded"

    # Regenerate: the new version streams in place of the old one.
    first = page.locator(ASSISTANT).first
    first.get_by_role("button", name="Regenerate").click()
    expect(first).to_have_attribute("data-status", "streaming")
    expect(page.locator(USER)).to_have_count(1)
    expect(first.locator(".streaming-text")).to_contain_text("again1 ")  # streamed, not only its end
    expect(first).to_have_attribute("data-status", "complete", timeout=30_000)
    expect(first).to_contain_text("again159.")
    expect(first.locator(".version-count")).to_have_text("2 / 2")
    assert page.evaluate("window.marker") == 1, "the page reloaded"
    assert page.locator("#messages").get_attribute("data-socket") == "open"
    page.screenshot(path=str(SHOTS / "versions-1280-regenerated.png"), full_page=True)

    first.get_by_role("button", name="Previous version").click()
    expect(page.locator(USER)).to_have_count(2)
    expect(page.locator(ASSISTANT).first).to_contain_text("Answer one.")
    page.reload()  # the choice is stored
    expect(page.locator(USER)).to_have_count(2)
    expect(page.locator(USER).nth(1)).to_contain_text("Question two, edited")


def test_versions_and_actions_fit_a_phone_and_pass_axe(browser, live_app: LiveApp, live_fake_api):
    live_fake_api.reset()
    live_fake_api.enqueue(Reply("Answer one."), Reply("Answer two."), Reply("Answer three."))
    live_fake_api.enqueue(Reply("Answer to the edit."), Reply("Answer one, again."))
    context = browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        three_turns(page, live_app)
        middle = page.locator(USER).nth(1)
        middle.get_by_role("button", name="Edit").click()
        page.get_by_role("textbox", name="Edited text").fill("Question two, edited")
        page.get_by_role("button", name="Send edited text").click()
        expect(page.locator(ASSISTANT).nth(1)).to_contain_text("Answer to the edit.")
        expect(page.locator(ASSISTANT).nth(1)).to_have_attribute("data-status", "complete")
        first = page.locator(ASSISTANT).first
        first.get_by_role("button", name="Regenerate").click()
        expect(first.locator(".version-count")).to_have_text("2 / 2")
        expect(first).to_have_attribute("data-status", "complete")
        page.get_by_role("button", name="Previous version").first.click()
        expect(page.locator(USER)).to_have_count(2)
        expect(page.locator(".version-count")).to_have_count(2)  # the edited message's, the reply's

        for selector in [".versions", ".copy-reply", ".edit-button", "button:text-is('Regenerate')"]:
            for box in [el.bounding_box() for el in page.locator(selector).all()]:
                assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, (selector, box)
        assert page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth") <= 0
        page.screenshot(path=str(SHOTS / "versions-390.png"), full_page=True)

        page.locator(USER).nth(1).get_by_role("button", name="Edit").click()
        box = page.get_by_role("textbox", name="Edited text")
        expect(box).to_be_focused()
        assert page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth") <= 0
        page.screenshot(path=str(SHOTS / "versions-390-editing.png"), full_page=True)

        page.add_script_tag(path=str(AXE))
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            violations = page.evaluate(
                """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
                    .filter(v => v.impact === "serious" || v.impact === "critical")
                    .map(v => [v.id, v.nodes.slice(0, 3).map(n => n.target.join(" "))])"""
            )
            assert violations == [], scheme
        page.screenshot(path=str(SHOTS / "versions-390-editing-dark.png"), full_page=True)
    finally:
        context.close()
