# Fixtures imported from tests.live are pytest fixtures: test arguments shadow them by design.
# ruff: noqa: F811
"""The sidebar in a real browser: search with Ctrl+K, date groups, more on scroll past 50, pin,
rename inline, delete with Undo; and screenshots at 1280 and 390 px, light and dark
(test-results/sidebar-*.png).

The live app is seeded (in its own database, through `manage.py shell`) with 120 conversations
of alice's, one every two days back from now, so the list spans Today to eight months ago.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from conversations.library.sidebar import group_of
from tests.live import PYTHON, ROOT, USERS, LiveApp, live_app, live_fake_api  # noqa: F401 (pytest fixtures)

pytestmark = pytest.mark.browser

SCREENSHOTS = ROOT / "test-results"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
CLICK = 3_000
COUNT = 120
NEEDLE = "Quetzalcoatl"

SEED = f"""
from datetime import timedelta
from django.contrib.auth import get_user_model
from django.utils import timezone
from conversations.models import ContentBlock, Conversation, Message

alice = get_user_model().objects.get(username="alice")
now = timezone.now()
for i in range({COUNT}):
    c = Conversation.objects.create(owner=alice, title=f"Chat {{i:03d}}", model="claude-sonnet-4-6")
    if i == 100:
        m = Message.objects.create(conversation=c, role="user")
        text = "Where did the {NEEDLE} migration plan end up? <b>not bold</b>"
        ContentBlock.objects.create(message=m, index=0, type="text", payload={{"type": "text", "text": text}})
    at = now - timedelta(days=2 * i, minutes=1)
    Conversation.objects.filter(pk=c.pk).update(created_at=at, updated_at=at)
