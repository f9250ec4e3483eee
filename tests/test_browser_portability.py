# Fixtures imported from tests.live are pytest fixtures: test arguments shadow them by design.
# ruff: noqa: F811
"""Export, import, sharing and the keyboard in a real browser: Ctrl+Shift+O and Escape; a
conversation exported as JSON and imported back, a file that is not an export refused on the
page; all my data as a zip; alice shares with her team, bob reads the snapshot and continues it
in his chats, alice revokes and bob's link is gone. Screenshots at 1280 and 390 px, light and
dark (test-results/portability-*.png).
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from fakes import FakeAnthropic, Reply
from tests.helpers import login
from tests.live import PYTHON, ROOT, LiveApp, live_app, live_fake_api  # noqa: F401 (pytest fixtures)

pytestmark = pytest.mark.browser

SCREENSHOTS = ROOT / "test-results"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
CLICK = 3_000
TITLE = "Launch checklist for <the> Q3 release"

SEED = f"""
from django.contrib.auth import get_user_model
from conversations.models import ContentBlock, Conversation, Message
from conversations.rendering import render_markdown_blocks
from teams.services import member_add, team_create

User = get_user_model()
alice = User.objects.get(username="alice")
team = team_create(user=alice, name="Release crew")
member_add(team=team, identifier="bob", role="member")
c = Conversation.objects.create(owner=alice, title={TITLE!r}, model="claude-sonnet-4-6")
q = Message.objects.create(conversation=c, role="user")
question = {{"type": "text", "text": "What is left?"}}
ContentBlock.objects.create(message=q, index=0, type="text", payload=question)
r = Message.objects.create(conversation=c, parent=q, role="assistant", model="claude-sonnet-4-6",
                           output_tokens=12, input_tokens=30)
answer = "Two things:\\n\\n1. **Docs**\\n2. The changelog"
ContentBlock.objects.create(message=r, index=0, type="text", payload={{"type": "text", "text": answer}},
                            rendered=render_markdown_blocks(answer))
