# Fixtures imported from tests.live are pytest fixtures: test arguments shadow them by design.
# ruff: noqa: F811
"""Dead ends in a real browser: a missing chat is the app's 404 page with a way back; Delete in a
conversation's ⋯ menu lands on New chat with the sidebar's Undo, and the deleted chat's URL is
the 404 page after. Axe and screenshots of the 404 page at 1280 and 390 px, light and dark
(test-results/error-404-*.png).

The app runs as deployed (DJANGO_DEBUG=0, collected static files): with debug on, Django shows
its own debugging pages instead of the app's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.helpers import AXE, login
from tests.live import PYTHON, ROOT, LiveApp, live_fake_api  # noqa: F401 (pytest fixtures)

pytestmark = pytest.mark.browser

SCREENSHOTS = ROOT / "test-results"
MISSING = "/c/987654/"
CLICK = 3_000

SEED = """
from django.contrib.auth import get_user_model
from conversations.models import Conversation

alice = get_user_model().objects.get(username="alice")
for title in ("Kept chat", "Doomed chat"):
    Conversation.objects.create(owner=alice, title=title, model="claude-sonnet-4-6")
"""


@pytest.fixture(scope="module")
def deployed(live_fake_api) -> Iterator[LiveApp]:
    app = LiveApp(
        {
            "ANTHROPIC_BASE_URL": live_fake_api.base_url,
            "ANTHROPIC_API_KEY": "test-key",
            "DJANGO_DEBUG": "0",
            "DJANGO_HTTPS": "0",  # plain http on 127.0.0.1: no https redirect, no secure-only cookies
        }
    )
    app.manage("collectstatic", "--noinput", "-v0")
    app.start()
    try:
        app.shell(SEED)
        yield app
    finally:
        app.stop()


def new_page(browser: Browser, app: LiveApp, user: str | None = "alice", **options) -> Page:
    context = browser.new_context(**options)
    context.set_default_timeout(10_000)
    page = context.new_page()
    if user:
        login(page, app, user)
    return page


def expect_404_page(page: Page) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    expect(page.get_by_role("link", name="New chat", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Start a new chat")).to_be_visible()


def delete_from_header(page: Page) -> None:
    page.get_by_label("Conversation actions").click(timeout=CLICK)
    page.locator(".conversation-actions").get_by_role("button", name="Delete").click(timeout=CLICK)


def test_a_missing_chat_is_the_apps_404_with_a_way_back(browser, deployed) -> None:
    page = new_page(browser, deployed)
    try:
        page.goto(f"{deployed.url}/new/")
        response = page.goto(deployed.url + MISSING)
        assert response is not None and response.status == 404
        expect_404_page(page)
        expect(page.get_by_role("link", name="Kept chat", exact=True)).to_be_visible()  # the sidebar
        page.get_by_role("button", name="Go back").click(timeout=CLICK)
        page.wait_for_url(f"{deployed.url}/new/")
        page.goto(deployed.url + MISSING)
        with page.expect_navigation(url="**/new/"):
            page.get_by_role("link", name="Start a new chat").click(timeout=CLICK)
        expect(page.get_by_role("textbox", name="Message")).to_be_visible()
    finally:
        page.context.close()


def test_delete_from_the_header_lands_on_new_chat_with_undo(browser, deployed) -> None:
    page = new_page(browser, deployed)
    dialogs: list[str] = []

    def dismiss(dialog) -> None:  # a confirm() would say no
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    try:
        page.goto(f"{deployed.url}/new/")
        page.get_by_role("link", name="Doomed chat", exact=True).click(timeout=CLICK)
        page.wait_for_url(re.compile(r"/c/\d+/$"))
        chat_url = page.url

        delete_from_header(page)
        page.wait_for_url(re.compile(r"/new/\?deleted=\d+$"))
        expect(page.locator("#undo-toast")).to_contain_text("Deleted “Doomed chat”.")
        expect(page.get_by_role("link", name="Doomed chat", exact=True)).to_have_count(0)
        page.get_by_role("button", name="Undo").click(timeout=CLICK)
        page.wait_for_url(chat_url)
        expect(page.get_by_role("heading", level=1)).to_have_text("Doomed chat")

        delete_from_header(page)
        page.wait_for_url(re.compile(r"/new/\?deleted=\d+$"))
        expect(page.get_by_role("button", name="Undo")).to_be_visible()
        response = page.goto(chat_url)
        assert response is not None and response.status == 404
        expect_404_page(page)
        assert dialogs == []
    finally:
        page.context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_404_page_fits_and_passes_axe(browser, deployed, scheme) -> None:
    """Signed in (with the sidebar) and signed out (a top bar), at 1280 and 390 px."""
    SCREENSHOTS.mkdir(exist_ok=True)
    for user in ("alice", None):
        for width, height in ((1280, 800), (390, 844)):
            page = new_page(
                browser,
                deployed,
                user,
                viewport={"width": width, "height": height},
                color_scheme=scheme,
                bypass_csp=True,  # for axe's script only
            )
            try:
                page.goto(f"{deployed.url}/accounts/login/")
                page.goto(deployed.url + (MISSING if user else "/no/such/page/"))  # a chat asks to sign in
                expect_404_page(page)
                expect(page.get_by_role("button", name="Go back")).to_be_visible()
                assert page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth") <= 0
                who = "signed-in" if user else "anonymous"
                page.screenshot(path=SCREENSHOTS / f"error-404-{who}-{width}-{scheme}.png")
                page.add_script_tag(path=str(AXE))
                violations = page.evaluate(
                    """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
                        .map(v => [v.id, v.impact, v.nodes.slice(0, 3).map(n => n.target.join(" "))])"""
                )
                assert violations == [], (who, width, scheme)
            finally:
                page.context.close()