print("seeded")
"""


@pytest.fixture(scope="module")
def seeded(live_app: LiveApp) -> LiveApp:
    result = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", SEED], cwd=ROOT, env=live_app.env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return live_app


@pytest.fixture(scope="module")
def session(browser: Browser, seeded: LiveApp) -> dict:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{seeded.url}/accounts/login/")
    page.locator("input[name=username]").fill("alice")
    page.locator("input[name=password]").fill(USERS["alice"])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    state = context.storage_state()
    context.close()
    return state


@contextmanager
def browsing(browser: Browser, session: dict, *, viewport=DESKTOP, scheme: str = "light") -> Iterator[Page]:
    context = browser.new_context(
        viewport=viewport, color_scheme=scheme, storage_state=session, timezone_id="UTC"
    )
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def open_new_chat(page: Page, app: LiveApp) -> None:
    page.goto(f"{app.url}/new/")
    page.wait_for_load_state("load")


def item(page: Page, title: str):
    return page.locator("#conversation-list .chat-item", has=page.get_by_role("link", name=title, exact=True))


def options(page: Page, title: str) -> None:
    page.get_by_label(f"Options for {title}", exact=True).click(timeout=CLICK)


def test_search_by_message_text_with_ctrl_k(browser, seeded, session) -> None:
    with browsing(browser, session) as page:
        open_new_chat(page, seeded)
        box = page.get_by_role("searchbox", name="Search")
        page.locator("body").press("Control+k")
        expect(box).to_be_focused()
        box.press_sequentially("quetzal migr")
        result = page.locator("#search-results a", has_text="Chat 100")
        expect(result).to_be_visible()
        expect(page.locator("#conversation-list")).to_be_hidden()
        expect(result.locator("mark")).to_have_text(["Quetzal", "migr"])
        expect(result).to_contain_text("<b>not bold</b>")  # shown as text, never as markup
        assert result.locator("b").count() == 0
        expect(page.locator("#search-results")).not_to_contain_text("Chat 099")

        # Escape clears the box and brings the list back; a search again, then the result opens.
        box.press("Escape")
        expect(box).to_have_value("")
        expect(page.locator("#conversation-list")).to_be_visible()
        box.fill('"quetzal* -(:')
        expect(result).to_be_visible()
        box.press("ArrowDown")
        expect(result).to_be_focused()
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"/c/\d+/#message-\d+$"))
        expect(page.get_by_role("heading", level=1)).to_have_text("Chat 100")


def test_date_groups_and_more_on_scroll_past_50(browser, seeded, session) -> None:
    today = timezone.now().date()
    expected = []
    for i in range(COUNT):
        label = group_of(timezone.now() - timedelta(days=2 * i, minutes=1), today, UTC)
        if label not in expected:
            expected.append(label)
    with browsing(browser, session) as page:
        open_new_chat(page, seeded)
        items = page.locator("#conversation-list .chat-item")
        expect(items).to_have_count(50)
        headings = page.locator("#conversation-list h2")
        first_page = headings.all_inner_texts()
        assert first_page[:3] == ["Today", "Previous 7 days", "Previous 30 days"]
        assert first_page == expected[: len(first_page)]
        assert re.fullmatch(r"[A-Z][a-z]+ \d{4}", first_page[3])

        for shown in (100, COUNT):
            page.locator("#conversation-list").evaluate("list => list.scrollTop = list.scrollHeight")
            expect(items).to_have_count(shown)
        titles = page.locator("#conversation-list .chat-item > a").all_inner_texts()
        assert titles[:3] == ["Chat 000", "Chat 001", "Chat 002"]
        assert len(set(titles)) == len(titles) == COUNT  # none twice, none missed
        assert headings.all_inner_texts() == expected  # no heading twice across the pages


def test_pin_rename_delete_and_undo(browser, seeded, session) -> None:
    with browsing(browser, session) as page:
        open_new_chat(page, seeded)
        # Pin: to the top, under "Pinned"; the focus stays on it.
        options(page, "Chat 030")
        page.get_by_role("button", name="Pin", exact=True).click(timeout=CLICK)
        expect(page.locator("#conversation-list h2").first).to_have_text("Pinned")
        expect(page.locator("#conversation-list .chat-item > a").first).to_have_text("Chat 030")
        expect(page.get_by_role("link", name="Chat 030", exact=True)).to_be_focused()

        # Rename inline: errors show in place, the typed text stays; HTML is only text.
        options(page, "Chat 031")
        page.get_by_role("button", name="Rename", exact=True).click(timeout=CLICK)
        title = page.get_by_role("textbox", name="Title")
        expect(title).to_be_focused()
        expect(title).to_have_value("Chat 031")
        title.fill("   ")
        title.press("Enter")
        expect(page.get_by_role("alert")).to_have_text("A title cannot be empty.")
        title = page.get_by_role("textbox", name="Title")
        title.fill("x" * 10_000)
        title.press("Enter")
        expect(page.get_by_role("alert")).to_contain_text("at most 200 characters")
        page.get_by_role("textbox", name="Title").fill("<b>Renamed</b> & co")
        page.get_by_role("textbox", name="Title").press("Enter")
        renamed = page.get_by_role("link", name="<b>Renamed</b> & co", exact=True)
        expect(renamed).to_be_visible()
        expect(renamed).to_be_focused()
        # Escape cancels a rename.
        options(page, "Chat 033")
        page.get_by_role("button", name="Rename", exact=True).click(timeout=CLICK)
        page.get_by_role("textbox", name="Title").fill("Never saved")
        page.get_by_role("textbox", name="Title").press("Escape")
        expect(page.get_by_role("link", name="Chat 033", exact=True)).to_be_focused()

        # Delete: gone at once, with an Undo that brings it back in place.
        options(page, "Chat 032")
        page.get_by_role("button", name="Delete", exact=True).click(timeout=CLICK)
        expect(item(page, "Chat 032")).to_have_count(0)
        toast = page.locator("#undo-toast")
        expect(toast).to_contain_text("Deleted “Chat 032”.")
        undo = page.get_by_role("button", name="Undo")
        expect(undo).to_be_focused()
        page.reload()
        expect(item(page, "Chat 031")).to_have_count(0)  # renamed
        expect(item(page, "Chat 032")).to_have_count(0)  # deleted, everywhere
        # The page came back without the toast: delete another, and Undo that one.
        options(page, "Chat 034")
        page.get_by_role("button", name="Delete", exact=True).click(timeout=CLICK)
        page.get_by_role("button", name="Undo").click(timeout=CLICK)
        expect(item(page, "Chat 034")).to_have_count(1)
        expect(toast).to_be_empty()

        # Deleting the conversation on screen lands on a new chat, whose Undo goes back to it.
        page.get_by_role("link", name="Chat 035", exact=True).click(timeout=CLICK)
        page.wait_for_url(re.compile(r"/c/\d+/$"))
        here = page.url
        options(page, "Chat 035")
        page.get_by_role("button", name="Delete", exact=True).click(timeout=CLICK)
        page.wait_for_url(re.compile(r"/new/\?deleted=\d+$"))
        expect(page.locator("#undo-toast")).to_contain_text("Deleted “Chat 035”.")
        page.get_by_role("button", name="Undo").click(timeout=CLICK)
        page.wait_for_url(here)
        expect(page.get_by_role("heading", level=1)).to_have_text("Chat 035")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshots(browser, seeded, session, scheme) -> None:
    """For a person to look at: the list, an open menu, search results, the drawer on a phone."""
    SCREENSHOTS.mkdir(exist_ok=True)
    with browsing(browser, session, scheme=scheme) as page:
        open_new_chat(page, seeded)
        options(page, "Chat 001")
        page.screenshot(path=Path(SCREENSHOTS, f"sidebar-1280-{scheme}.png"))
        page.keyboard.press("Escape")
        page.get_by_role("searchbox", name="Search").fill("quetzal")
        expect(page.locator("#search-results mark").first).to_be_visible()
        page.screenshot(path=Path(SCREENSHOTS, f"sidebar-1280-{scheme}-search.png"))
        undo_screenshot(page, "Chat 010", f"sidebar-1280-{scheme}-undo.png")
    with browsing(browser, session, viewport=PHONE, scheme=scheme) as page:
        open_new_chat(page, seeded)
        page.locator("body").press("Control+k")  # opens the drawer with the box focused
        expect(page.get_by_role("searchbox", name="Search")).to_be_focused()
        options(page, "Chat 002")
        page.screenshot(path=Path(SCREENSHOTS, f"sidebar-390-{scheme}.png"))
        assert page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth") <= 0
        page.keyboard.press("Escape")
        undo_screenshot(page, "Chat 011", f"sidebar-390-{scheme}-undo.png")


def undo_screenshot(page: Page, title: str, name: str) -> None:
    """Delete `title`, take the screenshot with its Undo showing, and undo."""
    page.get_by_role("searchbox", name="Search").fill("")
    page.get_by_role("searchbox", name="Search").dispatch_event("input")
    options(page, title)
    page.get_by_role("button", name="Delete", exact=True).click(timeout=CLICK)
    undo = page.get_by_role("button", name="Undo")
    expect(undo).to_be_visible()
    page.screenshot(path=Path(SCREENSHOTS, name))
    undo.click(timeout=CLICK)
    expect(item(page, title)).to_have_count(1)