print(c.pk)
"""


@pytest.fixture(scope="module")
def chat_id(live_app: LiveApp) -> int:
    return int(live_app.shell(SEED).split()[-1])


@contextmanager
def person(browser: Browser, app: LiveApp, user: str, *, viewport=DESKTOP, scheme="light") -> Iterator[Page]:
    context = browser.new_context(viewport=viewport, color_scheme=scheme, accept_downloads=True)
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        login(page, app, user)
        yield page
    finally:
        context.close()


@pytest.fixture(scope="module")
def titled_app(live_fake_api: FakeAnthropic) -> Iterator[LiveApp]:
    """A second app on the same fake, with generated titles on."""
    env = {
        "ANTHROPIC_BASE_URL": live_fake_api.base_url,
        "ANTHROPIC_API_KEY": "test-key",
        "CHAT_GENERATED_TITLES": "1",
    }
    app = LiveApp(env).start()
    try:
        yield app
    finally:
        app.stop()


def actions(page: Page) -> None:
    page.get_by_label("Conversation actions").click(timeout=CLICK)


def test_ctrl_shift_o_opens_a_new_chat_and_escape_closes_menus(browser, live_app, chat_id) -> None:
    with person(browser, live_app, "alice") as page:
        page.goto(f"{live_app.url}/c/{chat_id}/")
        menu = page.locator("details.conversation-actions")
        actions(page)
        expect(menu).to_have_attribute("open", "")
        page.keyboard.press("Escape")
        expect(menu).not_to_have_attribute("open", "")
        expect(page.get_by_label("Conversation actions")).to_be_focused()
        # Opened with the mouse, the focus then in the message box: Escape still closes it.
        actions(page)
        page.get_by_role("textbox", name="Message").focus()
        page.keyboard.press("Escape")
        expect(menu).not_to_have_attribute("open", "")

        page.keyboard.press("Control+Shift+O")
        page.wait_for_url(f"{live_app.url}/new/")
        expect(page.get_by_role("textbox", name="Message")).to_be_visible()
        # From a page without a composer, too.
        page.goto(f"{live_app.url}/teams/")
        page.locator("body").press("Control+Shift+O")
        page.wait_for_url(f"{live_app.url}/new/")


def test_export_and_reimport(browser, live_app, chat_id, tmp_path: Path) -> None:
    with person(browser, live_app, "alice") as page:
        page.goto(f"{live_app.url}/c/{chat_id}/")
        actions(page)
        with page.expect_download() as download:
            page.get_by_role("link", name="Export as JSON").click(timeout=CLICK)
        exported = tmp_path / download.value.suggested_filename
        download.value.save_as(exported)
        assert exported.name == f"launch-checklist-for-the-q3-release-{chat_id}.json"
        assert json.loads(exported.read_text())["title"] == TITLE

        with page.expect_download() as markdown:
            page.get_by_role("link", name="Export as Markdown").click(timeout=CLICK)
        assert Path(markdown.value.path()).read_text().startswith(f"# {TITLE}\n")

        # A file that is not an export: refused on the page, with the reason.
        page.get_by_role("link", name="Export and import").click(timeout=CLICK)
        not_export = tmp_path / "notes.json"
        not_export.write_text('{"notes": []}')
        page.get_by_label("Conversation (.json)").set_input_files(not_export)
        page.get_by_role("button", name="Import").click(timeout=CLICK)
        expect(page.get_by_role("alert")).to_contain_text("not a conversation exported from this app")

        page.get_by_label("Conversation (.json)").set_input_files(exported)
        page.get_by_role("button", name="Import").click(timeout=CLICK)
        page.wait_for_url(re.compile(r"/c/\d+/$"))
        assert page.url != f"{live_app.url}/c/{chat_id}/"
        expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
        expect(page.locator("[data-role=assistant] .blocks strong")).to_have_text("Docs")
        expect(page.get_by_role("link", name=TITLE, exact=True)).to_have_count(2)  # both in the list

        page.get_by_role("link", name="Export and import").click(timeout=CLICK)
        with page.expect_download() as everything:
            page.get_by_role("link", name="Download all my data").click(timeout=CLICK)
        names = zipfile.ZipFile(everything.value.path()).namelist()
        assert f"conversations/launch-checklist-for-the-q3-release-{chat_id}.md" in names
        assert len([n for n in names if n.endswith(".json")]) == 2


def test_share_and_revoke_as_two_users(browser, live_app, chat_id) -> None:
    with person(browser, live_app, "alice") as alice, person(browser, live_app, "bob") as bob:
        alice.goto(f"{live_app.url}/c/{chat_id}/")
        actions(alice)
        alice.get_by_label("Share with").select_option(label="Release crew")
        with alice.expect_navigation():  # back to the same URL, so no wait_for_url can tell
            alice.get_by_role("button", name="Share", exact=True).click(timeout=CLICK)
        actions(alice)
        expect(alice.get_by_role("link", name="Shared with Release crew")).to_be_visible()

        bob.get_by_role("link", name="Shared with me").click(timeout=CLICK)
        bob.get_by_role("link", name=TITLE).click(timeout=CLICK)
        shared_url = bob.url
        expect(bob.get_by_role("heading", level=1)).to_have_text(TITLE)
        expect(bob.get_by_text("Shared by alice with Release crew")).to_be_visible()
        expect(bob.locator(".messages strong")).to_have_text("Docs")
        expect(bob.get_by_role("button", name="Edit")).to_have_count(0)  # read-only
        bob.get_by_role("button", name="Continue in my chats").click(timeout=CLICK)
        bob.wait_for_url(re.compile(r"/c/\d+/$"))
        expect(bob.get_by_role("heading", level=1)).to_have_text(TITLE)
        expect(bob.locator("#conversation-list").get_by_role("link", name=TITLE)).to_be_visible()

        # Revoking redirects to the page it was on: wait_for_url would pass before the post.
        with alice.expect_navigation(url=f"{live_app.url}/c/{chat_id}/"):
            alice.get_by_role("button", name="Revoke the share with Release crew").click(timeout=CLICK)
        actions(alice)
        expect(alice.get_by_role("link", name="Shared with Release crew")).to_have_count(0)

        assert bob.goto(shared_url).status == 404
        bob.goto(f"{live_app.url}/shared/")
        expect(bob.locator("main").get_by_role("link", name=TITLE)).to_have_count(0)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshots(browser, live_app, chat_id, scheme) -> None:
    """For a person to look at: the ⋯ menu with export and share, the export and import page with
    a refusal, and the shared snapshot, on a desktop and a phone."""
    SCREENSHOTS.mkdir(exist_ok=True)
    for width, viewport in (("1280", DESKTOP), ("390", PHONE)):
        with person(browser, live_app, "alice", viewport=viewport, scheme=scheme) as page:
            page.goto(f"{live_app.url}/c/{chat_id}/")
            actions(page)
            page.screenshot(path=SCREENSHOTS / f"portability-{width}-{scheme}-menu.png")
            assert page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth") <= 0
            page.goto(f"{live_app.url}/import/")
            page.get_by_label("Conversation (.json)").set_input_files(
                {"name": "x.json", "mimeType": "application/json", "buffer": b"[1, 2"}
            )
            page.get_by_role("button", name="Import").click(timeout=CLICK)
            expect(page.get_by_role("alert")).to_be_visible()
            page.screenshot(path=SCREENSHOTS / f"portability-{width}-{scheme}-import.png", full_page=True)
            assert page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth") <= 0
            # The snapshot as the team reads it (the owner sees Revoke where members see Continue).
            page.goto(f"{live_app.url}/c/{chat_id}/")
            actions(page)
            with page.expect_navigation():  # the share redirects back to this same URL
                page.get_by_role("button", name="Share", exact=True).click(timeout=CLICK)
            actions(page)
            page.get_by_role("link", name="Shared with Release crew").click(timeout=CLICK)
            expect(page.get_by_role("button", name="Revoke")).to_be_visible()
            page.screenshot(path=SCREENSHOTS / f"portability-{width}-{scheme}-shared.png", full_page=True)
            assert page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth") <= 0
            page.get_by_role("button", name="Revoke").click(timeout=CLICK)
            page.wait_for_url(f"{live_app.url}/c/{chat_id}/")


def test_a_generated_title_reaches_the_open_tab(browser, titled_app, live_fake_api) -> None:
    """Also when the sidebar's list, fetched as the chat started, arrives after the title: it
    must not bring back the provisional title (the chat's first words)."""
    live_fake_api.enqueue(
        Reply("Feed it weekly and keep it cool.", tokens_per_second=200),
        Reply("Sourdough care", first_delay=1.5),  # the title comes well after the list is read
    )
    with person(browser, titled_app, "alice") as page:
        page.goto(f"{titled_app.url}/new/")
        page.wait_for_load_state("load")
        held = []  # the sidebar list as the server read it before the title, not yet delivered
        page.route("**/sidebar/", lambda route: held.append((route, route.fetch())))
        composer = page.get_by_role("textbox", name="Message")
        composer.fill("How do I keep my sourdough starter alive while I am away for a month?")
        composer.press("Enter")
        expect(page.locator("[data-role=assistant]")).to_have_attribute("data-status", "complete")
        expect(page.get_by_role("heading", level=1)).to_have_text("Sourdough care")
        assert len(held) == 1 and "Sourdough care" not in held[0][1].text()
        held[0][0].fulfill(response=held[0][1])
        page.unroute("**/sidebar/")
        sidebar = page.locator("#conversation-list")
        expect(sidebar.locator("li.chat-item")).to_have_count(1)  # the server's list is in
        expect(sidebar.get_by_role("link", name="Sourdough care")).to_be_visible()
        expect(page).to_have_title("Sourdough care")
    title_call = live_fake_api.message_requests[-1].body
    assert (title_call["model"], title_call["max_tokens"], "stream" in title_call) == (
        "claude-haiku-4-5",
        24,
        False,
    )
