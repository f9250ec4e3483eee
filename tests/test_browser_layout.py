# Fixtures imported from tests.live are pytest fixtures: test arguments shadow them by design.
# ruff: noqa: F811
"""The chat as a person sees it: a phone (390 x 844), a desktop, light and dark, and axe-core.

Every page is seeded with awkward data (tests/layout_pages.py): 30 conversations whose
100-character titles hold an 80-character unbroken word. axe-core is vendored in
tests/vendor/axe.min.js (version AXE_VERSION, from npm) so the tests need no network; it is
injected with the CSP bypassed for the test's browser context only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from fakes import FakeAnthropic, Reply
from tests.helpers import AXE
from tests.layout_pages import LONG_WORD, REPLY, STAFF, TITLE_TEMPLATE, Seeded, seed
from tests.live import USERS, LiveApp, live_app, live_fake_api  # noqa: F401 (pytest fixtures)

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
AXE_VERSION = "4.14.1"
SCREENSHOTS = ROOT / "test-results"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
PASSWORDS = {**USERS, STAFF[0]: STAFF[1]}
CLICK = 3_000  # a click that waits longer than this is being intercepted by something on top


@pytest.fixture(scope="module")
def seeded(live_app: LiveApp) -> Seeded:
    return seed(live_app)


@pytest.fixture(scope="module")
def sessions(browser: Browser, live_app: LiveApp, seeded: Seeded) -> dict[str | None, dict]:
    """Each user's logged-in storage state, so a test's fresh context starts logged in."""
    states: dict[str | None, dict] = {None: {"cookies": [], "origins": []}}
    for user in ("alice", STAFF[0]):
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"{live_app.url}/accounts/login/")
        page.locator("input[name=username]").fill(user)
        page.locator("input[name=password]").fill(PASSWORDS[user])
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        states[user] = context.storage_state()
        context.close()
    return states


@contextmanager
def browsing(
    browser: Browser,
    sessions: dict,
    user: str | None = "alice",
    *,
    viewport=PHONE,
    scheme: str = "light",
    **options,
) -> Iterator[Page]:
    context = browser.new_context(
        viewport=viewport, color_scheme=scheme, storage_state=sessions[user], **options
    )
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@contextmanager
def signed_in_pages(browser: Browser, sessions: dict, **options) -> Iterator[Callable[[str | None], Page]]:
    """One page per user, reused across navigations (a context per visit would be slower)."""
    pages: dict[str | None, Page] = {}

    def page_for(user: str | None) -> Page:
        if user not in pages:
            context = browser.new_context(storage_state=sessions[user], **{"viewport": PHONE, **options})
            context.set_default_timeout(15_000)
            pages[user] = context.new_page()
        return pages[user]

    try:
        yield page_for
    finally:
        for page in pages.values():
            page.context.close()


def visit(page: Page, app: LiveApp, seeded: Seeded, name: str) -> None:
    path, _user = seeded.pages()[name]
    page.goto(app.url + path)
    if name == "review transcript":  # the transcript is the answer to the audited POST
        page.get_by_role("button", name="Open transcript").click()
        expect(page.locator("[data-role=assistant]")).to_be_visible()
        page.wait_for_load_state()  # its deferred rich.js makes a too-wide code block focusable
    if name == "prompt detail":  # its caching table arrives by htmx
        expect(page.locator("#prompt-usage table")).to_be_attached()


def sideways_overflow(page: Page) -> int:
    return page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")


def in_viewport(page: Page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    size = page.viewport_size
    return (
        box is not None
        and box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= size["width"]
        and box["y"] + box["height"] <= size["height"]
    )


# --------------------------------------------------------------------------- phone


def test_no_page_scrolls_sideways_on_a_phone(browser, live_app, seeded, sessions) -> None:
    overflows = {}
    with signed_in_pages(browser, sessions) as page_for:
        for name, (_path, user) in seeded.pages().items():
            page = page_for(user)
            visit(page, live_app, seeded, name)
            overflows[name] = sideways_overflow(page)
    print("\nsideways overflow at 390 px (px):", overflows)
    assert {name: px for name, px in overflows.items() if px > 0} == {}


def test_menu_opens_the_drawer_and_a_conversation_in_it_opens(browser, live_app, seeded, sessions) -> None:
    with browsing(browser, sessions) as page:
        visit(page, live_app, seeded, "new chat")
        menu = page.get_by_role("button", name="Menu")
        drawer = page.locator("#sidebar-drawer")
        focus_in_drawer = "document.getElementById('sidebar-drawer').contains(document.activeElement)"
        expect(menu).to_have_attribute("aria-expanded", "false")
        expect(drawer).to_be_hidden()

        # Open: focus moves in. Escape: closed, focus back on Menu.
        menu.click(timeout=CLICK)
        expect(menu).to_have_attribute("aria-expanded", "true")
        expect(drawer).to_be_visible()
        assert page.evaluate(focus_in_drawer)
        page.keyboard.press("Escape")
        expect(menu).to_have_attribute("aria-expanded", "false")
        expect(drawer).to_be_hidden()
        expect(menu).to_be_focused()

        # A tap on the dimmed page closes it and follows nothing underneath (a link followed
        # would change the URL only later, at its commit: the marker tells, after the next step).
        menu.click(timeout=CLICK)
        expect(drawer).to_be_visible()
        page.evaluate("window.sameDocument = true")
        page.mouse.click(PHONE["width"] - 15, PHONE["height"] // 2)
        expect(menu).to_have_attribute("aria-expanded", "false")
        assert page.url.endswith("/new/")

        # Long titles are cut with an ellipsis, and a conversation in the drawer opens.
        menu.click(timeout=CLICK)
        assert page.evaluate("window.sameDocument") is True, "the tap on the dimmed page followed a link"
        title = TITLE_TEMPLATE.format(i=25)
        link = page.get_by_role("link", name=title)
        assert (
            link.evaluate("a => a.scrollWidth > a.clientWidth && getComputedStyle(a).textOverflow")
            == "ellipsis"
        )
        link.click(timeout=CLICK)
        page.wait_for_url(re.compile(r"/c/\d+/$"))
        expect(page.get_by_role("heading", level=1)).to_have_text(title)
        expect(page.get_by_role("button", name="Menu")).to_have_attribute("aria-expanded", "false")


def test_phone_conversation_controls_fit_and_can_be_tapped(browser, live_app, seeded, sessions) -> None:
    with browsing(browser, sessions, permissions=["clipboard-read", "clipboard-write"]) as page:
        visit(page, live_app, seeded, "conversation")
        page.wait_for_load_state("load")  # chat.js and layout.js have run
        assert in_viewport(page, "#send-button")
        assert in_viewport(page, "#message-input")

        # The skip link is the first stop for the keyboard, and lands in the message box.
        focusable = "a[href], button, input:not([type=hidden]), select, textarea, summary"
        first_stop = page.evaluate(f"document.querySelector('{focusable}').textContent")
        assert first_stop == "Skip to the message box"
        skip = page.get_by_role("link", name="Skip to the message box")
        skip.focus()
        expect(skip).to_be_visible()  # shown while focused
        page.keyboard.press("Enter")
        expect(page.get_by_role("textbox", name="Message")).to_be_focused()

        # The copy buttons say what they copy; Copy reply copies the reply's markdown source.
        expect(page.get_by_role("button", name="Copy code")).to_have_count(1)
        page.get_by_role("button", name="Copy reply").click(timeout=CLICK)
        expect(page.locator("#announcer")).to_have_text("Reply copied")
        assert page.evaluate("navigator.clipboard.readText()") == REPLY

        # The ⋯ menu and the settings popover open within the screen.
        page.evaluate("window.scrollTo(0, 0)")
        page.get_by_label("Conversation actions").click(timeout=CLICK)
        expect(page.get_by_role("button", name="Rename")).to_be_visible()
        assert in_viewport(page, ".conversation-actions[open]")
        page.get_by_label("Conversation actions").click(timeout=CLICK)
        page.locator(".conversation-settings > summary").click(timeout=CLICK)
        expect(page.get_by_role("button", name="Save settings")).to_be_visible()
        assert in_viewport(page, ".settings-form")
        page.locator(".conversation-settings > summary").click(timeout=CLICK)

        page.get_by_role("link", name="New chat").click(timeout=CLICK)
        page.wait_for_url("**/new/")
        assert in_viewport(page, "#send-button")
        assert sideways_overflow(page) <= 0


def test_stop_fits_and_a_finished_reply_is_announced_once(
    browser, live_app, sessions, live_fake_api: FakeAnthropic
) -> None:
    live_fake_api.reset()
    live_fake_api.enqueue(Reply(" ".join(f"word{i}" for i in range(400)), tokens_per_second=40))
    live_fake_api.enqueue(Reply("Short answer with " + LONG_WORD + "."))
    with browsing(browser, sessions) as page:
        page.goto(f"{live_app.url}/new/")
        page.wait_for_load_state("load")
        messages = page.locator("#messages")
        composer = page.get_by_role("textbox", name="Message")
        composer.fill("Count slowly")
        composer.press("Enter")
        page.wait_for_url(re.compile(r"/c/\d+/$"))
        # The message list is no live region: only the hidden status region speaks.
        assert messages.get_attribute("aria-live") is None
        announcer = page.locator("#announcer")
        expect(announcer).to_have_attribute("role", "status")

        stop = page.get_by_role("button", name="Stop")
        expect(stop).to_be_visible()
        assert in_viewport(page, "#stop-button")  # in Send's place, which comes back after
        expect(announcer).to_have_text("")
        stop.click(timeout=CLICK)
        expect(page.locator("[data-role=assistant]")).to_have_attribute("data-status", "stopped")
        expect(page.locator("#send-button")).to_be_visible()
        assert in_viewport(page, "#send-button")
        expect(announcer).to_have_text(re.compile(r"^Reply stopped: word0\b"))  # however early Stop came

        composer.fill("And now briefly")
        composer.press("Enter")
        expect(page.locator("[data-role=assistant]").nth(1)).to_have_attribute("data-status", "complete")
        expect(announcer).to_have_text(f"Reply complete: Short answer with {LONG_WORD}.")
        assert sideways_overflow(page) <= 0


# --------------------------------------------------------------------------- desktop and colours


def test_desktop_shows_the_sidebar_without_a_menu_button(browser, live_app, seeded, sessions) -> None:
    with browsing(browser, sessions, viewport=DESKTOP) as page:
        visit(page, live_app, seeded, "conversation")
        expect(page.get_by_role("button", name="Menu")).to_be_hidden()
        expect(page.get_by_role("navigation", name="Conversations")).to_be_visible()
        expect(page.get_by_role("link", name=TITLE_TEMPLATE.format(i=3))).to_be_visible()
        expect(page.get_by_role("link", name="Prompts")).to_be_visible()
        assert sideways_overflow(page) <= 0
        icon = page.request.get(live_app.url + "/favicon.ico")  # what browsers ask for unprompted
        assert icon.ok and icon.headers["content-type"] == "image/svg+xml"
        assert page.locator("link[rel=icon]").get_attribute("href").endswith(".svg")


def test_dark_mode_follows_the_system_and_screenshots(browser, live_app, seeded, sessions) -> None:
    """Screenshots of the conversation page land in test-results/ for a person to look at."""
    SCREENSHOTS.mkdir(exist_ok=True)
    colours = {}
    for scheme in ("light", "dark"):
        for viewport in (DESKTOP, PHONE):
            with browsing(browser, sessions, viewport=viewport, scheme=scheme) as page:
                visit(page, live_app, seeded, "conversation")
                page.wait_for_load_state("load")
                colours[scheme] = page.evaluate(
                    """() => ({
                        page: getComputedStyle(document.documentElement).backgroundColor,
                        text: getComputedStyle(document.body).color,
                        code: getComputedStyle(document.querySelector('.markdown pre')).backgroundColor,
                    })"""
                )
                assert sideways_overflow(page) <= 0
                page.screenshot(path=SCREENSHOTS / f"conversation-{viewport['width']}-{scheme}.png")
    assert colours["light"]["page"] == "rgb(247, 247, 245)"
    assert colours["dark"]["page"] == "rgb(27, 27, 25)"
    assert colours["light"]["text"] != colours["dark"]["text"]
    assert colours["dark"]["code"] == "rgb(13, 17, 23)"  # Pygments' github-dark


# --------------------------------------------------------------------------- axe-core


def test_axe_finds_nothing_serious_on_any_page_in_either_scheme(browser, live_app, seeded, sessions) -> None:
    assert f"axe v{AXE_VERSION}" in AXE.read_text()[:100]
    counts: dict[tuple[str, str], dict[str, int]] = {}
    serious = []
    pages = [*seeded.pages(), "drawer"]  # "drawer": the conversation page with the drawer open
    for scheme in ("light", "dark"):
        with signed_in_pages(browser, sessions, color_scheme=scheme, bypass_csp=True) as page_for:
            for name in pages:
                page = page_for(seeded.pages()[name][1] if name != "drawer" else "alice")
                if name == "drawer":
                    visit(page, live_app, seeded, "conversation")
                    page.get_by_role("button", name="Menu").click()
                    expect(page.locator("#sidebar-drawer")).to_be_visible()
                else:
                    visit(page, live_app, seeded, name)
                page.add_script_tag(path=str(AXE))
                violations = page.evaluate(
                    """async () => {
                        const result = await axe.run(document, {resultTypes: ["violations"]});
                        return result.violations.map(v => ({
                            id: v.id,
                            impact: v.impact,
                            targets: v.nodes.slice(0, 3).map(n => n.target.join(" ")),
                        }));
                    }"""
                )
                impacts = {}
                for violation in violations:
                    impacts[violation["impact"]] = impacts.get(violation["impact"], 0) + 1
                    if violation["impact"] in ("serious", "critical"):
                        serious.append((scheme, name, violation))
                counts[(scheme, name)] = impacts
    print(f"\naxe-core {AXE_VERSION} violations at 390 px (rules, by impact):")
    for (scheme, name), impacts in counts.items():
        print(f"  {scheme:5} {name:18} {impacts or 'none'}")
    assert serious == []
