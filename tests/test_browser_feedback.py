# Fixtures imported from tests.live are pytest fixtures: test arguments shadow them by design.
# ruff: noqa: F811
"""Feedback in a real browser: bob's reply on the team's prompt streams to its end and gets Good
response and Bad response; a press (by keyboard) stores it without a page load and opens the
comment form, Save keeps the comment, and a reload shows both; then alice, who edits the prompt,
sees the rating and the comment on the prompt's page, and nothing of bob's chat. Axe finds nothing
serious; screenshots at 1280 and 390 px, light and dark (test-results/feedback-*.png)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from fakes import FakeAnthropic, Reply
from tests.helpers import serious_violations, signed_in
from tests.live import PYTHON, ROOT, LiveApp, live_app, live_fake_api, open_new_chat, send_message  # noqa: F401 (pytest fixtures)

pytestmark = pytest.mark.browser

SHOTS = ROOT / "test-results"
ANSWER = "Here is a calm answer, with the steps you asked for."
COMMENT = "Clear, but a bit long."
SEED = """
from teams.services import member_add, prompt_create, team_create
from django.contrib.auth import get_user_model
alice = get_user_model().objects.get(username="alice")
team = team_create(user=alice, name="Support")
member_add(team=team, identifier="bob", role="member")
print(prompt_create(user=alice, name="Support tone", text="Answer calmly.", team=team, cache_ttl="5m").pk)
"""


def seed_prompt(app: LiveApp) -> int:
    """A team prompt alice edits (she owns the team) and bob may use."""
    return int(app.shell(SEED).split()[-1])


def test_rate_a_reply_comment_reload_and_the_prompt_editor_sees_it(
    browser: Browser, live_app: LiveApp, live_fake_api: FakeAnthropic
) -> None:
    live_fake_api.reset()
    live_fake_api.enqueue(Reply(ANSWER))
    prompt_id = seed_prompt(live_app)

    bob = signed_in(browser, live_app, "bob", viewport={"width": 1280, "height": 900}, axe=True)
    open_new_chat(bob)
    bob.get_by_label("System prompt").select_option(label="Support tone (Support)")
    reply = send_message(bob, "How do I reset my password?", click=True)
    bob.wait_for_url(re.compile(r"/c/\d+/$"))
    expect(reply).to_have_attribute("data-status", "complete", timeout=30_000)
    chat_url = bob.url
    bob.evaluate("window.marker = 1")

    # The buttons came with the end of the stream; a keyboard press stores the rating in place.
    good = reply.get_by_role("button", name="Good response")
    expect(good).to_have_attribute("aria-pressed", "false")
    good.focus()
    bob.keyboard.press("Enter")
    box = reply.get_by_role("textbox", name="Add a comment")  # the form the press opens
    expect(box).to_be_visible()
    expect(good).to_have_attribute("aria-pressed", "true")
    expect(reply.get_by_role("button", name="Bad response")).to_have_attribute("aria-pressed", "false")
    expect(good).to_be_focused()  # the swap keeps the focus on the button pressed
    assert serious_violations(bob) == []

    box.fill(COMMENT)
    reply.get_by_role("button", name="Save").click()
    expect(reply.get_by_role("status")).to_have_text("Saved.")
    assert bob.evaluate("window.marker") == 1, "the page reloaded"

    bob.reload()
    reply = bob.locator(f"#{reply.get_attribute('id')}")
    expect(reply.get_by_role("button", name="Good response")).to_have_attribute("aria-pressed", "true")
    reply.get_by_text("Edit comment").click()
    expect(reply.get_by_role("textbox", name="Add a comment")).to_have_value(COMMENT)
    bob.goto(f"{live_app.url}/prompts/{prompt_id}/")  # bob uses the prompt; he does not edit it
    expect(bob.get_by_role("heading", name="Versions")).to_be_visible()
    expect(bob.get_by_role("heading", name="Feedback")).to_have_count(0)
    bob.context.close()

    alice = signed_in(browser, live_app, "alice", viewport={"width": 1280, "height": 900}, axe=True)
    alice.goto(f"{live_app.url}/prompts/{prompt_id}/")
    feedback = alice.locator("#prompt-feedback")
    row = feedback.get_by_role("row").filter(has_text=COMMENT)  # loaded after the page
    expect(row).to_contain_text("Good response")
    expect(row).to_contain_text("v1")
    expect(feedback).to_contain_text("1 good, 0 bad.")
    for private in (ANSWER, "reset my password", "bob"):
        expect(feedback).not_to_contain_text(private)
    expect(feedback.locator("a")).to_have_count(0)  # no way into bob's chat
    assert serious_violations(alice) == []
    alice.context.close()

    screenshots(browser, live_app, chat_url)


def screenshots(browser: Browser, app: LiveApp, url: str) -> None:
    """The rated reply with its comment form open, at each width and scheme: the buttons in
    view, nothing scrolls sideways, axe finds nothing serious."""
    SHOTS.mkdir(exist_ok=True)
    for width, height in ((1280, 900), (390, 844)):
        for scheme in ("light", "dark"):
            options = {"viewport": {"width": width, "height": height}, "color_scheme": scheme}
            page = signed_in(browser, app, "bob", **options, axe=True)
            page.goto(url)
            reply = page.locator("[data-role=assistant]").last
            reply.get_by_text("Edit comment").click()
            expect(reply.get_by_role("textbox", name="Add a comment")).to_be_visible()
            for name in ("Good response", "Bad response", "Save"):
                box = reply.get_by_role("button", name=name).bounding_box()
                assert box and 0 <= box["x"] and box["x"] + box["width"] <= width, (name, width, box)
            assert page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth") <= 0
            reply.scroll_into_view_if_needed()
            page.screenshot(path=SHOTS / f"feedback-{width}-{scheme}.png")
            assert serious_violations(page) == [], (width, scheme)
            page.context.close()
