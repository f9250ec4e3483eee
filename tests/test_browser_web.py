# Fixtures imported from tests.live are pytest fixtures: test arguments shadow them by design.
# ruff: noqa: F811
"""Browser tests (Chromium via Playwright) for web search with citations and a cited PDF page:
footnotes, the cited text on hover and on keyboard focus, safe links only, and the page link
through the ownership-checked file view. Screenshots at 1280 and 390 px, light and dark."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from fakes import Cited, FakeAnthropic, GroundedReply, Reply, Search
from fakes import server_tools as fake_tools
from tests.helpers import login, pdf_bytes
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


def new_page(browser: Browser, app: LiveApp, user: str, **options) -> Page:
    page = browser.new_context(**options).new_page()
    page.set_default_timeout(15_000)
    login(page, app, user)
    return page


def each_view(browser: Browser, app: LiveApp, user: str, sizes=((1280, 900), (390, 844))):
    """(page, width, scheme) signed in as `user` at each size, light and dark; closed after use."""
    SCREENSHOTS.mkdir(exist_ok=True)
    for width, height in sizes:
        for scheme in ("light", "dark"):
            page = new_page(
                browser, app, user, viewport={"width": width, "height": height}, color_scheme=scheme
            )
            yield page, width, scheme
            page.context.close()


def grounded() -> GroundedReply:
    forecast = fake_tools.search_result("https://weather.example/paris", "Paris <b>forecast</b>")
    news = fake_tools.search_result("https://news.example/storm", "Storm news")
    evil = fake_tools.search_result("javascript:alert(document.cookie)", "Click me")
    return GroundedReply(
        [
            "I'll look that up.",
            Search("paris weather monday", [forecast, news, evil]),
            "Monday in Paris: ",
            Cited(
                "rain all day,",
                [fake_tools.web_citation(forecast, "Heavy rain <em>expected</em> on Monday.")],
            ),
            Cited(" with a storm warning.", [fake_tools.web_citation(news, "A storm warning was issued.")]),
            Cited(" Be careful.", [fake_tools.web_citation(evil, "evil")]),
        ]
    )


def first_chat_with_web(page: Page, fake: FakeAnthropic) -> None:
    fake.enqueue(Reply("Hello! Ask me anything."))
    open_new_chat(page)
    reply = send_message(page, "Hi", click=True)
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    expect(reply).to_have_attribute("data-status", "complete", timeout=TIMEOUT)
    page.get_by_role("checkbox", name="Web search").check()  # sent with the next message


def test_a_search_answer_cites_two_sources(browser, live_app: LiveApp, live_fake_api: FakeAnthropic) -> None:
    live_fake_api.reset()
    page = new_page(browser, live_app, "alice")
    first_chat_with_web(page, live_fake_api)
    live_fake_api.enqueue(grounded())
    reply = send_message(page, "Weather in Paris on Monday?", click=True)
    expect(reply).to_have_attribute("data-status", "complete", timeout=TIMEOUT)
    assert live_fake_api.message_requests[-1].body["tools"][-2]["type"] == "web_search_20260318"
    expect(reply.locator(".block-web").first).to_have_text("Searching: paris weather monday")
    footnotes = reply.locator("ol.citations li")
    expect(footnotes).to_have_count(3)
    first = footnotes.nth(0).get_by_role("link")
    expect(first).to_have_text("Paris <b>forecast</b>")  # escaped: the tags show as text
    expect(first).to_have_attribute("href", "https://weather.example/paris")
    expect(first).to_have_attribute("rel", "noopener noreferrer nofollow")
    expect(footnotes.nth(1)).to_contain_text("https://news.example/storm")
    expect(footnotes.nth(2).get_by_role("link")).to_have_count(0)  # javascript: is text
    expect(footnotes.nth(2)).to_contain_text("javascript:alert(document.cookie)")
    assert reply.locator("a[href^='javascript']").count() == 0

    marker = reply.locator(".cite-link", has_text="[1]")
    quote = reply.locator(".cite-quote").first
    expect(quote).to_be_hidden()
    marker.hover()
    expect(quote).to_be_visible()
    expect(quote).to_contain_text("“Heavy rain <em>expected</em> on Monday.”")
    page.mouse.move(0, 0)
    expect(quote).to_be_hidden()
    marker.focus()  # a keyboard user gets it too
    expect(quote).to_be_visible()

    page.reload()  # the stored reply shows the same
    expect(page.locator("[data-role=assistant]").last.locator("ol.citations li")).to_have_count(3)
    shoot(browser, live_app, page.url)


def shoot(browser: Browser, app: LiveApp, url: str) -> None:
    for page, width, scheme in each_view(browser, app, "alice"):
        page.goto(url)
        reply = page.locator("[data-role=assistant]").last
        reply.locator(".cite-link", has_text="[2]").hover()
        reply.scroll_into_view_if_needed()
        page.screenshot(path=SCREENSHOTS / f"citations-{width}-{scheme}.png")


def test_a_cited_pdf_page_opens_through_the_owner_view(
    browser, live_app: LiveApp, live_fake_api: FakeAnthropic, tmp_path
) -> None:
    live_fake_api.reset()
    pdf = tmp_path / "q3-report.pdf"
    pdf.write_bytes(pdf_bytes(3))
    citation = fake_tools.page_citation(
        "Revenue grew 12% in Q3.", document_index=0, page=2, title="q3-report.pdf"
    )
    live_fake_api.enqueue(GroundedReply(["The report says", Cited(" revenue grew 12%.", [citation])]))
    page = new_page(browser, live_app, "alice")
    open_new_chat(page)
    page.get_by_label("Attach files").set_input_files(pdf)
    expect(page.locator(".attachment")).to_contain_text("q3-report.pdf")
    reply = send_message(page, "How much did revenue grow?", click=True)
    expect(reply).to_have_attribute("data-status", "complete", timeout=TIMEOUT)

    document = live_fake_api.message_requests[-1].body["messages"][0]["content"][0]
    assert document["citations"] == {"enabled": True} and document["title"] == "q3-report.pdf"
    link = reply.locator("ol.citations a")
    expect(link).to_have_text("q3-report.pdf, page 2")
    expect(reply.locator("ol.citations q")).to_have_text("Revenue grew 12% in Q3.")
    href = link.get_attribute("href")
    assert re.fullmatch(r"/attachments/\d+/#page=2", href)
    opened = page.request.get(live_app.url + href.split("#")[0])
    assert opened.status == 200 and opened.headers["content-type"] == "application/pdf"
    assert opened.headers["content-disposition"].startswith("inline")
    page.screenshot(path=SCREENSHOTS / "citations-pdf-1280-light.png")
    with page.expect_popup() as popup:  # clicking opens the PDF at the page, in a new tab
        link.click()
    assert popup.value.url.endswith("#page=2")
    other = new_page(browser, live_app, "bob")
    assert other.request.get(live_app.url + href.split("#")[0]).status == 404


def test_a_team_owner_turns_web_access_off(browser, live_app: LiveApp, live_fake_api: FakeAnthropic) -> None:
    live_fake_api.reset()
    page = new_page(browser, live_app, "alice")
    first_chat_with_web(page, live_fake_api)
    chat = page.url
    page.goto(live_app.url + "/teams/")
    page.locator("#team-name").fill("Research <desk>")
    page.get_by_role("button", name="Create team").click()
    page.get_by_role("link", name="Web access").click()
    box = page.get_by_label("Conversations on this team's prompts may use web search and fetch")
    expect(box).to_be_checked()
    box.uncheck()
    page.get_by_role("button", name="Save").click()
    expect(page.locator("p.notice[role=status]")).to_contain_text("web search and fetch are off")
    expect(box).not_to_be_checked()
    url = page.url
    for shot, width, scheme in each_view(browser, live_app, "alice", sizes=((1280, 720), (390, 700))):
        shot.goto(url)
        shot.screenshot(path=SCREENSHOTS / f"team-web-access-{width}-{scheme}.png")
        shot.goto(chat)
        shot.locator(".conversation-settings summary").click()
        shot.screenshot(path=SCREENSHOTS / f"settings-web-{width}-{scheme}.png")


TEAM_SEED = """
from django.contrib.auth import get_user_model
from teams.services import member_add, team_create
team = team_create(user=get_user_model().objects.get(username="alice"), name="Weather desk")
member_add(team=team, identifier="bob", role="member")
"""


def test_a_team_reads_the_cited_answer_in_a_share(
    browser, live_app: LiveApp, live_fake_api: FakeAnthropic
) -> None:
    """The snapshot shows the search, the footnotes and the cited text as alice saw them."""
    live_fake_api.reset()
    live_app.manage("shell", "-c", TEAM_SEED)
    page = new_page(browser, live_app, "alice")
    first_chat_with_web(page, live_fake_api)
    live_fake_api.enqueue(grounded())
    # The new reply, not `.last`: right after Send that is still the first one, long complete,
    # and the share would snapshot this one mid-stream.
    reply = send_message(page, "Weather in Paris on Monday?", click=True)
    expect(reply).to_have_attribute("data-status", "complete", timeout=TIMEOUT)
    page.get_by_label("Conversation actions").click()
    page.get_by_label("Share with").select_option(label="Weather desk")
    with page.expect_navigation():  # the share redirects back to this same URL
        page.get_by_role("button", name="Share", exact=True).click()
    page.get_by_label("Conversation actions").click()
    shared = live_app.url + page.get_by_role("link", name="Shared with Weather desk").get_attribute("href")

    for bob, width, scheme in each_view(browser, live_app, "bob"):
        bob.goto(shared)
        reply = bob.locator("[data-role=assistant]").last
        expect(reply.locator(".block-web").first).to_have_text("Searching: paris weather monday")
        expect(reply.locator("ol.citations li")).to_have_count(3)
        assert reply.locator("a[href^='javascript']").count() == 0
        quote = reply.locator(".cite-quote").nth(1)
        reply.locator(".cite-link", has_text="[2]").hover()
        expect(quote).to_contain_text("“A storm warning was issued.”")
        assert bob.evaluate("document.scrollingElement.scrollWidth - window.innerWidth") <= 0
        reply.scroll_into_view_if_needed()
        bob.screenshot(path=SCREENSHOTS / f"shared-citations-{width}-{scheme}.png")

    bob = new_page(browser, live_app, "bob")  # and goes on with it in his own chats
    bob.goto(shared)
    bob.get_by_role("button", name="Continue in my chats").click()
    bob.wait_for_url(re.compile(r"/c/\d+/$"))
    reply = bob.locator("[data-role=assistant]").last
    expect(reply.locator(".block-web").first).to_have_text("Searching: paris weather monday")
    expect(reply.locator("ol.citations li")).to_have_count(3)
    bob.context.close()
